//! `phasegate completions SHELL`: the shell completion script, from the clap
//! definitions, so it never lags behind the commands.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::error::{Error, ExitCode, Result};

pub fn run(shell: &str) -> Result<ExitCode> {
    let shell: Shell = shell.parse().map_err(|_| {
        Error::Input(format!(
            "unknown shell `{shell}`; use bash, zsh, fish, elvish or powershell"
        ))
    })?;
    let mut cmd = Cli::command();
    // Into memory first: clap_complete panics when stdout closes early (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "phasegate", &mut script);
    crate::runner::output::print_stdout(&String::from_utf8_lossy(&script));
    Ok(ExitCode::Success)
}
