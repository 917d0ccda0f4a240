//! Renders the repository's phasegate workflows from its config: the
//! pull-request plan, the promotion chain, the fallback approval and the
//! drift schedule. Pure: config in, file names and YAML text out.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{permissions, templates};
use crate::config::{level_count, Config, PromotionMode};

/// Where workflows live, relative to the repository root.
pub const WORKFLOW_DIR: &str = ".github/workflows";

/// The action release builds write into the workflows they generate: the
/// repository and commit they were built from (`PHASEGATE_ACTION_REF`, set by
/// `.github/workflows/release.yml`). A local build has none, so `init` needs
/// `--action` and the config needs `workflows.action`.
pub const RELEASED_ACTION: Option<&str> = option_env!("PHASEGATE_ACTION_REF");

/// The phasegate action the reusable workflows in phasegate's own repository
/// run: a workflow file cannot name the commit it is part of, so they pin a
/// released commit of this repository, bumped when a release changes
/// `action.yml`.
pub const REUSABLE_ACTION: &str = "phasegate/phasegate@241f9446fe3bd6a04662034aabd6e5e5cac74724";

/// Why `action` cannot be installed from as written, or None when it is
/// `owner/repo@<40-hex commit>`. The message says how to fix it.
pub fn pin_problem(action: &str) -> Option<String> {
    let fix = "pin the phasegate action by full commit SHA: `phasegate init --force --action owner/phasegate@<40-hex commit>` (or set `workflows.action` in phasegate.yml)";
    let Some((_, reference)) = action.split_once('@') else {
        return Some(format!("`{action}`, which names no commit; {fix}"));
    };
    if reference.len() == 40 && reference.bytes().all(|b| b == b'0') {
        return Some(format!(
            "`{action}`, the all-zero placeholder nothing can install from; {fix}"
        ));
    }
    if !(reference.len() == 40 && reference.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Some(format!(
            "`{action}`, a mutable ref (a tag or branch): whoever moves it changes what runs with this job's token; {fix}"
        ));
    }
    None
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
    /// The phasegate action the steps use (`owner/repo@<sha>`).
    pub action: String,
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
pub const CONTINUE_FILE: &str = "phasegate-continue.yml";

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
    /// The IDs of every earlier environment, in promotion order.
    prevs: Vec<String>,
    /// What job names show: the ID, or the name expression of a reusable slot.
    label: String,
    /// What concurrency groups and artifacts are keyed by: the ID, or a
    /// reusable slot's environment name (so two callers agree on the group
    /// of one environment).
    group_key: String,
    /// Expression: this environment's matrix of changed projects.
    matrix: String,
    /// Expression: this environment has changed projects.
    nonempty: String,
    /// Expression: this environment's review passed, or it had nothing to do.
    ok: String,
    /// Expression: the plan job of this environment may start.
    enter: String,
    /// The promotion chain's plan and apply jobs in this environment, one
    /// pair per dependency level (one without dependencies).
    levels: Vec<LevelCtx>,
    /// The jobs the verify-and-review job needs (after `changes`).
    review_needs: Vec<String>,
    /// Expression: the verify-and-review job may start.
    review_if: String,
    /// Expressions: each earlier environment was reviewed or had nothing to do.
    #[serde(skip)]
    prev_ok: Vec<String>,
}

/// One dependency level's plan and apply jobs inside an environment.
#[derive(Debug, Clone, Serialize)]
struct LevelCtx {
    /// The dependency level (0: projects without upstreams).
    level: usize,
    /// What the level's job IDs end with: nothing for level 0 (so a config
    /// without dependencies keeps today's jobs), else `-level-<n>`.
    suffix: String,
    /// Expression: this level's matrix of changed projects.
    matrix: String,
    /// The jobs the plan job needs (after `changes`).
    plan_needs: Vec<String>,
    /// Expression: the plan job may start.
    enter: String,
    /// Expression: this level was applied, or had nothing to do.
    ok: String,
}

