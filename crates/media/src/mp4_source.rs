//! MP4 demuxing (re_mp4) feeding the H.264 decoder, one sample at a time.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use re_mp4::{Mp4, StsdBoxContent, TrackKind};

use crate::h264::H264Decoder;
use crate::options::{MAX_PIXELS, check_size};
use crate::{ClipInfo, Error, Frame, FrameSource};

/// Largest compressed sample accepted: far above any real H.264 frame, and
/// it bounds what one corrupt size field can make us allocate.
const MAX_SAMPLE_BYTES: u64 = 64 << 20;

/// What an MP4's first video track holds, when it is not H.264.
pub(crate) struct OtherCodec(pub(crate) String);

/// Streams the frames of an MP4's first H.264 video track.
pub(crate) struct Mp4Source<R> {
    path: PathBuf,
    reader: R,
    info: ClipInfo,
    samples: Vec<re_mp4::Sample>,
    /// Presentation times of all samples, sorted: the k-th picture out of
    /// the decoder (which reorders into presentation order) is shown at the
    /// k-th of these.
    pts: Vec<i64>,
    timescale: u64,
    length_size: usize,
    parameter_sets: Vec<u8>,
    decoder: H264Decoder,
    next_sample: usize,
    emitted: u64,
    finished: bool,
    failed: bool,
}

/// Parses the container, so the caller learns the codec before decoding.
pub(crate) fn parse<R: Read + Seek + Send>(
    path: &Path,
    mut reader: R,
) -> Result<Result<Mp4Source<R>, OtherCodec>, Error> {
    let size = reader
        .seek(SeekFrom::End(0))
        .map_err(|e| Error::io(path, e))?;
    reader
        .seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(path, e))?;
    // re_mp4 indexes with `unreachable!` and slices on inconsistent boxes;
    // a damaged file must become an error, not bring the caller down.
    crate::boxes::check(&mut reader, 0, size, 0)
        .map_err(|reason| Error::corrupt(path, "mp4", reason))?;
    reader
        .seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(path, e))?;
    let mut budgeted = Budgeted {
        inner: &mut reader,
        left: size.saturating_mul(4).saturating_add(64 << 10),
    };
    let mp4 = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Mp4::read(&mut budgeted, size)
    }))
    .map_err(|_| Error::corrupt(path, "mp4", "the container's boxes are inconsistent"))?
    .map_err(|e| Error::corrupt(path, "mp4", e.to_string()))?;
    let Some(track) = mp4
        .tracks()
        .values()
        .find(|t| t.kind == Some(TrackKind::Video))
    else {
        return Err(Error::NoFrames {
            path: path.to_path_buf(),
            reason: "no video track".into(),
        });
    };
    let trak = track.trak(&mp4);
    let avcc = match &trak.mdia.minf.stbl.stsd.contents {
        StsdBoxContent::Avc1(avc1) => &avc1.avcc,
        other => {
            let codec = match other {
                StsdBoxContent::Hvc1(_) | StsdBoxContent::Hev1(_) => "hevc",
                StsdBoxContent::Av01(_) => "av1",
                StsdBoxContent::Vp09(_) => "vp9",
                StsdBoxContent::Vp08(_) => "vp8",
                _ => "an unknown codec",
            };
            return Ok(Err(OtherCodec(codec.into())));
        }
    };
    // openh264 decodes 8-bit 4:2:0 only (Baseline, Main, High); High 10,
    // 4:2:2 and 4:4:4 profiles go the way of other codecs.
    if let Some(profile) = match avcc.avc_profile_indication {
        110 => Some("h264 (High 10 profile)"),
        122 => Some("h264 (High 4:2:2 profile)"),
        244 | 44 => Some("h264 (High 4:4:4 profile)"),
        _ => None,
    } {
        return Ok(Err(OtherCodec(profile.into())));
    }
    check_size(path, track.width.into(), track.height.into())?;
    if track.samples.is_empty() {
        return Err(Error::NoFrames {
            path: path.to_path_buf(),
            reason: "the video track has no samples".into(),
        });
    }
    if track.timescale == 0 {
        return Err(Error::corrupt(path, "mp4", "video track timescale is 0"));
    }
    if let Some(s) = track
        .samples
        .iter()
        .find(|s| s.size > MAX_SAMPLE_BYTES || s.offset.saturating_add(s.size) > size)
    {
        return Err(Error::corrupt(
            path,
            "mp4",
            format!(
                "sample {} ({} bytes at {}) lies outside the {size}-byte file",
                s.id, s.size, s.offset
            ),
        ));
    }
    let mut parameter_sets = Vec::new();
    for nal in avcc
        .sequence_parameter_sets
        .iter()
        .chain(&avcc.picture_parameter_sets)
    {
        parameter_sets.extend_from_slice(&[0, 0, 0, 1]);
        parameter_sets.extend_from_slice(&nal.bytes);
    }
    let mut pts: Vec<i64> = track
        .samples
        .iter()
        .map(|s| s.composition_timestamp)
        .collect();
    pts.sort_unstable();
    let fps = nominal_fps(&track.samples, track.timescale);
    let info = ClipInfo {
        width: track.width.into(),
        height: track.height.into(),
        fps,
        frame_count: Some(track.samples.len() as u64),
        codec: "h264".into(),
    };
    let decoder = H264Decoder::new(MAX_PIXELS).map_err(|e| Error::corrupt(path, "h264", e))?;
    Ok(Ok(Mp4Source {
        path: path.to_path_buf(),
        reader,
        info,
        samples: track.samples.clone(),
        pts,
        timescale: track.timescale,
        length_size: usize::from(avcc.length_size_minus_one & 3) + 1,
        parameter_sets,
        decoder,
        next_sample: 0,
        emitted: 0,
        finished: false,
        failed: false,
    }))
}

