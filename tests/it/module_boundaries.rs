//! The module boundaries, read from the sources (the compiler holds them only
//! within a crate's privacy, not between our folders): the domain core
//! imports no adapter, `github/` posts what `render/` drew without importing
//! it, `config/` stands alone, `runner/` (the operations) never reaches up
//! into `commands/` (the argument handling), and the top-level modules import
//! each other without a circle, so each can be read and tested from the
//! bottom up.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The top-level modules of the library: its folders and single files.
fn modules() -> BTreeMap<String, Vec<PathBuf>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(src()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            out.insert(name, rust_files(&path));
        } else if !["lib", "main"].contains(&name.as_str()) {
            out.insert(name, vec![path]);
        }
    }
    out
}

/// The code of a file as built outside tests: comments and `#[cfg(test)]`
/// modules (always last in a file here) and `tests.rs` files left out.
fn code(file: &Path) -> String {
    if file.file_name().is_some_and(|n| n == "tests.rs") {
        return String::new();
    }
    let text = std::fs::read_to_string(file).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Which top-level modules each module's code names (`crate::x`, or `x`
/// inside a `use crate::{...}` list).
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let names: Vec<&String> = modules.keys().collect();
    let grouped = regex::Regex::new(r"use crate::\{([^;]*)\};").unwrap();
    let mut out = BTreeMap::new();
    for (module, files) in &modules {
        let mut uses = BTreeSet::new();
        for file in files {
            let code = code(file);
            for name in &names {
                if *name == module {
                    continue;
                }
                let direct = regex::Regex::new(&format!(r"crate::{name}\b")).unwrap();
                let in_group = grouped.captures_iter(&code).any(|c| {
                    regex::Regex::new(&format!(r"(^|[\s,{{]){name}\b"))
                        .unwrap()
                        .is_match(&c[1])
                });
                if direct.is_match(&code) || in_group {
                    uses.insert((*name).clone());
                }
            }
        }
        out.insert(module.clone(), uses);
    }
    out
}

#[test]
fn the_domain_core_and_the_adapters_import_only_what_their_layer_may() {
    let imports = imports();
    // (module, what it must never import, why)
    let rules: [(&str, &[&str], &str); 9] = [
        (
            "runner",
            &["commands", "setup"],
            "the operations never see how a command line was parsed",
        ),
        (
            "setup",
            &["commands"],
            "setting a repository up never sees how a command line was parsed",
        ),
        (
            "github",
            &["store", "render", "runner", "commands"],
            "it posts what render/ drew and store/ keeps; it never reaches for either",
        ),
        (
            "config",
            &["github", "verify", "iac", "render"],
            "the config is read before any adapter exists",
        ),
        (
            "gates",
            &["render", "github", "iac", "store"],
            "gates are data; render/ draws them",
        ),
        (
            "phase",
            &["github", "iac", "store", "render"],
            "the step machine is pure",
        ),
        (
            "journal",
            &["store", "github", "iac", "render"],
            "events and their fold are pure",
        ),
        (
            "plan",
            &["render", "github", "iac", "store", "gates"],
            "the plan model is read by everything and reads nothing of theirs",
        ),
        (
            "render",
            &["store", "iac", "runner", "commands"],
            "render/ turns data into text, nothing more",
        ),
    ];
    let mut broken = vec![];
    for (module, forbidden, why) in rules {
        let uses = &imports[module];
        for f in forbidden {
            if uses.contains(*f) {
                broken.push(format!("{module}/ imports {f}/: {why}"));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_top_level_modules_import_each_other_without_a_circle() {
    let imports = imports();
    // Depth-first search for a back edge, naming the circle found.
    fn visit(
        m: &str,
        imports: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            let mut circle = path[at..].to_vec();
            circle.push(m.to_string());
            return Some(circle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for next in imports.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, imports, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for m in imports.keys() {
        if let Some(circle) = visit(m, &imports, &mut vec![], &mut done) {
            panic!("an import circle: {}", circle.join(" → "));
        }
    }
    assert!(
        imports.len() > 15,
        "the modules were not found: {imports:?}"
    );
}
