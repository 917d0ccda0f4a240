//! `phasegate unlock`: releases the lock on an environment and project by
//! hand, and journals who released it, whose lock it was, and why.

use crate::ci::ActionsContext;
use crate::cli::{GlobalArgs, UnlockArgs};
use crate::error::{Error, ExitCode, Result};
use crate::journal::{EventKind, Step};
use crate::runner::output::print_stdout;
use crate::runner::session::{self as runner, Runner, Writer};
use crate::runner::workspace::Workspace;
use crate::store::lock::{self, describe};
use crate::store::Store;

pub fn run(global: &GlobalArgs, args: UnlockArgs) -> Result<ExitCode> {
    if args.reason.trim().is_empty() {
        return Err(Error::Input(
            "--reason: say why the lock is released".into(),
        ));
    }
    let ws = Workspace::load(global, true)?;
    let actions = ActionsContext::from_process_env()?;
    let runner = Runner::open(&ws, actions.as_ref(), None)?;
    let writer = runner.writer(&ws, actions.as_ref());
    runner
        .rt
        .block_on(unlock(&runner.store, &ws, &writer, &args))
}

async fn unlock<S: Store>(
    store: &S,
    ws: &Workspace,
    writer: &Writer,
    args: &UnlockArgs,
) -> Result<ExitCode> {
    let removed = lock::force_release(store, &args.env, &args.project)
        .await
        .map_err(|e| Error::External(e.to_string()))?;
    let Some(holder) = removed else {
        print_stdout(&format!("{}/{} is not locked", args.env, args.project));
        return Ok(ExitCode::Success);
    };
    // The lock's own change owns the journal entry; the phase is the one
    // that targets the environment.
    let phase = runner::all_phases(ws)
        .into_iter()
        .find(|p| p.environment.name == args.env)
        .map(|p| p.name)
        .unwrap_or_else(|| args.env.clone());
    let event = Writer {
        change: holder.change.clone(),
        ..writer.clone()
    }
    .event(
        &phase,
        Some(&args.project),
        Step::Lock,
        None,
        EventKind::LockBroken {
            environment: args.env.clone(),
            owner: holder.owner.clone(),
            reason: format!("unlocked by @{}: {}", writer.actor, args.reason),
        },
    );
    runner::append(store, &holder.change, &[event]).await?;
    print_stdout(&format!(
        "released {}/{} (held by {}); journaled in change {}",
        args.env,
        args.project,
        describe(&holder.owner),
        holder.change
    ));
    Ok(ExitCode::Success)
}
