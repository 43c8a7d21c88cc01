//! TOML → validated [`Catalogue`], with line and column in every error.

use std::collections::HashSet;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::{Catalogue, Combination, Demand, Trap, TrapId};
use crate::error::suggest;
use crate::{DefectKind, Error, Family, Insertion, Result};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    #[serde(default = "yes")]
    extend_builtin: bool,
    #[serde(default)]
    trap: Vec<RawTrap>,
    #[serde(default)]
    combination: Vec<RawCombination>,
    #[serde(default)]
    demand: Vec<RawDemand>,
    #[serde(default)]
    intensity: Option<RawIntensity>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrap {
    id: Spanned<String>,
    family: Family,
    title: String,
    description: String,
    insert: Insertion,
    provokes: Vec<DefectKind>,
    phrasings: Vec<String>,
    #[serde(default)]
    intensifiers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCombination {
    traps: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    why: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDemand {
    id: Spanned<String>,
    title: String,
    insert: Insertion,
    #[serde(default)]
    reveals: Vec<DefectKind>,
    phrasings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntensity {
    templates: Spanned<Vec<String>>,
}

/// Where errors point: the text (for line and column) and its name.
struct Source<'a> {
    text: &'a str,
    name: &'a str,
}

impl Source<'_> {
    fn error(&self, span: Range<usize>, message: impl Into<String>) -> Error {
        let before = &self.text.as_bytes()[..span.start.min(self.text.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        Error::MalformedCatalogue {
            source_name: self.name.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    fn parse(&self) -> Result<RawCatalogue> {
        toml::from_str(self.text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            self.error(span, e.message().trim_end().to_owned())
        })
    }
}

/// A catalogue on its own (the built-in one, or a user file that does not
/// extend it).
pub(super) fn standalone(text: &str, name: &str) -> Result<Catalogue> {
    let src = Source { text, name };
    let raw = src.parse()?;
    build(
        Catalogue::from_parts(name.to_owned(), Vec::new()),
        raw,
        &src,
    )
}

/// A user file: extends the built-in catalogue unless it says otherwise.
pub(super) fn user(text: &str, name: &str) -> Result<Catalogue> {
    let src = Source { text, name };
    let raw = src.parse()?;
    let mut base = if raw.extend_builtin {
        Catalogue::builtin()
    } else {
        Catalogue::from_parts(name.to_owned(), Vec::new())
    };
    base.source_name = name.to_owned();
    build(base, raw, &src)
}

fn build(mut cat: Catalogue, raw: RawCatalogue, src: &Source<'_>) -> Result<Catalogue> {
    let mut ids_in_file = HashSet::new();
    for rt in raw.trap {
        let span = rt.id.span();
        let trap = validate_trap(rt, src)?;
        if !ids_in_file.insert(trap.id.clone()) {
            return Err(src.error(span, format!("duplicate trap id `{}`", trap.id)));
        }
        match cat.index.get(&trap.id) {
            Some(&i) => cat.traps[i] = trap,
            None => {
                cat.index.insert(trap.id.clone(), cat.traps.len());
                cat.traps.push(trap);
            }
        }
    }

    for rc in raw.combination {
        let combination = validate_combination(rc, &cat, src)?;
        cat.combinations.push(combination);
    }

    let mut demand_ids = HashSet::new();
    for rd in raw.demand {
        let span = rd.id.span();
        let demand = validate_demand(rd, src)?;
        if !demand_ids.insert(demand.id.clone()) {
            return Err(src.error(span, format!("duplicate demand id `{}`", demand.id)));
        }
        match cat.demands.iter_mut().find(|d| d.id == demand.id) {
            Some(slot) => *slot = demand,
            None => cat.demands.push(demand),
        }
    }

    if let Some(intensity) = raw.intensity {
        let span = intensity.templates.span();
        let templates = intensity.templates.into_inner();
        texts(&templates, "intensity template", span, src)?;
        cat.intensity_templates = templates;
    }

    if cat.traps.is_empty() {
        return Err(Error::EmptyCatalogue {
            source_name: src.name.to_owned(),
        });
    }
    Ok(cat)
}

fn validate_trap(rt: RawTrap, src: &Source<'_>) -> Result<Trap> {
    let span = rt.id.span();
    let id = rt.id.into_inner();
    let fail = |msg: String| Err(src.error(span.clone(), format!("trap `{id}`: {msg}")));
    let Some((prefix, name)) = id.split_once('.') else {
        return fail("an id is `<family>.<name>`, e.g. `physics.zero_g`".into());
    };
    if !is_name(name) {
        return fail("the name after the family may hold only a-z, 0-9 and _".into());
    }
    if prefix != rt.family.as_str() {
        return fail(format!(
            "the id starts with `{prefix}` but the family is `{}`",
            rt.family
        ));
    }
    if rt.title.trim().is_empty() {
        return fail("the title is empty".into());
    }
    if rt.description.trim().is_empty() {
        return fail("the description is empty".into());
    }
    if rt.provokes.is_empty() {
        return fail("`provokes` must name at least one defect kind".into());
    }
    if let Some(dup) = first_duplicate(&rt.provokes) {
        return fail(format!("`provokes` names `{dup}` twice"));
    }
    if rt.phrasings.is_empty() {
        return fail("`phrasings` must hold at least one phrasing".into());
    }
    texts(
        &rt.phrasings,
        &format!("trap `{id}`: phrasing"),
        span.clone(),
        src,
    )?;
    texts(
        &rt.intensifiers,
        &format!("trap `{id}`: intensifier"),
        span,
        src,
    )?;
    Ok(Trap {
        id: TrapId(id),
        family: rt.family,
        title: rt.title,
        description: rt.description,
        insert: rt.insert,
        provokes: rt.provokes,
        phrasings: rt.phrasings,
        intensifiers: rt.intensifiers,
    })
}

fn validate_combination(
    rc: RawCombination,
    cat: &Catalogue,
    src: &Source<'_>,
) -> Result<Combination> {
    let span = rc.traps.span();
    let raw_traps = rc.traps.into_inner();
    if raw_traps.len() < 2 {
        return Err(src.error(span, "a combination names at least two traps"));
    }
    let mut traps: Vec<TrapId> = Vec::with_capacity(raw_traps.len());
    for t in raw_traps {
        let at = t.span();
        let id = t.into_inner();
        let Some(trap) = cat.trap(&id) else {
            let near = suggest(&id, cat.traps.iter().map(|t| t.id.as_str()));
            let hint = match near.first() {
                Some(n) => format!("; did you mean `{n}`?"),
                None => String::new(),
            };
            return Err(src.error(at, format!("combination names unknown trap `{id}`{hint}")));
        };
        if traps.contains(&trap.id) {
            return Err(src.error(at, format!("combination names `{id}` twice")));
        }
        traps.push(trap.id.clone());
    }
    Ok(Combination { traps, why: rc.why })
}

fn validate_demand(rd: RawDemand, src: &Source<'_>) -> Result<Demand> {
    let span = rd.id.span();
    let id = rd.id.into_inner();
    if !is_name(&id) {
        return Err(src.error(
            span,
            format!("demand `{id}`: an id may hold only a-z, 0-9 and _"),
        ));
    }
    if rd.phrasings.is_empty() {
        return Err(src.error(
            span,
            format!("demand `{id}`: `phrasings` must hold at least one phrasing"),
        ));
    }
    texts(
        &rd.phrasings,
        &format!("demand `{id}`: phrasing"),
        span,
        src,
    )?;
    Ok(Demand {
        id,
        title: rd.title,
        insert: rd.insert,
        reveals: rd.reveals,
        phrasings: rd.phrasings,
    })
}

/// Every text non-empty, without surrounding whitespace, and unique.
fn texts(items: &[String], what: &str, span: Range<usize>, src: &Source<'_>) -> Result<()> {
    for text in items {
        if text.trim().is_empty() {
            return Err(src.error(span, format!("{what} is empty")));
        }
        if text.trim() != text {
            return Err(src.error(
                span,
                format!("{what} `{text}` has leading or trailing whitespace"),
            ));
        }
    }
    if let Some(dup) = first_duplicate(items) {
        return Err(src.error(span, format!("{what} `{dup}` appears twice")));
    }
    Ok(())
}

fn first_duplicate<T: PartialEq>(items: &[T]) -> Option<&T> {
    items
        .iter()
        .enumerate()
        .find(|(i, x)| items[..*i].contains(x))
        .map(|(_, x)| x)
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}
