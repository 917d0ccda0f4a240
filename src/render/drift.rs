//! The drift issue's body and closing comment, from a [`ProjectDrift`]:
//! essentials (a table of drifted resources, what an apply would do now)
//! and one collapsible attribute diff per resource, fitted into GitHub's
//! 65,536 characters by the budget the PR comment uses — diffs are shed
//! first, largest first, then table rows. Every string from the plan, the
//! config or the run reaches the template through [`escape`].

use serde::Serialize;

use super::budget::{fit, EssentialsLevel, Measure, Omitted, Part, Shape, ShedClass};
use super::context::{counts_line, rows, Row, Target};
use super::escape;
use super::templates::{Templates, DRIFT_ISSUE};
use crate::drift::ProjectDrift;
use crate::plan::Action;

/// Attribute paths named per table row before "and N more".
const ATTRIBUTES_PER_ROW: usize = 5;

/// When and where the drift run happened.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// RFC 3339, from the command's clock.
    pub checked_at: String,
    pub run_url: Option<String>,
    /// The gates' verdicts over what an apply would change now
    /// (`security pass, cost pass, blast pass`), when they ran.
    pub gates: Option<String>,
}

#[derive(Serialize)]
struct TableRow {
    address: String,
    what: &'static str,
    attributes: Vec<String>,
    more_attributes: usize,
}

#[derive(Serialize)]
struct EssentialsCtx<'a> {
    part: &'static str,
    project: &'a str,
    environment: &'a str,
    drifted_total: usize,
    rows: &'a [TableRow],
    more_rows: usize,
    pending_total: usize,
    pending_line: String,
    checked_at: &'a str,
    run_url: Option<String>,
    command: &'a str,
    gates: Option<String>,
}

#[derive(Serialize)]
struct ResourceCtx {
    part: &'static str,
    address: String,
    what: &'static str,
    rows: Vec<Row>,
}

#[derive(Serialize)]
struct NoteCtx<'a> {
    part: &'static str,
    omitted: usize,
    command: &'a str,
}

/// The issue title (a plain-text surface).
pub fn issue_title(d: &ProjectDrift) -> String {
    escape::plain(&format!("Drift: {} in {}", d.project, d.environment))
}

/// The command that shows everything, as the issue quotes it.
fn full_command(d: &ProjectDrift) -> String {
    escape::code_inline(&format!(
        "phasegate drift --env {} --project {} --format json",
        d.environment, d.project
    ))
}

/// The issue body after the marker line, within `budget` characters.
pub fn issue_body(d: &ProjectDrift, run: &RunInfo, budget: usize) -> String {
    let t = Templates::embedded();
    let project = escape::code_inline(&d.project);
    let environment = escape::code_inline(&d.environment);
    let command = full_command(d);
    let checked_at = escape::inline(&run.checked_at);
    let run_url = run.run_url.as_deref().and_then(escape::link_target);
    let table: Vec<TableRow> = d
        .drifted
        .iter()
        .map(|r| TableRow {
            address: escape::code_inline(&r.address),
            what: r.what,
            attributes: r
                .attributes
                .iter()
                .take(ATTRIBUTES_PER_ROW)
                .map(|a| escape::code_inline(a))
                .collect(),
            more_attributes: r.attributes.len().saturating_sub(ATTRIBUTES_PER_ROW),
        })
        .collect();
    let pending_line = escape::inline(&counts_line(&d.pending_counts));
    let essentials = |level: EssentialsLevel| {
        let shown = level.destroy_limit.unwrap_or(table.len()).min(table.len());
        t.render(
            DRIFT_ISSUE,
            &EssentialsCtx {
                part: "essentials",
                project: &project,
                environment: &environment,
                drifted_total: d.drifted.len(),
                rows: &table[..shown],
                more_rows: table.len() - shown,
                pending_total: d.pending.len(),
                pending_line: pending_line.clone(),
                checked_at: &checked_at,
                run_url: run_url.clone(),
                command: &command,
                gates: run.gates.as_deref().map(escape::inline),
            },
        )
    };
    let parts: Vec<Part> = d
        .refresh
        .drift
        .iter()
        .filter(|rc| !matches!(rc.action, Action::NoOp | Action::Read))
        .map(|rc| Part {
            class: ShedClass::Drift,
            text: t.render(
                DRIFT_ISSUE,
                &ResourceCtx {
                    part: "resource",
                    address: escape::code_inline(&rc.address),
                    what: if rc.action == Action::Delete {
                        "deleted"
                    } else {
                        "changed"
                    },
                    rows: rows(&rc.diff, Target::Comment),
                },
            ),
            label: None,
        })
        .collect();
    let note = |omitted: &Omitted| {
        t.render(
            DRIFT_ISSUE,
            &NoteCtx {
                part: "note",
                omitted: omitted.count(ShedClass::Drift),
                command: &command,
            },
        )
    };
    let minimal = || {
        format!(
            "## Drift: {project} in {environment}\n\n{} resources changed outside Terraform; run {command} for the list.\n",
            d.drifted.len()
        )
    };
    let shape = Shape {
        measure: Measure::Chars,
        budget,
        marker: false,
        destroy_total: table.len(),
        essentials: &essentials,
        note: &note,
        minimal: &minimal,
    };
    // Only the renderer writes markers; nothing from the plan may forge one.
    escape::defuse_markers(&fit(&parts, &shape))
}

/// The comment that closes the issue once the drift is gone.
pub fn closed_comment(project: &str, environment: &str, run: &RunInfo) -> String {
    #[derive(Serialize)]
    struct Ctx {
        part: &'static str,
        project: String,
        environment: String,
        checked_at: String,
        run_url: Option<String>,
    }
    let text = Templates::embedded().render(
        DRIFT_ISSUE,
        &Ctx {
            part: "closed",
            project: escape::code_inline(project),
            environment: escape::code_inline(environment),
            checked_at: escape::inline(&run.checked_at),
            run_url: run.run_url.as_deref().and_then(escape::link_target),
        },
    );
    escape::defuse_markers(text.trim())
}
