//! Renders the repository's phasegate workflows from its config: the
//! pull-request plan, the promotion chain, the fallback approval and the
//! drift schedule. Pure: config in, file names and YAML text out.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::templates;
use crate::config::{Config, PromotionMode};

/// Where workflows live, relative to the repository root.
pub const WORKFLOW_DIR: &str = ".github/workflows";

/// The action used when the config names none. Release builds bake in the
/// commit they were built from (`PHASEGATE_ACTION_REF`, set by
/// `.github/workflows/release.yml`); other builds have no commit to pin, so
/// they write an all-zero SHA that `phasegate init` tells the user to replace.
pub const DEFAULT_ACTION: &str = match option_env!("PHASEGATE_ACTION_REF") {
    Some(r) => r,
    None => "phasegate/phasegate@0000000000000000000000000000000000000000",
};

/// True when `action` is the all-zero placeholder of a non-release build.
pub fn is_placeholder_action(action: &str) -> bool {
    action.ends_with("@0000000000000000000000000000000000000000")
}

/// Third-party actions the generated workflows use, pinned by full commit
/// SHA (the tag each SHA was published as is in the comment).
#[derive(Debug, Clone, Serialize)]
pub struct Pins {
    pub checkout: &'static str,
    pub upload_artifact: &'static str,
    pub download_artifact: &'static str,
}

/// The pins in use. SHAs from the actions' release tags (github.com/actions/*).
pub const PINS: Pins = Pins {
    checkout: "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2",
    upload_artifact: "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2",
    download_artifact:
        "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093 # v4.3.0",
};

/// What the config alone cannot say.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// The config file, relative to the repository root.
    pub config_path: PathBuf,
}

/// One workflow file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedWorkflow {
    /// File name inside `.github/workflows/`.
    pub file: &'static str,
    pub text: String,
}

/// The generated workflow files, by name.
pub const PULL_REQUEST_FILE: &str = "phasegate-pr.yml";
pub const PROMOTE_FILE: &str = "phasegate-promote.yml";
pub const APPROVE_FILE: &str = "phasegate-approve.yml";
pub const DRIFT_FILE: &str = "phasegate-drift.yml";

/// The reusable workflows (`on: workflow_call`) committed under
/// `.github/workflows/` of phasegate's own repository, by name.
pub const REUSABLE_PLAN_FILE: &str = "phasegate-plan.yml";
pub const REUSABLE_PROMOTE_FILE: &str = "phasegate-promote.yml";
pub const REUSABLE_DRIFT_FILE: &str = "phasegate-drift.yml";

/// How many environments the reusable promotion chain holds. GitHub cannot
/// make jobs from an input, so the chain has fixed slots; a caller with more
/// environments generates its workflows with `phasegate init` instead.
pub const REUSABLE_SLOTS: usize = 4;

#[derive(Debug, Clone, Serialize)]
struct EnvCtx {
    name: String,
    /// The environment's name made safe for job IDs and group names.
    id: String,
    github_environment: String,
    /// 1-based phase number when no change plan reorders phases.
    phase: usize,
    prev: Option<String>,
    /// What job names show: the ID, or the name expression of a reusable slot.
    label: String,
    /// What concurrency groups are keyed by: the ID, or a reusable slot's
    /// environment name (so two callers agree on the group of one environment).
    group_key: String,
    /// Appended to the plan job's `if:`: a reusable slot runs only when used.
    present: String,
    /// A reusable slot's "unused" test, for the final job's `if:`.
    absent: String,
}

#[derive(Debug, Clone, Serialize)]
struct Ctx {
    /// Rendering a reusable workflow (`on: workflow_call`, values from `inputs`).
    reusable: bool,
    /// The file being rendered.
    file: &'static str,
    version: String,
    action: String,
    config: String,
    out_dir: String,
    default_branch: String,
    mode: &'static str,
    drift_schedule: String,
    envs: Vec<EnvCtx>,
    env_names: Vec<String>,
    first: EnvCtx,
    last: EnvCtx,
    pins: Pins,
}

