//! Contact sheets: the frames of a video where its defects are, with each
//! detector's box drawn on, and for flow defects a heat overlay of the
//! optical flow's magnitude, as one small PNG.

use std::fmt;
use std::path::Path;

use base64::Engine;
use framebreak_defects::{BBox, FlowParams, Plane, VideoReport, dense_flow};
use framebreak_media::{Clip, Frame, ReadOptions, Resize, Sampling, read_clip, resize};
use framebreak_variants::DefectKind;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{Rgb, RgbImage};

use super::Error;

const GAP: u32 = 4;
const BACKGROUND: Rgb<u8> = Rgb([32, 32, 32]);

/// How contact sheets are drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SheetOptions {
    /// Width of each frame on the sheet, in pixels (default 160).
    pub frame_width: u32,
    /// Most frames on one sheet (default 6).
    pub max_frames: usize,
}

impl Default for SheetOptions {
    fn default() -> Self {
        Self {
            frame_width: 160,
            max_frames: 6,
        }
    }
}

/// One frame on a sheet and why it is there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SheetTile {
    /// The frame, numbered as the analysis numbers them.
    pub frame: u64,
    /// The defect shown, or `None` for a plain frame of a video without
    /// findings.
    pub kind: Option<DefectKind>,
    /// The defect's frames, inclusive.
    pub span: Option<(u64, u64)>,
    /// Whether the frame carries the flow-magnitude overlay (flow to the
    /// next frame).
    pub flow: bool,
}

/// A contact sheet: a PNG of frames side by side, left to right as in
/// [`ContactSheet::tiles`].
#[derive(Clone, PartialEq)]
pub struct ContactSheet {
    /// The PNG file.
    pub png: Vec<u8>,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
    /// The frames on it, left to right.
    pub tiles: Vec<SheetTile>,
}

impl fmt::Debug for ContactSheet {
    // The PNG bytes would flood any log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContactSheet")
            .field("png_bytes", &self.png.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .field("tiles", &self.tiles)
            .finish()
    }
}

impl ContactSheet {
    /// The PNG as a `data:` URI, for an `<img src>`.
    #[must_use]
    pub fn data_uri(&self) -> String {
        format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&self.png)
        )
    }
}

/// The colour a defect kind is drawn in, on sheets and in captions.
#[must_use]
pub fn kind_colour(kind: DefectKind) -> [u8; 3] {
    match kind {
        DefectKind::Warp => [255, 64, 64],
        DefectKind::Melt => [255, 160, 0],
        DefectKind::Flicker => [255, 255, 64],
        DefectKind::Teleport => [64, 160, 255],
        DefectKind::ChromaticAberration => [200, 64, 255],
        DefectKind::ColorSparks => [64, 255, 160],
        DefectKind::TextureBleed => [255, 96, 200],
        DefectKind::GravityViolation => [0, 230, 230],
        DefectKind::Frozen => [230, 230, 230],
    }
}

/// Whether a kind is seen in the optical flow, so its sheet frame gets the
/// flow overlay.
fn is_flow_kind(kind: DefectKind) -> bool {
    matches!(
        kind,
        DefectKind::Warp | DefectKind::Melt | DefectKind::Teleport
    )
}

