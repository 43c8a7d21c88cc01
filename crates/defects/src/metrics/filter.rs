//! Separable filters with scipy's `reflect` border: the building blocks of
//! SSIM's Gaussian windows, the flow pyramid and flow smoothing.

use crate::Plane;
use crate::metrics::scratch::{self, Scratch};

/// The normalised 1-D Gaussian of scipy's `gaussian_filter1d`: radius
/// `int(truncate * sigma + 0.5)`, weights `exp(-x² / 2σ²)` summing to 1
/// (computed in f64 as scipy does, then stored as f32).
pub(crate) fn gaussian_kernel(sigma: f64, truncate: f64) -> Vec<f32> {
    let radius = (truncate * sigma + 0.5) as i64;
    let weights: Vec<f64> = (-radius..=radius)
        .map(|x| (-0.5 / (sigma * sigma) * (x * x) as f64).exp())
        .collect();
    let sum: f64 = weights.iter().sum();
    weights.iter().map(|w| (w / sum) as f32).collect()
}

/// scipy's `reflect` (half-sample symmetric, `d c b a | a b c d | d c b a`)
/// index for any `i`, for a line of `n` samples.
#[inline]
pub(crate) fn reflect(i: isize, n: usize) -> usize {
    if i >= 0 && (i as usize) < n {
        return i as usize;
    }
    let n = n as isize;
    let period = 2 * n;
    let mut i = i.rem_euclid(period);
    if i >= n {
        i = period - 1 - i;
    }
    i as usize
}

/// Correlates every row with `kernel` (odd length), borders reflected.
fn filter_rows(src: &[f32], width: usize, height: usize, kernel: &[f32], out: &mut [f32]) {
    let r = kernel.len() / 2;
    let mut padded = vec![0.0f32; width + 2 * r];
    for y in 0..height {
        let row = &src[y * width..(y + 1) * width];
        for (i, p) in padded.iter_mut().enumerate() {
            *p = row[reflect(i as isize - r as isize, width)];
        }
        let dst = &mut out[y * width..(y + 1) * width];
        dst.fill(0.0);
        for (k, &w) in kernel.iter().enumerate() {
            for (d, &s) in dst.iter_mut().zip(&padded[k..k + width]) {
                *d += w * s;
            }
        }
    }
}

/// Correlates every column with `kernel` (odd length), borders reflected.
fn filter_cols(src: &[f32], width: usize, height: usize, kernel: &[f32], out: &mut [f32]) {
    let r = kernel.len() as isize / 2;
    for y in 0..height {
        let dst = &mut out[y * width..(y + 1) * width];
        dst.fill(0.0);
        for (k, &w) in kernel.iter().enumerate() {
            let sy = reflect(y as isize + k as isize - r, height);
            for (d, &s) in dst.iter_mut().zip(&src[sy * width..(sy + 1) * width]) {
                *d += w * s;
            }
        }
    }
}

/// Separable correlation of `plane` with `kernel` along both axes, scipy
/// `reflect` borders: `scipy.ndimage.correlate1d` along rows then columns.
pub(crate) fn separable(plane: &Plane, kernel: &[f32]) -> Plane {
    let (w, h) = (plane.width(), plane.height());
    let mut tmp = vec![0.0f32; w * h];
    let mut out = vec![0.0f32; w * h];
    filter_rows(plane.data(), w, h, kernel, &mut tmp);
    filter_cols(&tmp, w, h, kernel, &mut out);
    Plane::new(w, h, out).expect("same size as a valid plane")
}

