//! Per-frame feature vectors: what the learned decisions read.
//!
//! Every number here is measured on the shared [`Evidence`] and on what the
//! hand-written detectors propose, frame by frame, and is meant to mean the
//! same on any footage: magnitudes are logged, maps are summarised by
//! ratios (the worst cell against the typical one) rather than by absolute
//! levels, and every feature also appears relative to its own clip's median
//! (see [`FeatureMatrix::model_input`]), so a busy scene and a still one
//! are judged against themselves.
//!
//! Row `t` describes frame `t`: motion and residual features of the pair
//! `(t − 1, t)`, colour features of frame `t` itself. Row 0 repeats row 1's
//! pair features (frame 0 has no predecessor).

use framebreak_vocab::DefectKind;

use crate::detect::sample;
use crate::detect::{Affine, Evidence};
use crate::metrics::PairMetrics;
use crate::{ClipMetrics, Finding, Plane};

/// Names the feature definitions: caches of features measured by another
/// version are measured again. Change it with any change to this module.
pub const FEATURES_VERSION: &str = "f56-2026-12-07d";

/// Features measured per frame (before the clip-relative copies).
pub const BASE_FEATURES: usize = 56;

/// Features per frame as the model reads them: each base feature, then each
/// base feature minus its clip median.
pub const MODEL_FEATURES: usize = 2 * BASE_FEATURES;

/// The cells a frame is divided into for map summaries.
const GRID: (usize, usize) = (8, 6);

/// How many frames back the long-range difference looks.
const LONG_RANGE: usize = 6;

/// Kinds whose hand-written detector's scores are features, in order.
const PROPOSERS: [DefectKind; 9] = DefectKind::ALL;

/// One row of features per frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    rows: Vec<[f32; BASE_FEATURES]>,
}

impl FeatureMatrix {
    /// Measures every frame of `ev`; `metrics` are the same clip's metrics
    /// (its dense flows and warping errors), `proposals` the hand-written
    /// detectors' findings on it.
    pub fn measure(ev: &Evidence<'_>, metrics: &ClipMetrics, proposals: &[Finding]) -> Self {
        let mut m = Self::measure_scene(ev, metrics);
        m.add_proposals(proposals);
        m
    }

    /// Everything but the detectors' scores (left 0): what can be measured
    /// while the detectors run. [`FeatureMatrix::add_proposals`] completes it.
    pub fn measure_scene(ev: &Evidence<'_>, metrics: &ClipMetrics) -> Self {
        use rayon::prelude::*;
        let n = ev.len();
        let colour: Vec<ColourStats> = (0..n)
            .into_par_iter()
            .map(|t| ColourStats::measure(ev, t))
            .collect();
        let saturation: Vec<Plane> = ev.clip().frames.par_iter().map(saturation).collect();
        let lags = Lags::measure(ev);
        let mut rows: Vec<[f32; BASE_FEATURES]> = (0..n)
            .into_par_iter()
            .map(|t| {
                let mut row = [0f32; BASE_FEATURES];
                let pair = t.max(1).min(n.saturating_sub(1));
                if n >= 2 {
                    residual_features(ev.residual(pair - 1), &mut row[0..7]);
                    block_features(ev, pair - 1, &mut row[7..19]);
                    long_range_features(lags.long[pair].as_deref(), &mut row[19..22]);
                    spark_features(ev, &saturation, pair, &mut row[29..32]);
                }
                colour[t].write(&mut row[22..29]);
                row
            })
            .collect();
        if n >= 2 && metrics.pairs.len() + 1 == n {
            let dense: Vec<[f32; 9]> = (0..n)
                .into_par_iter()
                .map(|t| {
                    let pair = t.max(1) - 1;
                    dense_features(
                        &metrics.pairs[pair],
                        metrics.accelerations.get(pair).copied(),
                    )
                })
                .collect();
            for (row, d) in rows.iter_mut().zip(dense) {
                row[47..56].copy_from_slice(&d);
            }
        }
        if n >= 2 {
            let maps = CellMaps::measure(ev);
            let extra: Vec<[f32; 6]> = (0..n)
                .into_par_iter()
                .map(|t| maps.features(&lags, t))
                .collect();
            for (row, e) in rows.iter_mut().zip(extra) {
                row[41..47].copy_from_slice(&e);
            }
        }
        for v in rows.iter_mut().flatten() {
            if !v.is_finite() {
                *v = 0.0;
            }
        }
        FeatureMatrix { rows }
    }

