//! What a mutator does to a prompt: [`Mutation`]s recorded on a [`Draft`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{BasePrompt, DefectKind, Demand, Family, Trap, TrapId, Variant, VariantId};

/// Where an inserted text goes in the prompt.
///
/// A draft keeps the pieces apart and renders them in a fixed layout,
/// `"{prepended, …}, {base}, {appended, …}. {Sentence.} {Sentence.}"`, so
/// every inserted text appears verbatim in the final prompt whatever the
/// order of insertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Insertion {
    /// A clause after the base prompt: `"{prompt}, {text}"`.
    Append,
    /// An opening phrase before the base prompt: `"{Text}, {prompt}"`.
    Prepend,
    /// A sentence after the prompt: `"{prompt}. {Text.}"`.
    Sentence,
}

/// One change a mutator made to a prompt, as it appears in the JSON output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mutation {
    /// The name of the mutator that made it (`trap_injector`, `combination`,
    /// `intensity`, `camera`, or a custom mutator's name).
    pub mutator: String,
    /// The trap this mutation inserts or intensifies, if any.
    pub trap: Option<TrapId>,
    /// The trap's family, if a trap is involved.
    pub family: Option<Family>,
    /// The defect kinds this mutation aims to provoke (for a camera demand:
    /// the kinds it makes easier to see).
    pub provokes: Vec<DefectKind>,
    /// The camera or realism demand this mutation inserts, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demand: Option<String>,
    /// The exact text inserted into the prompt.
    pub text: String,
}

impl Mutation {
    /// A mutation that inserts (or intensifies) `trap` with `text`.
    pub fn trap(mutator: &str, trap: &Trap, text: impl Into<String>) -> Self {
        Mutation {
            mutator: mutator.to_owned(),
            trap: Some(trap.id.clone()),
            family: Some(trap.family),
            provokes: trap.provokes.clone(),
            demand: None,
            text: text.into(),
        }
    }

    /// A mutation that inserts the camera or realism `demand` with `text`.
    pub fn demand(mutator: &str, demand: &Demand, text: impl Into<String>) -> Self {
        Mutation {
            mutator: mutator.to_owned(),
            trap: None,
            family: None,
            provokes: demand.reveals.clone(),
            demand: Some(demand.id.clone()),
            text: text.into(),
        }
    }

    /// A free-form mutation of a custom mutator, tied to no catalogue entry.
    pub fn other(mutator: &str, text: impl Into<String>) -> Self {
        Mutation {
            mutator: mutator.to_owned(),
            trap: None,
            family: None,
            provokes: Vec::new(),
            demand: None,
            text: text.into(),
        }
    }
}

/// A variant under construction: a base prompt and the mutations made so far.
#[derive(Debug, Clone)]
pub struct Draft {
    base: Arc<BasePrompt>,
    prepended: Vec<usize>,
    appended: Vec<usize>,
    sentences: Vec<usize>,
    mutations: Vec<Mutation>,
}

impl Draft {
    /// A draft with no mutation yet.
    pub fn new(base: Arc<BasePrompt>) -> Self {
        Draft {
            base,
            prepended: Vec::new(),
            appended: Vec::new(),
            sentences: Vec::new(),
            mutations: Vec::new(),
        }
    }

    /// The base prompt.
    pub fn base(&self) -> &BasePrompt {
        &self.base
    }

    /// The mutations made so far, in order.
    pub fn mutations(&self) -> &[Mutation] {
        &self.mutations
    }

    /// Whether `trap` was already inserted.
    pub fn has_trap(&self, trap: &TrapId) -> bool {
        self.mutations.iter().any(|m| m.trap.as_ref() == Some(trap))
    }

    /// Whether the camera or realism demand `id` was already inserted.
    pub fn has_demand(&self, id: &str) -> bool {
        self.mutations
            .iter()
            .any(|m| m.demand.as_deref() == Some(id))
    }

    /// Inserts `mutation.text` at `at` and records the mutation.
    ///
    /// An empty text records nothing: a mutation must be visible in the prompt.
    /// An opening phrase after the first one reads mid-sentence, so its first
    /// letter is lowered ("Seen from close" → "seen from close"); the
    /// recorded text is the text as it appears in the prompt.
    pub fn insert(&mut self, at: Insertion, mut mutation: Mutation) {
        if mutation.text.trim().is_empty() {
            return;
        }
        if at == Insertion::Prepend && !self.prepended.is_empty() {
            mutation.text = lower_first_word(&mutation.text);
        }
        let index = self.mutations.len();
        match at {
            Insertion::Append => self.appended.push(index),
            Insertion::Prepend => self.prepended.push(index),
            Insertion::Sentence => self.sentences.push(index),
        }
        self.mutations.push(mutation);
    }

