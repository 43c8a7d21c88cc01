//! Every metric of a clip, computed once and shared by all detectors.

use std::fmt;

use framebreak_media::{Clip, Frame};

use crate::metrics::{FlowPyramid, GlobalMotion, dense_flow, flow_between};
use crate::{Compute, Error, Flow, FlowParams, Plane, WarpError};

/// PSNR values above this count as this much in [`MetricsSummary::psnr_mean`]
/// (identical frames have infinite PSNR, which JSON cannot carry).
pub const PSNR_CAP: f64 = 100.0;
/// Regions per side of the grid of [`RegionStats`].
pub const REGION_GRID: usize = 4;

/// The `metrics` object of `framebreak analyze`'s JSON (ARCHITECTURE.md).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricsSummary {
    /// Mean RGB PSNR of consecutive frames, dB, each capped at [`PSNR_CAP`].
    pub psnr_mean: f64,
    /// Mean luma SSIM of consecutive frames.
    pub ssim_mean: f64,
    /// Mean warping error of consecutive frames (Lai et al. 2018, luma on a
    /// `[0, 1]` scale).
    pub warp_error: f64,
    /// See [`ClipMetrics::flicker_index`].
    pub flicker_index: f64,
}

/// Statistics of one cell of a [`REGION_GRID`]² grid over one frame pair.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RegionStats {
    /// The cell as `[x, y, w, h]` in pixels.
    pub bbox: [u32; 4],
    /// Mean warping error over the cell's valid pixels (0 when none).
    pub warp_error: f64,
    /// Fraction of the cell's pixels valid for the warping error.
    pub valid_fraction: f64,
    /// Mean motion-compensated brightness change, `[-1, 1]` scale.
    pub brightness_shift: f64,
    /// Mean length of the flow left after removing the camera's motion, px.
    pub residual_motion: f64,
}

/// Metrics of one pair of consecutive frames `t → t + 1`.
#[derive(Clone)]
pub struct PairMetrics {
    /// RGB PSNR in dB (`f64::INFINITY` for identical frames).
    pub psnr: f64,
    /// Luma SSIM.
    pub ssim: f64,
    /// Luma flow from frame `t` to `t + 1`.
    pub forward: Flow,
    /// Luma flow from frame `t + 1` to `t`.
    pub backward: Flow,
    /// Warping error of frame `t + 1` onto `t`, with its maps.
    pub warp: WarpError,
    /// The camera's motion, fitted to `forward`.
    pub global_motion: GlobalMotion,
    /// Per-cell statistics, row-major over a [`REGION_GRID`]² grid.
    pub regions: Vec<RegionStats>,
}

impl fmt::Debug for PairMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PairMetrics")
            .field("psnr", &self.psnr)
            .field("ssim", &self.ssim)
            .field("warp", &self.warp)
            .field("global_motion", &self.global_motion)
            .finish_non_exhaustive()
    }
}

/// All metrics of a clip: per frame, per consecutive pair, per region, and
/// the summary of the JSON report.
///
/// # Examples
///
/// ```
/// use framebreak_defects::{ClipMetrics, Compute};
/// use framebreak_media::{Clip, ClipInfo, Frame};
///
/// let frames = (0..3u8)
///     .map(|i| {
///         let data = (0..32 * 24 * 3).map(|p| ((p / 3 % 32) as u8 * 7).wrapping_add(i)).collect();
///         Frame::from_rgb8(u64::from(i), f64::from(i) / 24.0, 32, 24, data)
///     })
///     .collect::<Result<Vec<_>, _>>()?;
/// let info = ClipInfo { width: 32, height: 24, fps: 24.0, frame_count: Some(3), codec: "raw".into() };
/// let metrics = ClipMetrics::compute(&Clip { info, frames }, &Compute::cpu())?;
/// assert_eq!(metrics.pairs.len(), 2);
/// assert!(metrics.summary.ssim_mean > 0.9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ClipMetrics {
    /// Frame width in pixels.
    pub width: usize,
    /// Frame height in pixels.
    pub height: usize,
    /// Luma of every frame, `[0, 255]`.
    pub luma: Vec<Plane>,
    /// Mean `[R, G, B]` of every frame, `[0, 255]`.
    pub brightness: Vec<[f64; 3]>,
    /// One entry per consecutive pair: `pairs[t]` is frame `t → t + 1`.
    pub pairs: Vec<PairMetrics>,
    /// Mean flow acceleration along trajectories per pair of pairs, px/frame²:
    /// `accelerations[t]` is the mean over pixels valid in pair `t` of
    /// `|F(t+1)(x + F(t)(x)) − F(t)(x)|`.
    pub accelerations: Vec<f64>,
    /// Motion smoothness: the mean of `accelerations` (0 for steady motion,
    /// and for clips of fewer than 3 frames). Lower is smoother.
    pub motion_acceleration: f64,
    /// Flicker index: per region, the mean absolute change of the
    /// motion-compensated brightness shift between successive pairs, halved
    /// (so a ±a alternation scores a; a steady fade scores 0), averaged over
    /// the regions; for a single pair, the mean absolute shift. `[0, 1]`
    /// scale.
    pub flicker_index: f64,
    /// The JSON summary.
    pub summary: MetricsSummary,
}

