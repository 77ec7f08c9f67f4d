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
pub fn pretty_json(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
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
