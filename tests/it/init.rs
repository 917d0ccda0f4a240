//! `phasegate init` on the example repository (three projects, a shared
//! module, dev/staging/prod tfvars): the config validates, the workflows
//! lint clean, and the committed example is exactly what init writes.

use std::path::Path;

use crate::workflows::{
    example_repo, init, lint_workflows, phasegate, repo, text, workflow_files, ACTION,
};

#[test]
fn init_on_the_example_finds_three_projects_and_writes_a_valid_config_and_clean_workflows() {
    let dir = example_repo();
    let out = init(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "project app in app (declares a backend)",
        "project dns in dns (declares a backend)",
        "project network in network (declares a backend)",
        "module modules/tags (used by app, network)",
        "environments from tfvars files: dev -> staging -> prod",
    ] {
        assert!(stdout.contains(line), "missing `{line}`:\n{stdout}");
    }
    assert!(stdout.contains("Check:"), "{stdout}");

    let config = std::fs::read_to_string(dir.path().join("phasegate.yml")).unwrap();
    assert!(
        config.contains("$schema: \"https://raw.githubusercontent.com/"),
        "{config}"
    );
    assert!(
        !config.contains("modules/tags"),
        "the shared module is no project:\n{config}"
    );
    let valid = phasegate(dir.path(), &["validate"]);
    assert_eq!(valid.status.code(), Some(0), "{}", text(&valid));
    assert!(String::from_utf8_lossy(&valid.stdout).contains("3 environments, 3 projects"));

    let files = workflow_files(dir.path());
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "phasegate-approve.yml",
            "phasegate-continue.yml",
            "phasegate-drift.yml",
            "phasegate-pr.yml",
            "phasegate-promote.yml"
        ]
    );
    lint_workflows(&files);
}

#[test]
fn init_never_overwrites_without_force() {
    let dir = example_repo();
    assert_eq!(init(dir.path(), &[]).status.code(), Some(0));
    let again = init(dir.path(), &[]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("pass --force"));
    assert_eq!(init(dir.path(), &["--force"]).status.code(), Some(0));
}

#[test]
fn init_without_any_root_module_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "no terraform here").unwrap();
    let out = init(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Terraform root module"));
}

/// The example's committed `phasegate.yml` and workflows are what init
/// writes today: regenerate with `cd examples/infra-repo && phasegate init --force --action phasegate/phasegate@241f9446fe3bd6a04662034aabd6e5e5cac74724`.
#[test]
fn the_committed_example_is_what_init_generates() {
    let dir = example_repo();
    assert_eq!(init(dir.path(), &[]).status.code(), Some(0));
    let committed = repo().join("examples/infra-repo");
    let mut compared = 0;
    let fresh_files = workflow_files(dir.path());
    let mut pairs = vec![(
        dir.path().join("phasegate.yml"),
        committed.join("phasegate.yml"),
    )];
    for f in &fresh_files {
        pairs.push((
            f.clone(),
            committed
                .join(".github/workflows")
                .join(f.file_name().unwrap()),
        ));
    }
    for (fresh, golden) in pairs {
        assert_eq!(
            read(&fresh),
            read(&golden),
            "{} is stale: run `cd examples/infra-repo && phasegate init --force --action phasegate/phasegate@241f9446fe3bd6a04662034aabd6e5e5cac74724`",
            golden.display()
        );
        compared += 1;
    }
    assert_eq!(compared, 6);
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `docs/config.md` is generated from the committed JSON Schemas of
/// `phasegate.yml` and the change plan; `UPDATE_DOCS=1` rewrites it.
#[test]
fn the_config_reference_is_generated_from_the_schemas() {
    let mut doc = String::from(
        "# Configuration and change-plan reference\n\nGenerated from `schemas/phasegate.schema.json` and `schemas/change-plan.schema.json` by `tests/it/init.rs` (`UPDATE_DOCS=1 cargo test --test it init::`). Do not edit by hand.\n",
    );
    for (title, file) in [
        ("`phasegate.yml`", "schemas/phasegate.schema.json"),
        (
            "The change plan (`--change FILE`)",
            "schemas/change-plan.schema.json",
        ),
    ] {
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(repo().join(file)).unwrap()).unwrap();
        doc.push_str(&format!("\n## {title}\n"));
        doc.push_str(&object_table(&schema));
        if let Some(defs) = schema["$defs"].as_object() {
            for (name, def) in defs {
                doc.push_str(&format!("\n### {name}\n"));
                if let Some(d) = def["description"].as_str() {
                    doc.push_str(&format!("{}\n", one_line(d)));
                }
                if def["properties"].is_object() {
                    doc.push_str(&object_table(def));
                } else if let Some(variants) = def["oneOf"].as_array().or(def["enum"].as_array()) {
                    doc.push('\n');
                    for v in variants {
                        let value = v["const"]
                            .as_str()
                            .or(v.as_str())
                            .map(str::to_string)
                            .unwrap_or_else(|| {
                                v["properties"]["kind"]["const"]
                                    .as_str()
                                    .map(|k| format!("kind: {k}"))
                                    .unwrap_or_else(|| "(object)".into())
                            });
                        let d = v["description"].as_str().map(one_line).unwrap_or_default();
                        doc.push_str(&format!("- `{value}` {d}\n"));
                    }
                }
            }
        }
    }
    let path = repo().join("docs/config.md");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &doc).unwrap();
    }
    assert_eq!(
        read(&path),
        doc,
        "docs/config.md is stale: run UPDATE_DOCS=1 cargo test --test it init::"
    );
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn object_table(schema: &serde_json::Value) -> String {
    let Some(props) = schema["properties"].as_object() else {
        return String::new();
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let mut t = String::from(
        "\n| field | type | required | default | description |\n|---|---|---|---|---|\n",
    );
    for (name, p) in props {
        let ty = if let Some(r) = p["$ref"].as_str() {
            format!(
                "[{0}](#{1})",
                r.rsplit('/').next().unwrap(),
                r.rsplit('/').next().unwrap().to_lowercase()
            )
        } else if let Some(items) = p["items"]["$ref"].as_str() {
            format!(
                "list of [{0}](#{1})",
                items.rsplit('/').next().unwrap(),
                items.rsplit('/').next().unwrap().to_lowercase()
            )
        } else {
            match &p["type"] {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(" or "),
                _ => p["anyOf"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| {
                                v["$ref"]
                                    .as_str()
                                    .map(|r| r.rsplit('/').next().unwrap().to_string())
                            })
                            .collect::<Vec<_>>()
                            .join(" or ")
                    })
                    .unwrap_or_default(),
            }
        };
        let default = match &p["default"] {
            serde_json::Value::Null => String::new(),
            serde_json::Value::Object(_) => String::new(),
            v => format!("`{v}`"),
        };
        let d = p["description"]
            .as_str()
            .map(one_line)
            .unwrap_or_default()
            .replace('|', "\\|");
        let req = if required.contains(&name.as_str()) {
            "yes"
        } else {
            ""
        };
        t.push_str(&format!("| `{name}` | {ty} | {req} | {default} | {d} |\n"));
    }
    t
}

