//! Defect detectors: one per defect kind, each a [`DefectDetector`].

mod bleed;
mod blocks;
mod camera;
mod chroma;
mod evidence;
mod flicker;
mod frozen;
mod gravity;
mod melt;
mod persist;
mod sparks;
mod teleport;
mod util;
mod warp;

use framebreak_vocab::DefectKind;

pub use bleed::TextureBleed;
pub(crate) use blocks::sample;
pub use blocks::{BlockMotion, MotionField};
pub use camera::Affine;
pub use chroma::ChromaticAberration;
pub use evidence::Evidence;
pub use flicker::Flicker;
pub use frozen::Frozen;
pub use gravity::GravityViolation;
pub use melt::Melt;
pub use sparks::ColorSparks;
pub use teleport::Teleport;
pub use warp::Warp;

use crate::Finding;

/// Finds one or more kinds of defect in a clip.
///
/// A detector gets the clip already measured, as [`Evidence`]: luma planes,
/// block motion, the camera's motion between frames and the residual once
/// the camera is taken out. It returns what it found, in any order; an empty
/// list means the clip looks clean to it. Detectors must not flag what a
/// camera does by itself: pans, zooms and rotations are motion, not defects,
/// so they work on the camera-compensated evidence.
///
/// Only [`detect`](DefectDetector::detect) is required. Detectors are
/// `Send + Sync` so one set serves every worker thread; `&D`, `Box<D>` and
/// `Arc<D>` are detectors too, and `Box<dyn DefectDetector>` works.
///
/// ```
/// use framebreak_defects::{DefectDetector, Evidence, Finding};
/// use framebreak_media::{Clip, ClipInfo, Frame};
/// use framebreak_vocab::DefectKind;
///
/// /// Flags clips that are too dark to judge.
/// struct TooDark;
///
/// impl DefectDetector for TooDark {
///     fn detect(&self, ev: &Evidence<'_>) -> Vec<Finding> {
///         (0..ev.len())
///             .filter(|&i| ev.luma(i).mean() < 16.0)
///             .map(|i| Finding::new(DefectKind::Flicker, i as u64, i as u64, 1.0))
///             .collect()
///     }
/// }
///
/// let frames = (0..3)
///     .map(|i| Frame::from_rgb8(i, i as f64 / 24.0, 64, 48, vec![4; 64 * 48 * 3]))
///     .collect::<Result<Vec<_>, _>>()?;
/// let info = ClipInfo { width: 64, height: 48, fps: 24.0, frame_count: Some(3), codec: "raw".into() };
/// let clip = Clip { info, frames };
/// let ev = Evidence::new(&clip)?;
/// let boxed: Box<dyn DefectDetector> = Box::new(TooDark);
/// assert_eq!(boxed.detect(&ev).len(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[auto_impl::auto_impl(&, Box, Arc)]
pub trait DefectDetector: Send + Sync {
    /// Everything this detector finds in the clip.
    fn detect(&self, evidence: &Evidence<'_>) -> Vec<Finding>;

    /// A short name for logs and reports.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }

    /// The kinds of defect this detector can report.
    fn kinds(&self) -> Vec<DefectKind> {
        DefectKind::ALL.to_vec()
    }
}

// Fails to compile if `DefectDetector` stops being object-safe.
const _: fn(Box<dyn DefectDetector>) = |_| {};

/// One detector per defect kind, with default settings, in the order of
/// [`DefectKind::ALL`].
pub fn default_detectors() -> Vec<Box<dyn DefectDetector>> {
    vec![
        Box::new(Warp::default()),
        Box::new(Melt::default()),
        Box::new(Flicker::default()),
        Box::new(Teleport::default()),
        Box::new(ChromaticAberration::default()),
        Box::new(ColorSparks::default()),
        Box::new(TextureBleed::default()),
        Box::new(GravityViolation::default()),
        Box::new(Frozen::default()),
    ]
}
