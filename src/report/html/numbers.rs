//! Numbers on the page (SPEC §12, R2, R8): the JSON's values rounded to at least 6
//! significant digits, `.` as the decimal point, `,` grouping thousands, no locale; every
//! amount followed by its currency. Each figure taken from the JSON is marked with the JSON
//! pointer of its value (`data-json`), so a test can check it against the embedded JSON.

use super::escape;

/// Significant digits shown (R2 asks for at least 4).
pub const SIGNIFICANT: i32 = 6;

/// `x` rounded to [`SIGNIFICANT`] digits (integers in full, without decimals), grouped:
/// `-1,234,567`, `0.00123457`, `20,000`; scientific only beyond 10¹⁵ or below 10⁻⁹ in
/// magnitude.
pub fn number(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if !(1e-9..1e15).contains(&a) {
        return format!("{:.*e}", (SIGNIFICANT - 1) as usize, x);
    }
    // The decimal exponent as the formatter rounds it (no log10 rounding surprises).
    let exponent: i32 = format!("{:.*e}", (SIGNIFICANT - 1) as usize, a)
        .split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    let decimals = match x.fract() == 0.0 {
        true => 0,
        false => (SIGNIFICANT - 1 - exponent).max(0) as usize,
    };
    let s = format!("{:.*}", decimals, a);
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (s, None),
    };
    let sign = if x < 0.0 { "-" } else { "" };
    let grouped = crate::report::group_thousands(&int);
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A plain number from the JSON at `pointer`: `<span class="num" data-json=…>`.
pub fn figure(pointer: &str, x: f64) -> String {
    format!(
        r#"<span class="num" data-json="{}">{}</span>"#,
        escape::text(pointer),
        number(x)
    )
}

/// A relative move from the JSON at `pointer`, written as the JSON writes it ([`signed`]).
pub fn signed_figure(pointer: &str, x: f64) -> String {
    format!(
        r#"<span class="num" data-json="{}">{}</span>"#,
        escape::text(pointer),
        signed(x)
    )
}

/// An amount from the JSON at `pointer`, with its currency (R8).
pub fn amount(pointer: &str, x: f64, currency: &str) -> String {
    format!(
        r#"<span class="num" data-json="{}">{}</span>&#160;{}"#,
        escape::text(pointer),
        number(x),
        escape::text(currency)
    )
}

/// An amount not in the JSON (page-only figures: grid cells, histogram counts), with its
/// currency.
pub fn plain_amount(x: f64, currency: &str) -> String {
    format!("{}\u{a0}{}", number(x), currency)
}

/// A relative move or level exactly as the JSON writes it (shortest round-trip form), with
/// an explicit sign: `-0.16`, `+0.5`.
pub fn signed(x: f64) -> String {
    if x > 0.0 {
        format!("+{x}")
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_to_six_significant_digits_with_grouping() {
        assert_eq!(number(1234567.891), "1,234,568");
        assert_eq!(number(-98765.4321), "-98,765.4");
        assert_eq!(number(0.00123456789), "0.00123457");
        assert_eq!(number(12.5), "12.5000");
        assert_eq!(number(20000.0), "20,000");
        assert_eq!(number(1.0), "1");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(3.2e17), "3.20000e17");
        assert_eq!(number(999999.7), "1,000,000");
    }

    #[test]
    fn every_rounding_is_within_half_a_unit_of_the_sixth_digit() {
        for &x in &[
            1.0,
            9.99999e-5,
            123.456789,
            5.5e14,
            -7.77777e-8,
            2.0f64.powi(40),
        ] {
            let shown: f64 = number(x).replace(',', "").parse().unwrap();
            assert!((shown - x).abs() <= 5e-6 * x.abs(), "{x} shown as {shown}");
        }
    }
}
