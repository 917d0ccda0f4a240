//! The one integration-test crate: each module is one area's specification.

mod cli;
mod config_files;
mod iac_engine;
mod plan_e2e;
mod plan_model;
mod render_comment;
mod security_gate;
mod testbed;
mod testcloud;
