//! Teleport: an object vanishes from one place and appears at another
//! between two frames, without crossing the space between.

use framebreak_vocab::DefectKind;

use crate::detect::blocks::half;
use crate::detect::util::{Hit, components, confidence, median, runs};
use crate::detect::{Affine, DefectDetector, Evidence};
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
///    it, matching at least twice as well as what was there before. Content
///    that matches about as well (within 15 % + 0.5 grey levels of the best)
///    at more than 4 places is not distinctive enough to say where it came
///    from; of up to 4 such places, each is tried in turn, best first (a
///    plain disc can match plain fur a little better than its own old
///    place).
/// 4. It moved rather than being copied: where the camera carries its old
///    place into the new frame, the content matches at least twice worse
///    than at its new place (repetitive texture, or a texture spreading
///    over a region, is found far away while it stays where it was). This
///    too is measured on the changed pixels.
/// 5. Smooth motion does not explain the jump: the new content does not go
///    on by the same jump (±8 pixels) into the frame after, nor did the old
///    content arrive by it from the frame before. A fast ball crossing the
///    frame keeps its speed; a teleported object does not.
///
/// Steps 3 to 5 run both ways in time: for what arrived in the region
/// (searched for in the frame before) and for what left it (searched for
/// in the frame after). The block field matches each block of the earlier
/// frame into the later one, so it breaks where something left; where an
/// object lands on flat ground or sky, the covered background is matched
/// a few pixels away and that side may not break at all.
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

/// Mean absolute difference between `patch` of `b` and the same-sized
/// rectangle of `a` at `at`: over the offsets `mask` when there is one (the
/// pixels of what moved), else over the whole patch.
fn difference(
    a: &Plane,
    at: (usize, usize),
    b: &Plane,
    patch: Patch,
    mask: Option<&[(usize, usize)]>,
) -> f32 {
    match mask {
        Some(mask) => masked_error(a, at, b, (patch.x, patch.y), mask),
        None => patch_error(a, at.0, at.1, b, patch),
    }
}

