//! Roasts: short posts about the worst videos of a run, ready to publish.
//!
//! [`compose`] picks the done videos with the lowest physics scores (ties
//! broken by realism, one per base prompt while there are enough) and
//! writes each a post from a few templates, chosen by job id so the same
//! run always gives the same posts: the model, the trap that broke it, the
//! scores, the main defect and its frames, the prompt (shortened to fit).
//! Every post fits X's 280 characters as X counts them
//! ([`framebreak_client::weighted_len`]). [`publish`] sends them through any
//! [`Publisher`]: [`framebreak_client::DryRunPublisher`] by default, X only
//! when asked.
//!
//! ```
//! use framebreak::roast::compose;
//!
//! assert!(compose(&[], 3).is_empty());
//! ```

use std::collections::BTreeSet;
use std::path::Path;

use framebreak_client::{MAX_POST_LEN, Post, Published, Publisher, weighted_len};
use framebreak_defects::Finding;
use framebreak_variants::{Catalogue, DefectKind};

use crate::ResultRow;
use crate::report::worst_rows;

/// Longest model or trap name put in a post, in characters.
const NAME_MAX: usize = 40;

/// A post about one video, with what it was made from.
#[derive(Debug, Clone, PartialEq)]
pub struct Roast {
    /// The job (variant) id.
    pub job: String,
    /// The post's text, at most 280 weighted characters.
    pub text: String,
    /// The video to attach, relative to the run folder.
    pub video: Option<String>,
    /// The trap blamed (`None` for an unmutated control).
    pub trap: Option<String>,
    /// The physics score.
    pub physics: f64,
    /// The realism score.
    pub realism: f64,
    /// The main defect: its kind and frames (inclusive).
    pub defect: Option<(DefectKind, u64, u64)>,
}

impl Roast {
    /// The post to publish, with the video (under `run_dir`) attached.
    #[must_use]
    pub fn post(&self, run_dir: &Path) -> Post {
        let post = Post::new(self.text.clone());
        match &self.video {
            Some(v) => post.with_video(run_dir.join(v)),
            None => post,
        }
    }
}

/// Posts about the `top` worst done videos of `rows`: lowest physics first,
/// ties by realism, at most one per base prompt until every base prompt has
/// had its turn.
#[must_use]
pub fn compose(rows: &[ResultRow], top: usize) -> Vec<Roast> {
    let worst = worst_rows(rows);
    let mut picked: Vec<&ResultRow> = Vec::new();
    let mut bases = BTreeSet::new();
    for row in &worst {
        if picked.len() < top && bases.insert(row.base_id.as_str()) {
            picked.push(row);
        }
    }
    for row in &worst {
        if picked.len() >= top {
            break;
        }
        if !picked.iter().any(|p| p.job == row.job) {
            picked.push(row);
        }
    }
    picked.sort_by(|a, b| {
        let pos = |r: &ResultRow| worst.iter().position(|w| w.job == r.job);
        pos(a).cmp(&pos(b))
    });
    let catalogue = Catalogue::builtin();
    picked
        .into_iter()
        .filter_map(|row| roast(row, &catalogue))
        .collect()
}

fn roast(row: &ResultRow, catalogue: &Catalogue) -> Option<Roast> {
    let a = row.analysis.as_ref()?;
    let main = main_defect(&a.defects);
    let trap = blamed_trap(row, main.map(|f| f.kind), catalogue);
    let model = row.model.as_deref().unwrap_or(&row.backend);
    let parts = Parts {
        model: clean(model, NAME_MAX),
        trap: trap.as_deref().map_or_else(
            || "no trap at all".to_owned(),
            |t| format!("the {} trap", clean(t, NAME_MAX)),
        ),
        physics: format!("{:.0}", a.scores.physics),
        realism: format!("{:.0}", a.scores.realism),
        defect: main.map_or_else(
            || "no single defect to blame".to_owned(),
            |f| {
                if f.start_frame == f.end_frame {
                    format!("{} at frame {}", f.kind, f.start_frame)
                } else {
                    format!("{} at frames {}–{}", f.kind, f.start_frame, f.end_frame)
                }
            },
        ),
    };
    let template = TEMPLATES[template_index(&row.job)];
    let text = fit(template, &parts, &clean(&row.prompt, usize::MAX));
    Some(Roast {
        job: row.job.clone(),
        text,
        video: row.video.clone(),
        trap,
        physics: a.scores.physics,
        realism: a.scores.realism,
        defect: main.map(|f| (f.kind, f.start_frame, f.end_frame)),
    })
}

