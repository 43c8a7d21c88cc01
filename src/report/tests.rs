//! The report as a whole: figures on a hand-made run, the page's structure
//! and escaping, the CSV and JUnit read back, contact sheets of real MP4s.

use framebreak_defects::{BBox, Finding};
use framebreak_scheduler::FailureCategory;
use framebreak_variants::DefectKind::{self, ColorSparks, Melt, Warp};

use super::testutil::{failed, row, sim_row};
use super::worst_rows;
use super::*;
use crate::{ResultRow, RowStatus};

const A: &str = "physics.zero_g";
const B: &str = "coherence.emerald_sparks";

/// Base b1: a broken control, A twice broken, B clean; base b2: a clean
/// control, A clean; base b3: B broken and no control.
fn hand_made() -> Vec<ResultRow> {
    vec![
        row("c1", "b1", &[], &[(Warp, 1, 2)], 60.0, 80.0),
        row("a1", "b1", &[A], &[(Melt, 3, 9)], 20.0, 70.0),
        row("a2", "b1", &[A], &[(Melt, 1, 2), (Warp, 5, 6)], 35.0, 50.0),
        row("bb1", "b1", &[B], &[], 95.0, 99.0),
        row("c2", "b2", &[], &[], 100.0, 100.0),
        row("a3", "b2", &[A], &[], 90.0, 91.0),
        row("bb3", "b3", &[B], &[(ColorSparks, 0, 23)], 70.0, 40.0),
        failed("f1", FailureCategory::RateLimited, "429 after 5 attempts"),
        ResultRow {
            status: RowStatus::Cancelled,
            ..failed("x1", FailureCategory::Cancelled, "stopped by the user")
        },
    ]
}

#[test]
fn rates_and_control_effects_follow_the_base_prompts() {
    let s = Summary::new(&hand_made());
    assert_eq!((s.rows, s.analysed), (9, 7));
    assert_eq!(s.by_status[&RowStatus::Failed], 1);
    assert_eq!(s.failures["rate_limited"], 1);
    assert_eq!(s.failures["cancelled"], 1);
    assert_eq!((s.all.broken.hits, s.all.broken.videos), (4, 7));
    assert_eq!((s.controls.broken.hits, s.controls.broken.videos), (1, 2));

    let names: Vec<&str> = s.traps.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, [B, A]);
    let a = &s.traps[1];
    assert_eq!((a.broken.hits, a.broken.videos), (2, 3));
    assert_eq!(a.by_kind[&Melt].hits, 2);
    assert_eq!(a.by_kind[&Warp].hits, 1, "a video counts once per kind");
    assert!((a.physics_mean.unwrap() - 145.0 / 3.0).abs() < 1e-9);

    // A: 2/3 broken against the controls of b1 and b2, 1/2.
    let ea = &s.effects[1];
    assert_eq!((ea.trap.as_str(), ea.base_prompts), (A, 2));
    assert_eq!((ea.control_rate.hits, ea.control_rate.videos), (1, 2));
    assert_eq!(ea.difference, newcombe((2, 3), (1, 2)));
    assert!((ea.difference.unwrap().estimate - 1.0 / 6.0).abs() < 1e-12);
    // B: 1/2 broken; only b1 has a control, and it is broken.
    let eb = &s.effects[0];
    assert_eq!((eb.control_rate.hits, eb.control_rate.videos), (1, 1));
    assert!((eb.difference.unwrap().estimate + 0.5).abs() < 1e-12);

    let families: Vec<(&str, u64, u64)> = s
        .families
        .iter()
        .map(|g| (g.name.as_str(), g.broken.hits, g.broken.videos))
        .collect();
    assert_eq!(families, [("physics", 2, 3), ("coherence", 1, 2)]);
    assert_eq!(s.physics.bins[2], 1);
    assert_eq!(s.physics.bins[9], 3, "100 falls in the last bin");
    assert_eq!(s.realism.total(), 7);
    assert!(s.detection.is_none());
}

