//! Teleport: an object vanishes from one place and appears at another
//! between two frames, without crossing the space between.

use framebreak_variants::DefectKind;

use crate::detect::blocks::half;
use crate::detect::util::{Hit, components, confidence, median, runs};
use crate::detect::{DefectDetector, Evidence};
use crate::{BBox, Finding, Plane};

/// Flags a region that changes suddenly in one pair of frames and whose new
/// content was, in the previous frame, somewhere far away.
///
/// 1. A block is broken in a pair when even its best local match (the
///    camera's motion and ±4 pixels around it) leaves a mean error above
///    `max(10, 4 × the clip's median)` grey levels.
/// 2. A group of broken blocks (under 40 % of the frame) is sudden when the
///    same blocks matched at least twice as well in the pairs before and
///    after: steady motion breaks blocks pair after pair, a jump only once.
/// 3. The group's new content is searched for over the whole previous frame
///    (quarter size), by the pixels that changed (at least 12 grey levels
///    against where the camera alone puts the old frame): an object is
///    matched by itself, not by the background around it, which differs
///    between its old place and its new one. It teleported when it is found
///    at least `min_jump` pixels away from where the camera alone would put
///    it, matching at least twice as well as what was there before.
/// 4. It moved rather than being copied: where the camera carries its old
///    place into the new frame, the content matches at least twice worse
///    than at its new place (repetitive texture, or a texture spreading
///    over a region, is found far away while it stays where it was). This
///    too is measured on the changed pixels.
/// 5. Smooth motion does not explain the jump: the new content does not go
///    on by the same jump (±8 pixels) into the frame after, nor did the old
///    content arrive by it from the frame before. A fast ball crossing the
///    frame keeps its speed; a teleported object does not.
#[derive(Debug, Clone)]
pub struct Teleport {
    /// Shortest jump that counts, in pixels.
    pub min_jump: f64,
}

impl Default for Teleport {
    fn default() -> Self {
        Teleport { min_jump: 24.0 }
    }
}

/// A `w`×`h` rectangle at `(x, y)` of a quarter-size plane.
#[derive(Clone, Copy)]
struct Patch {
    x: usize,
    y: usize,
    w: usize,
    h: usize,
}

/// Mean absolute difference between `patch` of `b` and the same-sized
/// rectangle of `a` at `(ax, ay)`.
fn patch_error(a: &Plane, ax: usize, ay: usize, b: &Plane, patch: Patch) -> f32 {
    let Patch {
        x: bx,
        y: by,
        w: pw,
        h: ph,
    } = patch;
    let mut s = 0.0;
    for r in 0..ph {
        let (ra, rb) = (&a.row(ay + r)[ax..ax + pw], &b.row(by + r)[bx..bx + pw]);
        s += ra.iter().zip(rb).map(|(p, q)| (p - q).abs()).sum::<f32>();
    }
    s / (pw * ph) as f32
}

/// Grey levels by which a pixel must change to count as part of what moved.
const CHANGED: f32 = 12.0;

/// Fewest changed pixels (quarter size) for matching by them alone; fewer,
/// and the whole patch is matched.
const MIN_CHANGED: usize = 12;

/// The offsets inside `patch` of `b` where it differs from the same-sized
/// rectangle of `a` at `(ax, ay)` by more than [`CHANGED`]: the pixels of
/// the object that arrived (or left), not the background around it.
fn changed(a: &Plane, ax: usize, ay: usize, b: &Plane, patch: Patch) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for r in 0..patch.h {
        let (ra, rb) = (
            &a.row(ay + r)[ax..ax + patch.w],
            &b.row(patch.y + r)[patch.x..patch.x + patch.w],
        );
        for (c, (p, q)) in ra.iter().zip(rb).enumerate() {
            if (p - q).abs() > CHANGED {
                out.push((c, r));
            }
        }
    }
    out
}

/// Mean absolute difference between `a` at `(ax, ay)` and `b` at `(bx, by)`
/// over the offsets `mask`.
fn masked_error(
    a: &Plane,
    (ax, ay): (usize, usize),
    b: &Plane,
    (bx, by): (usize, usize),
    mask: &[(usize, usize)],
) -> f32 {
    let s: f32 = mask
        .iter()
        .map(|&(c, r)| (a.row(ay + r)[ax + c] - b.row(by + r)[bx + c]).abs())
        .sum();
    s / mask.len().max(1) as f32
}

