//! The reusable workflows (`on: workflow_call`) under `.github/workflows/`:
//! rendered from the same templates as the generated ones (so they cannot
//! diverge), linted like every other workflow, and understood by
//! `phasegate workflows check` when a caller uses them.

use std::path::PathBuf;

use phasegate::workflows::generate_reusable;

use crate::workflows::{example_repo, init, lint_workflows, phasegate, repo, text};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

#[test]
fn reusable_workflows_are_the_templates_rendered_and_committed() {
    let generated = generate_reusable();
    let names: Vec<&str> = generated.iter().map(|w| w.file).collect();
    assert_eq!(
        names,
        [
            "phasegate-plan.yml",
            "phasegate-promote.yml",
            "phasegate-drift.yml"
        ]
    );
    for w in generated {
        let path = repo().join(".github/workflows").join(w.file);
        if std::env::var_os("UPDATE_WORKFLOWS").is_some() {
            std::fs::write(&path, &w.text).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == w.text,
            "{} differs from what templates/workflows/ render; review, then \
             `UPDATE_WORKFLOWS=1 cargo test --test it reusable_workflows::`",
            w.file
        );
    }
}

#[test]
fn the_promotion_chain_inside_runs_plan_apply_under_environment_then_verify_and_review() {
    let promote = generate_reusable()
        .into_iter()
        .find(|w| w.file == "phasegate-promote.yml")
        .unwrap()
        .text;
    for want in [
        "  workflow_call:\n",
        "  apply-env2:\n    name: apply ${{ matrix.project }} (${{ fromJSON(inputs.environments)[1] }})\n    needs: [changes, plan-env2]\n    if: ${{ !cancelled() && needs.plan-env2.result == 'success' }}\n    runs-on: ubuntu-latest\n    environment: \"${{ fromJSON(inputs.github_environments || inputs.environments)[1] }}\"\n",
        "  plan-env2:\n    name: plan ${{ matrix.project }} (${{ fromJSON(inputs.environments)[1] }})\n    needs: [changes, review-env1]\n",
        "          command: verify\n          phase: \"2\"\n",
        "          command: review\n          phase: \"2\"\n",
        "    needs: [changes, review-env1, review-env2, review-env3, review-env4]\n",
    ] {
        assert!(promote.contains(want), "missing:\n{want}\nin:\n{promote}");
    }
    let drift = generate_reusable()
        .into_iter()
        .find(|w| w.file == "phasegate-drift.yml")
        .unwrap()
        .text;
    assert!(drift.contains("          command: drift\n"), "{drift}");
    assert!(drift.contains("          args: --all\n"), "{drift}");
}

/// Caller workflows for the example repository (dev, staging, prod).
fn callers(environments: &str, reference: &str) -> Vec<(&'static str, String)> {
    let pr = format!(
        "name: pull request\non:\n  pull_request:\n    branches: [main]\npermissions: {{}}\njobs:\n  plan:\n    uses: phasegate/phasegate/.github/workflows/phasegate-plan.yml@{SHA}\n    permissions:\n      actions: read\n      checks: write\n      contents: write\n      pull-requests: write\n    with:\n      environment: dev\n"
    );
    let promote = format!(
        "name: promote\non:\n  push:\n    branches: [main]\npermissions: {{}}\njobs:\n  promote:\n    uses: phasegate/phasegate/.github/workflows/phasegate-promote.yml@{reference}\n    permissions:\n      contents: write\n      pull-requests: write\n      checks: write\n      actions: write\n      deployments: read\n      issues: write\n    with:\n      environments: '{environments}'\n"
    );
    let drift = format!(
        "name: drift\non:\n  schedule:\n    - cron: \"17 3 * * *\"\npermissions: {{}}\njobs:\n  drift:\n    uses: phasegate/phasegate/.github/workflows/phasegate-drift.yml@{SHA}\n    permissions:\n      actions: read\n      contents: write\n      issues: write\n    with:\n      environments: '{environments}'\n"
    );
    vec![
        ("pr.yml", pr),
        ("promote.yml", promote),
        ("drift.yml", drift),
    ]
}

fn check_callers(environments: &str, reference: &str) -> (Option<i32>, String, Vec<PathBuf>) {
    let dir = example_repo();
    let out = init(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let wf = dir.path().join(".github/workflows");
    // The caller replaces the generated pull-request, promotion and drift workflows.
    for f in [
        "phasegate-pr.yml",
        "phasegate-promote.yml",
        "phasegate-drift.yml",
    ] {
        std::fs::remove_file(wf.join(f)).unwrap();
    }
    let mut files = Vec::new();
    for (name, body) in callers(environments, reference) {
        std::fs::write(wf.join(name), body).unwrap();
        files.push(wf.join(name));
    }
    let out = phasegate(dir.path(), &["workflows", "check"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let kept = tempfile::tempdir().unwrap().keep();
    let copies = files
        .iter()
        .map(|f| {
            let to = kept.join(f.file_name().unwrap());
            std::fs::copy(f, &to).unwrap();
            to
        })
        .collect();
    (out.status.code(), stdout, copies)
}

#[test]
fn callers_of_the_reusable_workflows_pass_the_check_and_the_linters() {
    let (code, stdout, files) = check_callers(r#"["dev", "staging", "prod"]"#, SHA);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("0 problem(s) breaking the promotion chain, 0 file(s) drifted"),
        "the reusable calls stand in for the generated files: {stdout}"
    );
    lint_workflows(&files);
}

#[test]
fn a_caller_listing_prod_before_staging_breaks_the_order_and_names_the_job() {
    let (code, stdout, _) = check_callers(r#"["dev", "prod", "staging"]"#, SHA);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("promote.yml:7: PG-WF-002 job `promote`: prod is not after staging: list the environments in promotion order"),
        "{stdout}"
    );
}

#[test]
fn a_caller_leaving_out_prod_misses_an_environment() {
    let (code, stdout, _) = check_callers(r#"["dev", "staging"]"#, SHA);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("PG-WF-010 no workflow job applies environment `prod`"),
        "{stdout}"
    );
}

#[test]
fn a_caller_on_a_branch_is_a_mutable_ref() {
    let (code, stdout, _) = check_callers(r#"["dev", "staging", "prod"]"#, "main");
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("PG-WF-007 job `promote`: calls `phasegate/phasegate/.github/workflows/phasegate-promote.yml@main`, a mutable ref"),
        "{stdout}"
    );
}
