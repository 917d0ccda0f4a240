//! Turns the view model into template contexts: every untrusted string is
//! escaped here, once, so templates (including a repository's overrides)
//! only ever place safe markdown. Also the wording that must match
//! Terraform's: the counts line and the action phrases.

use serde::Serialize;

use super::escape;
use super::{PhaseView, ProjectView, Section};
use crate::gates::Verdict;
use crate::plan::group::{is_listed, ChangeGroup, VaryingAttr};
use crate::plan::{
    Action, AttrDiff, ChangeSet, Counts, DiffValue, Mode, OutputChange, ResourceChange,
    SENSITIVE_MASK, UNKNOWN_MARK,
};

/// Which surface is being rendered; templates word a few things differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Comment,
    Summary,
}

impl Target {
    /// The most characters of one attribute value shown before it is cut.
    /// A comment is for reading; the summary is the reference.
    fn value_cap(self) -> usize {
        match self {
            Target::Comment => 300,
            Target::Summary => 4_000,
        }
    }
}

/// Terraform's summary line for `counts`, in its own words: `Plan: 1 to
/// import, 2 to add, 0 to change, 1 to destroy, 1 to forget.` with the
/// import and forget clauses only when nonzero. Terraform does not count
/// moves in this line (it lists them per resource); callers say so apart.
pub fn counts_line(counts: &Counts) -> String {
    let mut line = String::from("Plan: ");
    if counts.import > 0 {
        line.push_str(&format!("{} to import, ", counts.import));
    }
    line.push_str(&format!(
        "{} to add, {} to change, {} to destroy",
        counts.add, counts.change, counts.destroy
    ));
    if counts.forget > 0 {
        line.push_str(&format!(", {} to forget", counts.forget));
    }
    line.push('.');
    line
}

/// Terraform's line when a plan changes nothing.
pub const NO_CHANGES: &str = "No changes. Your infrastructure matches the configuration.";
/// Terraform's line when only root module outputs change.
pub const OUTPUTS_ONLY: &str = "Changes to Outputs only: you can apply this plan to save these new output values to the Terraform state, without changing any real infrastructure.";

/// The line of a plan Terraform could not finish. It replaces the counts (an
/// errored plan never says "No changes"), so it is the first thing said.
pub const PLAN_FAILED: &str = "⛔ **Plan failed: Terraform reported errors while planning.** This plan is partial and cannot be applied; it does not show what applying would do.";

/// The one line that says what a plan does, as Terraform would say it; for
/// an errored plan, that it failed.
pub fn plan_line(changes: &ChangeSet) -> String {
    if changes.plan_failed() {
        return PLAN_FAILED.to_owned();
    }
    let counts = changes.counts();
    let nothing = counts.add + counts.change + counts.destroy + counts.import + counts.forget == 0;
    if !nothing {
        counts_line(&counts)
    } else if changes.outputs.iter().any(|o| o.action != Action::NoOp) {
        OUTPUTS_ONLY.to_owned()
    } else if counts.moved > 0 {
        counts_line(&counts)
    } else {
        NO_CHANGES.to_owned()
    }
}

/// Terraform's phrase for what happens to a resource, e.g. `will be created`.
pub fn action_phrase(rc: &ResourceChange) -> String {
    let phrase = match rc.action {
        Action::Create => "will be created",
        Action::Update => "will be updated in-place",
        Action::Delete => "will be destroyed",
        Action::ReplaceDestroyFirst | Action::ReplaceCreateFirst => {
            if rc.action_reason.as_deref() == Some("replace_because_tainted") {
                "is tainted, so must be replaced"
            } else {
                "must be replaced"
            }
        }
        Action::Read => "will be read during apply",
        Action::Forget => "will be removed from the state but not destroyed",
        Action::CreateThenForget => "will be created, then removed from the state",
        Action::NoOp if rc.is_import() => "will be imported",
        Action::NoOp if rc.is_move() => "has moved",
        Action::NoOp => "has no changes",
    };
    if let Some(key) = &rc.deposed {
        format!("(deposed object {}) {phrase}", escape::code_inline(key))
    } else {
        phrase.to_owned()
    }
}

