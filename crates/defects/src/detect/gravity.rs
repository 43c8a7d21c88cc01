//! Gravity violation: objects that fall up, stop in mid-air, or reverse
//! without anything to push them.

use std::cell::OnceCell;

use framebreak_vocab::DefectKind;

use crate::detect::util::{Hit, components, confidence, mark, median, runs};
use crate::detect::{DefectDetector, Evidence};
use crate::{BBox, Finding};

const CELL: usize = 8;
/// Positions in a window fitted for its acceleration.
const WINDOW: usize = 7;
/// Positions in the longer windows, which see a weaker acceleration
/// through the same noise (a slow fall upwards).
const LONG: usize = 13;
/// Least vertical extent, in scene pixels, of a window worth judging.
const MIN_RISE: f64 = 7.0;
/// Most change of blob area (largest over smallest) in a window judged.
const MAX_AREA_CHANGE: f64 = 6.0;
/// Most scatter of a window's horizontal positions about a line in time
/// (root mean square, pixels per 240 rows) in a window judged.
const MAX_SCATTER: f64 = 3.0;
/// Least rate (px/frame at 240 rows) at which a blob's box must lengthen
/// or shorten to be judged a stream rather than a body (see [`stretches`]).
const MIN_STRETCH: f64 = 3.0;

/// Tracks moving objects in the scene's frame of reference and flags
/// upward acceleration.
///
/// Objects are found where the camera-compensated difference between two
/// frames exceeds `max(25, 4 × its median)` grey levels, gathered on an 8×8
/// pixel grid into blobs; a blob's weighted centre sits between the object's
/// two positions. Centres are carried into the first frame's coordinates
/// (so pans, zooms and rotations drop out) and linked into tracks by
/// nearest neighbour around a constant-velocity prediction.
///
/// Gravity accelerates everything downwards, whatever the scale: on any
/// window of 7 consecutive positions of a track, and on any of 13 (whose
/// fit is far less noisy: a slow fall upwards whose 7-position windows
/// pass only here and there), a fitted vertical acceleration pointing up
/// by more than `max(min_accel, 3 standard errors)` pixels per frame² in
/// two overlapping windows, or twice that in a lone one, is a violation.
/// That catches falling upwards, a falling object braking to float in
/// mid-air, and a fall that turns into a rise. A window whose positions
/// span less than 7 px vertically is not judged: a head bobbing as its
/// figure walks, a swinging hand, a blob that jitters are not falls.
///
/// A bounce is not a violation either: where a track turns from falling to
/// rising at its lowest point (a cusp), the positions on each side (the 4
/// to 7 nearest the cusp, the cusp in neither) are fitted separately, and
/// when for some such pair of fits the rise after it decelerates under at
/// least half the gravity the fall before it showed, and leaves slower than
/// it arrived (below 95 % of the fall's speed, each measured by its side's
/// fit), the reversal is a contact (a floor, a wall, a hand), and windows
/// across that cusp are not judged. (Trying the shorter fits too keeps a
/// stray point at a track's far end, a fragment the linking picked up,
/// from hiding the bounce.) An object that reverses mid-air and keeps
/// rising, or rises at constant speed, has no such rise. A turn whose
/// track holds fewer than 5
/// positions after the cusp cannot show either, so when it leaves the cusp
/// upwards (by at least half the 3 px/frame fall speed) slower than it fell,
/// it counts as a contact too: a short bounce whose blob is lost, or that
/// merges with the floor, is not evidence of a reversal.
///
/// Windows that cannot be one rigid object in flight are not judged
/// either: one whose blob area (bounding box on the 8-pixel grid) changes
/// more than 6× from its smallest to its largest (a pour or a splash
/// spreading as it lands, two things merging and parting: the centre moves,
/// nothing falls), and one whose horizontal positions scatter more than 3 px
/// (per 240 rows, root mean square) about a straight line in time (anything
/// in free flight drifts sideways at a constant speed; a zigzag is a track
/// linking different blobs), and one whose box lengthens or shortens about
/// as fast as it moves (the speeds of its top and bottom edges differ by at
/// least 3 px/frame per 240 rows and by half the faster one's: a stream
/// hanging from a spout grows from its free end and its centre brakes as it
/// reaches the glass, while a body carries its whole outline along).
///
/// Nor is a fall that a surface turns aside: a window that starts falling
/// at least 3 px/frame (per 240 rows) and ends moving sideways (vertical
/// speed under 0.3× the fall's) at least 0.8× as fast as it fell is a ball
/// rolling off a ramp onto the floor; braking in mid-air loses the speed.
/// The two windows before such a window, which end as the turn begins, are
/// not judged either.
///
/// Floating is found apart from the fits: a fall that comes to rest within
/// a few frames and then stays at its height is an object braking to hover
/// in mid-air (the quadratic fits miss it, since its blob fades as it
/// stops and its track ends or breaks a frame or two after the braking).
/// A track is carried on by the track that starts within 3 frames and
/// 16 px of its end, and is flagged where it falls 4 steps (the fastest at
/// least 3 px/frame, on average at least half that, its blob's area within
/// 3× along them: a pour that lengthens and splashes changes size) and
/// then holds, for at least 4 positions over 4 frames, within 2 px of one
/// height, sinking at under a tenth of the fall's speed and drifting
/// sideways at under half of it (a ball rolling on after a ramp keeps its
/// speed). A fall that stops dead without bouncing (a soft landing) reads
/// the same: what it landed on is not in the motion.
#[derive(Debug, Clone)]
pub struct GravityViolation {
    /// Least upward acceleration that counts, in pixels per frame².
    pub min_accel: f64,
}

