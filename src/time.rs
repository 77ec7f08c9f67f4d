//! Calendar time: crypto trades 24/7, so a year is 365 × 86 400 seconds (SPEC §1).

/// Seconds in the model's year.
pub const SECONDS_PER_YEAR: f64 = 365.0 * 86_400.0;
/// One day as a year fraction.
pub const DAY: f64 = 1.0 / 365.0;

/// A point in time, whole milliseconds since the Unix epoch (UTC): an imported snapshot's
/// `as_of` carries Deribit's milliseconds (SPEC §15, D6), and they count in every τ.
pub type Timestamp = i64;

/// Milliseconds in a second, the unit of [`Timestamp`].
pub const MILLIS_PER_SECOND: i64 = 1000;

/// Parses an RFC 3339 timestamp (`2026-11-27T08:00:00Z`, `2026-11-27T08:00:00.250Z`, any
/// offset); `None` when malformed or impossible. Digits below the millisecond are dropped
/// (rounded towards the past), as documented in docs/reference.md.
pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Formats a timestamp as RFC 3339 in UTC: whole seconds as `08:00:00Z`, others with their
/// milliseconds (`08:00:00.250Z`).
pub fn format_rfc3339(t: Timestamp) -> String {
    let format = if t.rem_euclid(MILLIS_PER_SECOND) == 0 {
        "%Y-%m-%dT%H:%M:%SZ"
    } else {
        "%Y-%m-%dT%H:%M:%S%.3fZ"
    };
    chrono::DateTime::from_timestamp_millis(t)
        .map(|d| d.format(format).to_string())
        .unwrap_or_else(|| t.to_string())
}

/// Year fraction from `from` to `to` (negative when `to` is earlier).
pub fn year_fraction(from: Timestamp, to: Timestamp) -> f64 {
    (to - from) as f64 / (MILLIS_PER_SECOND as f64 * SECONDS_PER_YEAR)
}
