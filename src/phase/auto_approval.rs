//! Approval rules on plan content: an environment's `approvals.auto` accepts
//! a phase's plan without a person when every condition it states holds for
//! every project. Pure: the runner gathers the facts from the plans and the
//! gates, this module says which conditions held and which did not.

use std::collections::BTreeSet;

use crate::config::{AutoApproval, BlastRadius, SecurityAtMost};
use crate::gates::Verdict;

/// What the rule looks at, over the whole phase.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanFacts {
    /// Resources destroyed, replacements included.
    pub destroys: usize,
    pub replaces: usize,
    /// The security gate's verdict; `None` when it did not run.
    pub security: Option<Verdict>,
    /// The monthly cost delta, and whether it is a lower bound (something unpriced).
    pub cost_delta: Option<f64>,
    pub cost_lower_bound: bool,
    /// The radius the blast gate measured; `None` when it did not say.
    pub blast: Option<BlastRadius>,
    /// Types of the resources the phase changes.
    pub changed_types: BTreeSet<String>,
}

/// How a rule went: every condition, in the rule's order, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleOutcome {
    pub held: Vec<String>,
    pub failed: Vec<String>,
}

impl RuleOutcome {
    /// The rule approves: it stated something, and nothing failed.
    pub fn approves(&self) -> bool {
        self.failed.is_empty() && !self.held.is_empty()
    }
}

/// Whether the rule states no condition at all (refused by validation: it
/// would approve everything).
pub fn is_empty(rule: &AutoApproval) -> bool {
    rule.states_nothing()
}

/// Judges every condition `rule` states against `facts`.
pub fn evaluate(rule: &AutoApproval, facts: &PlanFacts) -> RuleOutcome {
    let mut out = RuleOutcome {
        held: vec![],
        failed: vec![],
    };
    let mut judge = |ok: bool, held: String, failed: String| {
        if ok {
            out.held.push(held);
        } else {
            out.failed.push(failed);
        }
    };
    if rule.no_destroys {
        judge(
            facts.destroys == 0,
            "no destroys".into(),
            format!("no destroys: the plan destroys {}", facts.destroys),
        );
    }
    if rule.no_replaces {
        judge(
            facts.replaces == 0,
            "no replaces".into(),
            format!("no replaces: the plan replaces {}", facts.replaces),
        );
    }
    if let Some(at_most) = rule.security {
        let limit = match at_most {
            SecurityAtMost::Pass => Verdict::Pass,
            SecurityAtMost::Warn => Verdict::Warn,
        };
        let word = |v: Verdict| match v {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::AckRequired => "needs an acknowledgement",
            Verdict::Block => "block",
        };
        match facts.security {
            Some(v) if v <= limit => judge(true, format!("security {}", word(v)), String::new()),
            Some(v) => judge(
                false,
                String::new(),
                format!("security at most {}: it is {}", word(limit), word(v)),
            ),
            None => judge(
                false,
                String::new(),
                "security: the security gate did not run".into(),
            ),
        }
    }
    if let Some(max) = rule.max_cost_delta {
        match facts.cost_delta {
            Some(_) if facts.cost_lower_bound => judge(
                false,
                String::new(),
                format!("cost delta at most ${max:.2}: some resources are unpriced, so the delta is only a lower bound"),
            ),
            Some(d) if d <= max => judge(
                true,
                format!("cost delta ${d:+.2} at most ${max:.2}"),
                String::new(),
            ),
            Some(d) => judge(
                false,
                String::new(),
                format!("cost delta at most ${max:.2}: it is ${d:+.2}"),
            ),
            None => judge(
                false,
                String::new(),
                "cost delta: the cost gate did not say".into(),
            ),
        }
    }
    if let Some(max) = rule.max_blast_radius {
        let name = |r: BlastRadius| format!("{r:?}").to_lowercase();
        match facts.blast {
            Some(r) if r <= max => judge(
                true,
                format!("blast radius {} at most {}", name(r), name(max)),
                String::new(),
            ),
            Some(r) => judge(
                false,
                String::new(),
                format!("blast radius at most {}: it is {}", name(max), name(r)),
            ),
            None => judge(
                false,
                String::new(),
                "blast radius: the blast gate did not say".into(),
            ),
        }
    }
    if !rule.resource_types.is_empty() {
        let allowed: BTreeSet<&str> = rule.resource_types.iter().map(String::as_str).collect();
        let other: Vec<&str> = facts
            .changed_types
            .iter()
            .map(String::as_str)
            .filter(|t| !allowed.contains(t))
            .collect();
        judge(
            other.is_empty(),
            "only listed resource types".into(),
            format!(
                "only listed resource types: the plan also changes {}",
                other.join(", ")
            ),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> PlanFacts {
        PlanFacts {
            destroys: 0,
            replaces: 0,
            security: Some(Verdict::Pass),
            cost_delta: Some(12.5),
            cost_lower_bound: false,
            blast: Some(BlastRadius::Low),
            changed_types: ["aws_s3_bucket".to_string()].into(),
        }
    }

    fn rule() -> AutoApproval {
        AutoApproval {
            no_destroys: true,
            no_replaces: true,
            security: Some(SecurityAtMost::Pass),
            max_cost_delta: Some(50.0),
            max_blast_radius: Some(BlastRadius::Low),
            resource_types: vec!["aws_s3_bucket".into()],
        }
    }

    #[test]
    fn a_plan_within_every_condition_is_approved_and_says_why() {
        let out = evaluate(&rule(), &facts());
        assert!(out.approves(), "{out:?}");
        assert_eq!(
            out.held,
            [
                "no destroys",
                "no replaces",
                "security pass",
                "cost delta $+12.50 at most $50.00",
                "blast radius low at most low",
                "only listed resource types"
            ]
        );
    }

    #[test]
    fn each_failed_condition_is_named() {
        let mut f = facts();
        f.destroys = 1;
        f.security = Some(Verdict::Warn);
        f.cost_delta = Some(80.0);
        f.blast = Some(BlastRadius::High);
        f.changed_types.insert("aws_iam_role".into());
        let out = evaluate(&rule(), &f);
        assert!(!out.approves());
        assert_eq!(
            out.failed,
            [
                "no destroys: the plan destroys 1",
                "security at most pass: it is warn",
                "cost delta at most $50.00: it is $+80.00",
                "blast radius at most low: it is high",
                "only listed resource types: the plan also changes aws_iam_role"
            ]
        );
    }

    #[test]
    fn an_unpriced_delta_never_satisfies_a_cost_limit_and_an_empty_rule_approves_nothing() {
        let mut f = facts();
        f.cost_lower_bound = true;
        let only_cost = AutoApproval {
            max_cost_delta: Some(1000.0),
            ..Default::default()
        };
        assert!(!evaluate(&only_cost, &f).approves());
        assert!(is_empty(&AutoApproval::default()));
        assert!(!evaluate(&AutoApproval::default(), &facts()).approves());
    }
}
