//! The cost gate: prices what a phase's plans change, month by month, and
//! checks the result against the phase's and environment's budgets.
//!
//! Estimates use public on-demand list prices from the embedded book
//! (`prices/*.yaml`), hourly rates times 730. Anything that cannot be priced
//! is listed as unpriced with its reason and never counted as $0; while
//! anything is unpriced, every total and budget amount is a lower bound.
//! Before and after cover every managed resource of the plan, unchanged ones
//! included, because a budget is about what the environment costs.
//!
//! # Budgets
//! | check | amount compared | limit |
//! |---|---|---|
//! | `phase` | this phase's monthly delta | phase budget |
//! | `cumulative` | earlier phases' deltas plus this one | phase budget |
//! | `environment` | this phase's projects' monthly cost after the change | environment budget |
//!
//! Over any limit the verdict is `ack_required`, or `warn` with a live
//! `cost-budget` acknowledgement.

mod book;
pub mod import;
mod price;
mod usage;

use serde::Serialize;
use serde_json::Value;

pub use book::{use_books, Provider};
pub use price::{priced_types, Gap, Line, HOURS_PER_MONTH};
pub use usage::Usage;

use crate::config::Acknowledgement;
use crate::gates::Verdict;
use crate::plan::{Action, ChangeSet};
use price::{price_side, RegionHints};

/// The acknowledgement ID that lets an over-budget phase go on.
pub const ACK_ID: &str = "cost-budget";

/// Errors reading cost inputs.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    #[error("{path}: cannot read the usage file: {message}")]
    Read { path: String, message: String },
    #[error("{file}:{line}:{column}: {path}: {message}")]
    Usage {
        file: String,
        line: u32,
        column: u32,
        path: String,
        message: String,
    },
}

impl From<CostError> for crate::error::Error {
    fn from(e: CostError) -> Self {
        crate::error::Error::Input(e.to_string())
    }
}

/// Everything the cost gate needs besides the plans.
#[derive(Debug, Clone)]
pub struct CostContext {
    /// AWS-style region used when neither resource nor provider names one.
    pub default_region: Option<String>,
    pub usage: Usage,
    pub phase: Option<String>,
    pub phase_budget: Option<f64>,
    pub environment_budget: Option<f64>,
    /// Monthly delta already added by the change's earlier phases.
    pub prior_phases_monthly: f64,
    pub acknowledgements: Vec<Acknowledgement>,
    pub today: chrono::NaiveDate,
}

/// One resource's estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceCost {
    pub address: String,
    pub project: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub action: Action,
    pub monthly_before: f64,
    pub monthly_after: f64,
    pub monthly_delta: f64,
    /// Fully priced: no gap on either side.
    pub priced: bool,
    pub usage_based: bool,
    pub free: bool,
    pub region: Option<String>,
    /// Why parts could not be priced, usage notes included.
    pub reasons: Vec<String>,
    /// Usage-based parts have no usage data: the amounts leave them out, so a
    /// view says "usage-based" rather than a dollar figure of zero.
    pub usage_pending: bool,
    /// Documented provider defaults used for values the plan does not know.
    pub assumptions: Vec<String>,
    pub lines_after: Vec<Line>,
}

/// Totals for one project.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectCost {
    pub project: String,
    pub monthly_before: f64,
    pub monthly_after: f64,
    pub monthly_delta: f64,
    pub unpriced: usize,
}

/// One budget comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetCheck {
    /// `phase`, `cumulative` or `environment`.
    pub scope: String,
    pub limit: f64,
    pub amount: f64,
    pub over: bool,
    /// Some resource is not fully priced: the amount is at least this.
    pub lower_bound: bool,
}

/// A cheaper type with the same vCPU and memory, from the book.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alternative {
    pub address: String,
    pub current: String,
    pub suggested: String,
    pub monthly_saving: f64,
}

/// An unpriced resource and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unpriced {
    pub address: String,
    pub reasons: Vec<String>,
}

