//! The review of one phase: every concern the issue names (security
//! posture, cost, blast radius, policy, checkpoint, approvals, the apply and
//! its verification) weighed into `pass`, `warn` or `needs-fixes`. A FAIL
//! anywhere is needs-fixes; a WARN anywhere is warn; every concern that is
//! not a plain pass gives one reason line.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::journal::{
    CheckResult, CheckStatus, PhaseProgress, ProjectProgress, ReviewVerdict, StepState,
};

/// One weighed concern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Concern {
    /// `security`, `cost`, `blast`, `policy`, `checkpoint`, `approval`,
    /// `apply` or `verification` (`security` and `policy` also for their
    /// rules checked again on the applied state, detail "after apply: …").
    pub name: String,
    /// The project it is about; absent for the phase as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    pub status: CheckStatus,
    /// Why, in words.
    pub detail: String,
}

/// The verdict and what led to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: ReviewVerdict,
    /// One line per concern that is not a plain pass, FAILs first.
    pub reasons: Vec<String>,
    pub concerns: Vec<Concern>,
}

/// The gates a review reads from the journal, and whether a missing verdict
/// is worth a warning (the policy gate runs only when policies exist).
const GATES: &[(&str, bool)] = &[
    ("security", true),
    ("cost", true),
    ("blast", true),
    ("policy", false),
];

/// Judges `phase` as the journal shows it.
pub fn judge(phase: &PhaseProgress) -> Judgement {
    let mut concerns = vec![approval(phase)];
    for p in &phase.projects {
        concerns.extend(gates(p));
        concerns.push(apply(p));
        if applied_something(p) {
            concerns.push(checkpoint(p));
        }
        if p.apply == StepState::Succeeded {
            concerns.extend(verification(p));
        }
    }
    let worst = concerns.iter().map(|c| c.status).max();
    let verdict = match worst {
        Some(CheckStatus::Fail) => ReviewVerdict::NeedsFixes,
        Some(CheckStatus::Warn) => ReviewVerdict::Warn,
        _ => ReviewVerdict::Pass,
    };
    let mut flagged: Vec<&Concern> = concerns
        .iter()
        .filter(|c| c.status != CheckStatus::Pass)
        .collect();
    flagged.sort_by_key(|c| std::cmp::Reverse(c.status));
    let reasons = flagged
        .iter()
        .map(|c| match &c.project {
            Some(p) => format!("{} ({p}): {}", c.name, c.detail),
            None => format!("{}: {}", c.name, c.detail),
        })
        .collect();
    Judgement {
        verdict,
        reasons,
        concerns,
    }
}

fn concern(name: &str, project: Option<&str>, status: CheckStatus, detail: String) -> Concern {
    Concern {
        name: name.to_string(),
        project: project.map(str::to_string),
        status,
        detail,
    }
}

fn applied_something(p: &ProjectProgress) -> bool {
    matches!(
        p.apply,
        StepState::Succeeded | StepState::Failed | StepState::RolledBack | StepState::InProgress
    )
}

/// Approvals where the environment requires them, bound to the digest.
fn approval(phase: &PhaseProgress) -> Concern {
    if !phase.approval_required {
        return concern(
            "approval",
            None,
            CheckStatus::Pass,
            format!("environment {} needs no approval", phase.environment),
        );
    }
    let applied = phase.projects.iter().any(applied_something);
    let current = phase.approvals_of_current();
    if current.is_empty() && applied {
        return concern(
            "approval",
            None,
            CheckStatus::Fail,
            format!(
                "environment {} needs an approval and none of the current plan is recorded",
                phase.environment
            ),
        );
    }
    let who: Vec<String> = current.iter().map(|a| format!("@{}", a.approver)).collect();
    concern(
        "approval",
        None,
        CheckStatus::Pass,
        if who.is_empty() {
            "nothing was applied".into()
        } else {
            format!("approved by {}", who.join(", "))
        },
    )
}

/// The gate verdicts journaled for the project's current plan.
fn gates(p: &ProjectProgress) -> Vec<Concern> {
    let name = Some(p.project.as_str());
    let mut out = vec![];
    for (gate, expected) in GATES {
        let status = match p.gates.get(*gate).map(String::as_str) {
            Some("pass") => (CheckStatus::Pass, "pass".to_string()),
            Some("warn") => (CheckStatus::Warn, "warn".into()),
            Some(v @ ("block" | "ack_required")) => (
                CheckStatus::Fail,
                format!("{v}: the plan should not have been applied"),
            ),
            Some(other) => (CheckStatus::Warn, format!("unknown verdict {other}")),
            None if *expected => (
                CheckStatus::Warn,
                "no verdict journaled for the current plan".into(),
            ),
            None => continue,
        };
        out.push(concern(gate, name, status.0, status.1));
    }
    // An acknowledged finding let the plan through; the review says so.
    if !p.acknowledgements.is_empty() {
        out.push(concern(
            "security",
            name,
            CheckStatus::Warn,
            format!("acknowledged: {}", p.acknowledgements.join(", ")),
        ));
    }
    out
}

