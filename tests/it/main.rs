//! The one integration-test crate: each module is one area's specification.

mod blast_gate;
mod cli;
mod config_files;
mod cost_gate;
mod github_approvals;
mod github_client;
mod github_flow;
mod iac_engine;
mod plan_e2e;
mod plan_model;
mod render_comment;
mod security_gate;
mod testbed;
mod testcloud;
mod change_groups;
mod hostile_text;