/// Terraform's marker symbol for an action.
fn action_symbol(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Update => "~",
        Action::Delete => "-",
        Action::ReplaceDestroyFirst => "-/+",
        Action::ReplaceCreateFirst => "+/-",
        Action::Read => "<=",
        Action::Forget => ".",
        Action::CreateThenForget => "+/.",
        Action::NoOp => " ",
    }
}

/// The badge text for a verdict.
fn badge(verdict: Verdict) -> &'static str {
    super::verdict::words(verdict).badge
}

/// One attribute value as a table cell: JSON as Terraform shows it (strings
/// quoted, so multi-line text stays on one line), masked values by their
/// mark, cut at the target's cap.
fn value_cell(value: &DiffValue, target: Target) -> String {
    capped_value(value, target.value_cap())
}

/// [`value_cell`] cut at `cap` characters.
fn capped_value(value: &DiffValue, cap: usize) -> String {
    let text = match value {
        DiffValue::Absent => return "<i>(none)</i>".to_owned(),
        DiffValue::Sensitive => return format!("<i>{SENSITIVE_MASK}</i>"),
        DiffValue::Unknown => return format!("<i>{UNKNOWN_MARK}</i>"),
        DiffValue::Known(v) => v.text().to_owned(),
    };
    match text.char_indices().nth(cap) {
        None => escape::code_inline(&text),
        Some((cut, _)) => {
            let rest = text[cut..].chars().count();
            format!(
                "{} <i>(… {rest} more characters)</i>",
                escape::code_inline(&text[..cut])
            )
        }
    }
}

#[derive(Serialize)]
pub struct Header {
    change_id: String,
    change_title: Option<String>,
    phase_name: String,
    /// 1-based, for people.
    phase_number: usize,
    environment: String,
    run_url: Option<String>,
}

#[derive(Serialize, Clone)]
pub struct DestroyEntry {
    address: String,
    what: String,
}

#[derive(Serialize)]
pub struct ProjectEssentials {
    name: String,
    counts_line: String,
    incomplete: Option<&'static str>,
    moved: usize,
    destroy_total: usize,
    destroys: Vec<DestroyEntry>,
    destroys_more: usize,
    groups: Vec<GroupRow>,
    digest: String,
}

#[derive(Serialize)]
pub struct SectionEssentials {
    title: String,
    badge: Option<&'static str>,
    essentials_md: String,
}

#[derive(Serialize)]
pub struct EssentialsCtx<'a> {
    target: Target,
    header: &'a Header,
    projects: Vec<ProjectEssentials>,
    sections: Vec<SectionEssentials>,
}

/// Everything the essentials need, escaped once, so that rendering them at
/// several levels of cut-down costs only the template run.
pub struct Prepared {
    header: Header,
    projects: Vec<PreparedProject>,
    sections: Vec<(String, Option<&'static str>, String)>,
}

struct PreparedProject {
    name: String,
    counts_line: String,
    incomplete: Option<&'static str>,
    moved: usize,
    destroys: Vec<DestroyEntry>,
    groups: Vec<GroupRow>,
    digest: String,
}

impl Prepared {
    /// `groups` holds each project's change groups, in project order.
    pub fn new(view: &PhaseView, groups: &[&[ChangeGroup]]) -> Prepared {
        let run_url = view.run_url.as_deref().and_then(escape::link_target);
        Prepared {
            header: Header {
                change_id: escape::inline(&view.change_id),
                change_title: view.change_title.as_deref().map(escape::inline),
                phase_name: escape::inline(&view.phase_name),
                phase_number: view.phase_index + 1,
                environment: escape::inline(&view.environment),
                run_url,
            },
            projects: view
                .projects
                .iter()
                .zip(groups)
                .map(|(p, g)| prepare_project(p, g))
                .collect(),
            sections: view
                .sections
                .iter()
                .map(|s| {
                    (
                        escape::inline(&s.title),
                        s.badge.map(badge),
                        escape::defuse_markers(s.essentials_md.trim()),
                    )
                })
                .collect(),
        }
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The number of destroy/replace addresses across all projects.
    pub fn destroy_total(&self) -> usize {
        self.projects.iter().map(|p| p.destroys.len()).sum()
    }

    /// The essentials context, with at most `destroy_limit` addresses shown
    /// (counted across projects in order) and the sections' own essentials
    /// only when `section_essentials`; group rows without values when
    /// `compact_groups`.
    pub fn essentials(
        &self,
        target: Target,
        section_essentials: bool,
        destroy_limit: Option<usize>,
        compact_groups: bool,
    ) -> EssentialsCtx<'_> {
        let mut left = destroy_limit.unwrap_or(usize::MAX);
        let projects = self
            .projects
            .iter()
            .map(|p| {
                let shown = p.destroys.len().min(left);
                left -= shown;
                ProjectEssentials {
                    name: p.name.clone(),
                    counts_line: p.counts_line.clone(),
                    incomplete: p.incomplete,
                    moved: p.moved,
                    destroy_total: p.destroys.len(),
                    destroys: p.destroys[..shown].to_vec(),
                    destroys_more: p.destroys.len() - shown,
                    groups: p
                        .groups
                        .iter()
                        .map(|g| {
                            let mut row = g.clone();
                            if compact_groups {
                                row.changes = g.compact.clone();
                            }
                            row
                        })
                        .collect(),
                    digest: p.digest.clone(),
                }
            })
            .collect();
        let sections = self
            .sections
            .iter()
            .map(|(title, badge, md)| SectionEssentials {
                title: title.clone(),
                badge: *badge,
                essentials_md: if section_essentials {
                    md.clone()
                } else {
                    String::new()
                },
            })
            .collect();
        EssentialsCtx {
            target,
            header: &self.header,
            projects,
            sections,
        }
    }

