//! `phasegate status`: the journal folded into where the change stands and
//! the next command to run. Reads only; it looks on this host whether the
//! processes the journal names (an apply's engine, a lock's holder) still run.

use crate::ci::ActionsContext;
use crate::cli::{GlobalArgs, OutputFormat};
use crate::error::{ExitCode, Result};
use crate::iac::orphan;
use crate::journal::{fold_seeing, EngineProcess, Progress, Seen};
use crate::runner::output::print_stdout;
use crate::runner::session::{self as runner, Runner};
use crate::runner::workspace::Workspace;

pub fn run(global: &GlobalArgs, format: OutputFormat) -> Result<ExitCode> {
    let ws = Workspace::load(global, true)?;
    let actions = ActionsContext::from_process_env()?;
    let runner = Runner::open(&ws, actions.as_ref(), None)?;
    let change = runner.writer(&ws, actions.as_ref()).change;
    let events = runner
        .rt
        .block_on(runner::read_journal(&runner.store, &change))?;
    let phases = runner::phase_refs(&runner::all_phases(&ws));
    let mut progress = fold_seeing(&change, &phases, &events, &seen_here);
    // Outside Actions an approval is given with `approve --local`, not in a
    // pull-request comment.
    if actions.is_none() {
        let actor = runner.writer(&ws, None).actor;
        if let Some(next) = progress.next.as_mut() {
            next.command = crate::runner::approvals::local::local_command(&next.command, &actor);
        }
    }
    print_stdout(&show(&progress, format));
    Ok(ExitCode::Success)
}

/// What this host sees of a process the journal names: an apply's engine
/// may outlive its phasegate, and a dead one is never called running.
fn seen_here(p: &EngineProcess) -> Seen {
    match crate::iac::orphan::seen(p) {
        orphan::Seen::Running => Seen::Running,
        orphan::Seen::Gone => Seen::Gone,
        orphan::Seen::Elsewhere => Seen::Unknown,
    }
}

fn show(progress: &Progress, format: OutputFormat) -> String {
    match format {
        OutputFormat::Json => serde_json::to_string_pretty(progress).unwrap_or_default(),
        OutputFormat::Markdown => progress
            .phases
            .iter()
            .map(|p| crate::render::progress::phase_markdown(progress, p, &[]))
            .collect::<Vec<_>>()
            .join("\n\n"),
        OutputFormat::Text => crate::render::progress::text(progress),
    }
}
