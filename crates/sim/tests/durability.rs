//! Idempotency keys, submission counts and the journal, on both faces:
//! what a campaign relies on to prove "each job submitted once" and "the
//! rate stayed under R", and to resume after its process was killed.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use framebreak_client::{
    Asset, HttpConfig, JobState, OpenAiBackend, RemoteJob, Secret, VideoBackend, VideoRequest,
};
use framebreak_sim::{
    Error, Faults, Latency, Profile, ServerConfig, SimBackend, SimServer, Simulator, Stats,
};

const KEY: &str = "sk-sim-durable";

fn sim() -> Arc<Simulator> {
    Arc::new(Simulator::new(Profile::weak()).unwrap())
}

fn request(prompt: &str) -> VideoRequest {
    VideoRequest::new(prompt).size(64, 48).duration_secs(1)
}

fn in_process(sim: &Arc<Simulator>) -> SimBackend {
    SimBackend::new_shared(sim.clone()).with_latency(Latency::none())
}

fn client(base: &str) -> OpenAiBackend {
    OpenAiBackend::new(Secret::new(KEY))
        .unwrap()
        .with_base_url(base)
        .unwrap()
        .with_http(HttpConfig::new().unwrap().timeout(Duration::from_secs(5)))
}

/// Polls until the job ends; its assets, or the failure.
async fn finish(backend: &dyn VideoBackend, job: &RemoteJob) -> JobState {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = backend.status(job).await.unwrap().state;
        if state.is_terminal() {
            return state;
        }
        assert!(Instant::now() < deadline, "{job:?} never finished");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The assets of a job that succeeded.
async fn assets(backend: &dyn VideoBackend, job: &RemoteJob) -> Vec<Asset> {
    let JobState::Succeeded { assets } = finish(backend, job).await else {
        panic!("{job:?} failed");
    };
    assets
}

/// The bytes of `asset`.
async fn fetch(backend: &dyn VideoBackend, asset: &Asset) -> Vec<u8> {
    let mut mp4 = Vec::new();
    backend.download(asset, &mut mp4, &|_| {}).await.unwrap();
    mp4
}

async fn download(backend: &dyn VideoBackend, job: &RemoteJob) -> Vec<u8> {
    fetch(backend, &assets(backend, job).await[0]).await
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_key_gets_the_same_job_in_process() {
    let sim = sim();
    let backend = in_process(&sim);
    let first = backend
        .submit(&request("a pendulum swings").idempotency_key("k1"))
        .await
        .unwrap();
    // Another prompt under the same key: the provider answers with the job
    // it made, and renders nothing new.
    let again = backend
        .submit(&request("a red ball bounces").idempotency_key("k1"))
        .await
        .unwrap();
    assert_eq!(again, first);
    let other = backend
        .submit(&request("a pendulum swings").idempotency_key("k2"))
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
    // No key: every submission is a job of its own.
    let a = backend.submit(&request("a pendulum swings")).await.unwrap();
    let b = backend.submit(&request("a pendulum swings")).await.unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(
        sim.cached(),
        1,
        "one plan, one clip: the repeat rendered nothing"
    );

    let stats = backend.stats();
    assert_eq!(stats.submissions, 4);
    assert_eq!(stats.duplicate_submissions, 1);
    assert_eq!(stats.rejected_submissions, 0);
    assert_eq!(stats.submit_requests(), 5);
    assert_eq!(stats.max_submit_rate_1s, 5);

    download(&backend, &first).await;
    let stats = backend.stats();
    assert!(stats.polls >= 1, "{stats:?}");
    assert_eq!(stats.downloads, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_count_as_rejected_and_the_rate_is_observed() {
    let backend = in_process(&sim()).with_faults("rps=5,burst=5".parse::<Faults>().unwrap());
    let mut accepted = 0;
    for i in 0..20 {
        let r = request("a pendulum swings").idempotency_key(format!("job-{i}"));
        if backend.submit(&r).await.is_ok() {
            accepted += 1;
        }
    }
    let stats = backend.stats();
    assert_eq!(accepted, stats.submissions);
    assert!((5..=6).contains(&stats.submissions), "{stats:?}");
    assert_eq!(stats.rejected_submissions, 20 - stats.submissions);
    assert_eq!(stats.max_submit_rate_1s, 20);
    assert_eq!(stats.submit_times.counts.iter().sum::<u32>(), 20);
    assert_eq!(stats.submit_times.max_in(Duration::from_secs(2)), 20);
    // A bad request is refused too, and counted so.
    backend.submit(&request("x").size(7, 7)).await.unwrap_err();
    assert_eq!(backend.stats().rejected_submissions, 21 - stats.submissions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_the_idempotency_key_header_makes_one_job_and_stats_are_served() {
    let server = SimServer::bind(
        "127.0.0.1:0",
        ServerConfig::new(sim())
            .latency(Latency::none())
            .api_key(KEY),
    )
    .unwrap();
    let backend = client(&server.url());
    let keyed = request("a pendulum swings").idempotency_key("campaign-1:job-7");
    let first = backend.submit(&keyed).await.unwrap();
    let again = backend.submit(&keyed).await.unwrap();
    assert_eq!(again, first);
    let plain = backend.submit(&request("a pendulum swings")).await.unwrap();
    assert_ne!(plain.id, first.id);
    assert_eq!(&download(&backend, &first).await[4..8], b"ftyp");
    // A wrong key is a submit request too, refused.
    client(&server.url())
        .with_http(HttpConfig::new().unwrap())
        .submit(&keyed)
        .await
        .unwrap();
    let wrong = OpenAiBackend::new(Secret::new("sk-wrong"))
        .unwrap()
        .with_base_url(&server.url())
        .unwrap();
    wrong.submit(&keyed).await.unwrap_err();

    let http = reqwest::Client::new();
    let stats: Stats = http
        .get(format!("{}/v1/stats", server.url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats.submissions, 2);
    assert_eq!(stats.duplicate_submissions, 2);
    assert_eq!(stats.rejected_submissions, 1);
    assert_eq!(stats.downloads, 1);
    assert!(stats.polls >= 1);
    assert_eq!(stats.max_submit_rate_1s, 5);
    assert_eq!(stats, server.stats());
    let denied = http
        .get(format!("{}/v1/stats", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_brings_jobs_keys_and_counts_back_after_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let sim = sim();
    let first = in_process(&sim).with_journal(&path).unwrap();
    let a = first
        .submit(&request("a pendulum swings").idempotency_key("a"))
        .await
        .unwrap();
    let b = first
        .submit(&request("a red ball bounces").idempotency_key("b"))
        .await
        .unwrap();
    let c = first.submit(&request("a pendulum swings")).await.unwrap();
    let mp4 = download(&first, &a).await;
    assert_eq!(lines(&path), 3);
    drop(first);

    // A fresh simulator: nothing cached, the replayed jobs render again,
    // lazily, to the same bytes.
    let sim = self::sim();
    let second = in_process(&sim).with_journal(&path).unwrap();
    assert_eq!(sim.cached(), 0, "replaying renders nothing up front");
    assert_eq!(second.stats().submissions, 3);
    assert_eq!(download(&second, &a).await, mp4);
    download(&second, &b).await;
    download(&second, &c).await;
    assert_eq!(
        second
            .submit(&request("a red ball bounces").idempotency_key("b"))
            .await
            .unwrap(),
        b
    );
    let d = second.submit(&request("a pendulum swings")).await.unwrap();
    assert_eq!(
        d.id, "video_0000000000000004",
        "ids go on after the journal's"
    );
    let stats = second.stats();
    assert_eq!(
        (stats.submissions, stats.duplicate_submissions),
        (4, 1),
        "{stats:?}"
    );
    assert_eq!(lines(&path), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_polled_to_its_end_before_a_restart_downloads_without_polling_again() {
    // A client that saw the job succeed and was killed before its download
    // resumes at the download: the new process must make the clip then.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let first = in_process(&sim()).with_journal(&path).unwrap();
    let job = first.submit(&request("a red ball bounces")).await.unwrap();
    let asset = assets(&first, &job).await.remove(0);
    let before = fetch(&first, &asset).await;
    drop(first);

    let second = in_process(&sim()).with_journal(&path).unwrap();
    let after = fetch(&second, &asset).await;
    assert_eq!(after, before);
    assert_eq!(second.stats().polls, 0, "no poll was needed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_job_keeps_the_fate_it_was_dealt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let failing = in_process(&sim())
        .with_faults("failed=1".parse().unwrap())
        .with_journal(&path)
        .unwrap();
    let job = failing.submit(&request("a pendulum swings")).await.unwrap();
    drop(failing);
    let healthy = in_process(&sim()).with_journal(&path).unwrap();
    assert!(matches!(
        finish(&healthy, &job).await,
        JobState::Failed { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_torn_by_a_kill_is_dropped_and_the_journal_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let first = in_process(&sim()).with_journal(&path).unwrap();
    for i in 0..3 {
        first
            .submit(&request("a pendulum swings").idempotency_key(format!("k{i}")))
            .await
            .unwrap();
    }
    drop(first);
    // Killed in the middle of writing the third line.
    let full = std::fs::read(&path).unwrap();
    let third = full[..full.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .unwrap()
        + 1;
    for cut in [third + 3, full.len() - 10] {
        std::fs::write(&path, &full[..cut]).unwrap();
        let again = in_process(&sim()).with_journal(&path).unwrap();
        assert_eq!(again.stats().submissions, 2);
        assert_eq!(std::fs::read(&path).unwrap(), &full[..third]);
        drop(again);
    }
    let again = in_process(&sim()).with_journal(&path).unwrap();
    // The third job's key was lost with its line: it is made anew, and the
    // journal is whole again.
    let job = again
        .submit(&request("a pendulum swings").idempotency_key("k2"))
        .await
        .unwrap();
    assert_eq!(job.id, "video_0000000000000003");
    drop(again);
    let last = in_process(&sim()).with_journal(&path).unwrap();
    assert_eq!(last.stats().submissions, 3);
    download(&last, &job).await;

    // A whole last record whose newline was lost is kept, and the line is
    // ended before the next one.
    drop(last);
    let full = std::fs::read(&path).unwrap();
    std::fs::write(&path, &full[..full.len() - 1]).unwrap();
    let again = in_process(&sim()).with_journal(&path).unwrap();
    assert_eq!(again.stats().submissions, 3);
    again.submit(&request("a pendulum swings")).await.unwrap();
    assert_eq!(lines(&path), 4);
}

#[test]
fn a_file_that_is_not_a_journal_is_refused_naming_the_line_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], usize); 6] = [
        ("prose.txt", b"hello\nworld\n", 1),
        ("unterminated.txt", b"hello", 1),
        (
            "middle.jsonl",
            b"{\"id\":\"video_0000000000000001\",\"request\":{\"prompt\":\"a\"}}\nnot json\n{\"id\":\"video_0000000000000002\",\"request\":{\"prompt\":\"b\"}}\n",
            2,
        ),
        (
            "twice.jsonl",
            b"{\"id\":\"video_0000000000000001\",\"request\":{\"prompt\":\"a\"}}\n{\"id\":\"video_0000000000000001\",\"request\":{\"prompt\":\"b\"}}\n",
            2,
        ),
        // A deletion must follow its job's record, once.
        (
            "deleted-unknown.jsonl",
            b"{\"id\":\"video_0000000000000001\",\"deleted\":true}\n",
            1,
        ),
        (
            "deleted-twice.jsonl",
            b"{\"id\":\"video_0000000000000001\",\"request\":{\"prompt\":\"a\"}}\n{\"id\":\"video_0000000000000001\",\"deleted\":true}\n{\"id\":\"video_0000000000000001\",\"deleted\":true}\n",
            3,
        ),
    ];
    for (name, content, bad_line) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let err = SimBackend::new_shared(sim())
            .with_journal(&path)
            .unwrap_err();
        match &err {
            Error::Journal { path: p, line, .. } => {
                assert_eq!(*line, bad_line, "{err}");
                assert!(p.ends_with(name), "{err}");
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(err.to_string().contains(name), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), content, "{name} was changed");
    }
}

#[test]
fn a_journal_in_use_is_refused_and_a_missing_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let open = SimBackend::new_shared(sim()).with_journal(&path).unwrap();
    let err = SimBackend::new_shared(sim())
        .with_journal(&path)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Io { reason, .. } if reason.contains("in use")),
        "{err}"
    );
    drop(open);
    SimBackend::new_shared(sim()).with_journal(&path).unwrap();

    let missing = dir.path().join("no-such-folder").join("journal.jsonl");
    let err = SimBackend::new_shared(sim())
        .with_journal(&missing)
        .unwrap_err();
    assert!(err.to_string().contains("no-such-folder"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_face_keeps_its_jobs_and_keys_in_a_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let config = || {
        ServerConfig::new(sim())
            .latency(Latency::none())
            .journal(&path)
    };
    let server = SimServer::bind("127.0.0.1:0", config()).unwrap();
    let keyed = request("a pendulum swings").idempotency_key("run-1:0");
    let job = client(&server.url()).submit(&keyed).await.unwrap();
    server.shutdown();
    assert_eq!(lines(&path), 1);

    let server = SimServer::bind("127.0.0.1:0", config()).unwrap();
    let backend = client(&server.url());
    assert_eq!(backend.submit(&keyed).await.unwrap(), job);
    assert_eq!(&download(&backend, &job).await[4..8], b"ftyp");
    let stats = server.stats();
    assert_eq!(
        (stats.submissions, stats.duplicate_submissions),
        (1, 1),
        "{stats:?}"
    );
    server.shutdown();

    std::fs::write(&path, b"garbage\n").unwrap();
    let err = SimServer::bind("127.0.0.1:0", config()).unwrap_err();
    assert!(matches!(err, Error::Journal { line: 1, .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_submissions_with_one_key_make_one_job() {
    // In process, on four threads, a barrier lines the racers up, so that
    // several are between the key check and the insertion at once.
    let backend = in_process(&sim());
    // A long prompt takes long to plan, which widens the window.
    let prompt = "a pendulum swings in a quiet hall while dust drifts. ".repeat(400);
    let keyed = request(&prompt).idempotency_key("one");
    let barrier = Arc::new(tokio::sync::Barrier::new(40));
    let racers: Vec<_> = (0..40)
        .map(|_| {
            let (b, r, gate) = (backend.clone(), keyed.clone(), barrier.clone());
            tokio::spawn(async move {
                gate.wait().await;
                b.submit(&r).await.unwrap()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for r in racers {
        ids.push(r.await.unwrap().id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let stats = backend.stats();
    assert_eq!(
        (stats.submissions, stats.duplicate_submissions),
        (1, 39),
        "{stats:?}"
    );
}
