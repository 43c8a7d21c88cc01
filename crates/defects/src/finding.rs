//! One defect found in a video: what, when, where, how sure.

use framebreak_vocab::DefectKind;
use serde::{Deserialize, Serialize};

/// A rectangle in pixels, serialised as `[x, y, w, h]` (ARCHITECTURE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "[u32; 4]", into = "[u32; 4]")]
pub struct BBox {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl BBox {
    /// The smallest box holding both.
    #[must_use]
    pub fn union(self, other: BBox) -> BBox {
        let x = self.x.min(other.x);
        let y = self.y.min(other.y);
        let right = (self.x + self.w).max(other.x + other.w);
        let bottom = (self.y + self.h).max(other.y + other.h);
        BBox {
            x,
            y,
            w: right - x,
            h: bottom - y,
        }
    }

    /// Area of the intersection divided by the area of the union (0 when
    /// either box is empty).
    pub fn iou(self, other: BBox) -> f64 {
        let ix = (self.x + self.w)
            .min(other.x + other.w)
            .saturating_sub(self.x.max(other.x));
        let iy = (self.y + self.h)
            .min(other.y + other.h)
            .saturating_sub(self.y.max(other.y));
        let inter = f64::from(ix) * f64::from(iy);
        let union =
            f64::from(self.w) * f64::from(self.h) + f64::from(other.w) * f64::from(other.h) - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
}

impl From<[u32; 4]> for BBox {
    fn from([x, y, w, h]: [u32; 4]) -> Self {
        BBox { x, y, w, h }
    }
}

impl From<BBox> for [u32; 4] {
    fn from(b: BBox) -> Self {
        [b.x, b.y, b.w, b.h]
    }
}

/// A defect a detector found: its kind, the frames it spans (from 0,
/// `end_frame` inclusive), a confidence in `[0, 1]`, and where it is, when
/// the detector can say.
///
/// ```
/// use framebreak_defects::{BBox, Finding};
/// use framebreak_vocab::DefectKind;
///
/// let f = Finding::new(DefectKind::Melt, 20, 47, 0.91).with_bbox(BBox { x: 40, y: 60, w: 120, h: 90 });
/// assert_eq!(
///     serde_json::to_string(&f)?,
///     r#"{"kind":"melt","start_frame":20,"end_frame":47,"score":0.91,"bbox":[40,60,120,90]}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What went wrong.
    pub kind: DefectKind,
    /// First frame showing it.
    pub start_frame: u64,
    /// Last frame showing it (inclusive).
    pub end_frame: u64,
    /// Confidence in `[0, 1]`.
    pub score: f64,
    /// Where, in pixels of the analysed frames, or `None` for the whole frame.
    pub bbox: Option<BBox>,
}

impl Finding {
    /// A finding over the whole frame; the score is clamped into `[0, 1]`
    /// (NaN becomes 0) and the frames put in order.
    pub fn new(kind: DefectKind, start_frame: u64, end_frame: u64, score: f64) -> Self {
        let score = if score.is_nan() {
            0.0
        } else {
            score.clamp(0.0, 1.0)
        };
        Finding {
            kind,
            start_frame: start_frame.min(end_frame),
            end_frame: start_frame.max(end_frame),
            score,
            bbox: None,
        }
    }

    /// The same finding, located.
    #[must_use]
    pub fn with_bbox(mut self, bbox: BBox) -> Self {
        self.bbox = Some(bbox);
        self
    }

    /// Number of frames spanned.
    pub fn frames(&self) -> u64 {
        self.end_frame - self.start_frame + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_with_and_without_bbox() {
        for f in [
            Finding::new(DefectKind::ColorSparks, 3, 5, 0.5),
            Finding::new(DefectKind::GravityViolation, 9, 2, 1.5).with_bbox([1, 2, 3, 4].into()),
        ] {
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(serde_json::from_str::<Finding>(&json).unwrap(), f);
        }
        let null: Finding = serde_json::from_str(
            r#"{"kind":"frozen","start_frame":0,"end_frame":1,"score":0.2,"bbox":null}"#,
        )
        .unwrap();
        assert_eq!(null.bbox, None);
        let clamped = Finding::new(DefectKind::Warp, 9, 2, 1.5);
        assert_eq!(
            (clamped.start_frame, clamped.end_frame, clamped.score),
            (2, 9, 1.0)
        );
        assert_eq!(Finding::new(DefectKind::Warp, 0, 0, f64::NAN).score, 0.0);
    }

    #[test]
    fn boxes_union_and_overlap() {
        let a = BBox::from([0, 0, 10, 10]);
        let b = BBox::from([5, 5, 10, 10]);
        assert_eq!(a.union(b), BBox::from([0, 0, 15, 15]));
        assert!((a.iou(b) - 25.0 / 175.0).abs() < 1e-12);
        assert_eq!(a.iou(BBox::from([20, 20, 1, 1])), 0.0);
    }
}
