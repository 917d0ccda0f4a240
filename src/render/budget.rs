//! Size budgets: fitting a rendered phase into the room GitHub gives it.
//!
//! A block is its essentials, the details marker, and a list of detail
//! parts. When everything does not fit, parts are shed in one stable order
//! (by [`ShedClass`], then the largest first, then in display order) and a
//! note says what went where. When even the essentials do not fit, they are
//! cut down in steps that keep the counts, the digests and as much of the
//! destroy warning as there is room for. The whole module is string
//! arithmetic: no I/O, and linear apart from one sort of the parts.

use std::cmp::Reverse;

pub use crate::surface::DETAILS_MARKER;

/// How a budget is counted: GitHub limits comment bodies in characters and
/// step summaries in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Chars,
    Bytes,
}

impl Measure {
    pub fn len(self, text: &str) -> usize {
        match self {
            Measure::Chars => text.chars().count(),
            Measure::Bytes => text.len(),
        }
    }

    /// The longest prefix of `text` that measures at most `budget`, cut on a
    /// character boundary.
    pub fn truncate(self, text: &str, budget: usize) -> &str {
        let end = match self {
            Measure::Chars => text
                .char_indices()
                .nth(budget)
                .map_or(text.len(), |(at, _)| at),
            Measure::Bytes => {
                let mut end = budget.min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                end
            }
        };
        &text[..end]
    }
}

/// What kind of detail a part is; the declaration order is the shed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ShedClass {
    /// One change group's per-resource details: a single resource's
    /// attribute diff, or a whole group's shared and varying attributes and
    /// members. Whole groups are shed, never scattered members.
    AttributeDiff,
    /// One project's resources grouped by action.
    ResourceList,
    /// One project's changes made outside Terraform.
    Drift,
    /// One project's output changes.
    Outputs,
    /// One gate or check section's details.
    SectionDetails,
    /// The heading that opens a project's details.
    ProjectHeading,
}

impl ShedClass {
    pub const ALL: [ShedClass; 6] = [
        ShedClass::AttributeDiff,
        ShedClass::ResourceList,
        ShedClass::Drift,
        ShedClass::Outputs,
        ShedClass::SectionDetails,
        ShedClass::ProjectHeading,
    ];

    /// The name templates see, e.g. in the shed note.
    pub fn key(self) -> &'static str {
        match self {
            ShedClass::AttributeDiff => "attribute_diffs",
            ShedClass::ResourceList => "resource_lists",
            ShedClass::Drift => "drift",
            ShedClass::Outputs => "outputs",
            ShedClass::SectionDetails => "section_details",
            ShedClass::ProjectHeading => "project_headings",
        }
    }
}

/// One detail, rendered, in display order.
#[derive(Debug, Clone)]
pub struct Part {
    pub class: ShedClass,
    pub text: String,
    /// What the shed note calls this part when it is left out (a change
    /// group's name); unnamed parts are only counted.
    pub label: Option<String>,
}

/// How many parts of each class were left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Omitted {
    counts: [usize; 6],
    labels: Vec<String>,
}

impl Omitted {
    pub fn add(&mut self, class: ShedClass) {
        self.counts[class as usize] += 1;
    }
    /// Counts `part` and keeps its label for the note.
    pub fn add_part(&mut self, part: &Part) {
        self.add(part.class);
        if let Some(label) = &part.label {
            self.labels.push(label.clone());
        }
    }
    /// The labels of the omitted parts that have one, in display order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }
    pub fn count(&self, class: ShedClass) -> usize {
        self.counts[class as usize]
    }
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|&n| n == 0)
    }
}

/// How far the essentials are cut down; see [`fit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EssentialsLevel {
    /// Show each section's `essentials_md` under its badge.
    pub section_essentials: bool,
    /// Show at most this many destroy/replace addresses (all when `None`).
    pub destroy_limit: Option<usize>,
    /// Name the changed attributes in the group table without their values.
    pub compact_groups: bool,
}

