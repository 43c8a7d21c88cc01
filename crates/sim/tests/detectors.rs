//! The defects crate's detectors on the simulator's own clips, where a
//! clip once drew a false finding: rendered, encoded as H.264, decoded and
//! analysed as a campaign would.

use framebreak_client::VideoRequest;
use framebreak_defects::{ChromaticAberration, DefectDetector, Evidence};
use framebreak_media::{ReadOptions, read_clip};
use framebreak_sim::{Profile, Simulator};

/// A clean pour-scene clip (the sim evaluation's clip 455): an orange kettle
/// and blue droplets on a blue sky. Through H.264's half-resolution colour
/// the kettle's red edges, which rise where green falls, read as shifted
/// 2-3 px against green while blue stays aligned; the detector flagged the
/// kettle's corner as chromatic aberration until a fringe had to shift
/// both red and blue.
#[test]
fn a_saturated_kettle_through_h264_is_no_colour_fringe() {
    let request = VideoRequest::new(
        "Thin smoke rises and curls from a stick of incense on a sunlit windowsill",
    )
    .size(320, 240)
    .duration_secs(2)
    .seed(455);
    let video = Simulator::new(Profile::weak())
        .unwrap()
        .render(&request)
        .unwrap();
    assert!(video.truth.defects.is_empty(), "{:?}", video.truth.defects);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("455.mp4");
    std::fs::write(&path, &video.mp4).unwrap();
    let clip = read_clip(&path, &ReadOptions::default()).unwrap();
    let found = ChromaticAberration::default().detect(&Evidence::new(&clip).unwrap());
    assert!(found.is_empty(), "{found:?}");
}
