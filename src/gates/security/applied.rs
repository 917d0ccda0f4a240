//! The security gate again, on the applied state: every finding the plan
//! could not check until apply becomes pass or fail, with the applied value
//! as evidence, and a rule that fails now on a resource the change touched,
//! where the plan had no finding, counts too. The verdict per finding is the
//! plan-time gate's own (critical blocks; high, and medium under `strict`,
//! block unless acknowledged), read as a check: blocking is FAIL, a warning
//! WARN, anything else PASS.
//!
//! Pure: the caller reads the state (`plan::state`), the plan-time findings
//! (the journal's `gate_findings`) and the clock.

use serde_json::Value;

use super::{evaluate, verdict, Finding, SecurityContext, SecurityReport};
use crate::gates::Verdict;
use crate::journal::{CheckResult, CheckStatus, GateFinding};
use crate::plan::{ChangeSet, Mode};

/// The most characters of an applied value an evidence line quotes.
const VALUE_CHARS: usize = 240;

/// One rule checked again on one applied resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recheck {
    pub id: String,
    pub address: String,
    /// The attribute the plan could not know; `None` for a finding that is
    /// new after apply.
    pub unknown_at_plan: Option<String>,
    pub status: CheckStatus,
    /// What the applied state shows: the value and the rule's message.
    /// Masked where Terraform marks the value sensitive; not yet redacted.
    pub evidence: String,
}

impl Recheck {
    /// The check `verify` journals: kind `security`, one attempt.
    pub fn check(&self) -> CheckResult {
        CheckResult {
            name: format!("{} {}", self.id, self.address),
            kind: "security".into(),
            status: self.status,
            evidence: self.evidence.clone(),
            attempts: 1,
            duration_ms: 0,
        }
    }
}

/// What the plan-time report found on `cs`, for the journal: each finding
/// of phasegate's own rules on one of its resources (imported findings are
/// not checked again), with the attribute an unknown one waits for.
pub fn plan_findings(cs: &ChangeSet, report: &SecurityReport) -> Vec<GateFinding> {
    let ours = |a: &str| {
        cs.resources.iter().any(|r| r.address == a)
            || a.strip_prefix("provider.")
                .is_some_and(|k| cs.provider_config.get(k).is_some())
    };
    let mut out: Vec<GateFinding> = report
        .findings
        .iter()
        .filter(|f| f.source == "phasegate" && ours(&f.address))
        .map(|f| GateFinding {
            id: f.id.clone(),
            address: Some(f.address.clone()),
            unknown: f
                .is_unknown()
                .then(|| f.attribute.clone().unwrap_or_default()),
        })
        .collect();
    out.dedup();
    out
}

