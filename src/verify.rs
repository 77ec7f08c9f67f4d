//! `tailrisk verify`: the same inputs and seed on two backends (the GPU against the f64 CPU
//! reference), compared stage by stage against documented tolerances.
//!
//! | stage | compared | tolerance |
//! |---|---|---|
//! | draws | raw Philox words of sampled paths, every step, block and stream used | exact |
//! | scenario | horizon log return and log vol level of every asset on sampled paths | [`STATE_TOLERANCE`] absolute |
//! | revalue | P&L per unit of every instrument on sampled paths | [`PNL_TOLERANCE`] × the instrument's notional |
//! | aggregate | each account's loss on the sampled paths, from each backend's own aggregate stage | [`PNL_TOLERANCE`] × gross exposure |
//! | tail | VaR and ES of every account and confidence from each backend's own aggregate and tail stages, full run | [`PNL_TOLERANCE`] × gross exposure |
//!
//! Order statistics are 1-Lipschitz in the sup norm (moving every loss by at most ε moves
//! every order statistic, and so every tail mean, by at most ε), so the tolerance on VaR and
//! ES is the tolerance on the per-path losses: it follows from the P&L tolerance and the
//! account's gross exposure Σ|q|·notional. f32 carries 24 bits (6e-8 relative); Black-76 in
//! f32 with polynomial Φ, the surface lookup and exp/ln chains lose a few ulps (measured on
//! lavapipe: states 4e-8, P&L 3.5e-7 of notional, losses and VaR/ES 1e-7 of gross), so
//! 1e-5 leaves more than an order of magnitude of headroom for other adapters while still
//! catching any formula difference (a wrong sign, a missing carry or a day of decay is
//! ≥ 1e-4 of notional).

use crate::book::{Book, Currency};
use crate::config::RunConfig;
use crate::engine::Backend;
use crate::error::Result;
use crate::rng::{STREAM_NORMAL, STREAM_UNIFORM};
use crate::run::plan;

/// Absolute tolerance on log return and log vol level at the horizon.
pub const STATE_TOLERANCE: f64 = 1e-5;
/// Tolerance on P&L per unit, relative to the instrument's USD notional (and on losses and
/// VaR/ES, relative to the account's gross exposure).
pub const PNL_TOLERANCE: f64 = 1e-5;
/// Paths sampled for the per-path stages (spread evenly over the run).
pub const SAMPLE_PATHS: u64 = 4096;

/// One line of the verification table.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Check {
    pub stage: String,
    pub what: String,
    pub compared: u64,
    /// Largest deviation, in the tolerance's units (relative where the tolerance is).
    pub max_deviation: f64,
    pub tolerance: f64,
    pub pass: bool,
}

/// Every check of a verification run.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Verification {
    pub version: String,
    pub reference: String,
    pub candidate: String,
    pub paths: u64,
    pub seed: u64,
    pub checks: Vec<Check>,
}

impl Verification {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.pass)
    }

    pub fn to_table(&self) -> String {
        let mut out = format!(
            "tailrisk {} verify: {} against {} — {} paths, seed {}\n{:<10} {:<44} {:>9} {:>13} {:>11}  {}\n",
            self.version,
            self.candidate,
            self.reference,
            self.paths,
            self.seed,
            "stage",
            "compared",
            "values",
            "max dev",
            "tolerance",
            "status"
        );
        for c in &self.checks {
            out += &format!(
                "{:<10} {:<44} {:>9} {:>13.3e} {:>11.1e}  {}\n",
                c.stage,
                c.what,
                c.compared,
                c.max_deviation,
                c.tolerance,
                if c.pass { "ok" } else { "FAIL" }
            );
        }
        out += if self.passed() {
            "verification passed\n"
        } else {
            "verification FAILED\n"
        };
        out
    }
}

/// Paths spread evenly over 0..paths (all of them when there are few).
pub fn sample_paths(paths: u64, count: u64) -> Vec<u32> {
    if paths <= count {
        return (0..paths as u32).collect();
    }
    (0..count).map(|i| (i * paths / count) as u32).collect()
}

