//! The forge client: a narrow [`Forge`] trait over the GitHub calls phasegate
//! makes, its octocrab implementation ([`OctoForge`]), and the behaviour built
//! on it (the sticky PR comment, approvals, environments).
//!
//! Everything above the trait is generic over it, so tests can drive the real
//! client against the in-process fake (`tests/fakehub`).

pub mod annotate;
pub mod approvals;
pub mod budget;
pub mod comment;
pub mod environments;
mod error;
pub mod identity;
pub mod issues;
mod octo;
pub mod retry;
pub mod runs;

use serde::{Deserialize, Serialize};

pub use comment::{minimize_outdated, upsert_phase, CommentRef, CommentState};
pub use error::GithubError;
pub use octo::{ForgeConfig, OctoForge};
pub use retry::RetryPolicy;

/// The login the workflow's default `GITHUB_TOKEN` (an installation token of
/// the GitHub Actions app) comments as. Named in hints only: the identity is
/// always decided from GitHub's answer or the config (see [`identity`]).
pub const ACTIONS_BOT: &str = "github-actions[bot]";

/// `owner/name` of a repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RepoRef {
    pub owner: String,
    pub name: String,
}

impl RepoRef {
    pub fn new(owner: impl Into<String>, name: impl Into<String>) -> RepoRef {
        RepoRef {
            owner: owner.into(),
            name: name.into(),
        }
    }

    /// Parses `owner/name` (the form of `GITHUB_REPOSITORY`).
    pub fn parse(s: &str) -> Option<RepoRef> {
        let (o, n) = s.split_once('/')?;
        (!o.is_empty() && !n.is_empty() && !n.contains('/')).then(|| RepoRef::new(o, n))
    }
}

impl std::fmt::Display for RepoRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// A pull request (or issue) that carries the sticky comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrTarget {
    pub repo: RepoRef,
    pub number: u64,
}

impl std::fmt::Display for PrTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.repo, self.number)
    }
}

/// Who the token acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub login: String,
    /// An app's bot (`<app-slug>[bot]`).
    pub is_bot: bool,
    /// How the login was learned.
    pub source: identity::IdentitySource,
}

/// An issue or PR comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: u64,
    pub node_id: String,
    pub author: String,
    /// The slug of the GitHub App the comment was `performed_via_github_app`,
    /// when GitHub reports one.
    pub via_app: Option<String>,
    pub body: String,
    pub created_at: String,
    pub html_url: String,
}

/// The parts of a pull request phasegate reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullInfo {
    pub number: u64,
    pub author: String,
    pub head_sha: String,
    pub state: String,
}

/// One check-run annotation (at most 50 go in one request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Annotation {
    pub path: String,
    pub start_line: u64,
    pub end_line: u64,
    /// `notice`, `warning` or `failure`.
    pub annotation_level: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// A check run to create or update.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckRunRequest {
    pub name: String,
    pub head_sha: String,
    /// `queued`, `in_progress` or `completed`.
    pub status: Option<String>,
    /// Set when completed: `success`, `failure`, `neutral`, ...
    pub conclusion: Option<String>,
    pub details_url: Option<String>,
    pub title: String,
    pub summary: String,
    pub text: Option<String>,
    pub annotations: Vec<Annotation>,
}

/// A user or a team, as environments name reviewers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReviewerKind {
    User,
    Team,
}

/// A required reviewer of an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvReviewer {
    pub kind: ReviewerKind,
    pub id: u64,
    /// The user's login or the team's slug.
    pub name: String,
}

/// `deployment_branch_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BranchPolicy {
    pub protected_branches: bool,
    pub custom_branch_policies: bool,
}

/// How a GitHub environment is protected.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvironmentInfo {
    pub name: String,
    pub reviewers: Vec<EnvReviewer>,
    pub prevent_self_review: bool,
    pub wait_timer: u64,
    pub branch_policy: Option<BranchPolicy>,
}

/// The protection to put on an environment (`PUT .../environments/{name}`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvironmentUpdate {
    pub wait_timer: u64,
    pub prevent_self_review: bool,
    pub reviewers: Vec<(ReviewerKind, u64)>,
    pub branch_policy: Option<BranchPolicy>,
}

/// One entry of a workflow run's environment review log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunApproval {
    pub environments: Vec<String>,
    /// `approved`, `rejected` or `pending`.
    pub state: String,
    pub user: String,
    /// When the environment entry was last updated (GitHub gives no review time).
    pub at: String,
}

/// An issue (drift reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub state: String,
    pub labels: Vec<String>,
    /// Who opened it: only issues we opened are ours (see [`identity`]).
    pub author: String,
    /// The app the issue was `performed_via_github_app`, when GitHub says one.
    pub via_app: Option<String>,
    pub html_url: String,
}