impl fmt::Debug for ClipMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClipMetrics")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("frames", &self.luma.len())
            .field("motion_acceleration", &self.motion_acceleration)
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl ClipMetrics {
    /// Computes every metric of `clip`, with [`FlowParams::fast`] flows.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for clips of fewer than 2 frames or smaller
    /// than 11×11 (SSIM's window), [`Error::SizeMismatch`] when frames differ
    /// in size, [`Error::Tensor`] when the device fails.
    pub fn compute(clip: &Clip, compute: &Compute) -> Result<Self, Error> {
        Self::compute_with(clip, compute, &FlowParams::fast())
    }

    /// As [`ClipMetrics::compute`] with the given flow parameters.
    ///
    /// # Errors
    /// As [`ClipMetrics::compute`].
    pub fn compute_with(
        clip: &Clip,
        compute: &Compute,
        params: &FlowParams,
    ) -> Result<Self, Error> {
        use rayon::prelude::*;
        let m = Measured::new(clip, compute, params)?;
        let pairs: Vec<PairMetrics> = m
            .flows
            .into_par_iter()
            .zip(m.warps)
            .zip(m.psnrs.into_par_iter().zip(m.ssims))
            .map(|(((forward, backward), warp), (psnr, ssim))| {
                let global_motion = GlobalMotion::estimate(&forward);
                let regions = region_stats(&forward, &warp, &global_motion);
                PairMetrics {
                    psnr,
                    ssim,
                    forward,
                    backward,
                    warp,
                    global_motion,
                    regions,
                }
            })
            .collect();
        let accelerations: Vec<f64> = pairs
            .par_windows(2)
            .map(|w| acceleration(&w[0], &w[1].forward))
            .collect();
        let motion_acceleration = mean(&accelerations);
        let shifts: Vec<Vec<f64>> = pairs
            .iter()
            .map(|p| p.regions.iter().map(|r| r.brightness_shift).collect())
            .collect();
        let flicker_index = flicker_index(&shifts);
        let summary = summarize(
            pairs.iter().map(|p| (p.psnr, p.ssim, p.warp.value)),
            flicker_index,
        );
        Ok(Self {
            width: m.width,
            height: m.height,
            luma: m.luma,
            brightness: m.brightness,
            pairs,
            accelerations,
            motion_acceleration,
            flicker_index,
            summary,
        })
    }
}

impl MetricsSummary {
    /// Just the summary of `clip`, equal to
    /// `ClipMetrics::compute(clip, compute)?.summary`, for less: no camera
    /// fit per pair, no region statistics beyond the brightness shifts the
    /// flicker index needs, no motion smoothness. What [`crate::Analyzer`]
    /// reports.
    ///
    /// ```
    /// use framebreak_defects::{ClipMetrics, Compute, MetricsSummary};
    /// use framebreak_media::{Clip, ClipInfo, Frame};
    ///
    /// let frames = (0..3u8)
    ///     .map(|i| {
    ///         let data = (0..32 * 24 * 3).map(|p| ((p / 3 % 32) as u8 * 7).wrapping_add(i)).collect();
    ///         Frame::from_rgb8(u64::from(i), f64::from(i) / 24.0, 32, 24, data)
    ///     })
    ///     .collect::<Result<Vec<_>, _>>()?;
    /// let info = ClipInfo { width: 32, height: 24, fps: 24.0, frame_count: Some(3), codec: "raw".into() };
    /// let clip = Clip { info, frames };
    /// let summary = MetricsSummary::compute(&clip, &Compute::cpu())?;
    /// assert_eq!(summary, ClipMetrics::compute(&clip, &Compute::cpu())?.summary);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`ClipMetrics::compute`].
    pub fn compute(clip: &Clip, compute: &Compute) -> Result<Self, Error> {
        use rayon::prelude::*;
        let m = Measured::new(clip, compute, &FlowParams::fast())?;
        let shifts: Vec<Vec<f64>> = m.warps.par_iter().map(region_shifts).collect();
        let flicker_index = flicker_index(&shifts);
        Ok(summarize(
            m.psnrs
                .into_iter()
                .zip(m.ssims)
                .zip(&m.warps)
                .map(|((psnr, ssim), warp)| (psnr, ssim, warp.value)),
            flicker_index,
        ))
    }
}