/// The most confident finding; among equals, the longest, then the first.
fn main_defect(defects: &[Finding]) -> Option<&Finding> {
    defects.iter().reduce(|best, f| {
        let better = f
            .score
            .total_cmp(&best.score)
            .then(f.frames().cmp(&best.frames()))
            .is_gt();
        if better { f } else { best }
    })
}

/// The trap that aims at the main defect's kind, else the first trap;
/// `None` for a control.
fn blamed_trap(row: &ResultRow, kind: Option<DefectKind>, catalogue: &Catalogue) -> Option<String> {
    if row.control {
        return None;
    }
    kind.and_then(|k| {
        row.traps.iter().find(|t| {
            catalogue
                .trap(t)
                .is_some_and(|trap| trap.provokes.contains(&k))
        })
    })
    .or(row.traps.first())
    .cloned()
}

struct Parts {
    model: String,
    trap: String,
    physics: String,
    realism: String,
    defect: String,
}

/// The templates: `{m}` model, `{t}` trap, `{p}` physics, `{r}` realism,
/// `{d}` the main defect, `{q}` the prompt (shortened to fit).
const TEMPLATES: [&str; 4] = [
    "{m} vs {t}: physics {p}/100, realism {r}/100, {d}. Prompt: \"{q}\" #framebreak",
    "We asked {m} for \"{q}\" with {t}. Result: {d}; physics {p}/100, realism {r}/100. #framebreak",
    "Physics {p}/100, realism {r}/100: {m} met {t} and gave us {d}. \"{q}\" #framebreak",
    "{m}, {t} and a bad day: {d}. Scores: physics {p}, realism {r}. Prompt: \"{q}\" #framebreak",
];

/// FNV-1a of the job id picks the template: stable across runs and
/// platforms, unlike the standard library's hasher.
fn template_index(job: &str) -> usize {
    let hash = job.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % TEMPLATES.len() as u64) as usize
}

