//! The security gate's section of the comment and summary, rendered from the
//! gate's report: a count line and the findings that decide the verdict up
//! front, every finding with its remediation in the details. Finding ids,
//! addresses, titles and messages come from plans and imported SARIF, so
//! each one passes through [`escape`](super::escape).

use std::fmt::Write;

use super::escape::{code_inline, inline};
use super::verdict::words;
use super::Section;
use crate::config::Acknowledgement;
use crate::gates::security::{Finding, SecurityReport};
use crate::gates::Severity;

const ORDER: [(Severity, &str); 5] = [
    (Severity::Critical, "critical"),
    (Severity::High, "high"),
    (Severity::Medium, "medium"),
    (Severity::Low, "low"),
    (Severity::Info, "info"),
];

fn severity_word(s: Severity) -> &'static str {
    ORDER.iter().find(|(o, _)| *o == s).map_or("", |(_, w)| w)
}

fn table(out: &mut String, findings: &[&Finding], with_remediation: bool) {
    if with_remediation {
        out.push_str(
            "| severity | id | resource | finding | remediation |\n|---|---|---|---|---|\n",
        );
    } else {
        out.push_str("| severity | id | resource | finding |\n|---|---|---|---|\n");
    }
    for f in findings {
        let ack = if f.acknowledged {
            " (acknowledged)"
        } else {
            ""
        };
        let _ = write!(
            out,
            "| {}{ack} | {} | {} | {}: {} |",
            severity_word(f.severity),
            code_inline(&f.id),
            code_inline(&f.address),
            inline(&f.title),
            inline(&f.message)
        );
        if with_remediation {
            let _ = write!(out, " {} |", inline(&f.remediation));
        }
        out.push('\n');
    }
}

fn ack_list(acks: &[Acknowledgement]) -> String {
    acks.iter()
        .map(|a| {
            format!(
                "{} {}",
                code_inline(&a.id),
                code_inline(a.address.as_deref().unwrap_or("*"))
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The security section (key `security`).
pub fn section(report: &SecurityReport) -> Section {
    let counts: Vec<String> = ORDER
        .iter()
        .map(|(s, w)| format!("{} {w}", report.count(*s)))
        .collect();
    let mut essentials = format!(
        "**Security: {}**: {}\n",
        words(report.verdict).words,
        counts.join(" · ")
    );
    let unknown = report.unknown_count();
    if unknown > 0 {
        let _ = writeln!(
            essentials,
            "\nCould not be checked until apply: {unknown} (checked again after apply by `verify`)"
        );
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
            let _ = writeln!(essentials, "\n{label}: {}", ack_list(acks));
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
    Section {
        key: "security".into(),
        title: "Security".into(),
        badge: Some(report.verdict),
        essentials_md: essentials,
        details_md: details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::security::{Crosswalk, FindingOutcome};

    fn finding(id: &str, severity: Severity, outcome: FindingOutcome) -> Finding {
        Finding {
            id: id.into(),
            severity,
            address: "aws_instance.web".into(),
            message: "m".into(),
            remediation: "r".into(),
            crosswalk: Crosswalk::default(),
            acknowledged: false,
            title: "t".into(),
            source: "phasegate".into(),
            outcome,
            attribute: None,
        }
    }

    #[test]
    fn unknowns_are_counted_apart_and_never_listed_as_deciding() {
        let mut report = SecurityReport::merge(vec![]);
        report.findings = vec![
            finding("PG-AWS-019", Severity::High, FindingOutcome::Unknown),
            finding("PG-AWS-001", Severity::High, FindingOutcome::Fail),
        ];
        let s = section(&report);
        assert!(
            s.essentials_md
                .contains("Could not be checked until apply: 1"),
            "{}",
            s.essentials_md
        );
        // The deciding table up front holds the failure only.
        assert!(
            s.essentials_md.contains("PG-AWS-001"),
            "{}",
            s.essentials_md
        );
        assert!(
            !s.essentials_md.contains("PG-AWS-019"),
            "{}",
            s.essentials_md
        );
        // The details list the unknown in its own table after the failures.
        let at = |needle: &str| {
            s.details_md
                .find(needle)
                .unwrap_or_else(|| panic!("{needle} missing from {}", s.details_md))
        };
        let (fail_at, unknown_at, unk_row) = (
            at("PG-AWS-001"),
            at("Could not be checked until apply: 1"),
            at("PG-AWS-019"),
        );
        assert!(
            fail_at < unknown_at && unknown_at < unk_row,
            "{}",
            s.details_md
        );
    }
}
