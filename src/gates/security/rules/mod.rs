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
use crate::plan::references::strip_indices;
use crate::plan::{Action, ChangeSet, Mode};

/// What one check says about one resource.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// The resource breaks the rule; the message says how.
    Fail(String),
    /// Breaks the rule at another severity than the rule's (deletion
    /// protection outside protected environments).
    FailAt(Severity, String),
    /// A secret was found: the message shows it masked.
    Secret { message: String, hit: SecretHit },
    /// An attribute the rule needs is known only after apply.
    Unknown(String),
}

/// The resource a check looks at.
pub(crate) struct Subject<'a> {
    pub address: &'a str,
    pub resource_type: &'a str,
    pub node: Node<'a>,
}

/// Plan-wide facts some checks need (is there a flow log for this VPC?).
pub(crate) struct Env<'a> {
    pub plan: &'a ChangeSet,
    pub protected: bool,
    /// The planned values of the resources [`Env::others_with_address`]
    /// lists, by type, parsed on the first question about that type: only
    /// the types rules ask about (flow logs, bucket companions) are parsed
    /// twice, and each only once however many resources ask.
    others: std::collections::HashMap<&'a str, std::cell::OnceCell<Vec<Planned<'a>>>>,
}

/// One resource's address and its parsed planned value and unknown marks.
struct Planned<'a> {
    address: &'a str,
    after: Value,
    after_unknown: Value,
}

impl<'a> Env<'a> {
    pub(crate) fn new(plan: &'a ChangeSet, protected: bool) -> Env<'a> {
        let others = plan
            .resources
            .iter()
            .map(|r| (r.resource_type.as_str(), std::cell::OnceCell::new()))
            .collect();
        Env {
            plan,
            protected,
            others,
        }
    }

    /// Every created, updated or unchanged managed resource of a type, with
    /// its address and planned value.
    pub(crate) fn others_with_address(
        &self,
        resource_type: &str,
    ) -> impl Iterator<Item = (&str, Node<'_>)> + '_ {
        let plan = self.plan;
        self.others
            .get(resource_type)
            .map(|cell| {
                cell.get_or_init(|| {
                    plan.resources
                        .iter()
                        .filter(|r| {
                            r.resource_type == resource_type
                                && r.mode == Mode::Managed
                                && !matches!(
                                    r.action,
                                    Action::Delete | Action::Read | Action::Forget
                                )
                        })
                        .map(|r| Planned {
                            address: r.address.as_str(),
                            after: r.after.value(),
                            after_unknown: r.after_unknown.value(),
                        })
                        .collect()
                })
            })
            .into_iter()
            .flatten()
            .map(|p| (p.address, Node::new(&p.after, &p.after_unknown)))
    }

    /// What `attr` of the resource at `address` refers to, by the plan's
    /// `configuration` (resource addresses without instance keys); `None`
    /// when the configuration records no reference there.
    pub(crate) fn refers(&self, address: &str, attr: &str) -> Option<&[String]> {
        self.plan
            .references
            .get(&strip_indices(address))
            .and_then(|attrs| attrs.get(attr))
            .map(Vec::as_slice)
    }

    /// Whether `from.attr` points at `to`: by the configuration's reference
    /// when there is one, else by equal known values (`to_value` is the
    /// attribute of `to` that `attr` holds, such as the bucket name). An
    /// unknown value with no reference to follow counts as pointing here, as
    /// old plans without `configuration` leave no other way to tell.
    pub(crate) fn points_at(
        &self,
        from: (&str, Node),
        attr: &str,
        to: (&str, Node),
        to_value: &str,
    ) -> bool {
        if let Some(targets) = self.refers(from.0, attr) {
            let target = strip_indices(to.0);
            return targets.contains(&target);
        }
        match (from.1.key(attr).str(), to.1.key(to_value).str()) {
            (Known::Value(a), Known::Value(b)) => a == b,
            (Known::Unknown, _) => true,
            _ => false,
        }
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
    /// One line: what the crosswalked Checkov check tests (or why there is
    /// none), so a reader can judge where the two may disagree.
    pub checkov_note: &'static str,
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
