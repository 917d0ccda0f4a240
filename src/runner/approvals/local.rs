//! Approvals outside GitHub: `phasegate approve --local --env E --digest D
//! --as NAME` journals an approval of the plan an environment is about to
//! apply, in a local store only. The step machine weighs it like a comment
//! approval: bound to the digest, and counted only when given after the
//! previous environment was reviewed.

use crate::cli::{ApproveArgs, GlobalArgs};
use crate::error::{Error, ExitCode, Result};
use crate::journal::{short_digest as short, ApprovalSource, EventKind, Step};
use crate::runner::output::print_stdout;
use crate::runner::session::{self as runner, Runner, StoreChoice};
use crate::runner::workspace::Workspace;

/// The shortest digest prefix accepted, as for `/phasegate approve`.
const MIN_PREFIX: usize = 12;

pub fn approve_local(global: &GlobalArgs, args: ApproveArgs) -> Result<ExitCode> {
    let ws = Workspace::load(global, true)?;
    let actions = crate::ci::ActionsContext::from_process_env()?;
    let (Some(env), Some(prefix), Some(approver)) = (&args.env, &args.digest, &args.approver)
    else {
        return Err(Error::Input(
            "approve --local needs --env ENV, --digest DIGEST and --as NAME".into(),
        ));
    };
    if !matches!(
        runner::store_choice(&ws, actions.as_ref())?,
        StoreChoice::Local(_)
    ) {
        return Err(Error::Input(
            "approve --local records an approval in a local store only; this change's journal is on GitHub, where approvals come from environment reviews or `/phasegate approve` comments".into(),
        ));
    }
    let cfg = ws.config.as_ref().expect("required config is loaded");
    if !cfg.environments.iter().any(|e| &e.name == env) {
        return Err(Error::Input(format!(
            "--env {env}: no such environment in the config"
        )));
    }
    let approver = approver.trim();
    if approver.is_empty()
        || !approver
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(Error::Input(format!(
            "--as {approver:?}: a name of letters, digits, '-', '_' or '.'"
        )));
    }
    if prefix.len() < MIN_PREFIX || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::Input(format!(
            "--digest {prefix}: give at least {MIN_PREFIX} hex characters of the digest `phasegate status` shows"
        )));
    }
    let runner = Runner::open(&ws, actions.as_ref(), None)?;
    let writer = runner.writer(&ws, actions.as_ref());
    let progress = runner
        .rt
        .block_on(runner::progress(&runner.store, &ws, &writer.change))?;
    // The environment's phase about to apply: the first not done that has a
    // plan, else the last planned (as the approval check picks it).
    let planned: Vec<_> = progress
        .phases
        .iter()
        .filter(|p| &p.environment == env && p.digest.is_some())
        .collect();
    let Some(phase) = planned.iter().find(|p| !p.done()).or(planned.last()) else {
        print_stdout(&format!(
            "refused: {env} has no plan in change {} yet: nothing to approve\n  next: phasegate status",
            writer.change
        ));
        return Ok(ExitCode::Refused);
    };
    // The phase's plan, or a project's revert plan (`rollback --apply`
    // needs an approval of the revert's own digest).
    let prefix = prefix.to_ascii_lowercase();
    let candidates: Vec<String> = phase
        .digest
        .iter()
        .cloned()
        .chain(
            phase
                .projects
                .iter()
                .filter_map(|p| p.revert.as_ref().and_then(|r| r.digest.clone())),
        )
        .collect();
    let matched = candidates.iter().find(|d| d.starts_with(&prefix)).cloned();
    let digest = matched
        .clone()
        .unwrap_or_else(|| phase.digest.clone().unwrap_or_default());
    if matched.is_none() {
        let why = format!(
            "--digest {prefix} is not the plan {env} is about to apply ({} in phase {}) nor one of its revert plans; approve the plan `phasegate status` shows",
            short(&digest),
            phase.name
        );
        let refusal = writer.event(
            &phase.name,
            None,
            Step::Approval,
            Some(&digest),
            EventKind::Refusal {
                what: "approval".into(),
                why: why.clone(),
                command: Some("phasegate status".into()),
            },
        );
        runner
            .rt
            .block_on(runner::append(&runner.store, &writer.change, &[refusal]))?;
        print_stdout(&format!("refused: {why}\n  next: phasegate status"));
        return Ok(ExitCode::Refused);
    }
    let recorded = writer.event(
        &phase.name,
        None,
        Step::Approval,
        Some(&digest),
        EventKind::ApprovalRecorded {
            environment: env.clone(),
            approver: approver.to_string(),
            source: ApprovalSource::Local,
            at: runner::now(),
            conditions: vec![],
        },
    );
    runner
        .rt
        .block_on(runner::append(&runner.store, &writer.change, &[recorded]))?;
    let after = runner
        .rt
        .block_on(runner::progress(&runner.store, &ws, &writer.change))?;
    let mut lines = vec![format!(
        "approved: plan {} of phase {} ({env}) by {approver} (local)",
        short(&digest),
        phase.name
    )];
    if let Some(next) = after.next {
        lines.push(format!(
            "  next: {}",
            local_command(&next.command, &writer.actor)
        ));
    }
    print_stdout(&lines.join("\n"));
    Ok(ExitCode::Success)
}

/// A next step as it is run outside GitHub: `/phasegate approve ENV DIGEST`
/// (a pull-request comment) becomes the local approval command, anything
/// else stays as it is.
pub fn local_command(command: &str, actor: &str) -> String {
    let mut parts = command.splitn(2, ", then ");
    let first = parts.next().unwrap_or_default();
    let rest = parts.next();
    let words: Vec<&str> = first.split_whitespace().collect();
    let first = match words.as_slice() {
        ["/phasegate", "approve", env, digest] => {
            let name: String = actor
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                .collect();
            let name = if name.is_empty() { "me".into() } else { name };
            format!("phasegate approve --local --env {env} --digest {digest} --as {name}")
        }
        _ => first.to_string(),
    };
    match rest {
        Some(rest) => format!("{first}, then {rest}"),
        None => first,
    }
}

#[cfg(test)]
mod tests {
    use super::local_command;

    #[test]
    fn a_comment_approval_becomes_the_local_command_and_the_rest_stays() {
        assert_eq!(
            local_command("/phasegate approve staging aac128d05d08", "rita"),
            "phasegate approve --local --env staging --digest aac128d05d08 --as rita"
        );
        assert_eq!(
            local_command(
                "/phasegate approve prod 0123456789ab, then phasegate rollback --phase 2 --apply",
                "o'brien"
            ),
            "phasegate approve --local --env prod --digest 0123456789ab --as obrien, then phasegate rollback --phase 2 --apply"
        );
        assert_eq!(
            local_command("phasegate apply --phase 1", "rita"),
            "phasegate apply --phase 1"
        );
    }
}
