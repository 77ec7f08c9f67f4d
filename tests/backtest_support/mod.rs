//! What the backtest tests share: the binary, scratch files, and an independent reading of
//! the shipped Bitstamp history (closes, returns, EWMA vols) written here from SPEC §9.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

pub const HISTORY: &str = "data/history/bitstamp_daily_close.csv";
pub const MARKET: &str = "data/history/market_2020-01-17.json";
pub const BOOK: &str = "data/history/backtest_book.json";

pub fn path(relative: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(relative)
        .display()
        .to_string()
}

pub fn tailrisk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tailrisk"))
        .args(args)
        .output()
        .expect("the binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A file in this test process's scratch directory.
pub fn scratch(name: &str, contents: &str) -> String {
    let dir = std::env::temp_dir().join(format!("tailrisk-backtest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(name);
    std::fs::write(&file, contents).unwrap();
    file.display().to_string()
}

/// `tailrisk backtest --format json` on the CPU with `args` appended; must succeed.
pub fn backtest_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["backtest", "--backend", "cpu", "--format", "json"];
    all.extend_from_slice(args);
    let out = tailrisk(&all);
    assert!(out.status.success(), "{all:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// The shipped history's BTC and ETH as SPEC §9 defines it: rows on or before 2020-01-17
/// that price both, returns between consecutive such rows.
pub struct Reference {
    /// dates[t] is d_t, t = 0..n (dates[0] the first priced row).
    pub dates: Vec<String>,
    /// closes[t] = [BTC, ETH] at d_t.
    pub closes: Vec<[f64; 2]>,
    /// EWMA daily variances Σ_t[a,a], t = 0..n (λ = 0.94, m = 30, uncentred seed).
    pub variances: Vec<[f64; 2]>,
}

impl Reference {
    pub fn read() -> Reference {
        let text = std::fs::read_to_string(path(HISTORY)).unwrap();
        let mut dates = Vec::new();
        let mut closes: Vec<[f64; 2]> = Vec::new();
        for line in text.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            if cells[0] > "2020-01-17" || cells[1].is_empty() || cells[2].is_empty() {
                continue;
            }
            dates.push(cells[0].to_string());
            closes.push([cells[1].parse().unwrap(), cells[2].parse().unwrap()]);
        }
        let returns: Vec<[f64; 2]> = closes
            .windows(2)
            .map(|w| [(w[1][0] / w[0][0]).ln(), (w[1][1] / w[0][1]).ln()])
            .collect();
        let mut sigma = [0.0; 2];
        for r in &returns[..30] {
            for a in 0..2 {
                sigma[a] += r[a] * r[a] / 30.0;
            }
        }
        let mut variances = vec![sigma];
        for r in &returns {
            for a in 0..2 {
                sigma[a] = 0.94 * sigma[a] + 0.06 * r[a] * r[a];
            }
            variances.push(sigma);
        }
        Reference {
            dates,
            closes,
            variances,
        }
    }

    /// n.
    pub fn returns(&self) -> usize {
        self.closes.len() - 1
    }

    /// r_t of asset a.
    pub fn r(&self, t: usize, a: usize) -> f64 {
        (self.closes[t][a] / self.closes[t - 1][a]).ln()
    }

    /// The index t of the return dated `date`.
    pub fn t_of(&self, date: &str) -> usize {
        self.dates
            .iter()
            .position(|d| d == date)
            .expect("a date of the history")
    }

    /// Annualised EWMA vol through return t (ewma_vol of the calibration on returns 1..t).
    pub fn ewma_vol(&self, t: usize, a: usize) -> f64 {
        (365.0 * self.variances[t][a]).sqrt()
    }
}

/// Φ(x) = erfc(−x/√2)/2.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// Φ⁻¹(p) by bisection (200 halvings reach f64 resolution).
pub fn normal_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (-40.0, 40.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if normal_cdf(mid) < p {
            lo = mid
        } else {
            hi = mid
        }
    }
    0.5 * (lo + hi)
}

/// Black-76 call or put at zero rate (forward = spot).
pub fn black(call: bool, f: f64, k: f64, vol: f64, tau: f64) -> f64 {
    let s = vol * tau.sqrt();
    let d1 = ((f / k).ln() + 0.5 * s * s) / s;
    let d2 = d1 - s;
    if call {
        f * normal_cdf(d1) - k * normal_cdf(d2)
    } else {
        k * normal_cdf(-d2) - f * normal_cdf(-d1)
    }
}

/// |a − b| within `rel` of the larger magnitude (or `abs`).
pub fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()) + abs
}
