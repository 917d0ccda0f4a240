//! The follow-up issue of a failed apply: its title, its body (the change,
//! the phase, each failed project's applied, failed and untouched resources
//! with the error, the checkpoint taken before the apply, and the commands
//! `status` names) and its closing comment. Every string from the journal,
//! the plan or the config reaches the issue through [`escape`], and every
//! error text through the redactor once more.

use super::escape;
use crate::journal::progress::Checkpoint;
use crate::journal::{NextStep, ProjectProgress, ResourceOutcome};

/// Characters of one project's error text shown before it is cut.
const ERROR_CHARS: usize = 4_000;

/// What the issue is about.
#[derive(Debug, Clone, Copy)]
pub struct FollowUp<'a> {
    pub change: &'a str,
    pub change_title: Option<&'a str>,
    /// The pull request the change reports to.
    pub pr: Option<u64>,
    pub phase: &'a str,
    pub phase_index: usize,
    pub environment: &'a str,
    /// How many applies of the phase failed so far (this one included).
    pub attempts: usize,
    /// The projects whose apply failed, as the journal folds them.
    pub failed: &'a [&'a ProjectProgress],
    /// The journal fold's next step (what `status` prints).
    pub next: Option<&'a NextStep>,
    /// The workflow run this apply ran in (its artifacts hold the checkpoint).
    pub run_url: Option<&'a str>,
    /// When the issue was last brought up to date (RFC 3339).
    pub at: &'a str,
}

/// The issue title (a plain-text surface).
pub fn title(f: &FollowUp<'_>) -> String {
    escape::plain(&format!(
        "Apply failed: {} phase {} ({})",
        f.change, f.phase, f.environment
    ))
}