    /// The last-resort essentials, written without templates: the header,
    /// then per project its counts and digest.
    pub fn minimal(&self, marker: Option<&str>) -> String {
        let h = &self.header;
        let mut out = format!(
            "### Phase {}: {} → {}\n\n",
            h.phase_number, h.phase_name, h.environment
        );
        for p in &self.projects {
            out.push_str(&format!(
                "{}: {} Digest <code>{}</code>\n\n",
                p.name, p.counts_line, p.digest
            ));
        }
        if let Some(marker) = marker {
            out.push_str(marker);
            out.push('\n');
        }
        out
    }
}

/// Why a plan cannot be taken at face value, when Terraform says so.
fn incompleteness(changes: &ChangeSet) -> Option<&'static str> {
    if changes.plan_failed() {
        Some(
            "Fix the errors shown in the plan job's log and plan again: the changes below are only what Terraform planned before it failed, and the phase cannot be applied.",
        )
    } else if changes.complete == Some(false) {
        Some("This plan is incomplete (some changes are deferred): applying it will not converge, a further plan will follow.")
    } else {
        // `applyable: false` is not flagged: Terraform also sets it for a
        // plan with nothing to do.
        None
    }
}

fn prepare_project(p: &ProjectView, groups: &[ChangeGroup]) -> PreparedProject {
    let changes = &p.changes;
    // By address, so the warning reads the same whatever the plan's order.
    let mut destroyed: Vec<&ResourceChange> = changes.destroyed().collect();
    destroyed.sort_by(|a, b| (&a.address, &a.deposed).cmp(&(&b.address, &b.deposed)));
    let destroys = destroyed
        .into_iter()
        .map(|rc| DestroyEntry {
            address: escape::code_inline(&rc.address),
            what: action_phrase(rc),
        })
        .collect();
    PreparedProject {
        name: escape::inline(&p.name),
        counts_line: plan_line(changes),
        incomplete: incompleteness(changes),
        moved: changes.counts().moved,
        destroys,
        groups: groups
            .iter()
            .filter(|g| g.count() > 1)
            .map(|g| GroupRow::new(g, changes))
            .collect(),
        digest: escape::inline(&changes.digest),
    }
}

/// `5,000`: counts a reviewer reads at a glance.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The most attributes the group table names in one row; the group's
/// details have them all.
const ROW_ATTRS: usize = 6;
/// The most characters of a value in the group table.
const ROW_VALUE_CAP: usize = 60;

