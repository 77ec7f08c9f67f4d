//! Numbers and JSON for people: thousands separators, money, pretty JSON.

use serde::Serialize;

/// A string of digits with a comma every three from the right (`1234567` → `1,234,567`).
pub(crate) fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Pretty JSON of a report. Serialising these plain structs cannot fail (no maps with
/// non-string keys, no failing `Serialize` impls); should it, the error is the output.
/// A figure that is −0 (a flat position's loss, 0·(−x)) is written `0.0`, not `-0.0`.
pub fn pretty_json(value: &impl Serialize) -> String {
    let text =
        serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    without_negative_zeros(&text)
}

/// `json` with every number token `-0.0` written `0.0` (strings untouched).
fn without_negative_zeros(json: &str) -> String {
    const NEGATIVE_ZERO: &str = "-0.0";
    let bytes = json.as_bytes();
    let (mut out, mut in_string, mut escaped, mut i) =
        (String::with_capacity(json.len()), false, false, 0);
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            in_string = escaped || b != b'"';
            escaped = !escaped && b == b'\\';
        } else if b == b'"' {
            in_string = true;
        } else if json[i..].starts_with(NEGATIVE_ZERO)
            && !bytes
                .get(i + NEGATIVE_ZERO.len())
                .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'e' | b'E'))
        {
            out.push_str("0.0");
            i += NEGATIVE_ZERO.len();
            continue;
        }
        // Multi-byte characters are copied byte by byte within one push of their char.
        let ch_len = json[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&json[i..i + ch_len]);
        i += ch_len;
    }
    out
}

/// A figure with thousands separators and 2 decimals (coin figures keep 6 significant
/// digits when small).
pub fn money(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x != 0.0 && x.abs() < 100.0 {
        return format!("{x:.6}");
    }
    let s = format!("{:.2}", x.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let grouped = group_thousands(int);
    format!("{}{grouped}.{frac}", if x < 0.0 { "-" } else { "" })
}

#[cfg(test)]
mod tests {
    #[test]
    fn negative_zero_figures_are_written_as_zero() {
        let v =
            serde_json::json!({ "a": -0.0, "b": [-0.0, -0.05, -0.0e1], "s": "x\"-0.0", "c": 1.5 });
        let text = super::pretty_json(&v);
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(!text.contains("\"a\": -0.0"), "{text}");
        assert!(back["a"].as_f64().unwrap().is_sign_positive());
        assert!(back["b"][0].as_f64().unwrap().is_sign_positive());
        assert_eq!(back["b"][1], -0.05);
        assert_eq!(back["s"], "x\"-0.0");
        assert_eq!(back["c"], 1.5);
    }
}