/// What every metric is made from: luma, brightness, both flows of every
/// pair, and the per-pair PSNR, SSIM and warping error.
struct Measured {
    width: usize,
    height: usize,
    luma: Vec<Plane>,
    brightness: Vec<[f64; 3]>,
    flows: Vec<(Flow, Flow)>,
    ssims: Vec<f64>,
    psnrs: Vec<f64>,
    warps: Vec<WarpError>,
}

impl Measured {
    fn new(clip: &Clip, compute: &Compute, params: &FlowParams) -> Result<Self, Error> {
        use rayon::prelude::*;
        let frames = &clip.frames;
        if frames.len() < 2 {
            return Err(Error::InvalidInput {
                what: "clip".into(),
                reason: format!(
                    "{} frame(s): metrics compare consecutive frames, so at least 2 are needed",
                    frames.len()
                ),
            });
        }
        let first = &frames[0];
        for f in frames {
            if f.width() != first.width() || f.height() != first.height() {
                return Err(Error::SizeMismatch {
                    left_width: first.width(),
                    left_height: first.height(),
                    right_width: f.width(),
                    right_height: f.height(),
                });
            }
        }
        let (width, height) = (first.width() as usize, first.height() as usize);
        let luma: Vec<Plane> = frames.par_iter().map(Plane::luma).collect();
        let brightness: Vec<[f64; 3]> = frames.par_iter().map(mean_rgb).collect();
        if params.iterations == 0 {
            // dense_flow's own check, for its error.
            dense_flow(&luma[0], &luma[1], params)?;
        }
        // Every flow, both ways, in parallel: the bulk of the work. Each
        // frame is `prev` of one flow and `next` of another on both sides,
        // so its pyramid and tensors are built once and shared; a batch of
        // frames at a time bounds the memory on long clips.
        const BATCH: usize = 16;
        let mut flows: Vec<(Flow, Flow)> = Vec::with_capacity(luma.len() - 1);
        let mut carried: Option<FlowPyramid> = None;
        for start in (0..luma.len() - 1).step_by(BATCH) {
            let end = (start + BATCH).min(luma.len() - 1);
            let fresh = carried.is_some() as usize;
            let mut pyramids: Vec<FlowPyramid> = carried.take().into_iter().collect();
            pyramids.par_extend(
                luma[start + fresh..=end]
                    .par_iter()
                    .map(|p| FlowPyramid::new(p, params, true)),
            );
            flows.par_extend(pyramids.par_windows(2).map(|w| {
                rayon::join(
                    || flow_between(&w[0], &w[1], params),
                    || flow_between(&w[1], &w[0], params),
                )
            }));
            carried = pyramids.pop();
        }
        let plane_pairs: Vec<(&Plane, &Plane)> = luma.windows(2).map(|w| (&w[0], &w[1])).collect();
        let frame_pairs: Vec<(&Frame, &Frame)> =
            frames.windows(2).map(|w| (&w[0], &w[1])).collect();
        let ssims = compute.ssim_pairs(&plane_pairs)?;
        let psnrs = compute.psnr_pairs(&frame_pairs)?;
        let warp_inputs: Vec<_> = plane_pairs
            .iter()
            .zip(&flows)
            .map(|((p, n), (f, b))| (*p, *n, f, b))
            .collect();
        let warps = compute.warp_errors(&warp_inputs)?;
        Ok(Self {
            width,
            height,
            luma,
            brightness,
            flows,
            ssims,
            psnrs,
            warps,
        })
    }
}

