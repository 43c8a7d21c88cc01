//! Optical flow endpoint error on frame pairs with exactly known flow, made
//! here from a photograph (`tests/data/metrics/flow_photo.png`, a 256×192
//! grey crop of scikit-image's astronaut) the way
//! `../shared/bench/frame_metrics_ref.py` makes its pairs:
//! `frame1(x) = I(x + F(x))` sampled bicubically, `frame2 = I`, so the flow
//! from frame1 to frame2 is `F`. Mean endpoint error over pixels 16 or more
//! from the border whose source lies inside the picture.

use std::path::Path;

use framebreak_defects::{FlowParams, Plane, dense_flow, warp_error};

/// Bound on the mean endpoint error, px. OpenCV's DIS (medium preset) scores
/// 0.08–0.15 px on pairs like these at 720p; this small photo has large flat
/// areas (background, skin), so the bound is a little looser.
const EPE_BOUND: f64 = 0.15;

fn photo() -> Plane {
    let img = image::open(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/metrics/flow_photo.png"),
    )
    .expect("fixture decodes")
    .to_luma8();
    let (w, h) = img.dimensions();
    Plane::new(
        w as usize,
        h as usize,
        img.into_raw().into_iter().map(f32::from).collect(),
    )
    .unwrap()
}

/// Keys cubic, a = -0.75 as OpenCV's INTER_CUBIC, reflected borders.
fn cubic(p: &Plane, x: f32, y: f32) -> f32 {
    fn weights(t: f32) -> [f32; 4] {
        let a = -0.75f32;
        let w0 = ((a * (t + 1.0) - 5.0 * a) * (t + 1.0) + 8.0 * a) * (t + 1.0) - 4.0 * a;
        let w1 = ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0;
        let u = 1.0 - t;
        let w2 = ((a + 2.0) * u - (a + 3.0)) * u * u + 1.0;
        [w0, w1, w2, 1.0 - w0 - w1 - w2]
    }
    let reflect = |i: isize, n: usize| -> usize {
        let n = n as isize;
        let mut i = i.rem_euclid(2 * n);
        if i >= n {
            i = 2 * n - 1 - i;
        }
        i as usize
    };
    let (xf, yf) = (x.floor(), y.floor());
    let (wx, wy) = (weights(x - xf), weights(y - yf));
    let mut acc = 0.0;
    for (j, wyj) in wy.iter().enumerate() {
        let sy = reflect(yf as isize - 1 + j as isize, p.height());
        for (i, wxi) in wx.iter().enumerate() {
            let sx = reflect(xf as isize - 1 + i as isize, p.width());
            acc += wyj * wxi * p.at(sx, sy);
        }
    }
    acc
}

/// frame1 = I(x + F(x)) rounded to 8 bits, as the reference does.
fn warped(img: &Plane, field: &dyn Fn(f32, f32) -> (f32, f32)) -> Plane {
    let w = img.width();
    let data = (0..w * img.height())
        .map(|i| {
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            let (u, v) = field(x, y);
            cubic(img, x + u, y + v).round().clamp(0.0, 255.0)
        })
        .collect();
    Plane::new(w, img.height(), data).unwrap()
}

fn mean_epe(field: &dyn Fn(f32, f32) -> (f32, f32)) -> f64 {
    let next = photo();
    let prev = warped(&next, field);
    let flow = dense_flow(&prev, &next, &FlowParams::default()).unwrap();
    let (w, h) = (next.width(), next.height());
    let (mut sum, mut count) = (0.0f64, 0usize);
    for y in 16..h - 16 {
        for x in 16..w - 16 {
            let (gu, gv) = field(x as f32, y as f32);
            let (sx, sy) = (x as f32 + gu, y as f32 + gv);
            if sx < 0.0 || sy < 0.0 || sx > (w - 1) as f32 || sy > (h - 1) as f32 {
                continue;
            }
            let (u, v) = flow.at(x, y);
            sum += f64::from((u - gu).hypot(v - gv));
            count += 1;
        }
    }
    sum / count as f64
}

#[test]
fn subpixel_translations() {
    for (du, dv) in [(0.37f32, -0.61f32), (2.5, 1.25), (5.3, -3.7)] {
        let epe = mean_epe(&|_, _| (du, dv));
        assert!(epe < EPE_BOUND, "translation ({du}, {dv}): EPE {epe}");
    }
}

#[test]
fn small_affine_motion() {
    // Rotate 0.5°, scale 1.005 about the centre, then shift (0.8, -0.4).
    let (th, s, tx, ty) = (0.5f32.to_radians(), 1.005f32, 0.8f32, -0.4f32);
    let (cx, cy) = (127.5f32, 95.5f32);
    let epe = mean_epe(&|x, y| {
        let xr = s * (th.cos() * (x - cx) - th.sin() * (y - cy)) + cx + tx;
        let yr = s * (th.sin() * (x - cx) + th.cos() * (y - cy)) + cy + ty;
        (xr - x, yr - y)
    });
    assert!(epe < EPE_BOUND, "affine: EPE {epe}");
}

#[test]
fn smooth_warp_field() {
    let epe = mean_epe(&|x, y| {
        (
            2.5 * (x / 256.0 * std::f32::consts::PI * 1.5).sin() * (y / 192.0 * 2.0).cos(),
            -2.0 * (y / 192.0 * std::f32::consts::PI).sin() + 0.8 * (x / 90.0).cos(),
        )
    });
    assert!(epe < EPE_BOUND, "smooth warp: EPE {epe}");
}

#[test]
fn warp_error_is_small_along_the_true_motion_and_large_without_it() {
    let next = photo();
    let prev = warped(&next, &|_, _| (1.5, -0.75));
    let params = FlowParams::default();
    let fwd = dense_flow(&prev, &next, &params).unwrap();
    let bwd = dense_flow(&next, &prev, &params).unwrap();
    let e = warp_error(&prev, &next, &fwd, &bwd).unwrap();
    let zero = framebreak_defects::Flow::zeros(next.width(), next.height());
    let still = warp_error(&prev, &next, &zero, &zero).unwrap();
    assert!(e.valid_fraction > 0.9, "{e:?}");
    assert!(e.value * 20.0 < still.value, "{e:?} vs {still:?}");
}
