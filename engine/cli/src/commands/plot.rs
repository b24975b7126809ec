//! Hand-written SVG plots of the reports: the RFM R×F grid and the
//! retention cohort heat-map. Plain strings, no plotting dependency.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Context;
use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use strata_core::report::{CohortPeriod, Report};

use super::report_tables::{cohorts, table};

/// One colour per RFM segment, in rule order.
const SEGMENT_COLOURS: &[(&str, &str)] = &[
    ("hibernating", "#9e9e9e"),
    ("at_risk", "#e6550d"),
    ("cannot_lose", "#a50f15"),
    ("about_to_sleep", "#fdae6b"),
    ("need_attention", "#fdd835"),
    ("loyal", "#31a354"),
    ("promising", "#9ecae1"),
    ("new_customers", "#6baed6"),
    ("potential_loyalists", "#74c476"),
    ("champions", "#006d2c"),
];

const FONT: &str = "font-family=\"system-ui, -apple-system, 'Segoe UI', sans-serif\"";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn colour_of(segment: &str) -> &'static str {
    SEGMENT_COLOURS
        .iter()
        .find(|(s, _)| *s == segment)
        .map_or("#cccccc", |(_, c)| c)
}

/// Whether `#rrggbb` at `opacity` over white is dark enough for white text.
fn dark(colour: &str, opacity: f64) -> bool {
    let channel = |i: usize| {
        let v = u8::from_str_radix(colour.get(i..i + 2).unwrap_or("cc"), 16).unwrap_or(204);
        255.0 - opacity * (255.0 - f64::from(v))
    };
    let luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    luminance < 140.0
}

fn int_column<'a>(b: &'a RecordBatch, name: &str) -> anyhow::Result<&'a [i64]> {
    Ok(b.column_by_name(name)
        .with_context(|| format!("no column {name}"))?
        .as_primitive_opt::<Int64Type>()
        .with_context(|| format!("{name} is not Int64"))?
        .values())
}

/// The R×F grid of an RFM report: recency score up, frequency score right,
/// each cell coloured by its named segment and labelled with its profiles;
/// a legend with every segment's size.
pub(crate) fn rfm_grid(report: &Report, bins: u32) -> anyhow::Result<String> {
    let grid = table(report, "grid")?;
    let (r, f) = (int_column(&grid, "r")?, int_column(&grid, "f")?);
    let profiles = int_column(&grid, "profiles")?;
    let segment = grid
        .column_by_name("segment")
        .context("grid without segment")?
        .as_string_opt::<i32>()
        .context("segment is not Utf8")?;
    let total: i64 = profiles.iter().sum();
    let max = profiles.iter().copied().max().unwrap_or(0).max(1);

    let bins = i64::from(bins.max(1));
    let cell = (480 / bins).clamp(22, 96);
    let (left, top) = (70, 66);
    let side = cell * bins;
    let legend_x = left + side + 40;
    let width = legend_x + 330;
    let height = top + side + 70;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" {FONT}>"##
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="{left}" y="28" font-size="18" font-weight="600">RFM: recency × frequency</text><text x="{left}" y="48" font-size="12" fill="#555">{total} scored profiles, as of {}</text>"##,
        esc(&report.as_of.format("%Y-%m-%d %H:%M UTC").to_string())
    );
    let mut sizes: BTreeMap<String, i64> = BTreeMap::new();
    for i in 0..grid.num_rows() {
        let seg = segment.value(i);
        *sizes.entry(seg.to_string()).or_default() += profiles[i];
        let x = left + (f[i] - 1) * cell;
        let y = top + (bins - r[i]) * cell;
        // Emptier cells are paler.
        let opacity = 0.25 + 0.75 * profiles[i] as f64 / max as f64;
        let _ = writeln!(
            s,
            r##"<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{}" fill-opacity="{opacity:.2}" stroke="white" stroke-width="2"><title>r={} f={} {}: {} profiles</title></rect>"##,
            colour_of(seg),
            r[i],
            f[i],
            esc(seg),
            profiles[i]
        );
        if cell >= 40 {
            let (cx, cy) = (x + cell / 2, y + cell / 2);
            let ink = if dark(colour_of(seg), opacity) {
                "white"
            } else {
                "#222"
            };
            let _ = writeln!(
                s,
                r##"<text x="{cx}" y="{cy}" text-anchor="middle" font-size="13" font-weight="600" fill="{ink}">{}</text>"##,
                profiles[i]
            );
            if cell >= 80 {
                let _ = writeln!(
                    s,
                    r##"<text x="{cx}" y="{}" text-anchor="middle" font-size="9" fill="{ink}">{}</text>"##,
                    cy + 15,
                    esc(&seg.replace('_', " "))
                );
            }
        }
    }
    // Axes.
    for v in 1..=bins {
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" font-size="12">{v}</text>"##,
            left + (v - 1) * cell + cell / 2,
            top + side + 18
        );
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="end" font-size="12">{v}</text>"##,
            left - 8,
            top + (bins - v) * cell + cell / 2 + 4
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{}" text-anchor="middle" font-size="13">frequency score (f)</text>"##,
        left + side / 2,
        top + side + 42
    );
    let _ = writeln!(
        s,
        r##"<text transform="translate({},{}) rotate(-90)" text-anchor="middle" font-size="13">recency score (r, {bins} = most recent)</text>"##,
        left - 40,
        top + side / 2
    );
    // Legend: every segment with its size and share.
    for (i, (name, colour)) in SEGMENT_COLOURS.iter().enumerate() {
        let y = top + 6 + i as i64 * 26;
        let n = sizes.get(*name).copied().unwrap_or(0);
        let share = if total > 0 {
            100.0 * n as f64 / total as f64
        } else {
            0.0
        };
        let _ = writeln!(
            s,
            r##"<rect x="{legend_x}" y="{y}" width="16" height="16" fill="{colour}"/><text x="{}" y="{}" font-size="13">{} — {n} ({share:.1}%)</text>"##,
            legend_x + 24,
            y + 13,
            esc(&name.replace('_', " "))
        );
    }
    s.push_str("</svg>\n");
    Ok(s)
}

