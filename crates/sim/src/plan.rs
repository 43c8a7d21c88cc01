//! From a request to a plan: the scene, the traps the prompt carries, and
//! the defects the model will make, all drawn from a seeded stream.

use framebreak_client::VideoRequest;
use framebreak_variants::{Catalogue, DefectKind};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::scene::SceneKind;
use crate::{Error, Profile, Result};

/// Frame rate of every clip unless configured otherwise.
pub const DEFAULT_FPS: u32 = 24;
/// Frame size of a request that names none.
pub const DEFAULT_SIZE: (u32, u32) = (320, 240);
/// Length of a request that names none, in seconds.
pub const DEFAULT_DURATION_SECS: u32 = 4;
/// The largest side accepted.
pub const MAX_SIDE: u32 = 1920;
/// The longest clip accepted, in seconds.
pub const MAX_DURATION_SECS: u32 = 60;

/// Why a defect was planned.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The words of this trap provoked it.
    Trap(String),
    /// The model broke on its own.
    Spontaneous,
}

/// One defect the model will make, with the frames it is placed around.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlannedDefect {
    /// Its kind.
    pub kind: DefectKind,
    /// Why.
    pub cause: Cause,
    /// First frame of its window.
    pub start: u32,
    /// Last frame of its window (inclusive).
    pub end: u32,
    /// Seed of its own details (place, strength).
    pub seed: u64,
}

/// Everything the renderer needs; two requests with equal plans give the
/// same bytes, so the plan is the cache key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Plan {
    /// The scene.
    pub scene: SceneKind,
    /// Seed of the scene's details (background, camera, objects).
    pub scene_seed: u64,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Number of frames.
    pub frames: u32,
    /// Frames per second.
    pub fps: u32,
    /// Ids of the traps found in the prompt, in catalogue order.
    pub traps: Vec<String>,
    /// The defects, at most one per kind.
    pub defects: Vec<PlannedDefect>,
}

impl Plan {
    /// A digest of the plan: the cache key.
    #[must_use]
    pub fn key(&self) -> [u8; 32] {
        let json = serde_json::to_vec(self).expect("a plan serialises");
        Sha256::digest(&json).into()
    }

    /// Whether the plan holds a defect of `kind`.
    #[must_use]
    pub fn has(&self, kind: DefectKind) -> bool {
        self.defects.iter().any(|d| d.kind == kind)
    }
}

