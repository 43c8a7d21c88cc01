//! H.264 MP4 encoding: openh264's encoder and the `mp4` crate's muxer.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use openh264::OpenH264API;
use openh264::encoder::{BitRate, Encoder, EncoderConfig, FrameRate, FrameType, RateControlMode};
use openh264::formats::{RgbSliceU8, YUVBuffer};

use crate::options::check_size;
use crate::{Error, Frame};

/// The timescale of written tracks: 90 kHz divides the common rates
/// (24, 25, 30, 29.97 = 30000/1001, 60) into whole ticks.
const TIMESCALE: u32 = 90_000;

/// Bits per pixel per frame given to openh264's buffer-based rate control
/// (which sizes its buffer from it): decoded frames stay above 40 dB PSNR
/// on smooth content (the round-trip tests check it), far below raw video.
/// Buffer-based, because openh264's quality and bitrate modes skip frames
/// unless told not to, and then warn on stderr on every encoder start; a
/// skipped frame would shift every later frame index, which the simulator's
/// ground truth relies on.
const BITS_PER_PIXEL: f64 = 0.3;

/// Writes frames as an H.264 (Constrained Baseline) MP4 file.
///
/// Frames are encoded one at a time as they are written, so a long clip is
/// never held in memory. Every frame must have the first frame's size,
/// which must be even on both sides (4:2:0 chroma) and at least 16×16.
///
/// ```
/// use framebreak_media::{Frame, Mp4Writer, read_clip, ReadOptions};
/// # fn main() -> Result<(), framebreak_media::Error> {
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("grey.mp4");
/// let mut writer = Mp4Writer::create(&path, 24.0)?;
/// for i in 0..12u8 {
///     writer.write(&Frame::from_rgb8(i.into(), f64::from(i) / 24.0, 32, 16, vec![i * 20; 32 * 16 * 3])?)?;
/// }
/// writer.finish()?;
/// assert_eq!(read_clip(&path, &ReadOptions::default())?.len(), 12);
/// # Ok(()) }
/// ```
pub struct Mp4Writer {
    path: PathBuf,
    fps: f64,
    encoder: Option<Encoder>,
    muxer: Option<mp4::Mp4Writer<BufWriter<File>>>,
    size: Option<(u32, u32)>,
    frames: u64,
    nal: Vec<u8>,
}