/// One row of a project's group table: a group of two or more changes.
#[derive(Serialize, Clone)]
pub struct GroupRow {
    count: String,
    resource_type: String,
    what: String,
    module: String,
    pattern: String,
    changes: String,
    /// `changes` naming the attributes only, for tight budgets.
    #[serde(skip)]
    compact: String,
}

/// Terraform's phrase for a group's action, from its first member.
fn group_phrase(group: &ChangeGroup, changes: &ChangeSet) -> String {
    group
        .indexes
        .first()
        .map(|&i| action_phrase(&changes.resources[i]))
        .unwrap_or_default()
}

fn shared_text(d: &AttrDiff, cap: usize) -> String {
    format!(
        "{} {} → {}",
        escape::code_inline(&d.path),
        capped_value(&d.before, cap),
        capped_value(&d.after, cap)
    )
}

fn varying_text(v: &VaryingAttr) -> String {
    format!(
        "{} changed ({} distinct values)",
        escape::code_inline(&v.path),
        thousands(v.distinct)
    )
}

impl GroupRow {
    fn new(group: &ChangeGroup, changes: &ChangeSet) -> GroupRow {
        let cut = |mut parts: Vec<String>| {
            if parts.len() > ROW_ATTRS {
                let more = parts.len() - ROW_ATTRS;
                parts.truncate(ROW_ATTRS);
                parts.push(format!(
                    "and {more} more {}",
                    if more == 1 { "attribute" } else { "attributes" }
                ));
            }
            if parts.is_empty() {
                "no attribute changes".to_owned()
            } else {
                parts.join("; ")
            }
        };
        let changes_text = cut(group
            .shared
            .iter()
            .map(|d| shared_text(d, ROW_VALUE_CAP))
            .chain(group.varying.iter().map(varying_text))
            .collect());
        let compact = cut(group
            .shared
            .iter()
            .map(|d| escape::code_inline(&d.path))
            .chain(group.varying.iter().map(varying_text))
            .collect());
        let mut notes = Vec::new();
        if group.importing {
            notes.push("imported");
        }
        if group.moving {
            notes.push("moved");
        }
        if group.mode == Mode::Data {
            notes.push("data source");
        }
        let mut what = group_phrase(group, changes);
        for n in notes {
            what.push_str(" · ");
            what.push_str(n);
        }
        GroupRow {
            count: thousands(group.count()),
            resource_type: escape::code_inline(&group.resource_type),
            what,
            module: group
                .module_pattern
                .as_deref()
                .map_or_else(|| "(root)".to_owned(), escape::code_inline),
            pattern: escape::code_inline(&group.pattern),
            changes: changes_text,
            compact,
        }
    }
}

#[derive(Serialize)]
struct Varying {
    path: String,
    distinct: String,
    before: String,
    after: String,
}

/// One change group's details: what every member shares, what varies (with
/// an example), and every member with its varying values.
#[derive(Serialize)]
pub struct GroupDetailsCtx<'a> {
    #[serde(flatten)]
    project: &'a ProjectCtx,
    row: GroupRow,
    shared_rows: Vec<Row>,
    varying: Vec<Varying>,
    /// Every member, one line each with its varying values, as a verbatim
    /// block: compact enough for thousands of members in the job summary.
    members_block: String,
}

/// One side of a diff as plain text for a verbatim block, cut at `cap`.
fn plain_value(value: &DiffValue, cap: usize) -> String {
    let text = match value {
        DiffValue::Absent => return "(none)".to_owned(),
        DiffValue::Sensitive => return SENSITIVE_MASK.to_owned(),
        DiffValue::Unknown => return UNKNOWN_MARK.to_owned(),
        DiffValue::Known(v) => v.text().to_owned(),
    };
    match text.char_indices().nth(cap) {
        None => text,
        Some((cut, _)) => format!(
            "{}… ({} more characters)",
            &text[..cut],
            text[cut..].chars().count()
        ),
    }
}

