//! Fitting a request to what a model accepts, before anything is paid for.
//!
//! Every provider takes a handful of durations, sizes or aspect ratios and
//! answers anything else with a `bad_request` after the request has been
//! queued and, often, billed. [`VideoBackend::conform`](crate::VideoBackend::conform)
//! maps each value to the nearest one the model takes, drops parameters it
//! does not take, and says what it changed ([`Adjustment`]); the adapters'
//! `submit` sends only conformed requests. The values come from
//! [`ModelLimits`](crate::ModelLimits); this module is the mapping.

use serde::{Deserialize, Serialize};

use crate::providers::limits::{Durations, ModelLimits};
use crate::{Error, Result, Size, VideoRequest};

/// A request fitted to a model, and what was changed to fit it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conformed {
    /// What will be sent.
    pub request: VideoRequest,
    /// Each value that differs from the one asked for, in the order the
    /// fields were checked. Empty when the request fit as it was.
    pub adjustments: Vec<Adjustment>,
}

impl Conformed {
    /// `request` as it is, with nothing changed.
    #[must_use]
    pub fn unchanged(request: &VideoRequest) -> Self {
        Self {
            request: request.clone(),
            adjustments: Vec::new(),
        }
    }
}

/// One field changed to fit the model, in the provider's own spelling:
/// `{field: "seconds", asked: "2", sent: "4"}` for the OpenAI protocol,
/// `{field: "duration", asked: "2s", sent: "5s"}` for Luma.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    /// The provider's name for the field (`seconds`, `aspectRatio`).
    pub field: String,
    /// The value the request asked for, as the provider would have seen
    /// it; [`NONE`](Self::NONE) when it was absent.
    pub asked: String,
    /// The value sent instead; [`NONE`](Self::NONE) when the field is left
    /// out.
    pub sent: String,
}

impl Adjustment {
    /// Stands for a field that is absent on that side.
    pub const NONE: &'static str = "(none)";

    fn new(field: &str, asked: Option<String>, sent: Option<String>) -> Self {
        Self {
            field: field.to_owned(),
            asked: asked.unwrap_or_else(|| Self::NONE.to_owned()),
            sent: sent.unwrap_or_else(|| Self::NONE.to_owned()),
        }
    }
}

impl std::fmt::Display for Adjustment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} -> {}", self.field, self.asked, self.sent)
    }
}

/// How an adapter puts a request's fields on the wire.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wire {
    /// The duration's field name.
    pub(crate) duration: &'static str,
    /// How the duration is spelt.
    pub(crate) seconds: Seconds,
    /// How the frame is described.
    pub(crate) frame: Frame,
    /// The extras key of the negative prompt, where the protocol has one.
    pub(crate) negative_prompt: Option<&'static str>,
}

/// How a duration is spelt: `8`, `"8"` or `"8s"`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Seconds {
    Number,
    Text,
    Suffixed,
}

/// How the frame goes out.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Frame {
    /// The size in pixels (`1280x720`, or Runway's `1280:720`).
    Size {
        field: &'static str,
        separator: char,
    },
    /// An aspect ratio (explicit or reduced from the size) and, where
    /// `resolution` names a field, a resolution from the size's short side.
    Aspect {
        field: &'static str,
        resolution: Option<&'static str>,
    },
}

impl Wire {
    fn show(self, secs: u32) -> String {
        match self.seconds {
            Seconds::Number | Seconds::Text => secs.to_string(),
            Seconds::Suffixed => format!("{secs}s"),
        }
    }
}

/// The resolution a frame size is sent as: its short side, `4k` for 2160.
pub(crate) fn resolution_of(size: Size) -> String {
    match size.width.min(size.height) {
        2160 => "4k".to_owned(),
        short => format!("{short}p"),
    }
}