impl std::fmt::Debug for Mp4Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mp4Writer")
            .field("path", &self.path)
            .field("fps", &self.fps)
            .field("size", &self.size)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl Mp4Writer {
    /// Creates (or truncates) `path` for a video at `fps` frames per second.
    pub fn create(path: &Path, fps: f64) -> Result<Self, Error> {
        if !(fps.is_finite() && fps > 0.0 && fps <= 1000.0) {
            return Err(Error::InvalidOptions {
                reason: format!("frame rate {fps} is not in (0, 1000]"),
            });
        }
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let config = mp4::Mp4Config {
            major_brand: (*b"isom").into(),
            minor_version: 512,
            compatible_brands: vec![
                (*b"isom").into(),
                (*b"iso2").into(),
                (*b"avc1").into(),
                (*b"mp41").into(),
            ],
            timescale: TIMESCALE,
        };
        let muxer = mp4::Mp4Writer::write_start(BufWriter::new(file), &config)
            .map_err(|e| Error::encode(path, e.to_string()))?;
        Ok(Self {
            path: path.to_path_buf(),
            fps,
            encoder: None,
            muxer: Some(muxer),
            size: None,
            frames: 0,
            nal: Vec::new(),
        })
    }

    /// Encodes and appends one frame.
    pub fn write(&mut self, frame: &Frame) -> Result<(), Error> {
        let (w, h) = (frame.width(), frame.height());
        match self.size {
            None => self.start(w, h)?,
            Some(size) if size != (w, h) => {
                return Err(Error::encode(
                    &self.path,
                    format!(
                        "frame {} is {w}x{h}, the video is {}x{}",
                        self.frames, size.0, size.1
                    ),
                ));
            }
            Some(_) => {}
        }
        let yuv =
            YUVBuffer::from_rgb_source(RgbSliceU8::new(frame.data(), (w as usize, h as usize)));
        let (Some(encoder), Some(muxer)) = (self.encoder.as_mut(), self.muxer.as_mut()) else {
            return Err(Error::encode(&self.path, "the writer failed earlier"));
        };
        let stream = encoder
            .encode(&yuv)
            .map_err(|e| Error::encode(&self.path, e.to_string()))?;
        let sync = matches!(stream.frame_type(), FrameType::IDR | FrameType::I);
        self.nal.clear();
        let mut sps = None;
        let mut pps = None;
        for l in 0..stream.num_layers() {
            let Some(layer) = stream.layer(l) else {
                continue;
            };
            for n in 0..layer.nal_count() {
                let Some(unit) = layer.nal_unit(n).map(strip_start_code) else {
                    continue;
                };
                match unit.first().map(|b| b & 0x1f) {
                    Some(7) => sps = Some(unit.to_vec()),
                    Some(8) => pps = Some(unit.to_vec()),
                    Some(_) => {
                        self.nal
                            .extend_from_slice(&(unit.len() as u32).to_be_bytes());
                        self.nal.extend_from_slice(unit);
                    }
                    None => {}
                }
            }
        }
        if self.frames == 0 {
            let (Some(sps), Some(pps)) = (sps, pps) else {
                return Err(Error::encode(
                    &self.path,
                    "the encoder gave no SPS/PPS for the first frame",
                ));
            };
            let track = mp4::TrackConfig {
                track_type: mp4::TrackType::Video,
                timescale: TIMESCALE,
                language: "und".into(),
                media_conf: mp4::MediaConfig::AvcConfig(mp4::AvcConfig {
                    width: w as u16,
                    height: h as u16,
                    seq_param_set: sps,
                    pic_param_set: pps,
                }),
            };
            muxer
                .add_track(&track)
                .map_err(|e| Error::encode(&self.path, e.to_string()))?;
        }
        if self.nal.is_empty() {
            return Err(Error::encode(
                &self.path,
                format!("the encoder gave no picture for frame {}", self.frames),
            ));
        }
        let start = tick(self.frames, self.fps);
        let sample = mp4::Mp4Sample {
            start_time: start,
            duration: (tick(self.frames + 1, self.fps) - start) as u32,
            rendering_offset: 0,
            is_sync: sync,
            bytes: std::mem::take(&mut self.nal).into(),
        };
        muxer
            .write_sample(1, &sample)
            .map_err(|e| Error::encode(&self.path, e.to_string()))?;
        self.frames += 1;
        Ok(())
    }

    fn start(&mut self, w: u32, h: u32) -> Result<(), Error> {
        check_size(&self.path, w.into(), h.into())?;
        if w % 2 == 1 || h % 2 == 1 || w < 16 || h < 16 {
            return Err(Error::encode(
                &self.path,
                format!("{w}x{h}: openh264 needs even sides of at least 16 pixels"),
            ));
        }
        if w > u32::from(u16::MAX) || h > u32::from(u16::MAX) {
            return Err(Error::encode(
                &self.path,
                format!("{w}x{h} does not fit an MP4 track header"),
            ));
        }
        let bps = (f64::from(w) * f64::from(h) * self.fps * BITS_PER_PIXEL).clamp(64_000.0, 400e6);
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(bps as u32))
            .max_frame_rate(FrameRate::from_hz(self.fps as f32))
            .rate_control_mode(RateControlMode::Bufferbased)
            .skip_frames(false);
        let encoder =
            Encoder::with_api_config(OpenH264API::from_source(), config).map_err(|e| {
                Error::encode(
                    &self.path,
                    format!("cannot start the openh264 encoder: {e}"),
                )
            })?;
        self.encoder = Some(encoder);
        self.size = Some((w, h));
        Ok(())
    }

    /// Writes the index (`moov`) and closes the file. Without it the file
    /// is not a playable MP4.
    pub fn finish(mut self) -> Result<(), Error> {
        let Some(mut muxer) = self.muxer.take() else {
            return Err(Error::encode(&self.path, "the writer failed earlier"));
        };
        if self.frames == 0 {
            return Err(Error::encode(&self.path, "no frame was written"));
        }
        muxer
            .write_end()
            .map_err(|e| Error::encode(&self.path, e.to_string()))?;
        let mut out = muxer.into_writer();
        std::io::Write::flush(&mut out).map_err(|e| Error::io(&self.path, e))
    }
}

/// The start of `frame` in track ticks, rounded so durations never drift.
fn tick(frame: u64, fps: f64) -> u64 {
    (frame as f64 * f64::from(TIMESCALE) / fps).round() as u64
}

fn strip_start_code(nal: &[u8]) -> &[u8] {
    match nal {
        [0, 0, 0, 1, rest @ ..] | [0, 0, 1, rest @ ..] => rest,
        other => other,
    }
}

/// Writes `frames` as an H.264 MP4 at `fps`: [`Mp4Writer`] in one call.
pub fn write_mp4(path: &Path, frames: &[Frame], fps: f64) -> Result<(), Error> {
    let mut writer = Mp4Writer::create(path, fps)?;
    for frame in frames {
        writer.write(frame)?;
    }
    writer.finish()
}