/// The cost gate's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostReport {
    pub gate: &'static str,
    pub verdict: Verdict,
    pub currency: &'static str,
    pub monthly_before: f64,
    pub monthly_after: f64,
    pub monthly_delta: f64,
    pub resources: Vec<ResourceCost>,
    /// Some resource is not fully priced: every total is a lower bound.
    pub lower_bound: bool,
    /// Addresses of resources not (fully) priced.
    pub unpriced: Vec<String>,
    pub unpriced_reasons: Vec<Unpriced>,
    pub projects: Vec<ProjectCost>,
    pub budgets: Vec<BudgetCheck>,
    pub over_budget: bool,
    /// The acknowledgement that turned an over-budget result into a warning.
    pub acknowledged_by: Option<String>,
    pub prior_phases_monthly: f64,
    /// Top five resources by monthly delta, when over budget.
    pub top_contributors: Vec<String>,
    pub alternatives: Vec<Alternative>,
}

/// Rounds half-up to cents, for display and JSON.
pub fn cents(x: f64) -> f64 {
    // The small nudge keeps 7.5919999 (float error) from rounding down.
    let scaled = x * 100.0;
    let nudged = scaled + scaled.signum() * 1e-7;
    (nudged.abs() + 0.5).floor().copysign(x) / 100.0
}