/// Fits `request` to `limits` as `wire` spells it; a model without limits
/// (one no table knows) passes through unchanged.
pub(crate) fn apply(
    provider: &str,
    model: &str,
    limits: Option<&ModelLimits>,
    wire: Wire,
    request: &VideoRequest,
) -> Result<Conformed> {
    let Some(limits) = limits else {
        return Ok(Conformed::unchanged(request));
    };
    let mut fit = Fit {
        provider,
        model,
        wire,
        limits,
        out: request.clone(),
        adjustments: Vec::new(),
    };
    fit.duration()?;
    match wire.frame {
        Frame::Size { field, separator } => fit.size(field, separator)?,
        Frame::Aspect { field, resolution } => {
            fit.aspect(field)?;
            if let Some(resolution) = resolution {
                fit.resolution(resolution)?;
            }
        }
    }
    fit.optional();
    if !fit.adjustments.is_empty() {
        tracing::debug!(provider, model, adjustments = ?fit.adjustments, "request conformed");
    }
    Ok(Conformed {
        request: fit.out,
        adjustments: fit.adjustments,
    })
}

struct Fit<'a> {
    provider: &'a str,
    model: &'a str,
    wire: Wire,
    limits: &'a ModelLimits,
    out: VideoRequest,
    adjustments: Vec<Adjustment>,
}

impl Fit<'_> {
    fn record(&mut self, field: &str, asked: Option<String>, sent: Option<String>) {
        if asked != sent {
            self.adjustments.push(Adjustment::new(field, asked, sent));
        }
    }

    fn refuse(&self, field: &str, asked: &str, valid: &[String]) -> Error {
        Error::InvalidRequest {
            provider: self.provider.to_owned(),
            reason: format!(
                "`{field}` = `{asked}` cannot be sent to `{}`, and no accepted value is near it; it takes {}",
                self.model,
                one_of(valid)
            ),
        }
    }

    fn duration(&mut self) -> Result<()> {
        let field = self.wire.duration;
        let asked = self.out.duration_secs;
        let sent = match (asked, &self.limits.durations) {
            (Some(0), Some(durations)) => {
                return Err(self.refuse(field, &self.wire.show(0), &self.durations(durations)));
            }
            (Some(secs), Some(durations)) => durations.nearest(secs),
            (None, _) => self.limits.default_duration,
            (asked, None) => asked,
        };
        self.out.duration_secs = sent;
        let wire = self.wire;
        self.record(
            field,
            asked.map(|s| wire.show(s)),
            sent.map(|s| wire.show(s)),
        );
        Ok(())
    }

    fn durations(&self, durations: &Durations) -> Vec<String> {
        match durations {
            Durations::OneOf(values) => values.iter().map(|&s| self.wire.show(s)).collect(),
            Durations::Range { min, max } => {
                vec![format!(
                    "{} to {}",
                    self.wire.show(*min),
                    self.wire.show(*max)
                )]
            }
        }
    }

    fn size(&mut self, field: &str, separator: char) -> Result<()> {
        let limits = self.limits;
        let Some(valid) = &limits.sizes else {
            return Ok(());
        };
        let show = |s: Size| format!("{}{separator}{}", s.width, s.height);
        let asked = self.out.size;
        let sent = match asked {
            Some(size) if size.width == 0 || size.height == 0 => {
                let valid: Vec<String> = valid.iter().map(|&s| show(s)).collect();
                return Err(self.refuse(field, &show(size), &valid));
            }
            Some(size) => nearest_size(size, valid),
            // A required field: the accepted size nearest the asked aspect.
            None => limits.default_size.map(|default| {
                self.out
                    .aspect_ratio
                    .as_deref()
                    .and_then(ratio)
                    .and_then(|(w, h)| {
                        nearest_size(
                            Size {
                                width: w,
                                height: h,
                            },
                            valid,
                        )
                    })
                    .unwrap_or(default)
            }),
        };
        self.out.size = sent;
        self.record(field, asked.map(show), sent.map(show));
        Ok(())
    }

    fn aspect(&mut self, field: &str) -> Result<()> {
        let limits = self.limits;
        let Some(valid) = &limits.aspect_ratios else {
            return Ok(());
        };
        let Some(asked) = self.out.aspect() else {
            return Ok(());
        };
        let sent = nearest_aspect(&asked, valid)
            .ok_or_else(|| self.refuse(field, &asked, valid))?
            .to_owned();
        if sent != asked {
            // Pinned, so that a size reduced to 7:3 still goes out as 21:9.
            self.out.aspect_ratio = Some(sent.clone());
        }
        self.record(field, Some(asked), Some(sent));
        Ok(())
    }

    fn resolution(&mut self, field: &str) -> Result<()> {
        let limits = self.limits;
        let (Some(valid), Some(size)) = (&limits.resolutions, self.out.size) else {
            return Ok(());
        };
        let asked = resolution_of(size);
        let secs = self.out.duration_secs;
        // Resolutions offered only at other durations are out of reach.
        let usable: Vec<String> = valid
            .iter()
            .filter(
                |r| match (limits.resolution_durations.get(r.as_str()), secs) {
                    (Some(only), Some(secs)) => only.contains(&secs),
                    _ => true,
                },
            )
            .cloned()
            .collect();
        let sent = if valid.is_empty() {
            None
        } else {
            let short = size.width.min(size.height);
            let nearest = nearest_resolution(short, &usable);
            Some(nearest.ok_or_else(|| self.refuse(field, &asked, valid))?)
        };
        if sent.as_deref() != Some(asked.as_str()) {
            // The aspect now travels on its own; the size only carries the
            // resolution, or nothing.
            self.out.aspect_ratio = self.out.aspect();
            let shape = self.out.aspect_ratio.as_deref().and_then(ratio);
            self.out.size = match (sent.as_deref().and_then(resolution_px), shape) {
                (Some(short), Some((w, h))) => Some(frame_at(w, h, short)),
                _ => None,
            };
        }
        self.record(field, Some(asked), sent);
        Ok(())
    }

    /// Drops the optional parameters the model does not take.
    fn optional(&mut self) {
        if !self.limits.seed {
            let asked = self.out.seed.take();
            self.record("seed", asked.map(|s| s.to_string()), None);
        }
        if let (false, Some(key)) = (self.limits.negative_prompt, self.wire.negative_prompt) {
            let asked = self.out.extras.remove(key).map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            });
            self.record(key, asked, None);
        }
    }
}

