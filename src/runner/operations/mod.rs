//! Operation steps: running their commands and driving them to where they
//! settle.

pub mod command;
pub mod execute;
pub mod preview;
pub mod run;
