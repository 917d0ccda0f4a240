//! The security gate: runs the rule catalog over what each created, updated
//! or replaced resource will look like after the change, applies the
//! environment's policy and the change plan's acknowledgements, and decides.
//! Findings are data with stable ids; JSON and SARIF are views here, the
//! markdown view is `render::security`.

pub mod applied;
mod iam;
mod node;
pub mod rules;
pub mod sarif;
mod secrets;

use chrono::NaiveDate;
use globset::Glob;
use serde::{Deserialize, Serialize};

pub use rules::{catalog, Rule};
pub use sarif::{import_sarif, to_sarif};

pub use crate::config::UnknownPolicy;
use crate::config::{Acknowledgement, SecurityPolicy};
use crate::gates::{Severity, Verdict};
use crate::plan::{Action, ChangeSet, Mode};
use node::Node;
use rules::{generic::PROVIDER_TYPE, Env, Outcome, Subject};

/// Equivalent checks in other scanners.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crosswalk {
    pub checkov: Vec<String>,
    pub trivy: Vec<String>,
}

/// Whether a rule failed on a resource or could not be checked before apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingOutcome {
    /// The planned values break the rule.
    #[default]
    Fail,
    /// A value the rule needs is known only after apply: not a failure. It
    /// never needs an acknowledgement and carries no crosswalk id (no other
    /// scanner's check failed); `security.unknown` may make it warn or block.
    Unknown,
}

/// One finding: a rule that one resource breaks (or cannot yet be checked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id (`PG-AWS-001`), or the importing scanner's id.
    pub id: String,
    pub severity: Severity,
    pub address: String,
    pub message: String,
    pub remediation: String,
    pub crosswalk: Crosswalk,
    pub acknowledged: bool,
    pub title: String,
    /// `phasegate`, or the scanner a SARIF file came from.
    pub source: String,
    /// Failed, or not checkable until apply (imported findings are failures).
    #[serde(default)]
    pub outcome: FindingOutcome,
    /// For an unknown: the attribute the rule needs, known only after apply
    /// (`verify` checks the rule again on its applied value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
}

impl Finding {
    pub fn is_unknown(&self) -> bool {
        self.outcome == FindingOutcome::Unknown
    }
}

/// Everything the gate needs besides the plan.
#[derive(Debug, Clone)]
pub struct SecurityContext {
    pub policy: SecurityPolicy,
    /// Protected environments also require deletion protection on databases.
    pub protected: bool,
    pub phase: Option<String>,
    pub acknowledgements: Vec<Acknowledgement>,
    pub today: NaiveDate,
    /// Findings imported from other scanners' SARIF.
    pub imported: Vec<Finding>,
    /// What a check that cannot run until apply does to the verdict.
    pub unknown: UnknownPolicy,
}

/// The gate's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityReport {
    pub gate: String,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    pub expired_acknowledgements: Vec<Acknowledgement>,
    pub unmatched_acknowledgements: Vec<Acknowledgement>,
    #[serde(skip)]
    secrets: Vec<String>,
}

impl SecurityReport {
    /// The raw secrets found, for the caller to register with the redactor.
    /// Nothing else holds them, and no view prints them.
    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// One report over several projects' reports: all findings and secrets,
    /// the worst verdict, expired acknowledgements from any, and as unmatched
    /// only what matched in none.
    pub fn merge(reports: Vec<SecurityReport>) -> SecurityReport {
        let mut merged = SecurityReport {
            gate: "security".into(),
            verdict: Verdict::Pass,
            findings: vec![],
            expired_acknowledgements: vec![],
            unmatched_acknowledgements: vec![],
            secrets: vec![],
        };
        let count = reports.len();
        let mut unmatched: Vec<(Acknowledgement, usize)> = vec![];
        for r in reports {
            merged.verdict = merged.verdict.max(r.verdict);
            merged.findings.extend(r.findings);
            merged.secrets.extend(r.secrets);
            for a in r.expired_acknowledgements {
                if !merged.expired_acknowledgements.contains(&a) {
                    merged.expired_acknowledgements.push(a);
                }
            }
            for a in r.unmatched_acknowledgements {
                match unmatched.iter_mut().find(|(u, _)| *u == a) {
                    Some((_, n)) => *n += 1,
                    None => unmatched.push((a, 1)),
                }
            }
        }
        merged.unmatched_acknowledgements = unmatched
            .into_iter()
            .filter(|(_, n)| *n == count)
            .map(|(a, _)| a)
            .collect();
        merged
    }

