//! Block motion between two frames: coarse-to-fine block matching on a
//! luma pyramid, giving one vector per block, the camera's affine motion
//! fitted to them, and what is left once the camera is taken out.

use crate::Plane;
use crate::detect::camera::{Affine, Correspondence, fit_affine};

/// Side of a block at analysis resolution (pixels of the half-size plane);
/// one block covers `2 × BLOCK` pixels of the frame.
const BLOCK: usize = 8;
/// Blocks whose texture (see `texture`) is below this, in grey levels per
/// pixel, are too flat, or too much a single edge, to say where they went.
const MIN_TEXTURE: f32 = 2.0;
/// How much worse (as a factor of the mean error) the camera's motion may
/// match a block than the block's own best match and still explain it.
const CAMERA_SLACK: f32 = 1.25;

/// How one block of a frame moved to the next frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockMotion {
    /// Block centre, in frame pixels.
    pub x: f64,
    /// Block centre, in frame pixels.
    pub y: f64,
    /// Measured motion, in frame pixels.
    pub dx: f64,
    /// Measured motion, in frame pixels.
    pub dy: f64,
    /// Motion left after the camera's: what the block did in the scene.
    pub rx: f64,
    /// Motion left after the camera's.
    pub ry: f64,
    /// Mean absolute luma difference at the best match (grey levels).
    pub cost: f32,
    /// Mean gradient magnitude of the block: how much there is to match.
    pub texture: f32,
}

impl BlockMotion {
    /// Whether the block has enough texture for its vector to mean anything.
    pub fn reliable(&self) -> bool {
        self.texture >= MIN_TEXTURE
    }
}

/// The block vectors of one pair of frames, row-major, and the camera.
#[derive(Debug, Clone)]
pub struct MotionField {
    /// Blocks per row.
    pub cols: usize,
    /// Block rows.
    pub rows: usize,
    /// Side of a block in frame pixels.
    pub block: usize,
    /// One entry per block, row-major.
    pub blocks: Vec<BlockMotion>,
    /// The camera's motion from the first frame to the second.
    pub camera: Affine,
    /// The second frame's brightness is scaled by this (the ratio of the
    /// frames' mean luma) before blocks are compared.
    pub gain: f32,
}

impl MotionField {
    /// The block at column `c`, row `r`.
    pub fn at(&self, c: usize, r: usize) -> &BlockMotion {
        &self.blocks[r * self.cols + c]
    }
}

/// Halves a plane by averaging 2×2 pixels.
pub(crate) fn half(p: &Plane) -> Plane {
    let (w, h) = (p.width() / 2, p.height() / 2);
    let (w, h) = (w.max(1), h.max(1));
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        let (r0, r1) = (
            p.row((2 * y).min(p.height() - 1)),
            p.row((2 * y + 1).min(p.height() - 1)),
        );
        for x in 0..w {
            let (x0, x1) = ((2 * x).min(p.width() - 1), (2 * x + 1).min(p.width() - 1));
            out.push(0.25 * (r0[x0] + r0[x1] + r1[x0] + r1[x1]));
        }
    }
    Plane::new(w, h, out).unwrap_or_else(|_| Plane::filled(1, 1, 0.0))
}

/// Bilinear sample, or `None` outside the plane.
#[inline]
pub(crate) fn sample(p: &Plane, x: f64, y: f64) -> Option<f32> {
    if !(x >= 0.0 && y >= 0.0 && x <= (p.width() - 1) as f64 && y <= (p.height() - 1) as f64) {
        return None;
    }
    // Both are >= 0 here, where truncation is floor (and no libm call).
    let (x0, y0) = (x as usize, y as usize);
    let (x1, y1) = ((x0 + 1).min(p.width() - 1), (y0 + 1).min(p.height() - 1));
    let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
    let top = p.at(x0, y0) * (1.0 - fx) + p.at(x1, y0) * fx;
    let bottom = p.at(x0, y1) * (1.0 - fx) + p.at(x1, y1) * fx;
    Some(top * (1.0 - fy) + bottom * fy)
}

