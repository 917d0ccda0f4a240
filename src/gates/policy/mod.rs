//! The policy gate: a team's own Rego (OPA / conftest) policies, run
//! in-process over the plan JSON with conftest's conventions, and turned into
//! findings like the built-in rules: stable ids, severities, acknowledgements,
//! SARIF, a comment section and annotations are views of one report.
//!
//! Pure: the caller reads the policy files and the plan; nothing here touches
//! the disk, the clock or the network.

/// Every policy finding id starts with this, so other gates can tell
/// policy acknowledgements from their own.
pub const ID_PREFIX: &str = "POL-";

pub mod applied;
pub mod engine;
pub mod input;
pub mod message;
pub mod sarif;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use engine::{compile, CompiledSet, DeclaredRule, Namespaces, PolicySource};
pub use input::{mask_plan, PolicyInput};
pub use message::RuleKind;

use crate::config::{Acknowledgement, PolicySeverity};
use crate::gates::{Severity, Verdict};

/// A policy set that cannot be used: the user's input, so exit 2. Every
/// variant names the set and the file (and line and column when known).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy set {set}: {file}:{line}:{column}: {message}")]
    Rego {
        set: String,
        file: String,
        line: u32,
        column: u32,
        message: String,
    },
    #[error("policy set {set}: namespace `{namespace}` is not a package of any policy (packages: {}); fix `namespaces:` or the `package` line", files.join(", "))]
    UndefinedNamespace {
        set: String,
        namespace: String,
        files: Vec<String>,
    },
    #[error("policy set {set}: {file}:1: package `{namespace}` declares no deny, violation or warn rule, so it would always pass; name its rules as conftest expects or drop the namespace")]
    UndefinedRule {
        set: String,
        namespace: String,
        file: String,
    },
    #[error("policy set {set}: {file}:{line}: rule {rule} ran longer than the {limit_ms} ms limit and was stopped; make it cheaper or raise `timeout_ms`")]
    Timeout {
        set: String,
        file: String,
        line: u32,
        rule: String,
        limit_ms: u64,
    },
    #[error("policy set {set}: {file}:{line}: rule {rule}: {reason}")]
    Message {
        set: String,
        file: String,
        line: u32,
        rule: String,
        reason: String,
    },
    #[error("policy set {set}: data file {file}: {reason}")]
    Data {
        set: String,
        file: String,
        reason: String,
    },
    #[error("policy set {set}: {path}: {reason}")]
    Source {
        set: String,
        path: String,
        reason: String,
    },
}

impl From<PolicyError> for crate::Error {
    fn from(e: PolicyError) -> Self {
        crate::Error::Input(e.to_string())
    }
}

/// One policy message, as a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyFinding {
    /// `POL-<namespace>-<rule>`, then `-` and 8 hex digits of the sha256 of
    /// the address when the message names one.
    pub id: String,
    pub rule: String,
    pub namespace: String,
    pub kind: RuleKind,
    pub severity: Severity,
    /// The resource the message names (`address` field), if any.
    pub address: Option<String>,
    pub message: String,
    /// The other fields of an object message, sensitive values scrubbed.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub acknowledged: bool,
    pub policy_set: String,
    /// Where the rule is declared.
    pub file: String,
    pub line: u32,
    /// The project whose plan produced it.
    pub project: String,
}

/// How a set judges its findings.
#[derive(Debug, Clone, Default)]
pub struct SetSeverity {
    /// For deny and violation; default high.
    pub default: Option<PolicySeverity>,
    /// By rule name or `namespace.rule`.
    pub rules: std::collections::BTreeMap<String, PolicySeverity>,
}

/// The gate's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyReport {
    pub gate: String,
    pub verdict: Verdict,
    pub findings: Vec<PolicyFinding>,
    /// Policy sets that ran, by name.
    pub policy_sets: Vec<String>,
    pub expired_acknowledgements: Vec<Acknowledgement>,
    pub unmatched_acknowledgements: Vec<Acknowledgement>,
}

/// Acknowledgements and the phase they are judged in.
#[derive(Debug, Clone)]
pub struct AckContext {
    pub phase: Option<String>,
    pub acknowledgements: Vec<Acknowledgement>,
    pub today: NaiveDate,
}

pub fn severity_of(s: PolicySeverity) -> Severity {
    match s {
        PolicySeverity::Critical => Severity::Critical,
        PolicySeverity::High => Severity::High,
        PolicySeverity::Medium => Severity::Medium,
        PolicySeverity::Low => Severity::Low,
        PolicySeverity::Info => Severity::Info,
    }
}

