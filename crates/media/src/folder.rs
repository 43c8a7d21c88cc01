//! A folder of numbered PNG/JPEG frames (`frame_0001.png`, `002.jpg`…).

use std::path::{Path, PathBuf};

use image::ImageReader;

use crate::options::{MAX_PIXELS, MAX_SIDE, check_size};
use crate::{ClipInfo, Error, Frame, FrameSource};

/// The rate a folder of frames is played at: a folder carries no timing.
pub const FOLDER_FPS: f64 = 24.0;

/// Streams a folder's frames in numeric order, decoding one file at a time.
pub(crate) struct FolderSource {
    info: ClipInfo,
    files: Vec<PathBuf>,
    next: usize,
    done: bool,
}

/// The number in a file name (its last run of digits), which orders frames
/// so that `frame_10` follows `frame_9`.
fn frame_number(path: &Path) -> Option<u64> {
    let stem = path.file_stem()?.to_str()?;
    let end = stem.rfind(|c: char| c.is_ascii_digit())? + 1;
    let start = stem[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    stem[start..end].parse().ok()
}

fn is_frame_file(path: &Path) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg")) && path.is_file()
}

impl FolderSource {
    pub(crate) fn open(dir: &Path) -> Result<Self, Error> {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| Error::io(dir, e))?.path();
            if is_frame_file(&path) {
                files.push(path);
            }
        }
        if files.is_empty() {
            return Err(Error::NoFrames {
                path: dir.to_path_buf(),
                reason: "the folder holds no .png, .jpg or .jpeg file".into(),
            });
        }
        files.sort_by(|a, b| (frame_number(a), a).cmp(&(frame_number(b), b)));
        let (width, height) = dimensions(&files[0])?;
        let info = ClipInfo {
            width,
            height,
            fps: FOLDER_FPS,
            frame_count: Some(files.len() as u64),
            codec: "image-sequence".into(),
        };
        Ok(Self {
            info,
            files,
            next: 0,
            done: false,
        })
    }

    fn decode(&self, index: usize) -> Result<Frame, Error> {
        let path = &self.files[index];
        let (w, h) = dimensions(path)?;
        if (w, h) != (self.info.width, self.info.height) {
            return Err(Error::SizeChanged {
                path: path.clone(),
                index: index as u64,
                width: w,
                height: h,
                expected_width: self.info.width,
                expected_height: self.info.height,
            });
        }
        let image = reader(path)?
            .decode()
            .map_err(|e| Error::corrupt(path, "image", e.to_string()))?
            .into_rgb8();
        Frame::from_rgb8(
            index as u64,
            index as f64 / FOLDER_FPS,
            w,
            h,
            image.into_raw(),
        )
    }
}

fn reader(path: &Path) -> Result<ImageReader<std::io::BufReader<std::fs::File>>, Error> {
    let mut reader = ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_PIXELS * 4 * 2);
    reader.limits(limits);
    Ok(reader)
}

/// Reads only the header, and refuses absurd sizes before decoding.
fn dimensions(path: &Path) -> Result<(u32, u32), Error> {
    let (w, h) = reader(path)?
        .into_dimensions()
        .map_err(|e| Error::corrupt(path, "image", e.to_string()))?;
    check_size(path, w.into(), h.into())?;
    Ok((w, h))
}

impl Iterator for FolderSource {
    type Item = Result<Frame, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.next >= self.files.len() {
            return None;
        }
        let item = self.decode(self.next);
        self.next += 1;
        self.done = item.is_err();
        Some(item)
    }
}

impl FrameSource for FolderSource {
    fn info(&self) -> &ClipInfo {
        &self.info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_order_frames_numerically() {
        assert_eq!(frame_number(Path::new("frame_0010.png")), Some(10));
        assert_eq!(frame_number(Path::new("shot2_frame9.jpg")), Some(9));
        assert_eq!(frame_number(Path::new("cover.png")), None);
        let mut names = vec![
            PathBuf::from("f10.png"),
            PathBuf::from("f9.png"),
            PathBuf::from("f100.png"),
        ];
        names.sort_by(|a, b| (frame_number(a), a).cmp(&(frame_number(b), b)));
        assert_eq!(
            names,
            [
                PathBuf::from("f9.png"),
                PathBuf::from("f10.png"),
                PathBuf::from("f100.png")
            ]
        );
    }
}
