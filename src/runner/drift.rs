//! `phasegate drift --env E [--project P | --all]`: per project a
//! refresh-only plan (what changed outside Terraform) and a normal plan (what
//! an apply would do now), folded by `drift::summarize`; then one GitHub
//! issue per project and environment is opened, updated, reopened or closed
//! (`github::issues`), the run is journaled under the pseudo-change
//! `drift-<env>`, and the exit code follows `drift.on_drift`. The same run
//! probes the environment's checks again (`runner::health`): a failing or
//! warning check keeps the same issue open, and a failing one exits 1.

use std::path::Path;

use serde::Serialize;

use crate::ci::ActionsContext;
use crate::cli::{DriftArgs, GlobalArgs, OutputFormat};
use crate::config::{Config, ResolvedPhase};
use crate::drift::{self, health::ProjectHealth, ProjectDrift};
use crate::error::{Error, ExitCode, Result};
use crate::github::issues::{self, Desired, IssueOutcome, IssueTarget};
use crate::iac::{CliEngine, IacEngine, PlanRequest};
use crate::journal::{CheckStatus, ErrorClass, Event, EventKind, Step};
use crate::plan::ChangeSet;
use crate::render::drift::{closed_comment, issue_body, RunInfo};
use crate::render::health as render_health;
use crate::runner::forge;
use crate::runner::session::absolute;
use crate::runner::session::{self as runner, Writer};
use crate::runner::workspace::Workspace;

/// The label drift issues carry unless the config names another.
pub const DEFAULT_LABEL: &str = "phasegate-drift";

/// One project's result as the JSON output shows it.
#[derive(Serialize)]
struct ProjectOut<'a> {
    #[serde(flatten)]
    drift: &'a ProjectDrift,
    is_drifted: bool,
    /// The environment's checks probed again; absent when it declares none.
    #[serde(skip_serializing_if = "Option::is_none")]
    health: Option<&'a ProjectHealth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issue: Option<&'a IssueOutcome>,
}

#[derive(Serialize)]
struct Output<'a> {
    environment: &'a str,
    drifted: bool,
    drifted_resources: usize,
    /// No check failed or warned (true when none is declared).
    healthy: bool,
    failing_checks: usize,
    warning_checks: usize,
    projects: Vec<ProjectOut<'a>>,
    /// The gates over what an apply would now change (the normal plans),
    /// run as for any plan: `security pass, cost pass, ...`.
    gates: String,
    exit_code: i32,
}

