//! The approval block of the sticky comment, drawn from the approval check's
//! decision (`github::approvals`).

use super::escape::{code_inline, inline, link_target};
use crate::github::approvals::ApprovalDecision;
use crate::github::comment::ApprovalSource;

/// The approval block of the comment. Logins, environment names, refusals
/// and the run URL come from the config and GitHub's answers, so each passes
/// through the one escaper; an approver is named with `@` only when GitHub
/// could have issued that login.
pub fn approval_section_md(decision: &ApprovalDecision, run_url: &str) -> String {
    let mut out = String::new();
    if decision.allowed {
        out.push_str(&format!("**Approved** for {}", code_inline(&decision.env)));
        let who: Vec<String> = decision
            .evidence
            .iter()
            .map(|e| {
                let via = match e.source {
                    ApprovalSource::Environment => "environment review",
                    ApprovalSource::Comment => "comment",
                };
                let who = if crate::config::is_valid_login(&e.approver) {
                    format!("@{}", e.approver)
                } else {
                    inline(&e.approver)
                };
                format!("{who} ({via}, {})", inline(&e.at))
            })
            .collect();
        if !who.is_empty() {
            out.push_str(&format!(" by {}", who.join(", ")));
        }
        out.push('\n');
    } else {
        let review = match link_target(run_url) {
            Some(url) => format!("[review the deployment]({url})"),
            None => "review the deployment in the workflow run".to_owned(),
        };
        out.push_str(&format!(
            "**Awaiting approval for {}**: {review}\n",
            code_inline(&decision.env)
        ));
        for r in &decision.refusals {
            out.push_str(&format!("- {}\n", inline(&r.replace('\n', " "))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::approvals::ApprovalEvidence;

    #[test]
    fn awaiting_section_links_the_run_and_lists_reasons() {
        let d = ApprovalDecision {
            env: "prod".into(),
            allowed: false,
            evidence: vec![],
            refusals: vec!["no approval".into()],
        };
        let md = approval_section_md(&d, "https://github.example/run/1");
        assert!(
            md.contains("Awaiting approval for <code>prod</code>"),
            "{md}"
        );
        assert!(md.contains("(https://github.example/run/1)") && md.contains("- no approval"));
    }

    #[test]
    fn refusals_and_approvers_reach_the_comment_inert() {
        let hostile = "[x](https://evil.example) @org/admins #1 <!-- phasegate -->";
        let refused = ApprovalDecision {
            env: "prod`</details>".into(),
            allowed: false,
            evidence: vec![],
            refusals: vec![hostile.into()],
        };
        let approved = ApprovalDecision {
            allowed: true,
            evidence: vec![ApprovalEvidence {
                approver: hostile.into(),
                env: "prod".into(),
                at: "@org/admins".into(),
                source: ApprovalSource::Comment,
            }],
            ..refused.clone()
        };
        for md in [
            approval_section_md(&refused, "javascript:alert(1)"),
            approval_section_md(&approved, "https://run"),
        ] {
            for live in [
                "](https://evil",
                "@org",
                "#1",
                "<!--",
                "</details>",
                "javascript:",
            ] {
                assert!(!md.contains(live), "{live} is live in {md}");
            }
        }
    }
}