    /// Writes the detectors' scores: per frame and kind, the highest score of
    /// a proposal of that kind covering the frame.
    pub fn add_proposals(&mut self, proposals: &[Finding]) {
        let n = self.rows.len();
        let rows = &mut self.rows;
        for f in proposals {
            let Some(k) = PROPOSERS.iter().position(|&k| k == f.kind) else {
                continue;
            };
            let (a, b) = (
                f.start_frame as usize,
                (f.end_frame as usize).min(n.saturating_sub(1)),
            );
            for row in rows.iter_mut().take(b + 1).skip(a) {
                let v = &mut row[32 + k];
                *v = v.max(f.score as f32);
            }
        }
    }

    /// Builds a matrix from rows measured elsewhere (a feature cache).
    pub fn from_rows(rows: Vec<[f32; BASE_FEATURES]>) -> Self {
        FeatureMatrix { rows }
    }

    /// The rows, one per frame.
    pub fn rows(&self) -> &[[f32; BASE_FEATURES]] {
        &self.rows
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True for a clip with no frames.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The model's input, feature-major (`MODEL_FEATURES × frames`, row
    /// `f` holding feature `f` over time): the base features, then each
    /// minus its median over the clip.
    pub fn model_input(&self) -> Vec<f32> {
        let n = self.rows.len();
        let mut out = vec![0f32; MODEL_FEATURES * n];
        let mut column = Vec::with_capacity(n);
        for f in 0..BASE_FEATURES {
            column.clear();
            column.extend(self.rows.iter().map(|r| r[f]));
            let mut sorted = column.clone();
            sorted.sort_by(f32::total_cmp);
            let median = sorted.get(n / 2).copied().unwrap_or(0.0);
            for (t, &v) in column.iter().enumerate() {
                out[f * n + t] = v;
                out[(BASE_FEATURES + f) * n + t] = v - median;
            }
        }
        out
    }
}

fn ln1p(v: f64) -> f32 {
    v.max(0.0).ln_1p() as f32
}

/// The cell of every column and of every row of one frame size, for a grid
/// of `grid.0 × grid.1` cells numbered row-major: a cell per pixel without
/// two divisions per pixel (`rows[y] + cols[x]`).
struct CellLut {
    cols: Vec<usize>,
    rows: Vec<usize>,
}

impl CellLut {
    /// For [`GRID`], the cells of [`Cells`].
    fn new(w: usize, h: usize) -> Self {
        Self::grid(w, h, GRID)
    }

    fn grid(w: usize, h: usize, grid: (usize, usize)) -> Self {
        CellLut {
            cols: (0..w)
                .map(|x| (x * grid.0 / w.max(1)).min(grid.0 - 1))
                .collect(),
            rows: (0..h)
                .map(|y| (y * grid.1 / h.max(1)).min(grid.1 - 1) * grid.0)
                .collect(),
        }
    }
}

/// Sums and counts per cell of [`GRID`].
struct Cells {
    sum: Vec<f64>,
    count: Vec<u32>,
}

impl Cells {
    fn new() -> Self {
        Cells {
            sum: vec![0.0; GRID.0 * GRID.1],
            count: vec![0; GRID.0 * GRID.1],
        }
    }

    fn index(x: usize, y: usize, w: usize, h: usize) -> usize {
        let c = (x * GRID.0 / w.max(1)).min(GRID.0 - 1);
        let r = (y * GRID.1 / h.max(1)).min(GRID.1 - 1);
        r * GRID.0 + c
    }