impl Default for GravityViolation {
    fn default() -> Self {
        GravityViolation { min_accel: 0.5 }
    }
}

#[derive(Debug, Clone, Copy)]
struct Point {
    t: usize,
    x: f64,
    y: f64,
    bbox: BBox,
}

fn blobs(ev: &Evidence<'_>, i: usize) -> Vec<Point> {
    let (w, h) = (ev.width(), ev.height());
    let res = ev.residual(i);
    let cut =
        (4.0 * median(res.data().iter().step_by(7).map(|v| f64::from(v.abs())))).max(25.0) as f32;
    let (cols, rows) = (w.div_ceil(CELL), h.div_ceil(CELL));
    let mut count = vec![0u32; cols * rows];
    for y in 0..h {
        for (x, v) in res.row(y).iter().enumerate() {
            if v.abs() > cut {
                count[(y / CELL) * cols + x / CELL] += 1;
            }
        }
    }
    let on: Vec<bool> = count.iter().map(|&c| c >= 6).collect();
    let to_first = ev.to_first(i + 1);
    let mut out = Vec::new();
    for comp in components(&on, cols, rows) {
        if comp.len() < 2 || comp.len() * 10 > cols * rows {
            continue;
        }
        let (mut sx, mut sy, mut sw) = (0.0f64, 0.0f64, 0.0f64);
        let mut bbox: Option<BBox> = None;
        for &c in &comp {
            let (x0, y0) = ((c % cols) * CELL, (c / cols) * CELL);
            for y in y0..(y0 + CELL).min(h) {
                for x in x0..(x0 + CELL).min(w) {
                    let v = res.at(x, y).abs();
                    if v > cut {
                        let v = f64::from(v);
                        sx += v * x as f64;
                        sy += v * y as f64;
                        sw += v;
                    }
                }
            }
            let cb = BBox {
                x: x0 as u32,
                y: y0 as u32,
                w: CELL.min(w - x0) as u32,
                h: CELL.min(h - y0) as u32,
            };
            bbox = Some(bbox.map_or(cb, |b| b.union(cb)));
        }
        // A blob touching the frame's edge is an object half in view (its
        // centre slides as it enters or leaves) or scenery the camera
        // uncovers: neither gives a trustworthy position.
        let touches_edge = bbox.is_some_and(|b| {
            b.x == 0 || b.y == 0 || (b.x + b.w) as usize >= w || (b.y + b.h) as usize >= h
        });
        if touches_edge {
            continue;
        }
        if let (true, Some(bbox)) = (sw > 0.0, bbox) {
            let (x, y) = to_first.apply(sx / sw, sy / sw);
            out.push(Point { t: i, x, y, bbox });
        }
    }
    out
}

fn link(detections: Vec<Vec<Point>>) -> Vec<Vec<Point>> {
    let mut tracks: Vec<Vec<Point>> = Vec::new();
    for (t, points) in detections.into_iter().enumerate() {
        let mut taken = vec![false; tracks.len()];
        for p in points {
            let mut best: Option<(usize, f64)> = None;
            for (k, tr) in tracks.iter().enumerate() {
                let Some(last) = tr.last() else { continue };
                if taken[k] || last.t + 2 < t {
                    continue;
                }
                let (vx, vy) = match tr.len() {
                    0 | 1 => (0.0, 0.0),
                    l => (tr[l - 1].x - tr[l - 2].x, tr[l - 1].y - tr[l - 2].y),
                };
                let dt = (t - last.t) as f64;
                let d = (p.x - last.x - vx * dt).hypot(p.y - last.y - vy * dt);
                let gate = 16.0 + 1.0 * vx.hypot(vy);
                if d < gate && best.is_none_or(|(_, bd)| d < bd) {
                    best = Some((k, d));
                }
            }
            match best {
                Some((k, _)) => {
                    taken[k] = true;
                    tracks[k].push(p);
                }
                None => {
                    taken.push(true);
                    tracks.push(vec![p]);
                }
            }
        }
    }
    tracks
}

/// A quadratic `y = a + b·t + c·t²` fitted to a track's vertical positions
/// by least squares.
struct Fit {
    /// Vertical velocity at the mean time of the points, px/frame (down +).
    velocity: f64,
    /// Vertical acceleration `2c`, px/frame² (down +).
    accel: f64,
    /// Standard error of `accel`.
    accel_se: f64,
}

fn fit(points: &[Point]) -> Option<Fit> {
    let n = points.len() as f64;
    let t0 = points.iter().map(|p| p.t as f64).sum::<f64>() / n;
    let mut m = [[0.0f64; 3]; 3];
    let mut rhs = [0.0f64; 3];
    for p in points {
        let t = p.t as f64 - t0;
        let row = [1.0, t, t * t];
        for i in 0..3 {
            for j in 0..3 {
                m[i][j] += row[i] * row[j];
            }
            rhs[i] += row[i] * p.y;
        }
    }
    let inv = invert3(m)?;
    let coef: Vec<f64> = (0..3)
        .map(|i| (0..3).map(|j| inv[i][j] * rhs[j]).sum())
        .collect();
    let sse: f64 = points
        .iter()
        .map(|p| {
            let t = p.t as f64 - t0;
            (p.y - coef[0] - coef[1] * t - coef[2] * t * t).powi(2)
        })
        .sum();
    let sigma2 = (sse / (n - 3.0).max(1.0)).max(0.25);
    Some(Fit {
        velocity: coef[1],
        accel: 2.0 * coef[2],
        accel_se: 2.0 * (sigma2 * inv[2][2]).sqrt(),
    })
}

