//! What each provider's models accept: durations, frame sizes or aspect
//! ratios and resolutions, and optional parameters.
//!
//! One table per provider, each a `match` on the model family with its
//! source and the date it was checked. A model no table names (a new
//! Replicate model, a gateway's own model behind the OpenAI protocol)
//! passes through unchanged: the provider decides. The OpenAI-compatible
//! backend takes more entries at run time
//! ([`OpenAiBackend::with_model_limits`](crate::OpenAiBackend::with_model_limits)),
//! which is why [`ModelLimits`] deserialises from configuration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Size;

/// What one model accepts. [`conform`](crate::VideoBackend::conform) maps
/// a request onto it.
///
/// Deserialises from configuration, sizes written `WxH`:
///
/// ```
/// use framebreak_client::{Durations, ModelLimits};
///
/// let json = r#"{"durations": {"min": 4, "max": 15}, "sizes": ["1344x768", "768x1344"], "seed": false}"#;
/// let limits: ModelLimits = serde_json::from_str(json).unwrap();
/// assert_eq!(limits.durations, Some(Durations::Range { min: 4, max: 15 }));
/// assert!(!limits.seed && limits.negative_prompt);
/// ```
///
/// A list that is absent accepts anything; an empty `durations`, `sizes`
/// or `resolutions` list means the model does not take the field, which is
/// then left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ModelLimits {
    /// The durations accepted, in whole seconds.
    pub durations: Option<Durations>,
    /// The duration sent when a request has none, for a model that
    /// requires one.
    pub default_duration: Option<u32>,
    /// The frame sizes accepted, for protocols that send a size (OpenAI's
    /// `size`, Runway's `ratio`).
    #[serde(with = "wxh::list")]
    pub sizes: Option<Vec<Size>>,
    /// The size sent when a request has none, for a model that requires
    /// one.
    #[serde(with = "wxh::one")]
    pub default_size: Option<Size>,
    /// The aspect ratios accepted (`16:9`), for protocols that send one.
    pub aspect_ratios: Option<Vec<String>>,
    /// The resolutions accepted (`720p`, `4k`), for protocols that send
    /// one (taken from the size's short side).
    pub resolutions: Option<Vec<String>>,
    /// Resolutions offered only at some durations (Veo 3.1: `1080p` and
    /// `4k` at 8 s only). A request at another duration gets the nearest
    /// resolution offered there.
    pub resolution_durations: BTreeMap<String, Vec<u32>>,
    /// Whether the model takes a seed. Default: true.
    pub seed: bool,
    /// Whether the model takes a negative prompt (passed as an extra).
    /// Default: true.
    pub negative_prompt: bool,
}

impl Default for ModelLimits {
    /// Accepts anything.
    fn default() -> Self {
        Self {
            durations: None,
            default_duration: None,
            sizes: None,
            default_size: None,
            aspect_ratios: None,
            resolutions: None,
            resolution_durations: BTreeMap::new(),
            seed: true,
            negative_prompt: true,
        }
    }
}

/// The durations a model accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Durations {
    /// Exactly these, in seconds (`[4, 8, 12]`).
    OneOf(Vec<u32>),
    /// Any whole number of seconds from `min` to `max` (`{"min": 2, "max": 10}`).
    Range {
        /// The shortest.
        min: u32,
        /// The longest.
        max: u32,
    },
}

impl ModelLimits {
    /// Limits that accept anything; narrow them with the other methods.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the accepted durations.
    #[must_use]
    pub fn durations(mut self, durations: Durations) -> Self {
        self.durations = Some(durations);
        self
    }

    /// Sets the duration sent when a request has none.
    #[must_use]
    pub fn default_duration(mut self, secs: u32) -> Self {
        self.default_duration = Some(secs);
        self
    }

    /// Sets the accepted frame sizes.
    #[must_use]
    pub fn sizes(mut self, sizes: impl IntoIterator<Item = Size>) -> Self {
        self.sizes = Some(sizes.into_iter().collect());
        self
    }

    /// Sets the size sent when a request has none.
    #[must_use]
    pub fn default_size(mut self, size: Size) -> Self {
        self.default_size = Some(size);
        self
    }

