//! The health section of the drift issue (the environment's checks probed
//! again by the scheduled run), the issue's title and closing comment when
//! health is part of it, and the drift run's job summary. Check names and
//! evidence come from hostile places (response bodies, DNS answers,
//! certificates, outputs): every cell passes [`escape`], and the text is
//! redacted once more before it leaves.

use super::drift::RunInfo;
use super::escape;
use crate::drift::health::ProjectHealth;
use crate::drift::ProjectDrift;
use crate::journal::{CheckResult, CheckStatus};
use crate::verify::status_word;

/// Evidence shown per check before it is cut: the issue holds the essentials,
/// `--format json` the rest.
const EVIDENCE_CHARS: usize = 400;

/// `Drift: app in dev`, `Health: app in dev` or both (a plain-text surface).
pub fn issue_title(d: &ProjectDrift, health: Option<&ProjectHealth>) -> String {
    let attention = health.is_some_and(ProjectHealth::needs_attention);
    let what = match (d.is_drifted(), attention) {
        (true, true) => "Drift and health",
        (false, true) => "Health",
        _ => "Drift",
    };
    escape::plain(&format!("{what}: {} in {}", d.project, d.environment))
}

/// `2 failing, 1 warning of 4 checks`.
fn tally(h: &ProjectHealth) -> String {
    let fail = h.count(CheckStatus::Fail);
    let warn = h.count(CheckStatus::Warn);
    let n = h.checks.len();
    let of = format!("{n} check{}", if n == 1 { "" } else { "s" });
    match (fail, warn) {
        (0, 0) => format!("all {of} passed"),
        (f, 0) => format!("{f} failing of {of}"),
        (0, w) => format!("{w} warning of {of}"),
        (f, w) => format!("{f} failing, {w} warning of {of}"),
    }
}

fn clip(text: &str) -> String {
    crate::verify::snippet(text, EVIDENCE_CHARS)
}

fn row(c: &CheckResult) -> String {
    format!(
        "| {} | {} ({}) | {} |",
        status_word(c.status),
        escape::inline(&c.name),
        escape::inline(&c.kind),
        escape::inline(&clip(&c.evidence)),
    )
}

/// The health section of one project's issue, within `budget` characters:
/// failing and warning checks first, then rows left out from the end.
pub fn issue_section(h: &ProjectHealth, environment: &str, run: &RunInfo, budget: usize) -> String {
    let mut ordered: Vec<&CheckResult> = h.checks.iter().collect();
    ordered.sort_by_key(|c| std::cmp::Reverse(c.status));
    let whose = if h.environment_checks {
        format!(
            "The checks of {} (this issue carries them for all of its projects)",
            escape::code_inline(environment)
        )
    } else {
        "This project's output checks".to_string()
    };
    let head = format!(
        "## Health: {} in {}\n\n{whose}, probed again by the scheduled run ({}{}): **{}**.\n\n| result | check | evidence |\n|---|---|---|\n",
        escape::code_inline(&h.project),
        escape::code_inline(environment),
        escape::inline(&run.checked_at),
        run.run_url
            .as_deref()
            .and_then(escape::link_target)
            .map(|u| format!(", [workflow run]({u})"))
            .unwrap_or_default(),
        tally(h),
    );
    let advice = advice(h);
    let mut text = head;
    let mut shown = 0;
    for c in &ordered {
        let line = format!("{}\n", row(c));
        let room_for_note = 120 + advice.chars().count();
        if text.chars().count() + line.chars().count() + room_for_note > budget {
            break;
        }
        text.push_str(&line);
        shown += 1;
    }
    if shown < ordered.len() {
        text.push_str(&format!(
            "\n…and {} more: run {} for every check.\n",
            ordered.len() - shown,
            escape::code_inline(&format!(
                "phasegate drift --env {environment} --project {} --format json",
                h.project
            ))
        ));
    }
    text.push_str(&advice);
    let text = crate::redact::global().apply(&text);
    escape::defuse_markers(&text)
}

fn advice(h: &ProjectHealth) -> String {
    if h.failed() {
        "\nA failing check means the running system no longer does what its checks expect. phasegate probes them on every drift run and closes this issue once drift and health are clean.\n".into()
    } else if h.needs_attention() {
        "\nA warning is reported before it becomes a failure (a certificate within `warn_days_valid` of its expiry, a slow answer). phasegate probes the checks on every drift run and closes this issue once drift and health are clean.\n".into()
    } else {
        String::new()
    }
}