/// A uniform draw in [0, 1) with 53 bits, fixed here so that the stream
/// means the same with every build.
pub(crate) fn unit(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform draw in [lo, hi).
pub(crate) fn range(rng: &mut impl RngCore, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit(rng)
}

/// A uniform integer in lo..hi (lo when the range is empty).
pub(crate) fn int(rng: &mut impl RngCore, lo: u32, hi: u32) -> u32 {
    if hi <= lo {
        lo
    } else {
        lo + (unit(rng) * f64::from(hi - lo)) as u32
    }
}

/// The stream for `(prompt, seed)`.
pub(crate) fn stream(parts: &[&[u8]]) -> ChaCha8Rng {
    let mut h = Sha256::new();
    h.update(b"framebreak-sim/v1");
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    ChaCha8Rng::from_seed(h.finalize().into())
}

/// The traps whose phrasings or intensifiers occur in `prompt`, matched
/// case-insensitively, in catalogue order; and the prompt with those words
/// removed, so that a trap's wording does not choose the scene.
pub(crate) fn find_traps(catalogue: &Catalogue, prompt: &str) -> (Vec<String>, String) {
    let mut rest = prompt.to_lowercase();
    let mut found = Vec::new();
    for trap in catalogue.traps() {
        let mut hit = false;
        for text in trap.phrasings.iter().chain(&trap.intensifiers) {
            let text = text.trim_end_matches('.').to_lowercase();
            if !text.is_empty() && rest.contains(&text) {
                rest = rest.replace(&text, " ");
                hit = true;
            }
        }
        if hit {
            found.push(trap.id.to_string());
        }
    }
    (found, rest)
}

/// Checks the request and fills in the defaults.
pub(crate) fn geometry(request: &VideoRequest, fps: u32) -> Result<(u32, u32, u32)> {
    let (w, h) = request.size.map_or(DEFAULT_SIZE, |s| (s.width, s.height));
    for (name, side) in [("width", w), ("height", h)] {
        if !(32..=MAX_SIDE).contains(&side) || side % 2 != 0 {
            return Err(Error::InvalidRequest {
                reason: format!(
                    "size {w}x{h}: the {name} must be even and within 32..={MAX_SIDE} pixels"
                ),
            });
        }
    }
    let secs = request.duration_secs.unwrap_or(DEFAULT_DURATION_SECS);
    if !(1..=MAX_DURATION_SECS).contains(&secs) {
        return Err(Error::InvalidRequest {
            reason: format!("duration {secs} s is not within 1..={MAX_DURATION_SECS} seconds"),
        });
    }
    if request.prompt.trim().is_empty() {
        return Err(Error::InvalidRequest {
            reason: "the prompt is empty".into(),
        });
    }
    Ok((w, h, secs * fps))
}

/// Draws the plan of one request.
pub(crate) fn plan(
    catalogue: &Catalogue,
    profile: &Profile,
    request: &VideoRequest,
    fps: u32,
) -> Result<Plan> {
    let (width, height, frames) = geometry(request, fps)?;
    let seed = request.seed.unwrap_or(0);
    let mut rng = stream(&[request.prompt.as_bytes(), &seed.to_le_bytes()]);
    let (traps, rest) = find_traps(catalogue, &request.prompt);
    let scene = SceneKind::choose(&rest, rng.next_u64());
    let scene_seed = rng.next_u64();

    let mut kinds: Vec<(DefectKind, Cause)> = Vec::new();
    for id in &traps {
        let trap = catalogue.trap(id).expect("found in this catalogue");
        for kind in DefectKind::ALL {
            // Always draw, so that one probability does not shift the
            // stream of the others.
            let u = unit(&mut rng);
            if u < profile.probability(trap, kind) && !kinds.iter().any(|(k, _)| *k == kind) {
                kinds.push((kind, Cause::Trap(id.clone())));
            }
        }
    }
    let u = unit(&mut rng);
    let pick = unit(&mut rng);
    if u < profile.spontaneous_rate() {
        let total: f64 = DefectKind::ALL.iter().map(|k| profile.weight(*k)).sum();
        let mut acc = 0.0;
        let target = pick * total;
        let kind = DefectKind::ALL
            .into_iter()
            .find(|k| {
                acc += profile.weight(*k);
                target < acc && profile.weight(*k) > 0.0
            })
            .unwrap_or(DefectKind::Flicker);
        if !kinds.iter().any(|(k, _)| *k == kind) {
            kinds.push((kind, Cause::Spontaneous));
        }
    }

    let defects = kinds
        .into_iter()
        .map(|(kind, cause)| {
            let (start, end) = window(&mut rng, frames);
            PlannedDefect {
                kind,
                cause,
                start,
                end,
                seed: rng.next_u64(),
            }
        })
        .collect();
    Ok(Plan {
        scene,
        scene_seed,
        width,
        height,
        frames,
        fps,
        traps,
        defects,
    })
}

/// A window like the detectors' evaluation set's (start after a few
/// frames, 6 to 12 frames long at 32 frames), scaled to the clip.
fn window(rng: &mut impl RngCore, frames: u32) -> (u32, u32) {
    let lo = (frames * 3 / 16).max(2);
    let hi = (frames / 2).max(lo + 1);
    let start = int(rng, lo, hi);
    let min_len = (frames * 6 / 32).clamp(3, 24);
    let len = int(rng, min_len, min_len * 2);
    (start, (start + len).min(frames - 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traps_are_found_by_their_words_whatever_the_case() {
        let c = Catalogue::builtin();
        let (found, rest) = find_traps(
            &c,
            "In a world where gravity points up instead of down, a red ball is thrown, with everything drifting freely in zero gravity",
        );
        assert_eq!(found, ["physics.zero_g", "physics.gravity_inversion"]);
        assert!(
            rest.contains("red ball") && !rest.contains("drifting"),
            "{rest}"
        );
        assert!(find_traps(&c, "a red ball is thrown").0.is_empty());
    }

    #[test]
    fn bad_requests_are_refused_naming_the_field() {
        let c = Catalogue::builtin();
        let p = Profile::weak();
        let cases = [
            (VideoRequest::new("x").size(321, 240), "width"),
            (VideoRequest::new("x").size(320, 8), "height"),
            (VideoRequest::new("x").size(4000, 240), "width"),
            (VideoRequest::new("x").duration_secs(0), "duration"),
            (VideoRequest::new("x").duration_secs(600), "duration"),
            (VideoRequest::new("  "), "prompt"),
        ];
        for (req, needle) in cases {
            let err = plan(&c, &p, &req, DEFAULT_FPS).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn windows_stay_inside_the_clip() {
        let mut rng = stream(&[b"w"]);
        for frames in [24, 48, 96, 240, 1440] {
            for _ in 0..200 {
                let (s, e) = window(&mut rng, frames);
                assert!(
                    s >= 2 && s + 3 <= e && e <= frames - 2,
                    "{frames}: {s}..{e}"
                );
            }
        }
    }
}