impl EssentialsLevel {
    pub const FULL: EssentialsLevel = EssentialsLevel {
        section_essentials: true,
        destroy_limit: None,
        compact_groups: false,
    };
}

/// What [`fit`] needs to know about the block beyond its parts.
pub struct Shape<'a> {
    pub measure: Measure,
    pub budget: usize,
    /// Write [`DETAILS_MARKER`] between essentials and details.
    pub marker: bool,
    /// Number of destroy/replace addresses the essentials would list in full.
    pub destroy_total: usize,
    /// Renders the essentials at a level.
    pub essentials: &'a dyn Fn(EssentialsLevel) -> String,
    /// Renders the note that replaces omitted parts.
    pub note: &'a dyn Fn(&Omitted) -> String,
    /// The last resort: counts and digests in as few characters as possible.
    pub minimal: &'a dyn Fn() -> String,
}

/// Lays out essentials and parts within `shape.budget`.
///
/// Steps, each tried only when the previous one cannot fit:
/// 1. full essentials, shedding detail parts in shed order until the rest
///    fits, then putting back (last shed first) any shed part that still fits
///    in the room left;
/// 2. the same without the sections' `essentials_md` (badges stay) and with
///    the group table naming changed attributes without their values;
/// 3. the destroy warning cut to as many addresses as fit (the template says
///    how many more are in the job summary), every part shed;
/// 4. the minimal text (header, counts, digests), cut at the budget if even
///    that is too long, which only a budget of a few hundred characters does.
pub fn fit(parts: &[Part], shape: &Shape<'_>) -> String {
    let sizes: Vec<usize> = parts
        .iter()
        .map(|p| part_len(shape.measure, &p.text))
        .collect();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&i| (parts[i].class, Reverse(sizes[i]), i));
    let fitter = Fitter {
        parts,
        sizes: &sizes,
        order: &order,
        shape,
        note_max: note_upper_bound(parts, shape),
    };

    if let Some(done) = fitter.try_fit(&(shape.essentials)(EssentialsLevel::FULL)) {
        return done;
    }
    let lean = EssentialsLevel {
        section_essentials: false,
        destroy_limit: None,
        compact_groups: true,
    };
    if let Some(done) = fitter.try_fit(&(shape.essentials)(lean)) {
        return done;
    }
    // The essentials grow with the number of addresses shown, so the largest
    // number that fits is found by bisection over a few renders.
    let at = |limit: usize| {
        fitter.try_fit(&(shape.essentials)(EssentialsLevel {
            section_essentials: false,
            destroy_limit: Some(limit),
            compact_groups: true,
        }))
    };
    if let Some(mut best) = at(0) {
        let (mut lo, mut hi) = (0, shape.destroy_total);
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            match at(mid) {
                Some(done) => {
                    best = done;
                    lo = mid;
                }
                None => hi = mid,
            }
        }
        return best;
    }
    let minimal = (shape.minimal)();
    shape.measure.truncate(&minimal, shape.budget).to_owned()
}

struct Fitter<'a> {
    parts: &'a [Part],
    sizes: &'a [usize],
    order: &'a [usize],
    shape: &'a Shape<'a>,
    note_max: usize,
}