    /// Means of the cells with at least a quarter of their pixels counted.
    fn means(&self) -> Vec<f64> {
        let full = self.count.iter().copied().max().unwrap_or(0);
        self.sum
            .iter()
            .zip(&self.count)
            .filter(|&(_, &c)| c > 0 && c * 4 >= full)
            .map(|(s, &c)| s / f64::from(c))
            .collect()
    }
}

fn median_max(values: &mut [f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    values.sort_by(f64::total_cmp);
    (values[values.len() / 2], values[values.len() - 1])
}

/// 0–6: the camera-compensated difference of one pair.
fn residual_features(r: &Plane, out: &mut [f32]) {
    let (w, h) = (r.width(), r.height());
    let mut abs_cells = Cells::new();
    let mut signed_cells = Cells::new();
    let mut hist = [0u32; 64];
    let (mut total, mut signed, mut n, mut big) = (0.0f64, 0.0f64, 0u64, 0u64);
    let lut = CellLut::new(w, h);
    for y in 0..h {
        for (x, &v) in r.row(y).iter().enumerate() {
            if v.is_nan() {
                continue;
            }
            let a = f64::from(v.abs());
            let c = lut.rows[y] + lut.cols[x];
            abs_cells.sum[c] += a;
            abs_cells.count[c] += 1;
            signed_cells.sum[c] += f64::from(v);
            signed_cells.count[c] += 1;
            total += a;
            signed += f64::from(v);
            n += 1;
            if a > 24.0 {
                big += 1;
            }
            hist[((a / 4.0) as usize).min(63)] += 1;
        }
    }
    if n == 0 {
        return;
    }
    let nf = n as f64;
    let mean = signed / nf;
    let mut cells = abs_cells.means();
    let (med, max) = median_max(&mut cells);
    let regional = signed_cells
        .means()
        .iter()
        .map(|m| (m - mean).abs())
        .fold(0.0, f64::max);
    let target = (nf * 0.99) as u64;
    let (mut acc, mut p99) = (0u64, 63usize);
    for (i, &c) in hist.iter().enumerate() {
        acc += u64::from(c);
        if acc >= target {
            p99 = i;
            break;
        }
    }
    out[0] = ln1p(total / nf);
    out[1] = ln1p(max);
    out[2] = ((max + 1.0) / (med + 1.0)).ln() as f32;
    out[3] = (big as f64 / nf * 10.0) as f32;
    out[4] = (mean / 8.0) as f32;
    out[5] = (regional / 8.0) as f32;
    out[6] = ln1p(p99 as f64 * 4.0 + 2.0);
}

/// 7–18: block motion left over after the camera, and the camera itself.
fn block_features(ev: &Evidence<'_>, pair: usize, out: &mut [f32]) {
    let field = ev.field(pair);
    let (cols, rows) = (field.cols, field.rows);
    let mut res = Vec::with_capacity(field.blocks.len());
    let mut costs = Vec::with_capacity(field.blocks.len());
    let mut unreliable = 0usize;
    for b in &field.blocks {
        if b.reliable() {
            res.push(b.rx.hypot(b.ry));
        } else {
            unreliable += 1;
        }
        if b.cost.is_finite() {
            costs.push(f64::from(b.cost));
        }
    }
    let moving = res.iter().filter(|&&m| m > 1.5).count();
    let share_moving = if res.is_empty() {
        0.0
    } else {
        moving as f64 / res.len() as f64
    };
    let (p50, p90, pmax) = if res.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        res.sort_by(f64::total_cmp);
        let at = |q: f64| res[((res.len() - 1) as f64 * q).round() as usize];
        (at(0.5), at(0.9), at(1.0))
    };
    let (mut div, mut curl) = (0.0f64, 0.0f64);
    for r in 1..rows.saturating_sub(1) {
        for c in 1..cols.saturating_sub(1) {
            let (l, rr, u, d) = (
                field.at(c - 1, r),
                field.at(c + 1, r),
                field.at(c, r - 1),
                field.at(c, r + 1),
            );
            if !(l.reliable() && rr.reliable() && u.reliable() && d.reliable()) {
                continue;
            }
            div = div.max(((rr.rx - l.rx) + (d.ry - u.ry)).abs() / 2.0);
            curl = curl.max(((rr.ry - l.ry) - (d.rx - u.rx)).abs() / 2.0);
        }
    }
    let (cmed, cmax) = median_max(&mut costs);
    let (w, h) = (ev.width() as f64, ev.height() as f64);
    let cam = &field.camera;
    let centre = cam.displacement(w / 2.0, h / 2.0);
    let corner = [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)]
        .iter()
        .map(|&(x, y)| {
            let d = cam.displacement(x, y);
            (d.0 - centre.0).hypot(d.1 - centre.1)
        })
        .fold(0.0, f64::max);
    out[0] = ln1p(p50);
    out[1] = ln1p(p90);
    out[2] = ln1p(pmax);
    out[3] = share_moving as f32;
    out[4] = ln1p(div);
    out[5] = ln1p(curl);
    out[6] = ln1p(cmed);
    out[7] = ((cmax + 1.0) / (cmed + 1.0)).ln() as f32;
    out[8] = ln1p(centre.0.hypot(centre.1));
    out[9] = ln1p(corner);
    out[10] = (f64::from(field.gain.max(1e-3)).ln() * 10.0) as f32;
    out[11] = (unreliable as f64 / field.blocks.len().max(1) as f64) as f32;
}

