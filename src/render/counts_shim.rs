//! TEMPORARY, not for merge: stands in for `ChangeSet::counts()` until the
//! plan parser lands on main; removed at the first merge of main.
use crate::plan::{Action, ChangeSet, Counts};
impl ChangeSet {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for r in &self.resources {
            match r.action {
                Action::Create | Action::CreateThenForget => c.add += 1,
                Action::Update => c.change += 1,
                Action::Delete => c.destroy += 1,
                Action::ReplaceCreateFirst | Action::ReplaceDestroyFirst => {
                    c.add += 1;
                    c.destroy += 1
                }
                Action::Forget => c.forget += 1,
                _ => {}
            }
            if r.is_import() {
                c.import += 1
            }
            if r.is_move() {
                c.moved += 1
            }
        }
        c
    }
}
