//! `workflows check`: reads the workflow files on disk and finds every way
//! they stopped enforcing the promotion chain (an apply without
//! `environment:`, environments out of order, no `concurrency:`, dangerous
//! triggers, broad permissions, a phasegate step on a mutable ref, a
//! dependency level run before the one it reads), plus drift from what the
//! config would generate. Pure over (name, text) pairs.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::permissions;
use crate::config::Config;

/// Stable finding codes; documented in docs/workflows.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FindingCode {
    /// An apply job that does not run under `environment:`.
    ApplyWithoutEnvironment,
    /// An environment's apply does not come after the previous environment's.
    OutOfOrder,
    /// A job running phasegate has no `concurrency:` group, or cancels applies in progress.
    NoConcurrency,
    /// `pull_request_target` checks out the PR head.
    PrTargetCheckout,
    /// Secrets reach a plan job that fork PRs can trigger.
    SecretsToForkPlan,
    /// `permissions: write-all`.
    WriteAll,
    /// A phasegate step on a tag or branch instead of a full commit SHA.
    MutableRef,
    /// A workflow file no longer matches what the config generates.
    Drift,
    /// A workflow file that is not valid YAML.
    Unreadable,
    /// No job applies some configured environment.
    MissingEnvironment,
    /// A `branches:` filter of a phasegate workflow that the default branch
    /// never matches (a quoted name kept as text, another branch).
    BranchFilter,
    /// A job whose declared `permissions:` lack what its phasegate commands need.
    MissingPermission,
    /// With projects ordered (`depends_on`), a job plans or applies a
    /// dependency level before the earlier levels of its environment are
    /// applied, or applies all of an environment's projects at once.
    ProjectOrder,
}

impl FindingCode {
    pub fn id(self) -> &'static str {
        match self {
            FindingCode::ApplyWithoutEnvironment => "PG-WF-001",
            FindingCode::OutOfOrder => "PG-WF-002",
            FindingCode::NoConcurrency => "PG-WF-003",
            FindingCode::PrTargetCheckout => "PG-WF-004",
            FindingCode::SecretsToForkPlan => "PG-WF-005",
            FindingCode::WriteAll => "PG-WF-006",
            FindingCode::MutableRef => "PG-WF-007",
            FindingCode::Drift => "PG-WF-008",
            FindingCode::Unreadable => "PG-WF-009",
            FindingCode::MissingEnvironment => "PG-WF-010",
            FindingCode::BranchFilter => "PG-WF-011",
            FindingCode::MissingPermission => "PG-WF-012",
            FindingCode::ProjectOrder => "PG-WF-013",
        }
    }

    /// Drift is reported but does not by itself mean the chain is broken.
    pub fn breaks_chain(self) -> bool {
        self != FindingCode::Drift
    }
}

