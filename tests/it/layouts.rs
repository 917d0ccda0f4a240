//! `phasegate init` on the repository layouts teams use: a root module per
//! environment directory, one root module with per-environment tfvars and
//! backend files, workspaces, and Terragrunt units. Each is mapped to
//! projects and the environments they are deployed to, as `validate` shows
//! them, and planned through phasegate with real Terraform 1.0.3 against
//! testcloud; where state matters, each environment is shown to have its own.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{json, Value};

use crate::testbed::{describe, Testbed};
use crate::workflows::ACTION;

const PHASEGATE: &str = env!("CARGO_BIN_EXE_phasegate");

/// A layout fixture copied into a testbed, where phasegate and Terraform run.
struct Repo {
    tb: Testbed,
    /// Directories put first on PATH (a `terragrunt` shim).
    extra_path: Vec<PathBuf>,
}

impl Repo {
    fn new(fixture: &str) -> Repo {
        Repo {
            tb: Testbed::new(format!("tests/fixtures/layouts/{fixture}")),
            extra_path: Vec::new(),
        }
    }

    fn phasegate(&self, args: &[&str]) -> Output {
        let (key, path) = self.tb.path_env();
        let mut paths = self.extra_path.clone();
        paths.extend(std::env::split_paths(&path));
        self.tb
            .command(PHASEGATE)
            .env(key, std::env::join_paths(paths).unwrap())
            .env("NO_COLOR", "1")
            .env("PHASEGATE_STORE_DIR", self.tb.root().join("store"))
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_TOKEN")
            .env_remove("GITHUB_OUTPUT")
            .env_remove("GITHUB_EVENT_PATH")
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run phasegate")
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.phasegate(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}\n{}", describe(&out));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e})\n{}", describe(&out)))
    }

    /// `init` (pinned action, JSON), then `validate --format json`.
    fn init_and_validate(&self) -> (Value, Value) {
        let init = self.json(&["init", "--action", ACTION, "--format", "json"]);
        let validate = self.json(&["validate", "--format", "json"]);
        (init, validate)
    }

    /// `plan --env <env>`: the result, with phasegate's files under `out-<env>`.
    fn plan(&self, env: &str) -> Value {
        let out = self.out(env);
        self.json(&[
            "plan",
            "--env",
            env,
            "--out",
            out.to_str().unwrap(),
            "--format",
            "json",
        ])
    }

    fn out(&self, env: &str) -> PathBuf {
        self.tb.root().join(format!("out-{env}"))
    }

    /// Applies the plan phasegate saved for `project` in `env`, with Terraform
    /// itself in the project's directory (the phase runner is not the subject).
    fn apply_saved_plan(&self, dir: &str, project: &str, env: &str) {
        let plan = self.out(env).join(format!("plans/{project}-{env}.tfplan"));
        let out = self
            .tb
            .terraform_command_in(dir, &["apply", "-input=false", plan.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
    }

    fn file(&self, path: &str) -> PathBuf {
        self.tb.workdir().join(path)
    }
}

/// Each phase's environment and projects, as `validate --format json` shows them.
fn phases(validate: &Value) -> Vec<(String, Vec<String>)> {
    validate["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let projects = p["projects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap().to_string())
                .collect();
            (p["environment"].as_str().unwrap().to_string(), projects)
        })
        .collect()
}

fn owned(list: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    list.iter()
        .map(|(e, ps)| (e.to_string(), ps.iter().map(|p| p.to_string()).collect()))
        .collect()
}