/// Sum of absolute differences between the block of `a` at `(x, y)` and the
/// block of `b` shifted by `(dx, dy)`, or `None` if it leaves `b`.
#[inline]
fn sad(a: &Plane, b: &Plane, x: usize, y: usize, dx: i32, dy: i32, gain: f32) -> Option<f32> {
    let (bx, by) = (x as i32 + dx, y as i32 + dy);
    if bx < 0 || by < 0 || bx as usize + BLOCK > b.width() || by as usize + BLOCK > b.height() {
        return None;
    }
    // One running sum per column: the compiler keeps them in vector
    // registers (a single running sum would chain every add on the last).
    let mut lanes = [0.0f32; BLOCK];
    for r in 0..BLOCK {
        let ra = &a.row(y + r)[x..x + BLOCK];
        let rb = &b.row(by as usize + r)[bx as usize..bx as usize + BLOCK];
        for ((l, p), q) in lanes.iter_mut().zip(ra).zip(rb) {
            *l += (p - q * gain).abs();
        }
    }
    Some(lanes.iter().sum())
}

/// Mean absolute difference between the block of `a` at `(x, y)` and `b`
/// sampled (bilinearly) at the block shifted by `(dx, dy)`, or `None` if
/// that leaves `b`.
fn sad_at(a: &Plane, b: &Plane, x: usize, y: usize, dx: f64, dy: f64, gain: f32) -> Option<f32> {
    let mut s = 0.0;
    for r in 0..BLOCK {
        let ra = &a.row(y + r)[x..x + BLOCK];
        for (c, p) in ra.iter().enumerate() {
            let q = sample(b, (x + c) as f64 + dx, (y + r) as f64 + dy)?;
            s += (p - q * gain).abs();
        }
    }
    Some(s / (BLOCK * BLOCK) as f32)
}

/// Block `m`'s match cost (mean absolute difference, grey levels) between
/// the half-size planes `a` and `b` it was measured on by [`motion_field`],
/// at its refined sub-pixel displacement (bilinear) if that matches better
/// than the whole-pixel shift its `cost` is for; `gain` is the field's
/// [`MotionField::gain`].
///
/// A block that moves by a fraction of a pixel matches no whole-pixel
/// shift exactly: on fine texture that costs as much as a real change of
/// content, and more so the longer the gap the camera's small errors add
/// up over.
pub(crate) fn refined_cost(a: &Plane, b: &Plane, m: &BlockMotion, gain: f32) -> f32 {
    let (hx, hy) = (
        m.x / 2.0 - (BLOCK / 2) as f64,
        m.y / 2.0 - (BLOCK / 2) as f64,
    );
    if !m.cost.is_finite() || hx < 0.0 || hy < 0.0 {
        return m.cost;
    }
    sad_shifted(a, b, hx as usize, hy as usize, m.dx / 2.0, m.dy / 2.0, gain)
        .map_or(m.cost, |c| c.min(m.cost))
}

/// [`sad_at`] for a whole block at one sub-pixel shift: every pixel shares
/// the bilinear weights, so they are computed once and the rows are read
/// as slices (the compiler vectorises the columns). `None` where the shift
/// takes the block, or the taps right and below it, out of `b`.
fn sad_shifted(
    a: &Plane,
    b: &Plane,
    x: usize,
    y: usize,
    dx: f64,
    dy: f64,
    gain: f32,
) -> Option<f32> {
    let (sx, sy) = (x as f64 + dx, y as f64 + dy);
    if !(sx >= 0.0 && sy >= 0.0) {
        return None;
    }
    let (x0, y0) = (sx as usize, sy as usize);
    if x0 + BLOCK >= b.width() || y0 + BLOCK >= b.height() {
        return None;
    }
    let (fx, fy) = ((sx - x0 as f64) as f32, (sy - y0 as f64) as f32);
    let mut lanes = [0.0f32; BLOCK];
    for r in 0..BLOCK {
        let ra = &a.row(y + r)[x..x + BLOCK];
        let top = &b.row(y0 + r)[x0..=x0 + BLOCK];
        let bottom = &b.row(y0 + r + 1)[x0..=x0 + BLOCK];
        for (c, (l, p)) in lanes.iter_mut().zip(ra).enumerate() {
            let t = top[c] + fx * (top[c + 1] - top[c]);
            let u = bottom[c] + fx * (bottom[c + 1] - bottom[c]);
            *l += (p - (t + fy * (u - t)) * gain).abs();
        }
    }
    Some(lanes.iter().sum::<f32>() / (BLOCK * BLOCK) as f32)
}