fn parse(page: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse_with_options(
        page,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("the page is not well-formed: {e}"))
}

#[test]
fn the_page_has_every_section_and_escapes_prompts() {
    let mut rows = hand_made();
    rows[1].prompt = "</span><script>alert('pwned')</script> & \"more\"".into();
    rows[1].traps = vec!["<img src=x onerror=alert(1)>".into()];
    let page = html(&rows, &HtmlOptions::default().run_id("run <1>")).unwrap();
    let doc = parse(&page);
    for id in SECTIONS {
        assert!(
            doc.descendants()
                .any(|n| n.tag_name().name() == "section" && n.attribute("id") == Some(id)),
            "section {id}"
        );
    }
    assert!(!page.contains("<script") && !page.contains("<img src=x"));
    assert!(
        page.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; &amp; &quot;more&quot;")
    );
    assert!(page.contains("run &lt;1&gt;"));
    let charts = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "svg")
        .count();
    assert!(charts >= 6, "{charts} charts");
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
    assert!(page.contains("rate_limited") && page.contains("429 after 5 attempts"));
}

#[test]
fn an_empty_run_renders_a_page_that_says_so() {
    let page = html(&[], &HtmlOptions::default()).unwrap();
    let doc = parse(&page);
    assert_eq!(
        doc.descendants()
            .filter(|n| n.tag_name().name() == "section")
            .count(),
        SECTIONS.len()
    );
    assert!(page.contains("no finished jobs yet"));
}

#[test]
fn a_video_that_is_gone_or_broken_gets_a_note() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.mp4"), b"not an mp4 at all").unwrap();
    let mut rows = hand_made();
    rows[1].video = Some("broken.mp4".into());
    rows[2].video = Some("gone.mp4".into());
    let page = html(&rows, &HtmlOptions::new(dir.path())).unwrap();
    // A note in place of each of the seven videos (five have no file
    // recorded), and one above them that counts the missing one.
    assert_eq!(page.matches("class=\"unavailable\"").count(), 8);
    assert!(page.contains("Video <code>broken.mp4</code> cannot be shown"));
    assert!(page.contains(
        "Video <code>gone.mp4</code> is not available here: it is not in the run folder."
    ));
    let shown = rows.iter().filter(|r| r.analysis.is_some()).count();
    assert!(page.contains(&format!(
        "<strong>1 of these {shown} videos is not available here</strong>"
    )));
    // Where else the report looked, when it is told.
    let told = HtmlOptions::new(dir.path()).missing_video("nor in the shared store s3://b/p");
    let page = html(&rows, &told).unwrap();
    assert!(page.contains(
        "<code>gone.mp4</code> is not available here: nor in the shared store s3://b/p."
    ));
    assert!(matches!(
        html(&rows, &HtmlOptions::new(dir.path().join("nowhere"))),
        Err(Error::RunDir { .. })
    ));
}

#[test]
fn csv_reads_back_field_for_field() {
    let mut rows = hand_made();
    rows[1].prompt = "a \"quoted\", comma'd\nmulti-line prompt".into();
    let mut out = Vec::new();
    csv(&rows, &mut out).unwrap();
    let mut reader = ::csv::Reader::from_reader(out.as_slice());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        CSV_HEADER
    );
    let records: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), rows.len());
    let a2 = &records[2];
    assert_eq!(&a2[0], "a2");
    assert_eq!(&a2[3], A);
    assert_eq!(&a2[15], "melt@1-2;warp@5-6");
    assert_eq!(&a2[16], "2");
    assert_eq!(a2[13].parse::<f64>().unwrap(), 35.0);
    assert_eq!(&records[1][21], rows[1].prompt);
    let f1 = &records[7];
    assert_eq!(
        (&f1[7], &f1[8], &f1[9], &f1[13]),
        ("failed", "rate_limited", "429 after 5 attempts", "")
    );
}

