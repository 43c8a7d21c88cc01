// The body shared by the cargo-fuzz targets (fuzz_targets/*.rs) and the
// stable mutation harness (tests/fuzz_mutations.rs), included by both so
// they exercise exactly the same code.

/// Decodes `bytes` in memory, frame by frame, up to 64 frames. Any error is
/// fine; a panic, a crash or a runaway allocation is a bug. Frames must
/// match the size the source announced.
pub fn decode_bytes(name: &str, bytes: &[u8]) {
    let Ok(mut source) = framebreak_media::open_bytes(std::path::Path::new(name), bytes.to_vec())
    else {
        return;
    };
    let mut size = None;
    for item in source.by_ref().take(64) {
        let Ok(frame) = item else { break };
        let this = (frame.width(), frame.height());
        assert_eq!(
            *size.get_or_insert(this),
            this,
            "{name}: frame size changed mid-stream"
        );
        assert_eq!(frame.data().len(), this.0 as usize * this.1 as usize * 3);
    }
    let info = framebreak_media::FrameSource::info(&source);
    if let Some((w, h)) = size {
        assert_eq!(
            (info.width, info.height),
            (w, h),
            "{name}: info disagrees with the frames"
        );
    }
}

/// Makes the input look like `magic` at `at`, so mutations explore the
/// format's decoder rather than the format sniffer.
pub fn with_magic(bytes: &[u8], at: usize, magic: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if out.len() < at + magic.len() {
        out.resize(at + magic.len(), 0);
    }
    out[at..at + magic.len()].copy_from_slice(magic);
    out
}

/// Whether a panic is one framebreak-media expects and handles: re_mp4
/// panics on some inconsistent boxes (integer underflow, `unreachable!`),
/// which `open_bytes` catches and reports as `Error::Corrupt`. Any other
/// panic (ours, or a decoder's on the worker thread, which would otherwise
/// surface only as "the decoder stopped") is a bug.
pub fn panic_is_expected(info: &std::panic::PanicHookInfo<'_>) -> bool {
    info.location().is_some_and(|l| l.file().contains("re_mp4"))
}