/// The commands the issue offers, in the order it lists them: the fold's
/// next step, then the apply once that plan may be applied, then the revert
/// plan and its apply. The tests run each of them as printed.
pub fn commands(f: &FollowUp<'_>) -> Vec<String> {
    let n = f.phase_index;
    let mut out = vec![];
    if let Some(next) = f.next {
        out.push(next.command.clone());
    }
    for c in [
        format!("phasegate apply --phase {n}"),
        format!("phasegate rollback --phase {n}"),
        format!("phasegate rollback --phase {n} --apply"),
    ] {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// The body after the marker line, within `budget` characters: resource
/// rows are shed from the end of each table until it fits.
pub fn body(f: &FollowUp<'_>, budget: usize) -> String {
    let most = f.failed.iter().map(|p| p.results.len()).max().unwrap_or(0);
    let mut rows = most;
    loop {
        let text = body_with_rows(f, rows);
        if text.chars().count() <= budget {
            return text;
        }
        if rows == 0 {
            return text.chars().take(budget).collect();
        }
        rows /= 2;
    }
}

fn body_with_rows(f: &FollowUp<'_>, rows: usize) -> String {
    let mut out = vec![];
    let change = match f.change_title {
        Some(t) => format!("{} ({})", escape::code_inline(f.change), escape::inline(t)),
        None => escape::code_inline(f.change),
    };
    let pr =
        f.pr.map(|n| format!(", pull request #{n}"))
            .unwrap_or_default();
    out.push(format!(
        "### Apply failed: phase {} ({})\n\nThe apply of phase {} ({}) of change {change}{pr} failed part-way. Failed applies of this phase so far: **{}**; last updated {}.",
        escape::code_inline(f.phase),
        escape::code_inline(f.environment),
        escape::code_inline(f.phase),
        escape::code_inline(f.environment),
        f.attempts,
        escape::inline(f.at),
    ));
    for p in f.failed {
        out.push(project_section(p, rows, f.run_url));
    }
    out.push(next_section(f));
    out.push(
        "This issue is updated on every failed apply of the phase and closed when the phase is applied or rolled back."
            .to_string(),
    );
    out.join("\n\n")
}

fn project_section(p: &ProjectProgress, rows: usize, run_url: Option<&str>) -> String {
    let count = |o: ResourceOutcome| p.results.iter().filter(|r| r.outcome == o).count();
    let mut out = vec![format!(
        "#### {}\n\nPlan {}: {} applied, {} failed, {} untouched.",
        escape::code_inline(&p.project),
        escape::code_inline(crate::journal::short_digest(
            p.digest.as_deref().unwrap_or_default()
        )),
        count(ResourceOutcome::Applied),
        count(ResourceOutcome::Failed),
        count(ResourceOutcome::Untouched),
    )];
    if !p.results.is_empty() {
        let mut table = vec![
            "| resource | action | result |".to_string(),
            "|---|---|---|".to_string(),
        ];
        // Failed first, then applied: what needs attention leads.
        let mut ordered: Vec<_> = p.results.iter().collect();
        ordered.sort_by_key(|r| match r.outcome {
            ResourceOutcome::Failed => 0,
            ResourceOutcome::Applied => 1,
            ResourceOutcome::Untouched => 2,
        });
        for r in ordered.iter().take(rows) {
            let result = match r.outcome {
                ResourceOutcome::Applied => "applied",
                ResourceOutcome::Failed => "**failed**",
                ResourceOutcome::Untouched => "untouched",
            };
            table.push(format!(
                "| {} | {} | {result} |",
                escape::code_inline(&r.address),
                escape::inline(&r.action)
            ));
        }
        if p.results.len() > rows {
            table.push(format!(
                "\n{} more resources: `phasegate status` lists them all.",
                p.results.len() - rows
            ));
        }
        out.push(table.join("\n"));
    }
    if let Some(error) = &p.last_error {
        let error = crate::redact::global().apply(error);
        let cut: String = error.chars().take(ERROR_CHARS).collect();
        let more = if cut.len() < error.len() {
            "\n\n(cut; the journal holds the whole error)"
        } else {
            ""
        };
        out.push(format!("Error:\n\n{}{more}", escape::code_block(&cut)));
    }
    if let Some(cp) = &p.checkpoint {
        out.push(checkpoint_line(cp, run_url));
    }
    out.join("\n\n")
}

/// Where the state from before the apply is: the journaled checkpoint
/// (its file name, sha256 and serial) and, in Actions, the run it was
/// taken in, whose artifacts hold the output directory.
fn checkpoint_line(cp: &Checkpoint, run_url: Option<&str>) -> String {
    let file = std::path::Path::new(&cp.file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| cp.file.clone());
    let serial = cp
        .serial
        .map(|s| format!(", serial {s}"))
        .unwrap_or_default();
    let place = match run_url
        .map(|u| format!("{u}#artifacts"))
        .as_deref()
        .and_then(escape::link_target)
    {
        Some(link) => format!(
            " It was taken by [this run]({link}), in its output directory under <code>checkpoints/</code>."
        ),
        None => " It is in the apply's output directory under <code>checkpoints/</code>.".to_string(),
    };
    format!(
        "Checkpoint taken before the apply: {}, sha256 {}{serial}.{place}",
        escape::code_inline(&file),
        escape::code_inline(&cp.sha256),
    )
}

fn next_section(f: &FollowUp<'_>) -> String {
    let n = f.phase_index;
    let cmds = commands(f);
    let mut out = vec!["#### What to do next".to_string()];
    if let Some(next) = f.next {
        out.push(format!(
            "`phasegate status` names {}: {}.",
            escape::code_inline(&next.command),
            escape::inline(&next.reason)
        ));
    }
    let apply = format!("phasegate apply --phase {n}");
    out.push(format!(
        "Then {} applies the new plan once its gates pass and, where the environment needs one, it is approved.",
        escape::code_inline(&apply)
    ));
    out.push(format!(
        "Or undo what was applied: {} plans the revert to the change's base through the same gates, and {} applies it once allowed.",
        escape::code_inline(&format!("phasegate rollback --phase {n}")),
        escape::code_inline(&format!("phasegate rollback --phase {n} --apply")),
    ));
    debug_assert!(cmds
        .iter()
        .all(|c| out.iter().any(|l| l.contains(&escape::code_inline(c)))));
    out.join("\n\n")
}

/// The comment that closes the issue.
pub fn closed_comment(
    phase: &str,
    environment: &str,
    rolled_back: bool,
    run_url: Option<&str>,
) -> String {
    let how = if rolled_back {
        "rolled back"
    } else {
        "applied"
    };
    let run = run_url
        .and_then(escape::link_target)
        .map(|l| format!(" in [this run]({l})"))
        .unwrap_or_default();
    format!(
        "Closed by phasegate: phase {} ({}) was {how}{run}.",
        escape::code_inline(phase),
        escape::code_inline(environment)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{ResourceResult, StepState};

    fn project() -> ProjectProgress {
        ProjectProgress {
            project: "app".into(),
            apply: StepState::Failed,
            digest: Some("a".repeat(64)),
            results: vec![
                ResourceResult {
                    address: "aws_security_group.extra".into(),
                    action: "create".into(),
                    outcome: ResourceOutcome::Applied,
                    error: None,
                },
                ResourceResult {
                    address: "aws_security_group.x[\"@mallory <!-- phasegate:x -->\"]".into(),
                    action: "create".into(),
                    outcome: ResourceOutcome::Failed,
                    error: Some("refused".into()),
                },
            ],
            last_error: Some(
                "testcloud refuses `@mallory` [x](https://evil.example) </pre>".into(),
            ),
            checkpoint: Some(Checkpoint {
                file: "/runner/out/checkpoints/app-dev-1.tfstate".into(),
                sha256: "b".repeat(64),
                serial: Some(3),
                lineage: None,
            }),
            ..Default::default()
        }
    }

    fn follow_up<'a>(failed: &'a [&'a ProjectProgress], next: &'a NextStep) -> FollowUp<'a> {
        FollowUp {
            change: "CHG-RUN",
            change_title: Some("Runner @team"),
            pr: Some(7),
            phase: "dev",
            phase_index: 1,
            environment: "dev",
            attempts: 2,
            failed,
            next: Some(next),
            run_url: Some("https://github.example/acme/infra/actions/runs/100"),
            at: "2026-12-07T23:00:00Z",
        }
    }

    #[test]
    fn the_issue_names_resources_error_checkpoint_and_commands_inertly() {
        let p = project();
        let failed = [&p];
        let next = NextStep {
            command: "phasegate plan --phase 1".into(),
            reason: "the apply of app failed part-way; plan again".into(),
        };
        let f = follow_up(&failed, &next);
        let body = body(&f, 65_536);
        insta::assert_snapshot!(body);
        assert!(!body.contains("@mallory"), "{body}");
        assert!(!body.contains("<!--"), "{body}");
        assert!(!body.contains("](https://evil"), "{body}");
        for c in commands(&f) {
            assert!(body.contains(&format!("<code>{c}</code>")), "{c}\n{body}");
        }
        assert_eq!(title(&f), "Apply failed: CHG-RUN phase dev (dev)");
    }

    #[test]
    fn a_long_issue_sheds_resource_rows_to_fit() {
        let mut p = project();
        let row = p.results[0].clone();
        p.results = (0..2_000)
            .map(|i| ResourceResult {
                address: format!("aws_security_group.many[{i}]"),
                ..row.clone()
            })
            .collect();
        let failed = [&p];
        let next = NextStep {
            command: "phasegate plan --phase 1".into(),
            reason: "plan again".into(),
        };
        let body = body(&follow_up(&failed, &next), 20_000);
        assert!(body.chars().count() <= 20_000);
        assert!(body.contains("more resources"), "{body}");
        assert!(body.contains("<code>phasegate rollback --phase 1 --apply</code>"));
    }
}
