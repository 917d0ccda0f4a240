//! The Terraform / OpenTofu JSON plan model: parsing `show -json` output of every
//! format version and normalizing it into a [`ChangeSet`].

pub mod model;

pub use model::*;
