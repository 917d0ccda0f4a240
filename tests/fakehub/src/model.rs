//! The fake's state and the JSON views of it, shaped as GitHub's description
//! says.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use crate::{Fault, Request, TokenKind};

/// A required reviewer of an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reviewer {
    User(String),
    /// `(org, slug)`
    Team(String, String),
}

/// `deployment_branch_policy` of an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BranchPolicy {
    pub protected_branches: bool,
    pub custom_branch_policies: bool,
}

/// How an environment is protected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvSpec {
    pub reviewers: Vec<Reviewer>,
    pub prevent_self_review: bool,
    pub wait_timer: u32,
    pub branch_policy: Option<BranchPolicy>,
}

pub(crate) struct Token {
    pub login: String,
    pub kind: TokenKind,
    pub permissions: HashMap<String, String>,
    /// A runner's one token for every job: its permissions are those of the
    /// job the connection comes from (`job_permissions`), not its own.
    pub per_job: bool,
}

pub(crate) struct Comment {
    pub id: u64,
    pub owner: String,
    pub repo: String,
    pub issue: u64,
    pub author: String,
    pub author_kind: &'static str,
    pub body: String,
    pub created: u64,
    pub updated: u64,
    pub minimized: Option<String>,
    /// The app a bot's comment was `performed_via_github_app`.
    pub via_app: Option<String>,
}

pub(crate) struct Issue {
    pub owner: String,
    pub repo: String,
    pub number: u64,
    pub author: String,
    pub title: String,
    pub body: Option<String>,
    pub state: String,
    pub labels: Vec<String>,
    /// Logins, in the order they were assigned.
    pub assignees: Vec<String>,
    pub pull_head: Option<String>,
    pub created: u64,
}

pub(crate) struct Environment {
    pub id: u64,
    pub spec: EnvSpec,
    pub created: u64,
}

/// `(environment, approver, timestamp, state)` in a run's review log.
pub(crate) type RunApproval = (String, String, String, String);

pub(crate) struct State {
    pub base: String,
    clock: u64,
    next_id: u64,
    pub repos: BTreeMap<(String, String), u64>,
    pub tokens: HashMap<String, Token>,
    pub users: BTreeMap<String, u64>,
    pub teams: BTreeMap<(String, String), u64>,
    pub comments: Vec<Comment>,
    pub issues: Vec<Issue>,
    pub check_runs: Vec<(String, String, Value)>,
    pub environments: BTreeMap<(String, String, String), Environment>,
    pub approvals: BTreeMap<(String, String, u64), Vec<RunApproval>>,
    pub permissions: HashMap<(String, String, String), String>,
    pub refs: BTreeMap<(String, String, String), String>,
    pub commits: HashMap<(String, String, String), Vec<String>>,
    pub git: crate::git::GitDb,
    pub history: crate::history::History,
    pub requests: Vec<Request>,
    /// The sequence number of the last request received.
    pub request_seq: u64,
    /// The primary budget (per hour) every answer reports; see `set_rate_limit`.
    pub rate_limit: u64,
    /// Whether a request past `rate_limit` is refused.
    pub enforce_rate_limit: bool,
    /// Requests counted against `rate_limit` (304s are not).
    pub rate_used: u64,
    pub violations: Vec<String>,
    pub faults: Vec<Fault>,
    /// Longest comment or issue body accepted, in characters.
    pub body_limit: usize,
    /// Repository labels: (owner, repo, lower-cased name) → (id, name as created).
    pub labels: BTreeMap<(String, String, String), (u64, String)>,
    /// Each workflow job's `permissions:`, as installation permissions.
    pub job_permissions: BTreeMap<crate::peer::JobId, HashMap<String, String>>,
    /// Requests refused for want of a permission (403), for tests to read.
    pub denied: Vec<Value>,
    /// Which job each client port was traced to, by the socket's inode.
    pub peers: HashMap<u16, (u64, Option<crate::peer::JobId>)>,
    /// The GitHub environment each workflow job deploys to (`environment:`).
    pub job_environments: BTreeMap<crate::peer::JobId, String>,
    /// Reviews a person will give when a job of the run reaches the
    /// environment's gate: `(owner, repo, run, environment, user, state)`.
    pub scripted_reviews: Vec<(String, String, u64, String, String, String)>,
}

pub(crate) const BOT: &str = "github-actions[bot]";

