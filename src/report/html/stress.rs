//! The stress page (`stress --report`, R7): the named scenarios as applied, the table of
//! every account and, for the accounts of a [`DetailChoice`], margin components, the grid heat
//! maps and the named scenarios, from the stress report alone.

use std::fmt::Write as _;

use super::escape::text;
use super::numbers::{amount, figure, signed_figure};
use super::sections::{self, Named};
use super::{DetailChoice, document};
use crate::error::Result;
use crate::report::StressCommandReport;

/// The HTML of a stress report; `json` is its JSON (`report.to_json()`), embedded verbatim.
pub fn stress_page(
    report: &StressCommandReport,
    json: &str,
    detail: &DetailChoice,
) -> Result<String> {
    let ims: Vec<(&str, f64)> = report
        .accounts
        .iter()
        .map(|a| (a.id.as_str(), a.margin.initial))
        .collect();
    let detailed = detail.pick(&ims)?;
    let run = &report.run;
    let mut body = format!(
        "<h1>tailrisk stress report</h1>\n<p>tailrisk {} · horizon {} days · {} scenarios \
         for ES · {} backend on {} ({}) · {} s · named scenarios: {}</p>\n",
        text(&run.version),
        figure("/run/horizon_days", run.horizon_days),
        figure("/run/paths", run.paths as f64),
        run.backend,
        text(&run.device),
        run.precision,
        figure("/run/seconds", run.seconds),
        text(&report.scenario_set),
    );
    body.push_str(&scenario_definitions(report));
    body.push_str(&accounts_table(report, &detailed));
    for &i in &detailed {
        body.push_str(&account_section(report, i));
    }
    Ok(document("tailrisk stress report", &body, json))
}

/// The named scenarios as applied: each shocked asset's relative spot and vol move.
fn scenario_definitions(report: &StressCommandReport) -> String {
    let mut out = String::from(
        "<h2>Named scenarios</h2>\n<table>\n<tr><th class=\"l\">scenario</th>\
         <th class=\"l\">shocks (relative spot move / relative vol move)</th></tr>\n",
    );
    for (j, s) in report.scenarios.iter().enumerate() {
        let shocks: Vec<String> = s
            .shocks
            .iter()
            .map(|(asset, x)| {
                let at = format!("/scenarios/{j}/shocks/{}", pointer_token(asset));
                format!(
                    "{} {} / {}",
                    text(asset),
                    signed_figure(&format!("{at}/spot"), x.spot),
                    signed_figure(&format!("{at}/vol"), x.vol)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            text(&s.name),
            shocks.join(", ")
        );
    }
    out.push_str("</table>\n");
    out
}

/// A JSON pointer token (RFC 6901: `~` → `~0`, `/` → `~1`).
fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn accounts_table(report: &StressCommandReport, detailed: &[usize]) -> String {
    let mut out = String::from(
        "<h2>Accounts</h2>\n<table>\n<tr><th class=\"l\">account</th><th>initial margin</th>\
         <th>maintenance margin</th><th class=\"l\">set by</th><th>ES (margin)</th>\
         <th>grid loss</th><th class=\"l\">worst named scenario</th><th>its loss</th></tr>\n",
    );
    for (i, a) in report.accounts.iter().enumerate() {
        let ccy = a.currency.name();
        let at = format!("/accounts/{i}");
        let id = if detailed.contains(&i) {
            format!("<a href=\"#account-{i}\">{}</a>", text(&a.id))
        } else {
            text(&a.id)
        };
        let (name, loss) = match a.scenarios.iter().position(|s| s.worst) {
            Some(j) => (
                text(&a.scenarios[j].name),
                amount(
                    &format!("{at}/scenarios/{j}/loss"),
                    a.scenarios[j].loss,
                    ccy,
                ),
            ),
            None => Default::default(),
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{id}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td>\
             <td>{}</td><td>{}</td><td class=\"l\">{name}</td><td>{loss}</td></tr>",
            amount(&format!("{at}/margin/initial"), a.margin.initial, ccy),
            amount(
                &format!("{at}/margin/maintenance"),
                a.margin.maintenance,
                ccy
            ),
            a.binding,
            amount(
                &format!("{at}/margin/components/es"),
                a.margin.components.es,
                ccy
            ),
            amount(&format!("{at}/grid_loss"), a.grid_loss, ccy),
        );
    }
    out.push_str("</table>\n");
    out
}

fn account_section(report: &StressCommandReport, i: usize) -> String {
    let a = &report.accounts[i];
    let ccy = a.currency.name();
    let at = format!("/accounts/{i}");
    let mut out = format!(
        "<h2 id=\"account-{i}\">Account {} ({})</h2>\n<p>Initial margin set by {}; grid loss {}.</p>\n",
        text(&a.id),
        text(ccy),
        a.binding,
        amount(&format!("{at}/grid_loss"), a.grid_loss, ccy)
    );
    out.push_str(&sections::margin(&a.margin, &format!("{at}/margin"), ccy));
    out.push_str(&sections::grid(&a.grid, ccy));
    if let Some(w) = a.grid.iter().position(|p| p.drives_margin) {
        let p = &a.grid[w];
        let _ = writeln!(
            out,
            "<p class=\"note\">The grid point that sets initial margin: {} {}.</p>",
            text(&p.asset),
            sections::moves(p.price_move, p.vol_move)
        );
    }
    let list: Vec<Named> = a
        .scenarios
        .iter()
        .map(|s| Named {
            name: &s.name,
            loss: s.loss,
            worst: s.worst,
        })
        .collect();
    out.push_str(&sections::named(
        &list,
        |j| format!("{at}/scenarios/{j}/loss"),
        ccy,
    ));
    out
}
