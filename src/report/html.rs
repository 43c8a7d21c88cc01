//! The one-page HTML report: a single self-contained file (inline CSS,
//! inline SVG charts, contact sheets as `data:` URIs, no script), readable
//! with no network.

use std::fmt::Write;
use std::path::PathBuf;

use framebreak_scheduler::FailureCategory;
use framebreak_variants::DefectKind;

use super::escape::escape;
use super::sheet::{SheetOptions, contact_sheet, kind_colour};
use super::summary::{GroupRate, Rate, Summary};
use super::{Digest, Error, svg};
use crate::ResultRow;

/// The ids of the page's sections, in order: what `scripts/check-report`
/// and the tests look for.
pub const SECTIONS: [&str; 8] = [
    "overview",
    "rates",
    "control",
    "heatmap",
    "scores",
    "worst",
    "failures",
    "detection",
];

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}\
h1{margin-bottom:0.2em}section{margin:2.5em 0}h2{border-bottom:2px solid #4c72b0;padding-bottom:0.2em}\
table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:0.25em 0.6em;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}.note{color:#666;font-style:italic}\
svg.chart{display:block;margin:0.8em 0;font-size:12px;overflow:visible}\
figure{margin:1.2em 0;padding:0.6em;border:1px solid #ddd;border-radius:4px}\
figure img{display:block;max-width:100%;image-rendering:auto}figcaption{margin-top:0.4em;font-size:0.9em;line-height:1.5}\
.prompt{display:block;margin:0.3em 0;line-height:1.4;font-family:ui-monospace,monospace;background:#f4f4f4;padding:0.2em 0.4em;word-break:break-word}\
.swatch{display:inline-block;width:0.8em;height:0.8em;margin-right:0.3em;vertical-align:middle;border:1px solid #888}\
.unavailable{padding:1em;background:#f8f0e0;border:1px dashed #c90}.hists{display:flex;flex-wrap:wrap;gap:2em}";

/// What an HTML report shows and where it finds the videos.
///
/// ```
/// use framebreak::report::HtmlOptions;
///
/// let options = HtmlOptions::new("runs/2026-11-23").title("nightly").top_n(6);
/// assert_eq!(options.top_n, 6);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HtmlOptions {
    /// The run folder; rows' video paths are relative to it (default `.`).
    pub run_dir: PathBuf,
    /// The page title (default `framebreak report`).
    pub title: String,
    /// How many of the worst videos get contact sheets (default 12).
    pub top_n: usize,
    /// The run's id, shown in the overview.
    pub run_id: Option<String>,
    /// When the run (or the report) was made, as text, shown in the
    /// overview.
    pub generated_at: Option<String>,
    /// How contact sheets are drawn.
    pub sheet: SheetOptions,
    /// Why a video that is not in `run_dir` is not there (where else it
    /// was looked for), shown in its place (default: "it is not in the run
    /// folder").
    pub missing_video: Option<String>,
}

impl Default for HtmlOptions {
    fn default() -> Self {
        Self {
            run_dir: PathBuf::from("."),
            title: "framebreak report".into(),
            top_n: 12,
            run_id: None,
            generated_at: None,
            sheet: SheetOptions::default(),
            missing_video: None,
        }
    }
}

impl HtmlOptions {
    /// The defaults, with videos under `run_dir`.
    #[must_use]
    pub fn new(run_dir: impl Into<PathBuf>) -> Self {
        Self {
            run_dir: run_dir.into(),
            ..Self::default()
        }
    }

    /// Sets the page title.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// Sets how many worst videos get contact sheets.
    #[must_use]
    pub fn top_n(mut self, n: usize) -> Self {
        self.top_n = n;
        self
    }

    /// Sets the run id shown.
    #[must_use]
    pub fn run_id(mut self, id: impl Into<String>) -> Self {
        self.run_id = Some(id.into());
        self
    }

    /// Sets the time shown.
    #[must_use]
    pub fn generated_at(mut self, when: impl Into<String>) -> Self {
        self.generated_at = Some(when.into());
        self
    }

    /// Sets how contact sheets are drawn.
    #[must_use]
    pub fn sheet(mut self, sheet: SheetOptions) -> Self {
        self.sheet = sheet;
        self
    }

    /// Sets why a video missing from the run folder is missing.
    #[must_use]
    pub fn missing_video(mut self, why: impl Into<String>) -> Self {
        self.missing_video = Some(why.into());
        self
    }
}

/// The HTML report of `rows`: one self-contained page with the sections of
/// [`SECTIONS`]. Every text from the rows is escaped. A video that can no
/// longer be decoded gets a note in place of its contact sheet; a run with
/// no rows gets a page that says so.
///
/// # Errors
/// [`Error::RunDir`] when some row names a video and
/// [`HtmlOptions::run_dir`] is not a folder.
pub fn html(rows: &[ResultRow], options: &HtmlOptions) -> Result<String, Error> {
    html_from(&Digest::of(rows, options.top_n), options)
}

/// [`html`] of the rows gathered in `digest`: the page of a run too large
/// to hold its rows. The worst videos shown are those the digest kept (at
/// most its own `top_n` and [`HtmlOptions::top_n`]).
///
/// # Errors
/// [`Error::RunDir`] when some row names a video and
/// [`HtmlOptions::run_dir`] is not a folder.
pub fn html_from(digest: &Digest, options: &HtmlOptions) -> Result<String, Error> {
    if digest.any_video() && !options.run_dir.is_dir() {
        return Err(Error::RunDir {
            path: options.run_dir.clone(),
            reason: "not a folder (the videos of the rows are relative to it)".into(),
        });
    }
    let summary = digest.summary();
    let mut page = String::with_capacity(64 * 1024);
    let title = escape(&options.title);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\
         <title>{title}</title><style>{STYLE}</style></head><body><h1>{title}</h1>"
    );
    overview(&mut page, &summary, options);
    rates(&mut page, &summary);
    control(&mut page, &summary);
    heatmap(&mut page, &summary);
    scores(&mut page, &summary);
    worst(&mut page, digest.worst(), options);
    failures(&mut page, digest, &summary);
    detection(&mut page, &summary);
    page.push_str("</body></html>\n");
    Ok(page)
}

fn section(page: &mut String, id: &str, heading: &str) {
    let _ = write!(page, "<section id=\"{id}\"><h2>{heading}</h2>");
}

fn note(page: &mut String, text: &str) {
    let _ = write!(page, "<p class=\"note\">{}</p>", escape(text));
}

fn count_table<'a>(page: &mut String, head: &str, items: impl IntoIterator<Item = (&'a str, u64)>) {
    let _ = write!(
        page,
        "<table><tr><th>{}</th><th>jobs</th></tr>",
        escape(head)
    );
    for (name, n) in items {
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=\"n\">{n}</td></tr>",
            escape(name)
        );
    }
    page.push_str("</table>");
}

