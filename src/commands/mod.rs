//! The application layer: each command turns its arguments plus config into
//! a request, drives the domain core and the adapters, and returns an exit code.

mod actions;
mod approvals;
mod environments;
mod forge;
mod gate;
pub mod gating;
pub mod output;
pub mod plan;
pub mod projects;
mod render;
mod schema;
mod validate;
pub mod workspace;

use crate::cli::{Cli, Command};
use crate::error::{ExitCode, Result};

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    register_tokens(&cli);
    let global = cli.global;
    match cli.command {
        Command::Validate => validate::run(&global),
        Command::Schema(args) => schema::run(args.which),
        Command::Plan(args) => plan::run(&global, args),
        Command::Render(args) => render::run(args),
        Command::Gate(args) => gate::run(&global, args),
        Command::Environments(args) => environments::run(&global, args),
        Command::Approvals(crate::cli::ApprovalsArgs {
            action: crate::cli::ApprovalsAction::Check { env, digest, token },
        }) => approvals::check(&global, &env, digest.as_deref(), token),
        Command::Approve(args) => approvals::approve(&global, args.token),
    }
}

/// Tokens are secrets from the first moment: register them with the
/// redactor before anything could print them.
fn register_tokens(cli: &Cli) {
    let redactor = crate::redact::global();
    for var in ["GITHUB_TOKEN", "GH_TOKEN", "PHASEGATE_ADMIN_TOKEN"] {
        if let Ok(token) = std::env::var(var) {
            redactor.add_token(&token);
        }
    }
    let flag = match &cli.command {
        Command::Plan(a) => a.token.as_deref(),
        Command::Environments(a) => a.token.as_deref(),
        Command::Approvals(crate::cli::ApprovalsArgs {
            action: crate::cli::ApprovalsAction::Check { token, .. },
        }) => token.as_deref(),
        Command::Approve(a) => a.token.as_deref(),
        _ => None,
    };
    if let Some(token) = flag {
        redactor.add_token(token);
    }
}