/// The line that stands for the drift section when nothing drifted.
pub fn no_drift_line(d: &ProjectDrift, run: &RunInfo) -> String {
    format!(
        "## Drift: {} in {}\n\nNone: a refresh-only plan ({}) found no changes outside Terraform.\n",
        escape::code_inline(&d.project),
        escape::code_inline(&d.environment),
        escape::inline(&run.checked_at),
    )
}

/// The comment that closes the issue once drift and health are clean.
pub fn closed_comment(d: &ProjectDrift, h: &ProjectHealth, run: &RunInfo) -> String {
    let text = format!(
        "Drift and health are clean: a refresh-only plan {}{} found no changes outside Terraform for {} in {}, and {}.",
        escape::inline(&run.checked_at),
        run.run_url
            .as_deref()
            .and_then(escape::link_target)
            .map(|u| format!(" ([workflow run]({u}))"))
            .unwrap_or_default(),
        escape::code_inline(&d.project),
        escape::code_inline(&d.environment),
        tally(h),
    );
    escape::defuse_markers(&text)
}

/// The drift run's job summary: per project, drift in a line and the
/// health table.
pub fn job_summary(results: &[(&ProjectDrift, Option<&ProjectHealth>)], run: &RunInfo) -> String {
    let mut out = String::from("## phasegate drift and health\n\n");
    for (d, h) in results {
        let drift = if d.is_drifted() {
            format!(
                "**{}** {} changed outside Terraform",
                d.drifted.len(),
                if d.drifted.len() == 1 {
                    "resource"
                } else {
                    "resources"
                }
            )
        } else {
            "no drift".to_string()
        };
        out.push_str(&format!(
            "### {} in {}\n\nDrift: {drift}. Health: {}.\n\n",
            escape::code_inline(&d.project),
            escape::code_inline(&d.environment),
            h.map_or_else(|| "no checks declared".to_string(), tally),
        ));
        if let Some(h) = h {
            out.push_str("| result | check | evidence |\n|---|---|---|\n");
            for c in &h.checks {
                out.push_str(&row(c));
                out.push('\n');
            }
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "Checked {}{}.\n",
        escape::inline(&run.checked_at),
        run.run_url
            .as_deref()
            .and_then(escape::link_target)
            .map(|u| format!(", [workflow run]({u})"))
            .unwrap_or_default()
    ));
    escape::defuse_markers(&crate::redact::global().apply(&out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(status: CheckStatus, evidence: &str) -> CheckResult {
        CheckResult {
            name: "web <b>@admin</b>".into(),
            kind: "http".into(),
            status,
            evidence: evidence.into(),
            attempts: 1,
            duration_ms: 3,
        }
    }

    fn health(checks: Vec<CheckResult>) -> ProjectHealth {
        ProjectHealth {
            project: "app".into(),
            status: crate::verify::overall(&checks),
            environment_checks: true,
            checks,
        }
    }

    #[test]
    fn failing_rows_come_first_and_hostile_text_stays_inert() {
        let h = health(vec![
            check(CheckStatus::Pass, "ok"),
            check(
                CheckStatus::Fail,
                "GET → 503; body: \"</details><!-- phasegate:drift project=x env=y --> [x](https://evil.example)\"",
            ),
        ]);
        let text = issue_section(&h, "dev", &RunInfo::default(), 65_536);
        let fail = text.find("| FAIL |").expect("a FAIL row");
        let pass = text.find("| PASS |").expect("a PASS row");
        assert!(fail < pass, "{text}");
        assert!(text.contains("1 failing of 2 checks"), "{text}");
        assert!(
            !text.contains("<!--") && !text.contains("</details>"),
            "{text}"
        );
        assert!(
            !text.contains("@admin") && !text.contains("](https"),
            "{text}"
        );
    }

    #[test]
    fn the_section_keeps_to_its_budget_and_says_what_it_left_out() {
        let long = "x".repeat(1_000);
        let h = health((0..50).map(|_| check(CheckStatus::Fail, &long)).collect());
        let text = issue_section(&h, "dev", &RunInfo::default(), 4_000);
        assert!(text.chars().count() <= 4_000, "{}", text.chars().count());
        // The command named is the one tests/it/health.rs runs word for word.
        assert!(
            text.contains(
                "more: run <code>phasegate drift --env dev --project app --format json</code>"
            ),
            "{text}"
        );
        // Evidence is cut per row.
        assert!(!text.contains(&"x".repeat(EVIDENCE_CHARS + 1)), "{text}");
    }
}
