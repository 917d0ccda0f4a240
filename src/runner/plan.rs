//! `phasegate plan`: plan every project of one phase (or ingest a plan JSON),
//! run the gates, render the comment and summary, write them, and in a
//! pull-request workflow post them.

use std::path::Path;

use serde::Serialize;

use crate::ci::ActionsContext;
use crate::cli::{GlobalArgs, OutputFormat, PlanArgs};
use crate::config::ResolvedPhase;
use crate::error::{Error, ExitCode, Result};
use crate::github::PrTarget;
use crate::phase::auto_approval;
use crate::plan::{self, ChangeSet};
use crate::render::{self, PhaseView, ProjectView};
use crate::runner::forge;
use crate::runner::gating::{self, GateOutcome};
use crate::runner::operations::preview::{self, StepPreview};
use crate::runner::output::{print_stdout, Staged};
use crate::runner::session::absolute;
use crate::runner::workspace::Workspace;
// Kept reachable from here for the commands that plan and then act.
pub use crate::runner::projects::{collect_projects, ProjectPlan, Waiting};

/// Everything `plan` produced, before it is written anywhere.
pub struct PlanResult {
    pub phase: ResolvedPhase,
    pub change_id: String,
    pub change_title: Option<String>,
    pub projects: Vec<ProjectPlan>,
    /// Projects whose inputs read outputs their upstreams do not hold yet.
    pub waiting: Vec<Waiting>,
    pub gates: GateOutcome,
    /// What the comment and summary were rendered from; posting renders the
    /// comment block again within the room the sticky comment leaves.
    pub view: PhaseView,
    pub comment: String,
    pub summary: String,
    /// The phase's operation steps, each previewed and digested.
    pub steps: Vec<StepPreview>,
    /// The conditions of the environment's `approvals.auto` rule, when it
    /// approves this plan (and may, in this phase).
    pub auto_approved: Option<Vec<String>>,
}

pub fn run(global: &GlobalArgs, args: PlanArgs) -> Result<ExitCode> {
    let ws = Workspace::load(global, args.plan_json.is_none())?;
    let actions = ActionsContext::from_process_env()?;
    let result = plan_phase(&ws, &args, actions.as_ref())?;
    finish(&ws, &args, actions.as_ref(), result)
}

/// Plans (or ingests) every project of the selected phase and runs the gates.
pub fn plan_phase(
    ws: &Workspace,
    args: &PlanArgs,
    actions: Option<&ActionsContext>,
) -> Result<PlanResult> {
    let crate::runner::projects::PhasePlans {
        phase,
        mut projects,
        waiting,
    } = crate::runner::projects::collect_plans(
        ws,
        &args.select,
        args.plan_json.as_deref(),
        args.out.as_deref(),
    )?;
    let gates = gating::evaluate(
        ws,
        &phase,
        &projects,
        &args.gates,
        &ws.out_dir(args.out.as_deref()),
        gating::GateSet::All,
    )?;
    // The plan's text served the policy gate; rendering and writing need only
    // the change sets, so a large plan is not held through them.
    for p in &mut projects {
        p.plan_json = String::new();
    }
    // Without a change plan, a pull request is its own change.
    let change_id = ws
        .change_id()
        .map(str::to_string)
        .or_else(|| {
            actions
                .and_then(ActionsContext::pull_request)
                .map(|n| format!("PR-{n}"))
        })
        .unwrap_or_else(|| "local".into());
    let view = PhaseView {
        change_id: change_id.clone(),
        change_title: ws.change.as_ref().and_then(|c| c.title.clone()),
        phase_name: phase.name.clone(),
        phase_index: phase.index.saturating_sub(1),
        environment: phase.environment.name.clone(),
        projects: projects
            .iter()
            .map(|p| ProjectView {
                name: p.name.clone(),
                changes: std::sync::Arc::clone(&p.changes),
            })
            .collect(),
        sections: gates.sections(),
        run_url: actions.and_then(ActionsContext::run_url),
    };
    let mut view = view;
    if let Some(section) = inputs_section(&projects, &waiting) {
        view.sections.push(section);
    }
    let steps = preview::preview_steps(
        &phase.steps,
        &ws.base_dir,
        &ws.out_dir(args.out.as_deref()).join("steps"),
    );
    if !steps.is_empty() {
        view.sections.push(steps_section(&phase.name, &steps));
    }
    let rule = phase
        .environment
        .approvals
        .auto
        .as_ref()
        .map(|r| auto_approval::evaluate(r, &plan_facts(&projects, &gates)));
    let rule_counts = crate::runner::session::rule_may_approve(&phase);
    if ws.config.is_some() {
        let irreversible = steps.iter().any(|s| s.step.irreversible);
        let approval = forge::awaiting_approval_section(
            &view,
            &phase.environment,
            gates.verdict(),
            irreversible,
            rule.as_ref().map(|o| (o, rule_counts)),
        );
        view.sections.push(approval);
    }
    let comment = render::comment(&view);
    let summary = render::summary(&view);
    Ok(PlanResult {
        change_title: view.change_title.clone(),
        phase,
        change_id,
        projects,
        waiting,
        gates,
        view,
        comment,
        summary,
        steps,
        auto_approved: rule.filter(|o| rule_counts && o.approves()).map(|o| o.held),
    })
}

