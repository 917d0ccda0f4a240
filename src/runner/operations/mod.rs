//! Operation steps of a phase: running their commands (`command.rs`) for
//! the decisions of `phase::operation`. Wiring them into `plan` and
//! `apply` is still to come; a change plan with steps is refused until then.

pub mod command;
pub mod execute;