/// [`separable`] with `kernel` followed by keeping every other row and
/// column (samples `(2x, 2y)`): one pyramid step. Only the kept samples are
/// filtered, in the same order of operations, so the result is bit-identical
/// to blurring the whole plane and decimating it.
pub(crate) fn blur_decimate(plane: &Plane, kernel: &[f32]) -> Plane {
    use rayon::prelude::*;
    let (w, h) = (plane.width(), plane.height());
    let (ow, oh) = (w.div_ceil(2), h.div_ceil(2));
    let r = kernel.len() / 2;
    // Rows first, at even columns only, for every input row.
    // Written whole, row by row.
    let mut rows = Scratch::dirty(ow * h);
    rows.par_chunks_mut(ow)
        .zip(plane.data().par_chunks(w))
        .with_min_len(rows_per_task(w))
        .for_each_init(
            || vec![0.0f32; w + 2 * r],
            |padded, (dst, row)| {
                for (i, p) in padded.iter_mut().enumerate() {
                    *p = row[reflect(i as isize - r as isize, w)];
                }
                for (x, d) in dst.iter_mut().enumerate() {
                    let taps = &padded[2 * x..2 * x + kernel.len()];
                    let mut acc = 0.0f32;
                    for (&k, &s) in kernel.iter().zip(taps) {
                        acc += k * s;
                    }
                    *d = acc;
                }
            },
        );
    let mut out = scratch::zeroed(ow * oh);
    out.par_chunks_mut(ow)
        .enumerate()
        .with_min_len(rows_per_task(ow))
        .for_each(|(y, dst)| {
            for (k, &wk) in kernel.iter().enumerate() {
                let sy = reflect((2 * y + k) as isize - r as isize, h);
                for (d, &s) in dst.iter_mut().zip(&rows[sy * ow..(sy + 1) * ow]) {
                    *d += wk * s;
                }
            }
        });
    Plane::new(ow, oh, out).expect("non-empty level")
}

/// Rows per parallel task for a plane `width` wide: a few thousand pixels,
/// so that small planes (coarse pyramid levels, analysis-size clips whose
/// pairs already run in parallel) do not drown in scheduling.
pub(crate) fn rows_per_task(width: usize) -> usize {
    (4096 / width.max(1)).max(1)
}

/// Rows per parallel band of [`box_mean_with`]'s vertical pass.
const BAND: usize = 64;
/// Rows [`box_mean_with`]'s horizontal pass sums side by side.
const ROWS: usize = 4;

/// Box mean over a `(2r+1)²` window with reflected borders, by running sums:
/// the cost does not grow with `r`. Rows (then bands of rows) run in
/// parallel; `r` must not exceed the plane's sides. `tmp` is caller-owned
/// scratch (`width × height`).
pub(crate) fn box_mean_with(
    src: &[f32],
    width: usize,
    height: usize,
    r: usize,
    out: &mut [f32],
    tmp: &mut [f32],
) {
    box_means(
        width,
        height,
        r,
        [tmp],
        |y, [row]| row.copy_from_slice(&src[y * width..(y + 1) * width]),
        [out],
        |_, [mean], [out]| out.copy_from_slice(mean),
    );
}