/// What an `approvals.auto` rule looks at, over every project of the phase.
fn plan_facts(projects: &[ProjectPlan], gates: &GateOutcome) -> auto_approval::PlanFacts {
    use crate::plan::Action;
    let changed = || {
        projects
            .iter()
            .flat_map(|p| p.changes.resources.iter())
            .filter(|r| !matches!(r.action, Action::NoOp | Action::Read))
    };
    let replace = |a: Action| matches!(a, Action::ReplaceDestroyFirst | Action::ReplaceCreateFirst);
    let cost = gates.get("cost").map(|g| &g.json);
    auto_approval::PlanFacts {
        destroys: changed()
            .filter(|r| r.action == Action::Delete || replace(r.action))
            .count(),
        replaces: changed().filter(|r| replace(r.action)).count(),
        security: gates.get("security").map(|g| g.verdict),
        cost_delta: cost.and_then(|c| c["monthly_delta"].as_f64()),
        cost_lower_bound: cost.is_none_or(|c| c["lower_bound"].as_bool().unwrap_or(true)),
        blast: gates
            .get("blast")
            .and_then(|g| serde_json::from_value(g.json["actual"].clone()).ok()),
        changed_types: changed().map(|r| r.resource_type.clone()).collect(),
    }
}

/// The comment's section on inputs: the upstream outputs each plan read,
/// and the projects that wait for their upstreams' apply.
fn inputs_section(projects: &[ProjectPlan], waiting: &[Waiting]) -> Option<render::Section> {
    use render::inputs::{PlannedInputs, WaitingProject};
    let planned: Vec<PlannedInputs<'_>> = projects
        .iter()
        .map(|p| PlannedInputs {
            project: &p.name,
            inputs: &p.inputs,
        })
        .collect();
    let waits: Vec<WaitingProject<'_>> = waiting
        .iter()
        .map(|w| WaitingProject {
            project: &w.name,
            waiting_on: &w.waiting_on,
        })
        .collect();
    let md = render::inputs::markdown(&planned, &waits);
    (!md.is_empty()).then(|| render::Section {
        key: "inputs".into(),
        title: "Project inputs".into(),
        badge: None,
        essentials_md: md,
        details_md: String::new(),
    })
}

/// The comment's section of the phase's operation steps: what each would
/// do, as its preview showed it, and which cannot be undone.
fn steps_section(phase: &str, steps: &[StepPreview]) -> render::Section {
    let fresh = crate::journal::operation::OperationState::default();
    let views: Vec<render::operations::StepView<'_>> = steps
        .iter()
        .map(|p| render::operations::StepView {
            step: &p.step,
            preview: p.run.as_ref(),
            state: &fresh,
        })
        .collect();
    render::Section {
        key: "steps".into(),
        title: "Steps".into(),
        badge: None,
        essentials_md: render::operations::steps_markdown(phase, &views),
        details_md: String::new(),
    }
}

/// The machine-readable view of one project's plan, shared with `render`.
pub fn project_json(name: &str, cs: &ChangeSet) -> serde_json::Value {
    serde_json::to_value(ProjectJson::new(name, cs)).unwrap_or_default()
}

/// One project in `result.json`: serialized straight from the change set and
/// its one grouping, without an intermediate `Value` tree.
#[derive(Serialize)]
struct ProjectJson<'a> {
    name: &'a str,
    counts: plan::Counts,
    has_changes: bool,
    errored: bool,
    resources: Vec<ResourceJson<'a>>,
    groups: &'a [plan::group::ChangeGroup],
    digest: &'a str,
}