/// 47–55 of one pair, from the metrics' dense flow: motion left after the
/// camera's (where it concentrates, whether it sinks, swells or turns),
/// what the flow cannot explain (the warping error), where the two flows
/// disagree (occlusion), and the acceleration along trajectories.
fn dense_features(pair: &PairMetrics, acceleration: Option<f64>) -> [f32; 9] {
    let mut out = [0f32; 9];
    let (flow, camera) = (&pair.forward, &pair.global_motion);
    let (w, h) = (flow.width, flow.height);
    let cells = GRID.0 * GRID.1;
    let (mut mag, mut u, mut v, mut count) = (
        vec![0.0; cells],
        vec![0.0; cells],
        vec![0.0; cells],
        vec![0u32; cells],
    );
    let lut = CellLut::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let c = lut.rows[y] + lut.cols[x];
            // The flow left after the camera's (GlobalMotion::residual_flow
            // without the copy).
            let (gu, gv) = camera.at(x as f64, y as f64);
            let (fu, fv) = (
                f64::from(flow.u[i] - gu as f32),
                f64::from(flow.v[i] - gv as f32),
            );
            // sqrt, not hypot: libm's hypot showed in the profile.
            mag[c] += (fu * fu + fv * fv).sqrt();
            u[c] += fu;
            v[c] += fv;
            count[c] += 1;
        }
    }
    for c in 0..cells {
        let n = f64::from(count[c].max(1));
        mag[c] /= n;
        u[c] /= n;
        v[c] /= n;
    }
    let mut sorted = mag.clone();
    let (med, max) = median_max(&mut sorted);
    let (mut div, mut curl) = (0.0f64, 0.0f64);
    for r in 1..GRID.1 - 1 {
        for c in 1..GRID.0 - 1 {
            let at = |cc: usize, rr: usize| rr * GRID.0 + cc;
            div = div.max(
                ((u[at(c + 1, r)] - u[at(c - 1, r)]) + (v[at(c, r + 1)] - v[at(c, r - 1)])).abs()
                    / 2.0,
            );
            curl = curl.max(
                ((v[at(c + 1, r)] - v[at(c - 1, r)]) - (u[at(c, r + 1)] - u[at(c, r - 1)])).abs()
                    / 2.0,
            );
        }
    }
    out[0] = ln1p(max);
    out[1] = ((max + 0.1) / (med + 0.1)).ln() as f32;
    out[2] = v.iter().copied().fold(0.0, f64::max) as f32;
    out[3] = ln1p(div);
    out[4] = ln1p(curl);
    // The warping error per cell, as an RMS in grey levels, over valid pixels.
    let map = &pair.warp.error_map;
    let (ew, eh) = (map.width(), map.height());
    let mut err = Cells::new();
    let mut invalid = vec![0u32; cells];
    let mut all = vec![0u32; cells];
    let lut = CellLut::new(ew, eh);
    for y in 0..eh {
        for (x, &e) in map.row(y).iter().enumerate() {
            let c = lut.rows[y] + lut.cols[x];
            all[c] += 1;
            if pair.warp.mask.get(y * ew + x).copied().unwrap_or(false) {
                err.sum[c] += f64::from(e);
                err.count[c] += 1;
            } else {
                invalid[c] += 1;
            }
        }
    }
    let mut rms: Vec<f64> = err
        .means()
        .iter()
        .map(|m| m.max(0.0).sqrt() * 255.0)
        .collect();
    let (emed, emax) = median_max(&mut rms);
    out[5] = ln1p(emax);
    out[6] = ((emax + 1.0) / (emed + 1.0)).ln() as f32;
    out[7] = invalid
        .iter()
        .zip(&all)
        .map(|(&i, &a)| f64::from(i) / f64::from(a.max(1)))
        .fold(0.0, f64::max) as f32;
    out[8] = ln1p(acceleration.unwrap_or(0.0));
    out
}

/// Per pair, per cell of [`GRID`]: block motion left after the camera's
/// (magnitude and its downward component), from reliable blocks.
struct CellMaps {
    motion: Vec<Vec<f64>>,
    down: Vec<Vec<f64>>,
}