impl<'a> GroupDetailsCtx<'a> {
    /// `None` for a group of one (shown as a plain resource diff).
    pub fn new(
        project: &'a ProjectCtx,
        group: &ChangeGroup,
        changes: &ChangeSet,
    ) -> Option<GroupDetailsCtx<'a>> {
        if group.count() < 2 {
            return None;
        }
        let target = project.target;
        let varying_paths: Vec<&str> = group.varying.iter().map(|v| v.path.as_str()).collect();
        let mut lines = String::new();
        for &i in &group.indexes {
            let rc = &changes.resources[i];
            lines.push_str(&rc.address);
            if let Some(id) = &rc.importing {
                lines.push_str(&format!("  (imported from ID {id})"));
            }
            if let Some(previous) = rc.previous_address.as_deref().filter(|_| rc.is_move()) {
                lines.push_str(&format!("  (moved from {previous})"));
            }
            for d in rc
                .diff
                .iter()
                .filter(|d| varying_paths.contains(&d.path.as_str()))
            {
                lines.push_str(&format!(
                    "  {}: {} → {}",
                    d.path,
                    plain_value(&d.before, target.value_cap()),
                    plain_value(&d.after, target.value_cap())
                ));
            }
            lines.push('\n');
        }
        Some(GroupDetailsCtx {
            project,
            row: GroupRow::new(group, changes),
            shared_rows: rows(&group.shared, target),
            varying: group
                .varying
                .iter()
                .map(|v| Varying {
                    path: escape::code_inline(&v.path),
                    distinct: thousands(v.distinct),
                    before: value_cell(&v.example.before, target),
                    after: value_cell(&v.example.after, target),
                })
                .collect(),
            members_block: escape::code_block(lines.trim_end()),
        })
    }
}

/// The name a shed note gives a group: `5,000 × module.fleet[*].aws_instance.web[*]`.
pub fn group_label(group: &ChangeGroup) -> String {
    format!(
        "{} × {}",
        thousands(group.count()),
        escape::code_inline(&group.pattern)
    )
}

#[derive(Serialize)]
pub struct ProjectCtx {
    project: String,
    target: Target,
}

impl ProjectCtx {
    pub fn new(p: &ProjectView, target: Target) -> ProjectCtx {
        ProjectCtx {
            project: escape::inline(&p.name),
            target,
        }
    }
}

#[derive(Serialize)]
struct ListEntry {
    address: String,
    notes: Vec<String>,
}

#[derive(Serialize)]
struct ListGroup {
    title: &'static str,
    /// Resources in this action, counting each folded group's members.
    count: usize,
    entries: Vec<ListEntry>,
}

#[derive(Serialize)]
pub struct ResourceListCtx<'a> {
    #[serde(flatten)]
    project: &'a ProjectCtx,
    total: usize,
    groups: Vec<ListGroup>,
}

/// Decides whether a resource belongs to a group of the resource list.
type Member = fn(&ResourceChange) -> bool;

/// The groups of the resource list, in the order Terraform prints actions.
const GROUPS: [(&str, Member); 9] = [
    ("Create", |rc| rc.action == Action::Create),
    ("Update in-place", |rc| rc.action == Action::Update),
    ("Replace", |rc| rc.action.is_replace()),
    ("Destroy", |rc| rc.action == Action::Delete),
    ("Read during apply", |rc| rc.action == Action::Read),
    ("Forget (remove from state)", |rc| {
        rc.action == Action::Forget
    }),
    ("Create, then forget", |rc| {
        rc.action == Action::CreateThenForget
    }),
    ("Import only", |rc| {
        rc.action == Action::NoOp && rc.is_import()
    }),
    ("Move only", |rc| {
        rc.action == Action::NoOp && !rc.is_import() && rc.is_move()
    }),
];

/// Notes that qualify an action: import, move, reason, data source.
fn notes(rc: &ResourceChange) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(id) = &rc.importing {
        notes.push(format!("imported from ID {}", escape::code_inline(id)));
    }
    if let Some(previous) = rc.previous_address.as_deref().filter(|_| rc.is_move()) {
        notes.push(format!("moved from {}", escape::code_inline(previous)));
    }
    if rc.action == Action::ReplaceCreateFirst {
        notes.push("create before destroy".to_owned());
    }
    if let Some(reason) = &rc.action_reason {
        notes.push(format!("reason: {}", escape::inline(reason)));
    }
    if rc.mode == Mode::Data {
        notes.push("data source".to_owned());
    }
    notes
}

