//! The model's promises: the same bytes for the same request, defect rates
//! that match the profile, every planned defect in the ground truth.

use framebreak_client::VideoRequest;
use framebreak_sim::{Cause, Profile, Simulator};
use framebreak_variants::{Catalogue, DefectKind};

fn small(prompt: &str, seed: u64) -> VideoRequest {
    VideoRequest::new(prompt)
        .size(96, 64)
        .duration_secs(1)
        .seed(seed)
}

#[test]
fn the_same_prompt_seed_and_profile_give_the_same_bytes() {
    let prompt = "a red ball is thrown, with everything drifting freely in zero gravity";
    // Two simulators: nothing is shared but the inputs.
    let a = Simulator::new(Profile::weak())
        .unwrap()
        .render(&small(prompt, 11))
        .unwrap();
    let b = Simulator::new(Profile::weak())
        .unwrap()
        .render(&small(prompt, 11))
        .unwrap();
    assert_eq!(a.mp4, b.mp4);
    assert_eq!(a.truth, b.truth);
    let c = Simulator::new(Profile::weak())
        .unwrap()
        .render(&small(prompt, 12))
        .unwrap();
    assert_ne!(a.mp4, c.mp4, "another seed, another clip");
}

/// Prompts carrying exactly one trap each, cycling through the catalogue.
fn one_trap_prompts(n: usize) -> Vec<(String, String)> {
    let catalogue = Catalogue::builtin();
    let scenes = [
        "a red ball is thrown across a park",
        "a pendulum swings in a hall",
        "a woman walks down a street",
    ];
    (0..n)
        .map(|i| {
            let trap = &catalogue.traps()[i % catalogue.traps().len()];
            let phrasing = &trap.phrasings[i % trap.phrasings.len()];
            (
                format!("{}, {phrasing}", scenes[i % scenes.len()]),
                trap.id.to_string(),
            )
        })
        .collect()
}

#[test]
fn defect_rates_match_the_profile_over_a_thousand_clips() {
    let catalogue = Catalogue::builtin();
    for profile in [Profile::weak(), Profile::strong()] {
        let sim = Simulator::new(profile.clone()).unwrap();
        let prompts = one_trap_prompts(1000);
        let mut seen = [0usize; 9];
        let mut expected = [0f64; 9];
        let mut variance = [0f64; 9];
        for (i, (prompt, trap)) in prompts.iter().enumerate() {
            let plan = sim.plan(&small(prompt, i as u64)).unwrap();
            assert_eq!(plan.traps, std::slice::from_ref(trap), "{prompt}");
            let trap = catalogue.trap(trap).unwrap();
            for (k, kind) in DefectKind::ALL.into_iter().enumerate() {
                // Provoked by the trap or else spontaneous (one draw picks
                // one spontaneous kind).
                let p = 1.0
                    - (1.0 - profile.probability(trap, kind)) * (1.0 - profile.spontaneous(kind));
                expected[k] += p;
                variance[k] += p * (1.0 - p);
                seen[k] += usize::from(plan.has(kind));
            }
        }
        for (k, kind) in DefectKind::ALL.into_iter().enumerate() {
            let sigma = variance[k].sqrt().max(1.0);
            let diff = (seen[k] as f64 - expected[k]).abs();
            assert!(
                diff <= 4.0 * sigma,
                "{}: {kind} seen {} times, expected {:.1} ± {sigma:.1}",
                profile.name(),
                seen[k],
                expected[k]
            );
        }
    }
}

#[test]
fn the_weak_model_breaks_more_often_than_the_strong_one() {
    let prompts = one_trap_prompts(300);
    let count = |p: Profile| {
        let sim = Simulator::new(p).unwrap();
        prompts
            .iter()
            .enumerate()
            .map(|(i, (q, _))| sim.plan(&small(q, i as u64)).unwrap().defects.len())
            .sum::<usize>()
    };
    let (weak, strong) = (count(Profile::weak()), count(Profile::strong()));
    assert!(weak > 2 * strong, "weak {weak}, strong {strong}");
}

#[test]
fn every_planned_defect_is_rendered_into_the_ground_truth() {
    // A profile that always breaks, so that every kind is rendered.
    let always = Profile::parse(
        "name = \"always\"\nprovoked = 1.0\nspontaneous = 1.0\n",
        "always",
    )
    .unwrap();
    let sim = Simulator::new(always).unwrap();
    let catalogue = Catalogue::builtin();
    let mut kinds = std::collections::BTreeSet::new();
    let mut scenes = std::collections::BTreeSet::new();
    for (i, trap) in catalogue.traps().iter().enumerate().step_by(2) {
        let scene = [
            "a ball bounces",
            "a pendulum swings",
            "water poured into a glass",
            "a drone flies over a mountain",
            "blocks slide and collide",
            "a man walks",
            "a marble rolls down a ramp",
            "a ball is thrown",
        ][(i / 2) % 8];
        let request = small(&format!("{scene}, {}", trap.phrasings[0]), i as u64);
        let plan = sim.plan(&request).unwrap();
        let video = sim.render(&request).unwrap();
        scenes.insert(video.truth.scene);
        assert_eq!(video.truth.defects.len(), plan.defects.len());
        for (p, t) in plan.defects.iter().zip(&video.truth.defects) {
            kinds.insert(t.kind);
            assert_eq!(p.kind, t.kind);
            assert_eq!(p.cause, t.cause);
            assert!(
                t.start_frame <= t.end_frame && t.end_frame < video.truth.frames,
                "{t:?}"
            );
            if let Some([x, y, w, h]) = t.bbox {
                assert!(w > 0 && h > 0 && x + w <= 96 && y + h <= 64, "{t:?}");
            }
            assert!(
                matches!(&t.cause, Cause::Trap(id) if id == trap.id.as_str())
                    || t.cause == Cause::Spontaneous
            );
        }
    }
    assert_eq!(kinds.len(), 9, "kinds rendered: {kinds:?}");
    assert!(scenes.len() >= 7, "scenes: {scenes:?}");
}

#[test]
fn clean_clips_decode_to_the_requested_size_and_length() {
    let sim = Simulator::new(
        Profile::parse(
            "name = \"clean\"\nprovoked = 0.0\nspontaneous = 0.0\n",
            "clean",
        )
        .unwrap(),
    )
    .unwrap();
    let video = sim
        .render(
            &VideoRequest::new("a pendulum swings")
                .size(128, 96)
                .duration_secs(1)
                .seed(1),
        )
        .unwrap();
    assert!(video.truth.defects.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.mp4");
    std::fs::write(&path, &video.mp4).unwrap();
    let clip = framebreak_media::read_clip(&path, &Default::default()).unwrap();
    assert_eq!(
        (clip.len(), clip.info.width, clip.info.height),
        (24, 128, 96)
    );
    assert_eq!(clip.info.fps, 24.0);
}

#[test]
fn the_cache_keeps_a_bounded_number_of_clips() {
    let sim = Simulator::new(Profile::strong()).unwrap().cache_clips(2);
    for seed in 0..4 {
        sim.render(
            &VideoRequest::new("a ball")
                .size(64, 48)
                .duration_secs(1)
                .seed(seed),
        )
        .unwrap();
    }
    assert_eq!(sim.cached(), 2);
}