/// Checks `planned`'s unknowns again on `applied` (the state as a change
/// set: `AppliedState::as_change_set`) and finds what fails now that the
/// plan did not. Ordered as the plan's unknowns, then the new findings by
/// severity. Also returns the raw secrets the rules found, for the caller
/// to register with the redactor before any evidence is shown (evidence
/// quotes applied values, user data among them).
pub fn recheck(
    applied: &ChangeSet,
    planned: &[GateFinding],
    ctx: &SecurityContext,
) -> (Vec<Recheck>, Vec<String>) {
    let report = evaluate(applied, ctx);
    let failing = |id: &str, address: &str| -> Vec<&Finding> {
        report
            .findings
            .iter()
            .filter(|f| f.id == id && f.address == address)
            .collect()
    };
    let mut out = Vec::new();
    for p in planned {
        let (Some(attr), Some(address)) = (&p.unknown, &p.address) else {
            continue;
        };
        if out
            .iter()
            .any(|r: &Recheck| r.id == p.id && &r.address == address)
        {
            continue;
        }
        let Some(resource) = applied
            .resources
            .iter()
            .find(|r| &r.address == address && r.mode == Mode::Managed)
        else {
            out.push(Recheck {
                id: p.id.clone(),
                address: address.clone(),
                unknown_at_plan: Some(attr.clone()),
                status: CheckStatus::Warn,
                evidence: format!("`{address}` is not in the applied state: not checked"),
            });
            continue;
        };
        let after = resource.after.value();
        let value = match lookup(&after, attr) {
            Some(v) => format!("`{attr}` after apply: {}", shown(v)),
            None => format!("`{attr}` after apply: not set"),
        };
        let found = failing(&p.id, address);
        let (status, evidence) = if found.is_empty() {
            (CheckStatus::Pass, format!("{value}; passes"))
        } else {
            (
                status_of(&found, ctx),
                format!("{value}; {}", messages(&found)),
            )
        };
        out.push(Recheck {
            id: p.id.clone(),
            address: address.clone(),
            unknown_at_plan: Some(attr.clone()),
            status,
            evidence,
        });
    }
    let known_at_plan = |f: &Finding| {
        planned
            .iter()
            .any(|p| p.id == f.id && p.address.as_deref() == Some(&f.address))
    };
    let mut new: Vec<(&str, &str)> = Vec::new();
    for f in report.findings.iter().filter(|f| !known_at_plan(f)) {
        if !new.contains(&(f.id.as_str(), f.address.as_str())) {
            new.push((&f.id, &f.address));
        }
    }
    for (id, address) in new {
        let found = failing(id, address);
        let status = status_of(&found, ctx);
        // A new informational finding changes nothing the gate would decide.
        if status == CheckStatus::Pass {
            continue;
        }
        out.push(Recheck {
            id: id.to_string(),
            address: address.to_string(),
            unknown_at_plan: None,
            status,
            evidence: format!(
                "after apply: {} (the plan had no such finding)",
                messages(&found)
            ),
        });
    }
    (out, report.secrets().to_vec())
}

/// The plan-time gate's verdict over these findings, as a check status.
fn status_of(findings: &[&Finding], ctx: &SecurityContext) -> CheckStatus {
    let owned: Vec<Finding> = findings.iter().map(|f| (*f).clone()).collect();
    match verdict(&owned, ctx.policy, ctx.unknown) {
        Verdict::Block | Verdict::AckRequired => CheckStatus::Fail,
        Verdict::Warn => CheckStatus::Warn,
        Verdict::Pass => CheckStatus::Pass,
    }
}

fn messages(findings: &[&Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            let severity = serde_json::to_value(f.severity)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let ack = if f.acknowledged { ", acknowledged" } else { "" };
            format!("{} ({severity}{ack}): {}", f.title, f.message)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The value at a rule's attribute path (`policy`,
/// `point_in_time_recovery.enabled`, `ebs_block_device[1].encrypted`); a
/// nested block modelled as a one-element list reads as its element, as the
/// rules read it. `None` when the path names nothing in the value (some
/// rules name a rule block in words, `ingress rule #0 cidr_blocks`).
fn lookup<'a>(values: &'a Value, attr: &str) -> Option<&'a Value> {
    let mut at = values;
    for part in attr.split('.') {
        let (name, indices) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if let Value::Array(list) = at {
            at = list.first()?;
        }
        at = at.get(name)?;
        for index in indices.split(['[', ']']).filter(|s| !s.is_empty()) {
            at = at.get(index.parse::<usize>().ok()?)?;
        }
    }
    Some(at)
}