/// Draws the contact sheet of `video` from its analysis `report`: one frame
/// per finding (the most confident first, at most
/// [`SheetOptions::max_frames`]), from the middle of the finding's span,
/// with the finding's box; flow kinds (warp, melt, teleport) also get the
/// magnitude of the dense flow to the next frame, less the camera's pan
/// (the median vector), as a heat overlay. A video
/// without findings gets three evenly spaced plain frames.
///
/// The video is decoded the way the analysis saw it (its rate and size, from
/// the report), so frame numbers and boxes line up.
///
/// # Errors
/// [`Error::Video`] when the file cannot be decoded, [`Error::Mismatch`]
/// when it has none of the frames the report names, [`Error::Image`] when
/// PNG encoding fails.
pub fn contact_sheet(
    video: &Path,
    report: &VideoReport,
    options: &SheetOptions,
) -> Result<ContactSheet, Error> {
    let mut tiles = pick_tiles(report, options.max_frames);
    let last_needed = tiles
        .iter()
        .map(|t| t.frame + u64::from(t.flow))
        .max()
        .unwrap_or(0);
    let read = ReadOptions {
        sampling: if report.fps > 0.0 {
            Sampling::TargetFps(report.fps)
        } else {
            Sampling::Every
        },
        resize: Some(Resize::Exact {
            width: report.width,
            height: report.height,
        }),
        max_frames: Some(usize::try_from(last_needed + 1).unwrap_or(usize::MAX)),
    };
    let clip = read_clip(video, &read).map_err(|source| Error::Video {
        path: video.to_path_buf(),
        source,
    })?;
    tiles.retain(|t| (t.frame as usize) < clip.len());
    if tiles.is_empty() {
        return Err(Error::Mismatch {
            path: video.to_path_buf(),
            reason: format!(
                "the analysis names frames up to {last_needed}, the video has {}",
                clip.len()
            ),
        });
    }
    let tw = options.frame_width.max(16);
    let th = ((f64::from(report.height) * f64::from(tw) / f64::from(report.width.max(1))).round()
        as u32)
        .max(1);
    let width = tw * tiles.len() as u32 + GAP * (tiles.len() as u32 + 1);
    let height = th + 2 * GAP;
    let mut sheet = RgbImage::from_pixel(width, height, BACKGROUND);
    for (i, tile) in tiles.iter_mut().enumerate() {
        let x0 = GAP + i as u32 * (tw + GAP);
        let finding = tile.kind.and_then(|k| {
            report
                .defects
                .iter()
                .find(|f| f.kind == k && Some((f.start_frame, f.end_frame)) == tile.span)
        });
        let overlay = if tile.flow {
            flow_magnitude(&clip, tile.frame as usize)
        } else {
            None
        };
        tile.flow = overlay.is_some();
        let small = resize(&clip.frames[tile.frame as usize], tw, th);
        paste(&mut sheet, &small, x0, GAP, overlay.as_ref());
        if let (Some(f), Some(b)) = (finding, finding.and_then(|f| f.bbox)) {
            let scale = f64::from(tw) / f64::from(report.width.max(1));
            rectangle(
                &mut sheet,
                b,
                scale,
                (x0, GAP),
                (tw, th),
                kind_colour(f.kind),
            );
        }
    }
    let mut png = Vec::new();
    sheet.write_with_encoder(PngEncoder::new_with_quality(
        &mut png,
        CompressionType::Best,
        FilterType::Adaptive,
    ))?;
    Ok(ContactSheet {
        png,
        width,
        height,
        tiles,
    })
}

fn pick_tiles(report: &VideoReport, max: usize) -> Vec<SheetTile> {
    let mut findings: Vec<_> = report.defects.iter().collect();
    // Most confident first; among equals, the earliest.
    findings.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.start_frame.cmp(&b.start_frame))
    });
    let mut tiles: Vec<SheetTile> = findings
        .into_iter()
        .take(max)
        .map(|f| {
            let flow = is_flow_kind(f.kind) && report.frames >= 2;
            let mid = f.start_frame + (f.end_frame - f.start_frame) / 2;
            let frame = if flow {
                mid.min(report.frames.saturating_sub(2))
            } else {
                mid.min(report.frames.saturating_sub(1))
            };
            SheetTile {
                frame,
                kind: Some(f.kind),
                span: Some((f.start_frame, f.end_frame)),
                flow,
            }
        })
        .collect();
    if tiles.is_empty() && report.frames > 0 {
        let n = report.frames;
        let mut frames = vec![0, n / 2, n - 1];
        frames.dedup();
        tiles = frames
            .into_iter()
            .take(max)
            .map(|frame| SheetTile {
                frame,
                kind: None,
                span: None,
                flow: false,
            })
            .collect();
    }
    // Left to right in time reads like a film strip.
    tiles.sort_by_key(|t| t.frame);
    tiles
}