/// Colour of a retention cell: white to dark blue on a square-root scale,
/// so that the usual 5-40% after the first period stay distinguishable
/// next to the 100% of period 0.
fn heat_of(fraction: f64) -> String {
    heat(fraction.clamp(0.0, 1.0).sqrt())
}

/// White to dark blue.
fn heat(fraction: f64) -> String {
    let t = fraction.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(247.0, 8.0),
        mix(251.0, 48.0),
        mix(255.0, 107.0)
    )
}

/// The retention heat-map: cohorts down, periods since the cohort across,
/// each cell coloured and labelled with the fraction still active.
pub(crate) fn retention(report: &Report, period: CohortPeriod) -> anyhow::Result<String> {
    let rows = cohorts(&table(report, "cohorts")?)?;
    let periods = rows.iter().map(|r| r.2.len()).max().unwrap_or(0) as i64;
    let (cw, ch) = (46i64, 24i64);
    let (left, top) = (170i64, 78i64);
    let width = (left + cw * periods + 30).max(520);
    let height = top + ch * rows.len() as i64 + 50;
    let unit = match period {
        CohortPeriod::Week => "week",
        CohortPeriod::Month => "month",
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" {FONT}>"##
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="20" y="28" font-size="18" font-weight="600">Retention by {unit}ly cohort (as of {})</text>"##,
        esc(&report.as_of.format("%Y-%m-%d %H:%M UTC").to_string())
    );
    let _ = writeln!(
        s,
        r##"<text x="{left}" y="{}" font-size="12" fill="#555">{unit}s since first activity →</text>"##,
        top - 32
    );
    let _ = writeln!(
        s,
        r##"<text x="20" y="{}" font-size="12" fill="#555">cohort (size)</text>"##,
        top - 8
    );
    for k in 0..periods {
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" font-size="12">{k}</text>"##,
            left + k * cw + cw / 2,
            top - 8
        );
    }
    for (i, (label, size, fractions)) in rows.iter().enumerate() {
        let y = top + i as i64 * ch;
        let _ = writeln!(
            s,
            r##"<text x="20" y="{}" font-size="12">{} ({size})</text>"##,
            y + ch / 2 + 4,
            esc(label)
        );
        for (k, f) in fractions.iter().enumerate() {
            let Some(f) = f else { continue };
            let x = left + k as i64 * cw;
            let text_colour = if f.clamp(0.0, 1.0).sqrt() > 0.6 {
                "white"
            } else {
                "#222"
            };
            let _ = writeln!(
                s,
                r##"<rect x="{x}" y="{y}" width="{cw}" height="{ch}" fill="{}" stroke="white"><title>{} +{k}: {:.1}%</title></rect><text x="{}" y="{}" text-anchor="middle" font-size="10" fill="{text_colour}">{:.0}%</text>"##,
                heat_of(*f),
                esc(label),
                100.0 * f,
                x + cw / 2,
                y + ch / 2 + 4,
                100.0 * f
            );
        }
    }
    // Colour scale.
    let y = top + ch * rows.len() as i64 + 20;
    for i in 0..=10 {
        let f = f64::from(i) / 10.0;
        let _ = writeln!(
            s,
            r##"<rect x="{}" y="{y}" width="20" height="12" fill="{}"/>"##,
            left + i64::from(i) * 20,
            heat_of(f)
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{}" font-size="11">0%</text><text x="{}" y="{}" font-size="11">100% active</text>"##,
        left - 24,
        y + 10,
        left + 11 * 20 + 6,
        y + 10
    );
    s.push_str("</svg>\n");
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heat_runs_from_white_to_blue() {
        assert_eq!(heat(0.0), "#f7fbff");
        assert_eq!(heat(1.0), "#08306b");
        assert_eq!(heat(7.0), heat(1.0));
    }
}