/// The action reference the workflows use for this config.
pub fn action_ref(config: &Config) -> &str {
    config.workflows.action.as_deref().unwrap_or(DEFAULT_ACTION)
}

/// Makes an environment name usable in a job ID: lowercase ASCII letters,
/// digits, `-` and `_`; anything else becomes `-`.
pub fn job_id(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '_' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect()
}

/// Renders every workflow the config calls for. An empty environment list
/// yields nothing (validation refuses such configs before we get here).
pub fn generate(config: &Config, opts: &GenerateOptions) -> Vec<GeneratedWorkflow> {
    let Some(ctx) = context(config, opts) else {
        return Vec::new();
    };
    [
        (PULL_REQUEST_FILE, templates::PULL_REQUEST),
        (PROMOTE_FILE, templates::PROMOTE),
        (APPROVE_FILE, templates::APPROVE),
        (DRIFT_FILE, templates::DRIFT),
    ]
    .into_iter()
    .map(|(file, id)| {
        render(
            id,
            &Ctx {
                file,
                ..ctx.clone()
            },
        )
    })
    .collect()
}

/// The reusable workflows, from the same templates as [`generate`]: the
/// pull-request plan (input `environment`), the promotion chain over up to
/// [`REUSABLE_SLOTS`] environments (input `environments`, a JSON list) and
/// drift. Config, version and output directory come from inputs too.
pub fn generate_reusable() -> Vec<GeneratedWorkflow> {
    let from_input = |i: usize| format!("${{{{ fromJSON(inputs.environments)[{i}] }}}}");
    let slots: Vec<EnvCtx> = (0..REUSABLE_SLOTS)
        .map(|i| EnvCtx {
            name: from_input(i),
            id: format!("env{}", i + 1),
            github_environment: format!(
                "${{{{ fromJSON(inputs.github_environments || inputs.environments)[{i}] }}}}"
            ),
            phase: i + 1,
            prev: i.checked_sub(1).map(|p| format!("env{}", p + 1)),
            label: from_input(i),
            group_key: from_input(i),
            present: format!(" && fromJSON(inputs.environments)[{i}] != null"),
            absent: format!("fromJSON(inputs.environments)[{i}] == null"),
        })
        .collect();
    let pr_env = EnvCtx {
        name: "${{ inputs.environment }}".into(),
        id: "${{ inputs.environment }}".into(),
        github_environment: "${{ inputs.environment }}".into(),
        phase: 1,
        prev: None,
        label: "${{ inputs.environment }}".into(),
        group_key: "${{ inputs.environment }}".into(),
        present: String::new(),
        absent: String::new(),
    };
    let base = Ctx {
        reusable: true,
        file: "",
        version: "${{ inputs.version }}".into(),
        action: DEFAULT_ACTION.into(),
        config: "${{ inputs.config }}".into(),
        out_dir: "${{ inputs.output_dir }}".into(),
        default_branch: String::new(),
        mode: "reusable",
        drift_schedule: String::new(),
        env_names: Vec::new(),
        first: slots[0].clone(),
        last: slots[REUSABLE_SLOTS - 1].clone(),
        envs: slots,
        pins: PINS,
    };
    let pr = Ctx {
        file: REUSABLE_PLAN_FILE,
        first: pr_env.clone(),
        last: pr_env.clone(),
        envs: vec![pr_env],
        ..base.clone()
    };
    vec![
        render(templates::PULL_REQUEST, &pr),
        render(
            templates::PROMOTE,
            &Ctx {
                file: REUSABLE_PROMOTE_FILE,
                ..base.clone()
            },
        ),
        render(
            templates::DRIFT,
            &Ctx {
                file: REUSABLE_DRIFT_FILE,
                ..base
            },
        ),
    ]
}

