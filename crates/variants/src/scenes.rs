//! The built-in base scenes, so a run needs no input file.

use serde::Deserialize;

use crate::BasePrompt;

const SCENES: &str = include_str!("../data/scenes.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenes {
    scene: Vec<BasePrompt>,
}

/// The built-in base scenes (ball thrown, water poured, dog running, …),
/// each with a stable id such as `ball_thrown`.
pub fn builtin_scenes() -> Vec<BasePrompt> {
    toml::from_str::<RawScenes>(SCENES)
        .unwrap_or_else(|e| unreachable!("the built-in scenes are checked by tests: {e}"))
        .scene
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn at_least_forty_scenes_with_unique_ids_and_prompts() {
        let scenes = builtin_scenes();
        assert!(scenes.len() >= 40, "{} scenes", scenes.len());
        let ids: HashSet<_> = scenes.iter().map(|s| s.id.as_str()).collect();
        let prompts: HashSet<_> = scenes.iter().map(|s| s.prompt.as_str()).collect();
        assert_eq!(ids.len(), scenes.len());
        assert_eq!(prompts.len(), scenes.len());
        for s in &scenes {
            assert!(
                !s.prompt.trim().is_empty() && s.prompt.len() < 300,
                "{}",
                s.id
            );
            assert!(!s.id.is_empty(), "{}", s.prompt);
        }
    }
}