fn overview(page: &mut String, s: &Summary, options: &HtmlOptions) {
    section(page, "overview", "Overview");
    page.push_str("<p>");
    if let Some(id) = &options.run_id {
        let _ = write!(page, "Run <code>{}</code>. ", escape(id));
    }
    if let Some(when) = &options.generated_at {
        let _ = write!(page, "Generated {}. ", escape(when));
    }
    let _ = write!(
        page,
        "{} finished jobs, {} videos analysed.</p>",
        s.rows, s.analysed
    );
    if let Some((submitted, spend)) = s.spend {
        let amount = if spend.low == spend.high {
            spend.high.to_string()
        } else {
            format!("{}–{}", spend.low, spend.high)
        };
        let _ = write!(
            page,
            "<p>Estimated spend <strong>{}</strong> for {submitted} submitted jobs (from the \
             model's price, not from the provider's bill).</p>",
            escape(&amount)
        );
        page.push_str(
            "<table><tr><th>trap</th><th>submitted</th><th>estimated spend</th>\
             <th>videos with a defect</th><th>per video with a defect</th></tr>",
        );
        for c in &s.costs {
            let _ = write!(
                page,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                escape(&c.name),
                c.submitted,
                c.spend.high,
                c.broken,
                c.per_defect()
                    .map_or_else(|| "–".to_owned(), |u| u.to_string())
            );
        }
        page.push_str("</table>");
    }
    if s.rows == 0 {
        note(
            page,
            "This run has no finished jobs yet: there is nothing to report.",
        );
        page.push_str("</section>");
        return;
    }
    if let Some(i) = s.all.broken.interval {
        let _ = write!(
            page,
            "<p><strong>{:.1} %</strong> of analysed videos show at least one defect \
             ({}/{}; 95 % CI {:.1}–{:.1} %).</p>",
            100.0 * i.estimate,
            s.all.broken.hits,
            s.all.broken.videos,
            100.0 * i.low,
            100.0 * i.high
        );
    }
    count_table(
        page,
        "status",
        s.by_status.iter().map(|(k, v)| (k.as_str(), *v)),
    );
    count_table(
        page,
        "backend",
        s.by_backend.iter().map(|(k, v)| (k.as_str(), *v)),
    );
    count_table(
        page,
        "model",
        s.by_model.iter().map(|(k, v)| (k.as_str(), *v)),
    );
    page.push_str("</section>");
}

