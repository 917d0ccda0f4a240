//! The gates on the applied state, around the pure `gates::security::applied`
//! and `gates::policy::applied`: at plan time, what the gates found goes into
//! the journal (`gate_findings`); at `verify`, the project's state (`show
//! -json`) is read, its sensitive values registered with the redactor, and
//! the security gate and the team's policies run on it, giving one check
//! per finding the plan could not check until apply and per finding new
//! after apply (kinds `security` and `policy`).

use std::collections::BTreeMap;

use crate::config::ResolvedPhase;
use crate::error::Result;
use crate::gates::{policy, security};
use crate::journal::{
    CheckResult, Event, EventKind, GateFinding, ProjectProgress, ResourceOutcome, Step, StepState,
};
use crate::plan::{self, Action, ChangeSet};
use crate::runner::gating::{security_acknowledgements, GateOutcome};
use crate::runner::session::Writer;
use crate::runner::workspace::Workspace;

/// The `gate_findings` events of one project's plan: one per gate that
/// found anything on it.
pub fn plan_events(
    writer: &Writer,
    phase: &str,
    project: &str,
    digest: Option<&str>,
    cs: &ChangeSet,
    gates: &GateOutcome,
) -> Vec<Event> {
    let mut found: Vec<(&str, Vec<GateFinding>)> = vec![];
    if let Some(report) = gates
        .get("security")
        .and_then(|g| serde_json::from_value::<security::SecurityReport>(g.json.clone()).ok())
    {
        found.push(("security", security::applied::plan_findings(cs, &report)));
    }
    if let Some(report) = gates
        .get("policy")
        .and_then(|g| serde_json::from_value::<policy::PolicyReport>(g.json.clone()).ok())
    {
        found.push(("policy", policy::applied::plan_findings(&report, project)));
    }
    found
        .into_iter()
        .filter(|(_, f)| !f.is_empty())
        .map(|(gate, findings)| {
            writer.event(
                phase,
                Some(project),
                Step::Gate,
                digest,
                EventKind::GateFindings {
                    gate: gate.into(),
                    findings,
                },
            )
        })
        .collect()
}

/// `verify`'s checks of the gates on the applied state of a project whose
/// apply succeeded (none otherwise). `state` runs the engine; when it
/// fails, the engine seam has recorded the failure and the step fails with
/// it, so no check is added here.
pub fn verify_checks(
    ws: &Workspace,
    phase: &ResolvedPhase,
    project: Option<&ProjectProgress>,
    state: impl FnOnce() -> std::result::Result<String, String>,
) -> Result<Vec<CheckResult>> {
    let Some(p) = project.filter(|p| p.apply == StepState::Succeeded) else {
        return Ok(vec![]);
    };
    match state() {
        Ok(json) => checks(ws, phase, p, &json, chrono::Utc::now().date_naive()),
        Err(_) => Ok(vec![]),
    }
}

/// The gates again on `project`'s applied state (`state_json`, the
/// engine's `show -json` without a plan file). Evidence is redacted.
pub fn checks(
    ws: &Workspace,
    phase: &ResolvedPhase,
    project: &ProjectProgress,
    state_json: &str,
    today: chrono::NaiveDate,
) -> Result<Vec<CheckResult>> {
    let origin = format!("show -json (state of {})", project.project);
    let state = plan::parse_state_json(state_json, &origin)?;
    let redactor = crate::redact::global();
    let placeholders = [plan::SENSITIVE_MASK, plan::UNKNOWN_MARK];
    for secret in &state.sensitive_values.0 {
        if !placeholders.contains(&secret.as_str()) {
            redactor.add_sensitive(secret);
        }
    }
    let planned = |gate: &str| project.gate_findings.get(gate).cloned().unwrap_or_default();
    let touched = touched(project, &planned("security"));
    let acknowledgements = ws
        .change
        .as_ref()
        .map(|c| c.acknowledgements.clone())
        .unwrap_or_default();

    let ctx = security::SecurityContext {
        policy: phase.environment.security_policy,
        protected: phase.environment.protected,
        phase: Some(phase.name.clone()),
        acknowledgements: security_acknowledgements(&acknowledgements),
        today,
        imported: vec![],
        unknown: ws
            .config
            .as_ref()
            .map(|c| c.security.unknown)
            .unwrap_or_default(),
    };
    let applied = state.as_change_set(&touched);
    let (rechecked, secrets) = security::applied::recheck(&applied, &planned("security"), &ctx);
    for secret in &secrets {
        redactor.add(secret);
    }
    let mut out: Vec<CheckResult> = rechecked
        .iter()
        .map(security::applied::Recheck::check)
        .collect();

    let input = policy::applied::state_input(&state, &touched);
    if let Some(found) =
        crate::runner::policy::applied_findings(ws, phase, &project.project, &input)?
    {
        out.extend(policy::applied::recheck(
            found,
            &planned("policy"),
            &policy::AckContext {
                phase: Some(phase.name.clone()),
                acknowledgements,
                today,
            },
        ));
    }
    for c in &mut out {
        c.evidence = redactor.apply(&c.evidence);
    }
    Ok(out)
}

/// What the change created, updated or replaced, by its apply's results;
/// a resource the plan could not check is in it whatever they say.
fn touched(project: &ProjectProgress, planned: &[GateFinding]) -> BTreeMap<String, Action> {
    let mut out: BTreeMap<String, Action> = project
        .results
        .iter()
        .filter(|r| r.outcome == ResourceOutcome::Applied)
        .filter_map(|r| {
            let action: Action =
                serde_json::from_value(serde_json::Value::String(r.action.clone())).ok()?;
            security::checked(action).then(|| (r.address.clone(), action))
        })
        .collect();
    for f in planned.iter().filter(|f| f.unknown.is_some()) {
        if let Some(a) = &f.address {
            out.entry(a.clone()).or_insert(Action::Update);
        }
    }
    out
}
