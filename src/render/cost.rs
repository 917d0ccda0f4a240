//! The cost gate's block in the PR comment and job summary: a table per
//! project and the budget status up front, the per-resource breakdown in the
//! details. Rendered here from the gate's report; addresses, reasons and
//! acknowledgement text pass through [`escape`](super::escape).

use super::escape::{code_inline, inline};
use super::Section;
use crate::gates::cost::{cents, CostReport, ACK_ID};
use crate::gates::Verdict;
use crate::plan::Action;

/// `$1,234.56`, rounded half-up to cents.
pub fn money(x: f64) -> String {
    let c = cents(x);
    let sign = if c < 0.0 { "-" } else { "" };
    let whole = c.abs().trunc() as u64;
    let frac = ((c.abs() - c.abs().trunc()) * 100.0).round() as u64;
    let grouped = super::context::thousands(whole as usize);
    format!("{sign}${grouped}.{frac:02}")
}

fn signed(x: f64) -> String {
    if cents(x) > 0.0 {
        format!("+{}", money(x))
    } else {
        money(x)
    }
}

fn percent(before: f64, delta: f64) -> String {
    if cents(before) == 0.0 {
        if cents(delta) == 0.0 {
            "0%".into()
        } else {
            "new".into()
        }
    } else {
        format!("{:+.1}%", delta / before * 100.0)
    }
}

/// The cost section (key `cost`).
pub fn section(report: &CostReport) -> Section {
    let mut e = String::new();
    e.push_str("| Project | Monthly before | Monthly after | Delta | Change |\n|---|---:|---:|---:|---:|\n");
    for p in &report.projects {
        e.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            code_inline(&p.project),
            money(p.monthly_before),
            money(p.monthly_after),
            signed(p.monthly_delta),
            percent(p.monthly_before, p.monthly_delta)
        ));
    }
    if report.projects.len() > 1 {
        e.push_str(&format!(
            "| **Total** | {} | {} | {} | {} |\n",
            money(report.monthly_before),
            money(report.monthly_after),
            signed(report.monthly_delta),
            percent(report.monthly_before, report.monthly_delta)
        ));
    }
    e.push('\n');
    if report.budgets.is_empty() {
        e.push_str("No budget is set.\n");
    }
    for b in &report.budgets {
        let (what, budget) = match b.scope.as_str() {
            "phase" => ("This phase adds", "the phase budget"),
            "cumulative" => ("With earlier phases the change adds", "the phase budget"),
            _ => ("The environment's projects cost", "the environment budget"),
        };
        let status = match (b.over, b.lower_bound) {
            (true, _) => "**over budget**",
            (false, false) => "within budget",
            (false, true) => "within budget so far: the total is a lower bound",
        };
        let at_least = if b.lower_bound { "at least " } else { "" };
        e.push_str(&format!(
            "- {what} {at_least}{}/month against {budget} of {}: {status}.\n",
            money(b.amount),
            money(b.limit)
        ));
    }
    match (report.verdict, &report.acknowledged_by) {
        (Verdict::Warn, Some(reason)) => e.push_str(&format!(
            "- Over budget, acknowledged (`{ACK_ID}`): {}\n",
            inline(reason)
        )),
        (Verdict::AckRequired, _) => e.push_str(&format!(
            "- To go on, add an acknowledgement with id `{ACK_ID}` to the change plan.\n",
        )),
        _ => {}
    }
    if !report.unpriced.is_empty() {
        e.push_str(&format!(
            "- {} resource(s) not fully priced: the totals are a lower bound.\n",
            report.unpriced.len()
        ));
    }

    let mut d = String::new();
    let shown: Vec<_> = report
        .resources
        .iter()
        .filter(|r| !(r.free && r.priced))
        .collect();
    if !shown.is_empty() {
        d.push_str("<details><summary>Cost per resource</summary>\n\n");
        d.push_str("| Resource | Before | After | Delta | Priced |\n|---|---:|---:|---:|---|\n");
        for r in &shown {
            // Usage without usage data is never shown as a dollar amount of
            // zero; a side that does not exist (before a create) is a dash.
            let amount = |exists: bool, x: f64, text: String| {
                let zero = cents(x) == 0.0;
                match (exists, r.usage_pending, r.priced, zero) {
                    (false, ..) => "—".to_string(),
                    (true, true, _, true) => "usage-based".to_string(),
                    (true, true, _, false) => format!("{text} + usage"),
                    (true, false, false, true) => "unpriced".to_string(),
                    _ => text,
                }
            };
            let had_before = !matches!(r.action, Action::Create | Action::CreateThenForget);
            let has_after = !matches!(r.action, Action::Delete | Action::Forget);
            let priced = if r.priced {
                "yes".to_string()
            } else if r.usage_pending {
                "partly (usage)".to_string()
            } else {
                "partly".to_string()
            };
            let priced = if r.assumptions.is_empty() {
                priced
            } else {
                format!("{priced}; assumed: {}", inline(&r.assumptions.join("; ")))
            };
            d.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                code_inline(&r.address),
                amount(had_before, r.monthly_before, money(r.monthly_before)),
                amount(has_after, r.monthly_after, money(r.monthly_after)),
                amount(true, r.monthly_delta, signed(r.monthly_delta)),
                priced
            ));
        }
        d.push_str("\n</details>\n\n");
    }
    if !report.unpriced_reasons.is_empty() {
        d.push_str("<details><summary>Not priced or depends on usage</summary>\n\n");
        for u in &report.unpriced_reasons {
            d.push_str(&format!(
                "- {}: {}\n",
                code_inline(&u.address),
                u.reasons
                    .iter()
                    .map(|r| inline(r))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        d.push_str("\nGive usage with a usage file (`resources:` by address, `types:` by type).\n\n</details>\n\n");
    }
    if !report.top_contributors.is_empty() {
        d.push_str("**Top contributors**\n\n");
        for a in &report.top_contributors {
            if let Some(r) = report.resources.iter().find(|r| &r.address == a) {
                d.push_str(&format!(
                    "1. {}: {}/month\n",
                    code_inline(a),
                    signed(r.monthly_delta)
                ));
            }
        }
        d.push('\n');
    }
    if !report.alternatives.is_empty() {
        d.push_str("**Cheaper alternatives** (same vCPU, at least the memory)\n\n");
        for a in &report.alternatives {
            d.push_str(&format!(
                "- {}: {} instead of {} saves {}/month\n",
                code_inline(&a.address),
                code_inline(&a.suggested),
                code_inline(&a.current),
                money(a.monthly_saving)
            ));
        }
        d.push('\n');
    }
    d.push_str("Public on-demand list prices, 730 hours a month; discounts, taxes and free tiers are not applied.\n");
    Section {
        key: "cost".into(),
        title: "Cost".into(),
        badge: Some(report.verdict),
        essentials_md: e,
        details_md: d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_groups_thousands_and_rounds_half_up() {
        assert_eq!(money(1234.565), "$1,234.57");
        assert_eq!(money(7.592), "$7.59");
        assert_eq!(money(-3.0), "-$3.00");
        assert_eq!(signed(0.004), "$0.00");
    }
}
