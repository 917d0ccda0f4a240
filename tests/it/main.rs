//! The one integration-test crate: each module is one area's specification.

mod testbed;
mod testcloud;