    /// Sets the accepted aspect ratios.
    #[must_use]
    pub fn aspect_ratios<S: Into<String>>(mut self, ratios: impl IntoIterator<Item = S>) -> Self {
        self.aspect_ratios = Some(ratios.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the accepted resolutions.
    #[must_use]
    pub fn resolutions<S: Into<String>>(
        mut self,
        resolutions: impl IntoIterator<Item = S>,
    ) -> Self {
        self.resolutions = Some(resolutions.into_iter().map(Into::into).collect());
        self
    }

    /// Offers `resolution` only at these durations.
    #[must_use]
    pub fn resolution_only_at(
        mut self,
        resolution: impl Into<String>,
        secs: impl IntoIterator<Item = u32>,
    ) -> Self {
        self.resolution_durations
            .insert(resolution.into(), secs.into_iter().collect());
        self
    }

    /// Sets whether the model takes a seed.
    #[must_use]
    pub fn seed(mut self, accepted: bool) -> Self {
        self.seed = accepted;
        self
    }

    /// Sets whether the model takes a negative prompt.
    #[must_use]
    pub fn negative_prompt(mut self, accepted: bool) -> Self {
        self.negative_prompt = accepted;
        self
    }
}

/// Sizes as a table writes them: `1280x720`, or Runway's `1280:720`.
fn frames(list: &[&str]) -> Vec<Size> {
    list.iter()
        .map(|text| wxh::parse(text).expect("the tables hold well-formed sizes"))
        .collect()
}

fn one_of(secs: &[u32]) -> Durations {
    Durations::OneOf(secs.to_vec())
}

/// The OpenAI Videos API (`POST /v1/videos`), for `sora-2` and `sora-2-pro`
/// and their dated snapshots. `seconds` goes out as a string; no seed, no
/// negative prompt.
///
/// Source: openai/openai-python `src/openai/types/video_create_params.py`,
/// `video_seconds.py` (`"4"`, `"8"`, `"12"`), `video_size.py` (four sizes)
/// and `video_model.py`, at e43b422 (2026-08-21); sora-2's two sizes from
/// OpenAI's video generation guide as ComfyUI's Sora node documents it.
/// Checked 2026-12-06. OpenAI shut the API and both models down on
/// 2026-09-24 (its deprecations page and video guide); gateways that kept
/// the protocol serve other models, added with
/// [`OpenAiBackend::with_model_limits`](crate::OpenAiBackend::with_model_limits).
pub(crate) fn openai(model: &str) -> Option<ModelLimits> {
    let family = |name: &str| model == name || model.starts_with(&format!("{name}-20"));
    let sora = ModelLimits::new()
        .durations(one_of(&[4, 8, 12]))
        .seed(false)
        .negative_prompt(false);
    if family("sora-2-pro") {
        Some(sora.sizes(frames(&["720x1280", "1280x720", "1024x1792", "1792x1024"])))
    } else if family("sora-2") {
        Some(sora.sizes(frames(&["720x1280", "1280x720"])))
    } else {
        None
    }
}

/// Replicate's official video models (`POST /v1/models/{owner}/{name}/predictions`):
/// `duration` an integer, `aspect_ratio` a string.
///
/// Source: the models' API pages on replicate.com (google/veo-3.1,
/// google/veo-3-fast, luma/ray-2-540p, luma/ray-2-720p, luma/ray-flash-2-540p:
/// field names, types, `seed` present for Veo and absent for Ray), checked
/// 2026-12-06. Those pages do not show enum values; the values are the
/// models' own: Veo 3 and 3.1 4, 6, 8 s at 16:9 or 9:16 (Google's Gemini
/// API Veo page, updated 2026-09-17), Ray 2 5 or 9 s at seven ratios
/// (lumalabs/lumaai-python `generation_create_params.py`, 2025-10-22).
pub(crate) fn replicate(model: &str) -> Option<ModelLimits> {
    let name = model.split_once(':').map_or(model, |(name, _)| name);
    match name {
        "google/veo-3.1" | "google/veo-3.1-fast" | "google/veo-3" => Some(
            ModelLimits::new()
                .durations(one_of(&[4, 6, 8]))
                .aspect_ratios(["16:9", "9:16"]),
        ),
        "luma/ray-2-540p"
        | "luma/ray-2-720p"
        | "luma/ray-flash-2-540p"
        | "luma/ray-flash-2-720p" => Some(
            ModelLimits::new()
                .durations(one_of(&[5, 9]))
                .aspect_ratios(LUMA_RATIOS)
                .seed(false)
                .negative_prompt(false),
        ),
        _ => None,
    }
}

/// fal.ai's Veo endpoints (`POST queue.fal.run/{model}`): `duration` a
/// string with a unit (`"8s"`), `aspect_ratio`, `seed`, `negative_prompt`.
///
/// Source: fal's model pages (`fal.ai/models/fal-ai/veo3.1/llms.txt`,
/// `fal-ai/veo3/fast/llms.txt`, the API reference for `fal-ai/veo3.1/fast`
/// and `fal-ai/veo3.1/lite`): duration `"4s"`, `"6s"`, `"8s"`, aspect ratio
/// `"16:9"` or `"9:16"`. Checked 2026-12-06.
pub(crate) fn fal(model: &str) -> Option<ModelLimits> {
    match model.trim_matches('/') {
        "fal-ai/veo3.1" | "fal-ai/veo3.1/fast" | "fal-ai/veo3.1/lite" | "fal-ai/veo3"
        | "fal-ai/veo3/fast" => Some(
            ModelLimits::new()
                .durations(one_of(&[4, 6, 8]))
                .aspect_ratios(["16:9", "9:16"]),
        ),
        _ => None,
    }
}

/// Runway's two landscape and portrait 720p frames.
const RUNWAY_720: [&str; 2] = ["1280:720", "720:1280"];

/// Seedance 2.0 Fast and Mini: 480p and 720p.
const SEEDANCE_720: [&str; 12] = [
    "992:432", "864:496", "752:560", "640:640", "560:752", "496:864", "1470:630", "1280:720",
    "1112:834", "960:960", "834:1112", "720:1280",
];

/// Seedance 2.0 also offers 1080p and 4k.
#[rustfmt::skip]
const SEEDANCE_ABOVE_720: [&str; 12] = [
    "2206:946", "1920:1080", "1664:1248", "1440:1440", "1248:1664", "1080:1920", "3840:1646",
    "3840:2160", "3840:2880", "3840:3840", "2880:3840", "2160:3840",
];

/// HappyHorse 1.0.
#[rustfmt::skip]
const HAPPYHORSE: [&str; 10] = [
    "1280:720", "720:1280", "960:960", "1108:832", "832:1108", "1920:1080", "1080:1920",
    "1440:1440", "1662:1248", "1248:1662",
];

/// Runway's `POST /v1/text_to_video` (API version 2024-11-06): `ratio` a
/// pixel size with a colon, `duration` an integer.
///
/// Source: runwayml/sdk-python `src/runwayml/types/text_to_video_create_params.py`
/// at c604e0e (release 5.13.0, 2026-07-27), checked 2026-12-06. `ratio` is
/// required for gen4.5 and the Veo models, `duration` for gen4.5 and veo3;
/// only gen4.5 takes a seed. The SDK gives no range for the Seedance and
/// HappyHorse durations, so those pass as asked.
pub(crate) fn runway(model: &str) -> Option<ModelLimits> {
    let landscape = Size {
        width: 1280,
        height: 720,
    };
    let other = || ModelLimits::new().seed(false).negative_prompt(false);
    let veo = || {
        ModelLimits::new()
            .sizes(frames(&["1280:720", "720:1280", "1080:1920", "1920:1080"]))
            .default_size(landscape)
            .seed(false)
    };
    match model {
        "gen4.5" => Some(
            ModelLimits::new()
                .durations(Durations::Range { min: 2, max: 10 })
                .default_duration(2)
                .sizes(frames(&RUNWAY_720))
                .default_size(landscape)
                .negative_prompt(false),
        ),
        "veo3.1" | "veo3.1_fast" => Some(veo().durations(one_of(&[4, 6, 8]))),
        "veo3" => Some(veo().durations(one_of(&[8])).default_duration(8)),
        "gemini_omni_flash" => Some(
            other()
                .durations(Durations::Range { min: 3, max: 10 })
                .sizes(frames(&RUNWAY_720)),
        ),
        "happyhorse_1_0" => Some(other().sizes(frames(&HAPPYHORSE))),
        "seedance2_fast" | "seedance2_mini" => Some(other().sizes(frames(&SEEDANCE_720))),
        "seedance2" => {
            let sizes = [frames(&SEEDANCE_720), frames(&SEEDANCE_ABOVE_720)].concat();
            Some(other().sizes(sizes))
        }
        _ => None,
    }
}

/// The seven aspect ratios of Luma's Ray models.
const LUMA_RATIOS: [&str; 7] = ["1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"];

/// Luma's Dream Machine API (`POST /dream-machine/v1/generations/video`):
/// `duration` a string with a unit (`"5s"`), `aspect_ratio`, `resolution`;
/// no seed, no negative prompt.
///
/// Source: lumalabs/lumaai-python `src/lumaai/types/generation_create_params.py`
/// at c00ac17 (2025-10-22): models `ray-1-6`, `ray-2`, `ray-flash-2`;
/// duration `"5s"`, `"9s"`; resolution `"540p"`, `"720p"`, `"1080p"`,
/// `"4k"`; seven aspect ratios. Checked 2026-12-06. Ray 1.6 takes neither
/// duration nor resolution and is left out. Luma's newer Ray 3.2 is served
/// by its separate Agents API, not by this one.
pub(crate) fn luma(model: &str) -> Option<ModelLimits> {
    match model {
        "ray-2" | "ray-flash-2" => Some(
            ModelLimits::new()
                .durations(one_of(&[5, 9]))
                .aspect_ratios(LUMA_RATIOS)
                .resolutions(["540p", "720p", "1080p", "4k"])
                .seed(false)
                .negative_prompt(false),
        ),
        _ => None,
    }
}

/// The Gemini API's Veo models (`POST /v1beta/models/{model}:predictLongRunning`):
/// `durationSeconds` a number, `aspectRatio`, `resolution`,
/// `negativePrompt`; never a seed.
///
/// Source: Google's "Generate videos with Veo 3.1 in the Gemini API" page
/// (ai.google.dev/gemini-api/docs/video, parameter table, updated
/// 2026-09-17) and googleapis/python-genai `google/genai/models.py`
/// `_GenerateVideosConfig_to_mldev` at 6680718 (2026-08-21), which sends
/// `durationSeconds` as an integer and refuses `seed` outside Vertex
/// ("only supported in Gemini Enterprise Agent Platform mode"). Checked
/// 2026-12-06. 1080p and 4k only at 8 s; Lite has no 4k; Veo 2 takes no
/// resolution. Veo 3.0 (`veo-3.0-generate-001`) was scheduled to shut down
/// on 2026-06-30 (Gemini API deprecations page) and is left out.
pub(crate) fn veo(model: &str) -> Option<ModelLimits> {
    let veo3 = || {
        ModelLimits::new()
            .durations(one_of(&[4, 6, 8]))
            .aspect_ratios(["16:9", "9:16"])
            .seed(false)
    };
    match model.strip_prefix("models/").unwrap_or(model) {
        "veo-3.1-generate-preview" | "veo-3.1-fast-generate-preview" => Some(
            veo3()
                .resolutions(["720p", "1080p", "4k"])
                .resolution_only_at("1080p", [8])
                .resolution_only_at("4k", [8]),
        ),
        "veo-3.1-lite-generate-preview" => Some(
            veo3()
                .resolutions(["720p", "1080p"])
                .resolution_only_at("1080p", [8]),
        ),
        "veo-2.0-generate-001" => Some(
            veo3()
                .durations(one_of(&[5, 6, 8]))
                .resolutions(Vec::<String>::new()),
        ),
        _ => None,
    }
}

/// Sizes as `WxH` text in configuration.
mod wxh {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::Size;

    /// `1280x720`, or `1280:720` as Runway writes sizes.
    pub(crate) fn parse(text: &str) -> Result<Size, String> {
        text.replace(':', "x").parse().map_err(|_| {
            crate::ParseSizeError {
                text: text.to_owned(),
            }
            .to_string()
        })
    }

    pub(super) mod one {
        use super::{Deserialize, Deserializer, Serializer, Size, parse};

        pub(crate) fn serialize<S: Serializer>(
            size: &Option<Size>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match size {
                Some(size) => s.serialize_some(&size.to_string()),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Size>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|t| parse(&t).map_err(serde::de::Error::custom))
                .transpose()
        }
    }

    pub(super) mod list {
        use super::{Deserialize, Deserializer, Serializer, Size, parse};

        pub(crate) fn serialize<S: Serializer>(
            sizes: &Option<Vec<Size>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match sizes {
                Some(sizes) => {
                    s.serialize_some(&sizes.iter().map(ToString::to_string).collect::<Vec<_>>())
                }
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Vec<Size>>, D::Error> {
            Option::<Vec<String>>::deserialize(d)?
                .map(|list| {
                    list.iter()
                        .map(|t| parse(t).map_err(serde::de::Error::custom))
                        .collect()
                })
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_knows_its_default_model() {
        use crate::{FalBackend, LumaBackend, ReplicateBackend, RunwayBackend, VeoBackend};
        assert!(replicate(ReplicateBackend::DEFAULT_MODEL).is_some());
        assert!(fal(FalBackend::DEFAULT_MODEL).is_some());
        assert!(runway(RunwayBackend::DEFAULT_MODEL).is_some());
        assert!(luma(LumaBackend::DEFAULT_MODEL).is_some());
        assert!(veo(VeoBackend::DEFAULT_MODEL).is_some());
        // The simulator's model: no table, no adjustment.
        assert!(openai(crate::OpenAiBackend::DEFAULT_MODEL).is_none());
    }

    #[test]
    fn families_cover_snapshots_and_versions() {
        assert_eq!(openai("sora-2-2025-12-08"), openai("sora-2"));
        assert_eq!(openai("sora-2-pro-2025-10-06"), openai("sora-2-pro"));
        assert_ne!(openai("sora-2-pro"), openai("sora-2"));
        assert!(openai("sora-2-turbo").is_none());
        assert_eq!(
            replicate("google/veo-3.1:abc123"),
            replicate("google/veo-3.1")
        );
        assert_eq!(fal("/fal-ai/veo3.1/fast/"), fal("fal-ai/veo3.1/fast"));
        assert_eq!(
            veo("models/veo-3.1-generate-preview"),
            veo("veo-3.1-generate-preview")
        );
        assert!(runway("gen4_turbo").is_none(), "image-to-video only");
    }

    #[test]
    fn every_runway_model_has_well_formed_sizes() {
        for model in [
            "gen4.5",
            "veo3.1",
            "veo3.1_fast",
            "veo3",
            "gemini_omni_flash",
            "happyhorse_1_0",
            "seedance2",
            "seedance2_fast",
            "seedance2_mini",
        ] {
            let sizes = runway(model).and_then(|l| l.sizes).unwrap_or_default();
            assert!(sizes.len() >= 2, "{model}");
        }
        assert_eq!(runway("seedance2").unwrap().sizes.unwrap().len(), 24);
    }

    #[test]
    fn limits_round_trip_through_configuration() {
        let portrait = Size {
            width: 768,
            height: 1344,
        };
        let limits = ModelLimits::new()
            .durations(Durations::OneOf(vec![6, 10]))
            .sizes([portrait])
            .default_size(portrait)
            .seed(false);
        let json = serde_json::to_value(&limits).unwrap();
        assert_eq!(json["sizes"], serde_json::json!(["768x1344"]));
        assert_eq!(json["durations"], serde_json::json!([6, 10]));
        let back: ModelLimits = serde_json::from_value(json).unwrap();
        assert_eq!(back, limits);
        let empty: ModelLimits = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, ModelLimits::default());
        let err = serde_json::from_str::<ModelLimits>(r#"{"sizes": ["wide"]}"#).unwrap_err();
        assert!(err.to_string().contains("`wide` is not a size"), "{err}");
        let err = serde_json::from_str::<ModelLimits>(r#"{"seconds": [4]}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `seconds`"), "{err}");
    }
}
