//! The Terraform / OpenTofu JSON plan model: parsing `show -json` output of every
//! format version and normalizing it into a [`ChangeSet`].
//!
//! What differs between the versions, and how it is handled:
//!
//! | format | written by | what appears | handling |
//! |---|---|---|---|
//! | 0.1 | Terraform 0.12 – 0.14 | no sensitivity marks; short provider names (`aws`) in 0.12 | outputs flagged `sensitive` in `planned_values` / `prior_state` are masked; resource attributes carry no marks, so none can be masked |
//! | 0.2 | Terraform 0.15 – 1.0 | `before_sensitive` / `after_sensitive`; output sensitivity as one bool | marks applied to values, diffs and outputs |
//! | 1.0 | Terraform 1.1 | `resource_drift`, `action_reason`, `previous_address` | drift kept apart from changes; moves counted |
//! | 1.1 | Terraform 1.2 – 1.4 | `replace_paths`, `relevant_attributes`, `checks` | replace paths mark diff leaves; the other two are skipped |
//! | 1.2 | Terraform 1.5+, OpenTofu 1.6+ | `importing` (`id`; later also `unknown`, `identity`), `errored`, `checks`; later `["forget"]`, `["create","forget"]`, `applyable` / `complete` | imports counted; flags kept when present |
//! | 1.2 | OpenTofu | `registry.opentofu.org` provider addresses, `["forget","create"]` | engine recognized; both forget spellings are one action |
//!
//! Any later 1.x minor is read (Terraform adds fields only within a major);
//! any other major is refused with a message naming the file and the version.
//! `variables`, `planned_values`, `prior_state` and `configuration` (but its
//! `provider_config`) are never held: they repeat sensitive values in clear.
//!
//! `state.rs` reads the other document `show -json` writes, the state (no
//! plan file), masked by the same walkers, for the gates on the applied state.

mod counts;
mod diff;
pub mod digest;
pub mod group;
pub mod json;
pub mod json_text;
pub mod model;
mod parse;
pub mod references;
pub mod state;
#[doc(hidden)]
pub mod synthetic;
mod values;

pub use json_text::JsonText;
pub use model::*;
pub use parse::{action_from_list, parse_plan_json, PlanError, SUPPORTED_FORMATS};
pub use state::{parse_state_json, AppliedState, StateResource};
pub use synthetic::{fleet_plan_json, synthetic_plan_json};
pub use values::canonical_json;
/// The mark-tree walkers, for the policy gate's masked copy of the raw plan.
pub(crate) use values::{clean_marks, collapse_under, mask, union_marks};
