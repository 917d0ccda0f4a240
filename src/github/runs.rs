//! What the phase runner asks GitHub about other runs and pushes: whether
//! the run that holds a lock has finished, and which merged pull request a
//! push to the default branch came from.

use super::{CommitPull, Forge, GithubError, PrTarget, RepoRef};

/// Whether workflow run `run_id` has completed, so a lock it holds is stale.
/// A run GitHub does not know is an error, not "completed": a lock is never
/// broken on missing evidence (`phasegate unlock` is the way out).
pub async fn run_completed<F: Forge>(
    forge: &F,
    repo: &RepoRef,
    run_id: u64,
) -> Result<bool, GithubError> {
    match forge.workflow_run(repo, run_id).await? {
        Some(run) => Ok(run.status == "completed"),
        None => Err(GithubError::Api {
            action: format!("read workflow run {run_id} of {repo}"),
            status: 404,
            message: "no such run; if it was deleted, release its lock with `phasegate unlock`"
                .to_owned(),
            permission: None,
            transient: false,
            retry_after: None,
        }),
    }
}

/// The merged pull request that a push of `sha` to the default branch came
/// from, or `None` (a direct push: the caller reports to the job summary).
pub async fn pr_for_push<F: Forge>(
    forge: &F,
    repo: &RepoRef,
    sha: &str,
) -> Result<Option<PrTarget>, GithubError> {
    let pulls = forge.commit_pulls(repo, sha).await?;
    Ok(pick_merged(&pulls, sha).map(|number| PrTarget {
        repo: repo.clone(),
        number,
    }))
}

/// The PR whose merge produced `sha` (merge, squash or rebase), else a merged
/// PR whose head is `sha` (a fast-forward). Open PRs that merely contain the
/// commit, and PRs merged elsewhere, never count: reporting on the wrong PR
/// is worse than reporting on none.
fn pick_merged(pulls: &[CommitPull], sha: &str) -> Option<u64> {
    let merged = || pulls.iter().filter(|p| p.merged_at.is_some());
    merged()
        .find(|p| p.merge_commit_sha.as_deref() == Some(sha))
        .or_else(|| merged().find(|p| p.head_sha == sha))
        .map(|p| p.number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pull(number: u64, merged: bool, merge_sha: &str, head: &str) -> CommitPull {
        CommitPull {
            number,
            state: if merged { "closed" } else { "open" }.into(),
            merged_at: merged.then(|| "2026-01-01T00:00:00Z".into()),
            merge_commit_sha: Some(merge_sha.into()),
            head_sha: head.into(),
            base_ref: "main".into(),
        }
    }

    #[test]
    fn the_pr_whose_merge_made_the_commit_wins_over_open_ones() {
        let pulls = [pull(3, false, "x", "s"), pull(5, true, "s", "h")];
        assert_eq!(pick_merged(&pulls, "s"), Some(5));
    }

    #[test]
    fn a_fast_forwarded_head_counts_and_open_prs_never_do() {
        assert_eq!(pick_merged(&[pull(4, true, "m", "s")], "s"), Some(4));
        assert_eq!(pick_merged(&[pull(4, false, "s", "s")], "s"), None);
        assert_eq!(pick_merged(&[pull(4, true, "m", "h")], "s"), None);
    }
}
