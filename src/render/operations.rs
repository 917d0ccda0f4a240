//! Views of a phase's operation steps: what each would do (its preview, as
//! the PR comment shows it for review), where it stands, and which steps
//! cannot be undone. Step ids are checked, but previews and reasons are
//! command output: every one passes the one escaper.

use crate::config::steps::{Step, StepKind};
use crate::journal::operation::CommandRun;
use crate::phase::operation::{Ended, OperationState};
use crate::render::escape::{code_block, code_inline, inline};

/// One step as the views show it.
pub struct StepView<'a> {
    pub step: &'a Step,
    /// Its preview's run at plan time, when it has one.
    pub preview: Option<&'a CommandRun>,
    pub state: &'a OperationState,
}

/// Where a step stands, in a few words.
pub fn state_words(step: &Step, s: &OperationState) -> String {
    if step.kind == StepKind::Terraform {
        return "the phase's Terraform apply".into();
    }
    match &s.ended {
        Some(Ended::Succeeded { note: Some(note) }) => format!("succeeded ({note})"),
        Some(Ended::Succeeded { note: None }) => "succeeded".into(),
        Some(Ended::Failed { reason }) => format!("failed: {reason}"),
        Some(Ended::RolledBack { ok: true }) => "rolled back".into(),
        Some(Ended::RolledBack { ok: false }) => "rollback failed".into(),
        Some(Ended::Aborted { by }) => format!("aborted by {by}"),
        None if s.waiting => format!(
            "waiting: polled {} time(s), continued by a later run",
            s.ticks
        ),
        None if s.ticks > 0 => format!("polling ({} so far)", s.ticks),
        None if s.executing => "executing".into(),
        None if s.attempts > 0 => "executed".into(),
        None => "pending".into(),
    }
}

/// The steps as the PR comment shows them: irreversible ones called out
/// first, a table, then each preview's output.
pub fn steps_markdown(phase: &str, steps: &[StepView<'_>]) -> String {
    let mut out = vec![format!("#### Steps of phase {}", inline(phase))];
    let irreversible: Vec<String> = steps
        .iter()
        .filter(|v| v.step.irreversible)
        .map(|v| code_inline(&v.step.id))
        .collect();
    if !irreversible.is_empty() {
        out.push(format!(
            "> [!WARNING]\n> **Irreversible:** {} cannot be undone. Approving this phase approves {}, in every environment.",
            irreversible.join(", "),
            if irreversible.len() == 1 { "it" } else { "them" }
        ));
    }
    out.push("| # | step | requires | state |".into());
    out.push("|---|---|---|---|".into());
    for (i, v) in steps.iter().enumerate() {
        let requires = if v.step.requires.is_empty() {
            "-".to_string()
        } else {
            v.step
                .requires
                .iter()
                .map(|r| code_inline(r))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push(format!(
            "| {} | {}{} | {} | {} |",
            i + 1,
            code_inline(&v.step.id),
            if v.step.irreversible {
                " **irreversible**"
            } else {
                ""
            },
            requires,
            inline(&state_words(v.step, v.state))
        ));
    }
    for v in steps {
        let Some(run) = v.preview else {
            continue;
        };
        let exit = match (run.exit_code, &run.error) {
            (_, Some(e)) => format!("did not run: {}", inline(e)),
            (Some(code), None) => format!("exit {code}"),
            (None, None) => "ended by a signal".into(),
        };
        let mut shown = run.stdout_tail.clone();
        if !run.stderr_tail.is_empty() {
            shown.push_str("\n--- stderr ---\n");
            shown.push_str(&run.stderr_tail);
        }
        out.push(format!(
            "<details><summary>Preview of {} ({exit})</summary>\n\n{}\n\n</details>",
            code_inline(&v.step.id),
            code_block(&shown)
        ));
    }
    out.join("\n\n")
}

/// One line per step for terminals and CI logs.
pub fn steps_text(steps: &[StepView<'_>]) -> String {
    steps
        .iter()
        .map(|v| {
            format!(
                "  {}{}: {}",
                v.step.id,
                if v.step.irreversible {
                    " (IRREVERSIBLE)"
                } else {
                    ""
                },
                state_words(v.step, v.state).replace(['\n', '\r'], " ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::steps::Argv;
    use crate::journal::operation::OperationRecord;
    use crate::phase::operation::fold;

    fn step(id: &str, irreversible: bool) -> Step {
        Step {
            id: id.into(),
            kind: StepKind::Operation,
            requires: vec!["dev-apply".into()],
            preview: Some(Argv(vec!["./op.sh".into(), "preview".into()])),
            execute: Some(Argv(vec!["./op.sh".into(), "start".into()])),
            verify: None,
            rollback: None,
            poll: None,
            irreversible,
            env: Default::default(),
            secret_env: vec![],
            working_directory: None,
        }
    }

    #[test]
    fn irreversible_steps_are_called_out_and_hostile_preview_output_is_escaped() {
        let swap = step("dev-swap", true);
        let replicate = step("dev-replicate", false);
        let hostile = CommandRun {
            exit_code: Some(0),
            stdout_tail: "```\n<!-- phasegate:comment -->\n@org/admins please merge".into(),
            ..Default::default()
        };
        let polling = fold(&[
            OperationRecord::Executing { attempt: 1 },
            OperationRecord::PollTick {
                tick: 2,
                state: "RUNNING".into(),
            },
        ]);
        let fresh = fold(&[]);
        let md = steps_markdown(
            "dev",
            &[
                StepView {
                    step: &replicate,
                    preview: Some(&hostile),
                    state: &polling,
                },
                StepView {
                    step: &swap,
                    preview: None,
                    state: &fresh,
                },
            ],
        );
        assert!(
            md.contains("**Irreversible:** <code>dev-swap</code> cannot be undone"),
            "{md}"
        );
        assert!(
            md.contains("| 2 | <code>dev-swap</code> **irreversible** |"),
            "{md}"
        );
        assert!(md.contains("polling (2 so far)"), "{md}");
        // The preview cannot close its code block, hide a marker or mention anyone.
        assert!(!md.contains("<!-- phasegate:comment -->"), "{md}");
        assert!(!md.contains(" @org/admins"), "{md}");
        let text = steps_text(&[StepView {
            step: &swap,
            preview: None,
            state: &fresh,
        }]);
        assert_eq!(text, "  dev-swap (IRREVERSIBLE): pending");
    }
}
