//! Generated and own workflows: they pass actionlint, zizmor (offline) and
//! SchemaStore's `github-workflow` schema, and `phasegate workflows check`
//! catches every way of weakening the promotion chain. Also the shared
//! helpers the init, matrix and action tests use.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use phasegate::config::load_config_str;
use phasegate::workflows::{check_workflows, generate, FindingCode, GenerateOptions};

pub const PHASEGATE: &str = env!("CARGO_BIN_EXE_phasegate");

/// The phasegate action the tests pin generated workflows to: a commit of
/// this repository (a local build has no release to pin, so `init` needs it).
pub const ACTION: &str = "phasegate/phasegate@241f9446fe3bd6a04662034aabd6e5e5cac74724";

/// `phasegate init --action ACTION` plus `extra` in `dir`.
pub fn init(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["init", "--action", ACTION];
    args.extend_from_slice(extra);
    phasegate(dir, &args)
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A pinned tool from `.tools/bin` (installed by scripts/install-test-deps.sh).
pub fn tool(name: &str) -> PathBuf {
    let path = repo().join(".tools/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `bash scripts/install-test-deps.sh`",
        path.display()
    );
    path
}

pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn phasegate(dir: &Path, args: &[&str]) -> Output {
    Command::new(PHASEGATE)
        .current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_TOKEN")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_EVENT_PATH")
        .env("NO_COLOR", "1")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run phasegate")
}

/// Runs actionlint, zizmor --offline and check-jsonschema's vendored
/// `github-workflows` schema over `files`; panics with their output on any finding.
pub fn lint_workflows(files: &[PathBuf]) {
    assert!(!files.is_empty(), "no workflow to lint");
    let run = |program: PathBuf, args: Vec<String>| {
        let out = Command::new(&program)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
        assert!(
            out.status.success(),
            "{} {:?}\n{}",
            program.display(),
            args,
            text(&out)
        );
    };
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    run(tool("actionlint"), names.clone());
    let mut z = vec!["--offline".to_string(), "--no-progress".to_string()];
    z.extend(names.clone());
    run(tool("zizmor"), z);
    let mut s = vec![
        "--builtin-schema".to_string(),
        "vendor.github-workflows".to_string(),
    ];
    s.extend(names);
    run(tool("check-jsonschema"), s);
}

/// Copies a directory tree (no symlinks expected).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}\n{}", text(&out));
}

/// The example repository without what `init` writes, as a git repository.
pub fn example_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("examples/infra-repo"), dir.path());
    let _ = std::fs::remove_file(dir.path().join("phasegate.yml"));
    let _ = std::fs::remove_dir_all(dir.path().join(".github"));
    git(dir.path(), &["init", "-q", "-b", "main", "."]);
    dir
}

pub fn workflow_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

const CONFIG: &str = "version: 1\nenvironments:\n  - name: dev\n  - name: staging\n    reviewers_required: true\n  - name: prod\n    github_environment: production\n    reviewers_required: true\nprojects:\n  - name: app\n    dir: app\n";

#[test]
fn generated_workflows_of_both_modes_pass_actionlint_zizmor_and_the_schema() {
    for mode in ["apply-after-merge", "apply-before-merge"] {
        let cfg = load_config_str(
            &format!(
                "{CONFIG}workflows:\n  mode: {mode}\n  action: \"acme/phasegate@{}\"\n",
                "a".repeat(40)
            ),
            "phasegate.yml",
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let opts = GenerateOptions {
            config_path: "phasegate.yml".into(),
            action: ACTION.into(),
        };
        let mut files = vec![];
        for w in generate(&cfg, &opts) {
            let path = dir.path().join(w.file);
            std::fs::write(&path, w.text).unwrap();
            files.push(path);
        }
        assert_eq!(files.len(), 5);
        lint_workflows(&files);
    }
}

#[test]
fn own_workflows_pass_actionlint_zizmor_and_the_schema() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.iter().any(|f| f.ends_with("ci.yml")));
    assert!(files.iter().any(|f| f.ends_with("release.yml")));
    lint_workflows(&files);
}

