//! The `output` check: a Terraform output (from `terraform output -json`)
//! equals a value or matches a regular expression. A sensitive output is
//! compared but never shown.

use std::time::Duration;

use serde_json::Value;

use super::{snippet, Attempt, Probe};
use crate::config::OutputCheck;

pub struct OutputProbe {
    spec: OutputCheck,
    /// `terraform output -json`, or the engine's error.
    outputs: Result<Value, String>,
}

impl OutputProbe {
    pub fn new(spec: &OutputCheck, outputs: Result<Value, String>) -> OutputProbe {
        OutputProbe {
            spec: spec.clone(),
            outputs,
        }
    }

    fn judge(&self) -> Attempt {
        let outputs = match &self.outputs {
            Ok(v) => v,
            Err(e) => return Attempt::fail(format!("terraform output failed: {e}")),
        };
        let name = &self.spec.output;
        let Some(entry) = outputs.get(name) else {
            let known: Vec<&str> = outputs
                .as_object()
                .map(|o| o.keys().map(String::as_str).collect())
                .unwrap_or_default();
            return Attempt::fail(format!(
                "no output `{name}`; outputs are {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        };
        let sensitive = entry
            .get("sensitive")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let value = entry.get("value").cloned().unwrap_or(Value::Null);
        if value.is_null() {
            return Attempt::fail(format!("output `{name}` is null"));
        }
        let text = match &value {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        if sensitive {
            // The value must not reach evidence: register it, in case a
            // message elsewhere quotes it.
            crate::redact::global().add(&text);
        }
        let shown = if sensitive {
            "(sensitive value)".to_string()
        } else {
            format!("\"{}\"", snippet(&text, 160))
        };
        if let Some(want) = &self.spec.equals {
            if &value != want {
                return Attempt::fail(format!(
                    "output `{name}` is {shown}, expected {}",
                    snippet(&want.to_string(), 160)
                ));
            }
        }
        if let Some(pattern) = &self.spec.matches {
            let re = match regex::Regex::new(pattern) {
                Ok(re) => re,
                Err(e) => return Attempt::fail(format!("bad regular expression: {e}")),
            };
            if !re.is_match(&text) {
                return Attempt::fail(format!(
                    "output `{name}` is {shown}, does not match /{pattern}/"
                ));
            }
        }
        let how = match (&self.spec.equals, &self.spec.matches) {
            (Some(_), Some(p)) => format!("equals the expected value and matches /{p}/"),
            (Some(_), None) => "equals the expected value".to_string(),
            (None, Some(p)) => format!("matches /{p}/"),
            (None, None) => "is set".to_string(),
        };
        Attempt::pass(format!("output `{name}` is {shown}; {how}"))
    }
}

impl Probe for OutputProbe {
    async fn attempt(&self, _timeout: Duration) -> Attempt {
        self.judge()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::CheckStatus;
    use serde_json::json;

    fn spec(v: Value) -> OutputCheck {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_missing_output_fails_naming_the_outputs_there_are() {
        let outputs = json!({"url": {"sensitive": false, "type": "string", "value": "https://x"}});
        let a = OutputProbe::new(&spec(json!({"output": "arn"})), Ok(outputs)).judge();
        assert_eq!(a.status, CheckStatus::Fail);
        assert_eq!(a.evidence, "no output `arn`; outputs are url");
    }

    #[test]
    fn a_sensitive_output_is_compared_but_never_shown() {
        let outputs =
            json!({"key": {"sensitive": true, "type": "string", "value": "hidden-value-77"}});
        let a = OutputProbe::new(
            &spec(json!({"output": "key", "equals": "something-else"})),
            Ok(outputs),
        )
        .judge();
        assert_eq!(a.status, CheckStatus::Fail);
        assert!(!a.evidence.contains("hidden-value-77"), "{}", a.evidence);
        assert!(a.evidence.contains("(sensitive value)"), "{}", a.evidence);
        assert!(crate::redact::global()
            .apply("x hidden-value-77 y")
            .contains(crate::redact::REDACTED));
    }
}