    /// The prompt as it reads with the mutations so far.
    pub fn prompt(&self) -> String {
        if self.mutations.is_empty() {
            return self.base.prompt.clone();
        }
        let text = |i: &usize| self.mutations[*i].text.as_str();
        let mut out = String::with_capacity(self.base.prompt.len() + 64 * self.mutations.len());
        for i in &self.prepended {
            out.push_str(text(i));
            out.push_str(", ");
        }
        let core = self.base.prompt.trim();
        let core = core.strip_suffix('.').unwrap_or(core);
        if self.prepended.is_empty() {
            out.push_str(core);
        } else {
            push_lowering_article(&mut out, core);
        }
        for i in &self.appended {
            out.push_str(", ");
            out.push_str(text(i));
        }
        if !self.sentences.is_empty() {
            if !out.ends_with(['.', '!', '?']) {
                out.push('.');
            }
            for i in &self.sentences {
                out.push(' ');
                out.push_str(text(i));
            }
        }
        out
    }

    /// The finished variant, with its id.
    pub fn finish(self, seed: u64) -> Variant {
        let prompt = self.prompt();
        let id = VariantId::of(&self.base.prompt, &prompt, &self.mutations, seed);
        Variant {
            id,
            base_id: self.base.id.clone(),
            base_prompt: self.base.prompt.clone(),
            prompt,
            seed,
            mutations: self.mutations,
            tags: self.base.tags.clone(),
        }
    }
}

/// `text` with its first letter lowered, unless the first word looks like a
/// name or an acronym ("NASA", "8K") rather than a capitalised word.
fn lower_first_word(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), second)
            if first.is_uppercase() && second.is_none_or(|c| !c.is_uppercase()) =>
        {
            first
                .to_lowercase()
                .chain(text[first.len_utf8()..].chars())
                .collect()
        }
        _ => text.to_owned(),
    }
}

/// Pushes `text`, lower-casing a leading article ("A ball" → "a ball") so that
/// it reads after an opening phrase. Other words (names, acronyms) are kept.
fn push_lowering_article(out: &mut String, text: &str) {
    let first_word = text.split_whitespace().next().unwrap_or("");
    if matches!(
        first_word,
        "A" | "An" | "The" | "Two" | "Three" | "Several" | "Some"
    ) {
        let mut chars = text.chars();
        if let Some(c) = chars.next() {
            out.extend(c.to_lowercase());
            out.push_str(chars.as_str());
        }
    } else {
        out.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(prompt: &str) -> Draft {
        Draft::new(Arc::new(BasePrompt::new(prompt)))
    }

    #[test]
    fn layout_keeps_every_text_verbatim() {
        let mut d = draft("A ball is thrown.");
        d.insert(
            Insertion::Sentence,
            Mutation::other("t", "Everything drifts up."),
        );
        d.insert(
            Insertion::Append,
            Mutation::other("t", "floating weightlessly"),
        );
        d.insert(Insertion::Prepend, Mutation::other("t", "In zero gravity"));
        d.insert(Insertion::Prepend, Mutation::other("t", "The night before"));
        d.insert(Insertion::Prepend, Mutation::other("t", "NASA-style"));
        assert_eq!(
            d.prompt(),
            "In zero gravity, the night before, NASA-style, a ball is thrown, floating weightlessly. Everything drifts up."
        );
        assert_eq!(d.mutations()[3].text, "the night before");
    }

    #[test]
    fn unmutated_draft_is_the_base_prompt() {
        assert_eq!(draft("A ball is thrown.").prompt(), "A ball is thrown.");
    }

    #[test]
    fn names_are_not_lowered() {
        let mut d = draft("NASA engineers launch a rocket");
        d.insert(Insertion::Prepend, Mutation::other("t", "At dawn"));
        assert_eq!(d.prompt(), "At dawn, NASA engineers launch a rocket");
    }

    #[test]
    fn empty_text_records_nothing() {
        let mut d = draft("A ball");
        d.insert(Insertion::Append, Mutation::other("t", "  "));
        assert!(d.mutations().is_empty());
    }
}