#[test]
fn deleting_the_prod_apply_environment_line_fails_the_check_naming_the_job() {
    let dir = example_repo();
    let out = init(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let ok = phasegate(dir.path(), &["workflows", "check"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "untouched workflows pass\n{}",
        text(&ok)
    );

    let promote = dir.path().join(".github/workflows/phasegate-promote.yml");
    let before = std::fs::read_to_string(&promote).unwrap();
    let after = before.replace("    environment: \"prod\"\n", "");
    assert_ne!(before, after, "the prod apply job has an environment line");
    std::fs::write(&promote, after).unwrap();
    let out = phasegate(dir.path(), &["workflows", "check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("PG-WF-001 job `apply-prod`: applies without `environment:`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("PG-WF-008"),
        "drift is reported too: {stdout}"
    );
}

#[test]
fn prod_planned_without_waiting_for_staging_breaks_the_order() {
    let dir = example_repo();
    assert_eq!(init(dir.path(), &[]).status.code(), Some(0));
    let promote = dir.path().join(".github/workflows/phasegate-promote.yml");
    let before = std::fs::read_to_string(&promote).unwrap();
    let after = before.replace(
        "needs: [changes, review-dev, review-staging]",
        "needs: [changes]",
    );
    assert_ne!(before, after);
    std::fs::write(&promote, after).unwrap();
    let out = phasegate(dir.path(), &["workflows", "check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("PG-WF-002 job `apply-prod`: prod is not after staging"),
        "{stdout}"
    );
}

fn findings(workflow: &str) -> Vec<(FindingCode, Option<String>)> {
    let cfg = load_config_str(CONFIG, "phasegate.yml").unwrap();
    check_workflows(&cfg, &[("w.yml".to_string(), workflow.to_string())], &[])
        .into_iter()
        .filter(|f| f.code != FindingCode::MissingEnvironment)
        .map(|f| (f.code, f.job))
        .collect()
}

const PIN: &str = "phasegate/phasegate@0123456789012345678901234567890123456789";

#[test]
fn pull_request_target_checking_out_the_head_is_caught() {
    let w = "on: pull_request_target\njobs:\n  plan:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n        with:\n          ref: ${{ github.event.pull_request.head.sha }}\n";
    assert_eq!(
        findings(w),
        [(FindingCode::PrTargetCheckout, Some("plan".into()))]
    );
}

#[test]
fn secrets_reaching_a_fork_triggered_plan_job_are_caught() {
    let w = format!("on:\n  pull_request_target: {{}}\njobs:\n  plan:\n    runs-on: ubuntu-latest\n    concurrency: x\n    steps:\n      - uses: {PIN}\n        with:\n          command: plan\n          env: dev\n        env:\n          AWS_SECRET_ACCESS_KEY: ${{{{ secrets.AWS_KEY }}}}\n");
    assert_eq!(
        findings(&w),
        [(FindingCode::SecretsToForkPlan, Some("plan".into()))]
    );
    // On `pull_request` forks get no secrets: nothing to report.
    let safe = w.replace("pull_request_target", "pull_request");
    assert_eq!(findings(&safe), []);
}

#[test]
fn write_all_permissions_are_caught_at_workflow_and_job_level() {
    let w = "on: push\npermissions: write-all\njobs:\n  a:\n    runs-on: ubuntu-latest\n    permissions: write-all\n    steps:\n      - run: echo\n";
    assert_eq!(
        findings(w),
        [
            (FindingCode::WriteAll, None),
            (FindingCode::WriteAll, Some("a".into()))
        ]
    );
}

#[test]
fn a_phasegate_step_on_a_tag_is_a_mutable_ref() {
    let w = "on: push\njobs:\n  plan:\n    runs-on: ubuntu-latest\n    concurrency: x\n    steps:\n      - uses: phasegate/phasegate@v1\n        with:\n          command: plan\n";
    assert_eq!(
        findings(w),
        [(FindingCode::MutableRef, Some("plan".into()))]
    );
}

#[test]
fn a_phasegate_job_without_concurrency_is_caught() {
    let w = format!("on: push\njobs:\n  apply:\n    runs-on: ubuntu-latest\n    environment: dev\n    steps:\n      - uses: {PIN}\n        with:\n          command: apply\n          env: dev\n");
    assert_eq!(
        findings(&w),
        [(FindingCode::NoConcurrency, Some("apply".into()))]
    );
}

#[test]
fn a_run_step_applying_without_environment_is_caught_too() {
    let w = "on: push\njobs:\n  go:\n    runs-on: ubuntu-latest\n    concurrency: x\n    steps:\n      - run: phasegate apply --env prod\n";
    assert_eq!(
        findings(w),
        [(FindingCode::ApplyWithoutEnvironment, Some("go".into()))]
    );
}

#[test]
fn completions_are_printed_for_bash_and_an_unknown_shell_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = phasegate(dir.path(), &["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        script.contains("_phasegate()") && script.contains("workflows"),
        "{script}"
    );
    let bad = phasegate(dir.path(), &["completions", "nope"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
}

#[test]
fn doctor_names_each_failure_with_a_fix() {
    let dir = example_repo();
    assert_eq!(init(dir.path(), &[]).status.code(), Some(0));
    let promote = dir.path().join(".github/workflows/phasegate-promote.yml");
    let tampered = std::fs::read_to_string(&promote)
        .unwrap()
        .replace("    environment: \"prod\"\n", "");
    std::fs::write(&promote, tampered).unwrap();
    let out = Command::new(PHASEGATE)
        .current_dir(dir.path())
        .env_remove("GITHUB_TOKEN")
        .env("PATH", "/nonexistent")
        .args(["doctor"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ok   config"), "{stdout}");
    assert!(stdout.contains("FAIL engine terraform"), "{stdout}");
    assert!(
        stdout.contains("fix: install it, or set engine.binary"),
        "{stdout}"
    );
    assert!(stdout.contains("PG-WF-001 job `apply-prod`"), "{stdout}");
    assert!(stdout.contains("FAIL token: none"), "{stdout}");
}

/// Every `push` and `pull_request` trigger's `branches:` as a YAML parser
/// reads it, per file.
fn trigger_branches(text: &str) -> Vec<(String, Vec<String>)> {
    let doc: serde_json::Value = serde_saphyr::from_str(text).expect("workflow parses");
    let on = doc.get("on").or_else(|| doc.get("true"));
    let mut out = Vec::new();
    for event in ["push", "pull_request"] {
        if let Some(list) = on
            .and_then(|o| o.get(event))
            .and_then(|e| e.get("branches"))
            .and_then(|b| b.as_array())
        {
            let names = list
                .iter()
                .map(|b| b.as_str().expect("a branch name is a string").to_string())
                .collect();
            out.push((event.to_string(), names));
        }
    }
    out
}

#[test]
fn every_trigger_branch_filter_is_the_default_branch_literally() {
    for (mode, branch) in [
        ("apply-after-merge", "main"),
        ("apply-before-merge", "trunk"),
    ] {
        let cfg = load_config_str(
            &format!("{CONFIG}workflows:\n  mode: {mode}\n  default_branch: {branch}\n"),
            "phasegate.yml",
        )
        .unwrap();
        let opts = GenerateOptions {
            config_path: "phasegate.yml".into(),
            action: ACTION.into(),
        };
        let mut filtered = 0;
        for w in generate(&cfg, &opts) {
            for (event, names) in trigger_branches(&w.text) {
                assert_eq!(names, [branch], "{} on.{event}.branches", w.file);
                filtered += 1;
            }
        }
        // The pull-request workflow, and the promotion chain's push or pull_request.
        assert_eq!(filtered, 2, "{mode}");
    }
    // The committed example was written by init with the default `main`.
    let example = repo().join("examples/infra-repo/.github/workflows");
    let mut filtered = 0;
    for entry in std::fs::read_dir(&example).unwrap() {
        let path = entry.unwrap().path();
        for (event, names) in trigger_branches(&std::fs::read_to_string(&path).unwrap()) {
            assert_eq!(names, ["main"], "{} on.{event}.branches", path.display());
            filtered += 1;
        }
    }
    assert_eq!(filtered, 2);
}

#[test]
fn a_branch_filter_no_branch_matches_is_caught() {
    let cfg = load_config_str(CONFIG, "phasegate.yml").unwrap();
    let job = format!("jobs:\n  plan:\n    runs-on: ubuntu-latest\n    concurrency: x\n    permissions:\n      actions: read\n      checks: write\n      contents: write\n      pull-requests: write\n    steps:\n      - uses: {PIN}\n        with:\n          command: plan\n          env: dev\n");
    let check = |on: &str| -> Vec<String> {
        check_workflows(&cfg, &[("w.yml".into(), format!("{on}{job}"))], &[])
            .into_iter()
            .filter(|f| f.code == FindingCode::BranchFilter)
            .map(|f| f.message)
            .collect()
    };
    // What the broken template wrote: the quote marks are part of the name.
    let quoted = check("on:\n  push:\n    branches: ['\"main\"']\n");
    assert_eq!(quoted.len(), 1, "{quoted:?}");
    assert!(
        quoted[0].contains("which no branch name matches"),
        "{quoted:?}"
    );
    let other = check("on:\n  pull_request:\n    branches: [develop]\n");
    assert_eq!(other.len(), 1, "{other:?}");
    assert!(other[0].contains("does not match the default branch `main`"));
    assert_eq!(
        check("on:\n  push:\n    branches: [main]\n"),
        Vec::<String>::new()
    );
    assert_eq!(
        check("on:\n  push:\n    branches: ['**']\n"),
        Vec::<String>::new()
    );
}

#[test]
fn the_zero_sha_placeholder_fails_the_check_and_doctor_even_without_strict() {
    let dir = example_repo();
    assert_eq!(init(dir.path(), &[]).status.code(), Some(0));
    let zero = "phasegate/phasegate@0000000000000000000000000000000000000000";
    for file in ["phasegate.yml", ".github/workflows/phasegate-promote.yml"] {
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace(ACTION, zero);
        std::fs::write(&path, text).unwrap();
    }
    let out = phasegate(dir.path(), &["workflows", "check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("PG-WF-007 job `plan-dev`: runs `phasegate/phasegate@0000000000000000000000000000000000000000`, the all-zero placeholder nothing can install from; pin the phasegate action by full commit SHA: `phasegate init --force --action owner/phasegate@<40-hex commit>`"),
        "{stdout}"
    );
    let doctor = phasegate(dir.path(), &["doctor"]);
    assert_eq!(doctor.status.code(), Some(1), "{}", text(&doctor));
    let stdout = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        stdout.contains("FAIL workflows.action: `phasegate/phasegate@0000000000000000000000000000000000000000`, the all-zero placeholder"),
        "{stdout}"
    );
    assert!(
        stdout.contains("fix: `phasegate init --force --action owner/phasegate@<40-hex commit>`"),
        "{stdout}"
    );
}

#[test]
fn init_on_a_local_build_needs_an_action_pinned_by_commit() {
    let dir = example_repo();
    let bare = phasegate(dir.path(), &["init"]);
    assert_eq!(bare.status.code(), Some(2), "{}", text(&bare));
    assert!(
        String::from_utf8_lossy(&bare.stderr)
            .contains("pass --action owner/phasegate@<40-hex commit>"),
        "{}",
        text(&bare)
    );
    for bad in [
        "phasegate/phasegate@v1",
        "phasegate/phasegate@0000000000000000000000000000000000000000",
        "phasegate@0123456789012345678901234567890123456789",
    ] {
        let out = phasegate(dir.path(), &["init", "--action", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--action"),
            "{}",
            text(&out)
        );
    }
    assert!(
        !dir.path().join("phasegate.yml").exists(),
        "nothing is written on bad input"
    );
}

/// The phasegate commands each job of a workflow runs.
fn job_commands(text: &str) -> Vec<(String, Vec<String>, serde_json::Value)> {
    let doc: serde_json::Value = serde_saphyr::from_str(text).unwrap();
    let jobs = doc["jobs"].as_object().unwrap();
    jobs.iter()
        .map(|(id, job)| {
            let commands = job["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| {
                    s["uses"]
                        .as_str()
                        .is_some_and(|u| u.starts_with("phasegate/phasegate@"))
                })
                .map(|s| s["with"]["command"].as_str().unwrap().to_string())
                .collect();
            (id.clone(), commands, job["permissions"].clone())
        })
        .collect()
}

#[test]
fn every_generated_job_has_the_permissions_its_commands_need_by_the_table() {
    use phasegate::workflows::permissions::{needed, Level};
    let cfg = load_config_str(CONFIG, "phasegate.yml").unwrap();
    let opts = GenerateOptions {
        config_path: "phasegate.yml".into(),
        action: ACTION.into(),
    };
    let mut jobs_checked = 0;
    for w in generate(&cfg, &opts) {
        for (job, commands, declared) in job_commands(&w.text) {
            let declared = declared
                .as_object()
                .unwrap_or_else(|| panic!("{} job {job} declares its permissions", w.file));
            let need = needed(commands.iter().map(String::as_str));
            for (scope, level) in &need {
                let have = declared.get(*scope).and_then(|v| v.as_str());
                let enough = match level {
                    Level::Read => matches!(have, Some("read" | "write")),
                    Level::Write => have == Some("write"),
                };
                assert!(
                    enough,
                    "{} job {job} ({commands:?}) needs {scope}: {level:?}, has {have:?}",
                    w.file
                );
            }
            // Nothing beyond the table: least privilege.
            assert_eq!(
                declared.len(),
                need.len(),
                "{} job {job}: {declared:?}",
                w.file
            );
            jobs_checked += 1;
        }
    }
    // changes + 3 plans; changes + 3 × (plan, apply, review) + promoted; approve; drift;
    // continue.
    assert_eq!(jobs_checked, 4 + 11 + 1 + 1 + 1);
    // And PR planning needs `contents: write`: the journal lives in refs.
    assert_eq!(needed(["plan"])["contents"], Level::Write);
}

#[test]
fn a_plan_job_without_contents_write_lacks_a_permission() {
    let w = format!("on: push\njobs:\n  plan:\n    runs-on: ubuntu-latest\n    concurrency: x\n    permissions:\n      contents: read\n      pull-requests: write\n      checks: write\n      actions: read\n    steps:\n      - uses: {PIN}\n        with:\n          command: plan\n          env: dev\n");
    let cfg = load_config_str(CONFIG, "phasegate.yml").unwrap();
    let found: Vec<_> = check_workflows(&cfg, &[("w.yml".into(), w)], &[])
        .into_iter()
        .filter(|f| f.code == FindingCode::MissingPermission)
        .map(|f| f.to_string())
        .collect();
    assert_eq!(
        found,
        ["w.yml:3: PG-WF-012 job `plan`: runs plan but its `permissions:` lack `contents: write` (has read); on GitHub these calls fail with 403"]
    );
}

#[test]
fn the_readme_permissions_table_is_the_code_table() {
    crate::doc_sync::sync_section(
        "README.md",
        "permissions",
        &phasegate::workflows::permissions::markdown_table(),
        "cargo test --test it workflows::the_readme_permissions_table_is_the_code_table",
    );
}
