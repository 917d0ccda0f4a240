//! The blast-radius gate's section of the comment and summary, rendered
//! from the gate's report. Addresses and allow/acknowledgement reasons come
//! from plans and the change plan, so each passes through
//! [`escape`](super::escape).

use super::escape::{code_inline, inline};
use super::Section;
use crate::gates::blast::{level_name, BlastReport, ACK_ID};
use crate::gates::Verdict;

/// The blast section (key `blast`).
pub fn section(report: &BlastReport) -> Section {
    let mut e = format!(
        "Blast radius: **{}** ({}) in {}{}.\n",
        level_name(report.actual),
        match report.declared {
            Some(d) => format!("declared {}", level_name(d)),
            None => "none declared: no change plan".to_string(),
        },
        code_inline(&report.environment),
        if report.protected { ", protected" } else { "" }
    );
    if !report.guarded.is_empty() {
        e.push_str(
            "\n**Blocked: stateful resources would be destroyed in a protected environment.**\n",
        );
        for a in &report.guarded {
            e.push_str(&format!("- {}\n", code_inline(a)));
        }
        e.push_str(
            "\nTo go on, name each one under `allow_destroy` in the change plan, with a reason.\n",
        );
    }
    if !report.allowed.is_empty() {
        e.push_str("\nDestroys allowed by `allow_destroy`:\n");
        for g in report
            .guard_details
            .iter()
            .filter(|g| g.allowed_by.is_some())
        {
            e.push_str(&format!(
                "- {}: {}\n",
                code_inline(&g.address),
                inline(g.allowed_by.as_deref().unwrap_or_default())
            ));
        }
    }
    match (report.verdict, &report.acknowledged_by) {
        (Verdict::AckRequired, _) => e.push_str(&format!(
            "\nLarger than declared: raise `blast_radius` or add an acknowledgement with id `{ACK_ID}`.\n"
        )),
        (_, Some(reason)) => e.push_str(&format!(
            "\nLarger than declared, acknowledged (`{ACK_ID}`): {}\n",
            inline(reason)
        )),
        _ => {}
    }
    let mut d = String::from("<details><summary>Why this level</summary>\n\n");
    for r in &report.reasons {
        // Reasons quote addresses in backticks; escape everything, then
        // restore the code spans as <code> elements.
        d.push_str(&format!("- {}\n", reason_md(r)));
    }
    d.push_str("\n</details>\n");
    Section {
        key: "blast".into(),
        title: "Blast radius".into(),
        badge: Some(report.verdict),
        essentials_md: e,
        details_md: d,
    }
}

/// Renders a reason whose backtick-quoted parts are untrusted addresses.
fn reason_md(reason: &str) -> String {
    reason
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                code_inline(part)
            } else {
                inline(part)
            }
        })
        .collect()
}