/// Box means of `K` planes at once, in two passes and without storing the
/// planes themselves or their means: `make(y, rows)` writes row `y` of each
/// plane, the horizontal running sums go to `sums` (`K` planes of scratch,
/// `width × height` each), and `emit(y, means, outs)` receives row `y` of
/// each plane's box mean with row `y` of each of the `M` output planes to
/// write. The flow's iterations make their residual products, take their
/// window means and update the flow in these two passes instead of six.
///
/// Same arithmetic in the same order as a box mean of each stored plane:
/// the results are bit-identical to [`box_mean_with`] on each.
pub(crate) fn box_means<const K: usize, const M: usize>(
    width: usize,
    height: usize,
    r: usize,
    sums: [&mut [f32]; K],
    make: impl Fn(usize, [&mut [f32]; K]) + Sync,
    outs: [&mut [f32]; M],
    emit: impl Fn(usize, [&[f32]; K], [&mut [f32]; M]) + Sync,
) {
    use rayon::prelude::*;
    let inv = 1.0 / (2 * r + 1) as f32;
    // Rows: a running sum along each, ROWS rows (of each plane) side by
    // side so their dependent adds overlap (one row's chain waits on every
    // add).
    let pw = width + 2 * r + 1;
    let mut sums = sums;
    let groups = transpose(sums.each_mut().map(|s| s.chunks_mut(width * ROWS)));
    groups
        .into_par_iter()
        .enumerate()
        .with_min_len(rows_per_task(width).div_ceil(ROWS))
        .for_each_init(
            || vec![0.0f32; K * ROWS * pw],
            |padded, (g, dsts)| {
                let n = dsts[0].len() / width;
                // Plane k's row j is padded[(k * ROWS + j) * pw..][..pw].
                for j in 0..n {
                    let mut pads = padded.chunks_mut(pw).skip(j).step_by(ROWS);
                    let rows: [&mut [f32]; K] =
                        std::array::from_fn(|_| &mut pads.next().expect("K planes")[r..r + width]);
                    make(g * ROWS + j, rows);
                }
                for pad in padded.chunks_mut(pw) {
                    reflect_edges(pad, width, r);
                }
                for (k, dst) in dsts.into_iter().enumerate() {
                    let pads = &padded[k * ROWS * pw..(k + 1) * ROWS * pw];
                    let mut acc = [0.0f32; ROWS];
                    for (a, pad) in acc.iter_mut().zip(pads.chunks(pw)).take(n) {
                        *a = pad[..2 * r + 1].iter().sum();
                    }
                    if n == ROWS {
                        let pads: [&[f32]; ROWS] =
                            std::array::from_fn(|j| &pads[j * pw..(j + 1) * pw]);
                        for x in 0..width {
                            for j in 0..ROWS {
                                dst[j * width + x] = acc[j] * inv;
                                acc[j] += pads[j][x + 2 * r + 1] - pads[j][x];
                            }
                        }
                    } else {
                        for (j, (d, pad)) in dst.chunks_mut(width).zip(pads.chunks(pw)).enumerate()
                        {
                            for (x, d) in d.iter_mut().enumerate() {
                                *d = acc[j] * inv;
                                acc[j] += pad[x + 2 * r + 1] - pad[x];
                            }
                        }
                    }
                }
            },
        );
    // Columns: each band keeps a running sum per column, one row in and one
    // row out, started from its own first window.
    let sums: [&[f32]; K] = sums.each_ref().map(|s| &**s);
    let bands = transpose(outs.map(|o| o.chunks_mut(BAND * width)));
    bands
        .into_par_iter()
        .enumerate()
        .for_each(|(band, chunks)| {
            let y0 = band * BAND;
            let rows = chunks[0].len() / width;
            let mut acc = vec![0.0f32; K * width];
            let mut means = vec![0.0f32; K * width];
            for (acc, sum) in acc.chunks_mut(width).zip(sums) {
                for i in y0 as isize - r as isize..=y0 as isize + r as isize {
                    let sy = reflect(i, height);
                    for (a, &s) in acc.iter_mut().zip(&sum[sy * width..(sy + 1) * width]) {
                        *a += s;
                    }
                }
            }
            let mut chunks = chunks.map(|c| c.chunks_mut(width));
            for k in 0..rows {
                let y = y0 + k;
                let add = reflect(y as isize + r as isize + 1, height);
                let sub = reflect(y as isize - r as isize, height);
                for ((acc, mean), sum) in
                    acc.chunks_mut(width).zip(means.chunks_mut(width)).zip(sums)
                {
                    for (m, &a) in mean.iter_mut().zip(acc.iter()) {
                        *m = a * inv;
                    }
                    let (add_row, sub_row) = (
                        &sum[add * width..(add + 1) * width],
                        &sum[sub * width..(sub + 1) * width],
                    );
                    for ((a, &p), &m) in acc.iter_mut().zip(add_row).zip(sub_row) {
                        *a += p - m;
                    }
                }
                let mut mean_rows = means.chunks(width);
                let means: [&[f32]; K] = std::array::from_fn(|_| mean_rows.next().expect("K rows"));
                let outs: [&mut [f32]; M] =
                    std::array::from_fn(|i| chunks[i].next().expect("a row per output"));
                emit(y, means, outs);
            }
        });
}

/// `pad[r..r + width]` holds a row: fills `r` reflected samples (scipy's
/// `reflect`) on each side.
fn reflect_edges(pad: &mut [f32], width: usize, r: usize) {
    for i in 0..r {
        pad[i] = pad[r + reflect(i as isize - r as isize, width)];
        pad[r + width + i] = pad[r + reflect((width + i) as isize, width)];
    }
}

