//! The one integration-test crate: each module is one area's specification.

mod config_files;
mod github_approvals;
mod github_client;
mod plan_e2e;
mod plan_model;
mod render_comment;
mod testbed;
mod testcloud;