    /// Failed checks of one severity (unknowns are counted apart).
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity && !f.is_unknown())
            .count()
    }

    /// Checks that could not run until apply.
    pub fn unknown_count(&self) -> usize {
        self.findings.iter().filter(|f| f.is_unknown()).count()
    }
}

/// A SARIF file that cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("{origin}: not valid SARIF JSON ({source}); pass the file the scanner wrote with its SARIF output option")]
    SarifJson {
        origin: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{origin}: not a SARIF 2.1.0 log: {reason}")]
    SarifShape { origin: String, reason: String },
}

impl From<SecurityError> for crate::Error {
    fn from(e: SecurityError) -> Self {
        crate::Error::Input(e.to_string())
    }
}

/// Whether the gate checks a resource with this action: what the change
/// creates, updates or replaces (not what it deletes, reads or leaves).
pub fn checked(action: Action) -> bool {
    matches!(
        action,
        Action::Create
            | Action::Update
            | Action::ReplaceCreateFirst
            | Action::ReplaceDestroyFirst
            | Action::CreateThenForget
    )
}

fn finding(rule: &Rule, severity: Severity, address: &str, message: String) -> Finding {
    Finding {
        id: rule.id.to_string(),
        severity,
        address: address.to_string(),
        message,
        remediation: rule.remediation.to_string(),
        crosswalk: Crosswalk {
            checkov: rule.checkov.iter().map(|s| s.to_string()).collect(),
            trivy: rule.trivy.iter().map(|s| s.to_string()).collect(),
        },
        acknowledged: false,
        title: rule.title.to_string(),
        source: "phasegate".to_string(),
        outcome: FindingOutcome::Fail,
        attribute: None,
    }
}

/// A check that must wait for apply: informational, and no crosswalk id,
/// because no other scanner's check failed either.
fn unknown_finding(rule: &Rule, address: &str, attr: &str) -> Finding {
    let message = format!("`{attr}` is known only after apply: checked again after apply");
    Finding {
        crosswalk: Crosswalk::default(),
        outcome: FindingOutcome::Unknown,
        attribute: Some(attr.to_string()),
        ..finding(rule, Severity::Info, address, message)
    }
}

/// Runs every rule over the change set; no policy, no acknowledgements.
/// Returns the findings and the raw secrets found.
pub fn scan(cs: &ChangeSet, protected: bool) -> (Vec<Finding>, Vec<String>) {
    let env = Env::new(cs, protected);
    let mut findings = Vec::new();
    let mut raw = Vec::new();
    let mut push = |rule: &Rule,
                    address: &str,
                    outcomes: Vec<Outcome>,
                    findings: &mut Vec<Finding>| {
        let mut unknowns: Vec<String> = Vec::new();
        for o in outcomes {
            match o {
                Outcome::Fail(m) => findings.push(finding(rule, rule.severity, address, m)),
                Outcome::FailAt(severity, m) => findings.push(finding(rule, severity, address, m)),
                Outcome::Secret { message, hit } => {
                    raw.push(hit.raw);
                    findings.push(finding(rule, rule.severity, address, message));
                }
                Outcome::Unknown(attr) if !unknowns.contains(&attr) => unknowns.push(attr),
                Outcome::Unknown(_) => {}
            }
        }
        for attr in unknowns {
            findings.push(unknown_finding(rule, address, &attr));
        }
    };
    for rc in cs
        .resources
        .iter()
        .filter(|r| r.mode == Mode::Managed && checked(r.action))
    {
        // Parsed for this resource's rules only, dropped before the next.
        let (after, after_unknown) = (rc.after.value(), rc.after_unknown.value());
        let subject = Subject {
            address: &rc.address,
            resource_type: &rc.resource_type,
            node: Node::new(&after, &after_unknown),
        };
        for rule in catalog() {
            let applies = if rule.types.is_empty() {
                true
            } else {
                rule.types.contains(&rc.resource_type.as_str())
            };
            if applies {
                push(
                    rule,
                    &rc.address,
                    (rule.check)(&subject, &env),
                    &mut findings,
                );
            }
        }
    }
    if let (Some(rule), serde_json::Value::Object(providers)) = (
        catalog().find(|r| r.types == [PROVIDER_TYPE]),
        &cs.provider_config,
    ) {
        for (key, cfg) in providers {
            let mut outcomes = Vec::new();
            let exprs = cfg.get("expressions").unwrap_or(cfg);
            rules::secrets_in_value(exprs, "provider configuration", &mut outcomes);
            push(rule, &format!("provider.{key}"), outcomes, &mut findings);
        }
    }
    raw.sort();
    raw.dedup();
    (findings, raw)
}

