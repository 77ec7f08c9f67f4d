//! `--report FILE.html` (SPEC §12): the HTML page of `run` and `stress`, rendered from the
//! same evaluation and report as the JSON and written like `--output` (temporary file in the
//! same directory, renamed: exit 73 naming the path when it cannot be written, R9).

use std::path::Path;

use super::args::CommonArgs;
use super::output::write_output;
use crate::engine::Backend;
use crate::error::{Error, Result};
use crate::report::html::{AccountExtras, DetailChoice, RunPage, run_page, stress_page};
use crate::report::{Report, StressCommandReport, stress_report};
use crate::run::{AccountDistribution, Evaluation, RunInputs};

/// `--report`, `--report-accounts` and `--report-account` on a command that writes no HTML
/// report: a usage error (exit 2).
pub fn reject(args: &CommonArgs, command: &str) -> Result<()> {
    let given = [
        ("--report", args.report.is_some()),
        ("--report-accounts", args.report_accounts.is_some()),
        ("--report-account", !args.report_account.is_empty()),
    ];
    match given.iter().find(|(_, on)| *on) {
        Some((flag, _)) => Err(Error::Usage(format!(
            "{flag} does not apply to `tailrisk {command}` (HTML reports: run, stress, backtest, merge)"
        ))),
        None => Ok(()),
    }
}

/// The accounts `--report-accounts` and `--report-account` detail.
pub fn detail_choice(args: &CommonArgs) -> DetailChoice {
    DetailChoice {
        top: args.report_accounts.unwrap_or(DetailChoice::default().top),
        named: args.report_account.clone(),
    }
}

/// The run page of an evaluation: its report, each account's distribution and full grid.
pub fn run_html(
    args: &CommonArgs,
    ev: &Evaluation,
    distributions: Vec<AccountDistribution>,
    inputs: &RunInputs,
    backend: &dyn Backend,
    report: &Report,
) -> Result<String> {
    let stress = stress_report(ev, inputs, backend);
    let extras: Vec<AccountExtras> = distributions
        .into_iter()
        .map(Some)
        .chain(std::iter::repeat(None))
        .zip(stress.accounts)
        .map(|(distribution, s)| AccountExtras {
            distribution,
            grid: s.grid,
        })
        .collect();
    let json = report.to_json();
    run_page(&RunPage {
        report,
        json: &json,
        extras: &extras,
        detail: &detail_choice(args),
    })
}

/// The stress page of a stress report.
pub fn stress_html(args: &CommonArgs, report: &StressCommandReport) -> Result<String> {
    stress_page(report, &report.to_json(), &detail_choice(args))
}

/// Writes a rendered page to `path` (atomically, as `--output`).
pub fn write_page(path: &Path, html: &str) -> Result<()> {
    write_output(Some(path), html)
}
