//! The one path every plan the runner makes takes into a change: `plan`,
//! apply's re-plan, rollback's revert plan and drift all plan through
//! [`engine_plan`] (so every sensitive string reaches the redactor), run the
//! gates through [`gate`], and journal the plan only together with its gate
//! verdicts ([`plan_events`]). The step machine refuses to apply a digest
//! without gate verdicts that allow it, so a plan journaled any other way
//! could never be applied.

use std::path::Path;

use crate::cli::GateInputs;
use crate::config::ResolvedPhase;
use crate::error::Result;
use crate::iac::{self, IacEngine, PlanRequest};
use crate::journal::{Event, EventKind, Step};
use crate::runner::gating::{self, GateOutcome, GateSet};
use crate::runner::projects::{parse_requested, ProjectPlan};
use crate::runner::session::{plan_record, Writer};
use crate::runner::workspace::Workspace;

/// Plans `req` with the engine (init, workspace, `plan -out`, `show -json`)
/// and parses the plan, registering its sensitive strings with the redactor.
pub fn engine_plan(
    engine: &dyn IacEngine,
    req: &PlanRequest,
    project: &str,
    origin: &str,
) -> Result<ProjectPlan> {
    let (_, json) = iac::plan_project(engine, req)?;
    let changes = parse_requested(&json, req, &format!("{project} ({origin})"))?;
    Ok(ProjectPlan {
        name: project.to_string(),
        dir: req.dir.clone(),
        changes: changes.into(),
        plan_json: json,
        inputs: vec![],
    })
}

/// Every gate over `projects`, as `plan` runs them.
pub fn gate(
    ws: &Workspace,
    phase: &ResolvedPhase,
    projects: &[ProjectPlan],
    inputs: &GateInputs,
    out_dir: &Path,
) -> Result<GateOutcome> {
    gating::evaluate(ws, phase, projects, inputs, out_dir, GateSet::All)
}

/// The gate verdicts of one project's plan as events of `step`: the
/// acknowledgements the change plan gave, each gate's verdict, and a refusal
/// for each gate that blocks.
pub fn gate_events(
    writer: &Writer,
    ws: &Workspace,
    phase: &ResolvedPhase,
    project: &ProjectPlan,
    gates: &GateOutcome,
    step: Step,
) -> Vec<Event> {
    let digest = Some(project.changes.digest.as_str());
    let name = project.name.as_str();
    let mut events = crate::runner::approve::acknowledgement_events(
        writer,
        &phase.name,
        name,
        digest,
        gates,
        ws.change.as_ref(),
    );
    for e in &mut events {
        e.step = step;
    }
    for gate in &gates.runs {
        let blocking = gate.verdict.stops();
        events.push(writer.event(
            &phase.name,
            Some(name),
            step,
            digest,
            EventKind::GateEvaluated {
                gate: gate.key.to_string(),
                verdict: crate::render::verdict::words(gate.verdict).key.to_string(),
                blocking,
            },
        ));
        // A blocking gate refuses the plan: journaled as a refusal, so the
        // journal and the comment say so where an apply's would be.
        if blocking && step == Step::Gate {
            events.push(writer.event(
                &phase.name,
                Some(name),
                step,
                digest,
                EventKind::Refusal {
                    what: "gate".into(),
                    why: format!(
                        "the {} gate blocks plan {} of {name}; fix the change or acknowledge it in the change plan",
                        gate.key,
                        crate::journal::short_digest(&project.changes.digest),
                    ),
                    command: Some(format!("phasegate plan --phase {}", phase.index)),
                },
            ));
        }
    }
    events
}

/// A project's plan as the journal keeps it: the plan with its digest and
/// saved file, then its gate verdicts for that digest.
pub fn plan_events(
    writer: &Writer,
    ws: &Workspace,
    phase: &ResolvedPhase,
    project: &ProjectPlan,
    gates: &GateOutcome,
    plan_file: Option<&Path>,
    base: Option<&str>,
) -> Result<Vec<Event>> {
    let mut record = plan_record(&project.changes, plan_file)?;
    record.base = base.map(str::to_string);
    record.inputs = project.inputs.clone();
    let mut events = vec![writer.event(
        &phase.name,
        Some(&project.name),
        Step::Plan,
        Some(&project.changes.digest),
        EventKind::StepSucceeded { plan: Some(record) },
    )];
    events.extend(gate_events(writer, ws, phase, project, gates, Step::Gate));
    // What the gates found, for `verify` to check again after apply.
    events.extend(crate::runner::applied_gate::plan_events(
        writer,
        &phase.name,
        &project.name,
        Some(&project.changes.digest),
        &project.changes,
        gates,
    ));
    Ok(events)
}

/// Like [`engine_plan`] in a directory already initialized (and its
/// workspace selected): `plan -out` and `show -json` only.
pub fn initialized_plan(
    engine: &dyn IacEngine,
    req: &PlanRequest,
    project: &str,
    origin: &str,
) -> Result<ProjectPlan> {
    engine.plan(req)?;
    let json = engine.show_json(req)?;
    let changes = parse_requested(&json, req, &format!("{project} ({origin})"))?;
    Ok(ProjectPlan {
        name: project.to_string(),
        dir: req.dir.clone(),
        changes: changes.into(),
        plan_json: json,
        inputs: vec![],
    })
}

/// The commit the change started from, recorded with its plans (see
/// `PlanRecord::base`); `None` outside a git repository.
pub fn change_base(ws: &Workspace) -> Option<String> {
    let branch = ws
        .config
        .as_ref()
        .and_then(|c| c.workflows.default_branch.as_deref())
        .unwrap_or("main");
    let dir = crate::runner::session::absolute(&ws.base_dir).ok()?;
    crate::runner::rollback::tree::change_base(&dir, branch)
}
