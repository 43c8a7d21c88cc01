//! Rendering is admitted by the cores, not by the jobs in flight: a burst of
//! submissions far larger than the machine renders a few clips at a time,
//! and every job still finishes.

use std::time::Duration;

use framebreak_client::{
    Asset, Error as ClientError, JobState, RemoteJob, VideoBackend, VideoRequest,
};
use framebreak_sim::{
    Latency, Profile, RETAINED_SETTLED_JOBS, SimBackend, Simulator, render_peak, render_slots,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_jobs_renders_at_most_one_clip_per_core_at_a_time() {
    let sim =
        SimBackend::new(Simulator::new(Profile::weak()).unwrap()).with_latency(Latency::none());
    let jobs = 8 * render_slots();
    let mut handles = Vec::new();
    for i in 0..jobs {
        // Distinct prompts: distinct plans, each rendered.
        let request = VideoRequest::new(format!("a red ball number {i} is thrown across a park"))
            .size(96, 64)
            .duration_secs(1)
            .seed(i as u64);
        handles.push(sim.submit(&request).await.unwrap());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    for job in &handles {
        loop {
            match sim.status(job).await.unwrap().state {
                JobState::Succeeded { .. } => break,
                JobState::Failed { error } => panic!("{error}"),
                _ => {}
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {} never finished",
                job.id
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let peak = render_peak();
    assert!(
        (1..=render_slots()).contains(&peak),
        "{jobs} jobs in flight rendered {peak} clips at once on {} cores",
        render_slots()
    );
}

/// The video of `job`, once the simulator has finished it.
async fn finished(sim: &SimBackend, job: &RemoteJob) -> Asset {
    loop {
        match sim.status(job).await.unwrap().state {
            JobState::Succeeded { assets } => return assets.into_iter().next().unwrap(),
            JobState::Failed { error } => panic!("{error}"),
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// A delivered job lets its clip go but keeps its truth, and a later
/// download renders the same bytes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivered_clip_is_let_go_and_made_again_byte_for_byte() {
    let sim = SimBackend::new(Simulator::new(Profile::weak()).unwrap().cache_clips(1))
        .with_latency(Latency::none());
    let small = |p: &str| VideoRequest::new(p).size(96, 64).duration_secs(1).seed(3);
    let job = sim
        .submit(&small("a red ball falls onto a table"))
        .await
        .unwrap();
    let asset = finished(&sim, &job).await;
    let mut first = Vec::new();
    sim.download(&asset, &mut first, &|_| {}).await.unwrap();
    let truth = sim.truth(&job).expect("the truth outlives the clip");
    // Another clip takes the one cache place, so the job's clip is gone.
    let other = sim
        .submit(&small("a blue cube slides down a ramp"))
        .await
        .unwrap();
    while !matches!(
        sim.status(&other).await.unwrap().state,
        JobState::Succeeded { .. }
    ) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut again = Vec::new();
    sim.download(&asset, &mut again, &|_| {}).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(sim.truth(&job), Some(truth));
}

/// The table keeps the last [`RETAINED_SETTLED_JOBS`] settled jobs, not
/// every job ever submitted: past that, the longest settled is forgotten
/// (not found, as an expired generation at a provider), while every newer
/// one still answers with its truth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settled_jobs_beyond_the_retention_are_forgotten_oldest_first() {
    let sim =
        SimBackend::new(Simulator::new(Profile::weak()).unwrap()).with_latency(Latency::none());
    // One prompt: one plan, rendered once and shared by every job.
    let request = VideoRequest::new("a red ball falls onto a table")
        .size(32, 32)
        .duration_secs(1)
        .seed(5);
    let mut jobs = Vec::new();
    for _ in 0..=RETAINED_SETTLED_JOBS {
        let job = sim.submit(&request).await.unwrap();
        let asset = finished(&sim, &job).await;
        let mut clip = Vec::new();
        sim.download(&asset, &mut clip, &|_| {}).await.unwrap();
        assert!(!clip.is_empty());
        jobs.push(job);
    }
    let first = &jobs[0];
    let gone = sim.status(first).await.unwrap_err();
    assert!(
        matches!(gone, ClientError::Http { status: 404, .. }),
        "{gone}"
    );
    assert!(sim.truth(first).is_none());
    for job in [&jobs[1], &jobs[RETAINED_SETTLED_JOBS]] {
        assert!(matches!(
            sim.status(job).await.unwrap().state,
            JobState::Succeeded { .. }
        ));
        assert!(sim.truth(job).is_some(), "{} lost its truth", job.id);
    }
}
