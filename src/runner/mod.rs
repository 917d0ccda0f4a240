//! The operations the runner commands share, apart from `commands/`, which
//! turns arguments into calls of these: the session (store, forge and
//! runtime), the one gated plan path, locks, checkpoints, apply with its
//! resume, rollback, posting to the PR, and approvals.
//! - `session`: the store, the forge and the runtime a runner command opens;
//!   the journal read and append; who writes;
//! - `workspace`: the config, change plan and phase a command works on;
//! - `gated`: the one path a plan takes into a change: planned, parsed with
//!   its sensitive strings registered, gated, rendered and journaled;
//! - `plan`, `gating`, `policy`, `projects`: a phase's plans and their gates;
//! - `lock`: the one take, release and refusal of an (environment, project)
//!   lock, for an apply and a rollback alike;
//! - `checkpoint`, `apply` (with `apply::resume`), `rollback` (with
//!   `rollback::tree`), `review`, `applied_gate`;
//! - `post`, `forge`, `actions`: the journal block, the sticky comment, the
//!   job summary and step outputs;
//! - `approvals` (GitHub's evidence journaled, and `approvals::local`
//!   outside GitHub), `approve` (`/phasegate approve` and `approvals check`);
//! - `verify`, `drift` (with `health`, the environment's checks probed again
//!   on the drift schedule), `journal`: the checks after apply, drift and
//!   health, and the journal's chain shown;
//! - `output`: files staged and renamed together, and stdout.

pub mod actions;
pub mod applied_gate;
pub mod apply;
pub mod approvals;
pub mod approve;
pub mod checkpoint;
pub mod drift;
pub mod followup;
pub mod forge;
pub mod gated;
pub mod gating;
pub mod health;
pub mod inputs;
pub mod journal;
pub mod lock;
pub mod operations;
pub mod output;
pub mod plan;
pub mod policy;
pub mod post;
pub mod projects;
pub mod review;
pub mod rollback;
pub mod session;
pub mod stale;
pub mod verify;
pub mod workspace;
