//! Lock staleness in GitHub Actions, asked of GitHub: whether the workflow
//! run that holds a lock has completed.

use super::lock::{LocalLiveness, RunLiveness};
use super::StoreError;
use crate::github::runs::run_completed;
use crate::github::{Forge, GithubError, RepoRef};
use crate::journal::{LockOwner, RunRef};

/// Lock staleness in GitHub Actions: a lock whose owning workflow run has
/// completed is stale. Locks taken outside Actions (no run id) are judged
/// as [`LocalLiveness`] judges them.
pub struct RunsLiveness<'a, F: Forge> {
    pub forge: &'a F,
    pub repo: &'a RepoRef,
    /// The run asking, so a lock left by an earlier attempt of this very run
    /// counts as stale: attempts of one run never overlap.
    pub current: RunRef,
}

impl<F: Forge> RunLiveness for RunsLiveness<'_, F> {
    async fn finished(&self, owner: &LockOwner) -> Result<bool, StoreError> {
        let Some(id) = owner.run.id else {
            return LocalLiveness.finished(owner).await;
        };
        if self.current.id == Some(id) {
            return Ok(matches!(
                (owner.run.attempt, self.current.attempt),
                (Some(theirs), Some(mine)) if theirs < mine
            ));
        }
        match run_completed(self.forge, self.repo, id).await {
            Ok(done) => Ok(done),
            // Unknown means alive: the holder is refused with the unlock
            // command rather than broken on missing evidence.
            Err(GithubError::Api { status: 404, .. }) => {
                tracing::warn!(
                    "workflow run {id} holding a lock is unknown to GitHub: the lock is kept"
                );
                Ok(false)
            }
            Err(e) => Err(StoreError::Remote(e.to_string())),
        }
    }
}
