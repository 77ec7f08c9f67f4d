//! Instruments: the kinds of SPEC §2, Deribit names and explicit objects.

use crate::time::Timestamp;

/// Option right.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Right {
    Call,
    Put,
}

/// How a contract settles. Inverse contracts settle in the coin; for options it changes no
/// figure (SPEC §2), for perpetuals and futures it fixes the payoff and the quantity unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Settlement {
    Inverse,
    Linear,
}

/// The instrument kinds of SPEC §2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstrumentKind {
    Spot,
    Perpetual,
    Future,
    Option,
}

/// One instrument, however it was written (Deribit name or explicit object).
///
/// Value per unit of quantity, in USD, `multiplier` times (S spot, F forward, 0 = today,
/// 1 = at the horizon):
/// - spot: S;
/// - inverse perpetual (quantity in USD notional): (1/S₀ − 1/S₁)·S₁;
/// - inverse future (USD notional): (1/F₀ − 1/F₁)·S₁;
/// - linear perpetual (coins): S₁ − S₀;   linear future (coins): F₁ − F₀;
/// - option (coins, either settlement): Black-76.
#[derive(Clone, Debug, PartialEq)]
pub struct InstrumentSpec {
    pub kind: InstrumentKind,
    /// Asset symbol, e.g. `BTC`.
    pub underlying: String,
    /// Options only.
    pub right: Option<Right>,
    /// Options only, in USD.
    pub strike: Option<f64>,
    /// Futures and options only.
    pub expiry: Option<Timestamp>,
    pub settlement: Settlement,
    /// Contract size in coins (1 for Deribit names).
    pub multiplier: f64,
}

/// Month codes of Deribit expiries.
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// The hour (UTC) at which Deribit contracts expire.
const EXPIRY_HOUR: u32 = 8;

/// The forms of a Deribit name, for error messages.
const NAME_FORMS: &str = "expected SYMBOL (spot), SYMBOL-PERPETUAL, SYMBOL-DMMMYY (future) or \
     SYMBOL-DMMMYY-STRIKE-C|P (option), with SYMBOL_USDC for linear contracts";

