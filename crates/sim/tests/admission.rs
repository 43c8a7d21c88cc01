//! Rendering is admitted by the cores, not by the jobs in flight: a burst of
//! submissions far larger than the machine renders a few clips at a time,
//! and every job still finishes.

use std::time::Duration;

use framebreak_client::{JobState, VideoBackend, VideoRequest};
use framebreak_sim::{Latency, Profile, SimBackend, Simulator, render_peak, render_slots};

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
