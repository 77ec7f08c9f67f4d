//! The run page (`run --report`, `merge --report`): the table of every account and, for the
//! accounts of a [`DetailChoice`], the loss histogram with VaR and ES, the tail inset, margin
//! components, component ES, the stress grid heat maps and the named scenarios.
//!
//! It is rendered from plain inputs, not from a live evaluation: the [`Report`] (what the JSON
//! is made of) and, per account, its [`AccountExtras`], so that a merge of shards can render it
//! from merged data.

use std::fmt::Write as _;

use super::charts::{self, Mark};
use super::escape::text;
use super::numbers::{amount, figure, number};
use super::sections::{self, Named, worst_index};
use super::{DetailChoice, document};
use crate::error::Result;
use crate::report::{AccountReport, GridPointReport, Report};
use crate::run::AccountDistribution;

/// Components ES listed per account.
const COMPONENTS_SHOWN: usize = 10;

/// What the page shows of one account beyond its report entry.
#[derive(Clone, Debug, Default)]
pub struct AccountExtras {
    /// Its loss histogram and worst losses (`None`: the charts are left out, with a note).
    pub distribution: Option<AccountDistribution>,
    /// Every grid point of the account's assets, as `stress` reports them.
    pub grid: Vec<GridPointReport>,
}

/// Everything [`run_page`] needs.
pub struct RunPage<'a> {
    pub report: &'a Report,
    /// The JSON written for the report (`report.to_json()`), embedded verbatim.
    pub json: &'a str,
    /// One per account of `report`, in its order.
    pub extras: &'a [AccountExtras],
    pub detail: &'a DetailChoice,
}

/// The HTML of a run report.
pub fn run_page(page: &RunPage) -> Result<String> {
    let r = page.report;
    let ims: Vec<(&str, f64)> = r
        .accounts
        .iter()
        .map(|a| (a.id.as_str(), a.margin.as_ref().map_or(0.0, |m| m.initial)))
        .collect();
    let detailed = page.detail.pick(&ims)?;
    let mut body = String::from("<h1>tailrisk run report</h1>\n");
    body.push_str(&run_summary(r));
    body.push_str(&accounts_table(r, &detailed));
    for &i in &detailed {
        let extras = page.extras.get(i).cloned().unwrap_or_default();
        body.push_str(&account_section(r, i, &extras));
    }
    Ok(document("tailrisk run report", &body, page.json))
}

/// How the figures were made (the `run` object).
fn run_summary(r: &Report) -> String {
    let run = &r.run;
    format!(
        "<p>tailrisk {} · method {} · {} scenarios · seed {} · horizon {} days in {} step(s) · \
         {} backend on {} ({}) · {} s</p>\n",
        text(&run.version),
        text(run.method),
        figure("/run/paths", run.paths as f64),
        run.seed,
        figure("/run/horizon_days", run.horizon_days),
        figure("/run/steps", f64::from(run.steps)),
        run.backend,
        text(&run.device),
        run.precision,
        figure("/run/seconds", run.seconds),
    )
}

