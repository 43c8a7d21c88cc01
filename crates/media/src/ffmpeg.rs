//! Codecs openh264 cannot decode (HEVC, AV1, VP9…), through an `ffmpeg`
//! binary on `PATH`, piping raw RGB24 frames: optional, never required.

use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::options::check_size;
use crate::{ClipInfo, Error, Frame, FrameSource};

const INSTALL_HINT: &str = "framebreak decodes H.264 in-process; for other codecs install ffmpeg \
     (with ffprobe, e.g. `apt-get install ffmpeg` or `brew install ffmpeg`) and put it on PATH";

/// The error for a codec found in memory, which ffmpeg would read from a file.
pub(crate) fn needs_file(name: &Path, codec: &str) -> Error {
    Error::UnsupportedCodec {
        path: name.to_path_buf(),
        codec: codec.into(),
        hint:
            "only H.264 decodes from memory; write it to a file and open that with ffmpeg installed"
                .into(),
    }
}

/// The path of `program` in one of `PATH`'s folders.
fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Whether an `ffmpeg` and an `ffprobe` binary are on `PATH`.
pub fn ffmpeg_available() -> bool {
    find("ffmpeg").is_some() && find("ffprobe").is_some()
}

/// Opens `path` through ffmpeg; `codec` is what the caller found (a codec
/// name, or `None` when the container itself was not recognised).
pub(crate) fn open(path: &Path, codec: Option<&str>) -> Result<Box<dyn FrameSource>, Error> {
    open_with(path, codec, find("ffmpeg").zip(find("ffprobe")))
}

fn open_with(
    path: &Path,
    codec: Option<&str>,
    tools: Option<(PathBuf, PathBuf)>,
) -> Result<Box<dyn FrameSource>, Error> {
    let Some((ffmpeg, ffprobe)) = tools else {
        return Err(match codec {
            Some(codec) => Error::UnsupportedCodec {
                path: path.to_path_buf(),
                codec: codec.into(),
                hint: INSTALL_HINT.into(),
            },
            None => Error::UnknownFormat {
                path: path.to_path_buf(),
                reason: format!("not MP4, GIF, PNG, WebP, JPEG or a folder; {INSTALL_HINT}"),
            },
        });
    };
    let info = probe(&ffprobe, path)?;
    Ok(Box::new(FfmpegSource::spawn(&ffmpeg, path, info)?))
}

fn probe(ffprobe: &Path, path: &Path) -> Result<ClipInfo, Error> {
    let out = Command::new(ffprobe)
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .arg("stream=codec_name,width,height,avg_frame_rate,r_frame_rate,nb_frames")
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(path, e))?;
    if !out.status.success() {
        return Err(Error::UnknownFormat {
            path: path.to_path_buf(),
            reason: format!("ffprobe: {}", tail(&out.stderr)),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::trim)
    };
    let Some(codec) = field("codec_name") else {
        return Err(Error::NoFrames {
            path: path.to_path_buf(),
            reason: "no video stream".into(),
        });
    };
    let number = |key: &str| field(key).and_then(|v| v.parse::<u64>().ok());
    let (width, height) = (number("width").unwrap_or(0), number("height").unwrap_or(0));
    check_size(path, width, height)?;
    let rate = |key: &str| {
        let (n, d) = field(key)?.split_once('/')?;
        let (n, d) = (n.parse::<f64>().ok()?, d.parse::<f64>().ok()?);
        (n > 0.0 && d > 0.0).then_some(n / d)
    };
    Ok(ClipInfo {
        width: width as u32,
        height: height as u32,
        fps: rate("avg_frame_rate")
            .or_else(|| rate("r_frame_rate"))
            .unwrap_or(0.0),
        frame_count: number("nb_frames"),
        codec: codec.to_string(),
    })
}

/// The last few hundred characters of an error output.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    let start = text.char_indices().rev().nth(400).map_or(0, |(i, _)| i);
    text[start..].to_string()
}

