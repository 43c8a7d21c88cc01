//! Streaming frame access: the [`FrameSource`] trait and [`open`], which
//! recognises a file's format and picks the decoder.

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use crate::{ClipInfo, Error, Frame, anim, ffmpeg, folder, mp4_source};

/// A stream of decoded frames, in presentation order, one at a time: a long
/// video is never held whole in memory.
///
/// After an `Err` item the source is done (it yields `None`). Every decoder
/// in this crate implements it, and so do `Box<dyn FrameSource>` and
/// `&mut S` (to read part of a source and keep it).
///
/// ```
/// use framebreak_media::{Frame, FrameSource};
/// # fn main() -> Result<(), framebreak_media::Error> {
/// let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/anim.gif");
/// let mut source = framebreak_media::open(&path)?;
/// assert_eq!((source.info().width, source.info().height), (64, 48));
/// let first: Frame = source.next().expect("a frame")?;
/// assert_eq!(first.index(), 0);
/// # Ok(()) }
/// ```
#[auto_impl::auto_impl(Box, &mut)]
pub trait FrameSource: Iterator<Item = Result<Frame, Error>> + Send {
    /// What is known about the video: size, nominal fps, frame count if the
    /// container says, codec.
    fn info(&self) -> &ClipInfo;
}

// Fails to compile if `FrameSource` stops being object-safe (`open`
// returns `Box<dyn FrameSource>`).
const _: fn(Box<dyn FrameSource>) = |_| {};

/// The container or image format, recognised from the first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Mp4,
    Gif,
    Png,
    WebP,
    Jpeg,
    /// Matroska or WebM: VP8, VP9, AV1…, which only ffmpeg reads.
    Matroska,
    /// Anything else, which only ffmpeg may read.
    Other,
}

/// How many bytes of a Matroska file are searched for its video codec: the
/// Tracks element comes within the first few hundred bytes of what muxers
/// write.
const MATROSKA_HEAD: usize = 4096;

/// The codec of a Matroska/WebM file's first video track, from the
/// `CodecID` strings in its first bytes, for an error that names it.
fn matroska_codec(head: &[u8]) -> &'static str {
    const IDS: [(&[u8], &str); 6] = [
        (b"V_VP9", "vp9"),
        (b"V_VP8", "vp8"),
        (b"V_AV1", "av1"),
        (b"V_MPEGH/ISO/HEVC", "hevc"),
        (b"V_MPEG4/ISO/AVC", "h264 (in Matroska)"),
        (b"V_THEORA", "theora"),
    ];
    IDS.iter()
        .find(|(id, _)| head.windows(id.len()).any(|w| w == *id))
        .map_or("an unknown codec in Matroska/WebM", |(_, name)| name)
}

fn sniff(head: &[u8]) -> Format {
    match head {
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => Format::Mp4,
        [b'G', b'I', b'F', b'8', ..] => Format::Gif,
        [0x89, b'P', b'N', b'G', ..] => Format::Png,
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => Format::WebP,
        [0xFF, 0xD8, 0xFF, ..] => Format::Jpeg,
        [0x1A, 0x45, 0xDF, 0xA3, ..] => Format::Matroska,
        _ => Format::Other,
    }
}