/// The table of every account (R6): IM, MM, ES, grid, worst scenario.
fn accounts_table(r: &Report, detailed: &[usize]) -> String {
    let mut out = String::from(
        "<h2>Accounts</h2>\n<table>\n<tr><th class=\"l\">account</th><th>initial margin</th>\
         <th>maintenance margin</th><th>ES (margin)</th><th>grid loss</th>\
         <th class=\"l\">worst named scenario</th><th>its loss</th></tr>\n",
    );
    for (i, a) in r.accounts.iter().enumerate() {
        let ccy = a.currency.name();
        let at = format!("/accounts/{i}");
        let id = if detailed.contains(&i) {
            format!("<a href=\"#account-{i}\">{}</a>", text(&a.id))
        } else {
            text(&a.id)
        };
        let (im, mm, es) = match &a.margin {
            Some(m) => (
                amount(&format!("{at}/margin/initial"), m.initial, ccy),
                amount(&format!("{at}/margin/maintenance"), m.maintenance, ccy),
                amount(&format!("{at}/margin/components/es"), m.components.es, ccy),
            ),
            None => Default::default(),
        };
        let (grid, worst_name, worst_loss) = match &a.stress {
            Some(s) => {
                let worst = worst_index(s.scenarios.iter().map(|x| x.loss));
                let (name, loss) = match worst {
                    Some(j) => (
                        text(&s.scenarios[j].name),
                        amount(
                            &format!("{at}/stress/scenarios/{j}/loss"),
                            s.scenarios[j].loss,
                            ccy,
                        ),
                    ),
                    None => (String::new(), String::new()),
                };
                (
                    amount(&format!("{at}/stress/grid_loss"), s.grid_loss, ccy),
                    name,
                    loss,
                )
            }
            None => Default::default(),
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{id}</td><td>{im}</td><td>{mm}</td><td>{es}</td><td>{grid}</td>\
             <td class=\"l\">{worst_name}</td><td>{worst_loss}</td></tr>"
        );
    }
    out.push_str("</table>\n");
    out
}

/// Detailed figures of account `i`.
fn account_section(r: &Report, i: usize, extras: &AccountExtras) -> String {
    let a = &r.accounts[i];
    let ccy = a.currency.name();
    let at = format!("/accounts/{i}");
    let mut out = format!(
        "<h2 id=\"account-{i}\">Account {} ({})</h2>\n",
        text(&a.id),
        text(ccy)
    );
    out.push_str(&measures_table(a, &at));
    out.push_str(&distribution(a, r.run.paths, extras.distribution.as_ref()));
    if let Some(m) = &a.margin {
        out.push_str(&sections::margin(m, &format!("{at}/margin"), ccy));
    }
    out.push_str(&components(a, &at));
    out.push_str(&sections::grid(&extras.grid, ccy));
    if let Some(s) = &a.stress {
        let worst = worst_index(s.scenarios.iter().map(|x| x.loss));
        let list: Vec<Named> = s
            .scenarios
            .iter()
            .enumerate()
            .map(|(j, x)| Named {
                name: &x.name,
                loss: x.loss,
                worst: worst == Some(j),
            })
            .collect();
        out.push_str(&sections::named(
            &list,
            |j| format!("{at}/stress/scenarios/{j}/loss"),
            ccy,
        ));
    }
    out
}

fn measures_table(a: &AccountReport, at: &str) -> String {
    let ccy = a.currency.name();
    let mut out = String::from(
        "<table>\n<tr><th>confidence</th><th>VaR</th><th>VaR 95% interval</th><th>ES</th>\
         <th>ES 95% interval</th></tr>\n",
    );
    for (j, m) in a.measures.iter().enumerate() {
        let p = format!("{at}/measures/{j}");
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"var\">{}</td><td>[{}, {}]</td><td class=\"es\">{}</td>\
             <td>[{}, {}]</td></tr>",
            figure(&format!("{p}/confidence"), m.confidence),
            amount(&format!("{p}/var"), m.var, ccy),
            amount(&format!("{p}/var_ci/0"), m.var_ci[0], ccy),
            amount(&format!("{p}/var_ci/1"), m.var_ci[1], ccy),
            amount(&format!("{p}/es"), m.es, ccy),
            amount(&format!("{p}/es_ci/0"), m.es_ci[0], ccy),
            amount(&format!("{p}/es_ci/1"), m.es_ci[1], ccy),
        );
    }
    out.push_str("</table>\n");
    out
}

