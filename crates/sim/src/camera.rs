//! A smooth camera over a world larger than the view: pan and zoom eased in
//! and out, so that no frame jerks.

use rand_core::RngCore;

use crate::plan::{range, unit};
use crate::raster::Image;

/// Maps world pixels to screen pixels at each frame.
#[derive(Clone, Debug)]
pub(crate) struct Camera {
    w: f64,
    h: f64,
    c0: (f64, f64),
    d: (f64, f64),
    zoom: f64,
    frames: f64,
}

fn ease(t: f64) -> f64 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

impl Camera {
    /// A camera over a world of `ww`×`wh` showing `w`×`h`; `travel` scales
    /// how far it pans (1 = as far as the margin allows).
    pub(crate) fn new(
        w: u32,
        h: u32,
        world: (usize, usize),
        frames: u32,
        travel: f64,
        rng: &mut impl RngCore,
    ) -> Self {
        let (w, h) = (f64::from(w), f64::from(h));
        let still = unit(rng) < 0.15 && travel < 1.0;
        let ang = range(rng, 0.0, std::f64::consts::TAU);
        let margin = ((world.0 as f64 - w) / 2.0).min((world.1 as f64 - h) / 2.0) * 0.85;
        let dist = if still {
            0.0
        } else {
            margin * travel * range(rng, 0.4, 1.0)
        };
        let zoom = if still { 0.0 } else { range(rng, 0.0, 0.1) };
        Self {
            w,
            h,
            c0: (world.0 as f64 / 2.0, world.1 as f64 / 2.0),
            d: (dist * ang.cos(), dist * ang.sin()),
            zoom,
            frames: f64::from(frames.max(2) - 1),
        }
    }

    fn at(&self, t: f64) -> (f64, f64, f64) {
        let e = ease(t / self.frames);
        (
            self.c0.0 + self.d.0 * e,
            self.c0.1 + self.d.1 * e,
            1.0 + self.zoom * e,
        )
    }

    /// Where world point `(x, y)` is on screen at frame `t`.
    pub(crate) fn to_screen(&self, t: f64, x: f64, y: f64) -> (f64, f64) {
        let (cx, cy, s) = self.at(t);
        (s * (x - cx) + self.w / 2.0, s * (y - cy) + self.h / 2.0)
    }

    /// Which world point is at screen `(x, y)` at frame `t`.
    pub(crate) fn to_world(&self, t: f64, x: f64, y: f64) -> (f64, f64) {
        let (cx, cy, s) = self.at(t);
        ((x - self.w / 2.0) / s + cx, (y - self.h / 2.0) / s + cy)
    }

    /// Films `world` at frame `t`.
    pub(crate) fn film(&self, world: &Image, t: f64) -> Image {
        let (w, h) = (self.w as usize, self.h as usize);
        let mut out = Image::new(w, h);
        let (cx, cy, s) = self.at(t);
        let inv = 1.0 / s;
        for y in 0..h {
            let wy = (y as f64 + 0.5 - self.h / 2.0) * inv + cy;
            for x in 0..w {
                let wx = (x as f64 + 0.5 - self.w / 2.0) * inv + cx;
                out.set(x, y, world.sample(wx, wy));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::stream;

    #[test]
    fn screen_and_world_are_inverse_and_the_view_stays_in_the_world() {
        for i in 0..20u8 {
            let cam = Camera::new(320, 240, (480, 360), 96, 1.0, &mut stream(&[&[i]]));
            for t in [0.0, 30.0, 95.0] {
                let (wx, wy) = cam.to_world(t, 10.0, 200.0);
                let (sx, sy) = cam.to_screen(t, wx, wy);
                assert!((sx - 10.0).abs() < 1e-9 && (sy - 200.0).abs() < 1e-9);
                for (x, y) in [(0.0, 0.0), (320.0, 240.0)] {
                    let (wx, wy) = cam.to_world(t, x, y);
                    assert!((0.0..=480.0).contains(&wx) && (0.0..=360.0).contains(&wy));
                }
            }
        }
    }
}