/// Times at which `track` bounces: its lowest point between a fall at
/// least `min_speed` px/frame fast and a slower rise that clearly
/// decelerates (more than one standard error) under at least half the
/// fall's gravity.
fn bounces(track: &[Point], min_speed: f64) -> Vec<usize> {
    const SIDE: usize = 7;
    let mut out = Vec::new();
    for m in 1..track.len().saturating_sub(1) {
        let (p, c, q) = (track[m - 1], track[m], track[m + 1]);
        if !(c.y >= p.y && c.y >= q.y) {
            continue;
        }
        // The cusp itself is left out: a blob's centre lies between the
        // object's positions in two frames, which folds the turn.
        let before: Vec<Point> = track[..m]
            .iter()
            .rev()
            .take(SIDE)
            .take_while(|b| c.t - b.t < 2 * SIDE)
            .copied()
            .collect();
        let after: Vec<Point> = track[m + 1..]
            .iter()
            .take(SIDE)
            .take_while(|a| a.t - c.t < 2 * SIDE)
            .copied()
            .collect();
        if before.len() < 4 {
            continue;
        }
        // Each side is fitted over its 4 to 7 points nearest the cusp: a
        // track's far end can belong to a fragment or a neighbour that the
        // linking picked up, and one stray point bends a short fit.
        let bounced = (after.len() < SHORT_AFTER && unresolved(&before, c, &after, min_speed))
            || (4..=before.len()).any(|nb| {
                (4..=after.len()).any(|na| contact(&before[..nb], &after[..na], min_speed))
            });
        if bounced {
            out.push(c.t);
        }
    }
    out
}

/// Fewest points after a cusp that can show a rise is no bounce.
const SHORT_AFTER: usize = 5;

/// Whether a turn at `c` after a fall fitted on `before` (ordered from the
/// cusp outwards) rises too briefly to tell a bounce from a reversal: the
/// fall was at least `min_speed` px/frame fast, and the track leaves the
/// cusp upwards by at least half that, slower than it arrived.
fn unresolved(before: &[Point], c: Point, after: &[Point], min_speed: f64) -> bool {
    let Some(fall) = fit(before) else {
        return false;
    };
    let Some(q) = after.first() else { return false };
    let departure = (c.y - q.y) / (q.t - c.t).max(1) as f64;
    fall.velocity >= min_speed && c.y - q.y >= 0.5 * min_speed && departure < 0.95 * fall.velocity
}

/// Whether a fall fitted on `before` and a rise fitted on `after` (each
/// ordered from the cusp outwards) make a contact: a fall at least
/// `min_speed` px/frame fast, then a slower rise that clearly decelerates
/// under at least half the fall's gravity.
fn contact(before: &[Point], after: &[Point], min_speed: f64) -> bool {
    let (Some(fall), Some(rise)) = (fit(before), fit(after)) else {
        return false;
    };
    let fell = fall.velocity >= min_speed && fall.accel > 0.0;
    // A bounce loses speed: nothing leaves a contact as fast as it came
    // unless something pushed it.
    let rose = rise.velocity < 0.0
        && -rise.velocity < 0.95 * fall.velocity
        && rise.accel > (0.5 * fall.accel).max(rise.accel_se);
    fell && rose
}

fn invert3(m: [[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    if det.abs() < 1e-12 {
        return None;
    }
    let mut inv = [[0.0; 3]; 3];
    for (i, row) in inv.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            let (r0, r1) = ((j + 1) % 3, (j + 2) % 3);
            let (c0, c1) = ((i + 1) % 3, (i + 2) % 3);
            *v = (m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]) / det;
        }
    }
    Some(inv)
}

/// Largest over smallest blob area (bounding boxes on the 8-pixel grid)
/// along `win`.
fn area_change(win: &[Point]) -> f64 {
    let (lo, hi) = win
        .iter()
        .map(|p| f64::from(p.bbox.w * p.bbox.h))
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), a| {
            (lo.min(a), hi.max(a))
        });
    hi / lo.max(1.0)
}

/// Whether the blob along `win` lengthens or shortens vertically about as
/// fast as it moves: one end of its box holds still while the other runs
/// (least-squares speeds of the top and bottom edges differing by at least
/// `3 × scale` px/frame and by at least half the faster edge's speed).
/// A body in flight carries its whole outline along; a stream hanging
/// from a spout grows from its free end, and its centre brakes as the
/// stream reaches what it pours into, though nothing decelerates.
fn stretches(win: &[Point], scale: f64) -> bool {
    let top = slope(win, |p| f64::from(p.bbox.y));
    let bottom = slope(win, |p| f64::from(p.bbox.y + p.bbox.h));
    let stretch = (bottom - top).abs();
    stretch >= MIN_STRETCH * scale && stretch >= 0.5 * top.abs().max(bottom.abs())
}

/// Root-mean-square distance of the window's horizontal positions from
/// their least-squares line in time, in pixels.
fn sideways_scatter(win: &[Point]) -> f64 {
    let n = win.len() as f64;
    let tm = win.iter().map(|p| p.t as f64).sum::<f64>() / n;
    let xm = win.iter().map(|p| p.x).sum::<f64>() / n;
    let slope = slope(win, |p| p.x);
    let sse: f64 = win
        .iter()
        .map(|p| (p.x - xm - slope * (p.t as f64 - tm)).powi(2))
        .sum();
    (sse / n).sqrt()
}