#[test]
fn jsonl_is_one_row_per_line() {
    let rows = hand_made();
    let mut out = Vec::new();
    jsonl(&rows, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let back: Vec<ResultRow> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(back, rows);
}

#[test]
fn junit_is_well_formed_with_a_suite_per_trap() {
    let mut rows = hand_made();
    rows[3].prompt = "<testcase> ]]> & \u{1} \"".into();
    rows[7].failure.as_mut().unwrap().message = "quota <exceeded> & \"stop\"".into();
    let mut out = Vec::new();
    junit(&rows, &mut out).unwrap();
    let xml = String::from_utf8(out).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(
        (
            root.attribute("tests"),
            root.attribute("failures"),
            root.attribute("skipped")
        ),
        (Some("9"), Some("5"), Some("1"))
    );
    let suites: Vec<(&str, &str)> = root
        .children()
        .filter(|n| n.is_element())
        .map(|n| (n.attribute("name").unwrap(), n.attribute("tests").unwrap()))
        .collect();
    assert_eq!(suites, [(B, "2"), ("control", "2"), (A, "5")]);
    let failure = doc
        .descendants()
        .find(|n| n.attribute("type") == Some("rate_limited"))
        .unwrap();
    assert_eq!(
        failure.attribute("message"),
        Some("quota <exceeded> & \"stop\"")
    );
    let out_text = doc
        .descendants()
        .find(|n| {
            n.tag_name().name() == "system-out" && n.text().is_some_and(|t| t.contains("]]>"))
        })
        .unwrap();
    assert!(out_text.text().unwrap().starts_with("<testcase> ]]> &  \""));
}

/// A real simulated MP4 whose analysis carries the simulator's true melt
/// (a flow kind) and a boxed colour-sparks finding.
fn sheet_row(dir: &std::path::Path) -> ResultRow {
    let mut row = sim_row(
        dir,
        "j-melt",
        "b-cube",
        &["physics.rigid_deformation"],
        "In a world where rigid objects bend like rubber, a red cube slides down a ramp",
        7,
    );
    let a = row.analysis.as_mut().unwrap();
    a.defects = vec![
        Finding::new(Melt, 8, 14, 0.9).with_bbox(BBox::from([20, 16, 40, 30])),
        Finding::new(ColorSparks, 2, 3, 0.6),
    ];
    row
}

#[test]
fn contact_sheets_mark_defect_frames_of_a_real_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let row = sheet_row(dir.path());
    let a = row.analysis.as_ref().unwrap();
    assert_eq!((a.width, a.height, a.frames), (128, 96, 24));
    let sheet = contact_sheet(
        &dir.path().join(row.video.as_ref().unwrap()),
        a,
        &SheetOptions::default(),
    )
    .unwrap();
    let kinds: Vec<(u64, Option<DefectKind>, bool)> = sheet
        .tiles
        .iter()
        .map(|t| (t.frame, t.kind, t.flow))
        .collect();
    assert_eq!(
        kinds,
        [(2, Some(ColorSparks), false), (11, Some(Melt), true)]
    );
    let png = image::load_from_memory(&sheet.png).unwrap().to_rgb8();
    assert_eq!(png.dimensions(), (sheet.width, sheet.height));
    assert_eq!((sheet.width, sheet.height), (4 + 2 * (160 + 4), 120 + 8));
    // The melt box, scaled by 160/128, is drawn in melt's colour on the
    // second tile: its top-left corner at (4 + 164 + 25, 4 + 20).
    let melt = kind_colour(Melt);
    assert_eq!(png.get_pixel(4 + 164 + 25, 4 + 20).0, melt);
    assert_eq!(png.get_pixel(4 + 164 + 75, 4 + 58).0, melt);
    assert!(
        sheet
            .data_uri()
            .starts_with("data:image/png;base64,iVBORw0KGgo")
    );
    assert!(sheet.png.len() < 120_000, "{} bytes", sheet.png.len());
}

