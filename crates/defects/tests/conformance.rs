//! The detector conformance suite on every built-in detector, and on
//! broken ones it must catch.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};

use framebreak_defects::{DefectDetector, Evidence, Finding, conformance, default_detectors};
use framebreak_vocab::DefectKind;

#[test]
fn every_built_in_detector_passes_the_suite() {
    for d in default_detectors() {
        conformance::run_all(d.as_ref());
    }
}

/// Flags a flicker on every frame.
struct Jumpy;

impl DefectDetector for Jumpy {
    fn detect(&self, ev: &Evidence<'_>) -> Vec<Finding> {
        (0..ev.len() as u64)
            .map(|t| Finding::new(DefectKind::Flicker, t, t, 0.9))
            .collect()
    }
}

/// Reports a frame past the end of the clip.
struct PastTheEnd;

impl DefectDetector for PastTheEnd {
    fn detect(&self, ev: &Evidence<'_>) -> Vec<Finding> {
        vec![Finding::new(DefectKind::Melt, 0, ev.len() as u64, 0.5)]
    }
}

/// Says something different each time.
#[derive(Default)]
struct Moody(AtomicU64);

impl DefectDetector for Moody {
    fn detect(&self, _: &Evidence<'_>) -> Vec<Finding> {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        (0..n % 2)
            .map(|_| Finding::new(DefectKind::Warp, 0, 1, 0.2))
            .collect()
    }
}

/// Reports a kind it says it does not report.
struct Mislabelled;

impl DefectDetector for Mislabelled {
    fn detect(&self, _: &Evidence<'_>) -> Vec<Finding> {
        vec![Finding::new(DefectKind::Teleport, 0, 0, 0.1)]
    }
    fn kinds(&self) -> Vec<DefectKind> {
        vec![DefectKind::Warp]
    }
}

fn fails(detector: &dyn DefectDetector) -> bool {
    catch_unwind(AssertUnwindSafe(|| conformance::run_all(detector))).is_err()
}

#[test]
fn broken_detectors_fail_the_suite() {
    assert!(fails(&Jumpy), "a detector that fires on a clean pan passed");
    assert!(fails(&PastTheEnd), "a finding past the clip passed");
    assert!(
        fails(&Moody::default()),
        "a detector that changes its mind passed"
    );
    assert!(fails(&Mislabelled), "a kind the detector disowns passed");
}
