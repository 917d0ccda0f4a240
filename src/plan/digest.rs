//! The plan digest: the identity of "the exact operation" an approver approves.
//!
//! `ChangeSet::digest` is the hex sha256 of one canonical JSON document (object
//! keys sorted at every level, no whitespace, see [`canonical_json`]) built
//! from the normalized changes:
//!
//! - every resource change that does something, sorted by address then
//!   deposed key: `address`, `action`, `importing`, `previous_address`,
//!   `deposed`, `before`, `after`, `after_unknown`;
//! - every output change, sorted by name: `name`, `action`, `before`, `after`.
//!
//! Choices, and why:
//! - **Key order in the input never matters**: the document is canonical.
//! - **Pure no-ops are left out** (no-op with no import and no move). They
//!   describe what apply will not touch, and their refreshed values move between
//!   two plans of the same operation; counting them would void approvals for
//!   nothing. A no-op that imports or moves is an operation and is included.
//! - **Sensitive values move the digest without entering it**: a sensitive
//!   leaf is represented by `{"sensitive_sha256": <sha256 of its canonical JSON>}`
//!   computed from the raw plan before masking. Changing a secret therefore
//!   changes the digest, and the digest text carries no part of the secret.
//!   Known weakness: a low-entropy secret could be guessed offline by someone
//!   who holds every other value of the plan and the digest.
//! - **Drift, engine, engine version, provider configuration and the
//!   `errored`/`applyable`/`complete` flags are left out**: they do not change
//!   what apply does to resources.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::model::Action;
use super::values::canonical_json;

/// One resource change as the digest sees it: sensitive leaves already in
/// their hashed stand-in form, never masked text nor clear values.
pub(crate) struct DigestResource {
    pub address: String,
    pub action: Action,
    pub importing: Option<String>,
    pub previous_address: Option<String>,
    pub deposed: Option<String>,
    pub before: Value,
    pub after: Value,
    pub after_unknown: Value,
}

impl DigestResource {
    fn counts(&self) -> bool {
        self.action != Action::NoOp
            || self.importing.is_some()
            || self
                .previous_address
                .as_deref()
                .is_some_and(|p| p != self.address)
    }
}

/// One output change as the digest sees it.
pub(crate) struct DigestOutput {
    pub name: String,
    pub action: Action,
    pub before: Value,
    pub after: Value,
}

/// The hex sha256 of the canonical document of these changes.
pub(crate) fn digest(mut resources: Vec<DigestResource>, mut outputs: Vec<DigestOutput>) -> String {
    resources.retain(DigestResource::counts);
    resources.sort_by(|a, b| (&a.address, &a.deposed).cmp(&(&b.address, &b.deposed)));
    outputs.sort_by(|a, b| a.name.cmp(&b.name));
    let document = json!({
        "resources": resources.into_iter().map(|r| json!({
            "address": r.address,
            "action": r.action,
            "importing": r.importing,
            "previous_address": r.previous_address,
            "deposed": r.deposed,
            "before": r.before,
            "after": r.after,
            "after_unknown": r.after_unknown,
        })).collect::<Vec<_>>(),
        "outputs": outputs.into_iter().map(|o| json!({
            "name": o.name,
            "action": o.action,
            "before": o.before,
            "after": o.after,
        })).collect::<Vec<_>>(),
    });
    hex::encode(Sha256::digest(canonical_json(&document).as_bytes()))
}