/// Least-squares slope in time (per frame) of `value` along `points`.
fn slope(points: &[Point], value: impl Fn(&Point) -> f64) -> f64 {
    let n = points.len() as f64;
    let tm = points.iter().map(|p| p.t as f64).sum::<f64>() / n;
    let vm = points.iter().map(&value).sum::<f64>() / n;
    let (mut stt, mut stv) = (0.0, 0.0);
    for p in points {
        let t = p.t as f64 - tm;
        stt += t * t;
        stv += t * (value(p) - vm);
    }
    if stt > 0.0 { stv / stt } else { 0.0 }
}

/// Velocity (px/frame) from `a` to `b`.
fn velocity(a: &Point, b: &Point) -> (f64, f64) {
    let dt = b.t.saturating_sub(a.t).max(1) as f64;
    ((b.x - a.x) / dt, (b.y - a.y) / dt)
}

/// Whether `win` is a fall turned aside by a surface: falling at least
/// `3 × scale` px/frame at its start, and at its end moving sideways (under
/// 0.3× the fall's vertical speed) at least 0.8× the speed it fell at. A
/// ball rolling off a ramp onto the floor keeps its speed; one braking in
/// mid-air, or turning back up, loses it.
fn deflected(win: &[Point], scale: f64) -> bool {
    let early = velocity(&win[0], &win[2]);
    let late = velocity(&win[win.len() - 3], &win[win.len() - 1]);
    early.1 >= 3.0 * scale
        && late.1.abs() <= 0.3 * early.1
        && late.0.abs() >= 0.8 * early.0.hypot(early.1)
}

/// Most change of blob area (largest over smallest) along a fall that
/// comes to rest.
const FALL_AREA_CHANGE: f64 = 3.0;

/// Most frames between the end of one track and the start of the track
/// that carries its object on (the blob of an object that slows down
/// fades, and the linking starts a new track once it is found again).
const CARRY_GAP: usize = 3;

/// `tr` followed by the track that starts where it ends (after `tr`'s
/// first frame, so never `tr` itself; within [`CARRY_GAP`] frames and
/// 16 px per 240 rows of its last point), when there is one; points of `tr` at or after that track's first frame are
/// dropped (a fading blob picks up strays).
fn carried_on(tr: &[Point], tracks: &[Vec<Point>], scale: f64) -> Vec<Point> {
    let Some(last) = tr.last() else {
        return Vec::new();
    };
    let next = tracks
        .iter()
        .filter_map(|o| o.first().map(|f| (o, f)))
        .filter(|(_, f)| f.t > tr[0].t && f.t <= last.t + CARRY_GAP && f.t + 1 >= last.t)
        .map(|(o, f)| (o, (f.x - last.x).hypot(f.y - last.y)))
        .filter(|&(_, d)| d < 16.0 * scale)
        .min_by(|a, b| a.1.total_cmp(&b.1));
    let mut out = tr.to_vec();
    if let Some((o, _)) = next {
        out.retain(|p| p.t < o[0].t);
        out.extend_from_slice(o);
    }
    out
}

/// Where `seq` (one object's positions) falls and then stops in mid-air:
/// for each, the frames from the fall's fastest step to the end of the rest
/// it came to, and its strength (the fall's fastest step over
/// `3 × scale` px/frame).
///
/// A fall: 4 steps downwards, the fastest at least `3 × scale` px/frame,
/// on average at least half as fast as the fastest (one jump of a blob's
/// centre among slow steps is no fall). A rest: at least 4 positions over
/// at least 4 frames, starting at most 4 frames after that fastest step,
/// all within `2 × scale` px of their median height, sinking
/// (least-squares slope) at most a tenth of the fall's fastest speed and
/// drifting sideways under half of it (a ball rolling on after a ramp
/// keeps its speed; see [`deflected`]).
/// A bounce rises out of its rest and is not one.
fn floats(seq: &[Point], scale: f64) -> Vec<(usize, usize, f64)> {
    let mut out = Vec::new();
    let mut r = 4;
    while r + 4 <= seq.len() {
        let rest_y = median(seq[r..r + 4].iter().map(|p| p.y));
        let near = |p: &Point| (p.y - rest_y).abs() <= 2.0 * scale;
        let len = seq[r..].iter().take_while(|p| near(p)).count();
        let fall = &seq[r - 4..=r];
        let steps: Vec<f64> = fall.windows(2).map(|w| velocity(&w[0], &w[1]).1).collect();
        // The first of the fastest steps.
        let Some((k, fastest)) = steps
            .iter()
            .copied()
            .enumerate()
            .reduce(|best, s| if s.1 > best.1 { s } else { best })
        else {
            break;
        };
        let drop: f64 = steps.iter().sum();
        let fell =
            steps.iter().all(|&v| v > 0.0) && fastest >= 3.0 * scale && drop >= 2.0 * fastest;
        // The rest starts where the fall leaves the rest band.
        let starts = !near(&seq[r - 1]);
        // A rigid body keeps its size as it falls; a stream that lengthens
        // and then splashes does not.
        if fell && starts && len >= 4 && area_change(fall) <= FALL_AREA_CHANGE {
            let rest = &seq[r..r + len];
            let span = rest[len - 1].t - rest[0].t;
            let drift = slope(rest, |p| p.x).abs();
            let sinking = slope(rest, |p| p.y).abs();
            if span >= 4
                && drift < 0.5 * fastest
                && sinking <= 0.1 * fastest
                && rest[0].t - fall[k].t <= 4
            {
                out.push((
                    fall[k].t,
                    rest[len - 1].t.min(rest[0].t + 5),
                    fastest / (3.0 * scale),
                ));
                r += len;
                continue;
            }
        }
        r += 1;
    }
    out
}

