//! Reading `apply -json` (Terraform's machine-readable UI): which resources
//! were applied and which failed, the error diagnostics, and the class of
//! the error, which decides whether a retry is safe.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::journal::{ErrorClass, ResourceOutcome, ResourceResult};

/// What one `apply -json` run reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyStream {
    /// Resources whose `apply_complete` arrived.
    pub completed: Vec<String>,
    /// Resources whose `apply_errored` arrived.
    pub errored: Vec<String>,
    /// Error diagnostics: (address when the engine names one, summary and detail).
    pub errors: Vec<(Option<String>, String)>,
}

/// Parses the JSON Lines of `apply -json`; lines that are not JSON
/// (a wrapper's chatter) are skipped.
pub fn parse(stdout: &str) -> ApplyStream {
    let mut out = ApplyStream::default();
    for line in stdout.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let addr = || {
            v["hook"]["resource"]["addr"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_default()
        };
        match v["type"].as_str() {
            Some("apply_complete") => out.completed.push(addr()),
            Some("apply_errored") => out.errored.push(addr()),
            Some("diagnostic") if v["diagnostic"]["severity"] == "error" => {
                let d = &v["diagnostic"];
                let text = [d["summary"].as_str(), d["detail"].as_str()]
                    .into_iter()
                    .flatten()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(": ");
                out.errors
                    .push((d["address"].as_str().map(str::to_string), text));
            }
            _ => {}
        }
    }
    out
}

/// Per-resource results for the planned changes `planned` (address, action):
/// applied, failed, or untouched when the engine never reached them.
pub fn results(planned: &[(String, String)], stream: &ApplyStream) -> Vec<ResourceResult> {
    let errors: BTreeMap<&str, &str> = stream
        .errors
        .iter()
        .filter_map(|(a, t)| a.as_deref().map(|a| (a, t.as_str())))
        .collect();
    let first_error = stream.errors.first().map(|(_, t)| t.as_str());
    planned
        .iter()
        .map(|(address, action)| {
            let (outcome, error) = if stream.errored.contains(address) {
                let why = errors.get(address.as_str()).copied().or(first_error);
                (ResourceOutcome::Failed, why.map(str::to_string))
            } else if stream.completed.contains(address) {
                (ResourceOutcome::Applied, None)
            } else {
                (ResourceOutcome::Untouched, None)
            };
            ResourceResult {
                address: address.clone(),
                action: action.clone(),
                outcome,
                error,
            }
        })
        .collect()
}

/// The class of an engine error, from its text.
pub fn classify(text: &str) -> ErrorClass {
    let t = text.to_ascii_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if any(&[
        "state lock",
        "acquiring the state lock",
        "saved plan is stale",
        "lineage",
        "state serial",
        "conflict",
    ]) {
        ErrorClass::StateConflict
    } else if any(&[
        "accessdenied",
        "access denied",
        "unauthorized",
        "forbidden",
        "not authorized",
        "permission",
        " 403",
    ]) {
        ErrorClass::Permission
    } else if any(&[
        "timeout",
        "timed out",
        "throttl",
        "rate exceeded",
        "too many requests",
        " 429",
        " 500",
        " 502",
        " 503",
        " 504",
        "service unavailable",
        "connection reset",
    ]) {
        ErrorClass::Transient
    } else if any(&[
        "invalid",
        "validation",
        "unsupported argument",
        "missing required",
    ]) {
        ErrorClass::Validation
    } else {
        ErrorClass::Other
    }
}

/// What a person should do about an error of `class`.
pub fn recommended_fix(class: ErrorClass, phase: usize) -> String {
    match class {
        ErrorClass::Transient => "the provider failed transiently; phasegate retried once where nothing had changed. Re-run the job".into(),
        ErrorClass::Validation => format!("the provider rejected the change: fix the configuration, then `phasegate plan --phase {phase}` and have the new plan approved"),
        ErrorClass::Permission => "the credentials lack a permission: grant it to the role the job uses, then re-run the apply".into(),
        ErrorClass::StateConflict => format!("the state is locked or changed since the plan: wait for the other run (or `terraform force-unlock <ID>` once it is surely gone), then `phasegate plan --phase {phase}` and have the new plan approved"),
        ErrorClass::Other => format!("read the error above, fix the cause, then `phasegate plan --phase {phase}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_apply_reports_applied_failed_and_untouched() {
        let stdout = r#"{"type":"version","terraform":"1.0.3"}
{"type":"apply_start","hook":{"resource":{"addr":"aws_s3_bucket.a"},"action":"create"}}
{"type":"apply_complete","hook":{"resource":{"addr":"aws_s3_bucket.a"},"action":"create"}}
{"type":"apply_errored","hook":{"resource":{"addr":"aws_s3_bucket.b"},"action":"create"}}
{"type":"diagnostic","diagnostic":{"severity":"error","summary":"creating failed","detail":"injected failure","address":"aws_s3_bucket.b"}}
"#;
        let planned: Vec<(String, String)> = ["a", "b", "c"]
            .iter()
            .map(|n| (format!("aws_s3_bucket.{n}"), "create".to_string()))
            .collect();
        let r = results(&planned, &parse(stdout));
        assert_eq!(r[0].outcome, ResourceOutcome::Applied);
        assert_eq!(r[1].outcome, ResourceOutcome::Failed);
        assert_eq!(
            r[1].error.as_deref(),
            Some("creating failed: injected failure")
        );
        assert_eq!(r[2].outcome, ResourceOutcome::Untouched);
    }

    #[test]
    fn errors_fall_into_classes() {
        assert_eq!(
            classify("Error: error acquiring the state lock"),
            ErrorClass::StateConflict
        );
        assert_eq!(
            classify("AccessDenied: not allowed"),
            ErrorClass::Permission
        );
        assert_eq!(
            classify("ThrottlingException: Rate exceeded"),
            ErrorClass::Transient
        );
        assert_eq!(classify("Invalid value for bucket"), ErrorClass::Validation);
        assert_eq!(classify("something odd"), ErrorClass::Other);
    }
}
