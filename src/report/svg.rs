//! The report's charts, as inline SVG written by hand: a few rectangles,
//! lines and labels need no plotting library, and the page stays one file
//! with no script.

use std::fmt::Write;

use super::escape::escape;
use super::stats::Interval;
use super::summary::{Histogram, Rate, TrapEffect};

const LABEL_W: f64 = 230.0;
const PLOT_W: f64 = 400.0;
const VALUE_W: f64 = 150.0;
const ROW_H: f64 = 22.0;
const AXIS_H: f64 = 24.0;
const BAR: &str = "#4c72b0";
const WHISKER: &str = "#222";
const GRID: &str = "#ddd";

fn open(out: &mut String, width: f64, height: f64, label: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="{l}"><title>{l}</title>"#,
        l = escape(label)
    );
}

fn short(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_owned()
    } else {
        let mut s: String = name.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}

fn text(out: &mut String, x: f64, y: f64, anchor: &str, body: &str) {
    let _ = write!(
        out,
        r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}">{}</text>"#,
        escape(body)
    );
}

fn line(out: &mut String, (x1, y1): (f64, f64), (x2, y2): (f64, f64), colour: &str) {
    let _ = write!(
        out,
        r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{colour}" stroke-width="1.5"/>"#
    );
}

fn whisker(out: &mut String, x: impl Fn(f64) -> f64, i: Interval, y: f64) {
    let (lo, hi) = (x(i.low), x(i.high));
    line(out, (lo, y), (hi, y), WHISKER);
    line(out, (lo, y - 5.0), (lo, y + 5.0), WHISKER);
    line(out, (hi, y - 5.0), (hi, y + 5.0), WHISKER);
}

/// Axis ticks along the top, with vertical grid lines down to `bottom`.
fn axis(out: &mut String, ticks: &[(f64, &str)], x: impl Fn(f64) -> f64, bottom: f64) {
    for &(v, label) in ticks {
        let px = x(v);
        line(out, (px, AXIS_H - 4.0), (px, bottom), GRID);
        text(out, px, AXIS_H - 8.0, "middle", label);
    }
}

/// One row of a bar chart: a name and, when there is data, its bar.
struct BarRow<'a> {
    name: &'a str,
    bar: Option<Bar>,
}

/// A bar from 0 to the interval's estimate, its whisker, and the figure
/// written beside it.
struct Bar {
    interval: Interval,
    colour: &'static str,
    value: String,
}

