//! Every kind of bad input gets its typed error, naming the file, without
//! a panic or a huge allocation.

use std::path::{Path, PathBuf};

use framebreak_media::{Error, FrameSource, ReadOptions, open, open_bytes, read_clip};

fn fixture(name: &str) -> PathBuf {
    framebreak_testkit::fixture!(name)
}

fn read(path: &Path) -> Result<usize, Error> {
    read_clip(path, &ReadOptions::default()).map(|c| c.len())
}

fn names(err: &Error, path: &Path) {
    let text = err.to_string();
    assert!(
        text.contains(&*path.to_string_lossy()),
        "{text:?} does not name {}",
        path.display()
    );
}

#[test]
fn missing_file_is_an_io_error() {
    let path = fixture("no_such_file.mp4");
    let err = read(&path).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    names(&err, &path);
}

#[test]
fn truncated_mp4_is_corrupt() {
    let path = fixture("truncated.mp4");
    let err = read(&path).unwrap_err();
    assert!(
        matches!(err, Error::Corrupt { format: "mp4", .. }),
        "{err:?}"
    );
    names(&err, &path);
}

#[test]
fn corrupt_h264_payload_is_corrupt() {
    let path = fixture("corrupt_payload.mp4");
    let err = read(&path).unwrap_err();
    assert!(
        matches!(err, Error::Corrupt { format: "h264", .. }),
        "{err:?}"
    );
    names(&err, &path);
}

#[test]
fn audio_only_mp4_has_no_frames() {
    let path = fixture("audio_only.mp4");
    let err = read(&path).unwrap_err();
    assert!(matches!(err, Error::NoFrames { .. }), "{err:?}");
    names(&err, &path);
}

#[test]
fn text_file_is_not_a_video() {
    let path = fixture("not_a_video.mp4");
    let err = read(&path).unwrap_err();
    // With ffmpeg on PATH, ffprobe is asked and refuses it; without, it is
    // refused straight away. Either way: an unknown format, named.
    assert!(matches!(err, Error::UnknownFormat { .. }), "{err:?}");
    names(&err, &path);
}

#[test]
fn empty_file_and_empty_folder_have_no_frames() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(read(&empty), Err(Error::NoFrames { .. })));
    let folder = dir.path().join("frames");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("notes.txt"), b"no frames here").unwrap();
    let err = read(&folder).unwrap_err();
    assert!(matches!(err, Error::NoFrames { .. }), "{err:?}");
    names(&err, &folder);
}

#[test]
fn folder_with_a_frame_of_another_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (i, side) in [(1, 8), (2, 8), (3, 16)] {
        image::RgbImage::new(side, side)
            .save(dir.path().join(format!("f{i}.png")))
            .unwrap();
    }
    let err = read(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::SizeChanged {
                index: 2,
                width: 16,
                ..
            }
        ),
        "{err:?}"
    );
}

/// A GIF header claiming 65535×65535 pixels, then one tiny frame.
fn absurd_gif() -> Vec<u8> {
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00]);
    gif.extend_from_slice(&[0x2c, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x00]);
    gif.extend_from_slice(&[0x02, 0x02, 0x44, 0x01, 0x00, 0x3b]);
    gif
}

/// A PNG whose header claims 100000×100000 pixels.
fn absurd_png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn absurd_dimensions_are_refused_before_allocating() {
    for (name, bytes) in [("huge.gif", absurd_gif()), ("huge.png", absurd_png())] {
        let err = open_bytes(Path::new(name), bytes.clone())
            .map(|_| ())
            .unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { .. } | Error::Corrupt { .. }),
            "{name}: {err:?}"
        );
        names(&err, Path::new(name));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        assert!(read(&path).is_err());
    }
}

#[test]
fn mp4_track_with_absurd_size_is_refused() {
    // Patch the tkhd and avc1 sizes of a real file to 60000x60000.
    let mut bytes = std::fs::read(fixture("h264_baseline.mp4")).unwrap();
    let at = |bytes: &[u8], tag: &[u8]| bytes.windows(4).position(|w| w == tag).unwrap();
    let avc1 = at(&bytes, b"avc1");
    // avc1 sample entry: 4 tag + 6 reserved + 2 index + 16 pre-defined, then width/height.
    bytes[avc1 + 28..avc1 + 32].copy_from_slice(&[0xea, 0x60, 0xea, 0x60]);
    let tkhd = at(&bytes, b"tkhd");
    let version = bytes[tkhd + 4];
    let dims = tkhd + 4 + if version == 1 { 88 } else { 76 };
    bytes[dims..dims + 8].copy_from_slice(&[0xea, 0x60, 0, 0, 0xea, 0x60, 0, 0]);
    let err = open_bytes(Path::new("patched.mp4"), bytes)
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLarge {
                width: 60_000,
                height: 60_000,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn codecs_that_need_ffmpeg_are_named_from_memory() {
    for (name, expected) in [
        ("hevc.mp4", "hevc"),
        ("h264_high10.mp4", "h264 (High 10 profile)"),
        ("vp9.webm", "vp9"),
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let err = open_bytes(Path::new(name), bytes).map(|_| ()).unwrap_err();
        match err {
            Error::UnsupportedCodec { codec, hint, .. } => {
                assert_eq!(codec, expected);
                assert!(hint.contains("ffmpeg"), "{hint}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn errors_end_the_stream() {
    let mut source = open(&fixture("corrupt_payload.mp4")).unwrap();
    assert!(source.info().frame_count.is_some());
    let mut saw_error = false;
    for item in source.by_ref() {
        saw_error |= item.is_err();
    }
    assert!(saw_error);
    assert!(source.next().is_none());
}

#[test]
fn child_box_of_size_zero_does_not_hang() {
    // Found by the mutation harness: re_mp4 re-reads a zero-sized child box
    // of moov forever. Zero the size of moov's first child (mvhd).
    let mut bytes = std::fs::read(fixture("h264_main_bframes.mp4")).unwrap();
    let mvhd = bytes.windows(4).position(|w| w == b"mvhd").unwrap();
    bytes[mvhd - 4..mvhd].copy_from_slice(&[0, 0, 0, 0]);
    let err = open_bytes(Path::new("loop.mp4"), bytes)
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(err, Error::Corrupt { format: "mp4", .. }),
        "{err:?}"
    );
}

#[test]
fn child_box_larger_than_its_parent_is_refused_before_allocating() {
    // Found by libFuzzer (kept as a fixture): a `meta` child claiming
    // 2.8 GB made re_mp4 allocate it.
    let path = fixture("fuzz_meta_oom.mp4");
    let err = read(&path).unwrap_err();
    assert!(
        matches!(err, Error::Corrupt { format: "mp4", .. }),
        "{err:?}"
    );
    names(&err, &path);
}
