//! The comment's section on projects that read other projects' outputs
//! (`projects[].inputs`): each value a plan was made with (a sensitive one
//! never shown), and each project that waits for an upstream's apply.

use crate::journal::PlannedInput;
use crate::render::escape::{code_inline, inline};

/// One project's inputs, as planned.
pub struct PlannedInputs<'a> {
    pub project: &'a str,
    pub inputs: &'a [PlannedInput],
}

/// A project whose plan waits for outputs its upstreams' states lack.
pub struct WaitingProject<'a> {
    pub project: &'a str,
    pub waiting_on: &'a [String],
}

/// The section's markdown; empty when no project has inputs.
pub fn markdown(planned: &[PlannedInputs<'_>], waiting: &[WaitingProject<'_>]) -> String {
    let mut out = String::new();
    for w in waiting {
        let sources: Vec<String> = w.waiting_on.iter().map(|s| code_inline(s)).collect();
        out.push_str(&format!(
            "- **{}** waits for {}: its upstream's state here does not hold it yet, or its upstream's plan changes it; it is planned with the applied value (and needs its own approval) once the upstream is applied.\n",
            inline(w.project),
            sources.join(", ")
        ));
    }
    for p in planned.iter().filter(|p| !p.inputs.is_empty()) {
        out.push_str(&format!("- **{}** was planned with:\n", inline(p.project)));
        for i in p.inputs {
            let value = match (&i.value, i.sensitive) {
                (_, true) => "(sensitive)".to_string(),
                (Some(v), false) => code_inline(v),
                (None, false) => format!(
                    "a long value, sha256 {}",
                    code_inline(crate::journal::short_digest(&i.sha256))
                ),
            };
            out.push_str(&format!(
                "  - {} = {value} from {}\n",
                code_inline(&i.var),
                code_inline(&i.source)
            ));
        }
    }
    if planned.iter().any(|p| !p.inputs.is_empty()) {
        out.push_str("\nThe plan's digest binds these values: if an upstream apply changes one, this plan is stale and is planned and approved again.\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_a_sensitive_one_is_never_shown() {
        let inputs = [
            PlannedInput {
                var: "vpc_id".into(),
                source: "network.outputs.vpc_id".into(),
                sha256: "a".repeat(64),
                sensitive: false,
                value: Some("\"<img src=x>@team\"".into()),
            },
            PlannedInput {
                var: "db_password".into(),
                source: "db.outputs.password".into(),
                sha256: "b".repeat(64),
                sensitive: true,
                value: None,
            },
        ];
        let md = markdown(
            &[PlannedInputs {
                project: "app",
                inputs: &inputs,
            }],
            &[WaitingProject {
                project: "web",
                waiting_on: &["app.outputs.url".to_string()],
            }],
        );
        assert!(
            md.contains("**web** waits for <code>app.outputs.url</code>"),
            "{md}"
        );
        assert!(!md.contains("<img"), "{md}");
        assert!(
            md.contains("<code>db&#95;password</code> = (sensitive)"),
            "{md}"
        );
        assert!(markdown(&[], &[]).is_empty());
    }
}
