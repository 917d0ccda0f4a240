//! The phase report and the change report as markdown: the review block in
//! the PR comment, and `reports/change.md`. Every string from the journal,
//! the config or a check's evidence passes the one escaper.

use crate::journal::short_digest as short;
use crate::journal::{ResourceResult, ReviewVerdict};
use crate::render::escape::{code_inline, inline};
use crate::report::{ChangeReport, CostFigure, PhaseReport};
use crate::verify::status_word;

fn verdict_line(v: ReviewVerdict) -> &'static str {
    match v {
        ReviewVerdict::Pass => "✅ pass",
        ReviewVerdict::Warn => "⚠️ warn",
        ReviewVerdict::NeedsFixes => "❌ needs-fixes",
    }
}

/// A cost figure in words: the amount with its currency, `≥` for a lower
/// bound, or "unknown" with the reason.
pub fn cost_words(c: &CostFigure) -> String {
    match c.monthly_delta {
        Some(amount) => format!(
            "{}{:+.2} {}/month",
            if c.lower_bound { "≥ " } else { "" },
            amount,
            c.currency.as_deref().unwrap_or("")
        ),
        None => format!("unknown ({})", c.source),
    }
}

fn duration_words(seconds: Option<i64>) -> String {
    match seconds {
        Some(s) if s >= 3600 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        Some(s) if s >= 60 => format!("{}m {:02}s", s / 60, s % 60),
        Some(s) => format!("{s}s"),
        None => "unknown".into(),
    }
}

/// The review block of one phase in the PR comment.
pub fn phase_markdown(r: &PhaseReport) -> String {
    let mut out = vec![
        format!(
            "### Review of phase {}: {} → {}: {}",
            r.phase.index,
            inline(&r.phase.name),
            code_inline(&r.phase.environment),
            verdict_line(r.verdict)
        ),
        String::new(),
    ];
    if let Some(d) = &r.digest {
        out.push(format!("Reviewed plan {}.", code_inline(short(d))));
    }
    out.push(format!(
        "Cost: {}. Duration: {}.",
        inline(&cost_words(&r.cost)),
        duration_words(r.timing.total_seconds)
    ));
    if !r.approvals.is_empty() {
        let who: Vec<String> = r
            .approvals
            .iter()
            .map(|a| inline(&format!("@{}", a.approver)))
            .collect();
        out.push(format!("Approved by {}.", who.join(", ")));
    }
    out.push(String::new());
    out.push("| concern | project | status | detail |".into());
    out.push("|---|---|---|---|".into());
    for c in &r.concerns {
        out.push(format!(
            "| {} | {} | {} | {} |",
            inline(&c.name),
            c.project.as_deref().map(inline).unwrap_or_default(),
            status_word(c.status),
            inline(&c.detail)
        ));
    }
    for p in &r.projects {
        if let Some(v) = &p.verification {
            out.push(String::new());
            out.push(format!("Checks of {}:", inline(&p.name)));
            for c in &v.checks {
                out.push(format!(
                    "- {} {} ({}): {}",
                    status_word(c.status),
                    inline(&c.name),
                    inline(&c.kind),
                    inline(&c.evidence)
                ));
            }
        }
    }
    out.extend(steps_lines(&r.steps));
    for rb in &r.rollbacks {
        out.push(format!(
            "- Rolled back{} by {} at {}: {}",
            rb.project
                .as_deref()
                .map(|p| format!(" {}", inline(p)))
                .unwrap_or_default(),
            inline(&rb.actor),
            inline(&rb.at),
            inline(&rb.reason)
        ));
    }
    out.join("\n")
}

/// The phase's operation steps: verdict, duration, attempts and log files.
fn steps_lines(steps: &[crate::report::StepEntry]) -> Vec<String> {
    if steps.is_empty() {
        return vec![];
    }
    let mut out = vec![
        String::new(),
        "| step | verdict | attempts | duration | logs |".into(),
        "|---|---|---|---|---|".into(),
    ];
    for s in steps {
        out.push(format!(
            "| {}{} | {}{} | {} | {} | {} |",
            code_inline(&s.id),
            if s.irreversible {
                " **irreversible**"
            } else {
                ""
            },
            inline(&s.verdict),
            s.detail
                .as_deref()
                .map(|d| format!(": {}", inline(d)))
                .unwrap_or_default(),
            s.attempts,
            duration_words(s.duration_seconds),
            if s.logs.is_empty() {
                "—".to_string()
            } else {
                s.logs
                    .iter()
                    .map(|l| code_inline(l))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
    }
    out
}

fn resources_words(rs: &[ResourceResult]) -> String {
    if rs.is_empty() {
        return "none".into();
    }
    rs.iter()
        .map(|r| format!("{} ({})", code_inline(&r.address), inline(&r.action)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `reports/change.md`: the whole change.
pub fn change_markdown(r: &ChangeReport) -> String {
    let mut out = vec![
        format!("# Change {}", inline(&r.change)),
        String::new(),
        format!(
            "{} resources changed; monthly cost {}; duration {}.",
            r.resources_changed,
            inline(&cost_words(&r.total_monthly_cost)),
            duration_words(r.duration_seconds)
        ),
    ];
    if !r.approvers.is_empty() {
        let who: Vec<String> = r
            .approvers
            .iter()
            .map(|a| inline(&format!("@{a}")))
            .collect();
        out.push(format!("Approved by {}.", who.join(", ")));
    }
    out.push(String::new());
    out.push("| phase | environment | verdict | resources | cost | approvers | duration |".into());
    out.push("|---|---|---|---|---|---|---|".into());
    for p in &r.phases {
        out.push(format!(
            "| {}. {} | {} | {} | {} | {} | {} | {} |",
            p.phase.index,
            inline(&p.phase.name),
            code_inline(&p.phase.environment),
            verdict_line(p.verdict),
            p.resources.len(),
            inline(&cost_words(&p.cost)),
            if p.approvers.is_empty() {
                "—".to_string()
            } else {
                p.approvers
                    .iter()
                    .map(|a| inline(&format!("@{a}")))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            duration_words(p.duration_seconds)
        ));
    }
    for p in &r.phases {
        out.push(String::new());
        out.push(format!(
            "## Phase {}: {}",
            p.phase.index,
            inline(&p.phase.name)
        ));
        out.push(format!("Resources: {}", resources_words(&p.resources)));
        out.extend(steps_lines(&p.steps));
        for reason in &p.reasons {
            out.push(format!("- {}", inline(reason)));
        }
        for rb in &p.rollbacks {
            out.push(format!(
                "- Rolled back at {}: {}",
                inline(&rb.at),
                inline(&rb.reason)
            ));
        }
    }
    out.push(String::new());
    out.join("\n")
}