/// `N` iterators of chunks as one list of `N`-tuples of chunks, cut short
/// at the shortest.
fn transpose<T, I: Iterator<Item = T>, const N: usize>(mut parts: [I; N]) -> Vec<[T; N]> {
    let mut out = Vec::new();
    loop {
        let next: [Option<T>; N] = parts.each_mut().map(Iterator::next);
        if next.iter().any(Option::is_none) {
            return out;
        }
        out.push(next.map(|t| t.expect("checked above")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_matches_scipy() {
        let idx: Vec<usize> = (-3..7).map(|i| reflect(i, 4)).collect();
        assert_eq!(idx, vec![2, 1, 0, 0, 1, 2, 3, 3, 2, 1]);
    }

    #[test]
    fn gaussian_is_normalised_with_skimage_radius() {
        let k = gaussian_kernel(1.5, 3.5);
        assert_eq!(k.len(), 11);
        assert!((k.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn blur_decimate_is_blur_then_every_other_sample() {
        let k = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];
        for (w, h) in [(13, 9), (16, 10), (5, 6)] {
            let data = (0..w * h).map(|i| ((i * 53) % 251) as f32).collect();
            let plane = Plane::new(w, h, data).unwrap();
            let full = separable(&plane, &k);
            let small = blur_decimate(&plane, &k);
            assert_eq!(
                (small.width(), small.height()),
                (w.div_ceil(2), h.div_ceil(2))
            );
            for y in 0..small.height() {
                for x in 0..small.width() {
                    assert_eq!(small.at(x, y), full.at(2 * x, 2 * y));
                }
            }
        }
    }

    #[test]
    fn box_mean_matches_direct_sum() {
        // Heights that leave every remainder of the 4-row groups, a band
        // boundary (150 > 64 rows), radii up to the plane's side.
        for (w, h, r) in [
            (7, 150, 2),
            (9, 5, 3),
            (6, 6, 4),
            (5, 7, 1),
            (12, 3, 3),
            (4, 1, 0),
        ] {
            let src: Vec<f32> = (0..w * h).map(|i| ((i * 37) % 11) as f32).collect();
            let mut out = vec![0.0; w * h];
            box_mean_with(&src, w, h, r, &mut out, &mut vec![0.0; w * h]);
            let (ri, n) = (r as isize, ((2 * r + 1) * (2 * r + 1)) as f32);
            for y in 0..h {
                for x in 0..w {
                    let mut s = 0.0;
                    for dy in -ri..=ri {
                        for dx in -ri..=ri {
                            s += src[reflect(y as isize + dy, h) * w + reflect(x as isize + dx, w)];
                        }
                    }
                    assert!(
                        (out[y * w + x] - s / n).abs() < 1e-4,
                        "{w}x{h} r {r} at ({x}, {y}): {} vs {}",
                        out[y * w + x],
                        s / n
                    );
                }
            }
        }
    }

    #[test]
    fn box_means_of_planes_made_on_the_fly_equal_box_means_of_stored_planes() {
        // Several planes at once, rows made by a closure, means handed to
        // `emit`: bit-identical to one box mean per stored plane, for every
        // remainder of the 4-row groups and across a band boundary.
        for (w, h, r) in [(7, 150, 2), (9, 5, 3), (33, 70, 4), (4, 1, 0)] {
            let plane = |k: usize| -> Vec<f32> {
                (0..w * h)
                    .map(|i| ((i * (37 + k) + 3 * k) % 23) as f32 * 0.37)
                    .collect()
            };
            let (a, b) = (plane(0), plane(1));
            let stored = |src: &[f32]| {
                let mut out = vec![0.0; w * h];
                box_mean_with(src, w, h, r, &mut out, &mut vec![0.0; w * h]);
                out
            };
            let (want_a, want_b) = (stored(&a), stored(&b));
            let mut sums = [vec![0.0; w * h], vec![0.0; w * h]];
            let [s0, s1] = &mut sums;
            let mut got = [
                vec![f32::NAN; w * h],
                vec![f32::NAN; w * h],
                vec![f32::NAN; w * h],
            ];
            let [g0, g1, g2] = &mut got;
            box_means(
                w,
                h,
                r,
                [&mut s0[..], &mut s1[..]],
                |y, [ra, rb]| {
                    ra.copy_from_slice(&a[y * w..(y + 1) * w]);
                    rb.copy_from_slice(&b[y * w..(y + 1) * w]);
                },
                [&mut g0[..], &mut g1[..], &mut g2[..]],
                |y, [ma, mb], [oa, ob, oy]| {
                    oa.copy_from_slice(ma);
                    ob.copy_from_slice(mb);
                    oy.fill(y as f32);
                },
            );
            assert_eq!(got[0], want_a, "{w}x{h} r {r}: first plane");
            assert_eq!(got[1], want_b, "{w}x{h} r {r}: second plane");
            let rows: Vec<f32> = (0..h).flat_map(|y| vec![y as f32; w]).collect();
            assert_eq!(got[2], rows, "emit is called once per row with its index");
        }
    }
}
