//! Drift: what changed outside Terraform, per project and environment.
//!
//! Pure. The command makes two plans per project: a refresh-only plan, whose
//! `resource_drift` is exactly what changed behind Terraform's back, and a
//! normal plan, whose changes say what an apply would do now (put the drift
//! back, and anything in the code not applied yet). [`summarize`] folds the
//! two into one [`ProjectDrift`]; `drift.on_drift` in the config decides the exit code.
//! [`health`] judges the environment's checks the same run probes again.

pub mod health;

use serde::Serialize;

pub use crate::config::OnDrift;
use crate::plan::{Action, ChangeSet, Counts, ResourceChange};

/// One resource changed outside Terraform.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftedResource {
    pub address: String,
    /// `changed` or `deleted`, in Terraform's words.
    pub what: &'static str,
    /// The attribute paths that differ (values stay out of the JSON output:
    /// they may be secrets Terraform did not mark).
    pub attributes: Vec<String>,
}

/// One change an apply would make now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PendingChange {
    pub address: String,
    pub action: Action,
}

/// One project in one environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectDrift {
    pub project: String,
    pub environment: String,
    pub drifted: Vec<DriftedResource>,
    /// What `terraform plan` would do now (no-ops and reads left out).
    pub pending: Vec<PendingChange>,
    pub pending_counts: Counts,
    /// The refresh-only plan's digest, so two runs can be told apart.
    pub digest: String,
    /// The normalized plans, for the issue body; not part of the JSON output.
    #[serde(skip)]
    pub refresh: ChangeSet,
    #[serde(skip)]
    pub plan: ChangeSet,
}

impl ProjectDrift {
    /// Drift exists: something changed outside Terraform.
    pub fn is_drifted(&self) -> bool {
        !self.drifted.is_empty()
    }
}

/// Whether a drift entry is a real change: Terraform lists no-op entries in
/// `resource_drift` for objects it only re-read.
fn is_change(rc: &ResourceChange) -> bool {
    !matches!(rc.action, Action::NoOp | Action::Read)
}

/// Folds a refresh-only plan and a normal plan of one project.
pub fn summarize(
    project: &str,
    environment: &str,
    refresh: ChangeSet,
    plan: ChangeSet,
) -> ProjectDrift {
    let drifted = refresh
        .drift
        .iter()
        .filter(|rc| is_change(rc))
        .map(|rc| DriftedResource {
            address: rc.address.clone(),
            what: if rc.action == Action::Delete {
                "deleted"
            } else {
                "changed"
            },
            attributes: rc.diff.iter().map(|d| d.path.clone()).collect(),
        })
        .collect();
    let pending = plan
        .resources
        .iter()
        .filter(|rc| is_change(rc))
        .map(|rc| PendingChange {
            address: rc.address.clone(),
            action: rc.action,
        })
        .collect();
    ProjectDrift {
        project: project.to_owned(),
        environment: environment.to_owned(),
        drifted,
        pending,
        pending_counts: plan.counts(),
        digest: refresh.digest.clone(),
        refresh,
        plan,
    }
}

/// The exit code of a drift run over `projects`: 0 clean, 1 drift when
/// `on_drift` is `fail`.
pub fn exit_code(projects: &[ProjectDrift], on_drift: OnDrift) -> i32 {
    let any = projects.iter().any(ProjectDrift::is_drifted);
    match (any, on_drift) {
        (true, OnDrift::Fail) => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_with(drift: &str, changes: &str) -> ChangeSet {
        let json = format!(
            r#"{{"format_version":"0.2","terraform_version":"1.0.3",
            "resource_drift":[{drift}],"resource_changes":[{changes}]}}"#
        );
        crate::plan::parse_plan_json(&json, "test").expect("parses")
    }

    const BUCKET_EDITED: &str = r#"{"address":"aws_s3_bucket.a","mode":"managed","type":"aws_s3_bucket","name":"a",
        "provider_name":"registry.terraform.io/hashicorp/aws",
        "change":{"actions":["update"],"before":{"acl":"private"},"after":{"acl":"public-read"},
        "after_unknown":{},"before_sensitive":{},"after_sensitive":{}}}"#;
    const BUCKET_FIX: &str = r#"{"address":"aws_s3_bucket.a","mode":"managed","type":"aws_s3_bucket","name":"a",
        "provider_name":"registry.terraform.io/hashicorp/aws",
        "change":{"actions":["update"],"before":{"acl":"public-read"},"after":{"acl":"private"},
        "after_unknown":{},"before_sensitive":{},"after_sensitive":{}}}"#;

    #[test]
    fn drift_lists_changed_attributes_and_the_pending_fix() {
        let d = summarize(
            "app",
            "dev",
            plan_with(BUCKET_EDITED, ""),
            plan_with("", BUCKET_FIX),
        );
        assert!(d.is_drifted());
        assert_eq!(d.drifted[0].what, "changed");
        assert_eq!(d.drifted[0].attributes, vec!["acl".to_string()]);
        assert_eq!(d.pending.len(), 1);
        assert_eq!(d.pending_counts.change, 1);
    }

    #[test]
    fn pending_changes_alone_are_not_drift_and_exit_zero() {
        let d = summarize("app", "dev", plan_with("", ""), plan_with("", BUCKET_FIX));
        assert!(!d.is_drifted());
        assert_eq!(exit_code(&[d], OnDrift::Fail), 0);
    }

    #[test]
    fn on_drift_decides_the_exit_code() {
        let d = summarize(
            "app",
            "dev",
            plan_with(BUCKET_EDITED, ""),
            plan_with("", ""),
        );
        assert_eq!(exit_code(std::slice::from_ref(&d), OnDrift::Fail), 1);
        assert_eq!(exit_code(&[d], OnDrift::Succeed), 0);
    }
}
