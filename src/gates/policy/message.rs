//! Conftest's conventions, as data: which rules count (`deny`, `violation`,
//! `warn`, each with an optional `_suffix`) and how a rule's value becomes
//! messages (a string, or an object with `msg` and extra fields such as
//! `severity` and `address`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a rule's name says about its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    Deny,
    Violation,
    Warn,
}

impl RuleKind {
    /// The kind of a rule named `name`, as conftest matches it: the prefix,
    /// then nothing or `_` and a suffix of letters, digits and underscores.
    pub fn of(name: &str) -> Option<RuleKind> {
        for (prefix, kind) in [
            ("deny", RuleKind::Deny),
            ("violation", RuleKind::Violation),
            ("warn", RuleKind::Warn),
        ] {
            if let Some(rest) = name.strip_prefix(prefix) {
                let suffix_ok = rest.is_empty()
                    || (rest.starts_with('_')
                        && rest.len() > 1
                        && rest.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()));
                if suffix_ok {
                    return Some(kind);
                }
            }
        }
        None
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Deny => "deny",
            RuleKind::Violation => "violation",
            RuleKind::Warn => "warn",
        }
    }
}

/// One message a rule produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub text: String,
    /// The other fields of an object message (`severity`, `address`, ...).
    pub fields: Map<String, Value>,
}

/// Why a rule's value cannot be read as messages.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MessageError {
    #[error("a message object has no string `msg` field: {0}")]
    NoMsg(String),
    #[error("a message is neither a string nor an object with `msg`: {0}")]
    Shape(String),
}

/// The messages of a rule whose value is `value`: a set (array) of messages,
/// one message, or `true` for a rule without messages (named by `rule`).
pub fn messages(rule: &str, value: &Value) -> Result<Vec<Message>, MessageError> {
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        Value::Bool(true) => Ok(vec![Message {
            text: rule.to_string(),
            fields: Map::new(),
        }]),
        Value::Bool(false) | Value::Null => Ok(vec![]),
        other => Ok(vec![one(other)?]),
    }
}

fn one(value: &Value) -> Result<Message, MessageError> {
    match value {
        Value::String(s) => Ok(Message {
            text: s.clone(),
            fields: Map::new(),
        }),
        Value::Object(m) => {
            let Some(Value::String(text)) = m.get("msg") else {
                return Err(MessageError::NoMsg(short(value)));
            };
            let mut fields = m.clone();
            fields.remove("msg");
            Ok(Message {
                text: text.clone(),
                fields,
            })
        }
        other => Err(MessageError::Shape(short(other))),
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rule_names_follow_conftest_with_or_without_suffix() {
        assert_eq!(RuleKind::of("deny"), Some(RuleKind::Deny));
        assert_eq!(RuleKind::of("deny_tags"), Some(RuleKind::Deny));
        assert_eq!(RuleKind::of("violation_x2"), Some(RuleKind::Violation));
        assert_eq!(RuleKind::of("warn_size"), Some(RuleKind::Warn));
        assert_eq!(RuleKind::of("denylist"), None);
        assert_eq!(RuleKind::of("deny_"), None);
        assert_eq!(RuleKind::of("warning"), None);
    }

    #[test]
    fn messages_are_strings_or_objects_with_msg() {
        let got = messages("deny", &json!(["a", {"msg": "b", "severity": "critical"}])).unwrap();
        assert_eq!(got[0].text, "a");
        assert_eq!(got[1].text, "b");
        assert_eq!(got[1].fields["severity"], "critical");
        assert!(messages("deny", &json!([{"message": "x"}])).is_err());
        assert_eq!(messages("deny", &json!(true)).unwrap()[0].text, "deny");
    }
}
