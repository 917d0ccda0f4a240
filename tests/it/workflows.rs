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

/// network ← app ← edge (three levels), dns on its own (level 0).
const LEVELS_CONFIG: &str = concat!(
    "version: 1\nenvironments:\n  - name: dev\n  - name: staging\n    reviewers_required: true\n",
    "  - name: prod\n    github_environment: production\n    reviewers_required: true\n",
    "projects:\n  - name: app\n    dir: app\n    depends_on: [network]\n",
    "  - name: network\n    dir: network\n  - name: dns\n    dir: dns\n",
    "  - name: edge\n    dir: edge\n    depends_on: [app]\n",
);

fn generated(config: &str) -> Vec<(String, String)> {
    let cfg = load_config_str(config, "phasegate.yml").unwrap();
    let opts = GenerateOptions {
        config_path: "phasegate.yml".into(),
        action: ACTION.into(),
    };
    generate(&cfg, &opts)
        .into_iter()
        .map(|w| (w.file.to_string(), w.text))
        .collect()
}

fn promote_jobs(files: &[(String, String)]) -> serde_json::Map<String, serde_json::Value> {
    let (_, text) = files
        .iter()
        .find(|(f, _)| f == "phasegate-promote.yml")
        .unwrap();
    let doc: serde_json::Value = serde_saphyr::from_str(text).unwrap();
    doc["jobs"].as_object().unwrap().clone()
}

