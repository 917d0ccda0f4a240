//! Progress, derived: the journal folded into where every phase, project and
//! step stands, an overall state, and the next command to run. Nothing here
//! is stored; every reader folds the same events and gets the same view.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::event::{
    ApprovalSource, CheckResult, CheckStatus, EngineExit, EngineProcess, Event, EventKind,
    GateFinding, LockOwner, PlanRecord, ResourceOutcome, ResourceResult, ReviewVerdict, RunRef,
    Step,
};
use super::operation::{Ended, OperationRecord, OperationState};

/// One phase of the change as the config resolves it: what the fold walks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PhaseRef {
    /// 1-based position.
    pub index: usize,
    pub name: String,
    pub environment: String,
    pub projects: Vec<String>,
    /// The environment needs a recorded approval before an apply (or the
    /// phase has an irreversible step).
    pub approval_required: bool,
    /// The phase's operation steps, in the order they run.
    pub steps: Vec<StepRef>,
    /// An approval by the environment's `approvals.auto` rule counts: the
    /// environment has a rule, no GitHub reviewers, and no irreversible step.
    pub rule_may_approve: bool,
}

/// One operation step of a phase, as the fold needs it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepRef {
    pub id: String,
    /// It declares a rollback command.
    pub has_rollback: bool,
    /// The phase's Terraform apply requires it (directly or through other
    /// steps): it runs before the apply.
    pub before_apply: bool,
    pub irreversible: bool,
}

/// Where one operation step of a phase stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperationProgress {
    pub id: String,
    #[serde(skip)]
    pub has_rollback: bool,
    pub before_apply: bool,
    pub irreversible: bool,
    #[serde(flatten)]
    pub state: OperationState,
    /// The step's records, oldest first (not shown: `state` folds them).
    #[serde(skip)]
    pub records: Vec<OperationRecord>,
}

impl Staleness {
    /// Why, in words, for `project`'s plan in `environment`.
    pub fn why(&self, project: &str, environment: &str) -> String {
        stale_why(&self.by_change, &self.inputs, project, environment)
    }
}

/// Why `project`'s plan in `environment` is stale: change `by_change`
/// applied the project itself, or (with `inputs`) an upstream apply changed
/// what the plan read.
pub fn stale_why(by_change: &str, inputs: &[String], project: &str, environment: &str) -> String {
    if inputs.is_empty() {
        format!(
            "change {by_change} applied {project} in {environment} after it was made, so it is against an older state"
        )
    } else {
        format!(
            "an upstream apply in {environment} changed what it read: {}",
            inputs.join(", ")
        )
    }
}

impl OperationProgress {
    pub fn succeeded(&self) -> bool {
        matches!(self.state.ended, Some(Ended::Succeeded { .. }))
    }
}

/// Why a plan is stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Staleness {
    pub by_change: String,
    pub link: Option<String>,
    pub time: String,
    /// The inputs whose upstream outputs changed (`<var> (<source>)`);
    /// empty when another change applied the project itself.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    #[default]
    Pending,
    InProgress,
    Succeeded,
    Failed,
    Skipped,
    RolledBack,
}

impl StepState {
    /// The state in words, for messages.
    pub fn word(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::InProgress => "in progress",
            StepState::Succeeded => "succeeded",
            StepState::Failed => "failed",
            StepState::Skipped => "skipped",
            StepState::RolledBack => "rolled back",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Overall {
    NotStarted,
    InProgress,
    /// A gate stops the phase until the change is fixed or acknowledged.
    Blocked,
    AwaitingApproval,
    Failed,
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextStep {
    /// A command a person can copy.
    pub command: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approval {
    pub approver: String,
    pub source: ApprovalSource,
    pub digest: Option<String>,
    pub at: String,
    pub run: RunRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    pub file: String,
    pub sha256: String,
    pub serial: Option<u64>,
    pub lineage: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub what: String,
    pub why: String,
    pub command: Option<String>,
}

/// An apply that started and has not finished: its engine, how a signal
/// stopped it, and what its re-verification decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct InFlight {
    pub engine: Option<EngineProcess>,
    pub stopped: Option<Stopped>,
    /// The latest refusal of the re-verification (`interrupted`, `retry`,
    /// `engine-running`, `state-locked`): its command is the next step.
    pub decision: Option<Refusal>,
}

/// phasegate received a signal during the apply and stopped its engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stopped {
    pub signal: String,
    pub engine: EngineExit,
    pub exit_code: Option<i32>,
}

/// The refusals of a re-verification after an interrupted apply: each names
/// the decision to make, and status names the same command.
pub const REVERIFY_REFUSALS: [&str; 4] = ["interrupted", "retry", "engine-running", "state-locked"];

/// What the reader of the journal can see of a process it names: status
/// looks on its own host; the fold itself never looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Running,
    Gone,
    /// On another host, or not looked at.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub status: CheckStatus,
    pub checks: Vec<CheckResult>,
    pub digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    pub verdict: ReviewVerdict,
    pub reasons: Vec<String>,
    pub report: Option<String>,
    /// The phase digest the review judged.
    pub digest: Option<String>,
    pub time: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ProjectProgress {
    pub project: String,
    /// This project's current plan went stale: another change applied it in
    /// this environment since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale: Option<Staleness>,
    /// The upstream outputs (`<project>.outputs.<name>`) its plan waits
    /// for; empty once it is planned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting_on: Vec<String>,
    pub plan: StepState,
    pub apply: StepState,
    pub verify: StepState,
    pub review: StepState,
    /// The digest of the latest successful plan.
    pub digest: Option<String>,
    pub planned: Option<PlanRecord>,
    /// The run and time of the latest successful plan.
    pub plan_run: Option<RunRef>,
    pub plan_time: Option<String>,
    /// Gate verdicts for the latest plan.
    pub gates: BTreeMap<String, String>,
    pub blocking_gates: Vec<String>,
    /// Gate findings on the latest plan, by gate (`security`, `policy`):
    /// what `verify` checks again on the applied state.
    pub gate_findings: BTreeMap<String, Vec<GateFinding>>,
    pub acknowledgements: Vec<String>,
    pub checkpoint: Option<Checkpoint>,
    pub applied_digest: Option<String>,
    /// The last apply's per-resource results.
    pub results: Vec<ResourceResult>,
    pub converged: Option<bool>,
    /// The last verification of the applied digest: its status and checks.
    pub verification: Option<Verification>,
    pub lock: Option<LockOwner>,
    pub last_error: Option<String>,
    pub last_refusal: Option<Refusal>,
    /// The latest revert plan (`phasegate rollback`) and what became of it.
    pub revert: Option<Revert>,
    /// The apply in progress, while it is.
    pub in_flight: Option<InFlight>,
}

/// A revert plan: the change's base configuration planned against the
/// current state. Its gates, checkpoint and apply are its own, so they never
/// overwrite the phase's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Revert {
    pub digest: Option<String>,
    pub planned: PlanRecord,
    pub plan_run: RunRef,
    pub plan_time: String,
    pub gates: BTreeMap<String, String>,
    pub blocking_gates: Vec<String>,
    /// The checkpoint taken before the revert (or a state restore).
    pub checkpoint: Option<Checkpoint>,
    /// The digest whose revert plan was applied.
    pub applied_digest: Option<String>,
    pub results: Vec<ResourceResult>,
}

impl ProjectProgress {
    /// Its current plan has not been applied (one with nothing to apply
    /// included): what it judged, it judged against the state it saw.
    pub fn plan_unapplied(&self) -> bool {
        self.apply == StepState::Pending || self.applied_digest.as_deref() != self.digest.as_deref()
    }