impl EnvCtx {
    /// `key` is the expression naming the environment in `by_env`.
    fn new(name: String, id: String, key: &str, prevs: &[EnvCtx]) -> EnvCtx {
        let matrix = format!("fromJSON(needs.changes.outputs.by_env)[{key}]");
        let nonempty = format!("{matrix}.include[0] != null");
        let ok = format!(
            "(needs.review-{id}.result == 'success' || (needs.review-{id}.result == 'skipped' && {matrix}.include[0] == null))"
        );
        let enter = std::iter::once(format!(
            "!cancelled() && needs.changes.result == 'success' && {nonempty}"
        ))
        .chain(prevs.iter().map(|p| p.ok.clone()))
        .collect::<Vec<_>>()
        .join(" && ");
        let prev_reviews: Vec<String> = prevs.iter().map(|p| format!("review-{}", p.id)).collect();
        let level = LevelCtx {
            level: 0,
            suffix: String::new(),
            matrix: matrix.clone(),
            plan_needs: prev_reviews,
            enter: enter.clone(),
            ok: String::new(),
        };
        EnvCtx {
            prev_ok: prevs.iter().map(|p| p.ok.clone()).collect(),
            levels: vec![level],
            review_needs: vec![format!("apply-{id}")],
            review_if: format!("!cancelled() && needs.apply-{id}.result == 'success'"),
            label: id.clone(),
            group_key: id.clone(),
            github_environment: name.clone(),
            phase: prevs.len() + 1,
            prevs: prevs.iter().map(|p| p.id.clone()).collect(),
            name,
            id,
            matrix,
            nonempty,
            ok,
            enter,
        }
    }
}

impl EnvCtx {
    /// Splits the environment's plan and apply into `count` dependency
    /// levels (nothing changes for one): level `n` plans once every earlier
    /// level of this environment was applied or had nothing to do, and the
    /// verify-and-review job waits for every level. `key` as in [`EnvCtx::new`].
    fn with_levels(mut self, key: &str, count: usize) -> EnvCtx {
        if count < 2 {
            return self;
        }
        let id = &self.id;
        let prev_reviews = self.levels[0].plan_needs.clone();
        let mut levels: Vec<LevelCtx> = Vec::with_capacity(count);
        for level in 0..count {
            let suffix = if level == 0 {
                String::new()
            } else {
                format!("-level-{level}")
            };
            let matrix = format!("fromJSON(needs.changes.outputs.by_level)[{key}][{level}]");
            let apply = format!("apply-{id}{suffix}");
            let ok = format!(
                "(needs.{apply}.result == 'success' || (needs.{apply}.result == 'skipped' && {matrix}.include[0] == null))"
            );
            // The environment's own entry condition, with this level's
            // matrix in place of the environment's, and every earlier level done.
            let enter = std::iter::once(format!(
                "!cancelled() && needs.changes.result == 'success' && {matrix}.include[0] != null"
            ))
            .chain(self.prev_ok.iter().cloned())
            .chain(levels.iter().map(|l| l.ok.clone()))
            .collect::<Vec<_>>()
            .join(" && ");
            let plan_needs = prev_reviews
                .iter()
                .cloned()
                .chain(levels.iter().map(|l| format!("apply-{id}{}", l.suffix)))
                .collect();
            levels.push(LevelCtx {
                level,
                suffix,
                matrix,
                plan_needs,
                enter,
                ok,
            });
        }
        self.review_needs = levels
            .iter()
            .map(|l| format!("apply-{id}{}", l.suffix))
            .collect();
        self.review_if = std::iter::once(format!(
            "!cancelled() && needs.changes.result == 'success' && {}",
            self.nonempty
        ))
        .chain(levels.iter().map(|l| l.ok.clone()))
        .collect::<Vec<_>>()
        .join(" && ");
        self.levels = levels;
        self
    }
}

/// A string literal in a GitHub expression: single quotes, doubled inside.
fn expression_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The `permissions:` blocks of each generated job, from the one table.
#[derive(Debug, Clone, Serialize)]
struct Perms {
    changes: String,
    plan: String,
    apply: String,
    review: String,
    approve: String,
    drift: String,
    steps: String,
}