impl GravityViolation {
    /// The windows of `tr`, of each of the `lengths`, that accelerate
    /// upwards (see [`Self::rising`]), each with how far past the threshold
    /// it does. One window's fit can be thrown by a blob that split or
    /// merged: a real violation shows in the overlapping windows beside it
    /// too, or a lone window (a short track) clears twice the threshold.
    fn violations<'t>(
        &self,
        tr: &'t [Point],
        scale: f64,
        lengths: &[usize],
    ) -> Vec<(&'t [Point], f64)> {
        let mut out = Vec::new();
        // The track's bounces, found once for every window length (and
        // only if some window rises).
        let bounced = OnceCell::new();
        for &len in lengths.iter().filter(|&&len| tr.len() >= len) {
            let rising = self.rising(tr, scale, len, &bounced);
            for (k, win) in tr.windows(len).enumerate() {
                let Some(ratio) = rising[k] else { continue };
                let beside = (k > 0 && rising[k - 1].is_some())
                    || rising.get(k + 1).is_some_and(Option::is_some);
                if beside || ratio >= 2.0 {
                    out.push((win, ratio));
                }
            }
        }
        out
    }

    /// [`Self::upward`] for each window of `len` positions of `tr`, less the
    /// windows a surface explains: those across a bounce, and those that
    /// are, or end just before, a fall turned aside. `bounced` holds the
    /// track's bounces once they are needed.
    fn rising(
        &self,
        tr: &[Point],
        scale: f64,
        len: usize,
        bounced: &OnceCell<Vec<usize>>,
    ) -> Vec<Option<f64>> {
        let mut rising: Vec<Option<f64>> =
            tr.windows(len).map(|win| self.upward(win, scale)).collect();
        // A window that ends as a fall starts turning aside does not see
        // the turn yet: the two windows after it do.
        let turned: Vec<bool> = tr.windows(len).map(|w| deflected(w, scale)).collect();
        for (k, r) in rising.iter_mut().enumerate() {
            if turned[k..turned.len().min(k + 3)].contains(&true) {
                *r = None;
            }
        }
        // Bounces matter only to a track that rises somewhere.
        if rising.iter().any(Option::is_some) {
            let bounced = bounced.get_or_init(|| bounces(tr, 3.0 * scale));
            for (r, win) in rising.iter_mut().zip(tr.windows(len)) {
                if bounced.iter().any(|&t| win[0].t < t && t < win[len - 1].t) {
                    *r = None;
                }
            }
        }
        rising
    }

    /// How far past the threshold the track accelerates upwards over `win`
    /// (above 1), or `None` when it does not (or moves too little to tell).
    /// `scale` is the frame's height over 240 rows.
    fn upward(&self, win: &[Point], scale: f64) -> Option<f64> {
        if win[win.len() - 1].t - win[0].t > win.len() + 2 {
            return None;
        }
        let travel = win
            .windows(2)
            .map(|p| (p[1].x - p[0].x).hypot(p[1].y - p[0].y))
            .sum::<f64>();
        let (top, bottom) = win
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.y), hi.max(p.y))
            });
        if travel < 12.0 || bottom - top < MIN_RISE {
            return None;
        }
        if deflected(win, scale) {
            return None;
        }
        // A blob whose area changes several-fold within the window is no
        // rigid object: a pour or a splash that grows as it spreads, two
        // things merging and parting. Its centre moves, nothing falls.
        if area_change(win) > MAX_AREA_CHANGE {
            return None;
        }
        if stretches(win, scale) {
            return None;
        }
        // Anything in free flight moves sideways at a constant speed; a
        // track whose horizontal positions zigzag is linking different
        // blobs (or follows something that walks or swims).
        if sideways_scatter(win) > MAX_SCATTER * scale {
            return None;
        }
        let f = fit(win)?;
        let cut = self.min_accel.max(3.0 * f.accel_se);
        (-f.accel > cut).then_some(-f.accel / cut)
    }
}

impl DefectDetector for GravityViolation {
    fn detect(&self, ev: &Evidence<'_>) -> Vec<Finding> {
        let n = ev.len();
        if n < WINDOW + 1 {
            return Vec::new();
        }
        let tracks = link((0..n - 1).map(|i| blobs(ev, i)).collect());
        let scale = ev.height() as f64 / 240.0;
        let mut hits: Vec<Option<Hit>> = vec![None; n];
        for tr in &tracks {
            for (win, ratio) in self.violations(tr, scale, &[WINDOW, LONG]) {
                let bbox = win.iter().map(|p| p.bbox).reduce(BBox::union);
                for slot in &mut hits[win[0].t..=win[win.len() - 1].t + 1] {
                    mark(slot, confidence(ratio), bbox);
                }
            }
        }
        for tr in &tracks {
            let seq = carried_on(tr, &tracks, scale);
            for (a, b, ratio) in floats(&seq, scale) {
                let bbox = seq
                    .iter()
                    .filter(|p| (a..=b).contains(&p.t))
                    .map(|p| p.bbox)
                    .reduce(BBox::union);
                for slot in &mut hits[a.saturating_sub(2)..=(b + 1).min(n - 1)] {
                    mark(slot, confidence(ratio), bbox);
                }
            }
        }
        runs(DefectKind::GravityViolation, &hits, 0)
    }

