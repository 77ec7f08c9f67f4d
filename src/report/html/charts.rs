//! The report's charts as inline SVG, drawn with plotters' SVG backend: the loss histogram
//! with VaR and ES marked, the tail inset, and horizontal bars. Text is SVG `<text>` in the
//! browser's `sans-serif` (no font file, no request); plotters escapes it.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::numbers::number;
use crate::model::distribution::{BINS, LossHistogram, bin_range};

/// Bars the histogram is drawn with (at least; fine bins are never split).
const BARS: f64 = 80.0;
/// Bins of the tail inset.
const INSET_BARS: usize = 40;

pub const VAR_COLOUR: RGBColor = RGBColor(230, 120, 0);
pub const ES_COLOUR: RGBColor = RGBColor(200, 0, 40);
const BAR_COLOUR: RGBColor = RGBColor(70, 110, 170);

/// A vertical mark on a loss axis: VaR or ES at one confidence.
#[derive(Clone, Debug)]
pub struct Mark {
    pub label: String,
    pub at: f64,
    pub es: bool,
}

/// One drawn bar: [x0, x1) with a height.
pub struct Bar {
    pub x0: f64,
    pub x1: f64,
    /// Paths in [x0, x1).
    pub count: u64,
    height: f64,
}

/// Renders with `draw` on a `width × height` SVG; a drawing error becomes a visible note
/// (never a panic, never a lost report).
fn svg(
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> Result<(), String>,
) -> String {
    try_svg(width, height, draw).unwrap_or_else(|e| {
        format!(
            r#"<p class="error">chart not drawn: {}</p>"#,
            super::escape::text(&e)
        )
    })
}

/// Renders with `draw` on a `width × height` SVG, or plotters' error.
pub(crate) fn try_svg(
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> Result<(), String>,
) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// The loss range a histogram is drawn over: from the 0.1 % to the 99.9 % quantile's bin,
/// widened to every mark, clamped to finite edges.
fn display_range(h: &LossHistogram, marks: &[Mark]) -> (f64, f64) {
    let total = h.total().max(1) as f64;
    let finite = |x: f64| x.clamp(-(2f64.powi(40)), 2f64.powi(40));
    let mut seen = 0u64;
    let (mut lo, mut hi) = (f64::NAN, f64::NAN);
    for b in 0..BINS {
        let c = h.counts[b as usize];
        if c == 0 {
            continue;
        }
        seen += c;
        let (x0, x1) = bin_range(b);
        if lo.is_nan() && seen as f64 >= 0.001 * total {
            lo = finite(x0);
        }
        if hi.is_nan() && seen as f64 >= 0.999 * total {
            hi = finite(x1);
        }
    }
    for m in marks {
        lo = lo.min(m.at);
        hi = hi.max(m.at);
    }
    if lo.is_nan() || hi.is_nan() || hi - lo <= 1e-9 * hi.abs().max(1.0) {
        let mid = if lo.is_nan() { 0.0 } else { lo };
        return (mid - 1.0, mid + 1.0);
    }
    let pad = 0.03 * (hi - lo);
    (lo - pad, hi + pad)
}

/// Fine bins grouped, in order, into bars at least `(hi − lo)/BARS` wide; bins outside the
/// range are counted apart. Heights are paths per bar width, so bars of different widths
/// compare as densities.
fn group_bins(h: &LossHistogram, lo: f64, hi: f64) -> (Vec<Bar>, u64, u64) {
    let width = (hi - lo) / BARS;
    let (mut bars, mut below, mut above) = (Vec::new(), 0u64, 0u64);
    let mut open: Option<(f64, f64, u64)> = None;
    for b in 0..BINS {
        let c = h.counts[b as usize];
        let (x0, x1) = bin_range(b);
        if x1 <= lo {
            below += c;
            continue;
        }
        if x0 >= hi {
            above += c;
            continue;
        }
        let (x0, x1) = (x0.max(lo), x1.min(hi));
        let (start, _, count) = open.unwrap_or((x0, x1, 0));
        if x1 - start >= width {
            bars.push((start, x1, count + c));
            open = None;
        } else {
            open = Some((start, x1, count + c));
        }
    }
    if let Some(last) = open {
        bars.push(last);
    }
    let bars = bars
        .into_iter()
        .map(|(x0, x1, c)| Bar {
            x0,
            x1,
            count: c,
            height: c as f64 * width / (x1 - x0).max(f64::MIN_POSITIVE),
        })
        .collect();
    (bars, below, above)
}

