//! The application layer: each command turns its arguments plus config into
//! a request, drives the domain core and the adapters, and returns an exit code.

mod completions;
mod gate;
pub(crate) mod matrix;
mod price_book;
mod prices;
mod render;
mod schema;
mod status;
mod unlock;
mod validate;

use crate::cli::{Cli, Command};
use crate::error::{ExitCode, Result};
use crate::runner::{
    apply, approve as approvals, drift, journal, plan, policy, review, rollback, verify,
};
use crate::setup::{doctor, environments, init, workflows};

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    register_tokens(&cli);
    price_book::from_env()?;
    let global = cli.global;
    match cli.command {
        Command::Validate(args) => validate::run(&global, args),
        Command::Schema(args) => schema::run(args.which),
        Command::Plan(args) => plan::run(&global, args),
        Command::Render(args) => render::run(args),
        Command::Gate(args) => gate::run(&global, args),
        Command::Environments(args) => environments::run(&global, args),
        Command::Approvals(crate::cli::ApprovalsArgs {
            action: crate::cli::ApprovalsAction::Check { env, digest, token },
        }) => approvals::check(&global, &env, digest.as_deref(), token),
        Command::Approve(args) if args.local => {
            crate::runner::approvals::local::approve_local(&global, args)
        }
        Command::Approve(args) => approvals::approve(&global, args.token),
        Command::Prices(args) => prices::run(args),
        Command::Init(args) => init::run(&global, args),
        Command::Workflows(args) => workflows::run(&global, args),
        Command::Matrix(args) => matrix::run(&global, args),
        Command::Doctor(args) => doctor::run(&global, args),
        Command::Completions(args) => completions::run(&args.shell),
        Command::Status(args) => status::run(&global, args.format),
        Command::Journal(args) => journal::run(&global, args),
        Command::Apply(args) => apply::run(&global, args),
        Command::Steps(args) => crate::runner::operations::run::run(&global, args),
        Command::Unlock(args) => unlock::run(&global, args),
        Command::Policy(args) => policy::run(args),
        Command::Review(args) => review::run(&global, args),
        Command::Rollback(args) => rollback::run(&global, args),
        Command::Drift(args) => drift::run(&global, args),
        Command::Verify(args) => verify::run(&global, args),
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
        Command::Doctor(a) => a.token.as_deref(),
        Command::Apply(a) => a.token.as_deref(),
        Command::Steps(a) => a.token.as_deref(),
        Command::Review(a) => a.token.as_deref(),
        Command::Rollback(a) => a.token.as_deref(),
        Command::Drift(a) => a.token.as_deref(),
        Command::Verify(a) => a.token.as_deref(),
        _ => None,
    };
    if let Some(token) = flag {
        redactor.add_token(token);
    }
}