/// Fields to change on an issue; `None` leaves a field alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IssueUpdate {
    pub title: Option<String>,
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: Option<String>,
    pub labels: Option<Vec<String>>,
}

/// One entry of a git tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// A name in the tree (no slashes).
    pub path: String,
    /// `100644` for a file.
    pub mode: String,
    /// `blob`, `tree` or `commit`.
    pub kind: String,
    pub sha: String,
}

/// A git commit as the Git Data API shows one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitCommit {
    pub sha: String,
    pub tree: String,
    pub parents: Vec<String>,
    pub message: String,
}

/// A git ref and the SHA it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitRef {
    /// Fully qualified: `refs/phasegate/...`.
    pub name: String,
    pub sha: String,
}

/// How a compare-and-swap on a ref ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefWrite {
    /// The ref now points at the new commit.
    Moved,
    /// Someone else moved (or created) the ref first; nothing was changed.
    Lost,
}

/// Where a workflow run stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowRun {
    pub id: u64,
    /// `queued`, `in_progress`, `waiting`, `requested`, `pending` or `completed`.
    pub status: String,
    /// Set once completed: `success`, `failure`, `cancelled`, ...
    pub conclusion: Option<String>,
}

/// A pull request that a commit belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitPull {
    pub number: u64,
    pub state: String,
    /// Set when merged.
    pub merged_at: Option<String>,
    /// The commit the merge made (or the head, for fast-forwards).
    pub merge_commit_sha: Option<String>,
    pub head_sha: String,
    pub base_ref: String,
}