pub fn run(global: &GlobalArgs, args: DriftArgs) -> Result<ExitCode> {
    let ws = Workspace::load(global, true)?;
    let cfg = ws.config.as_ref().expect("required above");
    let actions = ActionsContext::from_process_env()?;
    let phase = environment_phase(cfg, &args)?;
    let writer = Writer {
        change: format!("drift-{}", phase.environment.name),
        ..crate::runner::session::new_writer(&ws, actions.as_ref())
    };
    let mut run = RunInfo {
        checked_at: runner::now(),
        run_url: actions.as_ref().and_then(ActionsContext::run_url),
        gates: None,
    };

    let started: Vec<Event> = phase
        .projects
        .iter()
        .map(|p| event(&writer, &phase, &p.name, None, EventKind::StepStarted))
        .collect();
    journal(
        &ws,
        actions.as_ref(),
        args.token.clone(),
        &writer.change,
        &started,
    )?;

    let engine = CliEngine::from_config(&cfg.engine, &ws.base_dir);
    let plan_dir = absolute(&ws.out_dir(None).join("drift"))?;
    std::fs::create_dir_all(&plan_dir).map_err(|e| Error::io(&plan_dir, e))?;
    let mut results = Vec::new();
    let mut plans = Vec::new();
    for project in &phase.projects {
        match detect(&ws, &phase, project, &engine, &plan_dir) {
            Ok((d, plan)) => {
                results.push(d);
                plans.push(plan);
            }
            Err(e) => {
                let failed = event(
                    &writer,
                    &phase,
                    &project.name,
                    None,
                    EventKind::StepFailed {
                        error: e.to_string(),
                        class: ErrorClass::Other,
                    },
                );
                journal(
                    &ws,
                    actions.as_ref(),
                    args.token.clone(),
                    &writer.change,
                    &[failed],
                )?;
                return Err(e);
            }
        }
    }

    // The plans drift makes are gated like every other plan: what an apply
    // would change now is judged, and the verdicts are journaled.
    let gates = crate::runner::gated::gate(
        &ws,
        &phase,
        &plans,
        &crate::cli::GateInputs::default(),
        &absolute(&ws.out_dir(None))?,
    )?;
    run.gates = Some(gates.text_line().trim_start_matches("gates: ").to_string());
    let anchor = drift::health::anchor(cfg, &phase.environment.name);
    let health = crate::runner::health::probe(&ws, &phase, &engine, anchor.as_deref())?;
    let healths: Vec<Option<&ProjectHealth>> =
        results.iter().map(|d| health.of(&d.project)).collect();
    let issues_on = !args.no_issues && cfg.drift.issues.unwrap_or(true);
    let outcomes = match (&actions, issues_on) {
        (Some(ctx), true) => sync_issues(ctx, cfg, &args, &results, &healths, &run)?,
        (None, true) => {
            tracing::info!("not in GitHub Actions: no drift issues are opened or closed");
            vec![None; results.len()]
        }
        (_, false) => vec![None; results.len()],
    };

    let mut done = Vec::new();
    for plan in &plans {
        done.extend(crate::runner::gated::gate_events(
            &writer,
            &ws,
            &phase,
            plan,
            &gates,
            Step::Plan,
        ));
    }
    for ((d, issue), h) in results.iter().zip(&outcomes).zip(&healths) {
        if let Some(h) = h {
            done.push(writer.event(
                &phase.name,
                Some(&d.project),
                Step::Verify,
                Some(&d.digest),
                EventKind::VerificationFinished {
                    status: h.status,
                    checks: h.checks.clone(),
                },
            ));
        }
        done.push(event(
            &writer,
            &phase,
            &d.project,
            Some(&d.digest),
            EventKind::DriftChecked {
                drifted: d.drifted.len(),
                pending: d.pending.len(),
                issue_action: issue
                    .as_ref()
                    .map(|i| serde_json::to_value(i.action).unwrap_or_default())
                    .and_then(|v| v.as_str().map(str::to_owned)),
                issue: issue.as_ref().and_then(|i| i.number),
            },
        ));
        done.push(event(
            &writer,
            &phase,
            &d.project,
            Some(&d.digest),
            EventKind::StepSucceeded { plan: None },
        ));
    }
    journal(
        &ws,
        actions.as_ref(),
        args.token.clone(),
        &writer.change,
        &done,
    )?;

    let code = drift::exit_code(&results, cfg.drift.on_drift)
        .max(drift::health::exit_code(&health.projects));
    let code = match code {
        // The checks ran, but an output could not be read: the engine failed.
        _ if !health.engine_failures.is_empty() => ExitCode::External,
        1 => ExitCode::Refused,
        _ => ExitCode::Success,
    };
    let count = |s: CheckStatus| health.projects.iter().map(|h| h.count(s)).sum();
    let out = Output {
        environment: &phase.environment.name,
        drifted: results.iter().any(ProjectDrift::is_drifted),
        drifted_resources: results.iter().map(|d| d.drifted.len()).sum(),
        healthy: !health.projects.iter().any(ProjectHealth::needs_attention),
        failing_checks: count(CheckStatus::Fail),
        warning_checks: count(CheckStatus::Warn),
        projects: results
            .iter()
            .zip(&outcomes)
            .zip(&healths)
            .map(|((d, i), h)| ProjectOut {
                drift: d,
                is_drifted: d.is_drifted(),
                health: *h,
                issue: i.as_ref(),
            })
            .collect(),
        gates: gates.text_line(),
        exit_code: code as i32,
    };
    if let Some(ctx) = &actions {
        if let Some(file) = ctx.output_file.as_deref() {
            write_outputs(file, &out)?;
        }
        if let Some(file) = ctx.summary_file.as_deref() {
            let pairs: Vec<_> = results.iter().zip(healths.iter().copied()).collect();
            crate::ci::summary::append_summary(file, &render_health::job_summary(&pairs, &run))
                .map_err(|e| Error::External(e.to_string()))?;
        }
    }
    print(&out, args.format)?;
    if !health.engine_failures.is_empty() {
        return Err(Error::External(format!(
            "the output checks could not read Terraform's outputs: {}",
            health.engine_failures.join("; ")
        )));
    }
    Ok(code)
}