impl Perms {
    fn from_table() -> Perms {
        let block = |commands: &[&str]| permissions::yaml_block(commands.iter().copied(), 6);
        Perms {
            changes: block(&["matrix"]),
            plan: block(&["plan"]),
            apply: block(&["apply", "steps"]),
            review: block(&["verify", "review"]),
            approve: block(&["approve"]),
            drift: block(&["drift"]),
            steps: block(&["steps", "verify", "review"]),
        }
    }
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
    /// The config's dependency levels the promotion chain runs in order (1:
    /// no dependencies, or a workflow that plans every project at once).
    levels: usize,
    first: EnvCtx,
    last: EnvCtx,
    pins: Pins,
    perms: Perms,
}

/// The action reference the workflows use for this config: its
/// `workflows.action`, else the release this binary was built from.
pub fn action_ref(config: &Config) -> Option<&str> {
    config.workflows.action.as_deref().or(RELEASED_ACTION)
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
        (CONTINUE_FILE, templates::CONTINUE),
    ]
    .into_iter()
    .map(|(file, id)| {
        render(
            id,
            &Ctx {
                file,
                // Only the promotion chain reads the matrix by level.
                levels: if file == PROMOTE_FILE { ctx.levels } else { 1 },
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
    let mut slots: Vec<EnvCtx> = Vec::new();
    for i in 0..REUSABLE_SLOTS {
        let mut slot = EnvCtx::new(
            from_input(i),
            format!("env{}", i + 1),
            &format!("fromJSON(inputs.environments)[{i}]"),
            &slots,
        );
        slot.github_environment =
            format!("${{{{ fromJSON(inputs.github_environments || inputs.environments)[{i}] }}}}");
        slot.label = from_input(i);
        slot.group_key = from_input(i);
        slots.push(slot);
    }
    let mut pr_env = EnvCtx::new(
        "${{ inputs.environment }}".into(),
        "env".into(),
        "inputs.environment",
        &[],
    );
    pr_env.label = "${{ inputs.environment }}".into();
    pr_env.group_key = "${{ inputs.environment }}".into();
    let base = Ctx {
        reusable: true,
        file: "",
        version: "${{ inputs.version }}".into(),
        action: REUSABLE_ACTION.into(),
        config: "${{ inputs.config }}".into(),
        out_dir: "${{ inputs.output_dir }}".into(),
        default_branch: String::new(),
        mode: "reusable",
        drift_schedule: String::new(),
        env_names: Vec::new(),
        levels: 1,
        first: slots[0].clone(),
        last: slots[REUSABLE_SLOTS - 1].clone(),
        envs: slots,
        pins: PINS,
        perms: Perms::from_table(),
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
    let levels = level_count(&config.projects);
    let mut envs: Vec<EnvCtx> = Vec::new();
    for e in &config.environments {
        let key = expression_literal(&e.name);
        let mut env =
            EnvCtx::new(e.name.clone(), job_id(&e.name), &key, &envs).with_levels(&key, levels);
        env.github_environment = e.github_environment().to_string();
        envs.push(env);
    }
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
        action: opts.action.clone(),
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
        levels,
        envs,
        first,
        last,
        pins: PINS,
        perms: Perms::from_table(),
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
            action: "phasegate/phasegate@241f9446fe3bd6a04662034aabd6e5e5cac74724".into(),
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
        assert!(
            text.contains("needs: [changes, review-dev, review-staging]"),
            "{text}"
        );
        // A skipped review lets the next environment in only when it had nothing to do.
        assert!(
            text.contains("(needs.review-dev.result == 'success' || (needs.review-dev.result == 'skipped' && fromJSON(needs.changes.outputs.by_env)['dev'].include[0] == null))"),
            "{text}"
        );
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
    fn an_environment_name_is_a_quoted_expression_literal() {
        assert_eq!(expression_literal("it's"), "'it''s'");
    }

    #[test]
    fn pins_are_full_commits_and_never_the_placeholder() {
        assert_eq!(pin_problem(REUSABLE_ACTION), None);
        assert!(pin_problem("o/phasegate@v1")
            .unwrap()
            .contains("mutable ref"));
        assert!(pin_problem(&format!("o/phasegate@{}", "0".repeat(40)))
            .unwrap()
            .contains("all-zero placeholder"));
        assert!(pin_problem("o/phasegate")
            .unwrap()
            .contains("names no commit"));
    }

    #[test]
    fn job_ids_are_made_safe() {
        assert_eq!(job_id("Prod EU/1"), "prod-eu-1");
    }
}
