//! The apply job's summary (`GITHUB_STEP_SUMMARY`): per project, what
//! happened and one table per outcome (applied, failed, untouched), so a
//! partial failure shows all three. Addresses, messages and engine errors
//! are untrusted and pass the one escaper.

use crate::journal::{ResourceOutcome, ResourceResult};
use crate::render::escape::{code_inline, inline};

/// One project's apply, as the summary shows it.
#[derive(Debug, Clone, Copy)]
pub struct ProjectApply<'a> {
    pub project: &'a str,
    /// `applied`, `failed`, `refused`, `nothing to do`, …
    pub result: &'a str,
    pub message: &'a str,
    /// The command to run next, if any.
    pub next: Option<&'a str>,
    pub resources: &'a [ResourceResult],
}

/// The summary of one `phasegate apply` of `phase` in `environment`.
pub fn summary(phase: &str, environment: &str, projects: &[ProjectApply<'_>]) -> String {
    let mut md = format!(
        "## phasegate apply: phase {} in {}\n",
        code_inline(phase),
        code_inline(environment)
    );
    for p in projects {
        md.push_str(&format!(
            "\n### {}: {}\n\n{}\n",
            code_inline(p.project),
            inline(p.result),
            inline(p.message)
        ));
        for (outcome, title) in [
            (ResourceOutcome::Applied, "Applied"),
            (ResourceOutcome::Failed, "Failed"),
            (ResourceOutcome::Untouched, "Untouched"),
        ] {
            let rows: Vec<&ResourceResult> = p
                .resources
                .iter()
                .filter(|r| r.outcome == outcome)
                .collect();
            if rows.is_empty() {
                continue;
            }
            md.push_str(&format!(
                "\n#### {title} ({})\n\n| resource | action | error |\n|---|---|---|\n",
                rows.len()
            ));
            for r in rows {
                md.push_str(&format!(
                    "| {} | {} | {} |\n",
                    code_inline(&r.address),
                    inline(&r.action),
                    r.error.as_deref().map(inline).unwrap_or_default()
                ));
            }
        }
        if let Some(next) = p.next {
            md.push_str(&format!("\nNext: {}\n", code_inline(next)));
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(
        address: &str,
        action: &str,
        outcome: ResourceOutcome,
        error: Option<&str>,
    ) -> ResourceResult {
        ResourceResult {
            address: address.into(),
            action: action.into(),
            outcome,
            error: error.map(str::to_string),
        }
    }

    #[test]
    fn a_partial_failure_shows_applied_failed_and_untouched_tables() {
        let resources = [
            r(
                "aws_s3_bucket.assets",
                "create",
                ResourceOutcome::Applied,
                None,
            ),
            r(
                "aws_s3_bucket.broken",
                "create",
                ResourceOutcome::Failed,
                Some("testcloud: creating | failed <b>@admin</b>"),
            ),
            r(
                "aws_security_group.after",
                "create",
                ResourceOutcome::Untouched,
                None,
            ),
        ];
        let md = summary(
            "dev",
            "dev",
            &[ProjectApply {
                project: "app",
                result: "failed",
                message: "engine error: see below",
                next: Some("phasegate plan --phase 1"),
                resources: &resources,
            }],
        );
        insta::assert_snapshot!(md);
        assert!(!md.contains("<b>") && !md.contains("@admin"), "{md}");
    }

    #[test]
    fn a_project_without_resources_has_no_tables() {
        let md = summary(
            "prod",
            "prod",
            &[ProjectApply {
                project: "app",
                result: "refused",
                message: "plan abc has no approval",
                next: None,
                resources: &[],
            }],
        );
        assert!(!md.contains("| resource |"), "{md}");
        assert!(md.contains("refused"), "{md}");
    }
}
