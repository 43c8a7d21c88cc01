//! Finding the job a submission may have created, when its answer was lost.
//!
//! None of the six providers promises to honour an idempotency key, so a
//! submission whose outcome is unknown (a reset after sending, a timeout, a
//! success status whose body broke off, a process killed mid-call) must
//! never simply be sent again. Where the provider can list its jobs
//! (OpenAI-compatible videos, Replicate predictions, Luma generations), the
//! job is looked for by its prompt and model among those created since the
//! submission began; where it cannot, the question has no answer and the
//! caller must say so ([`Lookup::Unknown`]) instead of guessing.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::{RemoteJob, VideoRequest};

/// How far back before the submission's start a listed job still counts:
/// the provider's clock and ours may disagree by this much.
pub const CLOCK_SKEW: Duration = Duration::from_secs(120);

/// Most list pages read in one lookup (each page holds up to 100 jobs):
/// past that the answer is [`Lookup::Unknown`], never a guess.
pub const MAX_PAGES: usize = 20;

/// What a search for a submission that may have happened found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "lookup", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Lookup {
    /// Exactly one job at the provider matches the request in the window:
    /// this is the one the lost answer was about. Adopt it.
    Found(RemoteJob),
    /// The provider's list covers the whole window and holds no job for the
    /// request: none was created, and sending it is safe.
    Absent,
    /// The question cannot be answered: the protocol cannot list jobs,
    /// several jobs match, the listing hides prompts, or it is longer than
    /// [`MAX_PAGES`]. Sending again might pay twice.
    Unknown {
        /// Why, for the user.
        reason: String,
    },
}

/// One job as a provider's list shows it.
#[derive(Clone, Debug)]
pub(crate) struct Listed {
    /// The handle a later poll needs.
    pub(crate) job: RemoteJob,
    /// The prompt it was created with, where the listing shows it.
    pub(crate) prompt: Option<String>,
    /// Its model, where shown.
    pub(crate) model: Option<String>,
    /// When it was created, where shown.
    pub(crate) created: Option<SystemTime>,
}

/// A lookup in progress over the pages of a provider's list.
#[derive(Debug)]
pub(crate) struct Search<'a> {
    prompt: &'a str,
    model: &'a str,
    since: SystemTime,
    matches: Vec<RemoteJob>,
    hidden: usize,
    reached_older: bool,
    newest_first: bool,
    pages: usize,
}

impl<'a> Search<'a> {
    /// Looks for `request` (sent with `model`) among jobs created after
    /// `since` less [`CLOCK_SKEW`].
    pub(crate) fn new(request: &'a VideoRequest, model: &'a str, since: SystemTime) -> Self {
        Self {
            prompt: &request.prompt,
            model,
            since: since.checked_sub(CLOCK_SKEW).unwrap_or(since),
            matches: Vec::new(),
            hidden: 0,
            reached_older: false,
            newest_first: true,
            pages: 0,
        }
    }

    /// For lists whose order the provider does not document: a job older
    /// than the window says nothing about the next page, so only the list's
    /// end (or [`MAX_PAGES`]) ends the search.
    pub(crate) fn unordered(mut self) -> Self {
        self.newest_first = false;
        self
    }

    /// Takes one page. Returns `true` while another page may still hold
    /// jobs of the window (none on this page was older than it, and fewer
    /// than [`MAX_PAGES`] were read).
    pub(crate) fn offer(&mut self, page: impl IntoIterator<Item = Listed>) -> bool {
        self.pages += 1;
        for listed in page {
            if listed.created.is_some_and(|t| t < self.since) {
                self.reached_older = true;
                continue;
            }
            match listed.prompt.as_deref() {
                None => self.hidden += 1,
                Some(p) if p == self.prompt && same_model(listed.model.as_deref(), self.model) => {
                    self.matches.push(listed.job);
                }
                Some(_) => {}
            }
        }
        !(self.newest_first && self.reached_older) && self.pages < MAX_PAGES
    }