fn group_items(groups: &[GroupRate]) -> Vec<(String, Rate)> {
    groups.iter().map(|g| (g.name.clone(), g.broken)).collect()
}

fn rates(page: &mut String, s: &Summary) {
    section(page, "rates", "Defect rates");
    if s.analysed == 0 {
        note(page, "No analysed videos.");
        page.push_str("</section>");
        return;
    }
    page.push_str(
        "<p>Share of videos with at least one defect; whiskers are Wilson 95 % intervals.</p>\
         <h3>Per trap</h3>",
    );
    let mut traps = group_items(&s.traps);
    if s.controls.broken.videos > 0 {
        traps.push(("control (no trap)".into(), s.controls.broken));
    }
    page.push_str(&svg::rate_bars(&traps, "defect rate per trap"));
    page.push_str("<h3>Per family</h3>");
    let mut families = group_items(&s.families);
    families.push(("all videos".into(), s.all.broken));
    page.push_str(&svg::rate_bars(&families, "defect rate per trap family"));
    page.push_str("<h3>Per defect kind, all videos</h3>");
    let kinds: Vec<(String, Rate)> = s
        .all
        .by_kind
        .iter()
        .map(|(k, r)| (k.as_str().to_owned(), *r))
        .collect();
    page.push_str(&svg::rate_bars(&kinds, "rate per defect kind"));
    page.push_str("</section>");
}

fn control(page: &mut String, s: &Summary) {
    section(page, "control", "Mutated vs control");
    page.push_str(
        "<p>Each trap's defect rate minus the rate of the unmutated controls of the same \
         base prompts, in percentage points; whiskers are Newcombe 95 % intervals.</p>",
    );
    if s.effects.is_empty() {
        note(page, "No analysed video carries a trap.");
    } else {
        page.push_str(&svg::effect_bars(&s.effects, "trap effect over control"));
        page.push_str(
            "<table><tr><th>trap</th><th>broken (trap)</th><th>broken (controls)</th>\
             <th>base prompts</th></tr>",
        );
        for e in &s.effects {
            let _ = write!(
                page,
                "<tr><td>{}</td><td class=\"n\">{}/{}</td><td class=\"n\">{}/{}</td><td class=\"n\">{}</td></tr>",
                escape(&e.trap),
                e.trap_rate.hits,
                e.trap_rate.videos,
                e.control_rate.hits,
                e.control_rate.videos,
                e.base_prompts
            );
        }
        page.push_str("</table>");
    }
    page.push_str("</section>");
}

