//! The one integration-test crate: each module is one area's specification.

mod blast_gate;
mod change_groups;
mod cli;
mod config_files;
mod cost_gate;
mod github_approvals;
mod github_client;
mod github_flow;
mod hostile_text;
mod iac_engine;
mod plan_e2e;
mod plan_model;
mod render_comment;
mod security_gate;
mod testbed;
mod testcloud;