/// The GitHub calls phasegate makes. Native `async fn`: callers are generic
/// over it (no trait objects), and the one runtime is current-thread-safe.
#[allow(async_fn_in_trait)]
pub trait Forge {
    /// What is left of the token's API budget, as the last answers said
    /// (unknown by default).
    fn budget(&self) -> budget::BudgetState {
        budget::BudgetState::default()
    }
    /// Who the token acts as, decided as [`identity`] describes.
    async fn identity(&self) -> Result<Identity, GithubError>;
    /// Every comment on the PR, oldest first, across all pages.
    async fn list_comments(&self, pr: &PrTarget) -> Result<Vec<Comment>, GithubError>;
    /// Posts a comment. Not retried on an uncertain outcome: callers make
    /// creation idempotent by looking for their marker again.
    async fn create_comment(&self, pr: &PrTarget, body: &str) -> Result<Comment, GithubError>;
    async fn update_comment(
        &self,
        repo: &RepoRef,
        id: u64,
        body: &str,
    ) -> Result<Comment, GithubError>;
    /// Deletes a comment; one that is already gone counts as deleted.
    async fn delete_comment(&self, repo: &RepoRef, id: u64) -> Result<(), GithubError>;
    /// Hides a comment (GraphQL `minimizeComment`), e.g. with `OUTDATED`.
    async fn minimize_comment(&self, node_id: &str, classifier: &str) -> Result<(), GithubError>;
    async fn get_pull(&self, pr: &PrTarget) -> Result<PullInfo, GithubError>;
    /// The repository's open pull requests (every page).
    async fn open_pulls(&self, repo: &RepoRef) -> Result<Vec<PullInfo>, GithubError>;
    /// Re-runs a workflow run (GitHub queues all of its jobs again).
    async fn rerun_workflow_run(&self, repo: &RepoRef, run_id: u64) -> Result<(), GithubError>;
    /// Creates a check run and returns its id.
    async fn create_check_run(
        &self,
        repo: &RepoRef,
        run: &CheckRunRequest,
    ) -> Result<u64, GithubError>;
    /// Not called by a command yet: kept for the runner (issue 8), whose
    /// check run follows the journal from `in_progress` to its conclusion.
    /// Tested against the fake in `tests/it/github_client.rs`.
    async fn update_check_run(
        &self,
        repo: &RepoRef,
        id: u64,
        run: &CheckRunRequest,
    ) -> Result<(), GithubError>;
    /// The environment, or `None` when it does not exist.
    async fn get_environment(
        &self,
        repo: &RepoRef,
        name: &str,
    ) -> Result<Option<EnvironmentInfo>, GithubError>;
    async fn put_environment(
        &self,
        repo: &RepoRef,
        name: &str,
        update: &EnvironmentUpdate,
    ) -> Result<(), GithubError>;
    async fn run_approvals(
        &self,
        repo: &RepoRef,
        run_id: u64,
    ) -> Result<Vec<RunApproval>, GithubError>;
    /// `admin`, `maintain`, `write`, `triage`, `read` or `none`.
    async fn collaborator_permission(
        &self,
        repo: &RepoRef,
        user: &str,
    ) -> Result<String, GithubError>;
    async fn user_id(&self, login: &str) -> Result<u64, GithubError>;
    async fn team_id(&self, org: &str, slug: &str) -> Result<u64, GithubError>;
    // The issue calls below are not called by a command yet: they are kept
    // for drift (issue 9), which opens, updates and closes one issue per
    // project and environment. Tested against the fake in
    // `tests/it/github_client.rs`.
    async fn create_issue(
        &self,
        repo: &RepoRef,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<Issue, GithubError>;
    async fn update_issue(
        &self,
        repo: &RepoRef,
        number: u64,
        update: &IssueUpdate,
    ) -> Result<Issue, GithubError>;
    /// Adds `logins` to an issue's assignees (those already there stay).
    /// GitHub silently leaves out a login it cannot assign, so adding one
    /// again, or one without access, changes nothing.
    async fn add_assignees(
        &self,
        repo: &RepoRef,
        number: u64,
        logins: &[String],
    ) -> Result<(), GithubError>;
    /// Issues (not PRs) with all of `labels`, in `state` (`open`, `closed`, `all`).
    async fn list_issues(
        &self,
        repo: &RepoRef,
        labels: &[String],
        state: &str,
    ) -> Result<Vec<Issue>, GithubError>;

    // Git Data: the `github` store writes objects, then moves a ref by
    // compare-and-swap. Objects are content-addressed, so creating one again
    // after an uncertain outcome creates nothing new.

    /// The SHA `name` (`phasegate/...`, without `refs/`) points at, or `None`.
    async fn get_ref(&self, repo: &RepoRef, name: &str) -> Result<Option<String>, GithubError>;
    /// Every ref whose name (without `refs/`) starts with `prefix`.
    async fn matching_refs(&self, repo: &RepoRef, prefix: &str)
        -> Result<Vec<GitRef>, GithubError>;
    /// Creates `refs/<name>` at `sha`; [`RefWrite::Lost`] when it exists.
    async fn create_ref(
        &self,
        repo: &RepoRef,
        name: &str,
        sha: &str,
    ) -> Result<RefWrite, GithubError>;
    /// Moves `refs/<name>` to `sha` only as a fast-forward (never forced);
    /// [`RefWrite::Lost`] when the ref moved elsewhere or is gone.
    async fn update_ref(
        &self,
        repo: &RepoRef,
        name: &str,
        sha: &str,
    ) -> Result<RefWrite, GithubError>;
    /// Stores bytes as a blob; returns its SHA.
    async fn create_blob(&self, repo: &RepoRef, bytes: &[u8]) -> Result<String, GithubError>;
    async fn get_blob(&self, repo: &RepoRef, sha: &str) -> Result<Vec<u8>, GithubError>;
    /// A flat tree of `entries`; returns its SHA.
    async fn create_tree(
        &self,
        repo: &RepoRef,
        entries: &[TreeEntry],
    ) -> Result<String, GithubError>;
    async fn get_tree(&self, repo: &RepoRef, sha: &str) -> Result<Vec<TreeEntry>, GithubError>;
    /// A flat tree of one file, `path`, holding `text`, sent inline with the
    /// tree: one content-creating request where a blob and a tree are two.
    async fn create_text_tree(
        &self,
        repo: &RepoRef,
        path: &str,
        text: &str,
    ) -> Result<String, GithubError>;
    /// The bytes of the file `path` in `commit`'s tree, in one request where
    /// commit, tree and blob are three (a file over GitHub's 1 MB limit for
    /// inline contents costs a second request, for its blob).
    async fn get_file_at(
        &self,
        repo: &RepoRef,
        path: &str,
        commit: &str,
    ) -> Result<Vec<u8>, GithubError>;
    /// A commit of `tree` on `parents`, authored as the token's identity.
    async fn create_commit(
        &self,
        repo: &RepoRef,
        message: &str,
        tree: &str,
        parents: &[String],
    ) -> Result<String, GithubError>;
    async fn get_commit(&self, repo: &RepoRef, sha: &str) -> Result<GitCommit, GithubError>;

    /// The workflow run, or `None` when the repository has no such run.
    async fn workflow_run(
        &self,
        repo: &RepoRef,
        run_id: u64,
    ) -> Result<Option<WorkflowRun>, GithubError>;
    /// The pull requests `sha` belongs to (as head, or as merge commit).
    async fn commit_pulls(&self, repo: &RepoRef, sha: &str)
        -> Result<Vec<CommitPull>, GithubError>;

    /// Makes sure the repository has the label `name` (created with `color`,
    /// six hex digits, and `description` when missing; an existing label is
    /// left as it is).
    async fn ensure_label(
        &self,
        repo: &RepoRef,
        name: &str,
        color: &str,
        description: &str,
    ) -> Result<(), GithubError>;
}