/// Prices every project's plan and checks the budgets.
pub fn evaluate(projects: &[(String, &ChangeSet)], ctx: &CostContext) -> CostReport {
    let mut resources = Vec::new();
    let mut project_totals = Vec::new();
    for (project, changes) in projects {
        let hints = RegionHints {
            provider_config: &changes.provider_config,
            default_region: ctx.default_region.as_deref(),
        };
        let mut total = ProjectCost {
            project: project.clone(),
            monthly_before: 0.0,
            monthly_after: 0.0,
            monthly_delta: 0.0,
            unpriced: 0,
        };
        for rc in &changes.resources {
            // Unchanged resources count: they are part of what the
            // environment costs before and after.
            if rc.mode != crate::plan::Mode::Managed
                || matches!(rc.action, Action::Read)
                || rc.deposed.is_some()
            {
                continue;
            }
            let has_before = !matches!(rc.action, Action::Create | Action::CreateThenForget);
            let has_after = !matches!(rc.action, Action::Delete | Action::Forget);
            // A forgotten object keeps running but leaves this configuration's bill.
            let empty = SideOrNothing::Nothing;
            let before = if has_before {
                SideOrNothing::Side(price_side(
                    &rc.resource_type,
                    &rc.address,
                    &rc.before.value(),
                    &Value::Null,
                    &hints,
                    &ctx.usage,
                ))
            } else {
                empty.clone()
            };
            let after = if has_after {
                SideOrNothing::Side(price_side(
                    &rc.resource_type,
                    &rc.address,
                    &rc.after.value(),
                    &rc.after_unknown.value(),
                    &hints,
                    &ctx.usage,
                ))
            } else {
                empty
            };
            let mut reasons: Vec<String> = Vec::new();
            let mut assumptions: Vec<String> = Vec::new();
            let mut usage_pending = false;
            for side in [&before, &after] {
                if let SideOrNothing::Side(s) = side {
                    for g in &s.gaps {
                        usage_pending |= g.usage;
                        if !reasons.contains(&g.reason) {
                            reasons.push(g.reason.clone());
                        }
                    }
                    for a in &s.assumptions {
                        if !assumptions.contains(a) {
                            assumptions.push(a.clone());
                        }
                    }
                }
            }
            let (b, a) = (before.monthly(), after.monthly());
            let cost = ResourceCost {
                address: rc.address.clone(),
                project: project.clone(),
                resource_type: rc.resource_type.clone(),
                action: rc.action,
                monthly_before: b,
                monthly_after: a,
                monthly_delta: a - b,
                priced: reasons.is_empty(),
                usage_based: before.usage_based() || after.usage_based(),
                free: before.free() && after.free(),
                region: after.region().or_else(|| before.region()),
                reasons,
                usage_pending,
                assumptions,
                lines_after: match after {
                    SideOrNothing::Side(s) => s.lines,
                    SideOrNothing::Nothing => Vec::new(),
                },
            };
            total.monthly_before += b;
            total.monthly_after += a;
            total.monthly_delta += a - b;
            total.unpriced += usize::from(!cost.priced);
            resources.push(cost);
        }
        project_totals.push(total);
    }
    let monthly_before: f64 = project_totals.iter().map(|p| p.monthly_before).sum();
    let monthly_after: f64 = project_totals.iter().map(|p| p.monthly_after).sum();
    let monthly_delta = monthly_after - monthly_before;
    let lower_bound = resources.iter().any(|r| !r.priced);

    let mut budgets = Vec::new();
    if let Some(limit) = ctx.phase_budget {
        budgets.push(check("phase", limit, monthly_delta, lower_bound));
        if ctx.prior_phases_monthly != 0.0 {
            budgets.push(check(
                "cumulative",
                limit,
                ctx.prior_phases_monthly + monthly_delta,
                lower_bound,
            ));
        }
    }
    if let Some(limit) = ctx.environment_budget {
        budgets.push(check("environment", limit, monthly_after, lower_bound));
    }
    let over_budget = budgets.iter().any(|b| b.over);
    let acknowledged_by = over_budget
        .then(|| {
            crate::gates::live_acknowledgement(
                &ctx.acknowledgements,
                ACK_ID,
                ctx.phase.as_deref(),
                ctx.today,
            )
        })
        .flatten();
    let verdict = match (over_budget, &acknowledged_by) {
        (false, _) => Verdict::Pass,
        (true, Some(_)) => Verdict::Warn,
        (true, None) => Verdict::AckRequired,
    };
    let (top_contributors, alternatives) = if over_budget {
        let mut by_delta: Vec<&ResourceCost> =
            resources.iter().filter(|r| r.monthly_delta > 0.0).collect();
        by_delta.sort_by(|a, b| b.monthly_delta.total_cmp(&a.monthly_delta));
        let top = by_delta.iter().take(5).map(|r| r.address.clone()).collect();
        let alts = by_delta
            .iter()
            .filter_map(|r| {
                let rc = projects
                    .iter()
                    .find(|(p, _)| *p == r.project)?
                    .1
                    .resources
                    .iter()
                    .find(|c| c.address == r.address)?;
                cheaper(r, &rc.after.value())
            })
            .collect();
        (top, alts)
    } else {
        (Vec::new(), Vec::new())
    };
    let unpriced_reasons: Vec<Unpriced> = resources
        .iter()
        .filter(|r| !r.priced)
        .map(|r| Unpriced {
            address: r.address.clone(),
            reasons: r.reasons.clone(),
        })
        .collect();
    CostReport {
        gate: "cost",
        verdict,
        currency: "USD",
        monthly_before,
        monthly_after,
        monthly_delta,
        lower_bound,
        unpriced: unpriced_reasons.iter().map(|u| u.address.clone()).collect(),
        unpriced_reasons,
        resources,
        projects: project_totals,
        budgets,
        over_budget,
        acknowledged_by,
        prior_phases_monthly: ctx.prior_phases_monthly,
        top_contributors,
        alternatives,
    }
}

impl CostReport {
    /// The report as JSON, amounts rounded half-up to cents.
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).expect("a cost report serializes");
        round_amounts(&mut v);
        v
    }
}