/// The flow from frame `i` to `i + 1` less its median vector (the camera's
/// pan, mostly), so what lights up is motion the camera does not explain;
/// its magnitude normalised to `[0, 1]` by its 98th percentile (at least
/// one pixel, so a still pair stays dark), with the plane's width and
/// height.
fn flow_magnitude(clip: &Clip, i: usize) -> Option<(Vec<f32>, usize, usize)> {
    let (a, b) = (clip.frames.get(i)?, clip.frames.get(i + 1)?);
    let flow = dense_flow(&Plane::luma(a), &Plane::luma(b), &FlowParams::fast()).ok()?;
    let median = |values: &[f32]| {
        let mut sorted = values.to_vec();
        sorted.sort_by(f32::total_cmp);
        sorted[sorted.len() / 2]
    };
    let (mu, mv) = (median(&flow.u), median(&flow.v));
    let mut mag: Vec<f32> = flow
        .u
        .iter()
        .zip(&flow.v)
        .map(|(u, v)| (u - mu).hypot(v - mv))
        .collect();
    let mut sorted = mag.clone();
    sorted.sort_by(f32::total_cmp);
    let top = sorted[(sorted.len() - 1) * 98 / 100].max(1.0);
    for m in &mut mag {
        *m = (*m / top).min(1.0);
    }
    Some((mag, flow.width, flow.height))
}

fn paste(
    sheet: &mut RgbImage,
    frame: &Frame,
    x0: u32,
    y0: u32,
    overlay: Option<&(Vec<f32>, usize, usize)>,
) {
    let (w, h) = (frame.width(), frame.height());
    for y in 0..h {
        for x in 0..w {
            let [r, g, b] = frame.pixel(x, y).unwrap_or([0, 0, 0]);
            let mut px = [f32::from(r), f32::from(g), f32::from(b)];
            if let Some((mag, mw, mh)) = overlay {
                let mx = (x as usize * mw / w as usize).min(mw - 1);
                let my = (y as usize * mh / h as usize).min(mh - 1);
                let m = mag[my * mw + mx];
                // Dim the picture, then tint by motion: dark where still,
                // orange to yellow where the flow is strong.
                let heat = [255.0, 80.0 + 175.0 * m, 0.0];
                let alpha = 0.75 * m;
                for c in 0..3 {
                    px[c] = px[c] * 0.55 * (1.0 - alpha) + heat[c] * alpha;
                }
            }
            sheet.put_pixel(x0 + x, y0 + y, Rgb(px.map(|v| v.clamp(0.0, 255.0) as u8)));
        }
    }
}

/// A two-pixel rectangle around `b` (in analysis pixels, scaled by `scale`),
/// clipped to the tile at `origin` of `size`.
fn rectangle(
    sheet: &mut RgbImage,
    b: BBox,
    scale: f64,
    origin: (u32, u32),
    size: (u32, u32),
    colour: [u8; 3],
) {
    let s = |v: u32| (f64::from(v) * scale).round() as u32;
    let (x1, y1) = (s(b.x).min(size.0 - 1), s(b.y).min(size.1 - 1));
    let x2 = s(b.x + b.w).clamp(x1, size.0 - 1);
    let y2 = s(b.y + b.h).clamp(y1, size.1 - 1);
    let mut put = |x: u32, y: u32| sheet.put_pixel(origin.0 + x, origin.1 + y, Rgb(colour));
    for t in 0..2u32 {
        for x in x1..=x2 {
            put(x, (y1 + t).min(y2));
            put(x, y2.saturating_sub(t).max(y1));
        }
        for y in y1..=y2 {
            put((x1 + t).min(x2), y);
            put(x2.saturating_sub(t).max(x1), y);
        }
    }
}