/// The environment's phase (every project, or the one asked for).
fn environment_phase(cfg: &Config, args: &DriftArgs) -> Result<ResolvedPhase> {
    let mut phase = crate::config::resolve_phases(cfg, None)
        .into_iter()
        .find(|p| p.environment.name == args.env)
        .ok_or_else(|| {
            let known: Vec<&str> = cfg.environments.iter().map(|e| e.name.as_str()).collect();
            Error::Input(format!(
                "--env {}: no such environment in phasegate.yml (known: {})",
                args.env,
                known.join(", ")
            ))
        })?;
    if let Some(name) = &args.project {
        phase.projects.retain(|p| &p.name == name);
        if phase.projects.is_empty() {
            return Err(Error::Input(format!(
                "--project {name}: no such project in phasegate.yml"
            )));
        }
    }
    Ok(phase)
}

/// Both plans of one project, folded, and the normal plan for the gates.
fn detect(
    ws: &Workspace,
    phase: &ResolvedPhase,
    project: &crate::config::Project,
    engine: &dyn IacEngine,
    plan_dir: &Path,
) -> Result<(ProjectDrift, crate::runner::projects::ProjectPlan)> {
    let env = &phase.environment.name;
    let file = |kind: &str| plan_dir.join(format!("{}-{env}-{kind}.tfplan", project.name));
    let refresh_req = runner::plan_request(ws, phase, project, file("refresh"))?;
    engine.init(&refresh_req)?;
    if let Some(w) = &refresh_req.workspace {
        engine.select_workspace(&refresh_req, w)?;
    }
    engine.plan_refresh_only(&refresh_req)?;
    let (refresh, _) = show(engine, &refresh_req, &project.name, "refresh-only")?;
    let plan_req = PlanRequest {
        plan_file: file("plan"),
        ..refresh_req
    };
    engine.plan(&plan_req)?;
    let (planned, json) = show(engine, &plan_req, &project.name, "plan")?;
    let plan = crate::runner::projects::ProjectPlan {
        name: project.name.clone(),
        dir: plan_req.dir.clone(),
        changes: planned.clone().into(),
        plan_json: json,
        inputs: vec![],
    };
    Ok((drift::summarize(&project.name, env, refresh, planned), plan))
}

/// A plan's `show -json`, parsed through the one parse that registers its
/// sensitive strings, with the text for the policy gate.
fn show(
    engine: &dyn IacEngine,
    req: &PlanRequest,
    project: &str,
    kind: &str,
) -> Result<(ChangeSet, String)> {
    let json = engine.show_json(req)?;
    let cs = crate::runner::projects::parse_requested(
        &json,
        req,
        &format!("{project} ({kind} show -json)"),
    )?;
    if cs.plan_failed() {
        return Err(Error::External(format!(
            "{project}: Terraform reported errors in the {kind} plan; drift cannot be judged"
        )));
    }
    Ok((cs, json))
}

/// Opens, updates or closes each project's issue.
fn sync_issues(
    ctx: &ActionsContext,
    cfg: &Config,
    args: &DriftArgs,
    results: &[ProjectDrift],
    healths: &[Option<&ProjectHealth>],
    run: &RunInfo,
) -> Result<Vec<Option<IssueOutcome>>> {
    let token = args.token.clone().filter(|t| !t.trim().is_empty());
    if token.is_none() {
        tracing::warn!("no GITHUB_TOKEN: drift issues are not opened or closed");
        return Ok(vec![None; results.len()]);
    }
    let (rt, client) = forge::connect_as(token, Some(cfg))?;
    let label = cfg
        .drift
        .label
        .clone()
        .unwrap_or_else(|| DEFAULT_LABEL.to_owned());
    let mut out = Vec::new();
    for (d, health) in results.iter().zip(healths.iter().copied()) {
        let target = IssueTarget {
            repo: forge::repo_of(ctx),
            project: d.project.clone(),
            environment: d.environment.clone(),
            label: label.clone(),
        };
        let marker = issues::drift_marker(&d.project, &d.environment);
        let body = |budget: usize| {
            let room = budget.saturating_sub(marker.chars().count() + 2);
            // Health is bounded by the checks declared; drift gets the rest.
            let section = health
                .map(|h| render_health::issue_section(h, &d.environment, run, room / 2))
                .unwrap_or_default();
            let room = room.saturating_sub(section.chars().count());
            let drift = if d.is_drifted() {
                issue_body(d, run, room)
            } else {
                render_health::no_drift_line(d, run)
            };
            format!("{marker}\n{drift}\n{section}")
        };
        let attention = health.is_some_and(ProjectHealth::needs_attention);
        let desired = if d.is_drifted() || attention {
            Desired::Drifted {
                title: render_health::issue_title(d, health),
                body: &body,
            }
        } else {
            Desired::Clean {
                comment: match health {
                    Some(h) => render_health::closed_comment(d, h, run),
                    None => closed_comment(&d.project, &d.environment, run),
                },
            }
        };
        let outcome = rt.block_on(issues::sync(&client, &target, &desired))?;
        if let Some(url) = &outcome.url {
            tracing::info!(project = %d.project, action = ?outcome.action, %url, "drift issue");
        }
        out.push(Some(outcome));
    }
    Ok(out)
}