fn needs(jobs: &serde_json::Map<String, serde_json::Value>, job: &str) -> Vec<String> {
    jobs.get(job)
        .unwrap_or_else(|| panic!("no job {job}: {:?}", jobs.keys()))["needs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn each_dependency_level_is_planned_after_the_level_before_it_is_applied() {
    let files = generated(LEVELS_CONFIG);
    let jobs = promote_jobs(&files);
    let ids: Vec<&str> = jobs.keys().map(String::as_str).collect();
    assert_eq!(
        &ids[..8],
        [
            "changes",
            "plan-dev",
            "apply-dev",
            "plan-dev-level-1",
            "apply-dev-level-1",
            "plan-dev-level-2",
            "apply-dev-level-2",
            "review-dev"
        ],
        "{ids:?}"
    );
    assert_eq!(needs(&jobs, "plan-dev"), ["changes"]);
    assert_eq!(needs(&jobs, "apply-dev"), ["changes", "plan-dev"]);
    assert_eq!(needs(&jobs, "plan-dev-level-1"), ["changes", "apply-dev"]);
    assert_eq!(
        needs(&jobs, "apply-dev-level-1"),
        ["changes", "plan-dev-level-1"]
    );
    assert_eq!(
        needs(&jobs, "plan-dev-level-2"),
        ["changes", "apply-dev", "apply-dev-level-1"]
    );
    assert_eq!(
        needs(&jobs, "review-dev"),
        [
            "changes",
            "apply-dev",
            "apply-dev-level-1",
            "apply-dev-level-2"
        ]
    );
    // The next environment still waits for the previous review, at every level.
    assert_eq!(needs(&jobs, "plan-staging"), ["changes", "review-dev"]);
    assert_eq!(
        needs(&jobs, "plan-prod-level-2"),
        [
            "changes",
            "review-dev",
            "review-staging",
            "apply-prod",
            "apply-prod-level-1"
        ]
    );
    assert_eq!(
        needs(&jobs, "promoted"),
        ["changes", "review-dev", "review-staging", "review-prod"]
    );
    // Each level's matrix is its slice of `by_level`; the review covers the
    // environment's every changed project.
    let matrix = |job: &str| {
        jobs[job]["strategy"]["matrix"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        matrix("plan-dev"),
        "${{ fromJSON(needs.changes.outputs.by_level)['dev'][0] }}"
    );
    assert_eq!(
        matrix("apply-staging-level-1"),
        "${{ fromJSON(needs.changes.outputs.by_level)['staging'][1] }}"
    );
    assert_eq!(
        matrix("review-prod"),
        "${{ fromJSON(needs.changes.outputs.by_env)['prod'] }}"
    );
    assert_eq!(
        jobs["changes"]["outputs"]["by_level"],
        "${{ steps.matrix.outputs.by_level }}"
    );
    // A level with nothing to do lets the next one in; a failed one stops it.
    let cond = |job: &str| jobs[job]["if"].as_str().unwrap().to_string();
    let level1 = cond("plan-dev-level-1");
    assert!(
        level1.contains("fromJSON(needs.changes.outputs.by_level)['dev'][1].include[0] != null"),
        "{level1}"
    );
    assert!(
        level1.contains("(needs.apply-dev.result == 'success' || (needs.apply-dev.result == 'skipped' && fromJSON(needs.changes.outputs.by_level)['dev'][0].include[0] == null))"),
        "{level1}"
    );
    let review = cond("review-dev");
    for apply in ["apply-dev", "apply-dev-level-1", "apply-dev-level-2"] {
        assert!(
            review.contains(&format!("needs.{apply}.result == 'success'")),
            "{review}"
        );
    }
    // A later level's apply is today's apply job: environment, permissions,
    // concurrency and steps alike.
    for key in [
        "environment",
        "permissions",
        "concurrency",
        "steps",
        "runs-on",
    ] {
        assert_eq!(
            jobs["apply-prod-level-2"][key], jobs["apply-prod"][key],
            "{key}"
        );
        assert_eq!(
            jobs["plan-prod-level-1"][key], jobs["plan-prod"][key],
            "{key}"
        );
    }
    assert_eq!(jobs["apply-prod-level-2"]["environment"], "production");
    assert_eq!(
        jobs["apply-prod-level-2"]["strategy"]["max-parallel"],
        serde_json::json!(1)
    );

    // The pull-request workflow plans every project at once, as without
    // dependencies; the other workflows are unchanged too.
    let flat = generated(
        &LEVELS_CONFIG
            .replace("    depends_on: [network]\n", "")
            .replace("    depends_on: [app]\n", ""),
    );
    for ((file, text), (_, flat_text)) in files.iter().zip(&flat) {
        if file != "phasegate-promote.yml" {
            assert_eq!(text, flat_text, "{file}");
        }
    }
    let flat_jobs = promote_jobs(&flat);
    assert!(
        !flat_jobs.keys().any(|j| j.contains("-level-")),
        "{:?}",
        flat_jobs.keys()
    );
    assert!(flat_jobs["changes"]["outputs"].get("by_level").is_none());
    assert_eq!(needs(&flat_jobs, "review-dev"), ["changes", "apply-dev"]);
    assert_eq!(
        flat_jobs["review-dev"]["if"],
        "${{ !cancelled() && needs.apply-dev.result == 'success' }}"
    );

    // They pass actionlint, zizmor and the schema, and `workflows check`.
    let dir = tempfile::tempdir().unwrap();
    let mut paths = vec![];
    for (file, text) in &files {
        let path = dir.path().join(file);
        std::fs::write(&path, text).unwrap();
        paths.push(path);
    }
    // The same chain on the pull request (apply before merge).
    let before_merge = format!("{LEVELS_CONFIG}workflows:\n  mode: apply-before-merge\n");
    let dir_before = tempfile::tempdir().unwrap();
    for (file, text) in generated(&before_merge) {
        if file == "phasegate-promote.yml" {
            assert!(text.contains("  apply-prod-level-2:\n"), "{text}");
            let path = dir_before.path().join(file);
            std::fs::write(&path, text).unwrap();
            paths.push(path);
        }
    }
    lint_workflows(&paths);
    let cfg = load_config_str(LEVELS_CONFIG, "phasegate.yml").unwrap();
    let found = check_workflows(&cfg, &files, &files);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn workflows_generate_writes_the_per_level_chain_from_the_config_as_it_stands() {
    let dir = example_repo();
    assert_eq!(init(dir.path(), &[]).status.code(), Some(0));
    let config = dir.path().join("phasegate.yml");
    let written = std::fs::read_to_string(&config).unwrap();
    let with_order = written.replace(
        "  - name: \"app\"\n    dir: \"app\"\n",
        "  - name: \"app\"\n    dir: \"app\"\n    depends_on: [network]\n",
    );
    assert_ne!(written, with_order);
    std::fs::write(&config, &with_order).unwrap();
    // The edited config's workflows drift from the ones on disk until written again.
    let drifted = phasegate(dir.path(), &["workflows", "check", "--strict"]);
    assert_eq!(drifted.status.code(), Some(1), "{}", text(&drifted));
    let out = phasegate(dir.path(), &["workflows", "generate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("phasegate-promote.yml"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), with_order);
    let promote =
        std::fs::read_to_string(dir.path().join(".github/workflows/phasegate-promote.yml"))
            .unwrap();
    assert!(promote.contains("  apply-prod-level-1:\n"), "{promote}");
    let ok = phasegate(dir.path(), &["workflows", "check", "--strict"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
}

fn order_findings(config: &str, files: &[(String, String)]) -> Vec<String> {
    let cfg = load_config_str(config, "phasegate.yml").unwrap();
    check_workflows(&cfg, files, &[])
        .into_iter()
        .filter(|f| f.code == FindingCode::ProjectOrder)
        .map(|f| f.to_string())
        .collect()
}

#[test]
fn a_level_planned_before_the_level_it_reads_is_applied_breaks_the_order() {
    let mut files = generated(LEVELS_CONFIG);
    assert_eq!(order_findings(LEVELS_CONFIG, &files), Vec::<String>::new());
    let promote = files
        .iter_mut()
        .find(|(f, _)| f == "phasegate-promote.yml")
        .unwrap();
    let edited = promote.1.replacen(
        "  plan-dev-level-1:\n    name: plan ${{ matrix.project }} (dev, level 1)\n    needs: [changes, apply-dev]\n",
        "  plan-dev-level-1:\n    name: plan ${{ matrix.project }} (dev, level 1)\n    needs: [changes]\n",
        1,
    );
    assert_ne!(promote.1, edited);
    promote.1 = edited;
    let found = order_findings(LEVELS_CONFIG, &files);
    assert!(
        found.iter().any(|f| f.contains(
            "PG-WF-013 job `plan-dev-level-1`: runs level 1 of dev without waiting for `apply-dev`"
        )),
        "{found:#?}"
    );
    // Its apply is out of order through it; level 2 still waits for both.
    assert!(
        found.iter().any(|f| f.contains("job `apply-dev-level-1`")),
        "{found:#?}"
    );
    assert!(!found.iter().any(|f| f.contains("level-2")), "{found:#?}");
}

#[test]
fn workflows_that_apply_ordered_projects_at_once_are_caught() {
    // The workflows of the config before `depends_on` was added.
    let flat_config = LEVELS_CONFIG
        .replace("    depends_on: [network]\n", "")
        .replace("    depends_on: [app]\n", "");
    let flat = generated(&flat_config);
    assert_eq!(order_findings(&flat_config, &flat), Vec::<String>::new());
    let found = order_findings(LEVELS_CONFIG, &flat);
    for env in ["dev", "staging", "prod"] {
        assert!(
            found.iter().any(|f| f.contains(&format!(
                "PG-WF-013 job `apply-{env}`: applies every changed project of an environment at once"
            ))),
            "{found:#?}"
        );
    }
    // The reusable promotion workflow cannot order them either.
    let caller = format!(
        "name: promote\non:\n  push:\n    branches: [main]\npermissions: {{}}\njobs:\n  promote:\n    uses: phasegate/phasegate/.github/workflows/phasegate-promote.yml@{}\n    permissions:\n      contents: write\n      pull-requests: write\n      checks: write\n      actions: write\n      deployments: read\n      issues: write\n    with:\n      environments: '[\"dev\", \"staging\", \"prod\"]'\n",
        "a".repeat(40)
    );
    let call = [("promote.yml".to_string(), caller)];
    assert_eq!(order_findings(&flat_config, &call), Vec::<String>::new());
    let found = order_findings(LEVELS_CONFIG, &call);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].contains("PG-WF-013 job `promote`: calls phasegate-promote.yml, which plans and applies every changed project of an environment at once"),
        "{found:#?}"
    );
}
