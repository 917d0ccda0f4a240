//! An in-process fake of GitHub's REST API (and the GraphQL operations
//! phasegate uses: `minimizeComment` and the `viewer`'s login) that keeps state and checks every request against GitHub's
//! OpenAPI description, and holds its own successful answers to the response
//! schemas there, so the client is tested against GitHub-shaped data.
//!
//! Tests seed it (`add_repo`, `add_token`, ...), point a client at
//! [`FakeHub::url`], then read what happened (`comments`, `requests`). Any
//! request the description does not allow is recorded as a violation, and
//! dropping the hub panics when there were any, so a test cannot pass while
//! speaking a dialect GitHub would reject.
// The description-shaped answers are large `json!` literals.
#![recursion_limit = "256"]

mod git;
mod handlers;
mod history;
mod model;
pub mod peer;
pub mod spec;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

use model::State;
pub use model::{BranchPolicy, EnvSpec, Reviewer};

/// What kind of token a test hands to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A personal or OAuth token: acts as its user, may call `GET /user`.
    User,
    /// A GitHub App installation token (the default `GITHUB_TOKEN`): acts as
    /// `github-actions[bot]` and cannot call `GET /user`. Tokens of other
    /// apps are added with [`FakeHub::add_app_token`].
    Installation,
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: String,
    /// Whether `X-GitHub-Api-Version: 2022-11-28` was sent.
    pub api_version: bool,
    /// The `Authorization` header, so tests can check how a token travelled.
    pub authorization: Option<String>,
    /// The status answered (0 until answered, or when the connection was dropped).
    pub status: u16,
    /// Whether `If-None-Match` was sent (a conditional request).
    pub conditional: bool,
    /// The hub's sequence number of this request.
    pub seq: u64,
}

impl Request {
    /// Whether GitHub counts this request against the secondary limit on
    /// content creation: a `POST`, `PATCH`, `PUT` or `DELETE` (GraphQL
    /// queries are not; `minimizeComment`, a mutation, is).
    pub fn content_creating(&self) -> bool {
        match self.method.as_str() {
            "POST" if self.path.ends_with("/graphql") => self.body.contains("mutation"),
            "POST" | "PATCH" | "PUT" | "DELETE" => true,
            _ => false,
        }
    }

    /// Whether GitHub counts it against the primary (hourly) limit: every
    /// request but a `304 Not Modified` answer to a conditional one.
    pub fn counted(&self) -> bool {
        self.status != 304
    }

    /// The token sent, without its scheme.
    pub fn token(&self) -> Option<&str> {
        let a = self.authorization.as_deref()?;
        a.strip_prefix("Bearer ")
            .or_else(|| a.strip_prefix("token "))
    }
}

/// What one token (one job: GitHub mints a token per job) cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Every request sent.
    pub total: u64,
    /// `POST`/`PATCH`/`PUT`/`DELETE`: the secondary limit's content creation.
    pub content_creating: u64,
    /// `304 Not Modified` answers, which the primary limit does not count.
    pub not_modified: u64,
}

impl Usage {
    /// What the primary limit counts: every request but the 304s.
    pub fn counted(&self) -> u64 {
        self.total - self.not_modified
    }

    pub fn add(&mut self, other: Usage) {
        self.total += other.total;
        self.content_creating += other.content_creating;
        self.not_modified += other.not_modified;
    }
}

/// A failure to inject into matching requests.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: Option<&'static str>,
    pub path_prefix: String,
    pub kind: FaultKind,
    /// How many matching requests fail; then the fault is spent.
    pub times: u32,
}

#[derive(Debug, Clone)]
pub enum FaultKind {
    /// A bare 5xx.
    Status(u16),
    /// 403 with `retry-after` and GitHub's secondary-rate-limit message.
    SecondaryRateLimit { retry_after_secs: u64 },
    /// 429 with `retry-after`.
    RateLimit429 { retry_after_secs: u64 },
    /// 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset`.
    PrimaryRateLimit { reset_in_secs: u64 },
    /// Answer normally after a delay.
    Slow(Duration),
    /// Close the connection without a complete response.
    Drop,
    /// Carry the request out, then answer with this status instead: a write
    /// that happened although the client saw it fail.
    StatusAfterApplying(u16),
}