#[derive(Serialize)]
struct ResourceJson<'a> {
    address: &'a str,
    action: plan::Action,
}

impl<'a> ProjectJson<'a> {
    fn new(name: &'a str, cs: &'a ChangeSet) -> Self {
        ProjectJson {
            name,
            counts: cs.counts(),
            has_changes: cs.has_changes(),
            errored: cs.plan_failed(),
            resources: cs
                .resources
                .iter()
                .filter(|r| r.action != plan::Action::NoOp || r.is_import() || r.is_move())
                .map(|r| ResourceJson {
                    address: &r.address,
                    action: r.action,
                })
                .collect(),
            groups: cs.groups(),
            digest: &cs.digest,
        }
    }
}

/// `result.json`, in the order its keys have always been written.
#[derive(Serialize)]
struct ResultJson<'a> {
    change_id: &'a str,
    phase: PhaseRef<'a>,
    environment: &'a str,
    projects: Vec<ProjectJson<'a>>,
    gates: GatesJson<'a>,
    verdict: crate::gates::Verdict,
    /// An errored plan is partial: the runner refuses to apply the phase.
    errored: bool,
    comment: std::path::PathBuf,
    /// The phase's digest: what an approval names.
    digest: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    steps: Vec<StepJson<'a>>,
}

/// One operation step in `result.json`.
#[derive(Serialize)]
struct StepJson<'a> {
    id: &'a str,
    irreversible: bool,
    digest: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    preview: Option<&'a crate::journal::operation::CommandRun>,
}

#[derive(Serialize)]
struct PhaseRef<'a> {
    index: usize,
    name: &'a str,
}

/// The gates' JSON by key, borrowed from their runs (no copy of a report).
struct GatesJson<'a>(&'a GateOutcome);

impl Serialize for GatesJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.runs.len()))?;
        for run in &self.0.runs {
            map.serialize_entry(run.key, &run.json)?;
        }
        map.end()
    }
}

