//! The Terraform / OpenTofu JSON plan model: parsing `show -json` output of every
//! format version and normalizing it into a [`ChangeSet`].

mod counts;
mod diff;
pub mod digest;
pub mod json;
pub mod model;
mod parse;
#[doc(hidden)]
pub mod synthetic;
mod values;

pub use model::*;
pub use parse::{action_from_list, parse_plan_json, PlanError, SUPPORTED_FORMATS};
pub use synthetic::synthetic_plan_json;
pub use values::canonical_json;
