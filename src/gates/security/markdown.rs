//! The report as markdown for the PR comment: a short essentials part and a
//! details part with every finding. All scanner and plan text is escaped.

use std::fmt::Write;

use super::{Finding, SecurityReport};
use crate::gates::{Severity, Verdict};

/// Escapes untrusted text for a markdown table cell: no HTML, no mentions,
/// no column breaks, no code spans.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '@' => out.push_str("&#64;"),
            '|' => out.push_str("\\|"),
            '`' => out.push_str("\\`"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Warn => "warn",
        Verdict::AckRequired => "acknowledgement required",
        Verdict::Block => "block",
    }
}

const ORDER: [(Severity, &str); 5] = [
    (Severity::Critical, "critical"),
    (Severity::High, "high"),
    (Severity::Medium, "medium"),
    (Severity::Low, "low"),
    (Severity::Info, "info"),
];

fn table(out: &mut String, findings: &[&Finding], with_remediation: bool) {
    if with_remediation {
        out.push_str(
            "| severity | id | resource | finding | remediation |\n|---|---|---|---|---|\n",
        );
    } else {
        out.push_str("| severity | id | resource | finding |\n|---|---|---|---|\n");
    }
    for f in findings {
        let sev = ORDER
            .iter()
            .find(|(s, _)| *s == f.severity)
            .map_or("", |(_, w)| w);
        let ack = if f.acknowledged {
            " (acknowledged)"
        } else {
            ""
        };
        let _ = write!(
            out,
            "| {sev}{ack} | {} | {} | {}: {} |",
            escape(&f.id),
            escape(&f.address),
            escape(&f.title),
            escape(&f.message)
        );
        if with_remediation {
            let _ = write!(out, " {} |", escape(&f.remediation));
        }
        out.push('\n');
    }
}

/// `(essentials, details)`: the count line and the findings that decide the
/// verdict, then every finding with its remediation.
pub fn to_markdown(report: &SecurityReport) -> (String, String) {
    let counts: Vec<String> = ORDER
        .iter()
        .map(|(s, w)| format!("{} {w}", report.count(*s)))
        .collect();
    let mut essentials = format!(
        "**Security: {}**: {}\n",
        verdict_word(report.verdict),
        counts.join(" · ")
    );
    let unknown = report.unknown_count();
    if unknown > 0 {
        let _ = writeln!(essentials, "\nCould not be checked until apply: {unknown}");
    }
    let deciding: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| matches!(f.severity, Severity::Critical | Severity::High) && !f.is_unknown())
        .collect();
    if !deciding.is_empty() {
        essentials.push('\n');
        table(&mut essentials, &deciding, false);
    }
    for (label, acks) in [
        ("Expired acknowledgements", &report.expired_acknowledgements),
        (
            "Acknowledgements that match no finding",
            &report.unmatched_acknowledgements,
        ),
    ] {
        if !acks.is_empty() {
            let list: Vec<String> = acks
                .iter()
                .map(|a| {
                    format!(
                        "{} {}",
                        escape(&a.id),
                        escape(a.address.as_deref().unwrap_or("*"))
                    )
                })
                .collect();
            let _ = writeln!(essentials, "\n{label}: {}", list.join(", "));
        }
    }
    let mut details = String::new();
    if report.findings.is_empty() {
        details.push_str("No security findings.\n");
    } else {
        let (unknowns, failed): (Vec<&Finding>, Vec<&Finding>) =
            report.findings.iter().partition(|f| f.is_unknown());
        if !failed.is_empty() {
            table(&mut details, &failed, true);
        }
        if !unknowns.is_empty() {
            let _ = writeln!(
                details,
                "\nCould not be checked until apply: {}\n",
                unknowns.len()
            );
            table(&mut details, &unknowns, false);
        }
    }
    (essentials, details)
}