/// A bar chart of losses with vertical marks: the body of both histogram charts.
fn loss_chart(
    bars: &[Bar],
    range: (f64, f64),
    marks: &[Mark],
    x_desc: &str,
    y_desc: &str,
    size: (u32, u32),
) -> String {
    let top = bars.iter().map(|b| b.height).fold(0.0, f64::max).max(1.0) * 1.12;
    svg(size.0, size.1, |root| {
        let e = |e: &dyn std::fmt::Display| e.to_string();
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(64)
            .build_cartesian_2d(range.0..range.1, 0.0..top)
            .map_err(|x| e(&x))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_labels(7)
            .x_label_formatter(&|v| number(*v))
            .y_label_formatter(&|v| number(*v))
            .draw()
            .map_err(|x| e(&x))?;
        chart
            .draw_series(bars.iter().map(|b| {
                Rectangle::new(
                    [(b.x0, 0.0), (b.x1, b.height)],
                    BAR_COLOUR.mix(0.75).filled(),
                )
            }))
            .map_err(|x| e(&x))?;
        for (i, m) in marks.iter().enumerate() {
            let colour = if m.es { ES_COLOUR } else { VAR_COLOUR };
            let line = PathElement::new(vec![(m.at, 0.0), (m.at, top)], colour.stroke_width(2));
            chart
                .draw_series(std::iter::once(line))
                .map_err(|x| e(&x))?;
            // Labels stagger downwards so that close marks stay readable.
            let y = top * (0.97 - 0.07 * (i % 6) as f64);
            let label =
                Text::new(m.label.clone(), (m.at, y), ("sans-serif", 13).into_font()).into_dyn();
            chart
                .draw_series(std::iter::once(label))
                .map_err(|x| e(&x))?;
        }
        Ok(())
    })
}

/// The histogram of every loss (R3) over its central 99.8 % and the marks; returns the SVG,
/// its bars (with their path counts, for the page's table of them) and the paths left of and
/// right of the drawn range.
pub fn loss_histogram(
    h: &LossHistogram,
    marks: &[Mark],
    currency: &str,
) -> (String, Vec<Bar>, u64, u64) {
    let (lo, hi) = display_range(h, marks);
    let (bars, below, above) = group_bins(h, lo, hi);
    let y = format!("paths per {} {currency}", number((hi - lo) / BARS));
    let chart = loss_chart(
        &bars,
        (lo, hi),
        marks,
        &format!("loss ({currency})"),
        &y,
        (900, 380),
    );
    (chart, bars, below, above)
}

/// The tail enlarged (R4): the worst losses (descending) in equal linear bins.
pub fn tail_inset(worst: &[f64], marks: &[Mark], currency: &str) -> String {
    let lo = worst.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = worst.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > lo {
        let pad = 0.02 * (hi - lo);
        (lo - pad, hi + pad)
    } else {
        let mid = if lo.is_finite() { lo } else { 0.0 };
        (mid - 1.0, mid + 1.0)
    };
    let width = (hi - lo) / INSET_BARS as f64;
    let mut counts = vec![0u64; INSET_BARS];
    for &x in worst {
        let i = (((x - lo) / width) as usize).min(INSET_BARS - 1);
        counts[i] += 1;
    }
    let bars: Vec<Bar> = counts
        .iter()
        .enumerate()
        .map(|(i, &c)| Bar {
            x0: lo + i as f64 * width,
            x1: lo + (i + 1) as f64 * width,
            count: c,
            height: c as f64,
        })
        .collect();
    let shown: Vec<Mark> = marks
        .iter()
        .filter(|m| m.at >= lo && m.at <= hi)
        .cloned()
        .collect();
    loss_chart(
        &bars,
        (lo, hi),
        &shown,
        &format!("loss ({currency}), worst {} scenarios", worst.len()),
        "paths per bar",
        (900, 300),
    )
}

/// Horizontal bars, one per (label, value), signed values from a zero line.
pub fn bars(items: &[(String, f64)], currency: &str) -> String {
    if items.is_empty() {
        return String::new();
    }
    let lo = items.iter().map(|i| i.1).fold(0.0, f64::min);
    let hi = items.iter().map(|i| i.1).fold(0.0, f64::max);
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    let (lo, hi) = (lo - 0.05 * span, hi + 0.05 * span);
    let n = items.len();
    let height = 60 + 26 * n as u32;
    svg(900, height, |root| {
        let e = |e: &dyn std::fmt::Display| e.to_string();
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(260)
            .build_cartesian_2d(lo..hi, 0.0..n as f64)
            .map_err(|x| e(&x))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc(currency)
            .x_labels(6)
            .x_label_formatter(&|v| number(*v))
            .draw()
            .map_err(|x| e(&x))?;
        for (i, (label, value)) in items.iter().enumerate() {
            let y0 = (n - 1 - i) as f64 + 0.15;
            let colour = if *value >= 0.0 { ES_COLOUR } else { BAR_COLOUR };
            let bar = Rectangle::new([(0.0, y0), (*value, y0 + 0.7)], colour.mix(0.7).filled());
            chart.draw_series(std::iter::once(bar)).map_err(|x| e(&x))?;
            let text = Text::new(
                label.clone(),
                (lo, y0 + 0.55),
                TextStyle::from(("sans-serif", 13).into_font())
                    .pos(Pos::new(HPos::Right, VPos::Center)),
            );
            chart
                .draw_series(std::iter::once(text))
                .map_err(|x| e(&x))?;
        }
        Ok(())
    })
}