/// Best integer shift within `radius` of any candidate, refined to a
/// fraction of a pixel with a parabola through the neighbouring costs.
fn best_shift(
    a: &Plane,
    b: &Plane,
    x: usize,
    y: usize,
    cands: &[(i32, i32)],
    radius: i32,
    gain: f32,
) -> Option<(f64, f64, f32)> {
    let mut best: Option<(i32, i32, f32)> = None;
    for &(cx, cy) in cands {
        for dy in cy - radius..=cy + radius {
            for dx in cx - radius..=cx + radius {
                if let Some(s) = sad(a, b, x, y, dx, dy, gain)
                    && best.is_none_or(|(_, _, bs)| s < bs)
                {
                    best = Some((dx, dy, s));
                }
            }
        }
    }
    let (dx, dy, s) = best?;
    let refine = |lo: Option<f32>, hi: Option<f32>| match (lo, hi) {
        (Some(l), Some(h)) => {
            let den = l + h - 2.0 * s;
            if den > 1e-6 {
                f64::from(0.5 * (l - h) / den).clamp(-0.5, 0.5)
            } else {
                0.0
            }
        }
        _ => 0.0,
    };
    let fx = refine(
        sad(a, b, x, y, dx - 1, dy, gain),
        sad(a, b, x, y, dx + 1, dy, gain),
    );
    let fy = refine(
        sad(a, b, x, y, dx, dy - 1, gain),
        sad(a, b, x, y, dx, dy + 1, gain),
    );
    Some((
        f64::from(dx) + fx,
        f64::from(dy) + fy,
        s / (BLOCK * BLOCK) as f32,
    ))
}

/// Texture in every direction: the square root of the smaller eigenvalue
/// of the block's structure tensor, per pixel (grey levels per pixel). An
/// edge, straight or diagonal, pins motion across it but not along it (the
/// aperture problem): only corners and texture score high.
fn texture(p: &Plane, x: usize, y: usize) -> f32 {
    let (mut sxx, mut syy, mut sxy) = (0.0f32, 0.0f32, 0.0f32);
    for r in y..y + BLOCK {
        let row = p.row(r);
        let next = p.row((r + 1).min(p.height() - 1));
        for c in x..x + BLOCK {
            let gx = row[(c + 1).min(p.width() - 1)] - row[c];
            let gy = next[c] - row[c];
            sxx += gx * gx;
            syy += gy * gy;
            sxy += gx * gy;
        }
    }
    let half_trace = 0.5 * (sxx + syy);
    let lambda_min = half_trace - (0.25 * (sxx - syy).powi(2) + sxy * sxy).sqrt();
    (lambda_min.max(0.0) / (BLOCK * BLOCK) as f32).sqrt()
}