/// Whether `patch` of `a` is found in `b` where `camera` carries it plus
/// `v` (quarter-size pixels; ±2 around), matching at least twice as well
/// as where the camera alone carries it; compared on the offsets `mask`
/// when there is one, else on the whole patch.
fn keeps_moving(
    a: &Plane,
    patch: Patch,
    mask: Option<&[(usize, usize)]>,
    b: &Plane,
    camera: &crate::detect::Affine,
    v: (f64, f64),
) -> bool {
    let (cx, cy) = camera.apply((patch.x * 4) as f64, (patch.y * 4) as f64);
    let (cx, cy) = (cx / 4.0, cy / 4.0);
    let at = |x: f64, y: f64| -> Option<f32> {
        let (x, y) = (x.round(), y.round());
        if x < 0.0
            || y < 0.0
            || x as usize + patch.w > b.width()
            || y as usize + patch.h > b.height()
        {
            return None;
        }
        let (x, y) = (x as usize, y as usize);
        Some(match mask {
            Some(mask) => masked_error(b, (x, y), a, (patch.x, patch.y), mask),
            None => patch_error(b, x, y, a, patch),
        })
    };
    let stay = at(cx, cy).unwrap_or(f32::INFINITY);
    let mut best = f32::INFINITY;
    for dy in -2..=2 {
        for dx in -2..=2 {
            if let Some(e) = at(cx + v.0 + f64::from(dx), cy + v.1 + f64::from(dy)) {
                best = best.min(e);
            }
        }
    }
    best.is_finite() && best * 2.0 <= stay
}

