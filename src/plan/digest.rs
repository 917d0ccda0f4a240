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

/// One resource change reduced to what the digest needs once the plan is
/// read: its sort key and its canonical JSON text. Held instead of the
/// [`DigestResource`] values so that a large plan does not keep a third
/// copy of every value tree until the end of parsing.
pub(crate) struct DigestEntry {
    address: String,
    deposed: Option<String>,
    counts: bool,
    canonical: String,
}

impl DigestResource {
    /// The resource's entry in the digest document.
    pub(crate) fn entry(self) -> DigestEntry {
        let counts = self.counts();
        let canonical = canonical_json(&json!({
            "address": self.address,
            "action": self.action,
            "importing": self.importing,
            "previous_address": self.previous_address,
            "deposed": self.deposed,
            "before": self.before,
            "after": self.after,
            "after_unknown": self.after_unknown,
        }));
        DigestEntry {
            address: self.address,
            deposed: self.deposed,
            counts,
            canonical,
        }
    }
}

/// The hex sha256 of the canonical document of these changes:
/// `{"outputs":[…],"resources":[…]}` with keys sorted, written straight into
/// the hash piece by piece (the same bytes [`canonical_json`] would give for
/// the whole document, without building it).
pub(crate) fn digest(mut resources: Vec<DigestEntry>, mut outputs: Vec<DigestOutput>) -> String {
    resources.retain(|r| r.counts);
    resources.sort_by(|a, b| (&a.address, &a.deposed).cmp(&(&b.address, &b.deposed)));
    outputs.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hash = Sha256::new();
    hash.update(b"{\"outputs\":[");
    for (i, o) in outputs.into_iter().enumerate() {
        if i > 0 {
            hash.update(b",");
        }
        let text = canonical_json(&json!({
            "name": o.name,
            "action": o.action,
            "before": o.before,
            "after": o.after,
        }));
        hash.update(text.as_bytes());
    }
    hash.update(b"],\"resources\":[");
    for (i, r) in resources.iter().enumerate() {
        if i > 0 {
            hash.update(b",");
        }
        hash.update(r.canonical.as_bytes());
    }
    hash.update(b"]}");
    hex::encode(hash.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(address: &str, action: Action, secret: &str) -> DigestResource {
        DigestResource {
            address: address.into(),
            action,
            importing: None,
            previous_address: None,
            deposed: None,
            before: json!({"b": 1, "a": [1, {"z": null, "y": "é\"\n"}]}),
            after: json!({"sensitive_sha256": secret}),
            after_unknown: json!({"id": true}),
        }
    }

    /// The streamed digest is the sha256 of the whole canonical document,
    /// as it was defined before streaming: approvals recorded against
    /// earlier digests stay valid.
    #[test]
    fn streamed_digest_equals_the_hash_of_the_whole_canonical_document() {
        let make = || {
            vec![
                resource("b.x", Action::Update, "s1"),
                resource("a.x", Action::Create, "s2"),
                resource("c.noop", Action::NoOp, "s3"),
            ]
        };
        let outputs = || {
            vec![
                DigestOutput {
                    name: "z".into(),
                    action: Action::Update,
                    before: json!(1),
                    after: json!(2),
                },
                DigestOutput {
                    name: "a".into(),
                    action: Action::Create,
                    before: Value::Null,
                    after: json!("x"),
                },
            ]
        };
        let resources: Vec<Value> = [make().remove(1), make().remove(0)]
            .into_iter()
            .map(|r| {
                json!({
                    "address": r.address, "action": r.action, "importing": r.importing,
                    "previous_address": r.previous_address, "deposed": r.deposed,
                    "before": r.before, "after": r.after, "after_unknown": r.after_unknown,
                })
            })
            .collect();
        let outputs_doc: Vec<Value> = [outputs().remove(1), outputs().remove(0)]
            .into_iter()
            .map(|o| json!({"name": o.name, "action": o.action, "before": o.before, "after": o.after}))
            .collect();
        let document = json!({"resources": resources, "outputs": outputs_doc});
        let whole = hex::encode(Sha256::digest(canonical_json(&document).as_bytes()));
        let streamed = digest(
            make().into_iter().map(DigestResource::entry).collect(),
            outputs(),
        );
        assert_eq!(streamed, whole);
        assert_eq!(
            digest(vec![], vec![]),
            hex::encode(Sha256::digest(br#"{"outputs":[],"resources":[]}"#))
        );
    }
}