fn fill(template: &str, p: &Parts, prompt: &str) -> String {
    // One pass over the template, so a name or prompt that happens to hold
    // `{t}` is never substituted again.
    let mut out = String::with_capacity(template.len() + prompt.len() + 128);
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let (key, tail) = rest[i..].split_at(3.min(rest.len() - i));
        out.push_str(match key {
            "{m}" => &p.model,
            "{t}" => &p.trap,
            "{p}" => &p.physics,
            "{r}" => &p.realism,
            "{d}" => &p.defect,
            "{q}" => prompt,
            other => other,
        });
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// The template filled with the longest prefix of `prompt` that fits (with
/// an ellipsis when cut). Weighted length never shrinks as text grows, so
/// the prefix is found by bisection.
fn fit(template: &str, parts: &Parts, prompt: &str) -> String {
    let full = fill(template, parts, prompt);
    if weighted_len(&full) <= MAX_POST_LEN {
        return full;
    }
    let chars: Vec<char> = prompt.chars().collect();
    let with = |n: usize| {
        let mut q: String = chars[..n].iter().collect();
        q.truncate(q.trim_end().len());
        q.push('…');
        fill(template, parts, &q)
    };
    let (mut lo, mut hi) = (0, chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if weighted_len(&with(mid)) <= MAX_POST_LEN {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let text = with(lo);
    if weighted_len(&text) <= MAX_POST_LEN {
        text
    } else {
        // Only names beyond reason get here; cut the text itself.
        let mut cut: String = text.chars().collect();
        while weighted_len(&cut) > MAX_POST_LEN - 1 {
            cut.pop();
        }
        cut.push('…');
        cut
    }
}

/// One line, no control characters, runs of whitespace as one space, at
/// most `max` characters (cut with an ellipsis).
fn clean(text: &str, max: usize) -> String {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let one = words.join(" ");
    if one.chars().count() <= max {
        one
    } else {
        let mut s: String = one.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// Publishes each roast, its video (under `run_dir`) attached, in order;
/// stops at the first failure.
///
/// ```
/// use framebreak::client::DryRunPublisher;
/// use framebreak::roast::{Roast, publish};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), framebreak::client::Error> {
/// let dir = tempfile::tempdir().unwrap();
/// let publisher = DryRunPublisher::new(dir.path().join("posts.jsonl"));
/// let roast = Roast { job: "j1".into(), text: "physics 3/100".into(), video: None, trap: None,
///                     physics: 3.0, realism: 10.0, defect: None };
/// let published = publish(&[roast], &publisher, dir.path()).await?;
/// assert_eq!(published[0].id, "dry-run-1");
/// # Ok(()) }
/// ```
///
/// # Errors
/// The publisher's: [`framebreak_client::Error::PostTooLong`], a file that
/// cannot be written, X refusing the post or the video.
pub async fn publish(
    roasts: &[Roast],
    publisher: &dyn Publisher,
    run_dir: &Path,
) -> Result<Vec<Published>, framebreak_client::Error> {
    let mut published = Vec::with_capacity(roasts.len());
    for roast in roasts {
        published.push(publisher.publish(&roast.post(run_dir)).await?);
    }
    Ok(published)
}

#[cfg(test)]
mod tests {
    use framebreak_variants::DefectKind::{GravityViolation, Melt, Warp};
    use proptest::prelude::*;

    use super::*;
    use crate::report::testutil::row;

    #[test]
    fn the_worst_videos_of_distinct_base_prompts_come_first() {
        let rows = vec![
            row(
                "a",
                "b1",
                &["physics.zero_g"],
                &[(GravityViolation, 4, 20), (Warp, 1, 2)],
                10.0,
                50.0,
            ),
            row("b", "b1", &["physics.zero_g"], &[(Warp, 3, 5)], 12.0, 50.0),
            row("c", "b2", &[], &[(Melt, 2, 2)], 30.0, 20.0),
            row("d", "b3", &["physics.rigid_deformation"], &[], 30.0, 10.0),
            row("e", "b4", &["physics.zero_g"], &[], 90.0, 90.0),
        ];
        let jobs = |n| {
            compose(&rows, n)
                .into_iter()
                .map(|r| r.job)
                .collect::<Vec<_>>()
        };
        assert_eq!(jobs(3), ["a", "d", "c"]);
        assert_eq!(jobs(5), ["a", "b", "d", "c", "e"]);
        let all = compose(&rows, 5);
        let a = &all[0];
        assert_eq!(a.trap.as_deref(), Some("physics.zero_g"));
        assert_eq!(a.defect, Some((GravityViolation, 4, 20)));
        assert!(
            a.text.contains("gravity_violation at frames 4–20"),
            "{}",
            a.text
        );
        assert!(a.text.contains("10") && a.text.contains("50"));
        let c = all.iter().find(|r| r.job == "c").unwrap();
        assert_eq!(c.trap, None);
        assert!(c.text.contains("no trap at all") && c.text.contains("melt at frame 2"));
        assert!(all[2].text.contains("no single defect to blame"));
        assert!(compose(&rows, 0).is_empty());
    }

    #[test]
    fn templates_are_chosen_by_job_id_and_all_used() {
        let used: BTreeSet<usize> = (0..64)
            .map(|i| template_index(&format!("job-{i}")))
            .collect();
        assert_eq!(used.len(), TEMPLATES.len());
        assert_eq!(template_index("job-1"), template_index("job-1"));
    }

    #[test]
    fn a_post_attaches_the_video_under_the_run_folder() {
        let mut r = row("a", "b1", &["physics.zero_g"], &[(Warp, 1, 2)], 10.0, 50.0);
        r.video = Some("videos/a.mp4".into());
        let post = compose(&[r], 1)[0].post(Path::new("/runs/x"));
        assert_eq!(
            post.video.as_deref(),
            Some(Path::new("/runs/x/videos/a.mp4"))
        );
        assert!(post.check_len().is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn posts_fit_x_whatever_the_prompt_model_and_trap(
            prompt in prop_oneof![
                ".{0,600}",
                "[日本語🔥👩‍👩‍👧 ]{0,400}",
                "(https://example\\.com/[a-z]{1,30} ?){0,30}",
            ],
            model in ".{0,200}",
            trap in "[a-z._🔥]{1,120}",
            job in "[0-9a-f]{16}",
            physics in 0.0f64..100.0,
        ) {
            let mut r = row(&job, "b", &[], &[(Melt, 0, 5)], physics, 100.0);
            r.prompt = prompt;
            r.model = Some(model);
            r.traps = vec![trap];
            r.control = false;
            let roast = &compose(&[r], 1)[0];
            prop_assert!(weighted_len(&roast.text) <= MAX_POST_LEN, "{} > 280: {}", weighted_len(&roast.text), roast.text);
            prop_assert!(roast.text.contains("melt at frames 0–5"), "{}", roast.text);
            prop_assert!(!roast.text.contains('\n'));
        }
    }
}
