//! The metric-name contract, checked against the workspace's sources: every
//! metric macro names a constant of `framebreak_vocab::metrics`, and every
//! constant there is emitted by some crate's library code.

use std::path::{Path, PathBuf};

use framebreak_vocab::metrics;

/// The workspace root (this crate lives in `crates/vocab`).
fn workspace() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    assert!(
        root.join("Cargo.toml").is_file() && root.join("crates").is_dir(),
        "the workspace is not at {}",
        root.display()
    );
    root
}

/// Every `.rs` file under `dir`, skipping build output and hidden folders.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                sources(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// The constants of `metrics.rs`: (identifier, name).
fn constants() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/metrics.rs"))
            .unwrap();
    text.lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("pub const ")?;
            let (ident, value) = rest.split_once(": &str = \"")?;
            Some((ident.to_owned(), value.trim_end_matches("\";").to_owned()))
        })
        .collect()
}

#[test]
fn every_metric_macro_names_a_listed_constant() {
    let mut files = Vec::new();
    sources(&workspace(), &mut files);
    assert!(files.len() > 50, "found only {} sources", files.len());
    let mut literal = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for mac in ["counter!(", "gauge!(", "histogram!("] {
            for (at, _) in text.match_indices(mac) {
                // `describe_counter!(…)` registers; a quoted macro name
                // (as in this file) is not a call.
                if text[..at].ends_with("describe_") || text[..at].ends_with('"') {
                    continue;
                }
                let arg = text[at + mac.len()..].trim_start();
                if arg.starts_with('"') {
                    let line = text[..at].lines().count();
                    literal.push(format!("{}:{line}", file.display()));
                }
            }
        }
    }
    assert!(
        literal.is_empty(),
        "metric macros with a literal name (use a constant of framebreak_vocab::metrics): {literal:?}"
    );
    let listed = constants();
    assert_eq!(listed.len(), metrics::ALL.len(), "{listed:?}");
    for (_, name) in &listed {
        assert!(
            metrics::ALL.contains(&name.as_str()),
            "{name} missing from ALL"
        );
    }
}

#[test]
fn every_listed_name_is_emitted_by_library_code() {
    let root = workspace();
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    for krate in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        if krate.file_name() != "vocab" {
            sources(&krate.path().join("src"), &mut files);
        }
    }
    // Library code that calls a metric macro (the descriptions in
    // telemetry's `names.rs` name every constant and emit none).
    let emitting: Vec<String> = files
        .iter()
        .filter(|f| !f.ends_with("telemetry/src/names.rs"))
        .map(|f| std::fs::read_to_string(f).unwrap())
        .filter(|t| {
            ["counter!(", "gauge!(", "histogram!("]
                .iter()
                .any(|m| t.contains(m))
        })
        .collect();
    let silent: Vec<String> = constants()
        .into_iter()
        .filter(|(ident, _)| !emitting.iter().any(|t| t.contains(ident.as_str())))
        .map(|(_, name)| name)
        .collect();
    assert!(
        silent.is_empty(),
        "listed but emitted by no crate: {silent:?}"
    );
}

#[test]
fn names_are_unique_prometheus_names() {
    let mut seen = std::collections::HashSet::new();
    for name in metrics::ALL {
        assert!(seen.insert(name), "{name} twice");
        assert!(name.starts_with("framebreak_"), "{name}");
        assert!(
            name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{name}"
        );
    }
}