impl CellMaps {
    fn measure(ev: &Evidence<'_>) -> Self {
        let cells = GRID.0 * GRID.1;
        let (w, h) = (ev.width(), ev.height());
        let mut motion = Vec::with_capacity(ev.len());
        let mut down = Vec::with_capacity(ev.len());
        // Index t: the pair (t − 1, t); t = 0 has none.
        motion.push(vec![0.0; cells]);
        down.push(vec![0.0; cells]);
        for field in ev.fields() {
            let (mut m, mut d, mut c) = (vec![0.0; cells], vec![0.0; cells], vec![0u32; cells]);
            for b in field.blocks.iter().filter(|b| b.reliable()) {
                let i = Cells::index(b.x.max(0.0) as usize, b.y.max(0.0) as usize, w, h);
                m[i] += b.rx.hypot(b.ry);
                d[i] += b.ry;
                c[i] += 1;
            }
            for i in 0..cells {
                if c[i] > 0 {
                    m[i] /= f64::from(c[i]);
                    d[i] /= f64::from(c[i]);
                }
            }
            motion.push(m);
            down.push(d);
        }
        CellMaps { motion, down }
    }

    /// 41–46 of frame `t`: changes that come and go (a frame unlike both
    /// neighbours that agree with each other), change without motion to
    /// explain it, and downward drift of a region.
    fn features(&self, lags: &Lags, t: usize) -> [f32; 6] {
        let n = lags.long.len();
        let mut out = [0f32; 6];
        // A frame unlike frames t − s and t + s, which agree: lag s at t and
        // at t + s, lag 2s at t + s.
        let bump = |s: usize,
                    lag: &[Option<Vec<f64>>],
                    double: &[Option<Vec<f64>>]|
         -> Option<(f64, f64)> {
            if t < s || t + s >= n {
                return None;
            }
            let before = lag[t].as_ref()?;
            let after = lag[t + s].as_ref()?;
            let across = double[t + s].as_ref()?;
            let mut b: Vec<f64> = before
                .iter()
                .zip(after)
                .zip(across)
                .map(|((a, b), c)| (a.min(*b) - c).max(0.0))
                .collect();
            Some(median_max(&mut b))
        };
        if t >= LONG_RANGE / 2
            && let Some((med, max)) = bump(3, &lags.three, &lags.long)
        {
            out[0] = ln1p(max);
            out[2] = ((max + 1.0) / (med + 1.0)).ln() as f32;
        }
        if let Some((_, max)) = bump(1, &lags.one, &lags.two) {
            out[1] = ln1p(max);
        }
        let k = LONG_RANGE.min(t);
        if let Some(change) = lags.long[t].as_ref() {
            let unexplained = change
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let moved: f64 = (t + 1 - k..=t).map(|p| self.motion[p][i]).sum();
                    c / (1.0 + moved)
                })
                .fold(0.0, f64::max);
            out[3] = ln1p(unexplained);
        }
        let window = t.saturating_sub(3).max(1)..=t;
        let cells = GRID.0 * GRID.1;
        let drift: Vec<f64> = (0..cells)
            .map(|i| window.clone().map(|p| self.down[p][i]).sum::<f64>())
            .collect();
        out[4] = drift.iter().copied().fold(0.0, f64::max) as f32;
        out[5] = (drift.iter().filter(|&&d| d > 1.0).count() as f64 / cells as f64) as f32;
        out
    }
}

/// Mean absolute difference per cell of [`GRID`] between frames `a` and `b`
/// at half size, `b` brought onto `a` through the camera; `None` when they
/// do not overlap.
fn cell_difference(ev: &Evidence<'_>, a: usize, b: usize) -> Option<Vec<f64>> {
    let (now, then) = (ev.half(a), ev.half(b));
    let map = ev
        .to_first(b)
        .inverse()
        .unwrap_or(Affine::IDENTITY)
        .after(ev.to_first(a));
    let (w, h) = (now.width(), now.height());
    let mut cells = Cells::new();
    let lut = CellLut::new(w, h);
    for y in 0..h {
        for (x, &v) in now.row(y).iter().enumerate() {
            let (sx, sy) = map.apply(2.0 * x as f64 + 0.5, 2.0 * y as f64 + 0.5);
            let Some(p) = sample(then, (sx - 0.5) / 2.0, (sy - 0.5) / 2.0) else {
                continue;
            };
            let c = lut.rows[y] + lut.cols[x];
            cells.sum[c] += f64::from((v - p).abs());
            cells.count[c] += 1;
        }
    }
    let full = cells.count.iter().copied().max().unwrap_or(0);
    if full == 0 {
        return None;
    }
    Some(
        cells
            .sum
            .iter()
            .zip(&cells.count)
            .map(|(s, &c)| if c * 4 >= full { s / f64::from(c) } else { 0.0 })
            .collect(),
    )
}