/// The gate: scan, add imported findings, apply acknowledgements and policy.
pub fn evaluate(cs: &ChangeSet, ctx: &SecurityContext) -> SecurityReport {
    let (mut findings, secrets) = scan(cs, ctx.protected);
    findings.extend(ctx.imported.iter().cloned());
    findings.sort_by(|a, b| (a.severity, &a.id, &a.address).cmp(&(b.severity, &b.id, &b.address)));

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
        let still_valid = match ack.expires.as_deref() {
            None => true,
            // An unreadable date counts as expired: an ack must never last
            // longer than its author meant.
            Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok_and(|d| d >= ctx.today),
        };
        if !still_valid {
            expired.push(ack.clone());
            continue;
        }
        let mut used = false;
        for f in findings.iter_mut() {
            if f.id == ack.id
                && !f.is_unknown()
                && f.severity != Severity::Critical
                && address_matches(ack.address.as_deref(), &f.address)
            {
                f.acknowledged = true;
                used = true;
            }
        }
        if !used {
            unmatched.push(ack.clone());
        }
    }

    let verdict = verdict(&findings, ctx.policy, ctx.unknown);
    SecurityReport {
        gate: "security".to_string(),
        verdict,
        findings,
        expired_acknowledgements: expired,
        unmatched_acknowledgements: unmatched,
        secrets,
    }
}

fn address_matches(pattern: Option<&str>, address: &str) -> bool {
    let Some(p) = pattern else { return true };
    // Addresses hold `[0]` and `["key"]`, which a glob reads as character
    // classes: an exact address always matches itself.
    p == address || Glob::new(p).is_ok_and(|g| g.compile_matcher().is_match(address))
}

fn verdict(findings: &[Finding], policy: SecurityPolicy, unknown: UnknownPolicy) -> Verdict {
    let needs_ack = |s: Severity| {
        s == Severity::High || (policy == SecurityPolicy::Strict && s == Severity::Medium)
    };
    let mut v = Verdict::Pass;
    for f in findings {
        if f.is_unknown() {
            v = v.max(match unknown {
                UnknownPolicy::Pass => Verdict::Pass,
                UnknownPolicy::Warn => Verdict::Warn,
                UnknownPolicy::Block => Verdict::Block,
            });
            continue;
        }
        let this = match f.severity {
            Severity::Critical => Verdict::Block,
            s if needs_ack(s) && !f.acknowledged => Verdict::AckRequired,
            Severity::Info => Verdict::Pass,
            s if needs_ack(s) => Verdict::Warn,
            _ if f.acknowledged => Verdict::Pass,
            _ => Verdict::Warn,
        };
        v = v.max(this);
    }
    v
}

/// The report as JSON.
pub fn to_json(report: &SecurityReport) -> String {
    serde_json::to_string_pretty(report).expect("a security report always serializes")
}

#[cfg(test)]
mod tests;
