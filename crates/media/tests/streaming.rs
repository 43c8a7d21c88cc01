//! Streaming keeps memory bounded: decoding a 1280×720 clip frame by frame
//! never holds the whole clip, and `read_clip` keeps only the sampled,
//! resized frames. Measured with a counting allocator (this test binary
//! only).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use framebreak_media::{FrameSource, ReadOptions, Resize, Sampling, open, read_clip};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only adds bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const FRAME_BYTES: usize = 1280 * 720 * 3;

/// Both measurements in one test: the counters are process-wide.
#[test]
fn memory_stays_bounded_while_streaming() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench_1280x720.mp4");

    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let mut source = open(&path).unwrap();
    let total = source.info().frame_count.unwrap() as usize;
    let mut count = 0;
    for frame in source.by_ref() {
        assert_eq!(frame.unwrap().width(), 1280);
        count += 1;
    }
    drop(source);
    let streamed_peak = PEAK.load(Ordering::Relaxed) - base;
    assert_eq!(count, total);
    // The whole clip is 24 frames (66 MB); decoder state is a few frames.
    assert!(
        streamed_peak < 8 * FRAME_BYTES,
        "peak {streamed_peak} bytes while streaming {total} frames of {FRAME_BYTES}"
    );

    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let options = ReadOptions {
        sampling: Sampling::EveryNth(2),
        resize: Some(Resize::MaxSide(160)),
        max_frames: Some(100),
    };
    let clip = read_clip(&path, &options).unwrap();
    let collected_peak = PEAK.load(Ordering::Relaxed) - base;
    assert_eq!(clip.len(), 12);
    assert!(
        collected_peak < 8 * FRAME_BYTES,
        "peak {collected_peak} bytes"
    );
    assert!(clip.frames.iter().all(|f| f.data().len() == 160 * 90 * 3));
}
