//! What a repository needs around phasegate, and the check that it has it:
//! `init` (scan the repository, write `phasegate.yml` and the workflows),
//! `workflows` (generate or check the workflows on disk), `environments`
//! (check or configure the GitHub environments that gate applies) and
//! `doctor` (the tools, the token, the workflows and the journal).

pub mod doctor;
pub mod environments;
pub mod init;
pub mod workflows;
