//! What detectors look at: a clip's frames with the camera taken out.
//!
//! Everything here is computed once per clip and shared by every detector:
//! luma planes, block motion and the camera's affine motion per pair of
//! frames, the residual once the camera is compensated, and where each frame
//! sits in the first frame's coordinates (so tracks are measured in the
//! scene, not on the screen).

use framebreak_media::Clip;

use crate::detect::blocks::{MotionField, half, motion_field, sample};
use crate::detect::camera::Affine;
use crate::{Error, Plane};

/// How far (in quarter-size pixels, so 4× in frame pixels) block matching
/// searches around its guess of the camera's motion.
const SEARCH: i32 = 5;

/// A clip prepared for the detectors.
///
/// Pair `i` is frames `i` and `i + 1`. Build it with [`Evidence::new`]; the
/// [`Analyzer`](crate::Analyzer) does so for you.
pub struct Evidence<'a> {
    clip: &'a Clip,
    luma: Vec<Plane>,
    halves: Vec<Plane>,
    fields: Vec<MotionField>,
    residual: Vec<Plane>,
    to_first: Vec<Affine>,
}

impl std::fmt::Debug for Evidence<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evidence")
            .field("frames", &self.luma.len())
            .field("width", &self.width())
            .field("height", &self.height())
            .finish()
    }
}

impl<'a> Evidence<'a> {
    /// Measures the clip: luma, block motion, camera, residuals.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a clip with no frames, frames smaller
    /// than 32×32, or frames of different sizes.
    pub fn new(clip: &'a Clip) -> Result<Self, Error> {
        let bad = |reason: String| Error::InvalidInput {
            what: "clip".into(),
            reason,
        };
        let first = clip
            .frames
            .first()
            .ok_or_else(|| bad("it has no frames".into()))?;
        let (w, h) = (first.width(), first.height());
        if w < 32 || h < 32 {
            return Err(bad(format!(
                "frames of {w}x{h} are too small to analyse (at least 32x32)"
            )));
        }
        if let Some(f) = clip
            .frames
            .iter()
            .find(|f| (f.width(), f.height()) != (w, h))
        {
            return Err(bad(format!(
                "frame {} is {}x{}, frame 0 is {w}x{h}",
                f.index(),
                f.width(),
                f.height()
            )));
        }
        use rayon::prelude::*;
        // Per-frame and per-pair work is independent, so it is spread over
        // the cores; only the motion fields chain (each starts from the
        // previous camera) and stay sequential.
        let luma: Vec<Plane> = clip.frames.par_iter().map(Plane::luma).collect();
        let halves: Vec<Plane> = luma.par_iter().map(half).collect();
        let mut fields: Vec<MotionField> = Vec::with_capacity(luma.len().saturating_sub(1));
        for i in 1..halves.len() {
            let prior = fields.last().map_or(Affine::IDENTITY, |f| f.camera);
            fields.push(motion_field(&halves[i - 1], &halves[i], &prior, SEARCH));
        }
        let residual = fields
            .par_iter()
            .enumerate()
            .map(|(i, f)| compensated_difference(&luma[i], &luma[i + 1], &f.camera))
            .collect();
        let mut to_first = vec![Affine::IDENTITY];
        for f in &fields {
            let back = f.camera.inverse().unwrap_or(Affine::IDENTITY);
            let prev = *to_first.last().unwrap_or(&Affine::IDENTITY);
            to_first.push(prev.after(&back));
        }
        Ok(Evidence {
            clip,
            luma,
            halves,
            fields,
            residual,
            to_first,
        })
    }

    /// The clip being analysed.
    pub fn clip(&self) -> &'a Clip {
        self.clip
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.luma.len()
    }

    /// True when there are no frames (never, for evidence built by `new`).
    pub fn is_empty(&self) -> bool {
        self.luma.is_empty()
    }

    /// Frame width in pixels.
    pub fn width(&self) -> usize {
        self.luma.first().map_or(0, Plane::width)
    }

    /// Frame height in pixels.
    pub fn height(&self) -> usize {
        self.luma.first().map_or(0, Plane::height)
    }

    /// Luma of frame `i`.
    pub fn luma(&self, i: usize) -> &Plane {
        &self.luma[i]
    }

    /// Luma of frame `i` at half size (2×2 means), as the block motion
    /// measures it.
    pub fn half(&self, i: usize) -> &Plane {
        &self.halves[i]
    }

    /// Block motion and camera of pair `i` (frames `i`, `i + 1`).
    pub fn field(&self, i: usize) -> &MotionField {
        &self.fields[i]
    }

    /// Every pair's motion, in order.
    pub fn fields(&self) -> &[MotionField] {
        &self.fields
    }

    /// `luma(i + 1) − luma(i)` moved by the camera, per pixel of frame
    /// `i + 1`; NaN where the camera brought in content frame `i` lacked.
    pub fn residual(&self, i: usize) -> &Plane {
        &self.residual[i]
    }

    /// The map from frame `i`'s pixels to frame 0's: positions in it are
    /// positions in the scene, whatever the camera did.
    pub fn to_first(&self, i: usize) -> &Affine {
        &self.to_first[i]
    }
}

/// `next − prev∘camera⁻¹` per pixel of `next`, NaN outside `prev`.
pub(crate) fn compensated_difference(prev: &Plane, next: &Plane, camera: &Affine) -> Plane {
    let back = camera.inverse().unwrap_or(Affine::IDENTITY);
    let (w, h) = (next.width(), next.height());
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        let row = next.row(y);
        for (x, &v) in row.iter().enumerate() {
            let (sx, sy) = back.apply(x as f64, y as f64);
            out.push(sample(prev, sx, sy).map_or(f32::NAN, |p| v - p));
        }
    }
    Plane::new(w, h, out).unwrap_or_else(|_| Plane::filled(w, h, f32::NAN))
}
