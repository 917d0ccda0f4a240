//! What a command leaves for the rest of the workflow when it runs in GitHub
//! Actions: step outputs, the job summary, and masks for known secrets.

use crate::ci::{commands, outputs, summary, ActionsContext};
use crate::error::Result;

/// Announces every registered secret to the runner, so that it masks them
/// in the log even if something printed them.
pub fn mask_secrets(ctx: Option<&ActionsContext>) {
    if ctx.is_some() {
        commands::emit_masks();
    }
}

/// Writes step outputs and appends the job summary, when the runner asked for them.
pub fn publish_step(
    ctx: &ActionsContext,
    step_outputs: &[(&str, String)],
    summary_md: &str,
) -> Result<()> {
    if let Some(file) = &ctx.output_file {
        outputs::write_outputs(file, step_outputs)?;
    }
    if let Some(file) = &ctx.summary_file {
        summary::append_summary(file, summary_md)?;
    }
    Ok(())
}