#[test]
fn a_simulated_run_shows_sheets_and_detector_scores() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = vec![
        sheet_row(dir.path()),
        sim_row(
            dir.path(),
            "j-control",
            "b-cube",
            &[],
            "a red cube slides down a ramp",
            7,
        ),
    ];
    rows.push(failed(
        "j-fail",
        FailureCategory::Decode,
        "truncated moov box",
    ));
    rows.push(failed(
        "j-lost",
        FailureCategory::UnknownSubmission,
        "an earlier submission may have created this job",
    ));
    let page = html(&rows, &HtmlOptions::new(dir.path()).top_n(2)).unwrap();
    parse(&page);
    assert!(
        page.contains(
            "1 job(s) ended unknown_submission: the provider may have created (and may bill)"
        ),
        "the report says what a lost submission may cost"
    );
    assert_eq!(page.matches("<img src=\"data:image/png;base64,").count(), 2);
    assert!(page.contains("melt + flow"));
    assert!(page.contains("simulated videos; a finding matches"));
    let s = Summary::new(&rows);
    let eval = s.detection.unwrap();
    assert_eq!(eval.clips(), 2);
    assert_eq!(
        eval.total().truths,
        rows.iter()
            .filter_map(|r| r.truth.as_ref())
            .map(|t| t.defects.len())
            .sum::<usize>()
    );
}

/// A digest fed one row at a time keeps exactly the `top` worst rows of a
/// sort of them all, for every `top`, and the same figures as the rows'
/// summary.
#[test]
fn a_digest_keeps_the_worst_rows_and_the_figures_of_them_all() {
    let mut rows = hand_made();
    // Ties in physics, decided by realism, then by job id.
    rows.push(row("t1", "b2", &[A], &[], 35.0, 50.0));
    rows.push(row("t0", "b2", &[A], &[], 35.0, 50.0));
    rows.push(row("t2", "b3", &[B], &[], 35.0, 49.0));
    let sorted: Vec<&str> = worst_rows(&rows).iter().map(|r| r.job.as_str()).collect();
    assert_eq!(sorted[..5], ["a1", "t2", "a2", "t0", "t1"]);
    for top in 0..=rows.len() + 1 {
        let digest = Digest::of(&rows, top);
        let kept: Vec<&str> = digest.worst().iter().map(|r| r.job.as_str()).collect();
        assert_eq!(kept, sorted[..top.min(sorted.len())], "top {top}");
        assert_eq!(digest.rows(), rows.len());
    }
    let digest = Digest::of(&rows, 3);
    assert_eq!(digest.summary(), Summary::new(&rows));
    assert_eq!(digest.example("rate_limited"), Some("429 after 5 attempts"));
    assert_eq!(digest.example("timeout"), None);
}

/// More suites than the writer keeps open, their rows interleaved: every
/// suite still has each of its cases once, in the order they came.
#[test]
fn junit_from_rows_one_at_a_time_gathers_many_interleaved_suites() {
    let traps: Vec<String> = (0..50).map(|i| format!("physics.trap_{i:02}")).collect();
    let mut writer = JunitWriter::new().unwrap();
    for round in 0..3 {
        for t in &traps {
            let job = format!("{t}-{round}");
            writer
                .write(&row(&job, "b1", &[t.as_str()], &[], 50.0, 50.0))
                .unwrap();
        }
    }
    let mut out = Vec::new();
    writer.finish(&mut out).unwrap();
    let xml = String::from_utf8(out).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(doc.root_element().attribute("tests"), Some("150"));
    let suites: Vec<_> = doc
        .root_element()
        .children()
        .filter(|n| n.is_element())
        .collect();
    assert_eq!(suites.len(), 50);
    for (suite, t) in suites.iter().zip(&traps) {
        assert_eq!(suite.attribute("name"), Some(t.as_str()));
        let cases: Vec<&str> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .map(|n| n.attribute("name").unwrap())
            .collect();
        assert_eq!(cases, [0, 1, 2].map(|r| format!("{t}-{r}")));
    }
}