/// Compares `candidate` with `reference` stage by stage.
pub fn verify(
    book: &Book,
    config: &RunConfig,
    reference: &dyn Backend,
    candidate: &dyn Backend,
) -> Result<Verification> {
    let seed = config.seed;
    let sample = sample_paths(config.paths, SAMPLE_PATHS);
    let mut checks = Vec::new();

    // Draws: every block and stream the model reads, every step.
    let normal_blocks = book.normals_per_step().div_ceil(4) as u32;
    let uniform_blocks = book.assets.len().div_ceil(4) as u32;
    let (mut compared, mut mismatched) = (0u64, 0u64);
    for step in 0..book.steps {
        for (stream, blocks) in [
            (STREAM_NORMAL, normal_blocks),
            (STREAM_UNIFORM, uniform_blocks),
        ] {
            let a = reference.philox_words(seed, &sample, step, blocks, stream)?;
            let b = candidate.philox_words(seed, &sample, step, blocks, stream)?;
            compared += 4 * a.len() as u64;
            mismatched += a
                .iter()
                .zip(&b)
                .map(|(x, y)| x.iter().zip(y).filter(|(p, q)| p != q).count() as u64)
                .sum::<u64>()
                + 4 * a.len().abs_diff(b.len()) as u64;
        }
    }
    checks.push(Check {
        stage: "draws".into(),
        what: "Philox4x32-10 words (mismatches)".into(),
        compared,
        max_deviation: mismatched as f64,
        tolerance: 0.0,
        pass: mismatched == 0,
    });

    let ra = reference.revalue_paths(book, seed, &sample)?;
    let rb = candidate.revalue_paths(book, seed, &sample)?;
    let state_dev = ra
        .states
        .iter()
        .zip(&rb.states)
        .map(|(x, y)| {
            (x.log_return - y.log_return)
                .abs()
                .max((x.log_vol - y.log_vol).abs())
        })
        .fold(0.0, f64::max);
    checks.push(Check {
        stage: "scenario".into(),
        what: "horizon log return and log vol level".into(),
        compared: 2 * ra.states.len() as u64,
        max_deviation: state_dev,
        tolerance: STATE_TOLERANCE,
        pass: ra.states.len() == rb.states.len() && state_dev <= STATE_TOLERANCE,
    });

    let n = book.instruments.len();
    let notional: Vec<f64> = (0..n).map(|i| book.instrument_notional(i)).collect();
    let pnl_dev = ra
        .pnl
        .iter()
        .zip(&rb.pnl)
        .enumerate()
        .map(|(j, (x, y))| (x - y).abs() / notional[j % n.max(1)])
        .fold(0.0, f64::max);
    checks.push(Check {
        stage: "revalue".into(),
        what: "P&L per unit / instrument notional".into(),
        compared: ra.pnl.len() as u64,
        max_deviation: pnl_dev,
        tolerance: PNL_TOLERANCE,
        pass: ra.pnl.len() == rb.pnl.len() && pnl_dev <= PNL_TOLERANCE,
    });

    let la = reference.path_losses(book, seed, &sample)?;
    let lb = candidate.path_losses(book, seed, &sample)?;
    let accounts = book.accounts.len().max(1);
    let scales: Vec<f64> = (0..book.accounts.len())
        .map(|a| gross_in_currency(book, a))
        .collect();
    let loss_dev = la
        .iter()
        .zip(&lb)
        .enumerate()
        .map(|(j, (x, y))| (x - y).abs() / scales[j % accounts])
        .fold(0.0, f64::max);
    checks.push(Check {
        stage: "aggregate".into(),
        what: "account loss of sampled paths / gross exposure".into(),
        compared: (sample.len() * book.accounts.len()) as u64,
        max_deviation: loss_dev,
        tolerance: PNL_TOLERANCE,
        pass: la.len() == lb.len() && loss_dev <= PNL_TOLERANCE,
    });

    // Full runs: VaR and ES of every account and confidence.
    let plan = plan(config);
    let ta = reference.tails(book, &plan, &|_| {})?;
    let tb = candidate.tails(book, &plan, &|_| {})?;
    let (mut var_dev, mut es_dev, mut count) = (0.0f64, 0.0f64, 0u64);
    for (account, (a, b)) in ta.iter().zip(&tb).enumerate() {
        let scale = gross_in_currency(book, account);
        for &c in &config.confidence {
            let (ma, mb) = (
                crate::risk::measure(a, plan.paths, c),
                crate::risk::measure(b, plan.paths, c),
            );
            var_dev = var_dev.max((ma.var - mb.var).abs() / scale);
            es_dev = es_dev.max((ma.es - mb.es).abs() / scale);
            count += 1;
        }
    }
    for (what, dev) in [
        ("VaR / gross exposure", var_dev),
        ("ES / gross exposure", es_dev),
    ] {
        checks.push(Check {
            stage: "tail".into(),
            what: what.into(),
            compared: count,
            max_deviation: dev,
            tolerance: PNL_TOLERANCE,
            pass: ta.len() == tb.len() && dev <= PNL_TOLERANCE,
        });
    }

    Ok(Verification {
        version: env!("CARGO_PKG_VERSION").to_string(),
        reference: describe(reference),
        candidate: describe(candidate),
        paths: config.paths,
        seed,
        checks,
    })
}

fn describe(backend: &dyn Backend) -> String {
    let info = backend.info();
    format!("{} ({}, {})", info.backend, info.device, info.precision)
}

/// Gross exposure in the account's currency (USD, or coins at today's spot); never zero.
fn gross_in_currency(book: &Book, account: usize) -> f64 {
    let gross = book.gross_exposure(account);
    let gross = match book.accounts[account].currency {
        Currency::Usd => gross,
        Currency::Coin(c) => gross / book.assets[c].spot,
    };
    if gross > 0.0 { gross } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_spread_over_the_run() {
        assert_eq!(sample_paths(3, 10), vec![0, 1, 2]);
        let s = sample_paths(1_000_000, 4);
        assert_eq!(s, vec![0, 250_000, 500_000, 750_000]);
    }
}