/// Whether `s` is an asset symbol as Deribit names write it: uppercase ASCII letters and
/// digits, at least one.
pub fn is_asset_symbol(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Parses a Deribit instrument name (SPEC §2):
///
/// | name | instrument |
/// |---|---|
/// | `BTC` | spot holding |
/// | `BTC-PERPETUAL` / `BTC_USDC-PERPETUAL` | inverse / linear perpetual |
/// | `BTC-25DEC26` / `BTC_USDC-25DEC26` | inverse / linear future |
/// | `BTC-25DEC26-100000-C` / `SOL_USDC-25DEC26-150-P` | inverse / linear option |
///
/// Expiry `DMMMYY`: day without a leading zero (`5DEC26`), month `JAN`..`DEC`, year 20YY,
/// at 08:00:00 UTC; the date must exist. Strike: a positive decimal with `d` for the point
/// (`0d625`), no leading zero. Multiplier 1; spot holdings settle linearly.
///
/// Whether the underlying is in the market and the expiry after `as_of` is not checked
/// here. The error says what is wrong with the name.
pub fn parse_deribit(name: &str) -> Result<InstrumentSpec, String> {
    if name.is_empty() {
        return Err(format!("empty instrument name; {NAME_FORMS}"));
    }
    let parts: Vec<&str> = name.split('-').collect();
    let (underlying, settlement) = match parts[0].split_once('_') {
        None => (parts[0], Settlement::Inverse),
        Some((symbol, "USDC")) => (symbol, Settlement::Linear),
        Some((_, quote)) => {
            return Err(format!(
                "`{}`: only USDC-margined linear contracts (SYMBOL_USDC) are named with '_', \
                 not `_{quote}`",
                parts[0]
            ));
        }
    };
    if !is_asset_symbol(underlying) {
        return Err(format!(
            "underlying `{underlying}` is not an asset symbol (uppercase letters and digits); \
             {NAME_FORMS}"
        ));
    }
    let spec = |kind, right, strike, expiry| InstrumentSpec {
        kind,
        underlying: underlying.to_string(),
        right,
        strike,
        expiry,
        settlement,
        multiplier: 1.0,
    };
    match parts[1..] {
        [] if settlement == Settlement::Linear => Err(format!(
            "`{name}`: a spot holding is named by its symbol alone, e.g. `{underlying}`"
        )),
        [] => Ok(InstrumentSpec {
            settlement: Settlement::Linear,
            ..spec(InstrumentKind::Spot, None, None, None)
        }),
        ["PERPETUAL"] => Ok(spec(InstrumentKind::Perpetual, None, None, None)),
        [expiry] => {
            let expiry = parse_expiry_code(expiry)?;
            Ok(spec(InstrumentKind::Future, None, None, Some(expiry)))
        }
        [expiry, strike, right] => {
            let expiry = parse_expiry_code(expiry)?;
            let strike = parse_strike(strike)?;
            let right = match right {
                "C" => Right::Call,
                "P" => Right::Put,
                other => return Err(format!("option right `{other}` must be C or P")),
            };
            Ok(spec(
                InstrumentKind::Option,
                Some(right),
                Some(strike),
                Some(expiry),
            ))
        }
        _ => Err(format!("`{name}` has {} parts; {NAME_FORMS}", parts.len())),
    }
}

/// `DMMMYY` at 08:00:00 UTC.
fn parse_expiry_code(code: &str) -> Result<Timestamp, String> {
    let form = "expiries are written DMMMYY, e.g. 5DEC26 or 25DEC26";
    let day_len = code.bytes().take_while(u8::is_ascii_digit).count();
    let (day, rest) = code.split_at(day_len);
    if day_len == 0 || day_len > 2 {
        return Err(format!("`{code}` is not an expiry: {form}"));
    }
    if day_len == 2 && day.starts_with('0') {
        return Err(format!(
            "expiry `{code}`: the day must not have a leading zero (write `{}{rest}`)",
            day.trim_start_matches('0')
        ));
    }
    if rest.len() != 5 || !rest.is_char_boundary(3) {
        return Err(format!("`{code}` is not an expiry: {form}"));
    }
    let (month, year) = rest.split_at(3);
    let Some(month_index) = MONTHS.iter().position(|&m| m == month) else {
        return Err(format!(
            "expiry `{code}`: month `{month}` must be one of JAN FEB MAR APR MAY JUN JUL AUG \
             SEP OCT NOV DEC (uppercase)"
        ));
    };
    if !year.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{code}` is not an expiry: {form}"));
    }
    let (Ok(day), Ok(year)) = (day.parse::<u32>(), year.parse::<i32>()) else {
        return Err(format!("`{code}` is not an expiry: {form}"));
    };
    chrono::NaiveDate::from_ymd_opt(2000 + year, month_index as u32 + 1, day)
        .and_then(|d| d.and_hms_opt(EXPIRY_HOUR, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
        .ok_or_else(|| format!("expiry `{code}` is not a date"))
}

/// A strike: digits, with `d` for a decimal point (`0d625` = 0.625).
fn parse_strike(text: &str) -> Result<f64, String> {
    if text.contains('.') {
        return Err(format!(
            "strike `{text}`: write the decimal point as `d` (`{}`)",
            text.replace('.', "d")
        ));
    }
    let (int, frac) = match text.split_once('d') {
        Some((int, frac)) => (int, Some(frac)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(format!(
            "strike `{text}` is not a number (digits, with `d` for a decimal point, e.g. 0d625)"
        ));
    }
    if int.len() > 1 && int.starts_with('0') {
        return Err(format!("strike `{text}` has a leading zero"));
    }
    let value = match frac {
        Some(frac) => format!("{int}.{frac}").parse::<f64>(),
        None => int.parse::<f64>(),
    }
    .map_err(|_| format!("strike `{text}` is not a number"))?;
    if !value.is_finite() {
        return Err(format!("strike `{text}` is too large"));
    }
    if value <= 0.0 {
        return Err(format!("strike `{text}` must be positive"));
    }
    Ok(value)
}

/// `DMMMYY` of the UTC date of `t`, and whether `t` is exactly a Deribit expiry (08:00:00 UTC
/// in 2000..=2099).
fn expiry_code(t: Timestamp) -> (String, bool) {
    use chrono::{Datelike, Timelike};
    match chrono::DateTime::from_timestamp_millis(t) {
        Some(d) => {
            let code = format!(
                "{}{}{:02}",
                d.day(),
                MONTHS[d.month0() as usize],
                d.year().rem_euclid(100)
            );
            let exact = (2000..=2099).contains(&d.year())
                && (d.hour(), d.minute(), d.second(), d.nanosecond()) == (EXPIRY_HOUR, 0, 0, 0);
            (code, exact)
        }
        None => (t.to_string(), false),
    }
}

impl InstrumentSpec {
    /// The Deribit-style name (see [`parse_deribit`]): `BTC`, `BTC-PERPETUAL`,
    /// `BTC_USDC-25DEC26`, `BTC-25DEC26-100000-C`, `XRP_USDC-5DEC26-0d625-P`.
    ///
    /// What a Deribit name cannot say is appended, so that names stay unambiguous: an expiry
    /// other than 08:00:00 UTC in 20YY as `@2027-03-26T10:00:00Z`, a multiplier other than 1
    /// as `x10`. For every spec a Deribit name can express (multiplier 1, Deribit expiry,
    /// spot settled linearly), `parse_deribit(&spec.canonical_name()) == Ok(spec)`.
    pub fn canonical_name(&self) -> String {
        let prefix = match self.settlement {
            Settlement::Inverse => self.underlying.clone(),
            Settlement::Linear => format!("{}_USDC", self.underlying),
        };
        let (date, exact) = match self.expiry {
            Some(t) => expiry_code(t),
            None => ("?".to_string(), true),
        };
        let mut name = match self.kind {
            InstrumentKind::Spot => self.underlying.clone(),
            InstrumentKind::Perpetual => format!("{prefix}-PERPETUAL"),
            InstrumentKind::Future => format!("{prefix}-{date}"),
            InstrumentKind::Option => {
                let strike = self
                    .strike
                    .map_or_else(|| "?".to_string(), |k| k.to_string().replace('.', "d"));
                let right = match self.right {
                    Some(Right::Call) => "C",
                    Some(Right::Put) => "P",
                    None => "?",
                };
                format!("{prefix}-{date}-{strike}-{right}")
            }
        };
        if let (Some(t), false, InstrumentKind::Future | InstrumentKind::Option) =
            (self.expiry, exact, self.kind)
        {
            name.push('@');
            name.push_str(&crate::time::format_rfc3339(t));
        }
        if self.multiplier != 1.0 {
            name.push_str(&format!("x{}", self.multiplier));
        }
        name
    }
}

#[cfg(test)]
mod deribit_tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in [
            "BTC",
            "BTC-PERPETUAL",
            "BTC_USDC-PERPETUAL",
            "BTC-25DEC26",
            "BTC_USDC-5DEC26",
            "BTC-25DEC26-100000-C",
            "SOL_USDC-25DEC26-150-P",
            "XRP_USDC-5JAN27-0d625-C",
        ] {
            let spec = parse_deribit(name).map_err(|e| format!("{name}: {e}"));
            assert_eq!(spec.map(|s| s.canonical_name()), Ok(name.to_string()));
        }
    }

    #[test]
    fn expiry_is_eight_utc() {
        let spec = parse_deribit("BTC-5DEC26");
        assert_eq!(
            spec.map(|s| s.expiry),
            Ok(crate::time::parse_rfc3339("2026-12-05T08:00:00Z"))
        );
    }

    #[test]
    fn bad_names_say_why() {
        for (name, why) in [
            ("BTC-05DEC26", "leading zero"),
            ("BTC-31FEB27", "not a date"),
            ("BTC-25Dec26", "month"),
            ("BTC-25DEC26-0-C", "positive"),
            ("BTC-25DEC26-1.5-C", "`d`"),
            ("BTC-25DEC26-100-X", "C or P"),
            ("btc", "symbol"),
            ("BTC_USDC", "spot"),
        ] {
            match parse_deribit(name) {
                Ok(spec) => panic!("{name} parsed as {spec:?}"),
                Err(e) => assert!(e.contains(why), "{name}: {e}"),
            }
        }
    }
}
