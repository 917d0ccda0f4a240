//! The leaf-level attribute diff of one resource change.
//!
//! Walks `before` and `after` together with their sensitive and unknown marks,
//! and emits one [`AttrDiff`] per leaf that changes, in path order (object keys
//! sorted, array elements by index). A node that is sensitive or unknown on
//! either side is reported as one leaf: its inside is never looked at, so a
//! sensitive value cannot leak through a sub-path. Whether a sensitive leaf
//! changed is decided on the raw values, but only the fact is reported.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::json_text::JsonText;
use super::model::{AttrDiff, DiffValue, SENSITIVE_MASK};
use super::values::{any_marked, element, is_marked, mask, member};

/// One step of an attribute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

impl Step {
    /// Reads one step of a `replace_paths` entry (a string key or a number).
    pub(crate) fn from_json(v: &Value) -> Option<Step> {
        match v {
            Value::String(s) => Some(Step::Key(s.clone())),
            Value::Number(n) => n.as_u64().map(|i| Step::Index(i as usize)),
            _ => None,
        }
    }
}

/// Renders a path as `a.b[0].c`; keys that are not plain identifiers are
/// quoted, `tags["kubernetes.io/role"]`, so the text stays unambiguous.
pub(crate) fn render_path(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if is_identifier(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Key(k) => {
                out.push('[');
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(']');
            }
            Step::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

fn is_identifier(k: &str) -> bool {
    let mut chars = k.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The inputs of one diff: both sides with their marks.
pub(crate) struct DiffInput<'a> {
    pub before: &'a Value,
    pub before_sensitive: &'a Value,
    pub after: &'a Value,
    pub after_sensitive: &'a Value,
    pub after_unknown: &'a Value,
    pub replace_paths: &'a [Vec<Step>],
}

/// The changed leaves, in path order.
pub(crate) fn attr_diff(input: &DiffInput<'_>) -> Vec<AttrDiff> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    let marks = Marks {
        before_sensitive: input.before_sensitive,
        after_sensitive: input.after_sensitive,
        after_unknown: input.after_unknown,
    };
    walk(
        &mut path,
        present(input.before),
        present(input.after),
        marks,
        input.replace_paths,
        &mut out,
    );
    out
}

#[derive(Clone, Copy)]
struct Marks<'a> {
    before_sensitive: &'a Value,
    after_sensitive: &'a Value,
    after_unknown: &'a Value,
}

impl<'a> Marks<'a> {
    fn member(self, key: &str) -> Marks<'a> {
        Marks {
            before_sensitive: member(self.before_sensitive, key),
            after_sensitive: member(self.after_sensitive, key),
            after_unknown: member(self.after_unknown, key),
        }
    }
    fn element(self, index: usize) -> Marks<'a> {
        Marks {
            before_sensitive: element(self.before_sensitive, index),
            after_sensitive: element(self.after_sensitive, index),
            after_unknown: element(self.after_unknown, index),
        }
    }
}

/// Null means "no value" on a side: Terraform writes absent attributes as null.
fn present(v: &Value) -> Option<&Value> {
    (!v.is_null()).then_some(v)
}

fn walk(
    path: &mut Vec<Step>,
    before: Option<&Value>,
    after: Option<&Value>,
    marks: Marks<'_>,
    replace_paths: &[Vec<Step>],
    out: &mut Vec<AttrDiff>,
) {
    let unknown = is_marked(marks.after_unknown);
    let after = if unknown { None } else { after };
    let before_sensitive = before.is_some() && is_marked(marks.before_sensitive);
    let after_sensitive = after.is_some() && is_marked(marks.after_sensitive);

    if !unknown && !before_sensitive && !after_sensitive {
        // A container appearing or disappearing whole is walked against an
        // empty one, so each of its leaves is reported; an empty container is
        // itself the leaf.
        let no_members = Map::new();
        let objects = match (before, after) {
            (Some(Value::Object(b)), Some(Value::Object(a))) => Some((b, a)),
            (Some(Value::Object(b)), None) if !b.is_empty() => Some((b, &no_members)),
            (None, Some(Value::Object(a))) if !a.is_empty() => Some((&no_members, a)),
            _ => None,
        };
        if let Some((b, a)) = objects {
            let mut keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            if let Value::Object(u) = marks.after_unknown {
                keys.extend(u.keys());
            }
            for key in keys {
                path.push(Step::Key(key.clone()));
                walk(
                    path,
                    b.get(key).and_then(present),
                    a.get(key).and_then(present),
                    marks.member(key),
                    replace_paths,
                    out,
                );
                path.pop();
            }
            return;
        }
        let no_elements = Vec::new();
        let arrays = match (before, after) {
            (Some(Value::Array(b)), Some(Value::Array(a))) => Some((b, a)),
            (Some(Value::Array(b)), None) if !b.is_empty() => Some((b, &no_elements)),
            (None, Some(Value::Array(a))) if !a.is_empty() => Some((&no_elements, a)),
            _ => None,
        };
        if let Some((b, a)) = arrays {
            let mut len = b.len().max(a.len());
            if let Value::Array(u) = marks.after_unknown {
                len = len.max(u.len());
            }
            for i in 0..len {
                path.push(Step::Index(i));
                walk(
                    path,
                    b.get(i).and_then(present),
                    a.get(i).and_then(present),
                    marks.element(i),
                    replace_paths,
                    out,
                );
                path.pop();
            }
            return;
        }
    }

    let changed = unknown || before != after;
    if !changed {
        return;
    }
    out.push(AttrDiff {
        path: render_path(path),
        before: side(before, before_sensitive, marks.before_sensitive),
        after: if unknown {
            DiffValue::Unknown
        } else {
            side(after, after_sensitive, marks.after_sensitive)
        },
        forces_replacement: forces_replacement(path, replace_paths),
    });
}

