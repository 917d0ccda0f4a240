//! Change groups: resource changes of one shape, so a reviewer reads "5,000 ×
//! `aws_instance` in `module.fleet[*]`" once instead of 5,000 diffs.
//!
//! Two changes share a group when they have the same address pattern (the
//! address with every `count`/`for_each` index written `[*]`, which fixes the
//! module path, the type and the name), the same mode, the same action (an
//! import, a move and a deposed object count as part of the action) and the
//! same set of changed attribute paths. Within a group an attribute whose
//! before and after are the same for every member is *shared*; one that
//! differs is *varying*, counted by distinct before → after pairs and shown
//! with one example.
//!
//! Grouping is a pure function of the set of changes: groups are ordered by
//! their key and members by address, so the order of `resource_changes` in
//! the input changes nothing.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use serde::Serialize;

use super::model::{Action, AttrDiff, ChangeSet, DiffValue, Mode, ResourceChange};

/// One group of same-shaped resource changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeGroup {
    /// The address with every index written `[*]`:
    /// `module.fleet[*].aws_instance.web[*]`.
    pub pattern: String,
    /// The module part of the pattern (`module.fleet[*]`); None at the root.
    pub module_pattern: Option<String>,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub mode: Mode,
    pub action: Action,
    /// The change imports its object.
    pub importing: bool,
    /// The change moves its object to a new address.
    pub moving: bool,
    /// The change is to a deposed object.
    pub deposed: bool,
    /// The changed attribute paths, sorted.
    pub paths: Vec<String>,
    /// Attributes with the same before → after in every member.
    pub shared: Vec<AttrDiff>,
    /// Attributes whose before → after differs between members.
    pub varying: Vec<VaryingAttr>,
    /// Member addresses, sorted (a deposed member appears once per object).
    pub members: Vec<String>,
    /// Positions of the members in [`ChangeSet::resources`], in member order.
    #[serde(skip)]
    pub indexes: Vec<usize>,
}

/// An attribute that changes differently across a group's members.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VaryingAttr {
    pub path: String,
    /// How many distinct before → after pairs the members have.
    pub distinct: usize,
    /// The change of the first member, as an example.
    pub example: AttrDiff,
}

impl ChangeGroup {
    pub fn count(&self) -> usize {
        self.members.len()
    }

    /// Replaces and destroys are always listed by address, never folded into
    /// a pattern alone.
    pub fn destroys(&self) -> bool {
        self.action.destroys()
    }
}

/// Whether a change shows in lists, diffs and groups: a no-op does only
/// when it imports or moves.
pub fn is_listed(rc: &ResourceChange) -> bool {
    rc.action != Action::NoOp || rc.is_import() || rc.is_move()
}

/// `address` with every bracketed index replaced by `[*]`. Quoted keys may
/// hold `]` and escaped quotes; they are skipped as a whole.
pub fn address_pattern(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    let mut chars = address.chars();
    while let Some(c) = chars.next() {
        if c != '[' {
            out.push(c);
            continue;
        }
        out.push_str("[*]");
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' if quoted => {
                    chars.next();
                }
                '"' => quoted = !quoted,
                ']' if !quoted => break,
                _ => {}
            }
        }
    }
    out
}

/// The module part of an address pattern: everything before the resource's
/// `type.name` (or `data.type.name`).
fn module_of(pattern: &str, rc: &ResourceChange) -> Option<String> {
    rc.module.as_ref()?;
    let tail = match rc.mode {
        Mode::Data => format!(".data.{}.{}", rc.resource_type, rc.name),
        Mode::Managed => format!(".{}.{}", rc.resource_type, rc.name),
    };
    pattern.rfind(&tail).map(|at| pattern[..at].to_string())
}

/// What makes two changes one group. Paths are borrowed from the changes,
/// so building a key copies only the pattern.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Key<'a> {
    pattern: String,
    action: Action,
    importing: bool,
    moving: bool,
    deposed: bool,
    data: bool,
    paths: Vec<&'a str>,
}

fn key(rc: &ResourceChange) -> Key<'_> {
    let mut paths: Vec<&str> = rc.diff.iter().map(|d| d.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    Key {
        pattern: address_pattern(&rc.address),
        action: rc.action,
        importing: rc.is_import(),
        moving: rc.is_move(),
        deposed: rc.deposed.is_some(),
        data: rc.mode == Mode::Data,
        paths,
    }
}

/// A diff's before → after as one 64-bit fingerprint (values are masked).
fn side(d: &AttrDiff) -> u64 {
    let mut h = DefaultHasher::new();
    for v in [&d.before, &d.after] {
        match v {
            DiffValue::Absent => 0u8.hash(&mut h),
            DiffValue::Sensitive => 1u8.hash(&mut h),
            DiffValue::Unknown => 2u8.hash(&mut h),
            DiffValue::Known(v) => {
                // Equal texts for equal values: both come from one
                // normalization, which writes them compactly in key order.
                3u8.hash(&mut h);
                v.text().hash(&mut h);
            }
        }
    }
    h.finish()
}

/// The change groups of every listed change in `changes`, ordered by key.
pub fn group_changes(changes: &ChangeSet) -> Vec<ChangeGroup> {
    let mut by_key: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
    for (i, rc) in changes.resources.iter().enumerate() {
        if is_listed(rc) {
            by_key.entry(key(rc)).or_default().push(i);
        }
    }
    by_key
        .into_iter()
        .map(|(k, mut indexes)| {
            let rs = &changes.resources;
            indexes.sort_by(|&a, &b| {
                (&rs[a].address, &rs[a].deposed).cmp(&(&rs[b].address, &rs[b].deposed))
            });
            build(changes, k, indexes)
        })
        .collect()
}

fn build(changes: &ChangeSet, k: Key, indexes: Vec<usize>) -> ChangeGroup {
    let members: Vec<&ResourceChange> = indexes.iter().map(|&i| &changes.resources[i]).collect();
    let first = members[0];
    let (mut shared, mut varying) = (Vec::new(), Vec::new());
    if members.len() == 1 {
        shared = first.diff.clone();
    } else {
        // Distinct before → after pairs per path, over every member.
        let mut seen: HashMap<&str, HashSet<u64>> = HashMap::new();
        for rc in &members {
            for d in &rc.diff {
                seen.entry(d.path.as_str()).or_default().insert(side(d));
            }
        }
        for d in &first.diff {
            let distinct = seen.get(d.path.as_str()).map_or(1, HashSet::len);
            if distinct <= 1 {
                shared.push(d.clone());
            } else {
                varying.push(VaryingAttr {
                    path: d.path.clone(),
                    distinct,
                    example: d.clone(),
                });
            }
        }
    }
    ChangeGroup {
        module_pattern: module_of(&k.pattern, first),
        resource_type: first.resource_type.clone(),
        mode: first.mode,
        action: k.action,
        importing: k.importing,
        moving: k.moving,
        deposed: k.deposed,
        pattern: k.pattern,
        paths: k.paths.iter().map(|p| p.to_string()).collect(),
        shared,
        varying,
        members: members.iter().map(|rc| rc.address.clone()).collect(),
        indexes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_become_stars_and_quoted_keys_may_hold_brackets() {
        assert_eq!(
            address_pattern(r#"module.fleet[12].aws_instance.web["a]\"b"]"#),
            "module.fleet[*].aws_instance.web[*]"
        );
        assert_eq!(address_pattern("aws_s3_bucket.logs"), "aws_s3_bucket.logs");
    }
}
