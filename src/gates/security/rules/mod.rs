//! The rule catalog: each rule is data (stable id, severity, title,
//! remediation, crosswalk) plus one check over a resource's planned value.
//! Severities follow Trivy's public metadata for the first Trivy id in the
//! crosswalk, except where a rule's doc says why not.

mod aws;
mod azure;
mod gcp;
pub(crate) mod generic;
pub(crate) mod net;

use serde_json::Value;

use super::node::{Known, Node};
use super::secrets::{self, SecretHit};
use crate::gates::Severity;
use crate::plan::{Action, ChangeSet};

/// What one check says about one resource.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// The resource breaks the rule; the message says how.
    Fail(String),
    /// A secret was found: the message shows it masked.
    Secret { message: String, hit: SecretHit },
    /// An attribute the rule needs is known only after apply.
    Unknown(String),
}

/// The resource a check looks at.
pub(crate) struct Subject<'a> {
    pub resource_type: &'a str,
    pub node: Node<'a>,
}

/// Plan-wide facts some checks need (is there a flow log for this VPC?).
pub(crate) struct Env<'a> {
    pub plan: &'a ChangeSet,
    pub protected: bool,
}

impl Env<'_> {
    /// Planned values of every created or updated resource of a type.
    pub(crate) fn others(&self, resource_type: &str) -> impl Iterator<Item = Node<'_>> + '_ {
        let t = resource_type.to_string();
        self.plan
            .resources
            .iter()
            .filter(move |r| {
                r.resource_type == t
                    && !matches!(r.action, Action::Delete | Action::Read | Action::Forget)
            })
            .map(|r| Node::new(&r.after, &r.after_unknown))
    }
}

pub(crate) type Check = fn(&Subject, &Env) -> Vec<Outcome>;

/// One rule of the catalog.
pub struct Rule {
    /// Stable id (`PG-AWS-001`): never reused, never renamed.
    pub id: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    pub remediation: &'static str,
    /// Resource types the check runs on.
    pub types: &'static [&'static str],
    pub checkov: &'static [&'static str],
    pub trivy: &'static [&'static str],
    pub(crate) check: Check,
}

/// Every rule, in id order within each cloud.
pub fn catalog() -> impl Iterator<Item = &'static Rule> {
    aws::RULES
        .iter()
        .chain(gcp::RULES)
        .chain(azure::RULES)
        .chain(generic::RULES)
}

pub fn rule(id: &str) -> Option<&'static Rule> {
    catalog().find(|r| r.id == id)
}

// ---- helpers shared by the cloud files --------------------------------

/// Fails when a boolean is not `true`; `default` is the provider's value when unset.
pub(crate) fn require_true(n: Node, attr: &str, default: bool, fail: &str) -> Vec<Outcome> {
    match n.key(attr).bool() {
        Known::Value(true) => vec![],
        Known::Value(false) => vec![Outcome::Fail(fail.to_string())],
        Known::Absent if default => vec![],
        Known::Absent => vec![Outcome::Fail(format!("{fail} (`{attr}` is not set)"))],
        Known::Unknown => vec![unknown(attr)],
    }
}

/// Fails when a boolean is `true`; `default` is the provider's value when unset.
pub(crate) fn require_false(n: Node, attr: &str, default: bool, fail: &str) -> Vec<Outcome> {
    match n.key(attr).bool() {
        Known::Value(false) => vec![],
        Known::Value(true) => vec![Outcome::Fail(fail.to_string())],
        Known::Absent if default => vec![Outcome::Fail(format!("{fail} (provider default)"))],
        Known::Absent => vec![],
        Known::Unknown => vec![unknown(attr)],
    }
}

pub(crate) fn unknown(attr: &str) -> Outcome {
    Outcome::Unknown(attr.to_string())
}

/// Scans one text for secrets; `place` says where it was (`user_data`).
pub(crate) fn secrets_in(text: &str, place: &str) -> Vec<Outcome> {
    secrets::scan(text)
        .into_iter()
        .map(|hit| Outcome::Secret {
            message: format!("{} in {place}: `{}`", hit.kind, hit.masked),
            hit,
        })
        .collect()
}

/// Scans every string leaf of a JSON value, naming the path where found.
pub(crate) fn secrets_in_value(v: &Value, place: &str, out: &mut Vec<Outcome>) {
    match v {
        Value::String(s) => out.extend(secrets_in(s, place)),
        Value::Array(list) => list.iter().for_each(|x| secrets_in_value(x, place, out)),
        Value::Object(map) => {
            for (k, x) in map {
                // `NAME=value` lets the password detector see the variable name.
                if let Value::String(s) = x {
                    out.extend(secrets_in(&format!("{k}={s}"), &format!("{place}.{k}")));
                } else {
                    secrets_in_value(x, &format!("{place}.{k}"), out);
                }
            }
        }
        _ => {}
    }
}
