//! Renders a phase for people: the PR comment block and the job summary,
//! from embedded (and overridable) templates, within GitHub's size limits,
//! with every untrusted value rendered inertly.
//!
//! # Layout of a phase block
//! ```text
//! ### Phase 2: staging → `staging`           ┐
//! **Change `CHG-1`**: title · workflow run   │ essentials: never shed
//! #### Project `net`                         │ (cut down only when even they
//! Plan: 1 to add, 0 to change, 1 to destroy. │  do not fit; see `budget::fit`)
//! > [!CAUTION] every destroyed/replaced addr │
//! Plan digest: `…`, and what approving means │
//! #### Gates and checks: badge + essentials  ┘
//! <!-- phasegate:details -->
//! note on what was shed (only when something was)
//! per project: heading, resources by action, attribute diffs, drift, outputs
//! per section: details
//! ```
//! Details are shed, when they must be, in [`budget::ShedClass`] order
//! (attribute diffs, resource lists, drift, outputs, section details,
//! project headings), the largest first within a class; shed parts that
//! still fit in the room a later shed left are then put back. If the
//! essentials alone are too long, the sections' `essentials_md` go first,
//! then the destroy warning is cut to as many addresses as fit with a line
//! saying how many more are in the job summary; the counts and digests stay.

pub mod applied;
pub mod approval;
pub mod blast;
pub mod budget;
mod context;
pub mod cost;
pub mod drift;
pub mod escape;
pub mod followup;
pub mod health;
pub mod inputs;
pub mod operations;
pub mod policy;
pub mod progress;
pub mod review;
pub mod security;
pub mod templates;
pub mod verdict;
pub mod verify;

use std::path::Path;
use std::sync::OnceLock;

use serde::Serialize;

use crate::gates::Verdict;
use crate::plan::group::ChangeGroup;
use crate::plan::ChangeSet;
pub use budget::DETAILS_MARKER;
use budget::{EssentialsLevel, Measure, Part, Shape, ShedClass};
pub use context::{action_phrase, counts_line, plan_line, NO_CHANGES, PLAN_FAILED};
use context::{
    group_label, DiffCtx, DriftCtx, GroupDetailsCtx, NoteCtx, OutputsCtx, Prepared, ProjectCtx,
    ResourceListCtx, SectionCtx, Target,
};
pub use templates::{TemplateError, Templates};

pub use crate::surface::{split_block, COMMENT_BUDGET, SUMMARY_BUDGET};

/// Everything one phase shows: the change, the plans of its projects, and
/// sections produced elsewhere (gates, approvals, apply and verify results).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseView {
    pub change_id: String,
    pub change_title: Option<String>,
    pub phase_name: String,
    /// 0-based position of the phase in the change plan; shown 1-based.
    pub phase_index: usize,
    pub environment: String,
    pub projects: Vec<ProjectView>,
    pub sections: Vec<Section>,
    /// The workflow run, linked from the header and the shed note.
    pub run_url: Option<String>,
}

/// One project's plan within a phase. The change set is shared with the
/// gates and the runner that read it (`ProjectPlan::changes`), never copied
/// for the view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectView {
    pub name: String,
    #[serde(serialize_with = "shared_changes")]
    pub changes: std::sync::Arc<ChangeSet>,
}

fn shared_changes<S: serde::Serializer>(
    changes: &std::sync::Arc<ChangeSet>,
    s: S,
) -> Result<S::Ok, S::Error> {
    changes.as_ref().serialize(s)
}

/// Content produced elsewhere, as already-safe markdown: shown with a badge,
/// its essentials always, its details as room allows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    /// Stable identifier, e.g. `security`, `cost`, `blast`, `approval`.
    pub key: String,
    pub title: String,
    pub badge: Option<Verdict>,
    pub essentials_md: String,
    pub details_md: String,
}

/// Renders phase views with one set of templates.
pub struct Renderer {
    templates: Templates,
}

impl Renderer {
    /// A renderer over the embedded templates.
    pub fn embedded() -> Renderer {
        Renderer {
            templates: Templates::embedded(),
        }
    }

    /// A renderer whose templates are overridden by same-named files in `dir`.
    pub fn with_overrides(dir: &Path) -> Result<Renderer, TemplateError> {
        Ok(Renderer {
            templates: Templates::with_overrides(dir)?,
        })
    }

    /// The block for one phase, at most `budget_chars` characters: the
    /// essentials, a line [`DETAILS_MARKER`], then as many details as fit.
    pub fn phase_block(&self, view: &PhaseView, budget_chars: usize) -> String {
        self.render(view, Target::Comment, Measure::Chars, budget_chars, true)
    }

    /// A standalone comment for one phase (local mode's `comment.md`).
    pub fn comment(&self, view: &PhaseView) -> String {
        self.phase_block(view, COMMENT_BUDGET)
    }