/// `a`, `b` or `c`, each in backticks.
fn one_of(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
    match quoted.split_last() {
        None => "nothing".to_owned(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// `16:9` → (16, 9); `None` for anything that is not two positive numbers.
fn ratio(text: &str) -> Option<(u32, u32)> {
    let (w, h) = text.split_once(':')?;
    let (w, h) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
    (w > 0 && h > 0).then_some((w, h))
}

/// How far apart two shapes are: 0 for the same ratio, the same for
/// "twice as wide" and "twice as tall".
fn shape_distance((w1, h1): (u32, u32), (w2, h2): (u32, u32)) -> f64 {
    let (a, b) = (f64::from(w1) * f64::from(h2), f64::from(w2) * f64::from(h1));
    (a / b).ln().abs()
}

impl Durations {
    /// The accepted duration nearest `secs`: the shorter one on a tie,
    /// since a longer clip costs more; `None` when none is accepted.
    pub(crate) fn nearest(&self, secs: u32) -> Option<u32> {
        match self {
            Self::OneOf(values) => values
                .iter()
                .copied()
                .min_by_key(|&v| (v.abs_diff(secs), v)),
            Self::Range { min, max } => Some(secs.clamp(*min, (*max).max(*min))),
        }
    }
}

/// The accepted size nearest `asked`: one of the same orientation
/// (landscape, portrait, square) where there is one, then the closest in
/// the logarithms of width and height, so that a size twice too wide is as
/// far as one half as wide; the earlier one in `valid` on a tie.
pub(crate) fn nearest_size(asked: Size, valid: &[Size]) -> Option<Size> {
    let log = |a: u32, b: u32| (f64::from(a) / f64::from(b)).ln();
    let key = |s: Size| {
        let turned = s.width.cmp(&s.height) != asked.width.cmp(&asked.height);
        let (dw, dh) = (log(s.width, asked.width), log(s.height, asked.height));
        (turned, dw * dw + dh * dh)
    };
    valid.iter().copied().min_by(|a, b| {
        let (ka, kb) = (key(*a), key(*b));
        ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
    })
}

/// The accepted aspect ratio nearest `asked`; `None` when `asked` is not a
/// ratio or nothing in `valid` is.
pub(crate) fn nearest_aspect<'a>(asked: &str, valid: &'a [String]) -> Option<&'a str> {
    let asked = ratio(asked)?;
    valid
        .iter()
        .filter_map(|v| ratio(v).map(|r| (v.as_str(), shape_distance(asked, r))))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(v, _)| v)
}