fn heatmap(page: &mut String, s: &Summary) {
    section(page, "heatmap", "Trap × defect kind");
    let mut rows: Vec<(String, Vec<Rate>)> = s
        .traps
        .iter()
        .map(|g| (g.name.clone(), g.by_kind.values().copied().collect()))
        .collect();
    if s.controls.broken.videos > 0 {
        rows.push((
            "control (no trap)".into(),
            s.controls.by_kind.values().copied().collect(),
        ));
    }
    if rows.is_empty() {
        note(page, "No analysed videos.");
    } else {
        page.push_str("<p>Share of each trap's videos showing each defect kind (%).</p>");
        let columns = DefectKind::ALL.map(DefectKind::as_str);
        page.push_str(&svg::heat_map(&rows, &columns, "trap by defect kind"));
    }
    page.push_str("</section>");
}

fn scores(page: &mut String, s: &Summary) {
    section(page, "scores", "Score distributions");
    if s.analysed == 0 {
        note(page, "No analysed videos.");
    } else {
        let mean = |m: Option<f64>| m.map_or_else(|| "–".into(), |m| format!("{m:.1}"));
        let _ = write!(
            page,
            "<p>Mean physics {}, mean realism {} (0–100, higher is better).</p><div class=\"hists\">",
            mean(s.all.physics_mean),
            mean(s.all.realism_mean)
        );
        page.push_str(&svg::histogram(&s.physics, "physics score"));
        page.push_str(&svg::histogram(&s.realism, "realism score"));
        page.push_str("</div>");
    }
    page.push_str("</section>");
}

fn worst(page: &mut String, worst: &[ResultRow], options: &HtmlOptions) {
    section(page, "worst", "Worst videos");
    if worst.is_empty() || options.top_n == 0 {
        note(page, "No analysed videos to show.");
        page.push_str("</section>");
        return;
    }
    page.push_str(
        "<p>Lowest physics scores first. Each frame is taken from a defect's span, with the \
         detector's box; warp, melt and teleport frames show the optical flow to the next \
         frame, less the camera's pan (bright: motion the camera does not explain).</p>",
    );
    let shown = &worst[..worst.len().min(options.top_n)];
    let missing = shown
        .iter()
        .filter(|r| {
            r.video
                .as_deref()
                .is_some_and(|v| !options.run_dir.join(v).is_file())
        })
        .count();
    if missing > 0 {
        let _ = write!(
            page,
            "<p class=\"unavailable\"><strong>{missing} of these {} videos {} not available \
             here</strong>: {}.</p>",
            shown.len(),
            if missing == 1 { "is" } else { "are" },
            escape(missing_why(options))
        );
    }
    for row in shown {
        video_figure(page, row, options);
    }
    page.push_str("</section>");
}

/// Why a video is not in the run folder.
fn missing_why(options: &HtmlOptions) -> &str {
    options
        .missing_video
        .as_deref()
        .unwrap_or("it is not in the run folder")
}