impl Fitter<'_> {
    /// Keeps as many parts as fit next to `essentials`, or `None` when the
    /// essentials and the note alone are too long.
    fn try_fit(&self, essentials: &str) -> Option<String> {
        let measure = self.shape.measure;
        let head = head_text(essentials, self.shape.marker);
        let base = measure.len(&head);
        let all: usize = self.sizes.iter().sum();
        let mut kept = vec![true; self.parts.len()];
        let mut omitted = Omitted::default();
        if base + all > self.shape.budget {
            let room = self.shape.budget.checked_sub(base + self.note_max)?;
            let mut sum = all;
            let mut shed = Vec::new();
            for &i in self.order {
                if sum <= room {
                    break;
                }
                kept[i] = false;
                sum -= self.sizes[i];
                shed.push(i);
            }
            // Shedding a large part late (a whole resource list) can leave room
            // that earlier, smaller parts fit in: put them back, last shed
            // first, so within a class the smallest come back first.
            for &i in shed.iter().rev() {
                if sum + self.sizes[i] <= room {
                    kept[i] = true;
                    sum += self.sizes[i];
                }
            }
            // Named in display order, whatever order they were shed in.
            for (part, _) in self.parts.iter().zip(&kept).filter(|(_, &k)| !k) {
                omitted.add_part(part);
            }
        }
        let note = if omitted.is_empty() {
            String::new()
        } else {
            (self.shape.note)(&omitted)
        };
        let text = compose(&head, &note, self.parts, &kept);
        // Override templates may not keep the note within its estimate; the
        // budget is a promise, so check the real length.
        (measure.len(&text) <= self.shape.budget).then_some(text)
    }
}

/// The longest the note can be: every part of every class omitted.
fn note_upper_bound(parts: &[Part], shape: &Shape<'_>) -> usize {
    let mut all = Omitted::default();
    for p in parts {
        all.add_part(p);
    }
    if all.is_empty() {
        return 0;
    }
    part_len(shape.measure, &(shape.note)(&all))
}

fn head_text(essentials: &str, marker: bool) -> String {
    let mut head = String::with_capacity(essentials.len() + DETAILS_MARKER.len() + 4);
    head.push_str(essentials.trim_end());
    head.push_str("\n\n");
    if marker {
        head.push_str(DETAILS_MARKER);
        head.push_str("\n\n");
    }
    head
}

/// A part as it is laid out: trimmed, followed by one blank line (nothing
/// when it is blank).
fn push_part(out: &mut String, text: &str) {
    let t = text.trim();
    if !t.is_empty() {
        out.push_str(t);
        out.push_str("\n\n");
    }
}

/// The measure of a part as [`push_part`] lays it out, without laying it
/// out: the blank line after it is two characters and two bytes.
fn part_len(measure: Measure, text: &str) -> usize {
    let t = text.trim();
    if t.is_empty() {
        0
    } else {
        measure.len(t) + 2
    }
}