fn event(
    writer: &Writer,
    phase: &ResolvedPhase,
    project: &str,
    digest: Option<&str>,
    kind: EventKind,
) -> Event {
    writer.event(&phase.name, Some(project), Step::Plan, digest, kind)
}

/// Appends to the pseudo-change's journal; without a usable store the run is
/// reported but not journaled (as `plan` does).
fn journal(
    ws: &Workspace,
    actions: Option<&ActionsContext>,
    token: Option<String>,
    change: &str,
    events: &[Event],
) -> Result<()> {
    let runner = match runner::Runner::open(ws, actions, token) {
        Ok(runner) => runner,
        Err(e) => {
            tracing::warn!("the drift run is not journaled: {e}");
            return Ok(());
        }
    };
    runner
        .rt
        .block_on(runner::append(&runner.store, change, events))
}

/// `drifted`, counts and issue URLs as step outputs.
fn write_outputs(file: &Path, out: &Output<'_>) -> Result<()> {
    let urls: Vec<&str> = out
        .projects
        .iter()
        .filter_map(|p| p.issue.and_then(|i| i.url.as_deref()))
        .collect();
    let drifted_projects = out.projects.iter().filter(|p| p.is_drifted).count();
    crate::ci::outputs::write_outputs(
        file,
        &[
            ("drifted", out.drifted.to_string()),
            ("drifted_resources", out.drifted_resources.to_string()),
            ("drifted_projects", drifted_projects.to_string()),
            ("drift_issues", urls.join("\n")),
            ("healthy", out.healthy.to_string()),
            ("failing_checks", out.failing_checks.to_string()),
            ("warning_checks", out.warning_checks.to_string()),
        ],
    )
    .map_err(|e| Error::External(e.to_string()))
}

fn print(out: &Output<'_>, format: OutputFormat) -> Result<()> {
    if format == OutputFormat::Json {
        let text = serde_json::to_string_pretty(out)
            .map_err(|e| Error::External(format!("cannot write the JSON output: {e}")))?;
        println!("{}", crate::redact::global().apply(&text));
        return Ok(());
    }
    let mut text = String::new();
    for p in &out.projects {
        let d = p.drift;
        let issue = p
            .issue
            .and_then(|i| i.url.as_deref())
            .map(|u| format!(" (issue {u})"))
            .unwrap_or_default();
        if d.is_drifted() {
            text.push_str(&format!(
                "{} in {}: {} resource(s) changed outside Terraform{issue}\n",
                d.project,
                d.environment,
                d.drifted.len()
            ));
            for r in &d.drifted {
                text.push_str(&format!(
                    "  {} {}: {}\n",
                    r.address,
                    r.what,
                    r.attributes.join(", ")
                ));
            }
        } else {
            text.push_str(&format!(
                "{} in {}: no drift{issue}\n",
                d.project, d.environment
            ));
        }
        if !d.pending.is_empty() {
            text.push_str(&format!(
                "  an apply now: {}\n",
                crate::render::counts_line(&d.pending_counts)
            ));
        }
        if let Some(h) = p.health {
            // The verify table, headed as what it is here.
            let table = crate::render::verify::table_text(&d.project, h.status, &h.checks);
            text.push_str(&table.replacen(": verification ", ": health ", 1));
            text.push('\n');
        }
    }
    text.push_str(&format!("{}\n", out.gates));
    print!("{}", crate::redact::global().apply(&text));
    Ok(())
}
