//! Calendar time: crypto trades 24/7, so a year is 365 × 86 400 seconds (SPEC §1).

/// Seconds in the model's year.
pub const SECONDS_PER_YEAR: f64 = 365.0 * 86_400.0;
/// One day as a year fraction.
pub const DAY: f64 = 1.0 / 365.0;

/// A point in time, whole seconds since the Unix epoch (UTC).
pub type Timestamp = i64;

/// Parses an RFC 3339 timestamp (`2026-11-27T08:00:00Z`); `None` when malformed or impossible.
pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
}

/// Formats a timestamp as RFC 3339 in UTC.
pub fn format_rfc3339(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| t.to_string())
}

/// Year fraction from `from` to `to` (negative when `to` is earlier).
pub fn year_fraction(from: Timestamp, to: Timestamp) -> f64 {
    (to - from) as f64 / SECONDS_PER_YEAR
}
