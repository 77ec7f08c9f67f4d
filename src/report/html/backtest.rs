//! The backtest page (`backtest --report`), from the backtest JSON of SPEC §11 alone: per
//! account the daily VaR and ES against the realised loss with the exceptions marked, IM over
//! time, and the test results (Kupiec, Christoffersen, traffic light, Z₂, procyclicality;
//! a null statistic is shown as "n/a").

use std::fmt::Write as _;

use plotters::prelude::*;
use serde_json::Value;

use super::charts::{ES_COLOUR, VAR_COLOUR};
use super::document;
use super::escape::text;
use super::numbers::{amount, figure, number};
use crate::error::{Error, Result};

/// Exception days listed per account.
const EXCEPTIONS_LISTED: usize = 50;

/// One day of an account's backtest.
struct Day<'a> {
    date: &'a str,
    var: f64,
    es: f64,
    initial: f64,
    loss: f64,
    exception: bool,
}

fn shape(field: &str, message: &str) -> Error {
    Error::input("backtest report", field, "(JSON)", message)
}

fn number_at(v: &Value, field: &str) -> Result<f64> {
    v.as_f64().ok_or_else(|| shape(field, "expected a number"))
}

/// The days of account `i`, checked for the shape of SPEC §11.
fn days_of(account: &Value, i: usize) -> Result<Vec<Day<'_>>> {
    let field = format!("accounts[{i}].days");
    let list = account["days"]
        .as_array()
        .ok_or_else(|| shape(&field, "expected an array of days"))?;
    list.iter()
        .enumerate()
        .map(|(t, d)| {
            let f = |k: &str| number_at(&d[k], &format!("{field}[{t}].{k}"));
            Ok(Day {
                date: d["date"]
                    .as_str()
                    .ok_or_else(|| shape(&format!("{field}[{t}].date"), "expected a date"))?,
                var: f("var")?,
                es: f("es")?,
                initial: f("initial")?,
                loss: f("loss")?,
                exception: d["exception"].as_bool().unwrap_or(false),
            })
        })
        .collect()
}

/// The HTML of a backtest report; `json` is its JSON text, embedded verbatim.
pub fn backtest_page(report: &Value, json: &str) -> Result<String> {
    let accounts = report["accounts"]
        .as_array()
        .ok_or_else(|| shape("accounts", "expected an array of accounts"))?;
    let mut body = String::from("<h1>tailrisk backtest report</h1>\n");
    body.push_str(&run_line(&report["run"]));
    for (i, a) in accounts.iter().enumerate() {
        let days = days_of(a, i)?;
        let id = a["id"].as_str().unwrap_or("");
        let ccy = a["currency"].as_str().unwrap_or("USD");
        let _ = writeln!(
            body,
            "<h2 id=\"account-{i}\">Account {} ({})</h2>",
            text(id),
            text(ccy)
        );
        body.push_str(&tests_table(
            &a["summary"],
            &format!("/accounts/{i}/summary"),
        ));
        body.push_str("<h3>Daily VaR and ES against the realised loss</h3>\n");
        body.push_str(&forecast_chart(&days, ccy));
        body.push_str(
            "<p class=\"note\"><span class=\"var\">VaR</span> and <span class=\"es\">ES</span> \
             forecast the day before; grey dots: realised loss; large red dots: exceptions \
             (loss above VaR).</p>\n",
        );
        body.push_str("<h3>Initial margin over time</h3>\n");
        body.push_str(&margin_chart(&days, ccy));
        body.push_str(&exception_list(&days, i, ccy));
    }
    Ok(document("tailrisk backtest report", &body, json))
}

/// The `run` object's fields, as far as present.
fn run_line(run: &Value) -> String {
    let Some(fields) = run.as_object() else {
        return String::new();
    };
    let parts: Vec<String> = fields
        .iter()
        .filter(|(_, v)| v.is_string() || v.is_number())
        .map(|(k, v)| match v.as_f64() {
            Some(x) if k != "seed" => format!("{} {}", text(k), figure(&format!("/run/{k}"), x)),
            _ => format!(
                "{} {}",
                text(k),
                text(&v.as_str().map_or(v.to_string(), String::from))
            ),
        })
        .collect();
    format!("<p>{}</p>\n", parts.join(" · "))
}

/// The test results of one account.
fn tests_table(summary: &Value, at: &str) -> String {
    let root = serde_json::json!({});
    let s = if summary.is_object() { summary } else { &root };
    let get = |p: &str| match s.pointer(p).and_then(Value::as_f64) {
        Some(x) => figure(&format!("{at}{p}"), x),
        None => "n/a".into(),
    };
    let zone = s
        .pointer("/traffic_light/zone")
        .and_then(Value::as_str)
        .map_or("n/a".to_string(), text);
    let rows = [
        ("backtest days", get("/days")),
        (
            "exceptions (expected)",
            format!("{} ({})", get("/exceptions"), get("/expected")),
        ),
        (
            "Kupiec POF: LR_uc (p-value)",
            format!("{} ({})", get("/kupiec/lr"), get("/kupiec/p_value")),
        ),
        (
            "Christoffersen independence: LR_ind (p-value)",
            format!(
                "{} ({})",
                get("/christoffersen/lr_ind"),
                get("/christoffersen/p_ind")
            ),
        ),
        (
            "Christoffersen conditional coverage: LR_cc (p-value)",
            format!(
                "{} ({})",
                get("/christoffersen/lr_cc"),
                get("/christoffersen/p_cc")
            ),
        ),
        (
            "Basel traffic light (exceptions in the last 250 days)",
            format!("{zone} ({})", get("/traffic_light/exceptions_250")),
        ),
        (
            "Acerbi–Székely Z₂ (below 0: ES too low)",
            get("/es_test/z2"),
        ),
        ("IM peak to trough", get("/procyclicality/peak_to_trough")),
        (
            "largest 5-day IM increase",
            get("/procyclicality/max_increase_5d"),
        ),
        (
            "largest 30-day IM increase",
            get("/procyclicality/max_increase_30d"),
        ),
    ];
    let mut out = String::from("<h3>Tests</h3>\n<table>\n");
    for (label, value) in rows {
        let _ = writeln!(out, "<tr><td class=\"l\">{label}</td><td>{value}</td></tr>");
    }
    out.push_str("</table>\n");
    out
}

