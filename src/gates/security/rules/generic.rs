//! Rules that hold in every cloud: secrets in tags and labels.

use super::{secrets_in, Outcome, Rule};
use crate::gates::security::node::Known;
use crate::gates::Severity::{Critical, High};

pub(super) static RULES: &[Rule] = &[Rule {
    id: "PG-GEN-001",
    severity: High,
    title: "Hard-coded secret in tags or labels",
    remediation: "Remove the secret from tags/labels (they are readable by anyone who can list resources) and rotate it.",
    // Empty: runs on every resource type.
    types: &[],
    checkov: &[],
    checkov_note: "No Checkov check reads tag or label values for secrets",
    trivy: &[],
    check: |s, _| {
        let mut out: Vec<Outcome> = Vec::new();
        for attr in ["tags", "labels"] {
            for (k, v) in s.node.key(attr).entries() {
                if let Known::Value(text) = v {
                    out.extend(secrets_in(&format!("{k}={text}"), &format!("{attr}.{k}")));
                }
            }
        }
        out
    },
},
Rule {
    id: "PG-GEN-002",
    severity: Critical,
    title: "Hard-coded credential in provider configuration",
    remediation: "Remove credentials from provider blocks; use the CI's OIDC role, environment variables or a profile, and rotate the exposed credential.",
    // Runs once per plan over `configuration.provider_config`.
    types: &[PROVIDER_TYPE],
    checkov: &["CKV_AWS_41"],
    checkov_note: "CKV_AWS_41 fails an aws provider block with a literal access_key or secret_key",
    trivy: &[],
    check: |_, _| Vec::new(),
}];

/// The pseudo resource type of the provider-configuration rule.
pub(crate) const PROVIDER_TYPE: &str = "provider";