/// A reader that fails once it has read (or seeked) more than its budget.
///
/// re_mp4 loops forever on a child box whose size field is 0 or under 8
/// (it seeks back to the same header and reads it again): found by the
/// mutation harness. Parsing a sound index reads each byte of the
/// container about once, so a budget of a few times the file size stops
/// such loops without refusing real files.
struct Budgeted<'a, R> {
    inner: &'a mut R,
    left: u64,
}

impl<R> Budgeted<'_, R> {
    fn spend(&mut self, cost: u64) -> std::io::Result<()> {
        self.left = self.left.checked_sub(cost).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "box sizes make the index loop",
            )
        })?;
        Ok(())
    }
}

impl<R: Read> Read for Budgeted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.spend(n as u64 + 1)?;
        Ok(n)
    }
}

impl<R: Seek> Seek for Budgeted<'_, R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.spend(8)?;
        self.inner.seek(pos)
    }
}

/// The rate implied by the samples' typical duration (the median, so one
/// long last frame does not skew it).
fn nominal_fps(samples: &[re_mp4::Sample], timescale: u64) -> f64 {
    let mut durations: Vec<u64> = samples
        .iter()
        .map(|s| s.duration)
        .filter(|&d| d > 0)
        .collect();
    if durations.is_empty() {
        return 0.0;
    }
    durations.sort_unstable();
    timescale as f64 / durations[durations.len() / 2] as f64
}

impl<R: Read + Seek + Send> Mp4Source<R> {
    /// Reads one sample and rewrites its length-prefixed NAL units (AVCC)
    /// as Annex-B, with the parameter sets in front of every sync sample.
    fn annex_b(&mut self, sample: &re_mp4::Sample) -> Result<Vec<u8>, Error> {
        let mut raw = vec![0u8; sample.size as usize];
        self.reader
            .seek(SeekFrom::Start(sample.offset))
            .and_then(|_| self.reader.read_exact(&mut raw))
            .map_err(|e| Error::io(&self.path, e))?;
        let mut out = Vec::with_capacity(raw.len() + self.parameter_sets.len() + 16);
        if sample.is_sync || self.next_sample == 0 {
            out.extend_from_slice(&self.parameter_sets);
        }
        let mut rest = raw.as_slice();
        while !rest.is_empty() {
            if rest.len() < self.length_size {
                return Err(self.bad_sample(sample, "a NAL length field is cut short"));
            }
            let (len, tail) = rest.split_at(self.length_size);
            let len = len
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            if len > tail.len() {
                return Err(self.bad_sample(
                    sample,
                    &format!("a NAL unit of {len} bytes overruns the sample"),
                ));
            }
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(&tail[..len]);
            rest = &tail[len..];
        }
        Ok(out)
    }

    fn bad_sample(&self, sample: &re_mp4::Sample, reason: &str) -> Error {
        Error::corrupt(
            &self.path,
            "h264",
            format!("sample {}: {reason}", sample.id),
        )
    }

    /// Feeds samples until a picture is ready or the stream ends.
    fn advance(&mut self) -> Result<Option<Frame>, Error> {
        loop {
            if let Some(picture) = self.decoder.pop() {
                return self.frame(picture).map(Some);
            }
            if self.finished {
                if self.emitted == 0 {
                    return Err(Error::NoFrames {
                        path: self.path.clone(),
                        reason: "the H.264 stream decoded to no picture".into(),
                    });
                }
                return Ok(None);
            }
            if let Some(sample) = self.samples.get(self.next_sample).copied() {
                let data = self.annex_b(&sample)?;
                self.next_sample += 1;
                self.decoder
                    .decode(&data)
                    .map_err(|e| self.bad_sample(&sample, &e))?;
            } else {
                self.finished = true;
                self.decoder
                    .finish()
                    .map_err(|e| Error::corrupt(&self.path, "h264", e))?;
            }
        }
    }

    fn frame(&mut self, picture: crate::h264::Picture) -> Result<Frame, Error> {
        let index = self.emitted;
        if index == 0 {
            // The coded picture (after SPS cropping) is the truth; the track
            // header's size is only a display hint.
            self.info.width = picture.width;
            self.info.height = picture.height;
        }
        if (picture.width, picture.height) != (self.info.width, self.info.height) {
            return Err(Error::SizeChanged {
                path: self.path.clone(),
                index,
                width: picture.width,
                height: picture.height,
                expected_width: self.info.width,
                expected_height: self.info.height,
            });
        }
        let Some(&pts) = self.pts.get(index as usize) else {
            return Err(Error::corrupt(
                &self.path,
                "h264",
                "more pictures than samples",
            ));
        };
        self.emitted += 1;
        let seconds = pts.max(0) as f64 / self.timescale as f64;
        Frame::from_rgb8(index, seconds, picture.width, picture.height, picture.rgb)
    }
}

impl<R: Read + Seek + Send> Iterator for Mp4Source<R> {
    type Item = Result<Frame, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.advance().transpose();
        if matches!(item, Some(Err(_))) {
            self.failed = true;
        }
        item
    }
}

impl<R: Read + Seek + Send> FrameSource for Mp4Source<R> {
    fn info(&self) -> &ClipInfo {
        &self.info
    }
}