fn apply(p: &ProjectProgress) -> Concern {
    let name = Some(p.project.as_str());
    let (applied, failed, untouched) = p.result_counts();
    match p.apply {
        StepState::Succeeded => concern(
            "apply",
            name,
            CheckStatus::Pass,
            format!("{applied} resources applied"),
        ),
        StepState::Skipped => concern("apply", name, CheckStatus::Pass, "nothing to apply".into()),
        StepState::RolledBack => concern(
            "apply",
            name,
            CheckStatus::Fail,
            "the apply was rolled back".into(),
        ),
        StepState::Failed => concern(
            "apply",
            name,
            CheckStatus::Fail,
            format!("the apply failed: {applied} applied, {failed} failed, {untouched} untouched"),
        ),
        StepState::Pending | StepState::InProgress => concern(
            "apply",
            name,
            CheckStatus::Fail,
            "the apply did not finish".into(),
        ),
    }
}

fn checkpoint(p: &ProjectProgress) -> Concern {
    let name = Some(p.project.as_str());
    match &p.checkpoint {
        Some(cp) => concern(
            "checkpoint",
            name,
            CheckStatus::Pass,
            format!(
                "state checkpoint {} (serial {})",
                &cp.sha256[..cp.sha256.len().min(12)],
                cp.serial
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "unknown".into())
            ),
        ),
        None => concern(
            "checkpoint",
            name,
            CheckStatus::Warn,
            "no checkpoint was journaled before the apply: the state cannot be restored".into(),
        ),
    }
}

/// The verification of the applied plan: a FAIL fails the review; a WARN,
/// no verification, or only convergence checks warn. The gates' rules
/// checked again on the applied state are weighed apart, as `security` and
/// `policy` concerns "after apply", with the same FAIL and WARN.
fn verification(p: &ProjectProgress) -> Vec<Concern> {
    let name = Some(p.project.as_str());
    let Some(v) = p.verification.as_ref().filter(|_| p.verified()) else {
        return vec![concern(
            "verification",
            name,
            CheckStatus::Fail,
            "the applied plan was not verified".into(),
        )];
    };
    let (gate_checks, checks): (Vec<&CheckResult>, Vec<&CheckResult>) =
        v.checks.iter().partition(|c| c.is_applied_gate());
    let mut out = vec![];
    for kind in crate::journal::event::APPLIED_GATE_KINDS {
        let these: Vec<&CheckResult> = gate_checks
            .iter()
            .copied()
            .filter(|c| c.kind == kind)
            .collect();
        let Some(worst) = these.iter().map(|c| c.status).max() else {
            continue;
        };
        let detail = match worst {
            CheckStatus::Pass => format!("after apply: {} checks passed", these.len()),
            _ => format!("after apply: {}", not_passing(&these).join("; ")),
        };
        out.push(concern(kind, name, worst, detail));
    }
    // Without gate checks the journaled status is the checks' own.
    let status = if gate_checks.is_empty() {
        v.status
    } else {
        checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(CheckStatus::Pass)
    };
    let failing = not_passing(&checks);
    out.push(match status {
        CheckStatus::Fail => concern("verification", name, CheckStatus::Fail, failing.join("; ")),
        CheckStatus::Warn => concern("verification", name, CheckStatus::Warn, failing.join("; ")),
        CheckStatus::Pass if checks.iter().all(|c| c.kind == "convergence") => concern(
            "verification",
            name,
            CheckStatus::Warn,
            "no checks are configured beyond convergence: nothing shows the change works".into(),
        ),
        CheckStatus::Pass
            if p.converged == Some(false) && !checks.iter().any(|c| c.kind == "convergence") =>
        {
            concern(
                "verification",
                name,
                CheckStatus::Warn,
                "the re-plan after the apply still showed changes".into(),
            )
        }
        CheckStatus::Pass => concern(
            "verification",
            name,
            CheckStatus::Pass,
            format!("{} checks passed", checks.len()),
        ),
    });
    out
}

/// `name FAIL (evidence)` for every check that did not pass.
fn not_passing(checks: &[&CheckResult]) -> Vec<String> {
    checks
        .iter()
        .filter(|c| c.status != CheckStatus::Pass)
        .map(|c| {
            let word = match c.status {
                CheckStatus::Fail => "FAIL",
                _ => "WARN",
            };
            format!("{} {word} ({})", c.name, c.evidence)
        })
        .collect()
}
