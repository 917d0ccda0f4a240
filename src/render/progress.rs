//! Views of the folded journal: a plain-text status for terminals and CI
//! logs, and the markdown phase block that follows the journal in the PR
//! comment. Every name and message from the journal passes the one escaper
//! before it reaches markdown.

use crate::journal::short_digest as short;
use crate::journal::{PhaseProgress, Progress, ProjectProgress, StepState};
use crate::render::escape::{code_inline, inline};

/// Where one project of a phase stands, in words.
pub fn project_line(p: &ProjectProgress) -> String {
    let mut parts = vec![format!("plan {}, apply {}", p.plan.word(), p.apply.word())];
    if !p.results.is_empty() {
        let (a, f, u) = p.result_counts();
        parts.push(format!("{a} applied, {f} failed, {u} untouched"));
    }
    match p.converged {
        Some(true) if p.apply == StepState::Succeeded => parts.push("converged".into()),
        Some(false) => parts.push("not converged".into()),
        _ => {}
    }
    if let Some(v) = &p.verification {
        parts.push(format!(
            "verification {} ({})",
            crate::verify::status_word(v.status),
            crate::render::verify::count(v.checks.len())
        ));
    }
    if !p.blocking_gates.is_empty() {
        parts.push(format!("blocked by {}", p.blocking_gates.join(", ")));
    }
    if let Some(d) = &p.digest {
        parts.push(format!("digest {}", short(d)));
    }
    parts.join("; ")
}

/// The whole change as text: one line per phase and project, the last
/// refusal, and the next step.
pub fn text(progress: &Progress) -> String {
    let mut out = vec![format!(
        "change {}: {}",
        progress.change,
        serde_json::to_value(progress.overall)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    )];
    for phase in &progress.phases {
        out.push(format!(
            "  phase {} {} ({}): {}",
            phase.index,
            phase.name,
            phase.environment,
            phase.state.word()
        ));
        for p in &phase.projects {
            out.push(format!("    {}: {}", p.project, project_line(p)));
            for r in p.results.iter().filter(|r| r.error.is_some()) {
                out.push(format!(
                    "      failed {}: {}",
                    r.address,
                    r.error.as_deref().unwrap_or_default()
                ));
            }
            if let Some(r) = &p.last_refusal {
                out.push(format!("      last refusal ({}): {}", r.what, r.why));
            }
        }
    }
    match &progress.next {
        Some(next) => {
            out.push(format!("next: {}", next.command));
            out.push(format!("  ({})", next.reason));
        }
        None => out.push("next: nothing, the change is done".into()),
    }
    out.join("\n")
}

/// Where a phase stands, as the comment's heading word.
pub fn phase_headline(phase: &PhaseProgress) -> String {
    let applying = phase
        .projects
        .iter()
        .any(|p| p.apply == StepState::InProgress);
    let failed = phase.projects.iter().any(|p| p.apply == StepState::Failed);
    let awaiting = phase.approval_required
        && phase.approvals_of_current().is_empty()
        && phase.projects.iter().any(|p| p.apply == StepState::Pending);
    if failed {
        "failed".into()
    } else if applying {
        "applying".into()
    } else if phase.done() {
        "applied".into()
    } else if awaiting && phase.digest.is_some() {
        "awaiting approval".into()
    } else if phase
        .projects
        .iter()
        .all(|p| p.plan == StepState::Succeeded)
    {
        "planned".into()
    } else {
        phase.state.word().into()
    }
}

/// The journal-driven block of one phase in the PR comment.
pub fn phase_markdown(progress: &Progress, phase: &PhaseProgress, approvers: &[String]) -> String {
    let mut out = vec![format!(
        "**Phase {} {} ({}): {}**",
        phase.index,
        inline(&phase.name),
        inline(&phase.environment),
        phase_headline(phase)
    )];
    out.push(String::new());
    for p in &phase.projects {
        out.push(format!(
            "- {}: {}",
            inline(&p.project),
            inline(&project_line(p))
        ));
        for r in p.results.iter().filter(|r| r.error.is_some()) {
            out.push(format!(
                "  - failed {}: {}",
                code_inline(&r.address),
                inline(r.error.as_deref().unwrap_or_default())
            ));
        }
        if let Some(r) = &p.last_refusal {
            out.push(format!(
                "  - refused ({}): {}",
                inline(&r.what),
                inline(&r.why)
            ));
        }
    }
    for p in &phase.projects {
        if let Some(v) = &p.verification {
            out.push(String::new());
            out.push(format!(
                "Verification of {}: {}",
                inline(&p.project),
                crate::verify::status_word(v.status)
            ));
            out.push(String::new());
            out.push(crate::render::verify::table_markdown(&v.checks));
        }
    }
    if phase_headline(phase) == "awaiting approval" {
        let who = if approvers.is_empty() {
            "the environment's required reviewers".to_string()
        } else {
            approvers
                .iter()
                .map(|a| inline(a))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push(String::new());
        out.push(format!(
            "Awaiting approval of plan {} by {who}.",
            code_inline(phase.digest.as_deref().unwrap_or_default())
        ));
    }
    if let Some(next) = &progress.next {
        out.push(String::new());
        out.push(format!(
            "Next: {} ({})",
            code_inline(&next.command),
            inline(&next.reason)
        ));
    }
    out.join("\n")
}
