//! Properties of the metrics on arbitrary inputs: identity, symmetry,
//! infinite PSNR handled, pure translations recovered.

use framebreak_defects::{FlowParams, Plane, dense_flow, psnr, psnr_plane, ssim};
use framebreak_media::Frame;
use proptest::prelude::*;

/// A smooth random texture: a few sinusoids with random frequencies/phases.
fn texture(w: usize, h: usize, seed: &[f32; 6]) -> Plane {
    let data = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            128.0
                + 45.0 * (x * (0.08 + 0.2 * seed[0]) + y * 0.05 + seed[1] * 6.0).sin()
                + 35.0 * (y * (0.07 + 0.2 * seed[2]) - x * 0.03 + seed[3] * 6.0).cos()
                + 25.0 * (x * (0.3 + 0.2 * seed[4])).sin() * (y * (0.25 + 0.2 * seed[5])).sin()
        })
        .collect();
    Plane::new(w, h, data).unwrap()
}

fn plane_strategy() -> impl Strategy<Value = Plane> {
    (
        11usize..40,
        11usize..40,
        proptest::collection::vec(0u8..=255, 40 * 40),
    )
        .prop_map(|(w, h, v)| {
            Plane::new(w, h, v[..w * h].iter().map(|&b| f32::from(b)).collect()).unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn ssim_of_a_plane_with_itself_is_one(p in plane_strategy()) {
        let s = ssim(&p, &p).unwrap();
        prop_assert!((s - 1.0).abs() < 1e-6, "{}", s);
    }

    #[test]
    fn ssim_is_symmetric_and_bounded(p in plane_strategy(), noise in proptest::collection::vec(-40i16..40, 40 * 40)) {
        let q = Plane::new(
            p.width(),
            p.height(),
            p.data().iter().zip(&noise).map(|(&v, &n)| (v + f32::from(n)).clamp(0.0, 255.0)).collect(),
        ).unwrap();
        let (ab, ba) = (ssim(&p, &q).unwrap(), ssim(&q, &p).unwrap());
        prop_assert!((ab - ba).abs() < 1e-6, "{} vs {}", ab, ba);
        prop_assert!((-1.0 - 1e-6..=1.0 + 1e-6).contains(&ab));
    }

    #[test]
    fn psnr_of_identical_frames_is_infinite_and_otherwise_symmetric(
        bytes in proptest::collection::vec(any::<u8>(), 3 * 64),
        flip in 0usize..64,
    ) {
        let a = Frame::from_rgb8(0, 0.0, 8, 8, bytes.clone()).unwrap();
        prop_assert_eq!(psnr(&a, &a).unwrap(), f64::INFINITY);
        let mut other = bytes;
        other[flip * 3] ^= 0x55;
        let b = Frame::from_rgb8(0, 0.0, 8, 8, other).unwrap();
        let (ab, ba) = (psnr(&a, &b).unwrap(), psnr(&b, &a).unwrap());
        prop_assert!(ab.is_finite() && ab == ba);
        let pa = Plane::channel(&a, 0).unwrap();
        prop_assert_eq!(psnr_plane(&pa, &pa, 255.0).unwrap(), f64::INFINITY);
    }
}

proptest! {
    // Flow is the slow one in a debug build: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn flow_of_a_pure_translation_recovers_it(
        seed in proptest::array::uniform6(0f32..1.0),
        du in -4.0f32..4.0,
        dv in -4.0f32..4.0,
    ) {
        let (w, h) = (96, 72);
        let big = texture(w + 20, h + 20, &seed);
        // prev(x) = big(x + 10 + d), next(x) = big(x + 10): flow = d.
        let shift = |ox: f32, oy: f32| {
            let data = (0..w * h)
                .map(|i| {
                    let (x, y) = ((i % w) as f32 + 10.0 + ox, (i / w) as f32 + 10.0 + oy);
                    let (x0, y0) = (x.floor(), y.floor());
                    let (fx, fy) = (x - x0, y - y0);
                    let (x0, y0) = (x0 as usize, y0 as usize);
                    big.at(x0, y0) * (1.0 - fx) * (1.0 - fy)
                        + big.at(x0 + 1, y0) * fx * (1.0 - fy)
                        + big.at(x0, y0 + 1) * (1.0 - fx) * fy
                        + big.at(x0 + 1, y0 + 1) * fx * fy
                })
                .collect();
            Plane::new(w, h, data).unwrap()
        };
        let (prev, next) = (shift(du, dv), shift(0.0, 0.0));
        let flow = dense_flow(&prev, &next, &FlowParams::default()).unwrap();
        let (mut su, mut sv, mut n) = (0.0f64, 0.0f64, 0.0f64);
        for y in 12..h - 12 {
            for x in 12..w - 12 {
                let (u, v) = flow.at(x, y);
                su += f64::from(u);
                sv += f64::from(v);
                n += 1.0;
            }
        }
        let (mu, mv) = (su / n, sv / n);
        prop_assert!((mu - f64::from(du)).abs() < 0.1 && (mv - f64::from(dv)).abs() < 0.1,
            "recovered ({}, {}) for ({}, {})", mu, mv, du, dv);
    }
}