fn side(value: Option<&Value>, sensitive: bool, marks: &Value) -> DiffValue {
    match value {
        None => DiffValue::Absent,
        Some(_) if sensitive => DiffValue::Sensitive,
        Some(v) if any_marked(marks) => match mask(v, marks) {
            // The marks did not fit the value's shape and masked it whole.
            Value::String(s) if s == SENSITIVE_MASK => DiffValue::Sensitive,
            masked => DiffValue::Known(JsonText::new(&masked)),
        },
        Some(v) => DiffValue::Known(JsonText::new(v)),
    }
}

/// A change forces replacement when a replace path covers it, or lies inside it.
fn forces_replacement(path: &[Step], replace_paths: &[Vec<Step>]) -> bool {
    replace_paths.iter().any(|r| {
        let n = r.len().min(path.len());
        !r.is_empty() && r[..n] == path[..n]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn diff(before: Value, after: Value, unknown: Value, bs: Value, as_: Value) -> Vec<AttrDiff> {
        attr_diff(&DiffInput {
            before: &before,
            before_sensitive: &bs,
            after: &after,
            after_sensitive: &as_,
            after_unknown: &unknown,
            replace_paths: &[vec![Step::Key("ami".into())]],
        })
    }

    #[test]
    fn reports_changed_leaves_in_path_order() {
        let d = diff(
            json!({"tags": {"b": "1", "a": "1"}, "ami": "x", "same": 1}),
            json!({"tags": {"b": "2", "a": "1", "c": "3"}, "ami": "y", "same": 1}),
            json!({}),
            json!({}),
            json!({}),
        );
        let paths: Vec<_> = d.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["ami", "tags.b", "tags.c"]);
        assert!(d[0].forces_replacement);
        assert!(!d[1].forces_replacement);
        assert_eq!(d[2].before, DiffValue::Absent);
    }

    #[test]
    fn created_block_reports_each_leaf_as_absent_before() {
        let d = diff(
            Value::Null,
            json!({"ebs": [{"size": 8}], "name": "n"}),
            json!({"id": true}),
            Value::Null,
            json!({}),
        );
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].path, "ebs[0].size");
        assert_eq!(d[0].before, DiffValue::Absent);
        assert_eq!(d[0].after, DiffValue::Known(json!(8).into()));
        assert_eq!(d[1].path, "id");
        assert_eq!(d[1].after, DiffValue::Unknown);
    }

    #[test]
    fn sensitive_change_reports_the_fact_not_the_value() {
        let d = diff(
            json!({"password": "old-secret"}),
            json!({"password": "new-secret"}),
            json!({}),
            json!({"password": true}),
            json!({"password": true}),
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].before, DiffValue::Sensitive);
        assert_eq!(d[0].after, DiffValue::Sensitive);
        let unchanged = diff(
            json!({"password": "same"}),
            json!({"password": "same"}),
            json!({}),
            json!({"password": true}),
            json!({"password": true}),
        );
        assert!(unchanged.is_empty());
    }

    #[test]
    fn odd_keys_are_quoted_in_paths() {
        let path = [
            Step::Key("tags".into()),
            Step::Key("kubernetes.io/role".into()),
            Step::Index(2),
        ];
        assert_eq!(render_path(&path), r#"tags["kubernetes.io/role"][2]"#);
    }
}
