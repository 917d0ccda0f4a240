//! GitHub environments as phasegate's human gate: checking that each
//! environment is protected as the config requires, and making it so.

use super::{
    BranchPolicy, EnvironmentInfo, EnvironmentUpdate, Forge, GithubError, RepoRef, ReviewerKind,
};

/// GitHub's cap on required reviewers per environment.
pub const MAX_REVIEWERS: usize = 6;

/// What the config asks of one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvRequirement {
    /// phasegate's name (`prod`).
    pub name: String,
    /// The GitHub environment the apply job runs under.
    pub github_environment: String,
    pub reviewers_required: bool,
    pub prevent_self_review: bool,
}

/// What one environment looks like, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvReport {
    pub name: String,
    pub github_environment: String,
    /// `None` when the environment does not exist.
    pub found: Option<EnvironmentInfo>,
    /// Reasons to refuse an apply.
    pub problems: Vec<String>,
    /// Worth fixing, not blocking.
    pub warnings: Vec<String>,
}

impl EnvReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Reads each environment and compares it with the config: reviewers,
/// prevent-self-review, wait timer, branch policy.
pub async fn check_environments<F: Forge>(
    forge: &F,
    repo: &RepoRef,
    requirements: &[EnvRequirement],
) -> Result<Vec<EnvReport>, GithubError> {
    let mut out = Vec::new();
    for req in requirements {
        let found = forge.get_environment(repo, &req.github_environment).await?;
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        let gh = &req.github_environment;
        match &found {
            None if req.reviewers_required => problems.push(format!(
                "GitHub environment `{gh}` (for `{}`) does not exist on {repo}, but phasegate.yml requires reviewers: \
                 create it with required reviewers (Settings → Environments) or run `phasegate environments --sync` with an admin token",
                req.name
            )),
            None => warnings.push(format!(
                "GitHub environment `{gh}` does not exist on {repo}; GitHub will create it unprotected on first use"
            )),
            Some(env) if env.reviewers.is_empty() && req.reviewers_required => problems.push(format!(
                "GitHub environment `{gh}` has no required reviewers, but phasegate.yml requires them for `{}`: \
                 add reviewers under Settings → Environments → {gh}",
                req.name
            )),
            Some(env) => {
                if req.prevent_self_review && !env.reviewers.is_empty() && !env.prevent_self_review {
                    warnings.push(format!(
                        "GitHub environment `{gh}` lets the person who triggered a run approve it; \
                         turn on \"Prevent self-review\" (phasegate still refuses self-approval)"
                    ));
                }
                if env.branch_policy.is_none() {
                    warnings.push(format!(
                        "GitHub environment `{gh}` can be deployed from any branch; consider a deployment branch policy"
                    ));
                }
            }
        }
        out.push(EnvReport {
            name: req.name.clone(),
            github_environment: gh.clone(),
            found,
            problems,
            warnings,
        });
    }
    Ok(out)
}

/// A reviewer as written in config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewerSpec {
    User(String),
    Team { org: String, slug: String },
}

/// How an environment should be protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentSpec {
    pub github_environment: String,
    pub reviewers: Vec<ReviewerSpec>,
    pub prevent_self_review: bool,
    pub wait_timer: u64,
    pub branch_policy: Option<BranchPolicy>,
}

/// What syncing did to one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncAction {
    Created,
    Updated,
    Unchanged,
}

/// Why environments could not be synced.
#[derive(Debug, thiserror::Error)]
pub enum EnvironmentError {
    #[error("environment `{env}` lists {count} reviewers; GitHub allows at most {MAX_REVIEWERS}")]
    TooManyReviewers { env: String, count: usize },
    #[error(
        "cannot configure environment `{env}` on {repo}: that needs a token with `administration: write` \
         (a repository admin's token or a GitHub App with that permission); the workflow's default \
         GITHUB_TOKEN cannot do it. Pass one with --token or GITHUB_TOKEN ({source})"
    )]
    AdminTokenNeeded {
        env: String,
        repo: String,
        source: GithubError,
    },
    #[error(transparent)]
    Github(#[from] GithubError),
}

impl From<EnvironmentError> for crate::error::Error {
    fn from(e: EnvironmentError) -> Self {
        match e {
            EnvironmentError::TooManyReviewers { .. } => crate::error::Error::Input(e.to_string()),
            other => crate::error::Error::External(other.to_string()),
        }
    }
}

fn matches(found: &EnvironmentInfo, want: &EnvironmentUpdate) -> bool {
    let mut have: Vec<(ReviewerKind, u64)> =
        found.reviewers.iter().map(|r| (r.kind, r.id)).collect();
    let mut wanted = want.reviewers.clone();
    have.sort_by_key(|(k, id)| (*k == ReviewerKind::Team, *id));
    wanted.sort_by_key(|(k, id)| (*k == ReviewerKind::Team, *id));
    have == wanted
        && found.wait_timer == want.wait_timer
        && (found.prevent_self_review == want.prevent_self_review || want.reviewers.is_empty())
        && found.branch_policy == want.branch_policy
}

/// Creates or updates each environment to match `specs`, resolving
/// reviewer logins and team slugs to ids. Unchanged environments are not
/// written.
pub async fn sync_environments<F: Forge>(
    forge: &F,
    repo: &RepoRef,
    specs: &[EnvironmentSpec],
) -> Result<Vec<(String, SyncAction)>, EnvironmentError> {
    for s in specs {
        if s.reviewers.len() > MAX_REVIEWERS {
            return Err(EnvironmentError::TooManyReviewers {
                env: s.github_environment.clone(),
                count: s.reviewers.len(),
            });
        }
    }
    let mut out = Vec::new();
    for s in specs {
        let mut reviewers = Vec::new();
        for r in &s.reviewers {
            reviewers.push(match r {
                ReviewerSpec::User(login) => (ReviewerKind::User, forge.user_id(login).await?),
                ReviewerSpec::Team { org, slug } => {
                    (ReviewerKind::Team, forge.team_id(org, slug).await?)
                }
            });
        }
        let update = EnvironmentUpdate {
            wait_timer: s.wait_timer,
            prevent_self_review: s.prevent_self_review,
            reviewers,
            branch_policy: s.branch_policy,
        };
        let found = forge.get_environment(repo, &s.github_environment).await?;
        let action = match &found {
            Some(f) if matches(f, &update) => SyncAction::Unchanged,
            Some(_) => SyncAction::Updated,
            None => SyncAction::Created,
        };
        if action != SyncAction::Unchanged {
            forge
                .put_environment(repo, &s.github_environment, &update)
                .await
                .map_err(|e| match e.status() {
                    Some(403) | Some(404) => EnvironmentError::AdminTokenNeeded {
                        env: s.github_environment.clone(),
                        repo: repo.to_string(),
                        source: e,
                    },
                    _ => EnvironmentError::Github(e),
                })?;
        }
        out.push((s.github_environment.clone(), action));
    }
    Ok(out)
}
