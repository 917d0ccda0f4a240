//! IAM policy documents: parsing the JSON string a policy attribute holds and
//! answering the questions the rules ask (wildcards, public principals).

use serde_json::Value;

use super::node::{Known, Node};
use super::rules::{unknown, Outcome};

pub(crate) struct PolicyDoc {
    statements: Vec<Value>,
}

/// Parses the policy in `attr` and runs `f` on it; reports unknown policies
/// and ignores unparseable ones (Terraform validates JSON before we see it).
pub(crate) fn with_document(
    n: Node,
    attr: &str,
    f: impl FnOnce(&PolicyDoc) -> Vec<Outcome>,
) -> Vec<Outcome> {
    match n.key(attr).str() {
        Known::Value(text) => match PolicyDoc::parse(text) {
            Some(doc) => f(&doc),
            None => Vec::new(),
        },
        Known::Unknown => vec![unknown(attr)],
        Known::Absent => Vec::new(),
    }
}

fn strings(v: Option<&Value>) -> impl Iterator<Item = &str> {
    as_list(v).into_iter().filter_map(Value::as_str)
}

fn as_list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(x) => vec![x],
        None => vec![],
    }
}

impl PolicyDoc {
    pub(crate) fn parse(text: &str) -> Option<PolicyDoc> {
        let v: Value = serde_json::from_str(text).ok()?;
        let statements = as_list(v.get("Statement")).into_iter().cloned().collect();
        Some(PolicyDoc { statements })
    }

    fn allows(&self) -> impl Iterator<Item = (String, &Value)> {
        self.statements
            .iter()
            .enumerate()
            // Checkov reads a statement without Effect as Allow; so do we.
            .filter(|(_, s)| s.get("Effect").is_none_or(|e| e.as_str() == Some("Allow")))
            .map(|(i, s)| {
                let sid = s
                    .get("Sid")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("#{i}"), |x| format!("`{x}`"));
                (sid, s)
            })
    }

    /// Statements allowing the action `*`; with `on_all_resources`, only
    /// those that also allow it on `Resource: *` (full administrator).
    pub(crate) fn star_actions(&self, on_all_resources: bool) -> Vec<String> {
        self.allows()
            .filter(|(_, s)| strings(s.get("Action")).any(|a| a == "*"))
            .filter(|(_, s)| !on_all_resources || strings(s.get("Resource")).any(|r| r == "*"))
            .map(|(sid, _)| sid)
            .collect()
    }

    /// `(statement, action)` for every whole-service wildcard (`s3:*`).
    pub(crate) fn service_wildcards(&self) -> Vec<(String, String)> {
        self.allows()
            .flat_map(|(sid, s)| {
                strings(s.get("Action"))
                    .filter(|a| *a != "*" && a.ends_with(":*"))
                    .map(move |a| (sid.clone(), a.to_string()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Statements allowing on `Resource: *` an action that could be scoped
    /// to resources. `Describe*` calls (and sts:GetCallerIdentity) take no
    /// resource ARN in IAM, so `*` is the only way to allow them.
    pub(crate) fn wildcard_resources(&self) -> Vec<String> {
        let scopable = |a: &str| {
            let verb = a.split_once(':').map_or(a, |(_, v)| v);
            !(verb.starts_with("Describe") || verb == "GetCallerIdentity")
        };
        self.allows()
            .filter(|(_, s)| strings(s.get("Resource")).any(|r| r == "*"))
            .filter(|(_, s)| strings(s.get("Action")).any(scopable))
            .map(|(sid, _)| sid)
            .collect()
    }

    /// Statements allowing any principal without a condition.
    pub(crate) fn public_allow_statements(&self) -> Vec<String> {
        self.allows()
            .filter(|(_, s)| s.get("Condition").is_none())
            .filter(|(_, s)| match s.get("Principal") {
                Some(Value::String(p)) => p == "*",
                Some(Value::Object(m)) => m
                    .values()
                    .any(|v| as_list(Some(v)).iter().any(|x| x.as_str() == Some("*"))),
                _ => false,
            })
            .map(|(sid, _)| sid)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_public_principals_are_found() {
        let doc = PolicyDoc::parse(
            r#"{"Version":"2012-10-17","Statement":[
                {"Sid":"All","Effect":"Allow","Action":"*","Resource":"*"},
                {"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::b/*"],"Principal":{"AWS":"*"}},
                {"Effect":"Deny","Action":"iam:*","Resource":"*"}]}"#,
        )
        .expect("valid policy");
        assert_eq!(doc.star_actions(true), vec!["`All`".to_string()]);
        assert!(doc.service_wildcards().is_empty(), "iam:* is denied");
        assert_eq!(doc.wildcard_resources(), vec!["`All`".to_string()]);
        assert_eq!(doc.public_allow_statements(), vec!["#1".to_string()]);
    }
}