fn render(id: &str, ctx: &Ctx) -> GeneratedWorkflow {
    let env = templates::environment();
    let text = env
        .get_template(id)
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(ctx))))
        .unwrap_or_else(|e| panic!("embedded workflow template {id} failed: {e:#}"));
    GeneratedWorkflow {
        file: ctx.file,
        text,
    }
}

fn context(config: &Config, opts: &GenerateOptions) -> Option<Ctx> {
    let envs: Vec<EnvCtx> = config
        .environments
        .iter()
        .enumerate()
        .map(|(i, e)| EnvCtx {
            name: e.name.clone(),
            id: job_id(&e.name),
            github_environment: e.github_environment().to_string(),
            phase: i + 1,
            prev: i
                .checked_sub(1)
                .map(|p| job_id(&config.environments[p].name)),
            label: job_id(&e.name),
            group_key: job_id(&e.name),
            present: String::new(),
            absent: String::new(),
        })
        .collect();
    let first = envs.first()?.clone();
    let last = envs.last()?.clone();
    let config_dir = opts.config_path.parent().unwrap_or(Path::new(""));
    let out = config
        .output_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(".phasegate"));
    let settings = &config.workflows;
    Some(Ctx {
        reusable: false,
        file: "",
        version: settings
            .version
            .clone()
            .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string()),
        action: action_ref(config).to_string(),
        config: slash_path(&opts.config_path),
        out_dir: slash_path(&normalize(&config_dir.join(out))),
        default_branch: settings
            .default_branch
            .clone()
            .unwrap_or_else(|| "main".into()),
        mode: match settings.mode {
            PromotionMode::ApplyAfterMerge => "apply-after-merge",
            PromotionMode::ApplyBeforeMerge => "apply-before-merge",
        },
        drift_schedule: settings
            .drift_schedule
            .clone()
            .unwrap_or_else(|| "17 3 * * *".into()),
        env_names: envs.iter().map(|e| e.name.clone()).collect(),
        envs,
        first,
        last,
        pins: PINS,
    })
}

/// Lexical normalization (`a/../b` → `b`) so artifact paths read cleanly;
/// a path climbing out of the repository keeps its leading `..`.
fn normalize(p: &Path) -> PathBuf {
    let out = crate::scan::normalize(p);
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

fn slash_path(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_config_str;

    fn config(extra: &str) -> Config {
        load_config_str(
            &format!("version: 1\nenvironments:\n  - name: dev\n  - name: staging\n  - name: Prod EU\n    github_environment: production\nprojects:\n  - name: app\n    dir: app\n{extra}"),
            "phasegate.yml",
        )
        .unwrap()
    }

    fn promote(cfg: &Config) -> String {
        let opts = GenerateOptions {
            config_path: "infra/phasegate.yml".into(),
        };
        generate(cfg, &opts)
            .into_iter()
            .find(|w| w.file == PROMOTE_FILE)
            .unwrap()
            .text
    }

    #[test]
    fn each_environment_plan_waits_for_the_previous_review() {
        let text = promote(&config(""));
        assert!(text.contains("  plan-dev:\n"), "{text}");
        assert!(text.contains("needs: [changes, review-dev]"), "{text}");
        assert!(text.contains("  apply-prod-eu:\n"), "{text}");
        assert!(text.contains("needs: [changes, review-staging]"), "{text}");
        assert!(text.contains("environment: \"production\""), "{text}");
    }

    #[test]
    fn apply_before_merge_runs_on_the_pull_request() {
        let text = promote(&config("workflows:\n  mode: apply-before-merge\n"));
        assert!(text.contains("on:\n  pull_request:"), "{text}");
        let after = promote(&config(""));
        assert!(after.contains("on:\n  push:"), "{after}");
    }

    #[test]
    fn output_dir_is_resolved_against_the_config_directory() {
        let text = promote(&config("output_dir: ../.phasegate\n"));
        assert!(text.contains("path: \".phasegate\""), "{text}");
    }

    #[test]
    fn job_ids_are_made_safe() {
        assert_eq!(job_id("Prod EU/1"), "prod-eu-1");
    }
}