impl<'a> ResourceListCtx<'a> {
    /// `None` when the project lists no resource. Members of a change group
    /// of two or more that destroys nothing are listed as the group's
    /// pattern once (the group's details list them); destroys and replaces
    /// are always listed by address.
    pub fn new(
        project: &'a ProjectCtx,
        changes: &ChangeSet,
        change_groups: &[ChangeGroup],
    ) -> Option<ResourceListCtx<'a>> {
        let mut folded = vec![false; changes.resources.len()];
        let mut first_of: Vec<Option<&ChangeGroup>> = vec![None; changes.resources.len()];
        for g in change_groups
            .iter()
            .filter(|g| g.count() > 1 && !g.destroys())
        {
            for &i in &g.indexes {
                folded[i] = true;
            }
            first_of[g.indexes[0]] = Some(g);
        }
        let mut order: Vec<usize> = (0..changes.resources.len()).collect();
        let rs = &changes.resources;
        order.sort_by(|&a, &b| {
            (&rs[a].address, &rs[a].deposed).cmp(&(&rs[b].address, &rs[b].deposed))
        });
        let mut groups: Vec<ListGroup> = Vec::new();
        for (title, member) in GROUPS.iter() {
            let mut group = ListGroup {
                title,
                count: 0,
                entries: Vec::new(),
            };
            for &i in order.iter().filter(|&&i| member(&rs[i])) {
                match (folded[i], first_of[i]) {
                    (false, _) => {
                        group.count += 1;
                        group.entries.push(ListEntry {
                            address: escape::code_inline(&rs[i].address),
                            notes: notes(&rs[i]),
                        });
                    }
                    (true, Some(g)) => {
                        group.count += g.count();
                        group.entries.push(ListEntry {
                            address: group_label(g),
                            notes: vec!["a change group: its members are in its details".to_owned()],
                        });
                    }
                    (true, None) => {}
                }
            }
            if group.count > 0 {
                groups.push(group);
            }
        }
        let total = groups.iter().map(|g| g.count).sum();
        (total > 0).then_some(ResourceListCtx {
            project,
            total,
            groups,
        })
    }
}

#[derive(Serialize)]
pub(crate) struct Row {
    path: String,
    before: String,
    after: String,
    forces: bool,
}

pub(crate) fn rows(diff: &[AttrDiff], target: Target) -> Vec<Row> {
    diff.iter()
        .map(|d| Row {
            path: escape::code_inline(&d.path),
            before: value_cell(&d.before, target),
            after: value_cell(&d.after, target),
            forces: d.forces_replacement,
        })
        .collect()
}

#[derive(Serialize)]
pub struct DiffCtx<'a> {
    #[serde(flatten)]
    project: &'a ProjectCtx,
    symbol: &'static str,
    address: String,
    what: String,
    notes: Vec<String>,
    rows: Vec<Row>,
}

impl<'a> DiffCtx<'a> {
    /// `None` when the resource has no attribute changes to show.
    pub fn new(project: &'a ProjectCtx, rc: &ResourceChange) -> Option<DiffCtx<'a>> {
        if rc.diff.is_empty() || !is_listed(rc) {
            return None;
        }
        Some(DiffCtx {
            project,
            symbol: action_symbol(rc.action),
            address: escape::code_inline(&rc.address),
            what: action_phrase(rc),
            notes: notes(rc),
            rows: rows(&rc.diff, project.target),
        })
    }
}

#[derive(Serialize)]
struct DriftEntry {
    address: String,
    what: &'static str,
    rows: Vec<Row>,
}

#[derive(Serialize)]
pub struct DriftCtx<'a> {
    #[serde(flatten)]
    project: &'a ProjectCtx,
    resources: Vec<DriftEntry>,
}