/// The app slug behind a bot login (`deployer[bot]` → `deployer`): every
/// comment a GitHub App's installation token posts is performed via it.
pub(crate) fn app_of(login: &str) -> Option<String> {
    login
        .strip_suffix("[bot]")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The wall clock in GitHub's form (`2026-01-01T00:00:00Z`), for what a
/// client compares with its own clock (a review given after its plan).
pub(crate) fn wall_clock() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // The civil date of a day count since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// A deterministic clock: each write moves time by one second.
pub(crate) fn timestamp(t: u64) -> String {
    format!(
        "2026-01-{:02}T{:02}:{:02}:{:02}Z",
        1 + t / 86_400,
        (t / 3600) % 24,
        (t / 60) % 60,
        t % 60
    )
}

impl State {
    pub fn new(base: String) -> State {
        State {
            base,
            clock: 0,
            next_id: 1000,
            repos: BTreeMap::new(),
            tokens: HashMap::new(),
            users: BTreeMap::new(),
            teams: BTreeMap::new(),
            comments: Vec::new(),
            issues: Vec::new(),
            check_runs: Vec::new(),
            environments: BTreeMap::new(),
            approvals: BTreeMap::new(),
            permissions: HashMap::new(),
            refs: BTreeMap::new(),
            commits: HashMap::new(),
            git: Default::default(),
            history: Default::default(),
            requests: Vec::new(),
            request_seq: 0,
            rate_limit: 5_000,
            enforce_rate_limit: false,
            rate_used: 0,
            violations: Vec::new(),
            faults: Vec::new(),
            body_limit: 65_536,
            labels: BTreeMap::new(),
            job_permissions: BTreeMap::new(),
            denied: Vec::new(),
            peers: HashMap::new(),
            job_environments: BTreeMap::new(),
            scripted_reviews: Vec::new(),
        }
    }

    pub fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    pub fn user_id(&mut self, login: &str) -> u64 {
        if let Some(id) = self.users.get(login) {
            return *id;
        }
        let id = self.id();
        self.users.insert(login.to_owned(), id);
        id
    }

    pub fn team_id(&mut self, org: &str, slug: &str) -> u64 {
        let key = (org.to_owned(), slug.to_owned());
        if let Some(id) = self.teams.get(&key) {
            return *id;
        }
        let id = self.id();
        self.teams.insert(key, id);
        id
    }

    pub fn add_repo(&mut self, owner: &str, name: &str) {
        let id = self.id();
        self.user_id(owner);
        self.repos.insert((owner.to_owned(), name.to_owned()), id);
    }

    pub fn has_repo(&self, owner: &str, name: &str) -> bool {
        self.repos
            .contains_key(&(owner.to_owned(), name.to_owned()))
    }

    pub fn add_pull(&mut self, owner: &str, repo: &str, number: u64, author: &str, head: &str) {
        self.user_id(author);
        let created = self.tick();
        self.issues.push(Issue {
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            number,
            author: author.to_owned(),
            title: format!("Pull request {number}"),
            body: None,
            state: "open".into(),
            labels: Vec::new(),
            assignees: Vec::new(),
            pull_head: Some(head.to_owned()),
            created,
        });
    }

    /// Issues and pull requests share one sequence per repository.
    pub fn next_issue_number(&self, owner: &str, repo: &str) -> u64 {
        self.issues
            .iter()
            .filter(|i| i.owner == owner && i.repo == repo)
            .map(|i| i.number)
            .max()
            .unwrap_or(0)
            + 1
    }

    pub fn add_issue(
        &mut self,
        owner: &str,
        repo: &str,
        author: &str,
        title: &str,
        body: &str,
        labels: &[&str],
    ) -> u64 {
        self.user_id(author);
        let created = self.tick();
        let number = self.next_issue_number(owner, repo);
        self.issues.push(Issue {
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            number,
            author: author.to_owned(),
            title: title.to_owned(),
            body: Some(body.to_owned()),
            state: "open".into(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            assignees: Vec::new(),
            pull_head: None,
            created,
        });
        number
    }

    pub fn add_token(&mut self, token: &str, login: &str, kind: TokenKind, perms: &[(&str, &str)]) {
        let login = match kind {
            TokenKind::User => login.to_owned(),
            TokenKind::Installation => BOT.to_owned(),
        };
        self.add_token_as(token, &login, kind, perms);
    }

    /// An installation token of the GitHub App `slug`: it acts as
    /// `<slug>[bot]`.
    pub fn add_app_token(&mut self, token: &str, slug: &str, perms: &[(&str, &str)]) {
        self.add_token_as(
            token,
            &format!("{slug}[bot]"),
            TokenKind::Installation,
            perms,
        );
    }

    fn add_token_as(&mut self, token: &str, login: &str, kind: TokenKind, perms: &[(&str, &str)]) {
        let login = login.to_owned();
        self.user_id(&login);
        self.tokens.insert(
            token.to_owned(),
            Token {
                login,
                kind,
                permissions: perms
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                per_job: false,
            },
        );
    }

    pub fn set_permission(&mut self, owner: &str, repo: &str, user: &str, perm: &str) {
        self.user_id(user);
        self.permissions
            .insert((owner.into(), repo.into(), user.into()), perm.into());
    }

    /// A user's role on a repository: the owner is admin, others have what
    /// was set (or none).
    pub fn permission(&self, owner: &str, repo: &str, user: &str) -> String {
        if let Some(p) = self
            .permissions
            .get(&(owner.into(), repo.into(), user.into()))
        {
            return p.clone();
        }
        if user == owner {
            "admin".into()
        } else {
            "none".into()
        }
    }

    pub fn add_environment(&mut self, owner: &str, repo: &str, name: &str, spec: EnvSpec) {
        for r in &spec.reviewers {
            match r {
                Reviewer::User(u) => {
                    self.user_id(u);
                }
                Reviewer::Team(o, s) => {
                    self.team_id(o, s);
                }
            }
        }
        let id = self.id();
        let created = self.tick();
        self.environments.insert(
            (owner.into(), repo.into(), name.into()),
            Environment { id, spec, created },
        );
    }

    pub fn environment_names(&self, owner: &str, repo: &str) -> BTreeMap<String, u64> {
        self.environments
            .iter()
            .filter(|((o, r, _), _)| o == owner && r == repo)
            .map(|((_, _, n), e)| (n.clone(), e.id))
            .collect()
    }

    pub fn add_run_approvals(
        &mut self,
        owner: &str,
        repo: &str,
        run: u64,
        approvals: Vec<(&str, &str, &str, &str)>,
    ) {
        for (_, who, _, _) in &approvals {
            self.user_id(who);
        }
        self.approvals
            .entry((owner.into(), repo.into(), run))
            .or_default()
            .extend(
                approvals
                    .into_iter()
                    .map(|(e, w, t, s)| (e.into(), w.into(), t.into(), s.into())),
            );
    }

    pub fn add_comment(
        &mut self,
        owner: &str,
        repo: &str,
        issue: u64,
        author: &str,
        body: &str,
    ) -> u64 {
        self.user_id(author);
        let kind = if author.ends_with("[bot]") {
            "Bot"
        } else {
            "User"
        };
        self.insert_comment(owner, repo, issue, author, kind, body)
    }

    pub fn insert_comment(
        &mut self,
        owner: &str,
        repo: &str,
        issue: u64,
        author: &str,
        author_kind: &'static str,
        body: &str,
    ) -> u64 {
        let id = self.id();
        let t = self.tick();
        self.comments.push(Comment {
            id,
            owner: owner.into(),
            repo: repo.into(),
            issue,
            author: author.into(),
            author_kind,
            body: body.into(),
            created: t,
            updated: t,
            minimized: None,
            via_app: app_of(author),
        });
        id
    }

    pub fn add_commit(&mut self, owner: &str, repo: &str, sha: &str, parents: &[&str]) {
        self.commits.insert(
            (owner.into(), repo.into(), sha.into()),
            parents.iter().map(|p| (*p).to_owned()).collect(),
        );
    }

    pub fn is_ancestor(&self, owner: &str, repo: &str, ancestor: &str, of: &str) -> bool {
        let mut stack = vec![of.to_owned()];
        let mut seen = std::collections::HashSet::new();
        while let Some(c) = stack.pop() {
            if c == ancestor {
                return true;
            }
            if !seen.insert(c.clone()) {
                continue;
            }
            if let Some(ps) = self.commits.get(&(owner.into(), repo.into(), c)) {
                stack.extend(ps.iter().cloned());
            }
        }
        false
    }

    pub fn set_ref(&mut self, owner: &str, repo: &str, name: &str, sha: &str) {
        self.refs
            .insert((owner.into(), repo.into(), name.into()), sha.into());
    }

    pub fn get_ref(&self, owner: &str, repo: &str, name: &str) -> Option<String> {
        self.refs
            .get(&(owner.into(), repo.into(), name.into()))
            .cloned()
    }

    /// The files of a commit's (flat) tree, as text, by path.
    pub fn commit_files(&self, owner: &str, repo: &str, sha: &str) -> BTreeMap<String, String> {
        let Some(commit) = self.git.commit(owner, repo, sha) else {
            return BTreeMap::new();
        };
        self.git
            .tree(owner, repo, &commit.tree)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| {
                        let blob = self.git.blob(owner, repo, &e.sha)?;
                        Some((e.path.clone(), String::from_utf8_lossy(blob).into_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn user_json(&self, login: &str) -> Value {
        let id = self.users.get(login).copied().unwrap_or(0);
        let kind = if login.ends_with("[bot]") {
            "Bot"
        } else {
            "User"
        };
        let api = format!("{}/users/{login}", self.base);
        json!({
            "login": login, "id": id, "node_id": format!("U_{id}"),
            "avatar_url": format!("https://avatars.example/{id}"), "gravatar_id": "",
            "url": api, "html_url": format!("https://github.example/{login}"),
            "followers_url": format!("{api}/followers"),
            "following_url": format!("{api}/following{{/other_user}}"),
            "gists_url": format!("{api}/gists{{/gist_id}}"),
            "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
            "subscriptions_url": format!("{api}/subscriptions"),
            "organizations_url": format!("{api}/orgs"), "repos_url": format!("{api}/repos"),
            "events_url": format!("{api}/events{{/privacy}}"),
            "received_events_url": format!("{api}/received_events"),
            "type": kind, "site_admin": false
        })
    }

    /// A user as `GET /user` and `GET /users/{username}` show one: the
    /// simple user plus the profile fields the description requires.
    pub fn profile_json(&self, login: &str) -> Value {
        let mut user = self.user_json(login);
        let profile = json!({
            "name": null, "company": null, "blog": "", "location": null, "email": null,
            "hireable": null, "bio": null, "public_repos": 0, "public_gists": 0,
            "followers": 0, "following": 0,
            "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z"
        });
        if let (Some(u), Some(p)) = (user.as_object_mut(), profile.as_object()) {
            u.extend(p.clone());
        }
        user
    }

    pub fn comment_json(&self, c: &Comment) -> Value {
        let url = format!(
            "{}/repos/{}/{}/issues/comments/{}",
            self.base, c.owner, c.repo, c.id
        );
        let mut user = self.user_json(&c.author);
        user["type"] = json!(c.author_kind);
        json!({
            "id": c.id, "node_id": format!("IC_{}", c.id), "url": url,
            "html_url": format!("https://github.example/{}/{}/pull/{}#issuecomment-{}", c.owner, c.repo, c.issue, c.id),
            "body": c.body, "user": user,
            "created_at": timestamp(c.created), "updated_at": timestamp(c.updated),
            "issue_url": format!("{}/repos/{}/{}/issues/{}", self.base, c.owner, c.repo, c.issue),
            "author_association": "MEMBER",
            "performed_via_github_app": c.via_app.as_deref().map(|a| self.app_json(a)),
            "minimized": c.minimized,
        })
    }

    /// A GitHub App as the description's `integration` shows one.
    pub fn app_json(&self, slug: &str) -> Value {
        let id = self
            .users
            .get(&format!("{slug}[bot]"))
            .copied()
            .unwrap_or(0);
        json!({
            "id": id, "slug": slug, "node_id": format!("A_{id}"), "client_id": format!("Iv1.{id}"),
            "owner": self.user_json("app-owner"), "name": slug, "description": null,
            "external_url": format!("https://{slug}.example"),
            "html_url": format!("https://github.example/apps/{slug}"),
            "created_at": timestamp(0), "updated_at": timestamp(0),
            "permissions": {"issues": "write", "pull_requests": "write", "checks": "write"},
            "events": [],
        })
    }

    pub fn comment_views(&self, owner: &str, repo: &str, issue: u64) -> Vec<Value> {
        self.comments
            .iter()
            .filter(|c| c.owner == owner && c.repo == repo && c.issue == issue)
            .map(|c| self.comment_json(c))
            .collect()
    }

    pub fn issue_json(&self, i: &Issue) -> Value {
        let url = format!(
            "{}/repos/{}/{}/issues/{}",
            self.base, i.owner, i.repo, i.number
        );
        json!({
            "id": i.number + 500_000, "node_id": format!("I_{}", i.number), "url": url,
            "repository_url": format!("{}/repos/{}/{}", self.base, i.owner, i.repo),
            "labels_url": format!("{url}/labels{{/name}}"), "comments_url": format!("{url}/comments"),
            "events_url": format!("{url}/events"),
            "html_url": format!("https://github.example/{}/{}/issues/{}", i.owner, i.repo, i.number),
            "number": i.number, "state": i.state, "title": i.title, "body": i.body,
            "user": self.user_json(&i.author),
            "labels": i.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
            "assignee": i.assignees.first().map(|a| self.user_json(a)),
            "assignees": i.assignees.iter().map(|a| self.user_json(a)).collect::<Vec<_>>(),
            "milestone": null, "locked": false, "comments": 0,
            "closed_at": null, "created_at": timestamp(i.created), "updated_at": timestamp(i.created),
            "author_association": "MEMBER",
        })
    }

    pub fn issue_views(&self, owner: &str, repo: &str) -> Vec<Value> {
        self.issues
            .iter()
            .filter(|i| i.owner == owner && i.repo == repo && i.pull_head.is_none())
            .map(|i| self.issue_json(i))
            .collect()
    }

    pub fn check_run_views(&self, owner: &str, repo: &str) -> Vec<Value> {
        self.check_runs
            .iter()
            .filter(|(o, r, _)| o == owner && r == repo)
            .map(|(_, _, v)| v.clone())
            .collect()
    }

    pub fn environment_view(&self, owner: &str, repo: &str, name: &str) -> Option<Value> {
        let env = self
            .environments
            .get(&(owner.into(), repo.into(), name.into()))?;
        let mut rules = Vec::new();
        if env.spec.wait_timer > 0 {
            rules.push(json!({"id": env.id * 10 + 1, "node_id": "GA_w", "type": "wait_timer", "wait_timer": env.spec.wait_timer}));
        }
        if !env.spec.reviewers.is_empty() {
            let reviewers: Vec<Value> = env
                .spec
                .reviewers
                .iter()
                .map(|r| match r {
                    Reviewer::User(u) => json!({"type": "User", "reviewer": self.user_json(u)}),
                    Reviewer::Team(o, s) => {
                        json!({"type": "Team", "reviewer": self.team_json(o, s)})
                    }
                })
                .collect();
            rules.push(
                json!({"id": env.id * 10 + 2, "node_id": "GA_r", "type": "required_reviewers",
                "prevent_self_review": env.spec.prevent_self_review, "reviewers": reviewers}),
            );
        }
        if env.spec.branch_policy.is_some() {
            rules.push(json!({"id": env.id * 10 + 3, "node_id": "GA_b", "type": "branch_policy"}));
        }
        let policy = env.spec.branch_policy.map(|b| {
            json!({"protected_branches": b.protected_branches, "custom_branch_policies": b.custom_branch_policies})
        });
        Some(json!({
            "id": env.id, "node_id": format!("EN_{}", env.id), "name": name,
            "url": format!("{}/repos/{owner}/{repo}/environments/{name}", self.base),
            "html_url": format!("https://github.example/{owner}/{repo}/deployments/activity_log?environments_filter={name}"),
            "created_at": timestamp(env.created), "updated_at": timestamp(env.created),
            "protection_rules": rules, "deployment_branch_policy": policy,
        }))
    }

    pub fn team_json(&self, org: &str, slug: &str) -> Value {
        let id = self
            .teams
            .get(&(org.into(), slug.into()))
            .copied()
            .unwrap_or(0);
        let url = format!("{}/orgs/{org}/teams/{slug}", self.base);
        json!({
            "id": id, "node_id": format!("T_{id}"), "url": url,
            "html_url": format!("https://github.example/orgs/{org}/teams/{slug}"),
            "name": slug, "slug": slug, "type": "organization", "description": null, "privacy": "closed",
            "notification_setting": "notifications_enabled", "permission": "pull",
            "members_url": format!("{url}/members{{/member}}"),
            "repositories_url": format!("{url}/repos"), "parent": null,
            "members_count": 1, "repos_count": 1,
            "created_at": timestamp(0), "updated_at": timestamp(0),
            "organization": {"login": org, "id": 1, "node_id": "O_1", "url": format!("{}/orgs/{org}", self.base),
                "repos_url": "", "events_url": "", "hooks_url": "", "issues_url": "", "members_url": "",
                "public_members_url": "", "avatar_url": "", "description": null,
                "html_url": format!("https://github.example/{org}"), "has_organization_projects": true,
                "has_repository_projects": true, "public_repos": 1, "public_gists": 0, "followers": 0,
                "following": 0, "type": "Organization", "created_at": timestamp(0), "updated_at": timestamp(0),
                "archived_at": null},
        })
    }
}
