//! The application layer: each command turns its arguments plus config into
//! a request, drives the domain core and the adapters, and returns an exit code.

pub mod gating;
pub mod output;
pub mod plan;
mod render;
mod schema;
mod validate;
pub mod workspace;

use crate::cli::{Cli, Command};
use crate::error::{Error, ExitCode, Result};

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let global = cli.global;
    match cli.command {
        Command::Validate => validate::run(&global),
        Command::Schema(args) => schema::run(args.which),
        Command::Plan(args) => plan::run(&global, args),
        Command::Render(args) => render::run(args),
        Command::Gate(_)
        | Command::Environments(_)
        | Command::Approvals(_)
        | Command::Approve(_) => Err(Error::Input(
            "this command is not available in this build yet".into(),
        )),
    }
}
