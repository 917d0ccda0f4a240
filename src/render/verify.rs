//! Views of verification results: a fixed-width table for terminals and CI
//! logs, and a markdown table for the PR comment. Check names and evidence
//! come from hostile places (response bodies, DNS answers, outputs), so in
//! markdown every cell passes the one escaper.

use crate::journal::{CheckResult, CheckStatus};
use crate::render::escape::inline;
use crate::verify::status_word;

/// One line per check: status, kind, name, attempts, time, evidence.
pub fn table_text(project: &str, status: CheckStatus, checks: &[CheckResult]) -> String {
    let mut out = vec![format!(
        "{project}: verification {} ({})",
        status_word(status),
        count(checks.len())
    )];
    let width = checks
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0);
    for c in checks {
        out.push(format!(
            "  {:4}  {:11}  {:width$}  {} attempt{}, {} ms  {}",
            status_word(c.status),
            c.kind,
            c.name,
            c.attempts,
            if c.attempts == 1 { "" } else { "s" },
            c.duration_ms,
            c.evidence.replace(['\n', '\r'], " "),
        ));
    }
    out.join("\n")
}

/// The checks as a markdown table, every cell escaped.
pub fn table_markdown(checks: &[CheckResult]) -> String {
    let mut out = vec![
        "| result | check | evidence | attempts |".to_string(),
        "|---|---|---|---|".to_string(),
    ];
    for c in checks {
        out.push(format!(
            "| {} | {} ({}) | {} | {} |",
            status_word(c.status),
            inline(&c.name),
            inline(&c.kind),
            inline(&c.evidence),
            c.attempts
        ));
    }
    out.join("\n")
}

/// `1 check`, `3 checks`.
pub fn count(n: usize) -> String {
    format!("{n} check{}", if n == 1 { "" } else { "s" })
}