fn finish(
    ws: &Workspace,
    args: &PlanArgs,
    actions: Option<&ActionsContext>,
    result: PlanResult,
) -> Result<ExitCode> {
    let out_dir = ws.out_dir(args.out.as_deref());
    let digest = phase_digest(&result.projects, &result.waiting, &result.steps);
    let result_json = ResultJson {
        change_id: &result.change_id,
        phase: PhaseRef {
            index: result.phase.index,
            name: &result.phase.name,
        },
        environment: &result.phase.environment.name,
        projects: result
            .projects
            .iter()
            .map(|p| ProjectJson::new(&p.name, &p.changes))
            .collect(),
        gates: GatesJson(&result.gates),
        verdict: result.gates.verdict(),
        errored: result.projects.iter().any(|p| p.changes.plan_failed()),
        comment: out_dir.join("comment.md"),
        digest: &digest,
        steps: result
            .steps
            .iter()
            .map(|p| StepJson {
                id: &p.step.id,
                irreversible: p.step.irreversible,
                digest: &p.digest,
                preview: p.run.as_ref(),
            })
            .collect(),
    };
    // Each file goes to its temporary file as it is serialized (a large
    // plan's are tens of megabytes, never held as text); all are renamed
    // into place together, or none.
    let mut files = Staged::new(&out_dir);
    files.text("comment.md", &result.comment)?;
    files.text("summary.md", &result.summary)?;
    // Files for machines are compact: they are read by `phasegate` and by
    // scripts, and a large plan's would otherwise be tens of megabytes.
    for p in &result.projects {
        files.stream(
            format!("plans/{}-{}.json", p.name, result.phase.environment.name),
            |out| {
                serde_json::to_writer(out, p.changes.as_ref()).map_err(|e| {
                    Error::External(format!("serializing the plan of {}: {e}", p.name))
                })
            },
        )?;
    }
    result
        .gates
        .stage_files(&mut files, args.gates.sarif_out.as_deref())?;
    files.stream("result.json", |out| {
        serde_json::to_writer(out, &result_json)
            .map_err(|e| Error::External(format!("serializing the result: {e}")))
    })?;
    drop(result_json);
    files.commit()?;
    // The phase's result is the same file under the name later phases look
    // for: linked, not written twice.
    let result_file = out_dir.join("result.json");
    let phase_file = crate::runner::gating::phase_result_path(&out_dir, &result.phase.name);
    link_or_copy(&result_file, &phase_file)?;
    let runner = journal(ws, args, actions, &result, &out_dir)?;

    crate::runner::actions::mask_secrets(actions);
    let comment_url = match actions {
        Some(ctx) => post(ws, args, ctx, &result, &digest, runner.as_ref())?,
        None => None,
    };
    // The journal block last: it converges on the whole journal, so it
    // must not be followed by this job's own plan-block write.
    if let (Some(runner), Some(ctx), false) = (&runner, actions, args.no_post) {
        let change = runner.writer(ws, actions).change;
        crate::runner::post::publish_progress(
            runner,
            ws,
            ctx,
            &change,
            &result.phase,
            crate::runner::post::CheckRunPost::None,
        )?;
    }
    if let Some(ctx) = actions {
        let verdict_of = |key: &str| {
            result
                .gates
                .get(key)
                .map(|g| render::verdict::words(g.verdict).key.to_string())
                .unwrap_or_default()
        };
        let step_outputs = [
            (
                "has_changes",
                result
                    .projects
                    .iter()
                    .any(|p| p.changes.has_changes())
                    .to_string(),
            ),
            ("digest", digest.clone()),
            ("security_verdict", verdict_of("security")),
            ("cost_verdict", verdict_of("cost")),
            ("comment_url", comment_url.clone().unwrap_or_default()),
        ];
        crate::runner::actions::publish_step(ctx, &step_outputs, &result.summary)?;
    }

    match args.format {
        // The text already written as result.json, not a second serialization
        // of a value that can be tens of megabytes.
        OutputFormat::Json => print_written(&result_file)?,
        OutputFormat::Markdown => print_stdout(&result.comment),
        OutputFormat::Text => print_stdout(&text_report(&result, &out_dir)),
    }
    let failed: Vec<&str> = result
        .projects
        .iter()
        .filter(|p| p.changes.plan_failed())
        .map(|p| p.name.as_str())
        .collect();
    let previews_failed: Vec<&str> = result
        .steps
        .iter()
        .filter(|p| p.failed())
        .map(|p| p.step.id.as_str())
        .collect();
    if !previews_failed.is_empty() {
        tracing::error!(
            "the preview of step {} failed: its output is in the comment and in {}; this phase cannot run its steps until a plan previews them",
            previews_failed.join(", "),
            out_dir.join("steps").display()
        );
        return Ok(ExitCode::External);
    }
    if !failed.is_empty() {
        // Everything is written and posted so the failure is visible; the
        // exit says the IaC tool failed, as a failing `terraform plan` would.
        tracing::error!(
            "the plan of {} errored: Terraform reported errors while planning; this phase cannot be applied",
            failed.join(", ")
        );
        return Ok(ExitCode::External);
    }
    Ok(if result.gates.verdict().stops() {
        ExitCode::Refused
    } else {
        ExitCode::Success
    })
}

/// `to` made the same file as `from` (a hard link, or a copy where links
/// are not possible), replacing what was there.
fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    match std::fs::remove_file(to) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(to, e)),
    }
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).map_err(|e| Error::io(to, e))?;
    }
    Ok(())
}

/// Prints a file already written (and already redacted on its way out) to
/// stdout as it is: the same bytes, not a second serialization.
fn print_written(file: &Path) -> Result<()> {
    use std::io::Write;
    let mut from = std::fs::File::open(file).map_err(|e| Error::io(file, e))?;
    let mut out = std::io::stdout().lock();
    let _ = std::io::copy(&mut from, &mut out);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
    Ok(())
}

/// The plan and its gates go into the change's journal; the saved plan
/// files exist only when the engine ran.
fn journal(
    ws: &Workspace,
    args: &PlanArgs,
    actions: Option<&ActionsContext>,
    result: &PlanResult,
    out_dir: &Path,
) -> Result<Option<crate::runner::session::Runner>> {
    let plans = match &args.plan_json {
        None => Some(absolute(&out_dir.join("plans"))?),
        Some(_) => None,
    };
    crate::runner::session::journal_plan(ws, actions, result, plans.as_deref(), args.token.clone())
}

