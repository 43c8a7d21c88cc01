//! A file longer than the analysis window: read and analysed window by
//! window, reported as one video in its own frame numbers.

use framebreak_defects::{Analyzer, Window};
use framebreak_media::{Frame, write_mp4};
use framebreak_vocab::DefectKind;

const W: u32 = 96;
const H: u32 = 64;
const FRAMES: u64 = 60;
/// Frames twice as bright as their neighbours: one pair in each half.
const PULSES: [u64; 2] = [14, 44];

/// A textured scene panning a pixel a frame, with a flash at each of
/// [`PULSES`].
fn frames() -> Vec<Frame> {
    (0..FRAMES)
        .map(|i| {
            let gain = if PULSES.iter().any(|&p| (p..p + 2).contains(&i)) {
                1.7
            } else {
                1.0
            };
            let mut data = Vec::with_capacity((W * H * 3) as usize);
            for y in 0..H {
                for x in 0..W {
                    let (xf, yf) = (f64::from(x) + i as f64, f64::from(y));
                    let v = 90.0
                        + 40.0 * (xf * 0.23).sin() * (yf * 0.19).cos()
                        + 25.0 * ((xf + yf) * 0.11).sin();
                    let v = (v * gain).clamp(0.0, 255.0) as u8;
                    data.extend([v, v.saturating_sub(10), v.saturating_add(5)]);
                }
            }
            Frame::from_rgb8(i, i as f64 / 24.0, W, H, data)
        })
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

#[test]
fn a_video_longer_than_the_window_is_one_report_in_its_own_frame_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.mp4");
    write_mp4(&path, &frames(), 24.0).unwrap();
    let whole = Analyzer::new()
        .window(Window {
            frames: 128,
            overlap: 24,
        })
        .analyze_file(&path)
        .unwrap();
    let windowed = Analyzer::new()
        .window(Window {
            frames: 24,
            overlap: 6,
        })
        .analyze_file(&path)
        .unwrap();
    assert_eq!((whole.frames, windowed.frames), (FRAMES, FRAMES));
    // Each flash is found, once, at its own frames, in the second half too.
    for report in [&whole, &windowed] {
        for p in PULSES {
            let hits: Vec<_> = report
                .defects
                .iter()
                .filter(|f| {
                    f.kind == DefectKind::Flicker && f.start_frame <= p + 1 && p <= f.end_frame
                })
                .collect();
            assert_eq!(hits.len(), 1, "flash at {p}: {:?}", report.defects);
        }
        assert!(report.defects.iter().all(|f| f.end_frame < FRAMES));
    }
    let mut sorted = windowed.defects.clone();
    sorted.sort_by_key(|f| (f.start_frame, f.kind, f.end_frame));
    assert_eq!(sorted, windowed.defects, "findings in frame order");
}

#[test]
fn an_unusable_window_is_refused_before_reading() {
    let err = Analyzer::new()
        .window(Window {
            frames: 10,
            overlap: 8,
        })
        .analyze_file(std::path::Path::new("/nonexistent.mp4"))
        .unwrap_err();
    assert!(
        err.to_string().contains("10 frames overlapping by 8"),
        "{err}"
    );
}