/// Per frame `t`, the per-cell differences ([`cell_difference`]) against
/// frames `t − 1`, `t − 2`, `t − 3` and `t − min(6, t)`: measured once,
/// read by several features.
struct Lags {
    one: Vec<Option<Vec<f64>>>,
    two: Vec<Option<Vec<f64>>>,
    three: Vec<Option<Vec<f64>>>,
    long: Vec<Option<Vec<f64>>>,
}

impl Lags {
    fn measure(ev: &Evidence<'_>) -> Self {
        use rayon::prelude::*;
        let lag = |l: usize| -> Vec<Option<Vec<f64>>> {
            (0..ev.len())
                .into_par_iter()
                .map(|t| {
                    let k = l.min(t);
                    if k == 0 {
                        None
                    } else {
                        cell_difference(ev, t, t - k)
                    }
                })
                .collect()
        };
        let one = lag(1);
        let two = lag(2);
        let three = lag(3);
        let long = lag(LONG_RANGE);
        Lags {
            one,
            two,
            three,
            long,
        }
    }
}

/// 19–21: frame `t` against frame `t − k` through the camera (`cells` from
/// [`Lags`]): slow changes (sags, fades, creeping textures) that no single
/// pair shows.
fn long_range_features(cells: Option<&[f64]>, out: &mut [f32]) {
    let Some(cells) = cells else {
        return;
    };
    let mut means = cells.to_vec();
    let total = means.iter().sum::<f64>() / means.len().max(1) as f64;
    let (med, max) = median_max(&mut means);
    out[0] = ln1p(total);
    out[1] = ln1p(max);
    out[2] = ((max + 1.0) / (med + 1.0)).ln() as f32;
}

/// 22–28 of one frame: how the red and blue planes sit against the green.
#[derive(Debug, Clone, Copy, Default)]
struct ColourStats {
    red: (f64, f64),
    blue: (f64, f64),
    red_radial: f64,
    blue_radial: f64,
    red_cell: f64,
    blue_cell: f64,
}