    /// Every required gate gave a verdict for the current digest.
    pub fn gated(&self) -> bool {
        REQUIRED_GATES.iter().all(|g| self.gates.contains_key(*g))
    }

    /// Applied and shown converged by a re-plan, or nothing to apply.
    pub fn done(&self) -> bool {
        // A plan made stale since (an upstream's outputs changed under it)
        // says nothing about what is deployed now.
        if self.stale.is_some() {
            return false;
        }
        match self.apply {
            StepState::Succeeded => self.converged == Some(true),
            StepState::Skipped => true,
            _ => false,
        }
    }

    /// Applied, failed and untouched resources of the last apply.
    /// Applied (or nothing to apply): what review and the next
    /// environment need before anything else.
    pub fn applied(&self) -> bool {
        matches!(self.apply, StepState::Succeeded | StepState::Skipped)
    }

    /// Verified: a verification of the applied digest is journaled, or
    /// nothing was applied, so there is nothing to verify.
    pub fn verified(&self) -> bool {
        match self.apply {
            StepState::Skipped => true,
            StepState::Succeeded => self.verification.as_ref().is_some_and(|v| {
                v.digest.is_none() || v.digest.as_deref() == self.applied_digest.as_deref()
            }),
            _ => false,
        }
    }

    /// The security findings the latest plan could not check until apply.
    pub fn unknown_at_plan(&self) -> Vec<&GateFinding> {
        self.gate_findings
            .get("security")
            .into_iter()
            .flatten()
            .filter(|f| f.unknown.is_some())
            .collect()
    }

    /// The checks of the applied digest's verification that ran a gate
    /// again on the applied state.
    pub fn applied_gate_checks(&self) -> Vec<&CheckResult> {
        self.verification
            .as_ref()
            .filter(|_| self.verified())
            .into_iter()
            .flat_map(|v| &v.checks)
            .filter(|c| c.is_applied_gate())
            .collect()
    }