/// The histogram's paths bar by bar (R3: they sum to N), with those left and right of the
/// range drawn, in a table folded under the chart (`<details>`, open without JavaScript).
fn bar_counts(bars: &[charts::Bar], below: u64, above: u64, ccy: &str) -> String {
    let mut out = String::from(
        "<details class=\"bins\"><summary>Paths per bar</summary>\n<table>\n\
         <tr><th>loss from</th><th>loss to</th><th>paths</th></tr>\n",
    );
    let row = |out: &mut String, from: &str, to: &str, count: u64| {
        let _ = writeln!(
            out,
            "<tr><td>{from}</td><td>{to}</td><td class=\"count\">{}</td></tr>",
            number(count as f64)
        );
    };
    let edge = |x: f64| format!("{}&#160;{ccy}", number(x));
    let first = bars.first().map_or(0.0, |b| b.x0);
    let last = bars.last().map_or(0.0, |b| b.x1);
    row(&mut out, "", &format!("below {}", edge(first)), below);
    for b in bars {
        row(&mut out, &edge(b.x0), &edge(b.x1), b.count);
    }
    row(&mut out, &format!("above {}", edge(last)), "", above);
    out.push_str("</table>\n</details>\n");
    out
}

/// The histogram of every loss with VaR and ES at each confidence (R3), and the inset of the
/// worst losses with the marks of the highest confidence (R4).
fn distribution(a: &AccountReport, paths: u64, d: Option<&AccountDistribution>) -> String {
    let ccy = a.currency.name();
    let Some(d) = d else {
        return "<p class=\"note\">No loss distribution was recorded for this account.</p>\n"
            .into();
    };
    let marks: Vec<Mark> = a
        .measures
        .iter()
        .flat_map(|m| {
            [
                Mark {
                    label: format!("VaR {}", m.confidence),
                    at: m.var,
                    es: false,
                },
                Mark {
                    label: format!("ES {}", m.confidence),
                    at: m.es,
                    es: true,
                },
            ]
        })
        .collect();
    let (chart, bars, below, above) = charts::loss_histogram(&d.histogram, &marks, ccy);
    let mut out = format!(
        "<h3>Loss distribution</h3>\n{chart}<p class=\"note\">All {} scenarios, \
         <span class=\"var\">VaR</span> and <span class=\"es\">ES</span> marked at the \
         figures above; {} scenarios lie left and {} right of the range drawn (0.1 % and \
         99.9 % quantiles). Bars are unions of the fixed log-scale bins of \
         docs/methodology.md.</p>\n",
        number(d.histogram.total() as f64),
        number(below as f64),
        number(above as f64),
    );
    out.push_str(&bar_counts(&bars, below, above, ccy));
    if let Some(top) = a
        .measures
        .iter()
        .max_by(|x, y| x.confidence.total_cmp(&y.confidence))
    {
        let inset_marks = [
            Mark {
                label: format!("VaR {}", top.confidence),
                at: top.var,
                es: false,
            },
            Mark {
                label: format!("ES {}", top.confidence),
                at: top.es,
                es: true,
            },
        ];
        let _ = write!(
            out,
            "<h3>The tail enlarged</h3>\n{}<p class=\"note\">The worst {} of {} scenarios; \
             VaR and ES at confidence {}.</p>\n",
            charts::tail_inset(&d.worst_losses, &inset_marks, ccy),
            number(d.worst_losses.len() as f64),
            number(paths as f64),
            top.confidence
        );
    }
    out
}

/// The positions with the largest component ES (by magnitude).
fn components(a: &AccountReport, at: &str) -> String {
    let ccy = a.currency.name();
    let mut order: Vec<usize> = (0..a.components.len()).collect();
    order.sort_by(|&x, &y| {
        a.components[y]
            .es
            .abs()
            .total_cmp(&a.components[x].es.abs())
    });
    order.truncate(COMPONENTS_SHOWN);
    if order.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<h3>Largest component ES</h3>\n<table>\n<tr><th class=\"l\">position</th>\
         <th>component ES</th></tr>\n",
    );
    for &j in &order {
        let c = &a.components[j];
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td>{}</td></tr>",
            text(&c.instrument),
            amount(&format!("{at}/components/{j}/es"), c.es, ccy)
        );
    }
    out.push_str("</table>\n");
    let bars: Vec<(String, f64)> = order
        .iter()
        .map(|&j| (a.components[j].instrument.clone(), a.components[j].es))
        .collect();
    out.push_str(&charts::bars(&bars, ccy));
    out
}