    /// The verdict; `exhausted` is `true` when the provider said there are
    /// no more pages.
    pub(crate) fn finish(mut self, exhausted: bool) -> Lookup {
        match self.matches.len() {
            1 => Lookup::Found(self.matches.remove(0)),
            0 if self.hidden > 0 => Lookup::Unknown {
                reason: format!(
                    "{} job(s) of the window are listed without their prompt",
                    self.hidden
                ),
            },
            0 if exhausted || (self.newest_first && self.reached_older) => Lookup::Absent,
            0 => Lookup::Unknown {
                reason: format!(
                    "the provider's list is longer than {MAX_PAGES} pages since the submission"
                ),
            },
            n => Lookup::Unknown {
                reason: format!(
                    "{n} jobs match the prompt and model since the submission ({})",
                    self.matches
                        .iter()
                        .map(|j| j.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        }
    }
}

/// Whether a listed model is the one asked for; a version suffix
/// (`owner/name:version`) and an absent listed model do not disqualify.
fn same_model(listed: Option<&str>, asked: &str) -> bool {
    let base = |m: &str| m.split(':').next().unwrap_or(m).to_owned();
    listed.is_none_or(|l| base(l) == base(asked))
}

/// Parses an RFC 3339 time as providers write it (`2026-12-06T20:52:25.123Z`).
pub(crate) fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    // YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &text[19..];
    let mut nanos = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let mut part = frac[..digits].to_owned();
        part.truncate(9);
        while part.len() < 9 {
            part.push('0');
        }
        nanos = part.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && matches!(&o[..1], "+" | "-") => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().ok()? * 3600 + o[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::new(secs, u32::try_from(nanos).ok()?))
}

/// A Unix time in seconds as a `SystemTime`.
pub(crate) fn unix_secs(secs: i64) -> Option<SystemTime> {
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn listed(id: &str, prompt: Option<&str>, created: u64) -> Listed {
        Listed {
            job: RemoteJob::new("p", id),
            prompt: prompt.map(str::to_owned),
            model: Some("m".into()),
            created: Some(at(created)),
        }
    }

    #[test]
    fn one_match_in_the_window_is_found() {
        let req = VideoRequest::new("a ball");
        let mut s = Search::new(&req, "m", at(10_000));
        let more = s.offer([
            listed("new", Some("other"), 10_050),
            listed("mine", Some("a ball"), 10_010),
            listed("old", Some("a ball"), 1_000),
        ]);
        assert!(!more, "a job older than the window ends the search");
        assert_eq!(s.finish(false), Lookup::Found(RemoteJob::new("p", "mine")));
    }

    #[test]
    fn absent_only_when_the_window_is_covered() {
        let req = VideoRequest::new("a ball");
        let mut s = Search::new(&req, "m", at(10_000));
        assert!(s.offer([listed("x", Some("other"), 10_050)]));
        assert!(matches!(s.finish(false), Lookup::Unknown { .. }));
        let mut s = Search::new(&req, "m", at(10_000));
        s.offer([listed("x", Some("other"), 10_050)]);
        assert_eq!(s.finish(true), Lookup::Absent);
    }

    #[test]
    fn an_unordered_list_is_read_to_its_end() {
        let req = VideoRequest::new("a ball");
        let mut s = Search::new(&req, "m", at(10_000)).unordered();
        assert!(
            s.offer([listed("old", Some("x"), 1_000)]),
            "go on past old jobs"
        );
        assert!(matches!(s.finish(false), Lookup::Unknown { .. }));
    }

    #[test]
    fn two_matches_or_hidden_prompts_are_unknown() {
        let req = VideoRequest::new("a ball");
        let mut s = Search::new(&req, "m", at(10_000));
        s.offer([
            listed("a", Some("a ball"), 10_010),
            listed("b", Some("a ball"), 10_020),
        ]);
        let Lookup::Unknown { reason } = s.finish(true) else {
            panic!("two matches must not be adopted");
        };
        assert!(reason.contains("a, b"), "{reason}");
        let mut s = Search::new(&req, "m", at(10_000));
        s.offer([listed("a", None, 10_010)]);
        assert!(matches!(s.finish(true), Lookup::Unknown { .. }));
    }

    #[test]
    fn skew_and_models() {
        let req = VideoRequest::new("a ball");
        let mut s = Search::new(&req, "owner/name", at(10_000));
        let mut j = listed("skewed", Some("a ball"), 9_950);
        j.model = Some("owner/name:abc".into());
        let mut other = listed("other-model", Some("a ball"), 9_990);
        other.model = Some("owner/else".into());
        s.offer([j, other]);
        assert_eq!(s.finish(true), Lookup::Found(RemoteJob::new("p", "skewed")));
    }

    #[test]
    fn rfc3339_times_parse() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:10Z"), Some(at(10)));
        assert_eq!(
            parse_rfc3339("2023-09-08T16:19:34.907244Z"),
            Some(SystemTime::UNIX_EPOCH + Duration::new(1_694_189_974, 907_244_000))
        );
        assert_eq!(
            parse_rfc3339("2023-09-08T18:19:34+02:00"),
            Some(at(1_694_189_974))
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
