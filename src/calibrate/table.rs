//! The readable table of `tailrisk calibrate`.

use std::fmt::Write as _;

use super::Calibration;
use crate::config::ApcTool;

impl Calibration {
    /// Vols as percentages per asset, the correlation matrix, ν and the APC tool.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "calibration as of {}: {} daily returns {} .. {}, lambda {}, {} seed returns",
            self.as_of, self.returns, self.first, self.last, self.lambda, self.seed_returns
        );
        let _ = writeln!(
            out,
            "\n{:<8} {:>9} {:>9} {:>9} {:>12} {:>9}",
            "asset", "ewma", "long-run", "stressed", "stressed on", "used"
        );
        let pct = |v: f64| format!("{:.2}%", 100.0 * v);
        for a in &self.assets {
            let _ = writeln!(
                out,
                "{:<8} {:>9} {:>9} {:>9} {:>12} {:>9}",
                a.symbol,
                pct(a.ewma_vol),
                pct(a.long_run_vol),
                pct(a.stressed_vol),
                a.stressed_date,
                pct(a.vol_used)
            );
        }
        let _ = write!(out, "\ncorrelation\n{:<8}", "");
        for s in &self.correlation.symbols {
            let _ = write!(out, " {s:>8}");
        }
        out.push('\n');
        for (s, row) in self
            .correlation
            .symbols
            .iter()
            .zip(&self.correlation.matrix)
        {
            let _ = write!(out, "{s:<8}");
            for v in row {
                let _ = write!(out, " {v:>8.4}");
            }
            out.push('\n');
        }
        let nu = self
            .student_t_dof
            .map_or("none (normal)".to_string(), |v| v.to_string());
        let apc = match self.apc {
            None => "none (vol_used = ewma)".to_string(),
            Some(ApcTool::Floor) => "floor (vol_used = max(ewma, long-run))".to_string(),
            Some(ApcTool::StressedWeight { weight }) => format!("stressed_weight {weight}"),
            Some(ApcTool::Buffer { buffer }) => format!("buffer {buffer} (IM × {})", 1.0 + buffer),
        };
        let _ = writeln!(out, "\nStudent-t dof: {nu}\nanti-procyclicality: {apc}");
        out
    }
}