/// Horizontal bars with whiskers, one row each, on the axis `ticks` scaled
/// by `x`; a row without a bar says `empty`.
fn bar_chart(
    rows: &[BarRow<'_>],
    ticks: &[(f64, &str)],
    x: impl Fn(f64) -> f64,
    empty: &str,
    label: &str,
) -> String {
    let height = AXIS_H + ROW_H * rows.len() as f64 + 6.0;
    let mut out = String::new();
    open(&mut out, LABEL_W + PLOT_W + VALUE_W, height, label);
    axis(&mut out, ticks, &x, height - 4.0);
    for (i, row) in rows.iter().enumerate() {
        let y = AXIS_H + ROW_H * i as f64;
        let mid = y + ROW_H / 2.0;
        let _ = write!(out, "<g><title>{}</title>", escape(row.name));
        text(
            &mut out,
            LABEL_W - 6.0,
            mid + 4.0,
            "end",
            &short(row.name, 34),
        );
        let value = match &row.bar {
            Some(bar) => {
                let e = x(bar.interval.estimate);
                let (a, b) = (x(0.0).min(e), x(0.0).max(e));
                let _ = write!(
                    out,
                    r#"<rect x="{a:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"/>"#,
                    y + 4.0,
                    b - a,
                    ROW_H - 8.0,
                    bar.colour
                );
                whisker(&mut out, &x, bar.interval, mid);
                bar.value.as_str()
            }
            None => empty,
        };
        text(&mut out, LABEL_W + PLOT_W + 8.0, mid + 4.0, "start", value);
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars of defect rates with their Wilson whiskers, one row per
/// group, 0–100 %.
pub(crate) fn rate_bars(items: &[(String, Rate)], label: &str) -> String {
    let rows: Vec<BarRow<'_>> = items
        .iter()
        .map(|(name, rate)| BarRow {
            name,
            bar: rate.interval.map(|i| Bar {
                interval: i,
                colour: BAR,
                value: format!(
                    "{:.0} % ({}/{})",
                    100.0 * i.estimate,
                    rate.hits,
                    rate.videos
                ),
            }),
        })
        .collect();
    bar_chart(
        &rows,
        &[
            (0.0, "0 %"),
            (0.25, "25 %"),
            (0.5, "50 %"),
            (0.75, "75 %"),
            (1.0, "100 %"),
        ],
        |v: f64| LABEL_W + v.clamp(0.0, 1.0) * PLOT_W,
        "no videos",
        label,
    )
}

/// Each trap's rate minus its controls' rate, −100 to +100 points, with
/// Newcombe whiskers.
pub(crate) fn effect_bars(effects: &[TrapEffect], label: &str) -> String {
    let rows: Vec<BarRow<'_>> = effects
        .iter()
        .map(|e| BarRow {
            name: &e.trap,
            bar: e.difference.map(|d| Bar {
                interval: d,
                colour: if d.estimate >= 0.0 {
                    "#c44e52"
                } else {
                    "#55a868"
                },
                value: format!(
                    "{:+.0} pts [{:+.0}, {:+.0}]",
                    100.0 * d.estimate,
                    100.0 * d.low,
                    100.0 * d.high
                ),
            }),
        })
        .collect();
    bar_chart(
        &rows,
        &[
            (-1.0, "−100"),
            (-0.5, "−50"),
            (0.0, "0"),
            (0.5, "+50"),
            (1.0, "+100"),
        ],
        |v: f64| LABEL_W + (v.clamp(-1.0, 1.0) + 1.0) / 2.0 * PLOT_W,
        "no controls",
        label,
    )
}

/// White for 0, deep red for 1.
fn heat(v: f64) -> String {
    let v = v.clamp(0.0, 1.0);
    let mix = |from: f64, to: f64| (from + (to - from) * v).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(255.0, 178.0),
        mix(255.0, 24.0),
        mix(255.0, 43.0)
    )
}

/// A grid of rates: one row per name, one column per defect kind; the cell
/// shows the share of the row's videos with that kind.
pub(crate) fn heat_map(rows: &[(String, Vec<Rate>)], columns: &[&str], label: &str) -> String {
    const CELL_W: f64 = 52.0;
    const HEAD_H: f64 = 110.0;
    let width = LABEL_W + CELL_W * columns.len() as f64 + 10.0;
    let height = HEAD_H + ROW_H * rows.len() as f64 + 6.0;
    let mut out = String::new();
    open(&mut out, width, height, label);
    for (c, name) in columns.iter().enumerate() {
        let x = LABEL_W + CELL_W * c as f64 + CELL_W / 2.0;
        let _ = write!(
            out,
            r#"<text transform="translate({x:.1},{:.1}) rotate(-45)" text-anchor="start">{}</text>"#,
            HEAD_H - 6.0,
            escape(name)
        );
    }
    for (r, (name, rates)) in rows.iter().enumerate() {
        let y = HEAD_H + ROW_H * r as f64;
        text(
            &mut out,
            LABEL_W - 6.0,
            y + ROW_H / 2.0 + 4.0,
            "end",
            &short(name, 34),
        );
        for (c, rate) in rates.iter().enumerate() {
            let x = LABEL_W + CELL_W * c as f64;
            let v = rate.interval.map_or(0.0, |i| i.estimate);
            let _ = write!(
                out,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{CELL_W:.1}" height="{ROW_H:.1}" fill="{}" stroke="#fff"><title>{} × {}: {}/{}</title></rect>"##,
                heat(v),
                escape(name),
                escape(columns[c]),
                rate.hits,
                rate.videos
            );
            if rate.hits > 0 {
                let _ = write!(
                    out,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{}">{:.0}</text>"#,
                    x + CELL_W / 2.0,
                    y + ROW_H / 2.0 + 4.0,
                    if v > 0.55 { "#fff" } else { "#000" },
                    100.0 * v
                );
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// Ten vertical bars, one per ten points of score.
pub(crate) fn histogram(h: &Histogram, label: &str) -> String {
    const BIN_W: f64 = 34.0;
    const PLOT_H: f64 = 120.0;
    const LEFT: f64 = 36.0;
    let (width, height) = (LEFT + BIN_W * 10.0 + 10.0, PLOT_H + 46.0);
    let top = h.bins.iter().copied().max().unwrap_or(0).max(1) as f64;
    let mut out = String::new();
    open(&mut out, width, height, label);
    let base = PLOT_H + 10.0;
    line(&mut out, (LEFT, base), (LEFT + BIN_W * 10.0, base), WHISKER);
    for (i, &n) in h.bins.iter().enumerate() {
        let x = LEFT + BIN_W * i as f64;
        let bar = PLOT_H * n as f64 / top;
        let _ = write!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bar:.1}" fill="{BAR}"><title>{}–{}: {n}</title></rect>"#,
            x + 2.0,
            base - bar,
            BIN_W - 4.0,
            10 * i,
            10 * i + 10
        );
        if n > 0 {
            text(
                &mut out,
                x + BIN_W / 2.0,
                base - bar - 3.0,
                "middle",
                &n.to_string(),
            );
        }
        text(&mut out, x, base + 16.0, "middle", &(10 * i).to_string());
    }
    text(&mut out, LEFT + BIN_W * 10.0, base + 16.0, "middle", "100");
    text(&mut out, LEFT + BIN_W * 5.0, base + 34.0, "middle", label);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_well_formed_and_escape_names() {
        let rates = vec![
            ("<b>trap</b>".to_owned(), Rate::new(3, 8)),
            ("empty".to_owned(), Rate::new(0, 0)),
        ];
        let mut hist = Histogram::default();
        hist.bins[9] = 4;
        let charts = [
            rate_bars(&rates, "rates"),
            heat_map(
                &[("x".into(), vec![Rate::new(1, 2), Rate::new(0, 2)])],
                &["warp", "melt"],
                "heat",
            ),
            histogram(&hist, "physics"),
            effect_bars(&[], "effects"),
        ];
        for svg in &charts {
            let doc = roxmltree::Document::parse(svg).unwrap();
            assert_eq!(doc.root_element().tag_name().name(), "svg");
            assert!(!svg.contains("<b>"));
        }
        assert!(charts[0].contains("38 % (3/8)") && charts[0].contains("no videos"));
        assert_eq!(heat(0.0), "#ffffff");
        assert_eq!(heat(1.0), "#b2182b");
    }
}
