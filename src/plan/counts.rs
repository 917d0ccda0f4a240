//! Summaries of a [`ChangeSet`] in Terraform's own sense: the "Plan: N to add,
//! M to change, K to destroy" counts and the groupings the gates read.

use std::collections::BTreeMap;

use super::model::{Action, ChangeSet, Counts, Mode, ResourceChange};

impl Counts {
    /// Adds one resource change. Data sources never count; a replace is one
    /// add and one destroy; read and no-op count nothing by themselves, but an
    /// import or a move counts whatever the action.
    pub fn record(&mut self, change: &ResourceChange) {
        if change.mode != Mode::Managed {
            return;
        }
        match change.action {
            Action::Create => self.add += 1,
            Action::Update => self.change += 1,
            Action::Delete => self.destroy += 1,
            Action::ReplaceDestroyFirst | Action::ReplaceCreateFirst => {
                self.add += 1;
                self.destroy += 1;
            }
            Action::Forget => self.forget += 1,
            Action::CreateThenForget => {
                self.add += 1;
                self.forget += 1;
            }
            Action::Read | Action::NoOp => {}
        }
        if change.is_import() {
            self.import += 1;
        }
        if change.is_move() {
            self.moved += 1;
        }
    }

    /// The sum of every count.
    pub fn total(&self) -> usize {
        self.add + self.change + self.destroy + self.import + self.moved + self.forget
    }
}

impl ChangeSet {
    /// The counts of the resource changes (drift excluded).
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for change in &self.resources {
            counts.record(change);
        }
        counts
    }

    /// True when applying would do anything: a counted resource change or an
    /// output change.
    pub fn has_changes(&self) -> bool {
        self.counts().total() > 0 || self.outputs.iter().any(|o| o.action != Action::NoOp)
    }

    /// The resource change at `address` (the current object, not a deposed one).
    pub fn resource(&self, address: &str) -> Option<&ResourceChange> {
        self.resources
            .iter()
            .find(|r| r.address == address && r.deposed.is_none())
    }

    /// Managed resource changes that count for something (see
    /// [`Counts::record`]): what a reviewer needs to read, in plan order.
    pub fn changed(&self) -> impl Iterator<Item = &ResourceChange> + '_ {
        self.resources.iter().filter(|r| {
            let mut counts = Counts::default();
            counts.record(r);
            counts.total() > 0
        })
    }

    /// Managed resources whose real object is destroyed: deletes and both
    /// replace orders.
    pub fn destroyed(&self) -> impl Iterator<Item = &ResourceChange> + '_ {
        self.resources
            .iter()
            .filter(|r| r.mode == Mode::Managed && r.action.destroys())
    }

    /// Resource changes grouped by action, each group in plan order.
    pub fn by_action(&self) -> BTreeMap<Action, Vec<&ResourceChange>> {
        let mut groups: BTreeMap<Action, Vec<&ResourceChange>> = BTreeMap::new();
        for change in &self.resources {
            groups.entry(change.action).or_default().push(change);
        }
        groups
    }
}