type DrawErr = String;

/// A line chart over the backtest days (x = day index, labelled with its date).
fn day_chart(
    days: &[Day],
    ccy: &str,
    height: u32,
    series: impl FnOnce(
        &mut ChartContext<
            SVGBackend,
            Cartesian2d<
                plotters::coord::types::RangedCoordf64,
                plotters::coord::types::RangedCoordf64,
            >,
        >,
    ) -> std::result::Result<(), DrawErr>,
    range: (f64, f64),
) -> String {
    let mut out = String::new();
    let n = days.len().max(2) as f64;
    let result = {
        let root = SVGBackend::with_string(&mut out, (1000, height)).into_drawing_area();
        let e = |e: &dyn std::fmt::Display| e.to_string();
        (|| -> std::result::Result<(), DrawErr> {
            root.fill(&WHITE).map_err(|x| e(&x))?;
            let mut chart = ChartBuilder::on(&root)
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d(-0.5..n - 0.5, range.0..range.1)
                .map_err(|x| e(&x))?;
            let date = |x: &f64| {
                let i = x.round().max(0.0) as usize;
                days.get(i).map_or(String::new(), |d| d.date.to_string())
            };
            chart
                .configure_mesh()
                .x_labels(8)
                .x_label_formatter(&date)
                .y_label_formatter(&|v| number(*v))
                .y_desc(ccy)
                .draw()
                .map_err(|x| e(&x))?;
            series(&mut chart)?;
            root.present().map_err(|x| e(&x))
        })()
    };
    match result {
        Ok(()) => out,
        Err(e) => format!(r#"<p class="error">chart not drawn: {}</p>"#, text(&e)),
    }
}

/// The value range of `values`, padded; (−1, 1) around a constant.
fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    if !lo.is_finite() || hi <= lo {
        let mid = if lo.is_finite() { lo } else { 0.0 };
        return (mid - 1.0, mid + 1.0);
    }
    let pad = 0.06 * (hi - lo);
    (lo - pad, hi + pad)
}

fn forecast_chart(days: &[Day], ccy: &str) -> String {
    let range = padded(days.iter().flat_map(|d| [d.var, d.es, d.loss]));
    day_chart(
        days,
        ccy,
        380,
        |chart| {
            let e = |e: &dyn std::fmt::Display| e.to_string();
            let at =
                |f: fn(&Day) -> f64| days.iter().enumerate().map(move |(i, d)| (i as f64, f(d)));
            chart
                .draw_series(
                    at(|d| d.loss).map(|p| Circle::new(p, 2, RGBColor(120, 120, 120).filled())),
                )
                .map_err(|x| e(&x))?;
            chart
                .draw_series(LineSeries::new(at(|d| d.var), VAR_COLOUR.stroke_width(2)))
                .map_err(|x| e(&x))?;
            chart
                .draw_series(LineSeries::new(at(|d| d.es), ES_COLOUR.stroke_width(2)))
                .map_err(|x| e(&x))?;
            let exceptions = days
                .iter()
                .enumerate()
                .filter(|(_, d)| d.exception)
                .map(|(i, d)| Circle::new((i as f64, d.loss), 5, ES_COLOUR.filled()));
            chart.draw_series(exceptions).map_err(|x| e(&x))?;
            Ok(())
        },
        range,
    )
}

fn margin_chart(days: &[Day], ccy: &str) -> String {
    let range = padded(days.iter().map(|d| d.initial));
    day_chart(
        days,
        ccy,
        300,
        |chart| {
            let points = days.iter().enumerate().map(|(i, d)| (i as f64, d.initial));
            chart
                .draw_series(LineSeries::new(
                    points,
                    RGBColor(70, 110, 170).stroke_width(2),
                ))
                .map_err(|x| x.to_string())?;
            Ok(())
        },
        range,
    )
}

/// The exception days: date, realised loss, VaR and ES forecast.
fn exception_list(days: &[Day], i: usize, ccy: &str) -> String {
    let exceptions: Vec<usize> = (0..days.len()).filter(|&t| days[t].exception).collect();
    if exceptions.is_empty() {
        return "<p class=\"note\">No exceptions.</p>\n".into();
    }
    let mut out = String::from(
        "<h3>Exceptions</h3>\n<table>\n<tr><th class=\"l\">date</th><th>realised loss</th>\
         <th>VaR</th><th>ES</th></tr>\n",
    );
    for &t in exceptions.iter().take(EXCEPTIONS_LISTED) {
        let d = &days[t];
        let at = format!("/accounts/{i}/days/{t}");
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            text(d.date),
            amount(&format!("{at}/loss"), d.loss, ccy),
            amount(&format!("{at}/var"), d.var, ccy),
            amount(&format!("{at}/es"), d.es, ccy)
        );
    }
    out.push_str("</table>\n");
    if exceptions.len() > EXCEPTIONS_LISTED {
        let _ = writeln!(
            out,
            "<p class=\"note\">The first {EXCEPTIONS_LISTED} of {} exceptions.</p>",
            exceptions.len()
        );
    }
    out
}