/// The stable id of a finding.
pub fn finding_id(namespace: &str, rule: &str, address: Option<&str>) -> String {
    let base = format!("{ID_PREFIX}{namespace}-{rule}");
    match address {
        Some(a) => {
            let hash = hex::encode(Sha256::digest(a.as_bytes()));
            format!("{base}-{}", &hash[..8])
        }
        None => base,
    }
}

/// Evaluates one compiled set over one project's masked plan.
pub fn findings(
    set: &CompiledSet,
    severity: &SetSeverity,
    input: &PolicyInput,
    project: &str,
) -> Result<Vec<PolicyFinding>, PolicyError> {
    let mut out = Vec::new();
    for rv in set.evaluate(input.rego())? {
        let rule = &rv.rule;
        let msgs = message::messages(&rule.name, &rv.value).map_err(|e| PolicyError::Message {
            set: set.name.clone(),
            file: rule.file.clone(),
            line: rule.line,
            rule: format!("{}.{}", rule.namespace, rule.name),
            reason: e.to_string(),
        })?;
        for m in msgs {
            let address = m
                .fields
                .get("address")
                .and_then(|a| a.as_str())
                .map(|a| input::scrub(a, &input.masked));
            let from_message = m
                .fields
                .get("severity")
                .and_then(|s| serde_json::from_value::<PolicySeverity>(s.clone()).ok());
            let configured = severity
                .rules
                .get(&format!("{}.{}", rule.namespace, rule.name))
                .or_else(|| severity.rules.get(&rule.name))
                .copied();
            let default = match rule.kind {
                RuleKind::Warn => PolicySeverity::Medium,
                _ => severity.default.unwrap_or(PolicySeverity::High),
            };
            let metadata = m
                .fields
                .iter()
                .map(|(k, v)| {
                    let text = input::scrub(&v.to_string(), &input.masked);
                    let v = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
                    (k.clone(), v)
                })
                .collect();
            out.push(PolicyFinding {
                id: finding_id(&rule.namespace, &rule.name, address.as_deref()),
                rule: rule.name.clone(),
                namespace: rule.namespace.clone(),
                kind: rule.kind,
                severity: severity_of(configured.or(from_message).unwrap_or(default)),
                address,
                message: input::scrub(&m.text, &input.masked),
                metadata,
                acknowledged: false,
                policy_set: set.name.clone(),
                file: rule.file.clone(),
                line: rule.line,
                project: project.to_string(),
            });
        }
    }
    Ok(out)
}

/// The gate over every set's findings: sorted, acknowledged, decided.
pub fn report(
    mut findings: Vec<PolicyFinding>,
    sets: Vec<String>,
    ctx: &AckContext,
) -> PolicyReport {
    findings.sort_by(|a, b| {
        (a.severity, &a.id, &a.project, &a.message)
            .cmp(&(b.severity, &b.id, &b.project, &b.message))
    });
    findings.dedup();
    let mut expired = Vec::new();
    let mut unmatched = Vec::new();
    for ack in &ctx.acknowledgements {
        if ack
            .phase
            .as_ref()
            .is_some_and(|p| ctx.phase.as_ref() != Some(p))
        {
            continue;
        }
        if crate::gates::live_acknowledgement(
            std::slice::from_ref(ack),
            &ack.id,
            ctx.phase.as_deref(),
            ctx.today,
        )
        .is_none()
        {
            expired.push(ack.clone());
            continue;
        }
        let mut used = false;
        for f in findings.iter_mut() {
            let base = finding_id(&f.namespace, &f.rule, None);
            let address_ok = match (&ack.address, &f.address) {
                (None, _) => true,
                (Some(p), Some(a)) => {
                    p == a || globset::Glob::new(p).is_ok_and(|g| g.compile_matcher().is_match(a))
                }
                (Some(_), None) => false,
            };
            if (ack.id == f.id || ack.id == base) && address_ok && f.severity != Severity::Critical
            {
                f.acknowledged = true;
                used = true;
            }
        }
        if !used && ack.id.starts_with(ID_PREFIX) {
            unmatched.push(ack.clone());
        }
    }
    let verdict = findings
        .iter()
        .map(finding_verdict)
        .max()
        .unwrap_or(Verdict::Pass);
    PolicyReport {
        gate: "policy".into(),
        verdict,
        findings,
        policy_sets: sets,
        expired_acknowledgements: expired,
        unmatched_acknowledgements: unmatched,
    }
}

/// What one finding (acknowledged or not) does to the gate's verdict.
pub fn finding_verdict(f: &PolicyFinding) -> Verdict {
    match f.severity {
        Severity::Critical => Verdict::Block,
        Severity::High if !f.acknowledged => Verdict::AckRequired,
        Severity::High => Verdict::Warn,
        Severity::Info => Verdict::Pass,
        _ if f.acknowledged => Verdict::Pass,
        _ => Verdict::Warn,
    }
}

#[cfg(test)]
mod tests;