/// One problem, located at a workflow file and job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub code: FindingCode,
    pub file: String,
    /// 1-based line of the job (or of the file's first line).
    pub line: usize,
    pub job: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {} ", self.file, self.line, self.code.id())?;
        if let Some(job) = &self.job {
            write!(f, "job `{job}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A phasegate invocation found in a job.
#[derive(Debug, Clone)]
struct PgStep {
    command: String,
    env: Option<String>,
    uses: Option<String>,
}

#[derive(Debug)]
struct Job {
    id: String,
    line: usize,
    value: Value,
    steps: Vec<PgStep>,
    /// The job calls one of phasegate's reusable workflows.
    call: Option<ReusableCall>,
}

/// A job-level `uses: <owner>/phasegate/.github/workflows/<file>@<ref>`.
/// The reusable workflow holds the `environment:`, `needs:` and
/// `concurrency:` chain; the caller chooses the environments and the ref.
#[derive(Debug, Clone)]
struct ReusableCall {
    /// `phasegate-plan.yml`, `phasegate-promote.yml` or `phasegate-drift.yml`.
    file: &'static str,
    uses: String,
    /// The `environments` input (promotion and drift), in the order given.
    environments: Vec<String>,
}

/// Where an environment is applied: file, job, and for a reusable promotion
/// call the environment's position in its `environments` input.
type ApplySite = (String, String, Option<usize>);

/// Checks the workflow files (`(file name, text)`) against the config.
/// `expected` holds what the config would generate, compared for drift.
pub fn check_workflows(
    config: &Config,
    files: &[(String, String)],
    expected: &[(String, String)],
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let action_repo = action_repo(
        crate::workflows::generate::action_ref(config)
            .unwrap_or(crate::workflows::generate::REUSABLE_ACTION),
    );
    // env name → where it is applied, across all files.
    let mut applies: BTreeMap<String, ApplySite> = BTreeMap::new();
    // Generated files whose job a reusable-workflow call does instead.
    let mut covered: BTreeSet<&'static str> = BTreeSet::new();
    let mut needs_by_file: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let levels = crate::config::level_count(&config.projects);
    for (file, text) in files {
        let doc: Value = match serde_saphyr::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                findings.push(Finding {
                    code: FindingCode::Unreadable,
                    file: file.clone(),
                    line: 1,
                    job: None,
                    message: format!("not a readable workflow: {e}"),
                });
                continue;
            }
        };
        let jobs = jobs(&doc, text, &action_repo, config);
        let triggers = triggers(&doc);
        check_file(file, &doc, &triggers, &jobs, &action_repo, &mut findings);
        if !jobs.iter().all(|j| j.steps.is_empty() && j.call.is_none()) {
            check_branches(file, text, &doc, config, &mut findings);
        }
        let mut needs = BTreeMap::new();
        for job in &jobs {
            needs.insert(job.id.clone(), job_needs(&job.value));
        }
        if levels > 1 {
            check_levels(file, text, &jobs, &needs, &mut findings);
        }
        for job in &jobs {
            for step in job.steps.iter().filter(|s| s.command == "apply") {
                if let Some(env) = &step.env {
                    applies
                        .entry(env.clone())
                        .or_insert((file.clone(), job.id.clone(), None));
                }
            }
            if let Some(call) = &job.call {
                covered.insert(generated_counterpart(call.file));
                if call.file == crate::workflows::generate::REUSABLE_PROMOTE_FILE && levels > 1 {
                    findings.push(Finding {
                        code: FindingCode::ProjectOrder,
                        file: file.clone(),
                        line: job.line,
                        job: Some(job.id.clone()),
                        message: format!(
                            "calls {}, which plans and applies every changed project of an environment at once, but the config orders projects (`depends_on`); use the generated workflows (`phasegate workflows generate`), which apply one dependency level before planning the next",
                            call.file
                        ),
                    });
                }
                if call.file == crate::workflows::generate::REUSABLE_PROMOTE_FILE {
                    for (i, env) in call.environments.iter().enumerate() {
                        applies.entry(env.clone()).or_insert((
                            file.clone(),
                            job.id.clone(),
                            Some(i),
                        ));
                    }
                }
            }
        }
        needs_by_file.insert(file.clone(), needs);
    }
    check_order(config, &applies, &needs_by_file, files, &mut findings);
    let expected: Vec<(String, String)> = expected
        .iter()
        .filter(|(name, _)| {
            // A caller of the reusable workflow need not also carry the generated one.
            !covered.contains(name.as_str()) || files.iter().any(|(f, _)| f == name)
        })
        .cloned()
        .collect();
    check_drift(files, &expected, &mut findings);
    findings.sort_by(|a, b| (&a.file, a.line, a.code).cmp(&(&b.file, b.line, b.code)));
    findings
}