/// Resources each planned project would add, by project name.
fn adds(plan: &Value) -> Vec<(String, u64)> {
    plan["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["counts"]["add"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_root_module_per_environment_directory_is_a_project_of_that_environment_only() {
    // infra/dev and infra/prod hold only resources: no backend, no providers.
    let repo = Repo::new("env-dirs");
    let (init, validate) = repo.init_and_validate();
    assert_eq!(
        init["projects"],
        json!([
            {"name": "dev", "dir": "infra/dev", "environments": ["dev"]},
            {"name": "prod", "dir": "infra/prod", "environments": ["prod"]},
        ])
    );
    assert_eq!(
        phases(&validate),
        owned(&[("dev", &["dev"]), ("prod", &["prod"])])
    );
    let text = repo.phasegate(&["validate"]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("  phase 1 dev -> dev [dev]\n"), "{stdout}");
    assert!(stdout.contains("  phase 2 prod -> prod [prod]"), "{stdout}");

    assert_eq!(adds(&repo.plan("dev")), [("dev".to_string(), 1)]);
    assert_eq!(adds(&repo.plan("prod")), [("prod".to_string(), 1)]);
}

#[test]
fn environment_component_directories_map_each_component_to_its_environment() {
    let repo = Repo::new("component-dirs");
    let (init, validate) = repo.init_and_validate();
    let report = init["report"].as_str().unwrap();
    assert!(
        report.contains("module modules/bucket (used by envs/dev/network, envs/prod/network)"),
        "{report}"
    );
    assert_eq!(
        validate["project_environments"],
        json!({"dns": ["prod"], "envs-dev-network": ["dev"], "envs-prod-network": ["prod"]})
    );
    assert_eq!(
        phases(&validate),
        owned(&[
            ("dev", &["envs-dev-network"]),
            ("prod", &["dns", "envs-prod-network"]),
        ])
    );
    assert_eq!(
        adds(&repo.plan("prod")),
        [("dns".to_string(), 1), ("envs-prod-network".to_string(), 1)]
    );
}

#[test]
fn an_environments_directory_names_one_environment_per_root_module() {
    let repo = Repo::new("environments-dir");
    let (init, validate) = repo.init_and_validate();
    assert_eq!(init["environments"][0]["source"], "directory names");
    assert_eq!(
        phases(&validate),
        owned(&[("dev", &["dev"]), ("staging", &["staging"])])
    );
    assert_eq!(adds(&repo.plan("staging")), [("staging".to_string(), 1)]);
}

#[test]
fn backend_files_give_one_root_module_a_state_per_environment() {
    let repo = Repo::new("backend-files");
    let (init, validate) = repo.init_and_validate();
    let config = std::fs::read_to_string(repo.file("phasegate.yml")).unwrap();
    for env in ["dev", "staging", "prod"] {
        assert!(
            config.contains(&format!(
                "        var_files: [\"infra/{env}.tfvars\"]\n        backend_config: [\"backend/{env}.hcl\"]\n"
            )),
            "{config}"
        );
    }
    assert_eq!(
        init["environments"][0]["source"],
        "tfvars files and backend config files"
    );
    assert_eq!(
        phases(&validate),
        owned(&[
            ("dev", &["infra"]),
            ("staging", &["infra"]),
            ("prod", &["infra"]),
        ])
    );

    assert_eq!(adds(&repo.plan("dev")), [("infra".to_string(), 1)]);
    repo.apply_saved_plan("infra", "infra", "dev");
    assert!(repo.file("infra/state/dev.tfstate").is_file());
    // Staging is planned in the same directory, right after dev's apply: its
    // own backend file gives it its own, empty state.
    assert_eq!(adds(&repo.plan("staging")), [("infra".to_string(), 1)]);
    repo.apply_saved_plan("infra", "infra", "staging");
    let state = |env: &str| -> Value {
        let text = std::fs::read_to_string(repo.file(&format!("infra/state/{env}.tfstate")))
            .unwrap_or_else(|e| panic!("{env}'s state: {e}"));
        serde_json::from_str(&text).unwrap()
    };
    let bucket =
        |env: &str| state(env)["resources"][0]["instances"][0]["attributes"]["bucket"].clone();
    assert_eq!(bucket("dev"), "layouts-dev-assets");
    assert_eq!(bucket("staging"), "layouts-staging-assets");
    assert!(!repo.file("infra/terraform.tfstate").exists());
    // And dev, planned again, sees its own applied bucket: nothing to add.
    assert_eq!(adds(&repo.plan("dev")), [("infra".to_string(), 0)]);
}

#[test]
fn workspaces_give_one_root_module_a_state_per_environment() {
    let repo = Repo::new("workspaces");
    for ws in ["dev", "prod"] {
        let out = repo
            .tb
            .terraform_command_in("app", &["workspace", "new", ws])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
    }
    let (init, validate) = repo.init_and_validate();
    assert_eq!(init["environments"][0]["source"], "workspaces");
    let config = std::fs::read_to_string(repo.file("phasegate.yml")).unwrap();
    assert!(
        config.contains("      \"app\":\n        workspace: \"prod\"\n"),
        "{config}"
    );
    assert_eq!(
        phases(&validate),
        owned(&[("dev", &["app"]), ("prod", &["app"])])
    );

    assert_eq!(adds(&repo.plan("dev")), [("app".to_string(), 1)]);
    repo.apply_saved_plan("app", "app", "dev");
    assert!(repo
        .file("app/terraform.tfstate.d/dev/terraform.tfstate")
        .is_file());
    assert_eq!(adds(&repo.plan("prod")), [("app".to_string(), 1)]);
    assert_eq!(
        repo.tb.resource_ids("aws_s3_bucket"),
        ["layouts-dev-assets"],
        "only dev was applied"
    );
}

/// A `terragrunt` for one unit, minus Terragrunt's own configuration
/// handling: it copies the unit's local `terraform { source }` module into
/// the unit's `.terragrunt-cache` and runs the testbed's Terraform there with
/// the same arguments, recording the unit directory and the arguments.
fn terragrunt_shim(tb: &Testbed, log: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = tb.root().join("shim-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let shim = bin.join("terragrunt");
    std::fs::write(
        &shim,
        format!(
            r#"#!/bin/sh
set -e
printf '%s|%s\n' "$PWD" "$*" >> '{log}'
src=$(sed -n 's/^ *source *= *"\(.*\)".*/\1/p' terragrunt.hcl | sed 's#//#/#')
mkdir -p .terragrunt-cache
cp -R "$src"/. .terragrunt-cache/
cd .terragrunt-cache
exec '{terraform}' "$@"
"#,
            log = log.display(),
            terraform = tb.terraform_path().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn terragrunt_units_are_projects_each_in_the_environment_of_its_live_directory() {
    let mut repo = Repo::new("terragrunt");
    let (init, validate) = repo.init_and_validate();
    assert_eq!(init["engine"], "terragrunt");
    assert_eq!(
        validate["project_environments"],
        json!({
            "live-dev-us-east-1-app": ["dev"],
            "live-prod-eu-west-1-app": ["prod"],
            "live-prod-us-east-1-app": ["prod"],
        })
    );
    let report = init["report"].as_str().unwrap();
    assert!(
        report.contains("project live-dev-us-east-1-app in live/dev/us-east-1/app (a Terragrunt unit), deployed to dev"),
        "{report}"
    );
    assert!(
        report.contains("module modules/app (used by live/dev/us-east-1/app, live/prod/eu-west-1/app, live/prod/us-east-1/app)"),
        "the module is not a project: {report}"
    );

    let log = repo.tb.root().join("terragrunt.log");
    repo.extra_path.push(terragrunt_shim(&repo.tb, &log));
    let planned = repo.plan("prod");
    assert_eq!(
        adds(&planned),
        [
            ("live-prod-eu-west-1-app".to_string(), 1),
            ("live-prod-us-east-1-app".to_string(), 1)
        ]
    );
    let calls = std::fs::read_to_string(&log).unwrap();
    let units: std::collections::BTreeSet<&str> =
        calls.lines().filter_map(|l| l.split('|').next()).collect();
    let unit = |d: &str| repo.file(d).display().to_string();
    assert_eq!(
        units,
        [
            unit("live/prod/eu-west-1/app"),
            unit("live/prod/us-east-1/app")
        ]
        .iter()
        .map(String::as_str)
        .collect(),
        "Terragrunt ran in the prod units only:\n{calls}"
    );
    assert!(
        calls
            .lines()
            .any(|l| l.contains("|plan ") && l.contains("-out=")),
        "{calls}"
    );
}