fn round_amounts(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                let money = k.starts_with("monthly") || k == "limit" || k == "amount";
                match val {
                    Value::Number(n) if money => {
                        if let Some(x) = n.as_f64() {
                            *val = serde_json::json!(cents(x));
                        }
                    }
                    other => round_amounts(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(round_amounts),
        _ => {}
    }
}

fn check(scope: &str, limit: f64, amount: f64, lower_bound: bool) -> BudgetCheck {
    BudgetCheck {
        scope: scope.to_string(),
        limit,
        amount,
        // Compared in cents so that a float hair over the limit is not "over".
        over: cents(amount) > cents(limit),
        lower_bound,
    }
}

/// The cheapest type of the same table with the same vCPU and memory.
fn cheaper(r: &ResourceCost, after: &Value) -> Option<Alternative> {
    let provider = Provider::of_type(&r.resource_type)?;
    let (table, attr) = match r.resource_type.as_str() {
        "aws_instance" => ("ec2_instance", "instance_type"),
        "aws_elasticache_cluster" | "aws_elasticache_replication_group" => {
            ("elasticache_node", "node_type")
        }
        "google_compute_instance" => ("compute_instance", "machine_type"),
        "azurerm_linux_virtual_machine" => ("vm_linux", "size"),
        "azurerm_windows_virtual_machine" => ("vm_windows", "size"),
        _ => return None,
    };
    let current = after.get(attr)?.as_str()?;
    let region = r.region.as_deref()?;
    let rates = book::book(provider).table(table)?;
    let now = rates.get(current)?;
    let now_price = now.in_region(region)?;
    let best = rates
        .iter()
        .filter(|(k, rate)| {
            k.as_str() != current
                && (table != "ec2_instance" || is_graviton(k) == is_graviton(current))
                && rate.vcpu == now.vcpu
                && rate
                    .memory_gib
                    .zip(now.memory_gib)
                    .is_some_and(|(a, b)| a >= b)
        })
        .filter_map(|(k, rate)| Some((k, rate.in_region(region)?)))
        .filter(|(_, p)| *p < now_price)
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    Some(Alternative {
        address: r.address.clone(),
        current: current.to_string(),
        suggested: best.0.clone(),
        monthly_saving: (now_price - best.1) * HOURS_PER_MONTH,
    })
}

/// Arm (Graviton) EC2 families end in `g` (`t4g`, `m6g`); moving to or from
/// them needs Arm builds of the software, so they are only suggested for
/// each other.
fn is_graviton(instance_type: &str) -> bool {
    instance_type
        .split('.')
        .next()
        .is_some_and(|family| family.ends_with('g') || family.contains("gd"))
}

#[derive(Clone)]
enum SideOrNothing {
    Side(price::SideCost),
    Nothing,
}

impl SideOrNothing {
    fn monthly(&self) -> f64 {
        match self {
            SideOrNothing::Side(s) => s.monthly,
            SideOrNothing::Nothing => 0.0,
        }
    }
    fn usage_based(&self) -> bool {
        matches!(self, SideOrNothing::Side(s) if s.usage_based)
    }
    fn free(&self) -> bool {
        match self {
            SideOrNothing::Side(s) => s.free,
            SideOrNothing::Nothing => true,
        }
    }
    fn region(&self) -> Option<String> {
        match self {
            SideOrNothing::Side(s) => s.region.clone(),
            SideOrNothing::Nothing => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_round_half_up() {
        assert_eq!(cents(7.592), 7.59);
        assert_eq!(cents(0.125), 0.13);
        assert_eq!(cents(30.368), 30.37);
        assert_eq!(cents(-0.125), -0.13);
        assert_eq!(cents(0.0104 * 730.0), 7.59);
    }

    fn ack(phase: Option<&str>, expires: Option<&str>) -> Acknowledgement {
        Acknowledgement {
            id: ACK_ID.into(),
            address: None,
            reason: "planned growth".into(),
            by: None,
            expires: expires.map(str::to_string),
            phase: phase.map(str::to_string),
        }
    }

    fn live_ack(
        acks: &[Acknowledgement],
        phase: Option<&str>,
        today: chrono::NaiveDate,
    ) -> Option<String> {
        crate::gates::live_acknowledgement(acks, ACK_ID, phase, today)
    }

    #[test]
    fn expired_or_other_phase_acknowledgement_does_not_count() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert!(live_ack(&[ack(None, Some("2026-11-22"))], Some("prod"), today).is_none());
        assert!(live_ack(&[ack(Some("dev"), None)], Some("prod"), today).is_none());
        assert!(live_ack(
            &[ack(Some("prod"), Some("2026-11-23"))],
            Some("prod"),
            today
        )
        .is_some());
    }
}
