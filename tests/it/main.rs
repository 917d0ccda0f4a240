//! The one integration-test crate: each module is one area's specification.

mod action_yml;
mod blast_gate;
mod cli;
mod config_files;
mod cost_gate;
mod git_store;
mod github_approvals;
mod github_client;
mod github_flow;
mod iac_engine;
mod iac_fake;
mod init;
mod matrix;
mod plan_e2e;
mod plan_model;
mod policy_gate;
mod price_import;
mod render_comment;
mod runner_comment;
mod runner_e2e;
mod runner_journal;
mod security_gate;
mod testbed;
mod testcloud;
mod workflows;