/// A value on one line: a string as itself (a policy document is JSON
/// text), anything else as compact JSON; cut at [`VALUE_CHARS`].
fn shown(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() > VALUE_CHARS {
        let cut: String = one_line.chars().take(VALUE_CHARS).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Acknowledgement, SecurityPolicy, UnknownPolicy};
    use crate::plan::{Action, AppliedState, StateResource};
    use serde_json::json;
    use std::collections::BTreeMap;

    fn ctx(acks: Vec<Acknowledgement>) -> SecurityContext {
        SecurityContext {
            policy: SecurityPolicy::Standard,
            protected: false,
            phase: Some("dev".into()),
            acknowledgements: acks,
            today: chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
            imported: vec![],
            unknown: UnknownPolicy::Pass,
        }
    }

    fn policy_state(document: Value) -> ChangeSet {
        let state = AppliedState {
            format_version: "0.2".into(),
            engine_version: Some("1.0.3".into()),
            resources: vec![StateResource {
                address: "aws_iam_policy.app".into(),
                module: None,
                mode: Mode::Managed,
                resource_type: "aws_iam_policy".into(),
                name: "app".into(),
                index: None,
                provider: "registry.terraform.io/hashicorp/aws".into(),
                values: json!({"name": "app", "path": "/", "policy": document.to_string()}),
                sensitive: json!({}),
            }],
            sensitive_values: Default::default(),
        };
        state.as_change_set(&BTreeMap::from([(
            "aws_iam_policy.app".to_string(),
            Action::Create,
        )]))
    }

    fn unknown(id: &str) -> GateFinding {
        GateFinding {
            id: id.into(),
            address: Some("aws_iam_policy.app".into()),
            unknown: Some("policy".into()),
        }
    }

    fn star(resource: &str) -> Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": resource}]})
    }

    #[test]
    fn an_unknown_policy_that_turns_out_action_star_fails_with_the_applied_document() {
        let applied = policy_state(star("arn:aws:s3:::data"));
        let planned = [unknown("PG-AWS-035"), unknown("PG-AWS-020")];
        let (out, _) = recheck(&applied, &planned, &ctx(vec![]));
        assert_eq!(out.len(), 2, "{out:#?}");
        let star = &out[0];
        assert_eq!(star.id, "PG-AWS-035");
        assert_eq!(star.status, CheckStatus::Fail);
        assert!(
            star.evidence.starts_with("`policy` after apply: {")
                && star.evidence.contains(r#""Action":"*""#),
            "{}",
            star.evidence
        );
        assert!(
            star.evidence.contains("allows action `*`"),
            "{}",
            star.evidence
        );
        // Not `*` on `Resource: *`: the administrator rule passes.
        assert_eq!(out[1].status, CheckStatus::Pass);
        assert!(out[1].evidence.ends_with("; passes"), "{}", out[1].evidence);
        let check = star.check();
        assert_eq!(
            (check.name.as_str(), check.kind.as_str()),
            ("PG-AWS-035 aws_iam_policy.app", "security")
        );
    }

    #[test]
    fn a_fine_applied_value_turns_every_unknown_into_a_pass() {
        let doc = json!({"Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"}]});
        let planned = [unknown("PG-AWS-035"), unknown("PG-AWS-036")];
        let (out, _) = recheck(&policy_state(doc), &planned, &ctx(vec![]));
        assert!(
            out.iter().all(|r| r.status == CheckStatus::Pass),
            "{out:#?}"
        );
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn an_acknowledged_high_finding_warns_instead_of_failing() {
        let ack = Acknowledgement {
            id: "PG-AWS-035".into(),
            address: Some("aws_iam_policy.app".into()),
            reason: "break-glass role".into(),
            expires: None,
            phase: None,
            by: None,
        };
        let (out, _) = recheck(
            &policy_state(star("arn:aws:s3:::data")),
            &[unknown("PG-AWS-035")],
            &ctx(vec![ack]),
        );
        assert_eq!(out[0].status, CheckStatus::Warn, "{out:#?}");
        assert!(
            out[0].evidence.contains("acknowledged"),
            "{}",
            out[0].evidence
        );
    }

    #[test]
    fn a_failure_the_plan_did_not_have_counts_and_one_it_had_does_not() {
        // The plan saw the document and found PG-AWS-021 (medium); after
        // apply the administrator rules fail too, which the plan never said.
        let applied = policy_state(star("*"));
        let planned = [GateFinding {
            id: "PG-AWS-021".into(),
            address: Some("aws_iam_policy.app".into()),
            unknown: None,
        }];
        let (out, _) = recheck(&applied, &planned, &ctx(vec![]));
        let ids: Vec<&str> = out.iter().map(|r| r.id.as_str()).collect();
        assert!(!ids.contains(&"PG-AWS-021"), "{ids:?}");
        assert!(
            ids.contains(&"PG-AWS-020") && ids.contains(&"PG-AWS-035"),
            "{ids:?}"
        );
        assert!(out.iter().all(|r| r.unknown_at_plan.is_none()));
        assert!(
            out.iter().all(|r| r.status == CheckStatus::Fail),
            "{out:#?}"
        );
        assert!(out[0].evidence.contains("the plan had no such finding"));
    }

    #[test]
    fn an_unknown_resource_missing_from_the_state_warns() {
        let applied = policy_state(star("arn:aws:s3:::data"));
        let gone = GateFinding {
            id: "PG-AWS-035".into(),
            address: Some("aws_iam_policy.gone".into()),
            unknown: Some("policy".into()),
        };
        let (out, _) = recheck(&applied, &[gone], &ctx(vec![]));
        assert_eq!(out[0].status, CheckStatus::Warn);
        assert!(out[0].evidence.contains("not in the applied state"));
    }

    #[test]
    fn a_secret_in_user_data_known_only_after_apply_fails_and_is_handed_to_the_redactor() {
        let key = "AKIAQ7PGAPPLIEDKEY99";
        let state = AppliedState {
            format_version: "0.2".into(),
            engine_version: None,
            resources: vec![StateResource {
                address: "aws_instance.web".into(),
                module: None,
                mode: Mode::Managed,
                resource_type: "aws_instance".into(),
                name: "web".into(),
                index: None,
                provider: "registry.terraform.io/hashicorp/aws".into(),
                values: json!({"ami": "ami-1", "user_data": format!("export AWS_ACCESS_KEY_ID={key}")}),
                sensitive: json!({}),
            }],
            sensitive_values: Default::default(),
        };
        let applied = state.as_change_set(&BTreeMap::from([(
            "aws_instance.web".to_string(),
            Action::Create,
        )]));
        let planned = [GateFinding {
            id: "PG-AWS-024".into(),
            address: Some("aws_instance.web".into()),
            unknown: Some("user_data".into()),
        }];
        let (out, secrets) = recheck(&applied, &planned, &ctx(vec![]));
        let found = out.iter().find(|r| r.id == "PG-AWS-024").unwrap();
        assert_eq!(found.status, CheckStatus::Fail, "critical: {out:#?}");
        assert_eq!(secrets, [key]);
    }

    #[test]
    fn paths_read_blocks_lists_and_indices_as_the_rules_do() {
        let v = json!({"pitr": [{"enabled": true}], "ebs": [{"e": 1}, {"e": 2}], "s": {"k": "x"}});
        assert_eq!(lookup(&v, "pitr.enabled"), Some(&json!(true)));
        assert_eq!(lookup(&v, "ebs[1].e"), Some(&json!(2)));
        assert_eq!(lookup(&v, "s.k"), Some(&json!("x")));
        assert_eq!(lookup(&v, "ingress rule #0 cidr_blocks"), None);
        let long = Value::String("x".repeat(500));
        assert_eq!(shown(&long).chars().count(), VALUE_CHARS + 1);
    }

    #[test]
    fn plan_findings_keep_this_plan_s_resources_and_the_unknown_attribute() {
        let mut cs = policy_state(star("*"));
        cs.resources[0].after_unknown = json!({"policy": true}).into();
        cs.resources[0].after = json!({"name": "app", "path": "/"}).into();
        let report = evaluate(&cs, &ctx(vec![]));
        let mut other = report.clone();
        other.findings[0].address = "aws_iam_policy.elsewhere".into();
        let merged = SecurityReport::merge(vec![report, other]);
        let found = plan_findings(&cs, &merged);
        assert!(!found.is_empty());
        assert!(found
            .iter()
            .all(|f| f.address.as_deref() == Some("aws_iam_policy.app")
                && f.unknown.as_deref() == Some("policy")));
    }
}