impl<'a> DriftCtx<'a> {
    /// `None` when nothing changed outside Terraform.
    pub fn new(project: &'a ProjectCtx, changes: &ChangeSet) -> Option<DriftCtx<'a>> {
        let resources: Vec<DriftEntry> = changes
            .drift
            .iter()
            .filter(|rc| rc.action != Action::NoOp)
            .map(|rc| DriftEntry {
                address: escape::code_inline(&rc.address),
                // Terraform's wording for objects changed behind its back.
                what: match rc.action {
                    Action::Delete => "has been deleted",
                    _ => "has changed",
                },
                rows: rows(&rc.diff, project.target),
            })
            .collect();
        (!resources.is_empty()).then_some(DriftCtx { project, resources })
    }
}

#[derive(Serialize)]
struct OutputEntry {
    name: String,
    what: &'static str,
    before: String,
    after: String,
}

#[derive(Serialize)]
pub struct OutputsCtx<'a> {
    #[serde(flatten)]
    project: &'a ProjectCtx,
    outputs: Vec<OutputEntry>,
}

fn output_phrase(o: &OutputChange) -> &'static str {
    match o.action {
        Action::Create => "added",
        Action::Delete => "removed",
        _ => "changed",
    }
}

impl<'a> OutputsCtx<'a> {
    /// `None` when no output changes.
    pub fn new(project: &'a ProjectCtx, changes: &ChangeSet) -> Option<OutputsCtx<'a>> {
        let outputs: Vec<OutputEntry> = changes
            .outputs
            .iter()
            .filter(|o| o.action != Action::NoOp)
            .map(|o| OutputEntry {
                name: escape::code_inline(&o.name),
                what: output_phrase(o),
                before: value_cell(&o.before, project.target),
                after: value_cell(&o.after, project.target),
            })
            .collect();
        (!outputs.is_empty()).then_some(OutputsCtx { project, outputs })
    }
}

#[derive(Serialize)]
pub struct SectionCtx {
    target: Target,
    title: String,
    badge: Option<&'static str>,
    details_md: String,
}

impl SectionCtx {
    /// `None` when the section has no details.
    pub fn new(section: &Section, target: Target) -> Option<SectionCtx> {
        let details = section.details_md.trim();
        (!details.is_empty()).then(|| SectionCtx {
            target,
            title: escape::inline(&section.title),
            badge: section.badge.map(badge),
            details_md: escape::defuse_markers(details),
        })
    }
}

#[derive(Serialize)]
struct OmittedEntry {
    key: &'static str,
    count: usize,
}

/// The most shed groups the note names one by one.
const NOTE_GROUPS: usize = 10;

#[derive(Serialize)]
pub struct NoteCtx<'a> {
    target: Target,
    run_url: Option<&'a str>,
    omitted: Vec<OmittedEntry>,
    shed_groups: &'a [String],
    shed_groups_more: usize,
}

impl<'a> NoteCtx<'a> {
    pub fn new(
        header: &'a Header,
        target: Target,
        omitted: &'a super::budget::Omitted,
    ) -> NoteCtx<'a> {
        let labels = omitted.labels();
        let named = labels.len().min(NOTE_GROUPS);
        NoteCtx {
            target,
            run_url: header.run_url.as_deref(),
            shed_groups: &labels[..named],
            shed_groups_more: labels.len() - named,
            omitted: super::budget::ShedClass::ALL
                .iter()
                .filter(|c| omitted.count(**c) > 0)
                .map(|c| OmittedEntry {
                    key: c.key(),
                    count: omitted.count(*c),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_line_uses_terraforms_words_and_order() {
        let mut c = Counts {
            add: 2,
            change: 1,
            destroy: 3,
            ..Counts::default()
        };
        assert_eq!(
            counts_line(&c),
            "Plan: 2 to add, 1 to change, 3 to destroy."
        );
        c.import = 1;
        c.forget = 4;
        assert_eq!(
            counts_line(&c),
            "Plan: 1 to import, 2 to add, 1 to change, 3 to destroy, 4 to forget."
        );
    }

    #[test]
    fn long_values_are_cut_with_the_remaining_length_stated() {
        let v = DiffValue::Known(serde_json::Value::String("x".repeat(1000)).into());
        let cell = value_cell(&v, Target::Comment);
        assert!(cell.contains("more characters"), "{cell}");
        assert!(cell.chars().count() < 400);
    }

    #[test]
    fn masked_values_show_their_marks() {
        assert!(value_cell(&DiffValue::Sensitive, Target::Comment).contains(SENSITIVE_MASK));
        assert!(value_cell(&DiffValue::Unknown, Target::Comment).contains(UNKNOWN_MARK));
    }
}
