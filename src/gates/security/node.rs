//! Read access to what a resource will look like after the change: the
//! planned value and Terraform's `after_unknown` tree walked side by side, so a
//! rule can tell "absent" from "known only after apply".

use serde_json::Value;

/// One position in a resource's planned value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node<'a> {
    val: Option<&'a Value>,
    unk: Option<&'a Value>,
}

/// What a rule can know about one attribute at plan time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Known<T> {
    Value(T),
    /// Set, but only known after apply.
    Unknown,
    /// Not set (null or missing).
    Absent,
}

impl<'a> Node<'a> {
    pub(crate) fn new(after: &'a Value, after_unknown: &'a Value) -> Self {
        Node {
            val: Some(after),
            unk: Some(after_unknown),
        }
    }

    pub(crate) fn key(self, k: &str) -> Node<'a> {
        Node {
            val: self.val.and_then(|v| v.get(k)),
            // `true` on a parent makes every child unknown as well.
            unk: self
                .unk
                .and_then(|u| if u.is_boolean() { Some(u) } else { u.get(k) }),
        }
    }

    /// False when the attribute is not in the resource's schema at all
    /// (missing from the planted value, not merely null).
    pub(crate) fn exists(self) -> bool {
        self.val.is_some() || self.is_unknown()
    }

    pub(crate) fn is_unknown(self) -> bool {
        matches!(self.unk, Some(Value::Bool(true)))
    }

    pub(crate) fn value(self) -> Known<&'a Value> {
        if self.is_unknown() {
            return Known::Unknown;
        }
        match self.val {
            None | Some(Value::Null) => Known::Absent,
            Some(v) => Known::Value(v),
        }
    }

    /// The elements of a nested block. Providers model a single block either
    /// as a one-element list (the AWS provider) or as an object (nesting mode
    /// `single`, as the test cloud does): both read the same here.
    pub(crate) fn items(self) -> Vec<Node<'a>> {
        match self.val {
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(i, v)| Node {
                    val: Some(v),
                    unk: self
                        .unk
                        .and_then(|u| if u.is_boolean() { Some(u) } else { u.get(i) }),
                })
                .collect(),
            Some(Value::Object(_)) => vec![self],
            _ => Vec::new(),
        }
    }

    /// The first element of a block (see [`Node::items`]).
    pub(crate) fn first(self) -> Node<'a> {
        self.items().into_iter().next().unwrap_or(Node {
            val: None,
            unk: if self.is_unknown() { self.unk } else { None },
        })
    }

    pub(crate) fn str(self) -> Known<&'a str> {
        match self.value() {
            Known::Value(Value::String(s)) => Known::Value(s),
            Known::Value(_) | Known::Absent => Known::Absent,
            Known::Unknown => Known::Unknown,
        }
    }

    pub(crate) fn bool(self) -> Known<bool> {
        match self.value() {
            Known::Value(Value::Bool(b)) => Known::Value(*b),
            Known::Value(Value::String(s)) if s == "true" || s == "false" => {
                Known::Value(s == "true")
            }
            Known::Value(_) | Known::Absent => Known::Absent,
            Known::Unknown => Known::Unknown,
        }
    }

    pub(crate) fn int(self) -> Known<i64> {
        match self.value() {
            Known::Value(Value::Number(n)) => n.as_i64().map_or(Known::Absent, Known::Value),
            Known::Value(Value::String(s)) => s.trim().parse().map_or(Known::Absent, Known::Value),
            Known::Value(_) | Known::Absent => Known::Absent,
            Known::Unknown => Known::Unknown,
        }
    }

    /// A list of strings, or a single string read as a one-element list.
    /// Unknown when the list or any element is unknown.
    pub(crate) fn strings(self) -> Known<Vec<&'a str>> {
        match self.value() {
            Known::Unknown => Known::Unknown,
            Known::Absent => Known::Value(Vec::new()),
            Known::Value(Value::String(s)) => Known::Value(vec![s.as_str()]),
            Known::Value(Value::Array(list)) => {
                let unk_list = self.unk.and_then(Value::as_array);
                if unk_list.is_some_and(|u| u.iter().any(|x| x == &Value::Bool(true))) {
                    return Known::Unknown;
                }
                Known::Value(list.iter().filter_map(Value::as_str).collect())
            }
            Known::Value(_) => Known::Value(Vec::new()),
        }
    }

    /// The entries of a map attribute (tags, environment variables).
    pub(crate) fn entries(self) -> Vec<(&'a str, Known<&'a str>)> {
        let Some(Value::Object(map)) = self.val else {
            return Vec::new();
        };
        map.iter()
            .map(|(k, _)| (k.as_str(), self.key(k).str()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_parent_makes_children_unknown() {
        let after = json!({"ingress": []});
        let unk = json!({"ingress": true});
        let n = Node::new(&after, &unk);
        assert!(n.key("ingress").first().key("cidr_blocks").is_unknown());
    }

    #[test]
    fn single_block_reads_like_a_one_element_list() {
        let after = json!({"versioning": {"enabled": true}, "v2": [{"enabled": false}]});
        let unk = json!({});
        let n = Node::new(&after, &unk);
        assert_eq!(
            n.key("versioning").first().key("enabled").bool(),
            Known::Value(true)
        );
        assert_eq!(
            n.key("v2").first().key("enabled").bool(),
            Known::Value(false)
        );
        assert_eq!(
            n.key("missing").first().key("enabled").bool(),
            Known::Absent
        );
    }

    #[test]
    fn unknown_list_element_makes_the_list_unknown() {
        let after = json!({"cidr": ["10.0.0.0/8", null]});
        let unk = json!({"cidr": [false, true]});
        assert_eq!(
            Node::new(&after, &unk).key("cidr").strings(),
            Known::Unknown
        );
    }
}