/// The fake server. Runs on its own runtime thread until dropped.
pub struct FakeHub {
    url: String,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FakeHub {
    /// Binds 127.0.0.1 on a free port and serves on a background thread.
    pub fn start() -> FakeHub {
        // Parse the description before the first request so a slow parse
        // never looks like a slow server to a client with a timeout.
        let _ = spec::spec();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("fakehub: bind");
        listener
            .set_nonblocking(true)
            .expect("fakehub: nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let state = Arc::new(Mutex::new(State::new(url.clone())));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = handlers::router(state.clone());
        std::thread::Builder::new()
            .name("fakehub".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("fakehub: runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("fakehub: listener");
                    tokio::select! {
                        r = axum::serve(
                            listener,
                            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
                        ) => r.expect("fakehub: serve"),
                        _ = rx => {}
                    }
                });
                rt.shutdown_background();
            })
            .expect("fakehub: thread");
        FakeHub {
            url,
            state,
            shutdown: Some(tx),
        }
    }

    /// The REST base URL (use as `GITHUB_API_URL`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The GraphQL endpoint (use as `GITHUB_GRAPHQL_URL`).
    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.url)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add_repo(&self, owner: &str, name: &str) {
        self.state().add_repo(owner, name);
    }

    pub fn add_pull(&self, owner: &str, repo: &str, number: u64, author: &str, head_sha: &str) {
        self.state().add_pull(owner, repo, number, author, head_sha);
    }

    /// Registers a token. `permissions` are installation permissions such as
    /// `("pull_requests", "write")`; user tokens ignore them.
    pub fn add_token(
        &self,
        token: &str,
        login: &str,
        kind: TokenKind,
        permissions: &[(&str, &str)],
    ) {
        self.state().add_token(token, login, kind, permissions);
    }

    /// Registers an installation token of the GitHub App `slug` (a token made
    /// with the app's key, not the default `GITHUB_TOKEN`): it acts as
    /// `<slug>[bot]`, cannot call `GET /user`, and its comments are
    /// `performed_via_github_app` that app.
    pub fn add_app_token(&self, token: &str, slug: &str, permissions: &[(&str, &str)]) {
        self.state().add_app_token(token, slug, permissions);
    }

    pub fn set_permission(&self, owner: &str, repo: &str, user: &str, permission: &str) {
        self.state().set_permission(owner, repo, user, permission);
    }

    pub fn add_team(&self, org: &str, slug: &str) {
        self.state().team_id(org, slug);
    }

    pub fn add_environment(&self, owner: &str, repo: &str, name: &str, spec: EnvSpec) {
        self.state().add_environment(owner, repo, name, spec);
    }

    /// Seeds the review log of a workflow run: `(environment, approver,
    /// timestamp, state)` with state `approved`, `rejected` or `pending`.
    pub fn add_run_approvals(
        &self,
        owner: &str,
        repo: &str,
        run_id: u64,
        approvals: Vec<(&str, &str, &str, &str)>,
    ) {
        self.state()
            .add_run_approvals(owner, repo, run_id, approvals);
    }

    /// Adds a comment as `author`, as if posted outside the client under test.
    pub fn add_comment(
        &self,
        owner: &str,
        repo: &str,
        issue: u64,
        author: &str,
        body: &str,
    ) -> u64 {
        self.state().add_comment(owner, repo, issue, author, body)
    }

    /// Seeds a commit so ref updates can tell fast-forwards apart.
    pub fn add_commit(&self, owner: &str, repo: &str, sha: &str, parents: &[&str]) {
        self.state().add_commit(owner, repo, sha, parents);
    }

    /// Sets a git ref (`heads/main`) directly.
    pub fn set_ref(&self, owner: &str, repo: &str, name: &str, sha: &str) {
        self.state().set_ref(owner, repo, name, sha);
    }

    pub fn git_ref(&self, owner: &str, repo: &str, name: &str) -> Option<String> {
        self.state().get_ref(owner, repo, name)
    }

    /// Every ref under `prefix` (`phasegate/`), without `refs/`, with its SHA.
    pub fn git_refs(&self, owner: &str, repo: &str, prefix: &str) -> Vec<(String, String)> {
        self.state()
            .refs
            .iter()
            .filter(|((o, r, n), _)| o == owner && r == repo && n.starts_with(prefix))
            .map(|((_, _, n), sha)| (n.clone(), sha.clone()))
            .collect()
    }

    /// Seeds a workflow run with its status (`in_progress`, `completed`, ...)
    /// and, once completed, its conclusion.
    pub fn set_run(
        &self,
        owner: &str,
        repo: &str,
        run_id: u64,
        status: &str,
        conclusion: Option<&str>,
    ) {
        let mut st = self.state();
        let created = st.tick();
        st.history.runs.insert(
            (owner.into(), repo.into(), run_id),
            history::WorkflowRun {
                status: status.into(),
                conclusion: conclusion.map(str::to_owned),
                created,
            },
        );
    }

    /// Marks pull request `number` merged into `base` as `merge_commit_sha`.
    pub fn merge_pull(
        &self,
        owner: &str,
        repo: &str,
        number: u64,
        merge_commit_sha: &str,
        base: &str,
    ) {
        let mut st = self.state();
        let at = st.tick();
        st.history.merges.insert(
            (owner.into(), repo.into(), number),
            history::Merge {
                merge_commit_sha: merge_commit_sha.into(),
                base: base.into(),
                at,
            },
        );
    }

    /// The comments on an issue or pull request, oldest first, as JSON objects
    /// shaped like GitHub's, plus `minimized` (a fake-only field).
    pub fn comments(&self, owner: &str, repo: &str, issue: u64) -> Vec<Value> {
        self.state().comment_views(owner, repo, issue)
    }

    pub fn check_runs(&self, owner: &str, repo: &str) -> Vec<Value> {
        self.state().check_run_views(owner, repo)
    }

    pub fn issues(&self, owner: &str, repo: &str) -> Vec<Value> {
        self.state().issue_views(owner, repo)
    }

    /// Opens an issue as `author`, as if someone else had (a copy of a
    /// marker, say); returns its number.
    pub fn add_issue(
        &self,
        owner: &str,
        repo: &str,
        author: &str,
        title: &str,
        body: &str,
        labels: &[&str],
    ) -> u64 {
        self.state()
            .add_issue(owner, repo, author, title, body, labels)
    }

    /// The repository's label names, as created.
    pub fn labels(&self, owner: &str, repo: &str) -> Vec<String> {
        self.state()
            .labels
            .iter()
            .filter(|((o, r, _), _)| o == owner && r == repo)
            .map(|(_, (_, name))| name.clone())
            .collect()
    }

    /// The environment as GitHub would return it.
    pub fn environment(&self, owner: &str, repo: &str, name: &str) -> Option<Value> {
        self.state().environment_view(owner, repo, name)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }

    /// What each token's requests cost, by token: on GitHub each job has
    /// its own token, so this is the cost per job.
    pub fn usage_by_token(&self) -> BTreeMap<String, Usage> {
        let mut out: BTreeMap<String, Usage> = BTreeMap::new();
        for r in &self.state().requests {
            let u = out.entry(r.token().unwrap_or("").to_owned()).or_default();
            u.add(usage_of(r));
        }
        out
    }

    /// What every request recorded cost, together.
    pub fn usage(&self) -> Usage {
        let mut u = Usage::default();
        for r in &self.state().requests {
            u.add(usage_of(r));
        }
        u
    }

    /// Answers as GitHub does once a token's primary budget is spent: each
    /// answer carries `x-ratelimit-limit`/`-remaining`/`-used`/`-reset`
    /// (always, this only sets the limit), and with `enforce` a request past
    /// it gets 403 with `x-ratelimit-remaining: 0`. The budget is shared by
    /// every token of the hub, as `GITHUB_TOKEN`'s is per repository.
    pub fn set_rate_limit(&self, limit: u64, enforce: bool) {
        let mut st = self.state();
        st.rate_limit = limit;
        st.enforce_rate_limit = enforce;
    }

    pub fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    /// Returns and forgets the violations, for tests that provoke them on purpose.
    pub fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut self.state().violations)
    }

    /// Forgets recorded requests (seeding and warm-up traffic).
    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }

    /// Lowers the body limit (65,536 characters, as on GitHub) so a test can
    /// make the server refuse a body the client thought would fit.
    pub fn set_body_limit(&self, chars: usize) {
        self.state().body_limit = chars;
    }

    pub fn inject(&self, fault: Fault) {
        self.state().faults.push(fault);
    }

    /// Drops every injected fault, spent or not: the next request is
    /// answered normally.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// Registers the one token a runner such as nektos/act hands every job
    /// (`github.token`). It acts as `github-actions[bot]` with the
    /// permissions of the job the request comes from: see
    /// [`FakeHub::set_job_permissions`] and [`peer`]. A request from no
    /// registered job is refused (403).
    pub fn add_runner_token(&self, token: &str) {
        let mut st = self.state();
        st.add_token(token, "", TokenKind::Installation, &[]);
        if let Some(t) = st.tokens.get_mut(token) {
            t.per_job = true;
        }
    }

    /// The permissions GitHub would give the token of job `job` of the
    /// workflow named `workflow`, as installation permissions
    /// (`("pull_requests", "write")`).
    pub fn set_job_permissions(&self, workflow: &str, job: &str, permissions: &[(&str, &str)]) {
        self.state().job_permissions.insert(
            peer::JobId {
                workflow: workflow.to_owned(),
                job: job.to_owned(),
            },
            permissions
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
    }

    /// The GitHub environment job `job` of workflow `workflow` deploys to
    /// (its `environment:`), so a scripted review knows when it is due.
    pub fn set_job_environment(&self, workflow: &str, job: &str, environment: &str) {
        self.state().job_environments.insert(
            peer::JobId {
                workflow: workflow.to_owned(),
                job: job.to_owned(),
            },
            environment.to_owned(),
        );
    }

    /// A review `user` gives (`approved` or `rejected`) to environment
    /// `environment` in run `run_id` once a job of that run deploying to it
    /// reaches the gate: the first time such a job (traced through the
    /// runner token) lists the run's reviews, timestamped then. A runner that
    /// does not pause at environment gates (nektos/act) gets its reviews
    /// after the plans they approve, as on GitHub.
    pub fn script_review(
        &self,
        owner: &str,
        repo: &str,
        run_id: u64,
        environment: &str,
        user: &str,
        state: &str,
    ) {
        let mut st = self.state();
        st.user_id(user);
        st.scripted_reviews.push((
            owner.into(),
            repo.into(),
            run_id,
            environment.into(),
            user.into(),
            state.into(),
        ));
    }

    /// Requests refused with 403 for want of a permission, oldest first:
    /// method, path, the job a runner token came from, and what GitHub
    /// would have accepted.
    pub fn denied(&self) -> Vec<Value> {
        self.state().denied.clone()
    }

    /// Everything a test reads afterwards, as one JSON object: the comments
    /// of every issue and pull request (by number), issues, check runs,
    /// refs with the files their commits hold (the journal), environments,
    /// refused requests and description violations.
    pub fn dump(&self, owner: &str, repo: &str) -> Value {
        let st = self.state();
        let mut comments: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for c in st
            .comments
            .iter()
            .filter(|c| c.owner == owner && c.repo == repo)
        {
            comments
                .entry(c.issue.to_string())
                .or_default()
                .push(st.comment_json(c));
        }
        let refs: serde_json::Map<String, Value> = st
            .refs
            .iter()
            .filter(|((o, r, _), _)| o == owner && r == repo)
            .map(|((_, _, name), sha)| {
                let files = st.commit_files(owner, repo, sha);
                (
                    name.clone(),
                    serde_json::json!({"sha": sha, "files": files}),
                )
            })
            .collect();
        let environments: serde_json::Map<String, Value> = st
            .environment_names(owner, repo)
            .into_keys()
            .filter_map(|n| st.environment_view(owner, repo, &n).map(|v| (n, v)))
            .collect();
        serde_json::json!({
            "comments": comments,
            "issues": st.issue_views(owner, repo),
            "check_runs": st.check_run_views(owner, repo),
            "refs": refs,
            "environments": environments,
            "denied": st.denied,
            "violations": st.violations,
            "requests": st.requests.len(),
            "request_log": st.requests.iter().map(|r| format!("{} {}", r.method, r.path)).collect::<Vec<_>>(),
        })
    }

    /// A repository's environments: name → id.
    pub fn environment_names(&self, owner: &str, repo: &str) -> BTreeMap<String, u64> {
        self.state().environment_names(owner, repo)
    }
}

fn usage_of(r: &Request) -> Usage {
    Usage {
        total: 1,
        content_creating: u64::from(r.content_creating()),
        not_modified: u64::from(r.status == 304),
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let violations = self.violations();
        if !violations.is_empty() && !std::thread::panicking() {
            panic!(
                "fakehub: {} request(s) GitHub's OpenAPI description does not allow:\n{}",
                violations.len(),
                violations.join("\n")
            );
        }
    }
}