/// A resolution's short side in pixels: `720p` → 720, `4k` → 2160.
pub(crate) fn resolution_px(resolution: &str) -> Option<u32> {
    let r = resolution.trim().to_ascii_lowercase();
    match r.as_str() {
        "4k" => Some(2160),
        _ => r.strip_suffix('p')?.parse().ok(),
    }
}

/// The accepted resolution nearest a short side of `px`: the lower one on
/// a tie.
pub(crate) fn nearest_resolution(px: u32, valid: &[String]) -> Option<String> {
    valid
        .iter()
        .filter_map(|r| resolution_px(r).map(|p| (r, p)))
        .min_by_key(|&(_, p)| (p.abs_diff(px), p))
        .map(|(r, _)| r.clone())
}

/// A frame of ratio `w:h` whose short side is `short`, its long side
/// rounded to an even number of pixels: (16, 9, 720) → 1280x720.
fn frame_at(w: u32, h: u32, short: u32) -> Size {
    let long = |a: u32, b: u32| {
        let exact = f64::from(short) * f64::from(a) / f64::from(b);
        ((exact / 2.0).round() * 2.0) as u32
    };
    if w >= h {
        Size {
            width: long(w, h),
            height: short,
        }
    } else {
        Size {
            width: short,
            height: long(h, w),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(width: u32, height: u32) -> Size {
        Size { width, height }
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|&v| v.to_owned()).collect()
    }

    #[test]
    fn durations_go_to_the_nearest_and_the_shorter_on_a_tie() {
        let sora = Durations::OneOf(vec![4, 8, 12]);
        assert_eq!(sora.nearest(2), Some(4));
        assert_eq!(sora.nearest(7), Some(8));
        assert_eq!(sora.nearest(6), Some(4), "a tie goes to the cheaper clip");
        assert_eq!(sora.nearest(60), Some(12));
        let gen45 = Durations::Range { min: 2, max: 10 };
        assert_eq!(gen45.nearest(1), Some(2));
        assert_eq!(gen45.nearest(7), Some(7));
        assert_eq!(gen45.nearest(30), Some(10));
        assert_eq!(Durations::OneOf(vec![]).nearest(5), None);
    }

    #[test]
    fn sizes_keep_their_orientation_then_come_nearest() {
        let sora = [
            size(720, 1280),
            size(1280, 720),
            size(1024, 1792),
            size(1792, 1024),
        ];
        assert_eq!(nearest_size(size(320, 240), &sora), Some(size(1280, 720)));
        assert_eq!(nearest_size(size(240, 320), &sora), Some(size(720, 1280)));
        assert_eq!(
            nearest_size(size(1920, 1080), &sora),
            Some(size(1792, 1024))
        );
        assert_eq!(
            nearest_size(size(3584, 2048), &sora),
            Some(size(1792, 1024))
        );
        // A tall sliver still gets a portrait frame, however small.
        assert_eq!(nearest_size(size(100, 101), &sora), Some(size(720, 1280)));
        // A square has no orientation to keep: the first nearest wins.
        assert_eq!(nearest_size(size(512, 512), &sora), Some(size(720, 1280)));
        assert_eq!(nearest_size(size(640, 360), &[]), None);
    }

    #[test]
    fn aspect_ratios_and_resolutions_go_to_the_nearest() {
        let luma = strings(&["1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"]);
        assert_eq!(nearest_aspect("4:3", &luma), Some("4:3"));
        assert_eq!(nearest_aspect("7:3", &luma), Some("21:9"));
        assert_eq!(nearest_aspect("5:4", &luma), Some("4:3"));
        let veo = strings(&["16:9", "9:16"]);
        assert_eq!(nearest_aspect("4:3", &veo), Some("16:9"));
        assert_eq!(nearest_aspect("1:2", &veo), Some("9:16"));
        assert_eq!(nearest_aspect("wide", &veo), None);
        let res = strings(&["540p", "720p", "1080p", "4k"]);
        assert_eq!(nearest_resolution(240, &res).as_deref(), Some("540p"));
        assert_eq!(nearest_resolution(900, &res).as_deref(), Some("720p"));
        assert_eq!(nearest_resolution(3000, &res).as_deref(), Some("4k"));
        assert_eq!(resolution_px("4K"), Some(2160));
        assert_eq!(resolution_of(size(3840, 2160)), "4k");
        assert_eq!(resolution_of(size(320, 240)), "240p");
    }

    #[test]
    fn frames_are_rebuilt_from_shape_and_resolution() {
        assert_eq!(frame_at(16, 9, 720), size(1280, 720));
        assert_eq!(frame_at(9, 16, 540), size(540, 960));
        assert_eq!(frame_at(21, 9, 720), size(1680, 720));
        assert_eq!(frame_at(4, 3, 2160), size(2880, 2160));
    }

    const OPENAI: Wire = Wire {
        duration: "seconds",
        seconds: Seconds::Text,
        frame: Frame::Size {
            field: "size",
            separator: 'x',
        },
        negative_prompt: None,
    };

    const LUMA: Wire = Wire {
        duration: "duration",
        seconds: Seconds::Suffixed,
        frame: Frame::Aspect {
            field: "aspect_ratio",
            resolution: Some("resolution"),
        },
        negative_prompt: None,
    };

    fn sora() -> ModelLimits {
        ModelLimits::new()
            .durations(Durations::OneOf(vec![4, 8, 12]))
            .sizes([size(720, 1280), size(1280, 720)])
            .seed(false)
    }

    #[test]
    fn a_request_that_fits_is_left_alone() {
        let request = VideoRequest::new("x").duration_secs(8).size(1280, 720);
        let c = apply("openai", "sora-2", Some(&sora()), OPENAI, &request).unwrap();
        assert_eq!(c, Conformed::unchanged(&request));
        let c = apply(
            "openai",
            "acme-video",
            None,
            OPENAI,
            &request.clone().seed(3),
        )
        .unwrap();
        assert!(c.adjustments.is_empty(), "unknown models pass through");
    }

    #[test]
    fn every_change_is_recorded_in_the_providers_spelling() {
        let request = VideoRequest::new("x")
            .duration_secs(2)
            .size(320, 240)
            .seed(7);
        let c = apply("openai", "sora-2", Some(&sora()), OPENAI, &request).unwrap();
        assert_eq!(
            c.adjustments,
            [
                Adjustment::new("seconds", Some("2".into()), Some("4".into())),
                Adjustment::new("size", Some("320x240".into()), Some("1280x720".into())),
                Adjustment::new("seed", Some("7".into()), None),
            ]
        );
        assert_eq!(c.adjustments[2].to_string(), "seed: 7 -> (none)");
        assert_eq!((c.request.duration_secs, c.request.seed), (Some(4), None));
        assert_eq!(c.request.size, Some(size(1280, 720)));
    }

    #[test]
    fn luma_gets_a_resolution_it_offers_and_keeps_the_shape() {
        let limits = ModelLimits::new()
            .durations(Durations::OneOf(vec![5, 9]))
            .aspect_ratios(["1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"])
            .resolutions(["540p", "720p", "1080p", "4k"])
            .seed(false);
        let request = VideoRequest::new("x").duration_secs(2).size(320, 240);
        let c = apply("luma", "ray-2", Some(&limits), LUMA, &request).unwrap();
        assert_eq!(
            c.adjustments,
            [
                Adjustment::new("duration", Some("2s".into()), Some("5s".into())),
                Adjustment::new("resolution", Some("240p".into()), Some("540p".into())),
            ]
        );
        assert_eq!(c.request.aspect().as_deref(), Some("4:3"));
        assert_eq!(resolution_of(c.request.size.unwrap()), "540p");
    }

    #[test]
    fn a_resolution_offered_only_at_some_durations_steps_down() {
        let limits = ModelLimits::new()
            .durations(Durations::OneOf(vec![4, 6, 8]))
            .aspect_ratios(["16:9", "9:16"])
            .resolutions(["720p", "1080p", "4k"])
            .resolution_only_at("1080p", [8])
            .resolution_only_at("4k", [8]);
        let at = |secs| VideoRequest::new("x").duration_secs(secs).size(1920, 1080);
        let c = apply("veo", "veo-3.1", Some(&limits), LUMA, &at(4)).unwrap();
        assert_eq!(
            c.adjustments,
            [Adjustment::new(
                "resolution",
                Some("1080p".into()),
                Some("720p".into())
            )]
        );
        assert_eq!(c.request.size, Some(size(1280, 720)));
        let c = apply("veo", "veo-3.1", Some(&limits), LUMA, &at(8)).unwrap();
        assert!(c.adjustments.is_empty(), "{:?}", c.adjustments);
    }

    #[test]
    fn a_field_the_model_does_not_take_is_dropped() {
        let veo2 = ModelLimits::new()
            .aspect_ratios(["16:9", "9:16"])
            .resolutions(Vec::<String>::new());
        let request = VideoRequest::new("x").size(1280, 720);
        let c = apply("veo", "veo-2", Some(&veo2), LUMA, &request).unwrap();
        assert_eq!(
            c.adjustments,
            [Adjustment::new("resolution", Some("720p".into()), None)]
        );
        assert_eq!(c.request.size, None);
        assert_eq!(c.request.aspect().as_deref(), Some("16:9"));
    }

    #[test]
    fn nothing_sensible_is_an_invalid_request_naming_field_value_and_choices() {
        let zero = VideoRequest::new("x").duration_secs(0);
        let err = apply("openai", "sora-2", Some(&sora()), OPENAI, &zero).unwrap_err();
        assert_eq!(err.category(), crate::FailureCategory::BadRequest);
        assert_eq!(
            err.to_string(),
            "openai: invalid request: `seconds` = `0` cannot be sent to `sora-2`, and no \
             accepted value is near it; it takes `4`, `8` or `12`"
        );
        let flat = VideoRequest::new("x").size(1280, 0);
        let err = apply("openai", "sora-2", Some(&sora()), OPENAI, &flat).unwrap_err();
        assert!(err.to_string().contains("`size` = `1280x0`"), "{err}");
        let luma = ModelLimits::new().aspect_ratios(["16:9", "9:16"]);
        let mut odd = VideoRequest::new("x");
        odd.aspect_ratio = Some("wide".into());
        let err = apply("luma", "ray-2", Some(&luma), LUMA, &odd).unwrap_err();
        assert!(
            err.to_string()
                .contains("`aspect_ratio` = `wide` cannot be sent to `ray-2`")
                && err.to_string().contains("it takes `16:9` or `9:16`"),
            "{err}"
        );
    }

    #[test]
    fn adjustments_serialise_as_plain_records() {
        let a = Adjustment::new("duration", Some("2s".into()), Some("5s".into()));
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"field": "duration", "asked": "2s", "sent": "5s"})
        );
    }
}