impl ColourStats {
    /// Least-squares shifts of red and blue against green (linearised on
    /// green's gradient, where green has edges), globally, per cell of a
    /// 4×3 grid, and as a radial scaling about the centre.
    fn measure(ev: &Evidence<'_>, t: usize) -> Self {
        let frame = &ev.clip().frames[t];
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        let px = frame.data();
        let at = |x: usize, y: usize, c: usize| f64::from(px[(y * w + x) * 3 + c]);
        let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
        // Per cell (index 12: the whole frame) and channel, sums for a
        // linear fit c ≈ a·g + b over every pixel, and for the least-squares
        // shift over pixels where green has an edge: c − a·g − b ≈ −a·∇g·d.
        #[derive(Clone, Copy, Default)]
        struct Sums {
            n: f64,
            g: f64,
            c: f64,
            gg: f64,
            gc: f64,
            xx: f64,
            xy: f64,
            yy: f64,
            // Σ∇g·c, Σ∇g·g, Σ∇g (x, y and radial components).
            xc: f64,
            xg: f64,
            x1: f64,
            yc: f64,
            yg: f64,
            y1: f64,
            rr: f64,
            rc: f64,
            rg: f64,
            r1: f64,
        }
        impl Sums {
            fn add(&mut self, o: &Sums) {
                self.n += o.n;
                self.g += o.g;
                self.c += o.c;
                self.gg += o.gg;
                self.gc += o.gc;
                self.xx += o.xx;
                self.xy += o.xy;
                self.yy += o.yy;
                self.xc += o.xc;
                self.xg += o.xg;
                self.x1 += o.x1;
                self.yc += o.yc;
                self.yg += o.yg;
                self.y1 += o.y1;
                self.rr += o.rr;
                self.rc += o.rc;
                self.rg += o.rg;
                self.r1 += o.r1;
            }
        }
        let mut sums = [[Sums::default(); 2]; 13];
        // Cells of a 4×3 grid.
        let lut = CellLut::grid(w, h, (4, 3));
        for (y, &row_cell) in lut.rows.iter().enumerate().take(h - 1).skip(1) {
            for (x, &col_cell) in lut.cols.iter().enumerate().take(w - 1).skip(1) {
                let g = at(x, y, 1);
                let gx = (at(x + 1, y, 1) - at(x - 1, y, 1)) / 2.0;
                let gy = (at(x, y + 1, 1) - at(x, y - 1, 1)) / 2.0;
                let edge = gx * gx + gy * gy >= 64.0;
                let cell = row_cell + col_cell;
                let gr = gx * (x as f64 - cx) + gy * (y as f64 - cy);
                for (ci, ch) in [0usize, 2].into_iter().enumerate() {
                    let c = at(x, y, ch);
                    {
                        let e = &mut sums[cell][ci];
                        e.n += 1.0;
                        e.g += g;
                        e.c += c;
                        e.gg += g * g;
                        e.gc += g * c;
                        if edge {
                            e.xx += gx * gx;
                            e.xy += gx * gy;
                            e.yy += gy * gy;
                            e.xc += gx * c;
                            e.xg += gx * g;
                            e.x1 += gx;
                            e.yc += gy * c;
                            e.yg += gy * g;
                            e.y1 += gy;
                            e.rr += gr * gr;
                            e.rc += gr * c;
                            e.rg += gr * g;
                            e.r1 += gr;
                        }
                    }
                }
            }
        }
        // The whole frame (index 12) is the sum of its cells.
        for ci in 0..2 {
            let mut whole = Sums::default();
            for cell in &sums[..12] {
                whole.add(&cell[ci]);
            }
            sums[12][ci] = whole;
        }
        // The channel's gain against green, or None where they do not
        // follow each other (a colour edge, a flat cell).
        let gain = |e: &Sums| -> Option<(f64, f64)> {
            let var = e.gg / e.n.max(1.0) - (e.g / e.n.max(1.0)).powi(2);
            let cov = e.gc / e.n.max(1.0) - (e.g / e.n.max(1.0)) * (e.c / e.n.max(1.0));
            if var < 25.0 {
                return None;
            }
            let a = cov / var;
            (a > 0.2).then(|| (a, e.c / e.n - a * e.g / e.n))
        };
        let shift = |e: &Sums| -> (f64, f64) {
            let det = e.xx * e.yy - e.xy * e.xy;
            let Some((a, b)) = gain(e) else {
                return (0.0, 0.0);
            };
            if det <= 1e-6 || e.xx + e.yy < 64.0 * 50.0 {
                return (0.0, 0.0);
            }
            // Σ∇g·(c − a·g − b) = −a·(GᵀG)·d
            let rx = -(e.xc - a * e.xg - b * e.x1) / a;
            let ry = -(e.yc - a * e.yg - b * e.y1) / a;
            let dx = (e.yy * rx - e.xy * ry) / det;
            let dy = (e.xx * ry - e.xy * rx) / det;
            (dx.clamp(-4.0, 4.0), dy.clamp(-4.0, 4.0))
        };
        let half_diag = cx.hypot(cy);
        let radial = |e: &Sums| -> f64 {
            let Some((a, b)) = gain(e) else {
                return 0.0;
            };
            if e.rr <= 1e-6 {
                return 0.0;
            }
            let r = -(e.rc - a * e.rg - b * e.r1) / a;
            (r / e.rr * half_diag).clamp(-4.0, 4.0)
        };
        let cell_max = |ci: usize| {
            (0..12)
                .map(|s| {
                    let (dx, dy) = shift(&sums[s][ci]);
                    dx.hypot(dy)
                })
                .fold(0.0, f64::max)
        };
        ColourStats {
            red: shift(&sums[12][0]),
            blue: shift(&sums[12][1]),
            red_radial: radial(&sums[12][0]),
            blue_radial: radial(&sums[12][1]),
            red_cell: cell_max(0),
            blue_cell: cell_max(1),
        }
    }

    fn write(&self, out: &mut [f32]) {
        let (r, b) = (self.red.0.hypot(self.red.1), self.blue.0.hypot(self.blue.1));
        out[0] = r as f32;
        out[1] = b as f32;
        out[2] = self.red_radial.abs() as f32;
        out[3] = self.blue_radial.abs() as f32;
        out[4] = self.red_cell as f32;
        out[5] = self.blue_cell as f32;
        out[6] = if r * b > 1e-9 {
            (-(self.red.0 * self.blue.0 + self.red.1 * self.blue.1) / (r * b)) as f32
        } else {
            0.0
        };
    }
}