fn video_figure(page: &mut String, row: &ResultRow, options: &HtmlOptions) {
    let Some(a) = &row.analysis else { return };
    page.push_str("<figure>");
    let video = row.video.as_deref();
    let path = video.map(|v| options.run_dir.join(v));
    match video.zip(path) {
        None => {
            page.push_str("<div class=\"unavailable\">No video file recorded for this job.</div>")
        }
        Some((video, path)) if !path.is_file() => {
            let _ = write!(
                page,
                "<div class=\"unavailable\">Video <code>{}</code> is not available here: {}.</div>",
                escape(video),
                escape(missing_why(options))
            );
        }
        Some((video, path)) => match contact_sheet(&path, a, &options.sheet) {
            Ok(s) => {
                let _ = write!(
                    page,
                    "<img src=\"{}\" width=\"{}\" height=\"{}\" alt=\"contact sheet of {}\"/>",
                    s.data_uri(),
                    s.width,
                    s.height,
                    escape(&row.job)
                );
                let frames: Vec<String> = s
                    .tiles
                    .iter()
                    .map(|t| {
                        let what = match (t.kind, t.flow) {
                            (Some(k), true) => format!("{k} + flow"),
                            (Some(k), false) => k.to_string(),
                            (None, _) => "plain".into(),
                        };
                        format!("<code>#{}</code> {}", t.frame, escape(&what))
                    })
                    .collect();
                let _ = write!(page, "<div>frames: {}", frames.join(" · "));
                page.push_str("</div>");
            }
            Err(e) => {
                let _ = write!(
                    page,
                    "<div class=\"unavailable\">Video <code>{}</code> cannot be shown: {}</div>",
                    escape(video),
                    escape(&e.to_string())
                );
            }
        },
    }
    let traps = if row.control {
        "control (no trap)".to_owned()
    } else {
        row.traps.join(", ")
    };
    let _ = write!(
        page,
        "<figcaption><strong>physics {:.0}</strong> · realism {:.0} · {} · <code>{}</code><br/>\
         <span class=\"prompt\">{}</span>",
        a.scores.physics,
        a.scores.realism,
        escape(&traps),
        escape(&row.job),
        escape(&row.prompt)
    );
    if a.defects.is_empty() {
        page.push_str("no defects found");
    }
    for f in &a.defects {
        let [r, g, b] = kind_colour(f.kind);
        let _ = write!(
            page,
            "<span class=\"swatch\" style=\"background:rgb({r},{g},{b})\"></span>{} frames {}–{} ({:.2}) ",
            f.kind, f.start_frame, f.end_frame, f.score
        );
    }
    page.push_str("</figcaption></figure>");
}

fn failures(page: &mut String, digest: &Digest, s: &Summary) {
    section(page, "failures", "Failed jobs");
    if s.failures.is_empty() {
        note(page, "No job failed or was cancelled.");
        page.push_str("</section>");
        return;
    }
    if let Some(n) = s.failures.get(FailureCategory::UnknownSubmission.as_str()) {
        note(
            page,
            &format!(
                "{n} job(s) ended unknown_submission: the provider may have created (and may \
                 bill) each of them once, and its protocol cannot be asked. `framebreak resume \
                 RUN --resubmit-unknown` sends them again, at the risk of paying twice."
            ),
        );
    }
    page.push_str("<table><tr><th>category</th><th>jobs</th><th>example</th></tr>");
    for (category, n) in &s.failures {
        let example = digest.example(category).unwrap_or("");
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=\"n\">{n}</td><td>{}</td></tr>",
            escape(category),
            escape(example)
        );
    }
    page.push_str("</table></section>");
}

fn detection(page: &mut String, s: &Summary) {
    section(page, "detection", "Detectors against ground truth");
    let Some(eval) = &s.detection else {
        note(
            page,
            "Not a simulated run: no ground truth to score the detectors against.",
        );
        page.push_str("</section>");
        return;
    };
    let _ = write!(
        page,
        "<p>{} simulated videos; a finding matches a true defect of its kind when their frames \
         overlap. {} of {} clean videos have a finding.</p>",
        eval.clips(),
        eval.clean_flagged(),
        eval.clean_clips()
    );
    page.push_str(
        "<table><tr><th>kind</th><th>true defects</th><th>findings</th><th>precision</th>\
         <th>recall</th><th>F1</th></tr>",
    );
    let show = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{v:.2}"));
    let all = eval.total();
    for (name, t) in eval
        .per_kind()
        .map(|(k, t)| (k.as_str(), t))
        .chain([("all", all)])
    {
        let _ = write!(
            page,
            "<tr><td>{name}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            t.truths,
            t.findings,
            show(t.precision()),
            show(t.recall()),
            show(t.f1())
        );
    }
    page.push_str("</table></section>");
}
