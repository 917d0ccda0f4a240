//! The policy gate's comment section: a count line and the findings that
//! decide the verdict, then every finding. Policy messages are written by the
//! team but built from plan text, so every value passes through the one
//! escaper.

use std::fmt::Write;

use super::escape::{code_inline, inline};
use super::Section;
use crate::gates::policy::{PolicyFinding, PolicyReport};
use crate::gates::{Severity, Verdict};

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Info => "info",
    }
}

fn table(out: &mut String, findings: &[&PolicyFinding]) {
    out.push_str("| severity | id | resource | message | rule |\n|---|---|---|---|---|\n");
    for f in findings {
        let ack = if f.acknowledged {
            " (acknowledged)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "| {}{ack} | {} | {} | {} | {} {} |",
            severity_word(f.severity),
            code_inline(&f.id),
            f.address
                .as_deref()
                .map_or_else(|| "(plan)".to_string(), code_inline),
            inline(&f.message),
            inline(f.kind.as_str()),
            code_inline(&format!("{}:{}", f.file, f.line)),
        );
    }
}

/// The section for the comment and the job summary.
pub fn section(report: &PolicyReport) -> Section {
    let mut essentials = String::new();
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    let _ = write!(
        essentials,
        "{} policy finding(s) from {} set(s): {} critical, {} high, {} medium, {} low",
        report.findings.len(),
        report.policy_sets.len(),
        count(Severity::Critical),
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Low),
    );
    let deciding: Vec<&PolicyFinding> = report
        .findings
        .iter()
        .filter(|f| {
            f.severity == Severity::Critical || (f.severity == Severity::High && !f.acknowledged)
        })
        .collect();
    match report.verdict {
        Verdict::Block => essentials.push_str(". Critical findings block this phase; no acknowledgement helps.\n\n"),
        Verdict::AckRequired => essentials.push_str(". High findings need an acknowledgement in the change plan (`acknowledgements:` with the finding id).\n\n"),
        _ => essentials.push_str(".\n"),
    }
    if !deciding.is_empty() {
        table(&mut essentials, &deciding);
    }
    let mut details = String::new();
    if !report.findings.is_empty() {
        let all: Vec<&PolicyFinding> = report.findings.iter().collect();
        table(&mut details, &all);
    }
    for a in &report.expired_acknowledgements {
        let _ = writeln!(details, "\nExpired acknowledgement: {}", code_inline(&a.id));
    }
    for a in &report.unmatched_acknowledgements {
        let _ = writeln!(
            details,
            "\nAcknowledgement matching no finding: {}",
            code_inline(&a.id)
        );
    }
    Section {
        key: "policy".into(),
        title: "Policy".into(),
        badge: Some(report.verdict),
        essentials_md: essentials,
        details_md: details,
    }
}