#[test]
fn init_validate_workflows_check_and_doctor_print_one_json_object_with_format_json() {
    let dir = example_repo();
    let json = |args: &[&str], code: Option<i32>| -> serde_json::Value {
        let out = phasegate(dir.path(), args);
        if code.is_some() {
            assert_eq!(out.status.code(), code, "{args:?}\n{}", text(&out));
        }
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not one JSON object: {e}\n{}", text(&out)))
    };
    let init = json(&["init", "--action", ACTION, "--format", "json"], Some(0));
    let names = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&init["projects"]), ["app", "dns", "network"]);
    assert_eq!(names(&init["environments"]), ["dev", "staging", "prod"]);
    assert_eq!(init["written"], true);
    assert!(dir
        .path()
        .join(".github/workflows/phasegate-promote.yml")
        .exists());

    let validate = json(&["validate", "--format", "json"], Some(0));
    assert_eq!(validate["projects"], 3);
    assert_eq!(validate["phases"][2]["environment"], "prod");

    let clean = json(&["workflows", "check", "--format", "json"], Some(0));
    assert_eq!(clean["breaking"], 0, "{clean}");
    let promote = dir.path().join(".github/workflows/phasegate-promote.yml");
    let text_before = std::fs::read_to_string(&promote).unwrap();
    std::fs::write(
        &promote,
        text_before.replace("    environment: \"prod\"\n", ""),
    )
    .unwrap();
    let broken = json(&["workflows", "check", "--format", "json"], Some(1));
    let first = &broken["findings"][0];
    assert_eq!(first["code"], "PG-WF-001", "{broken}");
    assert_eq!(first["job"], "apply-prod", "{broken}");

    // Exit 0 or 1 depending on the machine's engine; the shape is the contract.
    let doctor = json(&["doctor", "--format", "json"], None);
    let checks = doctor["checks"].as_array().unwrap();
    assert!(checks.len() >= 3, "{doctor}");
    assert!(checks
        .iter()
        .all(|c| c["ok"].is_boolean() && c["what"].is_string()));
    assert_eq!(
        doctor["failed"],
        checks.iter().filter(|c| c["ok"] == false).count()
    );
}

#[test]
fn init_pins_the_given_commit_in_the_action_and_the_schema_url() {
    let dir = example_repo();
    let out = init(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (repo_name, sha) = ACTION.split_once('@').unwrap();
    let config = read(&dir.path().join("phasegate.yml"));
    assert!(
        config.contains(&format!(
            "$schema: \"https://raw.githubusercontent.com/{repo_name}/{sha}/schemas/phasegate.schema.json\"\n"
        )),
        "{config}"
    );
    assert!(
        config.contains(&format!("  action: \"{ACTION}\"\n")),
        "{config}"
    );
    let promote = read(&dir.path().join(".github/workflows/phasegate-promote.yml"));
    assert!(promote.contains(&format!("uses: {ACTION}")), "{promote}");
}