fn check_file(
    file: &str,
    doc: &Value,
    triggers: &BTreeSet<String>,
    jobs: &[Job],
    action_repo: &str,
    out: &mut Vec<Finding>,
) {
    let finding = |code, job: Option<&Job>, message: String| Finding {
        code,
        file: file.to_string(),
        line: job.map_or(1, |j| j.line),
        job: job.map(|j| j.id.clone()),
        message,
    };
    if doc.get("permissions").and_then(Value::as_str) == Some("write-all") {
        out.push(finding(
            FindingCode::WriteAll,
            None,
            "`permissions: write-all` gives every job every scope; use `permissions: {}` and grant each job what it needs".into(),
        ));
    }
    let fork_reachable =
        triggers.contains("pull_request_target") || triggers.contains("workflow_run");
    for job in jobs {
        if job.value.get("permissions").and_then(Value::as_str) == Some("write-all") {
            out.push(finding(
                FindingCode::WriteAll,
                Some(job),
                "`permissions: write-all`; grant only the scopes this job needs".into(),
            ));
        }
        if triggers.contains("pull_request_target") && checks_out_pr_head(&job.value) {
            out.push(finding(
                FindingCode::PrTargetCheckout,
                Some(job),
                "checks out the PR head under `pull_request_target`, running untrusted code with the base repository's token and secrets; use `pull_request`".into(),
            ));
        }
        if let Some(call) = &job.call {
            check_call(call, job, fork_reachable, &finding, out);
            continue;
        }
        if job.steps.is_empty() {
            continue;
        }
        let commands: BTreeSet<&str> = job.steps.iter().map(|s| s.command.as_str()).collect();
        if commands.contains("apply") && job.value.get("environment").is_none() {
            out.push(finding(
                FindingCode::ApplyWithoutEnvironment,
                Some(job),
                "applies without `environment:`, so no environment review gates it; restore `environment: <github environment>`".into(),
            ));
        }
        let mutating = commands
            .iter()
            .any(|c| matches!(*c, "plan" | "apply" | "verify" | "review" | "rollback"));
        if mutating {
            match job.value.get("concurrency") {
                None => out.push(finding(
                    FindingCode::NoConcurrency,
                    Some(job),
                    "no `concurrency:` group: two runs could work on the same environment and project at once; add one per environment and project".into(),
                )),
                Some(c) if commands.contains("apply") && c.get("cancel-in-progress").and_then(Value::as_bool) == Some(true) => out.push(finding(
                    FindingCode::NoConcurrency,
                    Some(job),
                    "`cancel-in-progress: true` on an apply can stop Terraform mid-apply; set it to false".into(),
                )),
                Some(_) => {}
            }
        }
        if fork_reachable && commands.contains("plan") && mentions_secrets(&job.value) {
            out.push(finding(
                FindingCode::SecretsToForkPlan,
                Some(job),
                "passes secrets to a plan job that pull requests from forks can trigger; a fork's Terraform code could read them".into(),
            ));
        }
        for step in &job.steps {
            let Some(uses) = &step.uses else { continue };
            let repo = uses.split_once('@').map_or(uses.as_str(), |(r, _)| r);
            if repo.starts_with("./") || repo != action_repo && !repo.ends_with("/phasegate") {
                continue;
            }
            if let Some(problem) = crate::workflows::generate::pin_problem(uses) {
                out.push(finding(
                    FindingCode::MutableRef,
                    Some(job),
                    format!("runs {problem}"),
                ));
            }
        }
        let needed = permissions::needed(job.steps.iter().map(|s| s.command.as_str()));
        let declared = job
            .value
            .get("permissions")
            .or_else(|| doc.get("permissions"));
        let lacking = permissions::missing(declared, &needed);
        if !lacking.is_empty() {
            let commands: BTreeSet<&str> = job.steps.iter().map(|s| s.command.as_str()).collect();
            out.push(finding(
                FindingCode::MissingPermission,
                Some(job),
                format!(
                    "runs {} but its `permissions:` lack {}; on GitHub these calls fail with 403",
                    commands.into_iter().collect::<Vec<_>>().join(", "),
                    lacking
                        .iter()
                        .map(|(scope, need, have)| match have {
                            Some(h) => format!("`{scope}: {}` (has {})", need.word(), h.word()),
                            None => format!("`{scope}: {}`", need.word()),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
}

/// The `branches:` filters of `push` and `pull_request`: each entry is a
/// branch name or glob as GitHub reads it, so a name that kept its quote
/// marks (or spaces) matches no branch, and a filter that leaves out the
/// default branch never runs the chain on it.
fn check_branches(file: &str, text: &str, doc: &Value, config: &Config, out: &mut Vec<Finding>) {
    let default = config.workflows.default_branch.as_deref().unwrap_or("main");
    let on = doc.get("on").or_else(|| doc.get("true"));
    let Some(Value::Object(events)) = on else {
        return;
    };
    for event in ["push", "pull_request"] {
        let Some(branches) = events
            .get(event)
            .and_then(|e| e.get("branches"))
            .and_then(Value::as_array)
        else {
            continue;
        };
        let names: Vec<String> = branches.iter().map(scalar).collect();
        let line = text
            .lines()
            .position(|l| l.trim_start().starts_with("branches:"))
            .map_or(1, |i| i + 1);
        let problem = if let Some(bad) = names
            .iter()
            .find(|b| b.contains(['"', '\'']) || b.trim() != b.as_str() || b.is_empty())
        {
            Some(format!(
                "`on.{event}.branches` holds {bad:?}, which no branch name matches (quote marks and spaces are part of the name); write `- {default}`"
            ))
        } else if !names.iter().any(|b| branch_matches(b, default)) {
            Some(format!(
                "`on.{event}.branches` is {names:?}, which does not match the default branch `{default}` (workflows.default_branch); the chain never runs on it"
            ))
        } else {
            None
        };
        if let Some(message) = problem {
            out.push(Finding {
                code: FindingCode::BranchFilter,
                file: file.to_string(),
                line,
                job: None,
                message,
            });
        }
    }
}

/// GitHub's branch filter patterns, as far as a default branch name needs:
/// `*` matches within a path segment, `**` across them, `!` negates (and
/// never matches here).
fn branch_matches(pattern: &str, branch: &str) -> bool {
    if pattern.starts_with('!') {
        return false;
    }
    let regex = pattern
        .split("**")
        .map(|part| {
            part.split('*')
                .map(regex::escape)
                .collect::<Vec<_>>()
                .join("[^/]*")
        })
        .collect::<Vec<_>>()
        .join(".*");
    regex::Regex::new(&format!("^{regex}$")).is_ok_and(|r| r.is_match(branch))
}

/// A caller job of a reusable workflow: the chain inside is fixed, so what
/// can go wrong is the ref it runs and the secrets it hands a fork's plan.
fn check_call(
    call: &ReusableCall,
    job: &Job,
    fork_reachable: bool,
    finding: &dyn Fn(FindingCode, Option<&Job>, String) -> Finding,
    out: &mut Vec<Finding>,
) {
    if let Some(problem) = crate::workflows::generate::pin_problem(&call.uses) {
        out.push(finding(
            FindingCode::MutableRef,
            Some(job),
            format!("calls {problem}"),
        ));
    }
    let commands: &[&str] = match call.file {
        crate::workflows::generate::REUSABLE_PLAN_FILE => &["matrix", "plan"],
        crate::workflows::generate::REUSABLE_PROMOTE_FILE => {
            &["matrix", "plan", "apply", "verify", "review"]
        }
        _ => &["matrix", "drift"],
    };
    // A called workflow's jobs get at most what the calling job grants.
    let needed = permissions::needed(commands.iter().copied());
    let lacking = permissions::missing(job.value.get("permissions"), &needed);
    if !lacking.is_empty() {
        out.push(finding(
            FindingCode::MissingPermission,
            Some(job),
            format!(
                "calls {} but its `permissions:` lack {}; the called jobs get at most these",
                call.file,
                lacking
                    .iter()
                    .map(|(scope, need, _)| format!("`{scope}: {}`", need.word()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let passes_secrets = job.value.get("secrets").is_some() || mentions_secrets(&job.value);
    if fork_reachable
        && call.file == crate::workflows::generate::REUSABLE_PLAN_FILE
        && passes_secrets
    {
        out.push(finding(
            FindingCode::SecretsToForkPlan,
            Some(job),
            "passes secrets to the reusable plan workflow under a trigger forks can reach; a fork's Terraform code could read them".into(),
        ));
    }
}

/// The generated workflow a reusable one stands in for.
fn generated_counterpart(reusable: &str) -> &'static str {
    use crate::workflows::generate as g;
    match reusable {
        g::REUSABLE_PLAN_FILE => g::PULL_REQUEST_FILE,
        g::REUSABLE_PROMOTE_FILE => g::PROMOTE_FILE,
        _ => g::DRIFT_FILE,
    }
}

fn check_order(
    config: &Config,
    applies: &BTreeMap<String, ApplySite>,
    needs: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
    files: &[(String, String)],
    out: &mut Vec<Finding>,
) {
    if files.is_empty() {
        return;
    }
    let mut prev: Option<(&str, &ApplySite)> = None;
    for env in &config.environments {
        let Some(this) = applies.get(&env.name) else {
            out.push(Finding {
                code: FindingCode::MissingEnvironment,
                file: files[0].0.clone(),
                line: 1,
                job: None,
                message: format!("no workflow job applies environment `{}`", env.name),
            });
            continue;
        };
        if let Some((prev_env, (prev_file, prev_job, prev_pos))) = prev {
            // Inside one reusable promotion call the chain follows the list order.
            let same_call = prev_file == &this.0
                && prev_job == &this.1
                && prev_pos.zip(this.2).is_some_and(|(a, b)| a < b);
            let reaches = same_call
                || prev_file == &this.0
                    && needs
                        .get(&this.0)
                        .is_some_and(|n| ancestors(n, &this.1).contains(prev_job.as_str()));
            if !reaches {
                let line = job_line(files, &this.0, &this.1);
                out.push(Finding {
                    code: FindingCode::OutOfOrder,
                    file: this.0.clone(),
                    line,
                    job: Some(this.1.clone()),
                    message: if this.2.is_some() && prev_job == &this.1 {
                        format!(
                            "{} is not after {prev_env}: list the environments in promotion order in this call's `environments` input",
                            env.name
                        )
                    } else {
                        format!(
                            "{} is not after {prev_env}: this apply does not need `{prev_job}` (directly or through other jobs) in `needs:`",
                            env.name
                        )
                    },
                });
            }
        }
        prev = Some((&env.name, this));
    }
}

/// With ordered projects: a plan or apply job over one dependency level of
/// an environment (its matrix `fromJSON(...by_level)[<env>][<n>]`) must
/// come after every apply job of that environment's earlier levels, and an
/// apply job must not take an environment's whole matrix (`by_env`) at once.
/// Jobs whose matrix is neither are not judged: their projects are unknown.
fn check_levels(
    file: &str,
    text: &str,
    jobs: &[Job],
    needs: &BTreeMap<String, Vec<String>>,
    out: &mut Vec<Finding>,
) {
    let runs = |job: &Job, command: &str| job.steps.iter().any(|s| s.command == command);
    let level_of = |job: &Job| -> Option<(String, usize)> {
        let matrix = job.value.get("strategy")?.get("matrix")?.as_str()?;
        let rest = &matrix[matrix.find("outputs.by_level)[")? + "outputs.by_level)[".len()..];
        let (key, rest) = rest.split_once("][")?;
        let (n, _) = rest.split_once(']')?;
        Some((key.trim_matches(['\'', '"']).to_string(), n.parse().ok()?))
    };
    let leveled: Vec<(&Job, String, usize)> = jobs
        .iter()
        .filter(|j| runs(j, "plan") || runs(j, "apply"))
        .filter_map(|j| level_of(j).map(|(env, n)| (j, env, n)))
        .collect();
    for (job, env, n) in &leveled {
        let before = ancestors(needs, &job.id);
        let missing: Vec<&str> = leveled
            .iter()
            .filter(|(j, e, m)| e == env && m < n && runs(j, "apply"))
            .map(|(j, _, _)| j.id.as_str())
            .filter(|id| !before.contains(id))
            .collect();
        if !missing.is_empty() {
            out.push(Finding {
                code: FindingCode::ProjectOrder,
                file: file.to_string(),
                line: line_of_job(text, &job.id),
                job: Some(job.id.clone()),
                message: format!(
                    "runs level {n} of {env} without waiting for {}: its projects' plans read their upstreams' applied outputs; add it to `needs:` (directly or through other jobs)",
                    missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
                ),
            });
        }
    }
    for job in jobs.iter().filter(|j| runs(j, "apply")) {
        let whole = job
            .value
            .get("strategy")
            .and_then(|s| s.get("matrix"))
            .and_then(Value::as_str)
            .is_some_and(|m| m.contains("outputs.by_env)["));
        if whole {
            out.push(Finding {
                code: FindingCode::ProjectOrder,
                file: file.to_string(),
                line: job.line,
                job: Some(job.id.clone()),
                message: "applies every changed project of an environment at once (`by_env`), but the config orders projects (`depends_on`); regenerate with `phasegate workflows generate` for one plan and apply per dependency level".into(),
            });
        }
    }
}

fn check_drift(files: &[(String, String)], expected: &[(String, String)], out: &mut Vec<Finding>) {
    for (name, want) in expected {
        match files.iter().find(|(f, _)| f == name) {
            None => out.push(Finding {
                code: FindingCode::Drift,
                file: name.clone(),
                line: 1,
                job: None,
                message: "missing; `phasegate workflows generate` writes it from the config".into(),
            }),
            Some((_, have)) if have != want => {
                let line = have
                    .lines()
                    .zip(want.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or_else(|| have.lines().count().min(want.lines().count()))
                    + 1;
                out.push(Finding {
                    code: FindingCode::Drift,
                    file: name.clone(),
                    line,
                    job: None,
                    message: "differs from what the config generates (first difference here); review the edit, or write them again from the config with `phasegate workflows generate`".into(),
                });
            }
            Some(_) => {}
        }
    }
}

/// Every job `job` needs, directly or transitively.
fn ancestors<'a>(needs: &'a BTreeMap<String, Vec<String>>, job: &str) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&str> = needs
        .get(job)
        .map(|v| v.iter().map(String::as_str).collect())
        .unwrap_or_default();
    while let Some(j) = todo.pop() {
        if let Some((k, v)) = needs.get_key_value(j) {
            if seen.insert(k.as_str()) {
                todo.extend(v.iter().map(String::as_str));
            }
        }
    }
    seen
}

fn jobs(doc: &Value, text: &str, action_repo: &str, config: &Config) -> Vec<Job> {
    let Some(map) = doc.get("jobs").and_then(Value::as_object) else {
        return Vec::new();
    };
    map.iter()
        .map(|(id, value)| Job {
            id: id.clone(),
            line: line_of_job(text, id),
            steps: pg_steps(value, action_repo, config),
            call: reusable_call(value, action_repo),
            value: value.clone(),
        })
        .collect()
}

/// The reusable phasegate workflow a job calls, if any.
fn reusable_call(job: &Value, action_repo: &str) -> Option<ReusableCall> {
    use crate::workflows::generate as g;
    let uses = job.get("uses").and_then(Value::as_str)?;
    let (path, _) = uses.split_once('@').unwrap_or((uses, ""));
    let (repo, file) = path.split_once("/.github/workflows/")?;
    if repo != action_repo && !repo.ends_with("/phasegate") {
        return None;
    }
    let file = [
        g::REUSABLE_PLAN_FILE,
        g::REUSABLE_PROMOTE_FILE,
        g::REUSABLE_DRIFT_FILE,
    ]
    .into_iter()
    .find(|f| *f == file)?;
    let input = job.get("with").and_then(|w| w.get("environments"));
    let environments = match input {
        Some(Value::String(s)) => serde_json::from_str::<Vec<String>>(s).unwrap_or_default(),
        Some(Value::Array(a)) => a.iter().map(scalar).collect(),
        _ => Vec::new(),
    };
    Some(ReusableCall {
        file,
        uses: uses.to_string(),
        environments,
    })
}

fn pg_steps(job: &Value, action_repo: &str, config: &Config) -> Vec<PgStep> {
    let steps = job.get("steps").and_then(Value::as_array);
    let mut out = Vec::new();
    for step in steps.into_iter().flatten() {
        let uses = step.get("uses").and_then(Value::as_str);
        let with = step.get("with");
        let field = |k: &str| with.and_then(|w| w.get(k)).map(scalar);
        if let Some(uses) = uses {
            let repo = uses.split('@').next().unwrap_or(uses);
            let ours = repo == action_repo || repo.ends_with("/phasegate") || repo == "./";
            if ours {
                if let Some(command) = field("command") {
                    let env = field("env").or_else(|| phase_env(config, field("phase")));
                    out.push(PgStep {
                        command,
                        env,
                        uses: Some(uses.to_string()),
                    });
                }
            }
        } else if let Some(run) = step.get("run").and_then(Value::as_str) {
            out.extend(run_steps(run, config));
        }
    }
    out
}

/// `phasegate <command> ... --env X` lines of a `run:` script.
fn run_steps(run: &str, config: &Config) -> Vec<PgStep> {
    let mut out = Vec::new();
    for line in run.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(i) = words.iter().position(|w| w.ends_with("phasegate")) else {
            continue;
        };
        let Some(command) = words.get(i + 1).filter(|w| !w.starts_with('-')) else {
            continue;
        };
        let flag = |name: &str| {
            words.iter().enumerate().find_map(|(j, w)| {
                w.strip_prefix(&format!("{name}="))
                    .map(str::to_string)
                    .or_else(|| {
                        (*w == name)
                            .then(|| words.get(j + 1).map(|s| s.to_string()))
                            .flatten()
                    })
            })
        };
        let env = flag("--env").or_else(|| phase_env(config, flag("--phase")));
        out.push(PgStep {
            command: command.to_string(),
            env,
            uses: None,
        });
    }
    out
}

/// A phase number names an environment when no change plan reorders phases.
fn phase_env(config: &Config, phase: Option<String>) -> Option<String> {
    let n: usize = phase?.trim().parse().ok()?;
    config
        .environments
        .get(n.checked_sub(1)?)
        .map(|e| e.name.clone())
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn triggers(doc: &Value) -> BTreeSet<String> {
    // YAML 1.1 readers turn a bare `on` key into `true`; accept both spellings.
    let on = doc.get("on").or_else(|| doc.get("true"));
    match on {
        Some(Value::String(s)) => [s.clone()].into(),
        Some(Value::Array(a)) => a.iter().map(scalar).collect(),
        Some(Value::Object(m)) => m.keys().cloned().collect(),
        _ => BTreeSet::new(),
    }
}

fn job_needs(job: &Value) -> Vec<String> {
    match job.get("needs") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().map(scalar).collect(),
        _ => Vec::new(),
    }
}

fn checks_out_pr_head(job: &Value) -> bool {
    let steps = job.get("steps").and_then(Value::as_array);
    steps.into_iter().flatten().any(|s| {
        let is_checkout = s
            .get("uses")
            .and_then(Value::as_str)
            .is_some_and(|u| u.starts_with("actions/checkout@"));
        let reference = s.get("with").and_then(|w| w.get("ref")).map(scalar);
        is_checkout
            && reference.is_some_and(|r| {
                r.contains("pull_request.head")
                    || r.contains("github.head_ref")
                    || r.contains("refs/pull/")
            })
    })
}

fn mentions_secrets(job: &Value) -> bool {
    let text = job.to_string();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("secrets.") {
        let name = &rest[i + "secrets.".len()..];
        // GITHUB_TOKEN is the job's own token, scoped by `permissions:`.
        if !name.starts_with("GITHUB_TOKEN") {
            return true;
        }
        rest = name;
    }
    text.contains("secrets: inherit")
}

fn action_repo(action: &str) -> String {
    action.split('@').next().unwrap_or(action).to_string()
}

/// The line of `<job>:` at the first indentation under `jobs:`; 1 when not found.
fn line_of_job(text: &str, id: &str) -> usize {
    let mut job_indent: Option<Option<usize>> = None;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("jobs:") {
            job_indent = Some(None);
            continue;
        }
        let Some(expected) = job_indent else { continue };
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if indent == 0 {
            job_indent = None;
            continue;
        }
        let expected = *job_indent.insert(Some(expected.unwrap_or(indent)));
        if Some(indent) == expected {
            let key = trimmed
                .trim_end()
                .strip_suffix(':')
                .map(|k| k.trim_matches(['"', '\'']));
            if key == Some(id) {
                return i + 1;
            }
        }
    }
    1
}

fn job_line(files: &[(String, String)], file: &str, job: &str) -> usize {
    files
        .iter()
        .find(|(f, _)| f == file)
        .map_or(1, |(_, t)| line_of_job(t, job))
}
