//! `phasegate status`: the journal folded into where the change stands and
//! the next command to run. Reads only.

use super::output::print_stdout;
use super::runner::{self, StoreChoice};
use super::workspace::Workspace;
use crate::ci::ActionsContext;
use crate::cli::{GlobalArgs, OutputFormat};
use crate::error::{ExitCode, Result};
use crate::journal::Progress;
use crate::store::local::LocalStore;

pub fn run(global: &GlobalArgs, format: OutputFormat) -> Result<ExitCode> {
    let ws = Workspace::load(global, true)?;
    let actions = ActionsContext::from_process_env()?;
    let change = runner::change_id(&ws, actions.as_ref());
    let rt = super::forge::runtime()?;
    let progress = match runner::store_choice(&ws, actions.as_ref())? {
        StoreChoice::Local(dir) => {
            rt.block_on(runner::progress(&LocalStore::new(dir), &ws, &change))?
        }
    };
    print_stdout(&show(&progress, format));
    Ok(ExitCode::Success)
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
