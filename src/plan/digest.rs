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
/// their hashed stand-in form, never masked text nor clear values. Parsing
/// builds the [`DigestText`] of it directly; this form is the definition
/// the tests hold that text to.
#[cfg(test)]
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

#[cfg(test)]
impl DigestResource {
    /// The resource's entry in the digest document.
    pub(crate) fn entry(self) -> DigestEntry {
        DigestText {
            before: canonical_json(&self.before),
            after: canonical_json(&self.after),
            after_unknown: canonical_json(&self.after_unknown),
            address: self.address,
            action: self.action,
            importing: self.importing,
            previous_address: self.previous_address,
            deposed: self.deposed,
        }
        .entry()
    }
}

/// A [`DigestResource`] whose values are already canonical JSON text (see
/// `values::canonical_digest_form`): what parsing builds, without the
/// digest form's trees.
pub(crate) struct DigestText {
    pub address: String,
    pub action: Action,
    pub importing: Option<String>,
    pub previous_address: Option<String>,
    pub deposed: Option<String>,
    pub before: String,
    pub after: String,
    pub after_unknown: String,
}

impl DigestText {
    /// The resource's entry in the digest document: the canonical text of
    /// `{address, action, importing, previous_address, deposed, before,
    /// after, after_unknown}`, keys in sorted order.
    pub(crate) fn entry(self) -> DigestEntry {
        let counts = self.action != Action::NoOp
            || self.importing.is_some()
            || self
                .previous_address
                .as_deref()
                .is_some_and(|p| p != self.address);
        let mut out = Vec::with_capacity(
            self.before.len() + self.after.len() + self.after_unknown.len() + 160,
        );
        let key = |out: &mut Vec<u8>, name: &str| {
            out.push(if out.is_empty() { b'{' } else { b',' });
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
        };
        let scalar = |out: &mut Vec<u8>, v: &dyn erased::Scalar| v.write(out);
        key(&mut out, "action");
        scalar(&mut out, &self.action);
        key(&mut out, "address");
        scalar(&mut out, &self.address);
        key(&mut out, "after");
        out.extend_from_slice(self.after.as_bytes());
        key(&mut out, "after_unknown");
        out.extend_from_slice(self.after_unknown.as_bytes());
        key(&mut out, "before");
        out.extend_from_slice(self.before.as_bytes());
        key(&mut out, "deposed");
        scalar(&mut out, &self.deposed);
        key(&mut out, "importing");
        scalar(&mut out, &self.importing);
        key(&mut out, "previous_address");
        scalar(&mut out, &self.previous_address);
        out.push(b'}');
        DigestEntry {
            address: self.address,
            deposed: self.deposed,
            counts,
            canonical: String::from_utf8(out).expect("canonical JSON is UTF-8"),
        }
    }
}

/// Scalars written as serde_json writes them (strings escaped as
/// `canonical_json` escapes them, `None` as null).
mod erased {
    pub(super) trait Scalar {
        fn write(&self, out: &mut Vec<u8>);
    }
    impl<T: serde::Serialize> Scalar for T {
        fn write(&self, out: &mut Vec<u8>) {
            serde_json::to_writer(out, self).expect("writing to memory");
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