/// Block motion from `a` to `b`, both half-size luma planes (see [`half`]),
/// starting from the guess `prior` (full-resolution pixels) of the camera.
/// `search` is the radius searched at quarter size around the prior.
pub(crate) fn motion_field(a: &Plane, b: &Plane, prior: &Affine, search: i32) -> MotionField {
    // A global brightness change is not a mismatch.
    let gain = (a.mean() / b.mean().max(1e-3)) as f32;
    let (qa, qb) = (half(a), half(b));
    // Quarter size: one vector per block, searched widely around the prior.
    let coarse_cols = qa.width().saturating_sub(BLOCK) / BLOCK + 1;
    let coarse_rows = qa.height().saturating_sub(BLOCK) / BLOCK + 1;
    let mut coarse = Vec::new();
    if qa.width() >= BLOCK && qa.height() >= BLOCK {
        for r in 0..coarse_rows {
            for c in 0..coarse_cols {
                let (x, y) = (c * BLOCK, r * BLOCK);
                let (cx, cy) = ((x + BLOCK / 2) as f64 * 4.0, (y + BLOCK / 2) as f64 * 4.0);
                let (px, py) = prior.displacement(cx, cy);
                let guess = ((px / 4.0).round() as i32, (py / 4.0).round() as i32);
                let found = best_shift(&qa, &qb, x, y, &[guess], search, gain);
                coarse.push(found.map(|(dx, dy, _)| (dx * 4.0, dy * 4.0)));
            }
        }
    }
    let coarse_samples: Vec<Correspondence> = coarse
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let (dx, dy) = (*v)?;
            let (c, r) = (i % coarse_cols, i / coarse_cols);
            Some(Correspondence {
                x: (c * BLOCK + BLOCK / 2) as f64 * 4.0,
                y: (r * BLOCK + BLOCK / 2) as f64 * 4.0,
                dx,
                dy,
            })
        })
        .collect();
    let coarse_camera = if coarse_samples.len() >= 6 {
        fit_affine(&coarse_samples)
    } else {
        *prior
    };

    // Half size: each block tries the camera's guess and its coarse block's.
    let cols = a.width().saturating_sub(BLOCK) / BLOCK + 1;
    let rows = a.height().saturating_sub(BLOCK) / BLOCK + 1;
    let mut blocks = Vec::with_capacity(cols * rows);
    if a.width() >= BLOCK && a.height() >= BLOCK {
        for r in 0..rows {
            for c in 0..cols {
                let (x, y) = (c * BLOCK, r * BLOCK);
                let (fx, fy) = ((x + BLOCK / 2) as f64 * 2.0, (y + BLOCK / 2) as f64 * 2.0);
                let (cam_x, cam_y) = coarse_camera.displacement(fx, fy);
                let mut cands = vec![((cam_x / 2.0).round() as i32, (cam_y / 2.0).round() as i32)];
                let (cc, cr) = (
                    (c / 2).min(coarse_cols.saturating_sub(1)),
                    (r / 2).min(coarse_rows.saturating_sub(1)),
                );
                if let Some(Some((dx, dy))) = coarse.get(cr * coarse_cols + cc) {
                    let g = ((dx / 2.0).round() as i32, (dy / 2.0).round() as i32);
                    if !cands.contains(&g) {
                        cands.push(g);
                    }
                }
                // Content the camera carries out of the frame has no match:
                // whatever the search finds there is noise, so say so.
                let found = if sad(a, b, x, y, cands[0].0, cands[0].1, gain).is_some() {
                    // Repetitive texture matches in several places: unless
                    // another place is clearly better, the camera's is right.
                    best_shift(a, b, x, y, &cands, 2, gain)
                } else {
                    None
                };
                let (dx, dy, cost) = found.unwrap_or((cam_x / 2.0, cam_y / 2.0, f32::NAN));
                blocks.push(BlockMotion {
                    x: fx,
                    y: fy,
                    dx: dx * 2.0,
                    dy: dy * 2.0,
                    rx: 0.0,
                    ry: 0.0,
                    cost,
                    texture: texture(a, x, y),
                });
            }
        }
    }
    let samples: Vec<Correspondence> = blocks
        .iter()
        .filter(|b| b.reliable() && b.cost.is_finite())
        .map(|b| Correspondence {
            x: b.x,
            y: b.y,
            dx: b.dx,
            dy: b.dy,
        })
        .collect();
    let camera = if samples.len() >= 6 {
        fit_affine(&samples)
    } else {
        coarse_camera
    };
    // A block the camera carries (even partly) out of the frame has no
    // true match, whatever the search found.
    let (half_side, fw, fh) = (
        BLOCK as f64,
        2.0 * a.width() as f64,
        2.0 * a.height() as f64,
    );
    let bp = b;
    for b in &mut blocks {
        let (cx, cy) = camera.displacement(b.x, b.y);
        b.rx = b.dx - cx;
        b.ry = b.dy - cy;
        // Repetitive texture and edges match in several places: unless the
        // block's own match is clearly better, the camera explains it.
        let (hx, hy) = (
            (b.x / 2.0 - (BLOCK / 2) as f64) as usize,
            (b.y / 2.0 - (BLOCK / 2) as f64) as usize,
        );
        if let Some(c) = sad_at(a, bp, hx, hy, cx / 2.0, cy / 2.0, gain)
            && b.cost.is_finite()
            && c <= b.cost * CAMERA_SLACK + 0.3
        {
            (b.dx, b.dy, b.rx, b.ry) = (cx, cy, 0.0, 0.0);
        }
        let (tx, ty) = (b.x + cx, b.y + cy);
        if tx < half_side || ty < half_side || tx > fw - half_side || ty > fh - half_side {
            b.cost = f32::NAN;
        }
    }
    MotionField {
        cols,
        rows,
        block: 2 * BLOCK,
        blocks,
        camera,
        gain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Smooth value noise: not periodic, so block matching has one answer.
    fn textured(w: usize, h: usize, ox: f64, oy: f64) -> Plane {
        let hash = |x: i64, y: i64| {
            let mut v = (x as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
                ^ (y as u64).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
            v ^= v >> 29;
            v = v.wrapping_mul(0xbf58_476d_1ce4_e5b9);
            v ^= v >> 32;
            (v >> 40) as f64 / f64::from(1u32 << 24)
        };
        let data = (0..w * h)
            .map(|i| {
                let (x, y) = (((i % w) as f64 + ox) / 12.0, ((i / w) as f64 + oy) / 12.0);
                let (x0, y0) = (x.floor(), y.floor());
                let (fx, fy) = (x - x0, y - y0);
                let (x0, y0) = (x0 as i64, y0 as i64);
                let top = hash(x0, y0) * (1.0 - fx) + hash(x0 + 1, y0) * fx;
                let bottom = hash(x0, y0 + 1) * (1.0 - fx) + hash(x0 + 1, y0 + 1) * fx;
                (40.0 + 180.0 * (top * (1.0 - fy) + bottom * fy)) as f32
            })
            .collect();
        Plane::new(w, h, data).unwrap()
    }

    #[test]
    fn a_sub_pixel_shift_matches_better_at_its_refined_position() {
        // Content moves 3 px right and 1 px down in the frame: 1.5 and 0.5
        // pixels of the half-size planes, which no whole-pixel shift fits.
        let a = half(&textured(160, 120, 0.0, 0.0));
        let b = half(&textured(160, 120, -3.0, -1.0));
        let field = motion_field(&a, &b, &Affine::IDENTITY, 4);
        let g = field.gain;
        let judged: Vec<(f32, f32)> = field
            .blocks
            .iter()
            .filter(|m| m.reliable() && m.cost.is_finite())
            .map(|m| (m.cost, refined_cost(&a, &b, m, g)))
            .collect();
        assert!(judged.len() > 20, "{} blocks", judged.len());
        assert!(judged.iter().all(|(whole, refined)| refined <= whole));
        let mean =
            |f: fn(&(f32, f32)) -> f32| judged.iter().map(f).sum::<f32>() / judged.len() as f32;
        let (whole, refined) = (mean(|j| j.0), mean(|j| j.1));
        assert!(
            refined < 0.6 * whole,
            "refined {refined} vs whole-pixel {whole}"
        );
        // A block without a finite cost keeps it.
        let mut lost = field.blocks[0];
        lost.cost = f32::NAN;
        assert!(refined_cost(&a, &b, &lost, g).is_nan());
    }

    #[test]
    fn the_shifted_block_sum_agrees_with_sampling_pixel_by_pixel() {
        let (a, b) = (
            half(&textured(160, 120, 0.0, 0.0)),
            half(&textured(160, 120, -3.0, -1.0)),
        );
        for &(x, y, dx, dy) in &[
            (8, 8, 1.5, 0.5),
            (24, 16, -0.25, 2.75),
            (40, 32, 0.0, 0.0),
            (0, 0, 3.9, 1.1),
        ] {
            let fast = sad_shifted(&a, &b, x, y, dx, dy, 1.1).unwrap();
            let slow = sad_at(&a, &b, x, y, dx, dy, 1.1).unwrap();
            assert!(
                (fast - slow).abs() < 1e-3,
                "{x},{y} {dx},{dy}: {fast} vs {slow}"
            );
        }
        // Off the plane, or too close to its edge for the taps: no cost.
        assert_eq!(sad_shifted(&a, &b, 0, 0, -0.5, 0.0, 1.0), None);
        assert_eq!(sad_shifted(&a, &b, 72, 0, 0.5, 0.0, 1.0), None);
    }

    #[test]
    fn a_pan_is_all_camera_and_leaves_no_residual_motion() {
        let a = half(&textured(160, 120, 0.0, 0.0));
        // Content moves right by 6 px and up by 4 px.
        let b = half(&textured(160, 120, -6.0, 4.0));
        let field = motion_field(&a, &b, &Affine::IDENTITY, 4);
        let (dx, dy) = field.camera.displacement(80.0, 60.0);
        assert!(
            (dx - 6.0).abs() < 0.2 && (dy + 4.0).abs() < 0.2,
            "{:?}",
            field.camera
        );
        let worst = field
            .blocks
            .iter()
            .filter(|b| b.reliable() && b.cost.is_finite())
            .map(|b| b.rx.hypot(b.ry))
            .fold(0.0, f64::max);
        assert!(worst < 0.5, "{worst}");
    }
}