    /// The job summary: all details, within [`SUMMARY_BUDGET`] bytes.
    pub fn summary(&self, view: &PhaseView) -> String {
        self.render(view, Target::Summary, Measure::Bytes, SUMMARY_BUDGET, false)
    }

    fn render(
        &self,
        view: &PhaseView,
        target: Target,
        measure: Measure,
        budget: usize,
        marker: bool,
    ) -> String {
        // One grouping per change set, shared by every surface.
        let groups: Vec<&[ChangeGroup]> =
            view.projects.iter().map(|p| p.changes.groups()).collect();
        let prepared = Prepared::new(view, &groups);
        let parts = self.detail_parts(view, &groups, target);
        let essentials = |level: EssentialsLevel| {
            let ctx = prepared.essentials(
                target,
                level.section_essentials,
                level.destroy_limit,
                level.compact_groups,
            );
            escape::defuse_markers(&self.templates.render(templates::PHASE_ESSENTIALS, &ctx))
        };
        let note = |omitted: &budget::Omitted| {
            let ctx = NoteCtx::new(prepared.header(), target, omitted);
            escape::defuse_markers(&self.templates.render(templates::SHED_NOTE, &ctx))
        };
        let minimal = || prepared.minimal(marker.then_some(DETAILS_MARKER));
        budget::fit(
            &parts,
            &Shape {
                measure,
                budget,
                marker,
                destroy_total: prepared.destroy_total(),
                essentials: &essentials,
                note: &note,
                minimal: &minimal,
            },
        )
    }

    /// Every detail, rendered, in display order.
    fn detail_parts(
        &self,
        view: &PhaseView,
        groups: &[&[ChangeGroup]],
        target: Target,
    ) -> Vec<Part> {
        let t = &self.templates;
        let mut parts = Vec::new();
        let mut push_labelled = |class: ShedClass, text: String, label: Option<String>| {
            parts.push(Part {
                class,
                text: defused(text),
                label,
            })
        };
        for (project, change_groups) in view.projects.iter().zip(groups) {
            let changes = &project.changes;
            let pctx = ProjectCtx::new(project, target);
            let list = ResourceListCtx::new(&pctx, changes, change_groups);
            let drift = DriftCtx::new(&pctx, changes);
            let outputs = OutputsCtx::new(&pctx, changes);
            if list.is_none() && drift.is_none() && outputs.is_none() {
                continue;
            }
            push_labelled(
                ShedClass::ProjectHeading,
                t.render(templates::PROJECT_HEADING, &pctx),
                None,
            );
            if let Some(list) = list {
                push_labelled(
                    ShedClass::ResourceList,
                    t.render(templates::RESOURCE_LIST, &list),
                    None,
                );
            }
            // One part per change group, so shedding takes whole groups.
            for group in change_groups.iter() {
                if let Some(ctx) = GroupDetailsCtx::new(&pctx, group, changes) {
                    push_labelled(
                        ShedClass::AttributeDiff,
                        t.render(templates::GROUP_DETAILS, &ctx),
                        Some(group_label(group)),
                    );
                } else if let Some(diff) = DiffCtx::new(&pctx, &changes.resources[group.indexes[0]])
                {
                    push_labelled(
                        ShedClass::AttributeDiff,
                        t.render(templates::RESOURCE_DIFF, &diff),
                        None,
                    );
                }
            }
            if let Some(drift) = drift {
                push_labelled(ShedClass::Drift, t.render(templates::DRIFT, &drift), None);
            }
            if let Some(outputs) = outputs {
                push_labelled(
                    ShedClass::Outputs,
                    t.render(templates::OUTPUTS, &outputs),
                    None,
                );
            }
        }
        for section in &view.sections {
            if let Some(ctx) = SectionCtx::new(section, target) {
                push_labelled(
                    ShedClass::SectionDetails,
                    t.render(templates::SECTION_DETAILS, &ctx),
                    None,
                );
            }
        }
        parts
    }
}

/// [`escape::defuse_markers`] of a rendered part, which is kept (not
/// copied) when there is nothing to defuse: the detail parts of a large plan
/// are megabytes. Its spare capacity is given back, since every part is held
/// until the budget decides which are kept.
fn defused(mut text: String) -> String {
    if text.contains("<!--") {
        return escape::defuse_markers(&text);
    }
    text.shrink_to_fit();
    text
}

fn default_renderer() -> &'static Renderer {
    static RENDERER: OnceLock<Renderer> = OnceLock::new();
    RENDERER.get_or_init(Renderer::embedded)
}

/// [`Renderer::phase_block`] with the embedded templates.
pub fn phase_block(view: &PhaseView, budget_chars: usize) -> String {
    default_renderer().phase_block(view, budget_chars)
}

/// [`Renderer::comment`] with the embedded templates.
pub fn comment(view: &PhaseView) -> String {
    default_renderer().comment(view)
}

/// [`Renderer::summary`] with the embedded templates.
pub fn summary(view: &PhaseView) -> String {
    default_renderer().summary(view)
}