fn compose(head: &str, note: &str, parts: &[Part], kept: &[bool]) -> String {
    let kept_len: usize = parts
        .iter()
        .zip(kept)
        .filter(|(_, &k)| k)
        .map(|(p, _)| p.text.len() + 2)
        .sum();
    let mut out = String::with_capacity(head.len() + note.len() + 2 + kept_len);
    out.push_str(head);
    push_part(&mut out, note);
    for (part, _) in parts.iter().zip(kept).filter(|(_, &k)| k) {
        push_part(&mut out, &part.text);
    }
    let end = out.trim_end().len();
    out.truncate(end);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(class: ShedClass, size: usize, tag: char) -> Part {
        Part {
            class,
            text: std::iter::repeat_n(tag, size).collect(),
            label: None,
        }
    }

    fn shape<'a>(
        budget: usize,
        essentials: &'a dyn Fn(EssentialsLevel) -> String,
        note: &'a dyn Fn(&Omitted) -> String,
        minimal: &'a dyn Fn() -> String,
    ) -> Shape<'a> {
        Shape {
            measure: Measure::Chars,
            budget,
            marker: true,
            destroy_total: 10,
            essentials,
            note,
            minimal,
        }
    }

    fn essentials(level: EssentialsLevel) -> String {
        let shown = level.destroy_limit.unwrap_or(10);
        let mut e = String::from("ESS counts digest\n");
        for i in 0..shown {
            e.push_str(&format!("destroy-{i}\n"));
        }
        if shown < 10 {
            e.push_str(&format!("and {} more\n", 10 - shown));
        }
        if level.section_essentials {
            e.push_str(&"s".repeat(200));
        }
        e
    }

    fn note(o: &Omitted) -> String {
        format!("NOTE diffs={}", o.count(ShedClass::AttributeDiff))
    }

    fn minimal() -> String {
        "MIN counts digest".to_owned()
    }

    #[test]
    fn everything_is_kept_when_it_fits_and_no_note_is_written() {
        let parts = vec![part(ShedClass::AttributeDiff, 10, 'a')];
        let out = fit(&parts, &shape(10_000, &essentials, &note, &minimal));
        assert!(out.contains(DETAILS_MARKER));
        assert!(out.contains(&"a".repeat(10)));
        assert!(!out.contains("NOTE"));
    }

    #[test]
    fn the_largest_attribute_diff_is_shed_before_smaller_ones_and_lists() {
        let parts = vec![
            part(ShedClass::ResourceList, 100, 'l'),
            part(ShedClass::AttributeDiff, 50, 'a'),
            part(ShedClass::AttributeDiff, 300, 'b'),
        ];
        let full = fit(&parts, &shape(100_000, &essentials, &note, &minimal));
        let budget = full.chars().count() - 100;
        let out = fit(&parts, &shape(budget, &essentials, &note, &minimal));
        assert!(out.chars().count() <= budget);
        assert!(!out.contains('b'), "the 300-char diff goes first");
        assert!(out.contains(&"a".repeat(50)));
        assert!(out.contains(&"l".repeat(100)));
        assert!(out.contains("NOTE diffs=1"));
    }

    #[test]
    fn parts_shed_before_a_large_one_come_back_when_they_fit_after_it() {
        let parts = vec![
            part(ShedClass::ResourceList, 1_000, 'l'),
            part(ShedClass::AttributeDiff, 60, 'a'),
            part(ShedClass::AttributeDiff, 40, 'b'),
        ];
        let base = fit(&[], &shape(100_000, &essentials, &note, &minimal));
        let budget = base.chars().count() + 200;
        let out = fit(&parts, &shape(budget, &essentials, &note, &minimal));
        assert!(out.chars().count() <= budget);
        assert!(!out.contains(&"l".repeat(10)), "the list cannot fit");
        assert!(out.contains(&"a".repeat(60)), "{out}");
        assert!(out.contains(&"b".repeat(40)), "{out}");
        assert!(out.contains("NOTE diffs=0"), "{out}");
    }

    #[test]
    fn section_essentials_go_before_destroy_addresses() {
        let parts = vec![part(ShedClass::AttributeDiff, 500, 'a')];
        let out = fit(&parts, &shape(250, &essentials, &note, &minimal));
        assert!(out.chars().count() <= 250);
        assert!(out.contains("destroy-9"), "{out}");
        assert!(!out.contains("sss"));
    }

    #[test]
    fn a_cut_destroy_list_keeps_as_many_addresses_as_fit() {
        let parts = vec![part(ShedClass::AttributeDiff, 500, 'a')];
        let out = fit(&parts, &shape(120, &essentials, &note, &minimal));
        assert!(out.chars().count() <= 120, "{out}");
        assert!(out.contains("ESS counts digest"));
        assert!(out.contains("more"));
        assert!(out.contains("destroy-0"));
        assert!(out.contains(DETAILS_MARKER));
    }

    #[test]
    fn the_minimal_text_is_the_last_resort_and_is_cut_at_the_budget() {
        let out = fit(&[], &shape(20, &essentials, &note, &minimal));
        assert_eq!(out, "MIN counts digest");
        let out = fit(&[], &shape(5, &essentials, &note, &minimal));
        assert_eq!(out, "MIN c");
    }

    #[test]
    fn byte_truncation_stops_on_a_character_boundary() {
        assert_eq!(Measure::Bytes.truncate("aé", 2), "a");
        assert_eq!(Measure::Chars.truncate("aéb", 2), "aé");
    }
}
