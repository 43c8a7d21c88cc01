//! Streaming keeps memory bounded: decoding a 1280×720 clip frame by frame
//! never holds the whole clip, and `read_clip` keeps only the sampled,
//! resized frames. Measured with a counting allocator (this test binary
//! only).

use std::path::Path;

use framebreak_media::{FrameSource, ReadOptions, Resize, Sampling, open, read_clip};

framebreak_testkit::count_allocations!();

const FRAME_BYTES: usize = 1280 * 720 * 3;

/// Both measurements in one test: the counters are process-wide.
#[test]
fn memory_stays_bounded_while_streaming() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench_1280x720.mp4");

    let base = framebreak_testkit::live();
    framebreak_testkit::reset_peak();
    let mut source = open(&path).unwrap();
    let total = source.info().frame_count.unwrap() as usize;
    let mut count = 0;
    for frame in source.by_ref() {
        assert_eq!(frame.unwrap().width(), 1280);
        count += 1;
    }
    drop(source);
    let streamed_peak = framebreak_testkit::peak() - base;
    assert_eq!(count, total);
    // The whole clip is 24 frames (66 MB); decoder state is a few frames.
    assert!(
        streamed_peak < 8 * FRAME_BYTES,
        "peak {streamed_peak} bytes while streaming {total} frames of {FRAME_BYTES}"
    );

    let base = framebreak_testkit::live();
    framebreak_testkit::reset_peak();
    let options = ReadOptions {
        sampling: Sampling::EveryNth(2),
        resize: Some(Resize::MaxSide(160)),
        max_frames: Some(100),
    };
    let clip = read_clip(&path, &options).unwrap();
    let collected_peak = framebreak_testkit::peak() - base;
    assert_eq!(clip.len(), 12);
    assert!(
        collected_peak < 8 * FRAME_BYTES,
        "peak {collected_peak} bytes"
    );
    assert!(clip.frames.iter().all(|f| f.data().len() == 160 * 90 * 3));
}