/// Where `camera` (frame pixels) carries the top-left `(x, y)` of a `w`×`h`
/// quarter-size patch, rounded and kept inside `plane`.
fn carry(
    camera: &Affine,
    (x, y): (usize, usize),
    (w, h): (usize, usize),
    plane: &Plane,
) -> (usize, usize) {
    let (cx, cy) = camera.apply((x * 4) as f64, (y * 4) as f64);
    (
        (cx / 4.0).round().clamp(0.0, (plane.width() - w) as f64) as usize,
        (cy / 4.0).round().clamp(0.0, (plane.height() - h) as f64) as usize,
    )
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
    camera: &Affine,
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
        Some(difference(b, (x as usize, y as usize), a, patch, mask))
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

/// Most places an old position is chosen among: content that matches
/// about as well (see [`about_as_well`]) at more places than this is not
/// distinctive enough to say where it came from (flat sky, grass, fur).
const MAX_SOURCES: usize = 4;

/// Whether a match error `e` is about as good as the best one, `best`.
fn about_as_well(e: f32, best: f32) -> bool {
    e <= best.mul_add(1.15, 0.5)
}

/// The local minima of the `w`×`h` error map `map`, best first: each the
/// lowest value within `sep` cells (in x and y) of it, so that one object
/// gives one candidate, not a cluster around it.
fn minima(map: &[f32], w: usize, h: usize, sep: usize) -> Vec<(f32, usize, usize)> {
    let mut out = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let e = map[y * w + x];
            if !e.is_finite() {
                continue;
            }
            let lowest = (y.saturating_sub(sep)..(y + sep + 1).min(h)).all(|yy| {
                (x.saturating_sub(sep)..(x + sep + 1).min(w)).all(|xx| {
                    let o = map[yy * w + xx];
                    // Ties go to the first in scan order.
                    o > e || (o == e && (yy, xx) >= (y, x))
                })
            });
            if lowest {
                out.push((e, x, y));
            }
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// Two consecutive frames (quarter size) seen in one direction of time:
/// `b` follows `a`. A teleport is looked for both ways: forwards, the
/// content that arrived in a broken region is searched for in the frame
/// before; backwards, the content that left it is searched for in the
/// frame after (the block field, matched from the earlier frame, breaks
/// mostly where something left).
struct Pair<'a> {
    a: &'a Plane,
    b: &'a Plane,
    /// The camera from `a` to `b`.
    camera: Affine,
    /// The frame after `b` in this direction, and the camera from `b` to it.
    next: Option<(&'a Plane, Affine)>,
    /// The frame before `a` in this direction, and the camera from `a` to it.
    prev: Option<(&'a Plane, Affine)>,
}

/// Where a region's content came from: its old place (top-left, quarter
/// size, in `a`), the match error there and where the camera alone puts
/// it, and the jump in frame pixels.
struct Jump {
    at: (usize, usize),
    error: f32,
    stay: f32,
    jump: f64,
}

impl Teleport {
    /// Whether the content of `patch` of `pair.b` jumped there from
    /// somewhere else in `pair.a` (steps 3 to 5 of the type's docs).
    fn jumped(&self, pair: &Pair<'_>, patch: Patch) -> Option<Jump> {
        let (qa, qb) = (pair.a, pair.b);
        let size = (patch.w, patch.h);
        // Where the camera alone says this content was.
        let back = pair.camera.inverse().unwrap_or(Affine::IDENTITY);
        let (sx, sy) = carry(&back, (patch.x, patch.y), size, qa);
        // What arrived is searched for by its own pixels (those that
        // changed), not by the background around it, which differs between
        // the old place and the new.
        let changed = changed(qa, sx, sy, qb, patch);
        let mask = (changed.len() >= MIN_CHANGED).then_some(changed.as_slice());
        let error = |ax: usize, ay: usize| difference(qa, (ax, ay), qb, patch, mask);
        let stay = error(sx, sy);
        let (gw, gh) = (qa.width() - patch.w + 1, qa.height() - patch.h + 1);
        let mut map = Vec::with_capacity(gw * gh);
        for ay in 0..gh {
            for ax in 0..gw {
                map.push(error(ax, ay));
            }
        }
        // Flat or repetitive content matches about as well in many places;
        // then none of them is its old place. Otherwise the few that match
        // about as well as the best are tried, best first: a plain disc may
        // match plain fur a little better than its own old place.
        let places = minima(&map, gw, gh, patch.w.max(patch.h).div_ceil(2));
        let best = places.first()?.0;
        let close: Vec<_> = places
            .into_iter()
            .take_while(|p| about_as_well(p.0, best))
            .collect();
        if close.len() > MAX_SOURCES {
            return None;
        }
        for (e, ax, ay) in close {
            if e * 2.0 > stay {
                return None;
            }
            let jump = 4.0 * ((ax as f64 - sx as f64).hypot(ay as f64 - sy as f64));
            if jump < self.min_jump {
                // Found (also) about where it was: it moved a little.
                return None;
            }
            let src = Patch {
                x: ax,
                y: ay,
                ..patch
            };
            // Moved, not copied: the content must have left its old place.
            // Repetitive texture, or a texture spreading, is found far away
            // while it is still where it was.
            let vacated = difference(qb, carry(&pair.camera, (ax, ay), size, qb), qa, src, mask);
            if vacated < 2.0 * e.max(0.5) {
                continue;
            }
            // Unexplained by smooth motion: an object this fast in the
            // pairs before or after (a thrown or falling ball) moved there;
            // a teleport does not keep going. After: the new content, one
            // frame on, carried by the camera and by the jump again; before:
            // the old content, one frame back, against the jump.
            let v = (ax as f64 - sx as f64, ay as f64 - sy as f64);
            let after = pair
                .next
                .as_ref()
                .is_some_and(|(qc, cam)| keeps_moving(qb, patch, mask, qc, cam, v));
            let before = pair
                .prev
                .as_ref()
                .is_some_and(|(qp, cam)| keeps_moving(qa, src, mask, qp, cam, (-v.0, -v.1)));
            if after || before {
                continue;
            }
            return Some(Jump {
                at: (ax, ay),
                error: e,
                stay,
                jump,
            });
        }
        None
    }
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
        let inverse = |i: usize| fields[i].camera.inverse().unwrap_or(Affine::IDENTITY);
        for (i, field) in fields.iter().enumerate() {
            let cost =
                |j: usize, b: usize| fields.get(j).map_or(0.0, |f| f64::from(f.blocks[b].cost));
            let mean = |j: usize, comp: &[usize]| {
                comp.iter().map(|&b| cost(j, b)).sum::<f64>() / comp.len() as f64
            };
            // Sudden: matched at least twice as well in the pairs before and
            // after (steady motion breaks blocks pair after pair). Unknown
            // on both sides (NaN) counts as sudden.
            let sudden = |comp: &[usize]| {
                let before = if i > 0 { mean(i - 1, comp) } else { 0.0 };
                let others = before.max(mean(i + 1, comp)) * 2.0;
                others.partial_cmp(&mean(i, comp)) != Some(std::cmp::Ordering::Greater)
            };
            let broken: Vec<bool> = field
                .blocks
                .iter()
                .map(|b| f64::from(b.cost) > cut)
                .collect();
            let regions: Vec<Vec<usize>> = components(&broken, field.cols, field.rows)
                .into_iter()
                .filter(|c| c.len() * 10 <= field.blocks.len() * 4 && sudden(c))
                .collect();
            if regions.is_empty() {
                continue;
            }
            for j in [i.saturating_sub(1), i, i + 1, (i + 2).min(n - 1)] {
                if quarter[j].is_none() {
                    quarter[j] = Some(half(ev.half(j)));
                }
            }
            let (Some(q0), Some(q1)) = (&quarter[i], &quarter[i + 1]) else {
                continue;
            };
            let before = (i >= 1).then(|| quarter[i - 1].as_ref()).flatten();
            let after = (i + 2 < n).then(|| quarter[i + 2].as_ref()).flatten();
            let forwards = Pair {
                a: q0,
                b: q1,
                camera: field.camera,
                next: after.map(|q| (q, fields[i + 1].camera)),
                prev: before.map(|q| (q, inverse(i - 1))),
            };
            let backwards = Pair {
                a: q1,
                b: q0,
                camera: inverse(i),
                next: before.map(|q| (q, inverse(i - 1))),
                prev: after.map(|q| (q, fields[i + 1].camera)),
            };
            for comp in regions {
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
                let pw = ((c1 - c0 + 1) * bs).min(q1.width() - bx);
                let ph = ((r1 - r0 + 1) * bs).min(q1.height() - by);
                if pw < 2 || ph < 2 || pw >= q0.width() || ph >= q0.height() {
                    continue;
                }
                let patch = Patch {
                    x: bx,
                    y: by,
                    w: pw,
                    h: ph,
                };
                let Some((pair, jump)) = [&forwards, &backwards]
                    .into_iter()
                    .find_map(|pair| self.jumped(pair, patch).map(|j| (pair, j)))
                else {
                    continue;
                };
                let to = BBox {
                    x: (bx * 4) as u32,
                    y: (by * 4) as u32,
                    w: (pw * 4) as u32,
                    h: (ph * 4) as u32,
                };
                let (fx, fy) = pair
                    .camera
                    .apply((jump.at.0 * 4) as f64, (jump.at.1 * 4) as f64);
                let from = BBox {
                    x: fx.max(0.0) as u32,
                    y: fy.max(0.0) as u32,
                    w: to.w,
                    h: to.h,
                };
                let score = confidence(f64::from(jump.stay / jump.error.max(0.5)) / 2.0)
                    * confidence(jump.jump / self.min_jump).mul_add(0.5, 0.5);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minima_give_one_place_per_valley_best_first() {
        // Two valleys in a 6x3 map; the right one is deeper.
        #[rustfmt::skip]
        let map = [
            5.0, 4.0, 5.0, 9.0, 3.0, 4.0,
            4.0, 2.0, 4.0, 9.0, 1.0, 3.0,
            5.0, 4.0, 5.0, 9.0, 3.0, 4.0,
        ];
        assert_eq!(minima(&map, 6, 3, 1), vec![(1.0, 4, 1), (2.0, 1, 1)]);
        // With a wider separation the shallower valley is inside the
        // deeper one's reach.
        assert_eq!(minima(&map, 6, 3, 3), vec![(1.0, 4, 1)]);
        // A flat map is one place (the first), not one per cell.
        assert_eq!(minima(&[2.0; 9], 3, 3, 1), vec![(2.0, 0, 0)]);
        // Cells with no match (outside the frame) are never places.
        assert_eq!(minima(&[f32::NAN, 3.0], 2, 1, 0), vec![(3.0, 1, 0)]);
    }

    #[test]
    fn about_as_well_allows_a_little_slack() {
        assert!(about_as_well(6.13, 5.64));
        assert!(!about_as_well(5.75, 4.34));
        assert!(about_as_well(0.8, 0.3));
        assert!(!about_as_well(0.9, 0.3));
    }
}
