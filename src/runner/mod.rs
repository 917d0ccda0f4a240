//! The operations the runner commands share, apart from the commands that
//! parse arguments and map results to exit codes (`crate::commands`).
//! - `gated`: the one path a plan takes into a change: planned, parsed with
//!   its sensitive strings registered, gated, rendered and journaled;
//! - `approvals`: approvals recorded outside GitHub (`approve --local`);
//! - `lock`: the one take, release and refusal of an (environment,
//!   project) lock, for an apply and a rollback alike.

pub mod approvals;
pub mod gated;
pub mod lock;
