//! `phasegate init` on the example repository (three projects, a shared
//! module, dev/staging/prod tfvars): the config validates, the workflows
//! lint clean, and the committed example is exactly what init writes.

use std::path::Path;

use crate::workflows::{example_repo, lint_workflows, phasegate, repo, text, workflow_files};

#[test]
fn init_on_the_example_finds_three_projects_and_writes_a_valid_config_and_clean_workflows() {
    let dir = example_repo();
    let out = phasegate(dir.path(), &["init"]);
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
    assert!(config.contains("$schema: \"https://raw.githubusercontent.com/"), "{config}");
    assert!(!config.contains("modules/tags"), "the shared module is no project:\n{config}");
    let valid = phasegate(dir.path(), &["validate"]);
    assert_eq!(valid.status.code(), Some(0), "{}", text(&valid));
    assert!(String::from_utf8_lossy(&valid.stdout).contains("3 environments, 3 projects"));

    let files = workflow_files(dir.path());
    let names: Vec<_> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(
        names,
        ["phasegate-approve.yml", "phasegate-drift.yml", "phasegate-pr.yml", "phasegate-promote.yml"]
    );
    lint_workflows(&files);
}

#[test]
fn init_never_overwrites_without_force() {
    let dir = example_repo();
    assert_eq!(phasegate(dir.path(), &["init"]).status.code(), Some(0));
    let again = phasegate(dir.path(), &["init"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("pass --force"));
    assert_eq!(phasegate(dir.path(), &["init", "--force"]).status.code(), Some(0));
}

#[test]
fn init_without_any_root_module_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "no terraform here").unwrap();
    let out = phasegate(dir.path(), &["init"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Terraform root module"));
}

/// The example's committed `phasegate.yml` and workflows are what init
/// writes today: regenerate with `cd examples/infra-repo && phasegate init --force`.
#[test]
fn the_committed_example_is_what_init_generates() {
    let dir = example_repo();
    assert_eq!(phasegate(dir.path(), &["init"]).status.code(), Some(0));
    let committed = repo().join("examples/infra-repo");
    let mut compared = 0;
    let fresh_files = workflow_files(dir.path());
    let mut pairs = vec![(dir.path().join("phasegate.yml"), committed.join("phasegate.yml"))];
    for f in &fresh_files {
        pairs.push((f.clone(), committed.join(".github/workflows").join(f.file_name().unwrap())));
    }
    for (fresh, golden) in pairs {
        assert_eq!(
            read(&fresh),
            read(&golden),
            "{} is stale: run `cd examples/infra-repo && phasegate init --force`",
            golden.display()
        );
        compared += 1;
    }
    assert_eq!(compared, 5);
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