/// The summary from each pair's `(psnr, ssim, warping error)` and the
/// clip's flicker index.
fn summarize(pairs: impl Iterator<Item = (f64, f64, f64)>, flicker_index: f64) -> MetricsSummary {
    let (mut psnr, mut ssim, mut warp, mut n) = (0.0f64, 0.0f64, 0.0f64, 0usize);
    for (p, s, w) in pairs {
        psnr += p.min(PSNR_CAP);
        ssim += s;
        warp += w;
        n += 1;
    }
    let n = n as f64;
    MetricsSummary {
        psnr_mean: psnr / n,
        ssim_mean: ssim / n,
        warp_error: warp / n,
        flicker_index,
    }
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

fn mean_rgb(frame: &Frame) -> [f64; 3] {
    let mut sums = [0u64; 3];
    for p in frame.data().chunks_exact(3) {
        for c in 0..3 {
            sums[c] += u64::from(p[c]);
        }
    }
    let n = (frame.data().len() / 3).max(1) as f64;
    sums.map(|s| s as f64 / n)
}

/// The cell bounds of a [`REGION_GRID`]² grid over `w × h`.
fn cells(w: usize, h: usize) -> impl Iterator<Item = (usize, usize, usize, usize)> {
    (0..REGION_GRID).flat_map(move |gy| {
        (0..REGION_GRID).map(move |gx| {
            let (x0, x1) = (gx * w / REGION_GRID, (gx + 1) * w / REGION_GRID);
            let (y0, y1) = (gy * h / REGION_GRID, (gy + 1) * h / REGION_GRID);
            (x0, y0, x1, y1)
        })
    })
}

/// The mean motion-compensated brightness change of each cell (see
/// [`RegionStats::brightness_shift`]): all of [`region_stats`] the flicker
/// index needs.
fn region_shifts(warp: &WarpError) -> Vec<f64> {
    let (w, h) = (warp.difference.width(), warp.difference.height());
    cells(w, h)
        .map(|(x0, y0, x1, y1)| {
            let (mut shift, mut valid) = (0.0f64, 0usize);
            for y in y0..y1 {
                for x in x0..x1 {
                    let i = y * w + x;
                    if warp.mask[i] {
                        shift += f64::from(warp.difference.data()[i]);
                        valid += 1;
                    }
                }
            }
            if valid == 0 {
                0.0
            } else {
                shift / valid as f64
            }
        })
        .collect()
}

fn region_stats(forward: &Flow, warp: &WarpError, gm: &GlobalMotion) -> Vec<RegionStats> {
    let (w, h) = (forward.width, forward.height);
    cells(w, h)
        .zip(region_shifts(warp))
        .map(|((x0, y0, x1, y1), brightness_shift)| {
            let (mut err, mut valid, mut residual) = (0.0f64, 0usize, 0.0f64);
            for y in y0..y1 {
                let mut row_residual = 0.0f32;
                for x in x0..x1 {
                    let i = y * w + x;
                    let (gu, gv) = gm.at(x as f64, y as f64);
                    // sqrt, not hypot: libm's hypot dominated the profile.
                    let (du, dv) = (forward.u[i] - gu as f32, forward.v[i] - gv as f32);
                    row_residual += (du * du + dv * dv).sqrt();
                    if warp.mask[i] {
                        err += f64::from(warp.error_map.data()[i]);
                        valid += 1;
                    }
                }
                residual += f64::from(row_residual);
            }
            let area = ((x1 - x0) * (y1 - y0)).max(1) as f64;
            RegionStats {
                bbox: [x0 as u32, y0 as u32, (x1 - x0) as u32, (y1 - y0) as u32],
                warp_error: if valid == 0 { 0.0 } else { err / valid as f64 },
                valid_fraction: valid as f64 / area,
                brightness_shift,
                residual_motion: residual / area,
            }
        })
        .collect()
}

/// Mean over pixels valid in `pair` (every other row and column) of how much
/// the flow changes along the trajectory: `|F(t+1)(x + F(t)(x)) − F(t)(x)|`.
fn acceleration(pair: &PairMetrics, next_forward: &Flow) -> f64 {
    let f = &pair.forward;

    let (mut sum, mut count) = (0.0f64, 0usize);
    for y in (0..f.height).step_by(2) {
        for x in (0..f.width).step_by(2) {
            let i = y * f.width + x;
            if !pair.warp.mask[i] {
                continue;
            }
            let (sx, sy) = (x as f32 + f.u[i], y as f32 + f.v[i]);
            let (nu, nv) = next_forward.sample(sx, sy);
            let (du, dv) = (nu - f.u[i], nv - f.v[i]);
            sum += f64::from((du * du + dv * dv).sqrt());
            count += 1;
        }
    }
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// See [`ClipMetrics::flicker_index`]; `per_pair[t][c]` is cell `c`'s
/// brightness shift in pair `t`.
fn flicker_index(per_pair: &[Vec<f64>]) -> f64 {
    let cells = per_pair[0].len();
    let per_region: Vec<f64> = (0..cells)
        .map(|c| {
            let shifts: Vec<f64> = per_pair.iter().map(|p| p[c]).collect();
            if shifts.len() == 1 {
                shifts[0].abs()
            } else {
                let changes: Vec<f64> = shifts
                    .windows(2)
                    .map(|w| (w[1] - w[0]).abs() / 2.0)
                    .collect();
                mean(&changes)
            }
        })
        .collect();
    mean(&per_region)
}