/// 29–31 of frame `t`: small saturated specks, and those of them that were
/// not there in frame `t − 1` (through the camera).
fn spark_features(ev: &Evidence<'_>, saturation: &[Plane], t: usize, out: &mut [f32]) {
    let (now, prev) = (&saturation[t], &saturation[t - 1]);
    let local = box_mean(now, 4);
    let back = ev.field(t - 1).camera.inverse().unwrap_or(Affine::IDENTITY);
    let (w, h) = (now.width(), now.height());
    let (mut specks, mut fresh, mut strongest) = (0u32, 0u32, 0f32);
    for y in 0..h {
        for x in 0..w {
            let excess = now.at(x, y) - local.at(x, y);
            if excess < 40.0 {
                continue;
            }
            specks += 1;
            let (sx, sy) = back.apply(x as f64, y as f64);
            // The brightest of the neighbourhood it came from: a speck that
            // merely moved a pixel is not new.
            let mut before = 0f32;
            for (ox, oy) in [(0.0, 0.0), (-1.5, 0.0), (1.5, 0.0), (0.0, -1.5), (0.0, 1.5)] {
                if let Some(v) = sample(prev, sx + ox, sy + oy) {
                    before = before.max(v);
                }
            }
            let new = (now.at(x, y) - before).min(excess);
            if new > 40.0 {
                fresh += 1;
                strongest = strongest.max(new);
            }
        }
    }
    out[0] = ln1p(f64::from(fresh));
    out[1] = strongest / 100.0;
    out[2] = ln1p(f64::from(specks));
}

/// Saturation (max − min of R, G, B) of every pixel.
fn saturation(f: &framebreak_media::Frame) -> Plane {
    let data: Vec<f32> = f
        .data()
        .chunks_exact(3)
        .map(|p| {
            let (lo, hi) = (p[0].min(p[1]).min(p[2]), p[0].max(p[1]).max(p[2]));
            f32::from(hi - lo)
        })
        .collect();
    Plane::new(f.width() as usize, f.height() as usize, data)
        .unwrap_or_else(|_| Plane::filled(1, 1, 0.0))
}

/// Mean over the `(2r + 1)²` window around each pixel (clamped at the
/// borders), from an integral image.
fn box_mean(p: &Plane, r: usize) -> Plane {
    let (w, h) = (p.width(), p.height());
    let mut integral = vec![0f64; (w + 1) * (h + 1)];
    for y in 0..h {
        let mut row = 0f64;
        for x in 0..w {
            row += f64::from(p.at(x, y));
            integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1] + row;
        }
    }
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let s = integral[y1 * (w + 1) + x1]
                - integral[y0 * (w + 1) + x1]
                - integral[y1 * (w + 1) + x0]
                + integral[y0 * (w + 1) + x0];
            out.push((s / ((x1 - x0) * (y1 - y0)) as f64) as f32);
        }
    }
    Plane::new(w, h, out).unwrap_or_else(|_| Plane::filled(1, 1, 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use framebreak_media::{Clip, ClipInfo, Frame};

    /// A textured RGB frame whose red and blue planes are the green one
    /// shifted by `shift` pixels (red right, blue left).
    fn fringed(shift: f64, w: u32, h: u32) -> Frame {
        let tex = |x: f64, y: f64| {
            128.0 + 50.0 * (x * 0.21).sin() * (y * 0.17).cos() + 40.0 * ((x + 2.0 * y) * 0.07).sin()
        };
        let mut data = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                let (xf, yf) = (f64::from(x), f64::from(y));
                for v in [
                    0.8 * tex(xf - shift, yf) + 10.0,
                    tex(xf, yf),
                    0.9 * tex(xf + shift, yf) + 5.0,
                ] {
                    data.push(v.round().clamp(0.0, 255.0) as u8);
                }
            }
        }
        Frame::from_rgb8(0, 0.0, w, h, data).unwrap()
    }

    #[test]
    fn colour_shifts_are_measured_in_pixels_whatever_the_channel_gain() {
        for shift in [0.0, 1.0, 2.0] {
            let frames = vec![
                fringed(shift, 96, 72),
                fringed(shift, 96, 72).renumbered(1, 0.04),
            ];
            let info = ClipInfo {
                width: 96,
                height: 72,
                fps: 25.0,
                frame_count: Some(2),
                codec: "raw".into(),
            };
            let clip = Clip { info, frames };
            let ev = Evidence::new(&clip).unwrap();
            let c = ColourStats::measure(&ev, 0);
            let (r, b) = (c.red.0.hypot(c.red.1), c.blue.0.hypot(c.blue.1));
            assert!(
                (r - shift).abs() < 0.35 && (b - shift).abs() < 0.35,
                "shift {shift}: {c:?}"
            );
        }
    }
}
