//! Calibration speed (issue 9, item 8): 2,000 days × 10 assets, parsing the CSV and the
//! calibration itself (EWMA, windows, the ν fit over 3..=60).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tailrisk::calibrate::{DofChoice, calibrate};
use tailrisk::config::{ApcTool, CalibrationConfig};
use tailrisk::input::parse_history;

const DAYS: usize = 2_000;
const ASSETS: usize = 10;

/// A deterministic random-walk history (xorshift uniforms, ±3% a day).
fn history_csv() -> (String, Vec<String>) {
    let symbols: Vec<String> = (0..ASSETS).map(|a| format!("A{a}")).collect();
    let mut csv = format!("date,{}\n", symbols.join(","));
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut prices = vec![100.0f64; ASSETS];
    let start = chrono::NaiveDate::from_ymd_opt(2015, 1, 1).unwrap();
    for day in 0..=DAYS {
        let date = start + chrono::Duration::days(day as i64);
        csv += &date.to_string();
        for p in &mut prices {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *p *= 1.0 + 0.06 * ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5);
            csv += &format!(",{p:.6}");
        }
        csv.push('\n');
    }
    (csv, symbols)
}

fn calibration(c: &mut Criterion) {
    let (csv, symbols) = history_csv();
    let as_of = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
    c.bench_function("history/parse 2000 days x 10 assets", |b| {
        b.iter(|| parse_history(black_box(&csv), "h.csv", &symbols, as_of).unwrap())
    });
    let h = parse_history(&csv, "h.csv", &symbols, as_of).unwrap();
    let params = CalibrationConfig::default();
    c.bench_function("calibrate/2000 days x 10 assets", |b| {
        b.iter(|| {
            calibrate(
                black_box(&h),
                &params,
                Some(ApcTool::Floor),
                DofChoice::Fitted,
                0,
            )
            .unwrap()
        })
    });
}

criterion_group!(benches, calibration);
criterion_main!(benches);