    fn name(&self) -> &str {
        "gravity_violation"
    }

    fn kinds(&self) -> Vec<DefectKind> {
        vec![DefectKind::GravityViolation]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A track of one point per frame at these positions.
    fn points(xy: &[(f64, f64)]) -> Vec<Point> {
        xy.iter()
            .enumerate()
            .map(|(t, &(x, y))| Point {
                t,
                x,
                y,
                bbox: BBox::from([0, 0, 8, 8]),
            })
            .collect()
    }

    /// A track at these heights, drifting 3 px a frame sideways.
    fn track(ys: &[f64]) -> Vec<Point> {
        let xy: Vec<(f64, f64)> = ys
            .iter()
            .enumerate()
            .map(|(t, &y)| (3.0 * t as f64, y))
            .collect();
        points(&xy)
    }

    #[test]
    fn a_stream_lengthening_from_its_spout_is_not_judged() {
        // Measured on a simulated pour (clean clip 22 of `eval_detectors`):
        // the stream's blob keeps its top at the spout while its free end
        // reaches the glass, so its centre brakes: (t, x, y, box).
        let pour: Vec<Point> = [
            (18, 160.0, 118.0, [112, 64, 88, 104]),
            (19, 163.0, 124.0, [112, 64, 88, 112]),
            (20, 165.0, 128.0, [112, 64, 96, 120]),
            (21, 168.0, 134.0, [112, 64, 96, 128]),
            (22, 169.0, 137.0, [112, 64, 96, 144]),
            (23, 170.0, 139.0, [120, 64, 96, 144]),
            (24, 169.0, 136.0, [112, 64, 96, 144]),
        ]
        .iter()
        .map(|&(t, x, y, b)| Point {
            t,
            x,
            y,
            bbox: BBox::from(b),
        })
        .collect();
        assert!(stretches(&pour, 1.0));
        assert!(GravityViolation::default().upward(&pour, 1.0).is_none());
        // The same centres with a box that moves along, as a body's does:
        // braking to a stop in mid-air, judged.
        let body: Vec<Point> = pour
            .iter()
            .map(|p| Point {
                bbox: BBox::from([p.bbox.x, p.y as u32 - 24, p.bbox.w, 48]),
                ..*p
            })
            .collect();
        assert!(!stretches(&body, 1.0));
        assert!(GravityViolation::default().upward(&body, 1.0).is_some());
    }

    #[test]
    fn a_head_bobbing_as_its_figure_walks_is_not_judged() {
        // Measured on a simulated walking figure: 6 px of vertical travel
        // whose fit reads an upward acceleration 1.67x the threshold.
        let bob = track(&[72.4, 74.1, 76.5, 77.3, 77.8, 78.2, 75.0]);
        assert!(fit(&bob).is_some_and(|f| f.accel < -0.5));
        assert_eq!(GravityViolation::default().upward(&bob, 1.0), None);
    }

    #[test]
    fn a_ball_rolling_off_a_ramp_onto_the_floor_is_not_judged() {
        // Measured on a simulated rolling_ramp clip: down the ramp at about
        // (8, 6) px/frame, then along the floor at 6-13 px/frame.
        let ramp = points(&[
            (164.9, 168.4),
            (172.7, 174.7),
            (182.0, 182.0),
            (190.8, 189.5),
            (198.5, 194.6),
            (204.2, 195.1),
            (217.0, 195.2),
        ]);
        assert!(fit(&ramp).is_some_and(|f| -f.accel > 3.0 * f.accel_se.max(0.5 / 3.0)));
        assert!(deflected(&ramp, 1.0));
        assert_eq!(GravityViolation::default().upward(&ramp, 1.0), None);
    }

    #[test]
    fn the_windows_that_end_as_a_fall_turns_aside_are_not_judged_either() {
        // Measured on a simulated rolling_ramp clip (clean): down the ramp
        // at about (7, 6) px/frame, onto the floor at frame 7, rolling on at
        // 10 px/frame. The windows ending at frames 8 and 9 fit a braking
        // fall; the turn shows only in the windows after them.
        let tr = points(&[
            (160.0, 154.5),
            (166.8, 159.7),
            (173.5, 165.2),
            (180.5, 170.8),
            (187.9, 176.5),
            (195.3, 182.3),
            (203.0, 188.4),
            (213.9, 191.7),
            (213.8, 190.6),
            (223.8, 190.6),
            (234.0, 190.8),
            (244.0, 190.9),
        ]);
        let g = GravityViolation::default();
        let alone: Vec<_> = tr.windows(WINDOW).map(|w| g.upward(w, 1.0)).collect();
        assert!(alone[2].is_some() && alone[3].is_some(), "{alone:?}");
        assert!(deflected(&tr[4..4 + WINDOW], 1.0));
        assert!(
            g.rising(&tr, 1.0, WINDOW, &OnceCell::new())
                .iter()
                .all(Option::is_none)
        );
    }

    #[test]
    fn a_slow_fall_upwards_shows_in_the_long_windows() {
        // Measured on a photo-set "up" clip (test 057): a ball rising from
        // the floor at an upward 0.5-1 px/frame², its centre jittering a
        // few pixels. The 7-position windows pass only here and there,
        // never two side by side.
        let measured = [
            (2, 149.6, 202.3),
            (3, 149.3, 199.6),
            (4, 148.4, 197.6),
            (5, 148.5, 196.7),
            (6, 147.4, 193.1),
            (7, 146.7, 186.5),
            (8, 146.3, 180.4),
            (9, 147.5, 178.6),
            (10, 145.3, 172.2),
            (11, 144.4, 162.0),
            (12, 144.1, 154.2),
            (13, 143.3, 145.1),
            (15, 138.4, 128.7),
            (16, 141.1, 127.0),
            (17, 140.0, 111.1),
            (18, 139.1, 94.7),
            (19, 138.2, 77.2),
        ];
        let tr: Vec<Point> = measured
            .iter()
            .map(|&(t, x, y)| Point {
                t,
                x,
                y,
                bbox: BBox::from([0, 0, 24, 32]),
            })
            .collect();
        let g = GravityViolation::default();
        assert!(g.violations(&tr, 1.0, &[WINDOW]).is_empty());
        let found = g.violations(&tr, 1.0, &[WINDOW, LONG]);
        assert!(!found.is_empty());
        assert!(found.iter().all(|(win, _)| win.len() == LONG));
    }

    #[test]
    fn a_bounce_is_found_though_the_track_ends_on_a_stray_fragment() {
        // Measured on a simulated thrown ball (clean clip): a fall at about
        // 9-11 px/frame, a landing at frame 15, a small decelerating bounce,
        // then two points of a fragment (x jumps back 10 px) that the
        // linking appended. The full 7-point rise fit does not decelerate.
        let xy = [
            (81.3, 126.1),
            (82.7, 134.8),
            (84.0, 143.3),
            (85.2, 151.9),
            (86.4, 160.9),
            (87.8, 172.1),
            (89.3, 183.4),
            (90.8, 184.4),
            (92.0, 180.8),
            (93.5, 176.8),
            (94.5, 174.5),
            (96.2, 173.3),
            (97.0, 172.9),
            (87.5, 172.1),
            (90.6, 167.1),
        ];
        let tr = points(&xy);
        assert!(!contact(&tr[..7], &tr[8..], 3.0));
        assert_eq!(bounces(&tr, 3.0), vec![7]);
    }

    #[test]
    fn a_reversal_that_keeps_speeding_upwards_is_no_bounce_at_any_fit_length() {
        // The generators' reverse: a fall, then the velocity flips (x 0.8)
        // and gravity points up from there on.
        let (mut y, mut v) = (60.0f64, 0.0f64);
        let mut ys = Vec::new();
        for t in 0..16 {
            ys.push(y);
            if t < 8 {
                v += 0.8;
            } else {
                if t == 8 {
                    v = -v.abs() * 0.8;
                }
                v -= 0.16;
            }
            y += v;
        }
        assert!(bounces(&track(&ys), 3.0).is_empty());
    }

    /// A fall braking to a stop, drifting 2 px a frame sideways, each point
    /// with the given blob size.
    fn braking(sides: &[(u32, u32)]) -> Vec<Point> {
        let (mut y, mut v) = (60.0, 8.0);
        let mut out = Vec::new();
        for (t, &(w, h)) in sides.iter().enumerate() {
            out.push(Point {
                t,
                x: 100.0 + 2.0 * t as f64,
                y,
                bbox: BBox { x: 0, y: 0, w, h },
            });
            v *= 0.5;
            y += v;
        }
        out
    }

    #[test]
    fn a_blob_that_grows_several_fold_is_not_judged() {
        // A pour spreading as it lands: its centre brakes like a float.
        let rigid = braking(&[(24, 32); 7]);
        assert!(GravityViolation::default().upward(&rigid, 1.0).is_some());
        let growing = braking(&[
            (16, 16),
            (16, 24),
            (24, 24),
            (24, 32),
            (32, 40),
            (40, 48),
            (48, 56),
        ]);
        assert!(area_change(&growing) > MAX_AREA_CHANGE);
        assert_eq!(GravityViolation::default().upward(&growing, 1.0), None);
    }

    #[test]
    fn a_track_that_zigzags_sideways_is_not_judged() {
        let mut zigzag = braking(&[(24, 32); 7]);
        for (p, dx) in zigzag
            .iter_mut()
            .zip([0.0, 9.0, -3.0, 11.0, 2.0, -6.0, 4.0])
        {
            p.x += dx;
        }
        assert!(sideways_scatter(&zigzag) > MAX_SCATTER);
        assert_eq!(GravityViolation::default().upward(&zigzag, 1.0), None);
        // The same heights on a straight drift are judged (previous test).
        assert!(sideways_scatter(&braking(&[(24, 32); 7])) < 1e-9);
    }

    #[test]
    fn a_fall_braking_to_float_while_drifting_sideways_is_judged() {
        // The generators' float: falling at 8 px/frame, then speed x 0.3 a
        // frame, drifting sideways at 2 px/frame all along.
        let mut xy = Vec::new();
        let (mut y, mut v) = (100.0, 6.0);
        for t in 0..7 {
            xy.push((50.0 + 2.0 * f64::from(t), y));
            v = if t < 2 { v + 1.0 } else { v * 0.3 };
            y += v;
        }
        let float = points(&xy);
        assert!(!deflected(&float, 1.0));
        assert!(GravityViolation::default().upward(&float, 1.0).is_some());
    }

    /// A ball falling 4 steps faster and faster, then at `rest` on: each
    /// rest point's height and sideways step, 8×8 px blobs.
    fn fall_then(rest: &[(f64, f64)]) -> Vec<Point> {
        let mut xy = vec![
            (100.0, 40.0),
            (101.0, 44.0),
            (102.0, 50.0),
            (103.0, 58.0),
            (104.0, 68.0),
        ];
        let mut x = 104.0;
        for &(y, dx) in rest {
            x += dx;
            xy.push((x, y));
        }
        points(&xy)
    }

    #[test]
    fn a_fall_that_stops_and_hovers_floats() {
        // Measured on a photo-set float: the speed drops from 10 to ~1
        // px/frame in two steps, then the ball holds within 1 px.
        let hover = fall_then(&[
            (72.0, 1.0),
            (72.6, 1.0),
            (71.9, 1.0),
            (72.3, 1.0),
            (72.1, 1.0),
        ]);
        let found = floats(&hover, 1.0);
        assert_eq!(found.len(), 1, "{found:?}");
        let (from, to, strength) = found[0];
        assert!(
            (3..=5).contains(&from) && to >= 8 && strength > 3.0,
            "{found:?}"
        );
    }

    #[test]
    fn a_fall_that_slows_to_a_slide_rolls_on_or_changes_size_does_not_float() {
        // A fall at 4 px/frame that slows to a slide at 1 px/frame, within
        // 2 px of one height for 5 points: still sinking at over a tenth of
        // the fall's speed.
        let sinking = points(&[
            (100.0, 40.0),
            (101.0, 43.0),
            (102.0, 46.5),
            (103.0, 50.5),
            (104.0, 54.5),
            (105.0, 55.5),
            (106.0, 56.5),
            (107.0, 57.5),
            (108.0, 58.5),
            (109.0, 59.5),
        ]);
        assert!(floats(&sinking, 1.0).is_empty());
        // Rolling on at 8 px/frame after the fall: a ramp onto a floor.
        let rolling = fall_then(&[
            (72.0, 8.0),
            (72.2, 8.0),
            (71.9, 8.0),
            (72.1, 8.0),
            (72.0, 8.0),
        ]);
        assert!(floats(&rolling, 1.0).is_empty());
        // A bounce leaves the rest band upwards.
        let bounce = fall_then(&[
            (72.0, 1.0),
            (66.0, 1.0),
            (62.0, 1.0),
            (60.0, 1.0),
            (60.5, 1.0),
        ]);
        assert!(floats(&bounce, 1.0).is_empty());
        // A stream that lengthens as it falls and then splashes.
        let mut stream = fall_then(&[
            (72.0, 1.0),
            (72.6, 1.0),
            (71.9, 1.0),
            (72.3, 1.0),
            (72.1, 1.0),
        ]);
        for (k, p) in stream.iter_mut().enumerate().take(5) {
            p.bbox.h = 8 + 16 * k as u32;
        }
        assert!(floats(&stream, 1.0).is_empty());
        // One jump of a blob's centre among slow steps is no fall.
        let jump = points(&[
            (100.0, 60.0),
            (100.0, 61.0),
            (100.0, 62.0),
            (100.0, 63.0),
            (100.0, 68.0),
            (101.0, 68.3),
            (102.0, 68.1),
            (103.0, 67.9),
            (104.0, 68.2),
        ]);
        assert!(floats(&jump, 1.0).is_empty());
    }

    #[test]
    fn a_track_that_fades_is_carried_on_by_the_one_that_starts_where_it_ends() {
        let fall = fall_then(&[]);
        let stray = Point {
            t: 5,
            x: 90.0,
            y: 70.0,
            bbox: BBox::from([0, 0, 8, 8]),
        };
        let mut fading = fall.clone();
        fading.push(stray);
        let hover: Vec<Point> = (5..10)
            .map(|t| Point {
                t,
                x: 104.0 + (t - 4) as f64,
                y: 72.0,
                bbox: BBox::from([0, 0, 8, 8]),
            })
            .collect();
        let far: Vec<Point> = hover
            .iter()
            .map(|p| Point {
                x: p.x + 60.0,
                ..*p
            })
            .collect();
        let tracks = vec![fading.clone(), far, hover];
        let seq = carried_on(&fading, &tracks, 1.0);
        // The stray at frame 5 gives way to the hover's first point.
        assert_eq!(seq.len(), 10);
        assert_eq!((seq[5].x, seq[5].y), (105.0, 72.0));
        assert_eq!(floats(&seq, 1.0).len(), 1);
    }

    #[test]
    fn a_landing_whose_track_ends_after_a_short_rise_counts_as_a_bounce() {
        // Measured on a simulated thrown ball: a fall at ~14 px/frame, a
        // small bounce, and the track lost after 3 points.
        let tr = track(&[
            125.9, 135.8, 146.9, 158.4, 170.9, 184.8, 189.7, 185.2, 180.8, 176.0,
        ]);
        assert_eq!(bounces(&tr, 3.0), vec![6]);
        // The same turn with a long rise that speeds upwards is judged.
        let mut ys = vec![125.9, 135.8, 146.9, 158.4, 170.9, 184.8, 189.7];
        let (mut y, mut v) = (189.7, -10.0);
        for _ in 0..8 {
            y += v;
            v -= 0.5;
            ys.push(y);
        }
        assert!(bounces(&track(&ys), 3.0).is_empty());
    }

    #[test]
    fn falling_upwards_from_rest_is_judged() {
        let ys: Vec<f64> = (0..7)
            .map(|t| 200.0 - 0.5 * 0.8 * f64::from(t * t))
            .collect();
        assert!(
            GravityViolation::default()
                .upward(&track(&ys), 1.0)
                .is_some()
        );
    }
}
