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