    pub fn result_counts(&self) -> (usize, usize, usize) {
        let count = |o| self.results.iter().filter(|r| r.outcome == o).count();
        (
            count(ResourceOutcome::Applied),
            count(ResourceOutcome::Failed),
            count(ResourceOutcome::Untouched),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhaseProgress {
    pub index: usize,
    pub name: String,
    pub environment: String,
    pub approval_required: bool,
    pub state: StepState,
    /// The digest an approval of this phase names (see [`phase_digest`]).
    pub digest: Option<String>,
    pub approvals: Vec<Approval>,
    /// The latest review of the phase.
    pub review: Option<Review>,
    pub projects: Vec<ProjectProgress>,
    /// Each operation step's digest, as its latest preview journaled it
    /// (`config::steps::step_digest`): part of the phase digest.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub step_digests: BTreeMap<String, String>,
    /// The phase's operation steps, in the order they run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<OperationProgress>,
    #[serde(skip)]
    pub rule_may_approve: bool,
}

impl PhaseProgress {
    /// The approvals that name the current digest.
    pub fn approvals_of_current(&self) -> Vec<&Approval> {
        self.approvals
            .iter()
            .filter(|a| a.digest.is_some() && a.digest == self.digest)
            .collect()
    }

    pub fn done(&self) -> bool {
        self.projects.iter().all(ProjectProgress::done)
    }

    pub fn project(&self, name: &str) -> Option<&ProjectProgress> {
        self.projects.iter().find(|p| p.project == name)
    }

    /// A review of the current digest lets the next environment in.
    pub fn reviewed_ok(&self) -> bool {
        self.review
            .as_ref()
            .is_some_and(|r| r.verdict.lets_through() && r.digest == self.digest)
    }

    /// Whether the change touches any of this phase's projects: a phase it
    /// does not touch has nothing to do and holds no later phase back.
    pub fn in_change(&self) -> bool {
        !self.projects.is_empty()
    }

    /// Applied, verified and reviewed `pass` or `warn`: the step machine
    /// may enter the next environment.
    pub fn complete(&self) -> bool {
        !self.projects.is_empty()
            && self.projects.iter().all(|p| p.applied() && p.verified())
            && self.operations.iter().all(OperationProgress::succeeded)
            && self.reviewed_ok()
    }

    /// The first operation step not yet succeeded, among those before the
    /// apply (`before_apply`) or all of them.
    pub fn open_step(&self, before_apply_only: bool) -> Option<&OperationProgress> {
        self.operations
            .iter()
            .filter(|o| o.before_apply || !before_apply_only)
            .find(|o| !o.succeeded())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub change: String,
    pub overall: Overall,
    pub next: Option<NextStep>,
    pub phases: Vec<PhaseProgress>,
    /// How many events were folded.
    pub events: usize,
}

impl Progress {
    pub fn phase(&self, name: &str) -> Option<&PhaseProgress> {
        self.phases.iter().find(|p| p.name == name)
    }
}

/// The digest an approval of a phase names: the project's plan digest, or
/// for several projects a sha256 over their sorted `name:digest` lines.
pub fn phase_digest<'a>(projects: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let pairs: Vec<(&str, &str)> = projects.into_iter().collect();
    match pairs.as_slice() {
        [(_, one)] => one.to_string(),
        many => hashed_digest(many),
    }
}

/// Folds `events` of change `change` over the phases the config resolves.
/// Events of phases the config no longer has are counted but not shown.
pub fn fold(change: &str, phases: &[PhaseRef], events: &[Event]) -> Progress {
    fold_seeing(change, phases, events, &|_| Seen::Unknown)
}

/// [`fold`], with what the reader sees of the processes the journal names
/// (an apply's engine, a lock's holder): the next step then says whether an
/// apply in progress still runs, and never that a gone process does.
pub fn fold_seeing(
    change: &str,
    phases: &[PhaseRef],
    events: &[Event],
    seen: &dyn Fn(&EngineProcess) -> Seen,
) -> Progress {
    let mut view: Vec<PhaseProgress> = phases
        .iter()
        .map(|p| PhaseProgress {
            index: p.index,
            name: p.name.clone(),
            environment: p.environment.clone(),
            approval_required: p.approval_required,
            state: StepState::Pending,
            digest: None,
            approvals: vec![],
            review: None,
            step_digests: BTreeMap::new(),
            rule_may_approve: p.rule_may_approve,
            operations: p
                .steps
                .iter()
                .map(|s| OperationProgress {
                    id: s.id.clone(),
                    has_rollback: s.has_rollback,
                    before_apply: s.before_apply,
                    irreversible: s.irreversible,
                    state: OperationState::default(),
                    records: vec![],
                })
                .collect(),
            projects: p
                .projects
                .iter()
                .map(|name| ProjectProgress {
                    project: name.clone(),
                    ..Default::default()
                })
                .collect(),
        })
        .collect();
    for event in events.iter().filter(|e| e.change == change) {
        if let Some(phase) = view.iter_mut().find(|p| p.name == event.phase) {
            apply_event(phase, event);
        }
    }
    // The change's projects are those it planned somewhere: a project the
    // change never touched is no part of any phase (it must not hold a phase
    // open, nor enter its digest), and a phase none of whose projects the
    // change touched is not in the change at all (an environment's own root
    // module, changed in another environment's PR).
    let touched: BTreeSet<String> = view
        .iter()
        .flat_map(|p| &p.projects)
        .filter(|p| p.plan != StepState::Pending || !p.waiting_on.is_empty())
        .map(|p| p.project.clone())
        .collect();
    for phase in &mut view {
        phase.projects.retain(|p| touched.contains(&p.project));
    }
    for phase in &mut view {
        for op in &mut phase.operations {
            op.state = super::operation::fold(&op.records);
        }
        phase.digest = current_phase_digest(phase);
        phase.state = phase_state(phase);
    }
    let (overall, next) = overall_and_next(&view, events.is_empty(), seen);
    Progress {
        change: change.to_string(),
        overall,
        next,
        phases: view,
        events: events.len(),
    }
}

/// The phase's digest: its projects' plans and, when it has operation
/// steps, each step's digest under `step:<id>`, so approving the phase
/// approves exactly those commands and previews. `None` until every
/// project of the phase has a plan.
fn current_phase_digest(phase: &PhaseProgress) -> Option<String> {
    let projects: Option<Vec<(&str, &str)>> = phase
        .projects
        .iter()
        .map(|p| p.digest.as_deref().map(|d| (p.project.as_str(), d)))
        .collect();
    let projects = projects?;
    if phase.step_digests.is_empty() && projects.is_empty() {
        return None;
    }
    Some(phase_digest_with_steps(projects, &phase.step_digests))
}

/// [`phase_digest`] with the phase's operation steps, each step's digest
/// (`config::steps::step_digest`) under `step:<id>`. Without steps it is
/// exactly [`phase_digest`].
pub fn phase_digest_with_steps<'a>(
    projects: impl IntoIterator<Item = (&'a str, &'a str)>,
    step_digests: &BTreeMap<String, String>,
) -> String {
    let projects: Vec<(&str, &str)> = projects.into_iter().collect();
    if step_digests.is_empty() {
        return phase_digest(projects);
    }
    let steps: Vec<(String, &str)> = step_digests
        .iter()
        .map(|(id, d)| (format!("step:{id}"), d.as_str()))
        .collect();
    let mut pairs = projects;
    pairs.extend(steps.iter().map(|(k, d)| (k.as_str(), *d)));
    // Hashed even for one entry: a phase of one step must not share its
    // digest with the step's own.
    hashed_digest(&pairs)
}

fn hashed_digest(pairs: &[(&str, &str)]) -> String {
    use sha2::{Digest, Sha256};
    let mut lines: Vec<String> = pairs.iter().map(|(n, d)| format!("{n}:{d}\n")).collect();
    lines.sort();
    hex::encode(Sha256::digest(lines.concat().as_bytes()))
}

fn apply_event(phase: &mut PhaseProgress, e: &Event) {
    if let EventKind::ApprovalRecorded {
        environment,
        approver,
        source,
        at,
        ..
    } = &e.kind
    {
        // Approvals are given per environment: one recorded for another
        // environment never counts here, whatever phase it was filed under.
        if environment != &phase.environment {
            return;
        }
        // A rule never stands in for GitHub's required reviewers or for a
        // person approving an irreversible step.
        if *source == ApprovalSource::Rule && !phase.rule_may_approve {
            return;
        }
        phase.approvals.push(Approval {
            approver: approver.clone(),
            source: *source,
            digest: e.digest.clone(),
            at: at.clone(),
            run: e.run.clone(),
        });
        return;
    }
    if let EventKind::Operation { step_id, record } = &e.kind {
        if let OperationRecord::Previewed { step_digest, .. } = record {
            phase
                .step_digests
                .insert(step_id.clone(), step_digest.clone());
        }
        if let Some(op) = phase.operations.iter_mut().find(|o| &o.id == step_id) {
            op.records.push(record.clone());
        }
        return;
    }
    if let EventKind::Reviewed {
        verdict,
        reasons,
        report,
    } = &e.kind
    {
        if e.project.is_none() {
            phase.review = Some(Review {
                verdict: *verdict,
                reasons: reasons.clone(),
                report: report.clone(),
                digest: e.digest.clone(),
                time: e.time.clone(),
            });
        }
    }
    match &e.project {
        Some(name) => {
            if !phase.projects.iter().any(|p| &p.project == name) {
                phase.projects.push(ProjectProgress {
                    project: name.clone(),
                    ..Default::default()
                });
            }
            let project = phase
                .projects
                .iter_mut()
                .find(|p| &p.project == name)
                .expect("just ensured");
            apply_to_project(project, e);
        }
        None => {
            for project in &mut phase.projects {
                apply_to_project(project, e);
            }
        }
    }
}

/// What any new plan of the project (made, or waiting) replaces: the
/// digest and its run, and everything said of the plan before it.
fn new_plan(p: &mut ProjectProgress, e: &Event) {
    p.stale = None;
    p.digest = e.digest.clone();
    p.plan_run = Some(e.run.clone());
    p.plan_time = Some(e.time.clone());
    p.gates.clear();
    p.blocking_gates.clear();
    p.gate_findings.clear();
}

fn step_state(p: &mut ProjectProgress, step: Step) -> Option<&mut StepState> {
    match step {
        Step::Plan => Some(&mut p.plan),
        Step::Apply => Some(&mut p.apply),
        Step::Verify => Some(&mut p.verify),
        Step::Review => Some(&mut p.review),
        _ => None,
    }
}

fn apply_to_project(p: &mut ProjectProgress, e: &Event) {
    if e.step == Step::Rollback && apply_to_revert(p, e) {
        return;
    }
    if ends_in_flight(e) {
        p.in_flight = None;
    }
    match &e.kind {
        EventKind::StepStarted | EventKind::ApplyStarted => {
            if let Some(s) = step_state(p, e.step) {
                *s = StepState::InProgress;
            }
            if e.step == Step::Apply {
                p.in_flight = Some(InFlight::default());
            }
        }
        EventKind::EngineStarted { engine } => {
            if let Some(f) = p.in_flight.as_mut() {
                f.engine = Some(engine.clone());
            }
        }
        EventKind::Interrupted {
            signal,
            engine,
            exit_code,
            results,
        } => {
            p.results = results.clone();
            if let Some(f) = p.in_flight.as_mut() {
                f.stopped = Some(Stopped {
                    signal: signal.clone(),
                    engine: *engine,
                    exit_code: *exit_code,
                });
            }
        }
        EventKind::PlanWaiting { waiting_on } => {
            new_plan(p, e);
            p.plan = StepState::Pending;
            p.waiting_on = waiting_on.clone();
            p.planned = None;
            if p.apply != StepState::Succeeded {
                p.apply = StepState::Pending;
            }
        }
        EventKind::StepSucceeded { plan } if e.step == Step::Plan => {
            let record = plan.clone().unwrap_or_default();
            new_plan(p, e);
            p.plan = StepState::Succeeded;
            p.waiting_on.clear();
            p.last_error = None;
            if record.has_changes {
                p.apply = StepState::Pending;
                p.converged = None;
            } else {
                if p.apply != StepState::Succeeded {
                    p.apply = StepState::Skipped;
                }
                p.converged = Some(true);
            }
            p.planned = Some(record);
        }
        EventKind::StepSucceeded { .. } => {
            if let Some(s) = step_state(p, e.step) {
                *s = StepState::Succeeded;
            }
        }
        EventKind::StepFailed { error, .. } => {
            if let Some(s) = step_state(p, e.step) {
                *s = StepState::Failed;
            }
            p.last_error = Some(error.clone());
        }
        EventKind::StepSkipped { .. } => {
            if let Some(s) = step_state(p, e.step) {
                *s = StepState::Skipped;
            }
        }
        EventKind::RolledBack { .. } => p.apply = StepState::RolledBack,
        EventKind::PlanStale {
            by_change,
            link,
            inputs,
            ..
        } => {
            if e.digest.is_some() && e.digest == p.digest && p.plan_unapplied() {
                p.stale = Some(Staleness {
                    by_change: by_change.clone(),
                    link: link.clone(),
                    time: e.time.clone(),
                    inputs: inputs.clone(),
                });
            }
        }
        EventKind::GateEvaluated {
            gate,
            verdict,
            blocking,
        } => {
            if e.digest.is_some() && e.digest == p.digest {
                p.gates.insert(gate.clone(), verdict.clone());
                p.blocking_gates.retain(|g| g != gate);
                if *blocking {
                    p.blocking_gates.push(gate.clone());
                }
            }
        }
        EventKind::GateFindings { gate, findings } => {
            if e.digest.is_none() || e.digest == p.digest {
                p.gate_findings.insert(gate.clone(), findings.clone());
            }
        }
        EventKind::AcknowledgementApplied { id, .. } => {
            if !p.acknowledgements.contains(id) {
                p.acknowledgements.push(id.clone());
            }
        }
        EventKind::ApprovalRecorded { .. } => {}
        EventKind::CheckpointTaken {
            file,
            sha256,
            serial,
            lineage,
        } => {
            p.checkpoint = Some(Checkpoint {
                file: file.clone(),
                sha256: sha256.clone(),
                serial: *serial,
                lineage: lineage.clone(),
            })
        }
        EventKind::ApplyFinished { results, error, .. } => {
            p.results = results.clone();
            let failed =
                error.is_some() || results.iter().any(|r| r.outcome == ResourceOutcome::Failed);
            if failed {
                p.apply = StepState::Failed;
                p.last_error = error.clone().or_else(|| Some("a resource failed".into()));
            } else {
                p.apply = StepState::Succeeded;
                p.applied_digest = e.digest.clone();
                p.last_error = None;
            }
            p.converged = None;
        }
        EventKind::ConvergenceChecked { converged } => p.converged = Some(*converged),
        EventKind::VerificationFinished { status, checks } => {
            p.verification = Some(Verification {
                status: *status,
                checks: checks.clone(),
                digest: e.digest.clone(),
            });
            p.verify = match status {
                CheckStatus::Fail => StepState::Failed,
                _ => StepState::Succeeded,
            };
        }
        EventKind::Reviewed { verdict, .. } => {
            p.review = match verdict {
                ReviewVerdict::NeedsFixes => StepState::Failed,
                _ => StepState::Succeeded,
            };
        }
        EventKind::LockTaken { owner, .. } => p.lock = Some(owner.clone()),
        EventKind::LockReleased { .. } | EventKind::LockBroken { .. } => p.lock = None,
        // Drift runs have their own pseudo-change; nothing to fold into a phase.
        EventKind::DriftChecked { .. } => {}
        // About the journal itself (phase empty, so never folded here).
        EventKind::JournalOpened { .. } | EventKind::TornLineSetAside { .. } => {}
        // Operation steps are folded per step by `phase::operation`.
        EventKind::Operation { .. } => {}
        EventKind::Refusal { what, why, command } => {
            let refusal = Refusal {
                what: what.clone(),
                why: why.clone(),
                command: command.clone(),
            };
            if let Some(f) = p
                .in_flight
                .as_mut()
                .filter(|_| REVERIFY_REFUSALS.contains(&what.as_str()))
            {
                f.decision = Some(refusal.clone());
            }
            p.last_refusal = Some(refusal);
        }
    }
}

/// Events after which no apply of the project is in progress any more.
fn ends_in_flight(e: &Event) -> bool {
    match &e.kind {
        EventKind::ApplyFinished { .. } | EventKind::RolledBack { .. } => true,
        EventKind::StepSucceeded { .. } => e.step == Step::Plan || e.step == Step::Apply,
        EventKind::StepFailed { .. } | EventKind::StepSkipped { .. } => e.step == Step::Apply,
        _ => false,
    }
}

/// Rollback events that describe the revert plan rather than the phase's
/// plan; returns whether `e` was one. `RolledBack` and refusals still fold
/// into the project.
fn apply_to_revert(p: &mut ProjectProgress, e: &Event) -> bool {
    match &e.kind {
        EventKind::StepSucceeded { plan: Some(plan) } => {
            p.revert = Some(Revert {
                digest: e.digest.clone(),
                planned: plan.clone(),
                plan_run: e.run.clone(),
                plan_time: e.time.clone(),
                ..Default::default()
            });
        }
        EventKind::GateEvaluated {
            gate,
            verdict,
            blocking,
        } => {
            if let Some(r) = p.revert.as_mut().filter(|r| r.digest == e.digest) {
                r.gates.insert(gate.clone(), verdict.clone());
                r.blocking_gates.retain(|g| g != gate);
                if *blocking {
                    r.blocking_gates.push(gate.clone());
                }
            }
        }
        EventKind::CheckpointTaken {
            file,
            sha256,
            serial,
            lineage,
        } => {
            if let Some(r) = p.revert.as_mut() {
                r.checkpoint = Some(Checkpoint {
                    file: file.clone(),
                    sha256: sha256.clone(),
                    serial: *serial,
                    lineage: lineage.clone(),
                });
            }
        }
        EventKind::ApplyStarted => {}
        EventKind::ApplyFinished { results, error, .. } => {
            let failed =
                error.is_some() || results.iter().any(|r| r.outcome == ResourceOutcome::Failed);
            if let Some(r) = p.revert.as_mut() {
                r.results = results.clone();
                if !failed {
                    r.applied_digest = e.digest.clone();
                }
            }
            if failed {
                p.last_error = error.clone().or_else(|| Some("a resource failed".into()));
            }
        }
        _ => return false,
    }
    true
}

/// Every upstream `p` waits for is in `phase` and applied (or had nothing
/// to apply) there: a new plan can read its outputs now. An upstream
/// outside the phase is never applied by this change, so waiting for it
/// is not over.
fn upstreams_applied(phase: &PhaseProgress, p: &ProjectProgress) -> bool {
    p.waiting_on.iter().all(|source| {
        let upstream = upstream_of(source);
        phase
            .projects
            .iter()
            .find(|q| q.project == upstream)
            .is_some_and(|q| matches!(q.apply, StepState::Succeeded | StepState::Skipped))
    })
}

/// The project a waited-for source (`network.outputs.vpc_id`) names.
fn upstream_of(source: &str) -> &str {
    crate::config::inputs::InputRef::parse(source)
        .map(|r| r.project)
        .unwrap_or(source)
}

fn phase_state(phase: &PhaseProgress) -> StepState {
    let ps = &phase.projects;
    if ps.is_empty() {
        return StepState::Pending;
    }
    if ps
        .iter()
        .any(|p| p.apply == StepState::Failed || p.plan == StepState::Failed)
    {
        StepState::Failed
    } else if ps.iter().all(|p| p.apply == StepState::RolledBack) {
        StepState::RolledBack
    } else if ps.iter().all(ProjectProgress::done) {
        if ps.iter().all(|p| p.apply == StepState::Skipped) {
            StepState::Skipped
        } else {
            StepState::Succeeded
        }
    } else if ps
        .iter()
        .any(|p| p.plan != StepState::Pending || p.apply != StepState::Pending)
    {
        StepState::InProgress
    } else {
        StepState::Pending
    }
}

/// The gates every applied plan must have been through, whatever else the
/// configuration adds (the policy gate runs only where policies are set).
pub const REQUIRED_GATES: [&str; 3] = ["security", "cost", "blast"];

/// The first phase that is not done decides the overall state and the next
/// step: environments are entered in order.
fn overall_and_next(
    phases: &[PhaseProgress],
    empty: bool,
    seen: &dyn Fn(&EngineProcess) -> Seen,
) -> (Overall, Option<NextStep>) {
    let in_change = || phases.iter().filter(|p| p.in_change());
    let Some(phase) = in_change().find(|p| !p.complete()) else {
        return match in_change().next() {
            Some(_) => (Overall::Done, None),
            None => (
                Overall::NotStarted,
                phases.first().map(|p| NextStep {
                    command: format!("phasegate plan --phase {}", p.index),
                    reason: format!("plan phase {} ({})", p.name, p.environment),
                }),
            ),
        };
    };
    let n = phase.index;
    let plan = NextStep {
        command: format!("phasegate plan --phase {n}"),
        reason: format!("plan phase {} ({})", phase.name, phase.environment),
    };
    if empty {
        return (Overall::NotStarted, Some(plan));
    }
    let with = |command: String, reason: String| Some(NextStep { command, reason });
    // A project waiting for its upstreams' outputs is planned once they
    // are applied: until then the phase moves on with its upstreams.
    if let Some(p) = phase
        .projects
        .iter()
        .find(|p| !p.waiting_on.is_empty() && upstreams_applied(phase, p))
    {
        return (
            Overall::InProgress,
            with(
                plan.command,
                format!(
                    "{} waited for {}; its upstream is applied in {} now: plan again to plan it with them",
                    p.project,
                    p.waiting_on.join(", "),
                    phase.environment
                ),
            ),
        );
    }
    if let Some((p, upstream)) = phase.projects.iter().find_map(|p| {
        p.waiting_on
            .iter()
            .map(|s| upstream_of(s))
            .find(|u| !phase.projects.iter().any(|q| q.project == *u))
            .map(|u| (p, u))
    }) {
        return (
            Overall::Blocked,
            with(
                plan.command,
                format!(
                    "{} waits for {}, and this change does not apply {upstream} in {}: apply {upstream} there (or fix the input), then plan again",
                    p.project,
                    p.waiting_on.join(", "),
                    phase.environment
                ),
            ),
        );
    }
    if let Some(p) = phase
        .projects
        .iter()
        .find(|p| p.plan != StepState::Succeeded && p.waiting_on.is_empty())
    {
        let overall = match p.plan {
            StepState::Failed => Overall::Failed,
            _ => Overall::InProgress,
        };
        let reason = match p.plan {
            StepState::InProgress => format!(
                "a plan of {} is running; when it ends, plan phase {} if it did not succeed",
                p.project, phase.name
            ),
            StepState::Failed => format!("the plan of {} failed: fix it and plan again", p.project),
            _ => format!("{} has no plan in phase {} yet", p.project, phase.name),
        };
        return (overall, with(plan.command, reason));
    }
    if let Some(p) = phase.projects.iter().find(|p| !p.blocking_gates.is_empty()) {
        return (
            Overall::Blocked,
            with(
                plan.command,
                format!(
                    "the {} gate blocks {}: fix the change (or acknowledge it in the change plan), then plan again",
                    p.blocking_gates.join(", "),
                    p.project
                ),
            ),
        );
    }
    if let Some(p) = phase
        .projects
        .iter()
        .find(|p| p.apply == StepState::Pending && !p.gated() && p.waiting_on.is_empty())
    {
        return (
            Overall::Blocked,
            with(
                plan.command,
                format!(
                    "plan {} of {} has no verdict of every required gate ({}): plan again so it is gated",
                    crate::journal::short_digest(p.digest.as_deref().unwrap_or_default()),
                    p.project,
                    REQUIRED_GATES.join(", ")
                ),
            ),
        );
    }
    if let Some((p, stale)) = phase
        .projects
        .iter()
        .find_map(|p| p.stale.as_ref().map(|s| (p, s)))
    {
        return (
            Overall::Blocked,
            with(
                plan.command,
                format!(
                    "the plan of {} is stale: {}; plan again (its approval no longer counts)",
                    p.project,
                    stale.why(&p.project, &phase.environment)
                ),
            ),
        );
    }
    let apply = format!("phasegate apply --phase {n}");
    if let Some(p) = phase.projects.iter().find(|p| p.apply == StepState::Failed) {
        return (
            Overall::Failed,
            with(
                plan.command,
                format!(
                    "the apply of {} failed part-way; plan again to see what remains, then apply after review",
                    p.project
                ),
            ),
        );
    }
    if let Some(p) = phase
        .projects
        .iter()
        .find(|p| p.apply == StepState::InProgress)
    {
        let (command, reason) = in_progress_next(p, &apply, seen);
        return (Overall::InProgress, with(command, reason));
    }
    if let Some(p) = phase
        .projects
        .iter()
        .find(|p| p.apply == StepState::RolledBack)
    {
        return (
            Overall::InProgress,
            with(
                plan.command,
                format!(
                    "{} was rolled back in phase {}: fix the change and plan again",
                    p.project, phase.name
                ),
            ),
        );
    }
    let pending = phase
        .projects
        .iter()
        .any(|p| matches!(p.apply, StepState::Pending | StepState::RolledBack));
    if pending {
        if phase.approval_required && phase.approvals_of_current().is_empty() {
            let digest = phase.digest.clone().unwrap_or_default();
            let short = &digest[..digest.len().min(12)];
            return (
                Overall::AwaitingApproval,
                with(
                    format!("/phasegate approve {} {short}", phase.environment),
                    format!(
                        "plan {short} of phase {} awaits approval: approve the `{}` deployment review of the apply job, or comment this on the PR; then run `{apply}`",
                        phase.name, phase.environment
                    ),
                ),
            );
        }
        if let Some(op) = phase.open_step(true) {
            return step_next(phase, op);
        }
        return (
            Overall::InProgress,
            with(
                apply,
                format!("apply phase {} ({})", phase.name, phase.environment),
            ),
        );
    }
    if let Some(op) = phase.open_step(false) {
        return step_next(phase, op);
    }
    if let Some(p) = phase.projects.iter().find(|p| !p.verified()) {
        return (
            Overall::InProgress,
            with(
                format!("phasegate verify --phase {n}"),
                format!(
                    "{} is applied in phase {}; verify it before the phase is reviewed",
                    p.project, phase.name
                ),
            ),
        );
    }
    let review = format!("phasegate review --phase {n}");
    match &phase.review {
        Some(r) if r.digest == phase.digest && !r.verdict.lets_through() => (
            Overall::Blocked,
            with(
                plan.command,
                format!(
                    "the review of phase {} said needs-fixes ({}): fix the change and plan again, or roll it back with `phasegate rollback --phase {n}`",
                    phase.name,
                    r.reasons.join("; ")
                ),
            ),
        ),
        _ => (
            Overall::InProgress,
            with(
                review,
                format!(
                    "phase {} is applied and verified; review it before the next environment",
                    phase.name
                ),
            ),
        ),
    }
}

/// The next step for an operation step that has not succeeded: run it (or
/// continue it), or, once it failed, the first thing a person may do about
/// it (retry, its rollback, or abort), the others named in the reason.
fn step_next(phase: &PhaseProgress, op: &OperationProgress) -> (Overall, Option<NextStep>) {
    let n = phase.index;
    let id = &op.id;
    let steps = format!("phasegate steps --phase {n}");
    let next = |command: String, reason: String| Some(NextStep { command, reason });
    let irreversible = if op.irreversible {
        " (irreversible: it cannot be undone)"
    } else {
        ""
    };
    match &op.state.ended {
        Some(Ended::Failed { reason }) => {
            let mut offers = vec![];
            if op.state.attempts <= super::operation::MAX_RETRIES {
                offers.push(format!("`{steps} --retry {id}`"));
            }
            if op.has_rollback {
                offers.push(format!("`{steps} --rollback {id}`"));
            }
            offers.push(format!("`{steps} --abort {id}`"));
            let first = offers[0].trim_matches('`').to_string();
            (
                Overall::Failed,
                next(
                    first,
                    format!(
                        "step {id}{irreversible} of phase {} failed ({reason}); one of: {}",
                        phase.name,
                        offers.join(", ")
                    ),
                ),
            )
        }
        Some(Ended::RolledBack { .. } | Ended::Aborted { .. }) => (
            Overall::Failed,
            next(
                format!("phasegate plan --phase {n}"),
                format!(
                    "step {id} of phase {} was {}: fix the change and plan again",
                    phase.name,
                    if matches!(op.state.ended, Some(Ended::Aborted { .. })) {
                        "aborted"
                    } else {
                        "rolled back"
                    }
                ),
            ),
        ),
        _ if op.state.waiting => (
            Overall::InProgress,
            next(
                steps,
                format!(
                    "the poll of step {id} goes on ({} answers so far): run this to continue it",
                    op.state.ticks
                ),
            ),
        ),
        _ if op.state.executing || op.state.attempts > 0 => (
            Overall::InProgress,
            next(
                steps,
                format!(
                    "step {id} of phase {} started and has no result yet: this checks it (poll or verify) before anything runs again",
                    phase.name
                ),
            ),
        ),
        _ => (
            Overall::InProgress,
            next(
                steps,
                format!("run step {id}{irreversible} of phase {}", phase.name),
            ),
        ),
    }
}

/// The next step while an apply of `p` is in progress. The command is the
/// one the re-verification itself names: a journaled decision's, else
/// `apply`, which re-verifies (waiting first for an engine still running on
/// its host). The reason says "running" only of a process seen running.
fn in_progress_next(
    p: &ProjectProgress,
    apply: &str,
    seen: &dyn Fn(&EngineProcess) -> Seen,
) -> (String, String) {
    let name = &p.project;
    let flight = p.in_flight.clone().unwrap_or_default();
    let engine = flight.engine.as_ref().map(|e| (e.pid, seen(e)));
    let job = p.lock.as_ref().and_then(|o| {
        let pid = o.pid.filter(|_| o.run.id.is_none())?;
        let process = EngineProcess {
            pid,
            start_time: None,
            host: o.host.clone(),
        };
        Some((pid, seen(&process)))
    });
    if let Some((pid, Seen::Running)) = engine {
        let whose = match job {
            Some((job, Seen::Running)) => format!("its phasegate (pid {job}) runs too"),
            _ => "its phasegate is gone".into(),
        };
        return (
            apply.to_string(),
            format!(
                "the engine of the apply of {name} (pid {pid}) still runs on this host and {whose}; `{apply}` waits for it to end, then re-verifies what it did"
            ),
        );
    }
    if let Some((pid, Seen::Running)) = job {
        return (
            apply.to_string(),
            format!("an apply of {name} is running (phasegate pid {pid} on this host); wait for it to end"),
        );
    }
    if p.lock.is_none() {
        if let Some(d) = &flight.decision {
            if let Some(command) = &d.command {
                return (command.clone(), d.why.clone());
            }
        }
        if let Some(s) = &flight.stopped {
            let how = match (s.engine, s.exit_code) {
                (EngineExit::NotStarted, _) => "before its engine started".to_string(),
                (EngineExit::Exited, Some(code)) => {
                    format!("its engine stopped gracefully, exit code {code}")
                }
                (EngineExit::StillRunning, _) => {
                    "its engine was still stopping when phasegate ended".to_string()
                }
                _ => "its engine ended".to_string(),
            };
            return (
                apply.to_string(),
                format!(
                    "the apply of {name} was stopped by {} ({how}); `{apply}` re-verifies what it did against the state",
                    s.signal
                ),
            );
        }
    }
    let gone = matches!(engine, Some((_, Seen::Gone))) || matches!(job, Some((_, Seen::Gone)));
    let reason = if gone {
        format!(
            "the apply of {name} was interrupted (its job is gone); `{apply}` re-verifies what it did against the state"
        )
    } else {
        format!(
            "an apply of {name} started and has not finished; if its job still runs, let it end; else `{apply}` re-verifies what it did against the state"
        )
    };
    (apply.to_string(), reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(digest: &str, kind: EventKind) -> Event {
        Event {
            time: "2026-12-01T10:00:00Z".into(),
            run: RunRef::default(),
            actor: "octocat".into(),
            change: "CHG-1".into(),
            phase: "dev".into(),
            project: Some("app".into()),
            step: Step::Gate,
            digest: Some(digest.into()),
            kind,
            prev: None,
        }
    }

    fn plan(digest: &str) -> Event {
        Event {
            step: Step::Plan,
            ..ev(
                digest,
                EventKind::StepSucceeded {
                    plan: Some(PlanRecord {
                        has_changes: true,
                        ..Default::default()
                    }),
                },
            )
        }
    }

    fn found(digest: &str, id: &str) -> Event {
        ev(
            digest,
            EventKind::GateFindings {
                gate: "security".into(),
                findings: vec![GateFinding {
                    id: id.into(),
                    address: Some("aws_iam_policy.p".into()),
                    unknown: Some("policy".into()),
                }],
            },
        )
    }

    /// `events` folded over one phase, `dev`, of one project, `app`.
    fn dev_phase(events: &[Event], approval_required: bool) -> PhaseProgress {
        let refs = [PhaseRef {
            index: 1,
            name: "dev".into(),
            environment: "dev".into(),
            projects: vec!["app".into()],
            approval_required,
            steps: vec![],
            rule_may_approve: false,
        }];
        fold("CHG-1", &refs, events).phases.remove(0)
    }

    fn project(events: &[Event]) -> ProjectProgress {
        dev_phase(events, false).projects.remove(0)
    }

    fn previewed(step: &str, step_digest: &str) -> Event {
        Event {
            step: Step::Operation,
            project: None,
            digest: None,
            ..ev(
                "",
                EventKind::Operation {
                    step_id: step.into(),
                    record: OperationRecord::Previewed {
                        step_digest: step_digest.into(),
                        run: Default::default(),
                    },
                },
            )
        }
    }

    fn phase_digest_of(events: &[Event]) -> Option<String> {
        dev_phase(events, true).digest
    }

    #[test]
    fn a_step_s_preview_is_bound_into_the_phase_digest() {
        let plain = phase_digest_of(&[plan("d1")]);
        assert_eq!(
            plain.as_deref(),
            Some("d1"),
            "no steps: the plan's digest, as before"
        );
        let with_swap = phase_digest_of(&[plan("d1"), previewed("swap", "s1")]);
        assert_ne!(with_swap, plain);
        // A changed argv or preview output is a new step digest, so a new phase digest.
        let changed = phase_digest_of(&[plan("d1"), previewed("swap", "s2")]);
        assert_ne!(changed, with_swap);
        // The latest preview counts; the same inputs give the same digest.
        let again =
            phase_digest_of(&[plan("d1"), previewed("swap", "s2"), previewed("swap", "s1")]);
        assert_eq!(again, with_swap);
        // A step's digest never collides with a project's of the same text.
        let project_named_like_a_step = phase_digest_of(&[plan("s1")]);
        assert_ne!(project_named_like_a_step, with_swap);
    }

    #[test]
    fn gate_findings_belong_to_the_current_plan_only() {
        let p = project(&[plan("d1"), found("d1", "PG-AWS-035")]);
        assert_eq!(p.unknown_at_plan()[0].id, "PG-AWS-035");
        // A late event of an older plan does not count; a new plan clears.
        let p = project(&[
            plan("d1"),
            found("d1", "PG-AWS-035"),
            plan("d2"),
            found("d1", "PG-AWS-020"),
        ]);
        assert!(p.unknown_at_plan().is_empty(), "{:?}", p.gate_findings);
        let p = project(&[
            plan("d1"),
            found("d1", "PG-AWS-035"),
            plan("d2"),
            found("d2", "PG-AWS-036"),
        ]);
        let ids: Vec<&str> = p.unknown_at_plan().iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["PG-AWS-036"]);
    }
}
