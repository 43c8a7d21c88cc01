//! What the sim examples share: the prompts they render.

use framebreak_variants::{Catalogue, Generator, Strategy, builtin_scenes};

/// `n` prompts from the built-in scenes, four in five carrying one random
/// trap (the variants crate's generator), the same for every example: clip
/// `i` of one example is clip `i` of another.
pub(crate) fn prompts(n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    let scenes = builtin_scenes();
    let mut seed = 0;
    while out.len() < n {
        let generator = Generator::builder(Catalogue::builtin())
            .strategy(Strategy::Random { per_prompt: 1 })
            .seed(seed)
            .build()
            .expect("a generator");
        for (i, v) in generator
            .generate(scenes.clone().into_iter().map(Ok))
            .enumerate()
        {
            let v = v.expect("a variant");
            out.push(if (out.len() + i) % 5 == 4 {
                v.base_prompt
            } else {
                v.prompt
            });
            if out.len() == n {
                break;
            }
        }
        seed += 1;
    }
    out
}