impl DefectDetector for Teleport {
    fn detect(&self, ev: &Evidence<'_>) -> Vec<Finding> {
        let n = ev.len();
        if n < 3 {
            return Vec::new();
        }
        let fields = ev.fields();
        let base = median(
            fields
                .iter()
                .flat_map(|f| f.blocks.iter().map(|b| f64::from(b.cost))),
        );
        let cut = (4.0 * base).max(10.0);
        let mut hits: Vec<Option<Hit>> = vec![None; n];
        let mut quarter: Vec<Option<Plane>> = vec![None; n];
        for (i, field) in fields.iter().enumerate() {
            let cost =
                |j: usize, b: usize| fields.get(j).map_or(0.0, |f| f64::from(f.blocks[b].cost));
            let broken: Vec<bool> = field
                .blocks
                .iter()
                .map(|b| f64::from(b.cost) > cut)
                .collect();
            for comp in components(&broken, field.cols, field.rows) {
                if comp.len() * 10 > field.blocks.len() * 4 {
                    continue;
                }
                let now = comp.iter().map(|&b| cost(i, b)).sum::<f64>() / comp.len() as f64;
                let before = if i > 0 {
                    comp.iter().map(|&b| cost(i - 1, b)).sum::<f64>() / comp.len() as f64
                } else {
                    0.0
                };
                let after = comp.iter().map(|&b| cost(i + 1, b)).sum::<f64>() / comp.len() as f64;
                if before.max(after) * 2.0 > now {
                    continue;
                }
                for j in [i.saturating_sub(1), i, i + 1, (i + 2).min(n - 1)] {
                    if quarter[j].is_none() {
                        quarter[j] = Some(half(&half(ev.luma(j))));
                    }
                }
                let (Some(qa), Some(qb)) = (&quarter[i], &quarter[i + 1]) else {
                    continue;
                };
                let bs = field.block / 4;
                let (c0, c1) = (
                    comp.iter().map(|b| b % field.cols).min().unwrap_or(0),
                    comp.iter().map(|b| b % field.cols).max().unwrap_or(0),
                );
                let (r0, r1) = (
                    comp.iter().map(|b| b / field.cols).min().unwrap_or(0),
                    comp.iter().map(|b| b / field.cols).max().unwrap_or(0),
                );
                let (bx, by) = (c0 * bs, r0 * bs);
                let pw = ((c1 - c0 + 1) * bs).min(qb.width() - bx);
                let ph = ((r1 - r0 + 1) * bs).min(qb.height() - by);
                if pw < 2 || ph < 2 || pw >= qa.width() || ph >= qa.height() {
                    continue;
                }
                // Where the camera alone says this content was.
                let back = field
                    .camera
                    .inverse()
                    .unwrap_or(crate::detect::Affine::IDENTITY);
                let (sx, sy) = back.apply((bx * 4) as f64, (by * 4) as f64);
                let (sx, sy) = (
                    (sx / 4.0).round().clamp(0.0, (qa.width() - pw) as f64) as usize,
                    (sy / 4.0).round().clamp(0.0, (qa.height() - ph) as f64) as usize,
                );
                let patch = Patch {
                    x: bx,
                    y: by,
                    w: pw,
                    h: ph,
                };
                // What arrived is searched for by its own pixels (those that
                // changed), not by the background around it, which differs
                // between the old place and the new.
                let mask = changed(qa, sx, sy, qb, patch);
                let masked = mask.len() >= MIN_CHANGED;
                let error = |ax: usize, ay: usize| {
                    if masked {
                        masked_error(qa, (ax, ay), qb, (bx, by), &mask)
                    } else {
                        patch_error(qa, ax, ay, qb, patch)
                    }
                };
                let stay = error(sx, sy);
                let mut best = (f32::INFINITY, 0usize, 0usize);
                for ay in 0..=qa.height() - ph {
                    for ax in 0..=qa.width() - pw {
                        let e = error(ax, ay);
                        if e < best.0 {
                            best = (e, ax, ay);
                        }
                    }
                }
                let jump = 4.0 * ((best.1 as f64 - sx as f64).hypot(best.2 as f64 - sy as f64));
                if jump < self.min_jump || best.0 * 2.0 > stay {
                    continue;
                }
                let src = Patch {
                    x: best.1,
                    y: best.2,
                    w: pw,
                    h: ph,
                };
                // Moved, not copied: the content must have left its old
                // place. Repetitive texture, or a texture spreading, is
                // found far away while it is still where it was.
                let (vx, vy) = field.camera.apply((best.1 * 4) as f64, (best.2 * 4) as f64);
                let (vx, vy) = (
                    (vx / 4.0).round().clamp(0.0, (qb.width() - pw) as f64) as usize,
                    (vy / 4.0).round().clamp(0.0, (qb.height() - ph) as f64) as usize,
                );
                let vacated = if masked {
                    masked_error(qb, (vx, vy), qa, (src.x, src.y), &mask)
                } else {
                    patch_error(qb, vx, vy, qa, src)
                };
                if vacated < 2.0 * best.0.max(0.5) {
                    continue;
                }
                // Unexplained by smooth motion: an object this fast in the
                // pairs before or after (a thrown or falling ball) moved
                // there; a teleport does not keep going.
                let v = (best.1 as f64 - sx as f64, best.2 as f64 - sy as f64);
                // After: the new content, one frame on, carried by the
                // camera and by the jump again.
                let mask = masked.then_some(mask.as_slice());
                let mut moving = i + 2 < n
                    && quarter[i + 2].as_ref().is_some_and(|qc| {
                        keeps_moving(qb, patch, mask, qc, &fields[i + 1].camera, v)
                    });
                // Before: the old content, one frame back, against the jump.
                if !moving && i >= 1 {
                    let back = fields[i - 1]
                        .camera
                        .inverse()
                        .unwrap_or(crate::detect::Affine::IDENTITY);
                    moving = quarter[i - 1]
                        .as_ref()
                        .is_some_and(|qp| keeps_moving(qa, src, mask, qp, &back, (-v.0, -v.1)));
                }
                if moving {
                    continue;
                }
                let to = BBox {
                    x: (bx * 4) as u32,
                    y: (by * 4) as u32,
                    w: (pw * 4) as u32,
                    h: (ph * 4) as u32,
                };
                let (fx, fy) = field.camera.apply((best.1 * 4) as f64, (best.2 * 4) as f64);
                let from = BBox {
                    x: fx.max(0.0) as u32,
                    y: fy.max(0.0) as u32,
                    w: to.w,
                    h: to.h,
                };
                let score = confidence(f64::from(stay / best.0.max(0.5)) / 2.0)
                    * confidence(jump / self.min_jump).mul_add(0.5, 0.5);
                for f in [i, i + 1] {
                    let hit = hits[f].get_or_insert(Hit {
                        score,
                        bbox: Some(to.union(from)),
                    });
                    hit.score = hit.score.max(score);
                }
            }
        }
        runs(DefectKind::Teleport, &hits, 0)
    }

    fn name(&self) -> &str {
        "teleport"
    }

    fn kinds(&self) -> Vec<DefectKind> {
        vec![DefectKind::Teleport]
    }
}
