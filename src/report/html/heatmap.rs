//! The stress grid of one asset as a price × vol heat map (SPEC §12, R3): one cell per grid
//! point, coloured by the loss that counts (red a loss, green a gain), showing that loss;
//! extended moves show the counted loss (× fraction) and the raw loss; the cell that sets the
//! asset's grid loss is framed.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::numbers::{number, signed};
use crate::report::GridPointReport;

const CELL_W: i32 = 150;
const CELL_H: i32 = 46;
const LEFT: i32 = 90;
const TOP: i32 = 44;

/// The distinct values of `key` over `points`, ascending.
fn axis(points: &[&GridPointReport], key: impl Fn(&GridPointReport) -> f64) -> Vec<f64> {
    let mut v: Vec<f64> = points.iter().map(|p| key(p)).collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

/// Red for a loss, green for a gain, paler towards zero (`t` = loss / largest |loss|).
fn colour(t: f64) -> RGBColor {
    let s = (t.abs().min(1.0) * 200.0) as u8;
    if t > 0.0 {
        RGBColor(255, 255 - s, 255 - s)
    } else {
        RGBColor(255 - s, 255, 255 - s / 2)
    }
}

/// The heat map of one asset's regular or extended points (price moves across, vol moves
/// down, the largest vol move on top). Losses are in `currency`.
pub fn grid_heatmap(points: &[&GridPointReport], currency: &str) -> String {
    let prices = axis(points, |p| p.price_move);
    let mut vols = axis(points, |p| p.vol_move);
    vols.reverse();
    let extended = points.iter().any(|p| p.extended);
    let largest = points
        .iter()
        .map(|p| p.counted_loss.abs())
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let width = (LEFT + CELL_W * prices.len() as i32 + 10) as u32;
    let height = (TOP + CELL_H * vols.len() as i32 + 10) as u32;
    let mut out = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        draw_cells(&root, points, &prices, &vols, largest, extended, currency)
            .map_err(|e| e.to_string())
            .and_then(|_| root.present().map_err(|e| e.to_string()))
    };
    match drawn {
        Ok(()) => out,
        Err(e) => format!(
            r#"<p class="error">heat map not drawn: {}</p>"#,
            super::escape::text(&e)
        ),
    }
}

type Area<'a, 'b> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

fn draw_cells(
    root: &Area,
    points: &[&GridPointReport],
    prices: &[f64],
    vols: &[f64],
    largest: f64,
    extended: bool,
    currency: &str,
) -> DrawResult {
    root.fill(&WHITE)?;
    let font = TextStyle::from(("sans-serif", 13).into_font());
    let small = TextStyle::from(("sans-serif", 12).into_font());
    let centre = Pos::new(HPos::Center, VPos::Center);
    let left = Pos::new(HPos::Left, VPos::Center);
    root.draw(&Text::new("vol \\ price", (6, TOP - 18), font.clone()))?;
    for (i, m) in prices.iter().enumerate() {
        let x = LEFT + CELL_W * i as i32 + CELL_W / 2;
        let label = match points.iter().find(|p| p.price_move == *m) {
            Some(p) if extended => format!("{} ×{}", signed(*m), number(p.fraction)),
            _ => signed(*m),
        };
        root.draw(&Text::new(label, (x, TOP - 16), font.pos(centre)))?;
    }
    for (j, v) in vols.iter().enumerate() {
        let y = TOP + CELL_H * j as i32;
        root.draw(&Text::new(signed(*v), (8, y + CELL_H / 2), font.pos(left)))?;
        for (i, m) in prices.iter().enumerate() {
            let x = LEFT + CELL_W * i as i32;
            let Some(p) = points
                .iter()
                .find(|p| p.price_move == *m && p.vol_move == *v)
            else {
                continue;
            };
            let cell = [(x, y), (x + CELL_W - 2, y + CELL_H - 2)];
            root.draw(&Rectangle::new(
                cell,
                colour(p.counted_loss / largest).filled(),
            ))?;
            if p.worst && p.counted_loss > 0.0 {
                // A closed path, not an unfilled Rectangle: plotters' SVG backend drops a
                // rectangle's stroke width (1 px was lost beside the 2 px cell gaps).
                let [(x0, y0), (x1, y1)] = cell;
                let frame = vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)];
                root.draw(&PathElement::new(frame, BLACK.stroke_width(3)))?;
            }
            let cx = x + CELL_W / 2;
            if extended {
                let counted = format!("{} {currency}", number(p.counted_loss));
                let raw = format!("raw {} {currency}", number(p.loss));
                root.draw(&Text::new(counted, (cx, y + 14), font.pos(centre)))?;
                root.draw(&Text::new(raw, (cx, y + 32), small.pos(centre)))?;
            } else {
                let loss = format!("{} {currency}", number(p.loss));
                root.draw(&Text::new(loss, (cx, y + CELL_H / 2), font.pos(centre)))?;
            }
        }
    }
    Ok(())
}