fn text_report(result: &PlanResult, out_dir: &Path) -> String {
    let mut lines = vec![format!(
        "phase {} ({}) of change {}",
        result.phase.name, result.phase.environment.name, result.change_id
    )];
    for p in &result.projects {
        lines.push(format!(
            "  {}: {}  digest {}",
            p.name,
            if p.changes.plan_failed() {
                "PLAN FAILED: Terraform reported errors; this phase cannot be applied".to_owned()
            } else {
                render::counts_line(&p.changes.counts())
            },
            &p.changes.digest
        ));
    }
    for p in &result.steps {
        lines.push(format!(
            "  step {}{}: {}  digest {}",
            p.step.id,
            if p.step.irreversible {
                " (IRREVERSIBLE)"
            } else {
                ""
            },
            match &p.run {
                None => "no preview".to_string(),
                Some(r) if r.ok() => "previewed".to_string(),
                Some(r) => format!(
                    "PREVIEW FAILED ({})",
                    r.error
                        .clone()
                        .unwrap_or_else(|| format!("exit {:?}", r.exit_code))
                ),
            },
            crate::journal::short_digest(&p.digest)
        ));
    }
    for w in &result.waiting {
        lines.push(format!("  {}: WAITING: {}", w.name, w.why));
    }
    if !result.steps.is_empty() || !result.waiting.is_empty() {
        lines.push(format!(
            "phase digest {}",
            phase_digest(&result.projects, &result.waiting, &result.steps)
        ));
    }
    lines.push(result.gates.text_line());
    lines.push(format!("comment: {}", out_dir.join("comment.md").display()));
    lines.join("\n")
}

/// The digest an approval of this phase names: the project's plan digest, or
/// for several projects (or any operation step) a sha256 over their names
/// and digests, as the journal's fold computes it. A project that waits for
/// its upstreams' outputs stands in it by its waiting digest.
pub fn phase_digest(
    projects: &[ProjectPlan],
    waiting: &[Waiting],
    steps: &[StepPreview],
) -> String {
    crate::journal::progress::phase_digest_with_steps(
        projects
            .iter()
            .map(|p| (p.name.as_str(), p.changes.digest.as_str()))
            .chain(waiting.iter().map(|w| (w.name.as_str(), w.digest.as_str()))),
        &preview::digests(steps),
    )
}

/// Posts the comment and the check run when this is a pull-request run with
/// a token; returns the comment's URL. A failure to post fails the command.
fn post(
    ws: &Workspace,
    args: &PlanArgs,
    ctx: &ActionsContext,
    result: &PlanResult,
    digest: &str,
    runner: Option<&crate::runner::session::Runner>,
) -> Result<Option<String>> {
    let Some(number) = ctx.pull_request() else {
        tracing::info!("not a pull-request run: nothing to post");
        return Ok(None);
    };
    if args.no_post {
        tracing::info!("--no-post: the comment is only written to the output directory");
        return Ok(None);
    }
    let token = args.token.clone().filter(|t| !t.trim().is_empty());
    if token.is_none() {
        tracing::warn!("no GITHUB_TOKEN: the comment is not posted");
        return Ok(None);
    }
    // The runner's client when it has one: one runtime, one identity lookup.
    let owned;
    let (rt, client) = match runner.and_then(|r| r.forge().map(|f| (&r.rt, f))) {
        Some(shared) => shared,
        None => {
            owned = forge::connect_as(token, ws.config.as_ref())?;
            (&owned.0, &owned.1)
        }
    };
    let repo = forge::repo_of(ctx);
    let target = PrTarget {
        repo: repo.clone(),
        number,
    };
    let order = match &ws.config {
        Some(cfg) => forge::phase_order(&crate::config::resolve_phases(cfg, ws.change.as_ref())),
        None => vec![],
    };
    let key = forge::phase_key(&result.phase.environment);
    let comment = rt.block_on(forge::post_phase(
        client,
        &target,
        &result.view,
        &key,
        &order,
        digest,
    ))?;
    tracing::info!(url = %comment.html_url, "comment posted");
    if let Some(sha) = ctx.head_sha() {
        rt.block_on(forge::post_check_run(
            client,
            &repo,
            sha,
            &result.view,
            result.gates.verdict(),
            ctx.run_url(),
            result.gates.annotations(),
        ))?;
    }
    Ok(Some(comment.html_url))
}