/// Opens a video for streaming: MP4 (H.264 decoded in-process; HEVC, AV1,
/// VP9 through an `ffmpeg` binary on `PATH`), animated GIF, APNG, animated
/// WebP, a single PNG/JPEG, or a folder of numbered PNG/JPEG frames.
///
/// Only the container's index is read here; frames are decoded as the
/// source is iterated.
pub fn open(path: &Path) -> Result<Box<dyn FrameSource>, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Ok(Box::new(folder::FolderSource::open(path)?));
    }
    let mut head = [0u8; 16];
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let n = read_up_to(&mut file, &mut head).map_err(|e| Error::io(path, e))?;
    let format = sniff(&head[..n]);
    match format {
        Format::Mp4 => match mp4_source::parse(path, BufReader::new(file))? {
            Ok(source) => Ok(Box::new(source)),
            Err(mp4_source::OtherCodec(codec)) => ffmpeg::open(path, Some(&codec)),
        },
        Format::Gif | Format::Png | Format::WebP | Format::Jpeg => {
            file.seek(SeekFrom::Start(0))
                .map_err(|e| Error::io(path, e))?;
            let source = anim::AnimSource::start(path, anim_kind(format), BufReader::new(file))?;
            Ok(Box::new(source))
        }
        Format::Matroska => {
            let mut head = Vec::with_capacity(MATROSKA_HEAD);
            file.seek(SeekFrom::Start(0))
                .and_then(|_| {
                    (&mut file)
                        .take(MATROSKA_HEAD as u64)
                        .read_to_end(&mut head)
                })
                .map_err(|e| Error::io(path, e))?;
            ffmpeg::open(path, Some(matroska_codec(&head)))
        }
        Format::Other if n == 0 => Err(Error::NoFrames {
            path: path.to_path_buf(),
            reason: "the file is empty".into(),
        }),
        Format::Other => ffmpeg::open(path, None),
    }
}

/// Decodes a video held in memory (the formats [`open`] decodes
/// in-process: MP4/H.264, GIF, APNG, WebP, PNG, JPEG). `name` stands for the
/// input in errors. Codecs that need ffmpeg are refused with
/// [`Error::UnsupportedCodec`].
pub fn open_bytes(name: &Path, bytes: Vec<u8>) -> Result<Box<dyn FrameSource>, Error> {
    match sniff(&bytes) {
        Format::Mp4 => match mp4_source::parse(name, Cursor::new(bytes))? {
            Ok(source) => Ok(Box::new(source)),
            Err(mp4_source::OtherCodec(codec)) => Err(ffmpeg::needs_file(name, &codec)),
        },
        format @ (Format::Gif | Format::Png | Format::WebP | Format::Jpeg) => {
            let source = anim::AnimSource::start(name, anim_kind(format), Cursor::new(bytes))?;
            Ok(Box::new(source))
        }
        Format::Matroska => {
            let head = &bytes[..bytes.len().min(MATROSKA_HEAD)];
            Err(ffmpeg::needs_file(name, matroska_codec(head)))
        }
        Format::Other if bytes.is_empty() => Err(Error::NoFrames {
            path: name.to_path_buf(),
            reason: "the input is empty".into(),
        }),
        Format::Other => Err(Error::UnknownFormat {
            path: name.to_path_buf(),
            reason: "not MP4, GIF, PNG, WebP or JPEG".into(),
        }),
    }
}

fn anim_kind(format: Format) -> anim::Kind {
    match format {
        Format::Gif => anim::Kind::Gif,
        Format::Png => anim::Kind::Png,
        Format::WebP => anim::Kind::WebP,
        _ => anim::Kind::Jpeg,
    }
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_formats_by_magic_bytes() {
        assert_eq!(sniff(b"\0\0\0\x20ftypisom"), Format::Mp4);
        assert_eq!(sniff(b"GIF89a"), Format::Gif);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n"), Format::Png);
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8X"), Format::WebP);
        assert_eq!(sniff(b"\xff\xd8\xff\xe0"), Format::Jpeg);
        assert_eq!(sniff(b"\x1a\x45\xdf\xa3"), Format::Matroska);
        assert_eq!(sniff(b""), Format::Other);
    }

    #[test]
    fn names_the_codec_of_a_matroska_file() {
        assert_eq!(matroska_codec(b"\x86\x85V_VP9"), "vp9");
        assert_eq!(matroska_codec(b"..V_AV1.."), "av1");
        assert_eq!(matroska_codec(b"V_MPEGH/ISO/HEVC"), "hevc");
        assert_eq!(
            matroska_codec(b"no codec id"),
            "an unknown codec in Matroska/WebM"
        );
    }
}