/// Frames read from an ffmpeg child process.
struct FfmpegSource {
    path: PathBuf,
    info: ClipInfo,
    child: Child,
    stdout: ChildStdout,
    stderr: Arc<Mutex<Vec<u8>>>,
    index: u64,
    done: bool,
}

impl FfmpegSource {
    fn spawn(ffmpeg: &Path, path: &Path, info: ClipInfo) -> Result<Self, Error> {
        let mut child = Command::new(ffmpeg)
            .args(["-v", "error", "-nostdin", "-noautorotate", "-i"])
            .arg(path)
            .args([
                "-map",
                "0:v:0",
                "-fps_mode",
                "passthrough",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "rgb24",
                "-",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io(path, e))?;
        let (Some(stdout), Some(mut err)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Ffmpeg {
                path: path.to_path_buf(),
                reason: "no pipes to the child process".into(),
            });
        };
        // Drained on a thread so a chatty ffmpeg never blocks on a full pipe;
        // only the first 64 KiB are kept.
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut kept) = sink.lock()
                    && kept.len() < 64 << 10
                {
                    kept.extend_from_slice(&buf[..n]);
                }
            }
        });
        Ok(Self {
            path: path.to_path_buf(),
            info,
            child,
            stdout,
            stderr,
            index: 0,
            done: false,
        })
    }

    fn failure(&mut self, what: &str) -> Error {
        let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
        let stderr = self.stderr.lock().map(|e| tail(&e)).unwrap_or_default();
        Error::Ffmpeg {
            path: self.path.clone(),
            reason: format!("{what} ({status}): {stderr}"),
        }
    }

    fn read_frame(&mut self) -> Result<Option<Frame>, Error> {
        let size = self.info.width as usize * self.info.height as usize * 3;
        let mut data = vec![0u8; size];
        let mut filled = 0;
        while filled < size {
            match self.stdout.read(&mut data[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(&self.path, e)),
            }
        }
        if filled == 0 {
            let status = self.child.wait().map_err(|e| Error::io(&self.path, e))?;
            return match (status.success(), self.index) {
                (false, _) => Err(self.failure("decoding failed")),
                (true, 0) => Err(Error::NoFrames {
                    path: self.path.clone(),
                    reason: "ffmpeg decoded no frame".into(),
                }),
                (true, _) => Ok(None),
            };
        }
        if filled < size {
            return Err(self.failure("the last frame was cut short"));
        }
        let fps = if self.info.fps > 0.0 {
            self.info.fps
        } else {
            24.0
        };
        let frame = Frame::from_rgb8(
            self.index,
            self.index as f64 / fps,
            self.info.width,
            self.info.height,
            data,
        )?;
        self.index += 1;
        Ok(Some(frame))
    }
}

impl Iterator for FfmpegSource {
    type Item = Result<Frame, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.read_frame().transpose();
        self.done = !matches!(item, Some(Ok(_)));
        item
    }
}

impl FrameSource for FfmpegSource {
    fn info(&self) -> &ClipInfo {
        &self.info
    }
}

impl Drop for FfmpegSource {
    // A source dropped early (max_frames reached) must not leave ffmpeg
    // running or a zombie behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_ffmpeg_the_codec_and_the_fix_are_named() {
        let path = Path::new("clip.mp4");
        let err = open_with(path, Some("hevc"), None).map(|_| ()).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::UnsupportedCodec { .. }), "{err:?}");
        assert!(
            text.contains("clip.mp4") && text.contains("hevc") && text.contains("install ffmpeg"),
            "{text}"
        );
        let err = open_with(path, None, None).map(|_| ()).unwrap_err();
        assert!(matches!(err, Error::UnknownFormat { .. }), "{err:?}");
    }

    #[test]
    fn tail_keeps_the_end_of_long_output() {
        let long = "x".repeat(1000) + "the real error";
        let kept = tail(long.as_bytes());
        assert!(
            kept.ends_with("the real error") && kept.len() <= 401,
            "{}",
            kept.len()
        );
    }
}
