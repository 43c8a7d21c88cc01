use super::*;
use crate::DefectKind;

const ONE_TRAP: &str = r#"
extend_builtin = false

[[trap]]
id = "physics.sand_up"
family = "physics"
title = "Sand flowing up"
description = "Sand in an hourglass flows upward."
insert = "append"
provokes = ["gravity_violation"]
phrasings = ["while the sand flows upward"]
"#;

fn error(text: &str) -> String {
    Catalogue::parse(text, "my.toml").unwrap_err().to_string()
}

#[test]
fn builtin_catalogue_meets_the_floor() {
    let cat = Catalogue::builtin();
    let physics = cat
        .traps()
        .iter()
        .filter(|t| t.family == Family::Physics)
        .count();
    let coherence = cat
        .traps()
        .iter()
        .filter(|t| t.family == Family::Coherence)
        .count();
    assert!(physics >= 14, "{physics} physics traps");
    assert!(coherence >= 12, "{coherence} coherence traps");
    assert!(cat.combinations().len() >= 8);
    assert!(cat.demands().len() >= 8);
    assert!(!cat.intensity_templates().is_empty());
    for kind in DefectKind::ALL {
        assert!(
            cat.traps().iter().any(|t| t.provokes.contains(&kind)),
            "no trap provokes {kind}"
        );
    }
    for trap in cat.traps() {
        assert!(trap.phrasings.len() >= 3, "{} has few phrasings", trap.id);
    }
    for template in cat.intensity_templates() {
        assert!(template.contains("{title}"), "{template}");
    }
}

#[test]
fn user_file_extends_and_overrides_the_builtin() {
    let text = ONE_TRAP.replace("extend_builtin = false", "");
    let cat = Catalogue::parse(&text, "my.toml").unwrap();
    assert_eq!(cat.traps().len(), Catalogue::builtin().traps().len() + 1);
    assert!(cat.trap("physics.sand_up").is_some());

    let builtin = Catalogue::builtin();
    let first = &builtin.traps()[0];
    let override_text = format!(
        "[[trap]]\nid = \"{}\"\nfamily = \"{}\"\ntitle = \"T\"\ndescription = \"D\"\ninsert = \"sentence\"\nprovokes = [\"flicker\"]\nphrasings = [\"Mine.\"]\n",
        first.id, first.family
    );
    let cat = Catalogue::parse(&override_text, "my.toml").unwrap();
    assert_eq!(cat.traps().len(), builtin.traps().len());
    assert_eq!(cat.trap(first.id.as_str()).unwrap().phrasings, ["Mine."]);
}

#[test]
fn standalone_user_file() {
    let cat = Catalogue::parse(ONE_TRAP, "my.toml").unwrap();
    assert_eq!(cat.traps().len(), 1);
    assert_eq!(cat.source_name(), "my.toml");
}

#[test]
fn syntax_error_has_line_and_column() {
    let text = "extend_builtin = false\n[[trap]]\nid = \"physics.x\n";
    let e = error(text);
    assert!(e.starts_with("my.toml:3:"), "{e}");
}

#[test]
fn unknown_field_has_line_and_column() {
    let text = ONE_TRAP.replace("title =", "tittle =");
    let e = error(&text);
    assert!(e.starts_with("my.toml:7:1: unknown field `tittle`"), "{e}");
}

#[test]
fn unknown_defect_kind_is_named() {
    let text = ONE_TRAP.replace("[\"gravity_violation\"]", "[\"wobble\"]");
    let e = error(&text);
    assert!(
        e.starts_with("my.toml:10:13: unknown variant `wobble`"),
        "{e}"
    );
    assert!(e.contains("gravity_violation"), "{e}");
}

#[test]
fn id_must_match_family() {
    let text = ONE_TRAP.replace("family = \"physics\"", "family = \"coherence\"");
    assert_eq!(
        error(&text),
        "my.toml:5:6: trap `physics.sand_up`: the id starts with `physics` but the family is `coherence`"
    );
}

#[test]
fn duplicate_ids_in_one_file() {
    let trap = ONE_TRAP.replace("extend_builtin = false", "");
    let text = format!("extend_builtin = false\n{trap}{trap}");
    let e = error(&text);
    assert!(e.contains("duplicate trap id `physics.sand_up`"), "{e}");
    assert!(e.starts_with("my.toml:17:6:"), "{e}");
}

#[test]
fn empty_phrasings_are_rejected() {
    let text = ONE_TRAP.replace("[\"while the sand flows upward\"]", "[]");
    assert!(error(&text).contains("`phrasings` must hold at least one phrasing"));
    let text = ONE_TRAP.replace("[\"while the sand flows upward\"]", "[\" padded \"]");
    assert!(error(&text).contains("leading or trailing whitespace"));
}

#[test]
fn empty_catalogue_is_an_error() {
    assert_eq!(
        error("extend_builtin = false\n"),
        "my.toml: the catalogue has no traps"
    );
}

#[test]
fn combination_with_unknown_trap_suggests() {
    let text = format!(
        "{ONE_TRAP}\n[[combination]]\ntraps = [\"physics.sand_up\", \"physics.sand_upp\"]\n"
    );
    let e = error(&text);
    assert!(
        e.contains("unknown trap `physics.sand_upp`; did you mean `physics.sand_up`?"),
        "{e}"
    );
    assert!(e.starts_with("my.toml:14:29:"), "{e}");
}

#[test]
fn invalid_utf8_file_names_its_line() {
    let dir = std::env::temp_dir().join(format!("fb-cat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, b"extend_builtin = false\n# caf\xe9\n").unwrap();
    let e = Catalogue::load(&path).unwrap_err().to_string();
    assert!(e.ends_with("bad.toml:2:6: invalid UTF-8: the byte at column 6 does not start a valid UTF-8 sequence"), "{e}");
    let missing = Catalogue::load(dir.join("missing.toml")).unwrap_err();
    assert!(matches!(missing, Error::Io { .. }));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn select_by_family_glob_and_id() {
    let cat = Catalogue::builtin();
    let physics = cat.select(&TrapFilter::parse("physics").unwrap()).unwrap();
    assert!(physics.traps().iter().all(|t| t.family == Family::Physics));
    let globbed = cat
        .select(&TrapFilter::parse("physics.*").unwrap())
        .unwrap();
    assert_eq!(globbed.traps(), physics.traps());
    for c in physics.combinations() {
        assert!(c.traps.iter().all(|t| t.as_str().starts_with("physics.")));
    }
    let one = cat
        .select(&TrapFilter::parse(" physics.zero_g ").unwrap())
        .unwrap();
    assert_eq!(one.traps().len(), 1);
    assert!(one.combinations().is_empty());
}

#[test]
fn unknown_trap_id_in_filter_suggests_the_nearest() {
    let cat = Catalogue::builtin();
    let e = cat
        .select(&TrapFilter::parse("physics.zero_gravity").unwrap())
        .unwrap_err();
    match &e {
        Error::UnknownTrap { suggestions, .. } => assert_eq!(suggestions[0], "physics.zero_g"),
        other => panic!("{other}"),
    }
    let e = cat
        .select(&TrapFilter::parse("zero_g").unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("did you mean `physics.zero_g`?"), "{e}");
    let e = cat
        .select(&TrapFilter::parse("audio.*").unwrap())
        .unwrap_err();
    assert!(matches!(e, Error::NoTrapMatches { .. }), "{e}");
    assert!(TrapFilter::parse("physics.*,,").is_err());
}
