//! The converge plot (`--plot FILE.svg`), drawn with plotters' SVG backend: on the left each
//! account's ES over the path count, as a fraction of its ES at the largest count, with the
//! 95 % interval as bars; on the right the interval's relative half-width on log–log axes
//! with the 1/√N line through the largest count, the slope every estimate should follow.
//! One confidence (the highest of the configuration) and at most [`MAX_ACCOUNTS`] accounts.

use plotters::prelude::*;

use super::{ConvergeReport, PointMeasure};
use crate::report::html::charts::try_svg;
use crate::report::html::numbers::number;

/// Accounts drawn (the first of the report); the JSON and the table have every account.
pub const MAX_ACCOUNTS: usize = 8;

const PALETTE: [RGBColor; MAX_ACCOUNTS] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

/// One account's line: (paths, measure) per point, and its ES at the largest count.
struct Series<'a> {
    id: &'a str,
    points: Vec<(f64, &'a PointMeasure)>,
    es_max: f64,
}

/// The SVG of the plot, or plotters' error.
pub fn plot(report: &ConvergeReport) -> Result<String, String> {
    let series = series(report);
    let (lo, hi) = path_range(report);
    try_svg(1000, 420, |root| {
        let (left, right) = root.split_horizontally(500);
        relative_es(&left, &series, (lo, hi))?;
        half_widths(&right, &series, (lo, hi))
    })
}

/// The confidence drawn: the highest of the configuration's.
fn series(report: &ConvergeReport) -> Vec<Series<'_>> {
    let Some(last) = report.points.last() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (a, account) in last.accounts.iter().enumerate() {
        let highest = account
            .measures
            .iter()
            .enumerate()
            .max_by(|x, y| x.1.confidence.total_cmp(&y.1.confidence));
        let Some((c, final_measure)) = highest else {
            continue;
        };
        // ES of 0 has no relative precision: nothing to draw.
        if final_measure.es == 0.0 || out.len() == MAX_ACCOUNTS {
            continue;
        }
        out.push(Series {
            id: &account.id,
            points: report
                .points
                .iter()
                .map(|p| (p.paths as f64, &p.accounts[a].measures[c]))
                .collect(),
            es_max: final_measure.es,
        });
    }
    out
}

fn path_range(report: &ConvergeReport) -> (f64, f64) {
    let first = report.points.first().map_or(1.0, |p| p.paths as f64);
    let last = report.points.last().map_or(10.0, |p| p.paths as f64);
    (first / 1.5, (last * 1.5).max(first * 2.0))
}

type Area<'a, 'b> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn plot_error(x: &dyn std::fmt::Display) -> String {
    x.to_string()
}

/// ES / ES(N_max) with the interval as a bar at each count.
fn relative_es(area: &Area, series: &[Series], (lo, hi): (f64, f64)) -> Result<(), String> {
    let ratio = |x: f64, s: &Series| x / s.es_max;
    let (mut y0, mut y1) = (0.9f64, 1.1f64);
    for s in series {
        for (_, m) in &s.points {
            let (a, b) = (ratio(m.es_ci[0], s), ratio(m.es_ci[1], s));
            y0 = y0.min(a.min(b));
            y1 = y1.max(a.max(b));
        }
    }
    let pad = 0.05 * (y1 - y0);
    let mut chart = ChartBuilder::on(area)
        .caption(
            "ES / ES at the largest count, 95 % interval",
            ("sans-serif", 15),
        )
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(56)
        .build_cartesian_2d((lo..hi).log_scale(), (y0 - pad)..(y1 + pad))
        .map_err(|x| plot_error(&x))?;
    chart
        .configure_mesh()
        .x_desc("paths")
        .light_line_style(WHITE)
        .x_label_formatter(&|v| number(*v))
        .y_label_formatter(&|v| format!("{v:.3}"))
        .draw()
        .map_err(|x| plot_error(&x))?;
    for (i, s) in series.iter().enumerate() {
        let colour = PALETTE[i];
        let line = s.points.iter().map(|&(n, m)| (n, ratio(m.es, s)));
        chart
            .draw_series(LineSeries::new(line, colour.stroke_width(2)))
            .map_err(|x| plot_error(&x))?
            .label(s.id)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
        // The bars sit a little apart per account, so that they do not hide each other.
        let shift = 1.0 + 0.03 * (i as f64 - series.len() as f64 / 2.0);
        let bars = s.points.iter().map(|&(n, m)| {
            let at = n * shift;
            PathElement::new(
                vec![(at, ratio(m.es_ci[0], s)), (at, ratio(m.es_ci[1], s))],
                colour.mix(0.6).stroke_width(1),
            )
        });
        chart.draw_series(bars).map_err(|x| plot_error(&x))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(|x| plot_error(&x))
}

/// The relative half-width of ES over the count on log–log axes, and 1/√N.
fn half_widths(area: &Area, series: &[Series], (lo, hi): (f64, f64)) -> Result<(), String> {
    let widths = |s: &Series| -> Vec<(f64, f64)> {
        s.points
            .iter()
            .filter_map(|&(n, m)| {
                m.es_relative_half_width
                    .filter(|h| *h > 0.0)
                    .map(|h| (n, h))
            })
            .collect()
    };
    let all: Vec<f64> = series.iter().flat_map(widths).map(|(_, h)| h).collect();
    let top = all.iter().copied().fold(1e-6, f64::max) * 2.0;
    let bottom = all.iter().copied().fold(top, f64::min) / 2.0;
    let mut chart = ChartBuilder::on(area)
        .caption("relative 95 % half-width of ES", ("sans-serif", 15))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(56)
        .build_cartesian_2d((lo..hi).log_scale(), (bottom..top).log_scale())
        .map_err(|x| plot_error(&x))?;
    chart
        .configure_mesh()
        .x_desc("paths")
        .light_line_style(WHITE)
        .x_label_formatter(&|v| number(*v))
        .y_label_formatter(&|v| format!("{:.2} %", v * 100.0))
        .draw()
        .map_err(|x| plot_error(&x))?;
    for (i, s) in series.iter().enumerate() {
        let points = widths(s);
        chart
            .draw_series(LineSeries::new(points.clone(), PALETTE[i].stroke_width(2)))
            .map_err(|x| plot_error(&x))?;
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&p| Circle::new(p, 3, PALETTE[i].filled())),
            )
            .map_err(|x| plot_error(&x))?;
    }
    // 1/√N through the first account's point at the largest count.
    if let Some(&(n, h)) = series
        .first()
        .and_then(|s| widths(s).last().copied())
        .as_ref()
    {
        let guide = [lo, hi].map(|x| (x, h * (n / x).sqrt()));
        chart
            .draw_series(LineSeries::new(guide, BLACK.mix(0.5).stroke_width(1)))
            .map_err(|x| plot_error(&x))?
            .label("∝ 1/√N")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.mix(0.5)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(|x| plot_error(&x))?;
    }
    Ok(())
}
