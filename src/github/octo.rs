//! [`Forge`] over octocrab's raw requests: we read status and headers
//! ourselves to classify failures (rate limits, missing permissions) and
//! retry only what is safe to repeat.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, Method};
use octocrab::Octocrab;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::accepted_permissions;
use super::identity::{decide, is_valid_login, ApiAnswer, IdentitySource};
use super::retry::{self, RetryPolicy};
use super::{
    BranchPolicy, CheckRunRequest, Comment, CommitPull, EnvReviewer, EnvironmentInfo,
    EnvironmentUpdate, Forge, GitCommit, GitRef, GithubError, Identity, Issue, IssueUpdate,
    PrTarget, PullInfo, RefWrite, RepoRef, ReviewerKind, RunApproval, TreeEntry, WorkflowRun,
};

const API_VERSION: &str = "2022-11-28";
/// GitHub's cap on annotations per check-run request.
const ANNOTATIONS_PER_REQUEST: usize = 50;
/// A bound on pagination, so a runaway `Link` chain cannot loop forever.
const MAX_PAGES: usize = 200;

/// Where and as whom to talk to GitHub.
#[derive(Clone)]
pub struct ForgeConfig {
    /// REST base: `https://api.github.com`, or `https://host/api/v3` on GHES.
    pub api_url: String,
    /// GraphQL endpoint; derived from `api_url` when `None`.
    pub graphql_url: Option<String>,
    pub token: String,
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for ForgeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForgeConfig")
            .field("api_url", &self.api_url)
            .field("graphql_url", &self.graphql_url)
            .field("token", &"***")
            .field("retry", &self.retry)
            .finish()
    }
}

impl ForgeConfig {
    /// From `GITHUB_API_URL`, `GITHUB_GRAPHQL_URL` and `GITHUB_TOKEN`;
    /// `token` (from `--token`) wins over the environment.
    pub fn from_env(token: Option<String>) -> Result<ForgeConfig, GithubError> {
        let token = token
            .or_else(|| std::env::var("GITHUB_TOKEN").ok())
            .filter(|t| !t.trim().is_empty())
            .ok_or(GithubError::NoToken)?;
        Ok(ForgeConfig {
            api_url: std::env::var("GITHUB_API_URL")
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "https://api.github.com".to_owned()),
            graphql_url: std::env::var("GITHUB_GRAPHQL_URL")
                .ok()
                .filter(|u| !u.is_empty()),
            token,
            retry: RetryPolicy::default(),
        })
    }

    /// The GraphQL endpoint: explicit, or GHES's `/api/graphql` next to
    /// `/api/v3`, or `<api_url>/graphql` (api.github.com).
    pub fn graphql_endpoint(&self) -> String {
        if let Some(u) = &self.graphql_url {
            return u.clone();
        }
        let base = self.api_url.trim_end_matches('/');
        match base.strip_suffix("/api/v3") {
            Some(host) => format!("{host}/api/graphql"),
            None => format!("{base}/graphql"),
        }
    }
}

/// The real forge.
pub struct OctoForge {
    rest: Octocrab,
    graphql: Octocrab,
    graphql_path: String,
    token: String,
    retry: RetryPolicy,
    identity: tokio::sync::OnceCell<Identity>,
    /// `github.bot_login` from the config, when set.
    bot_login: Option<String>,
    /// What GitHub's answers said is left of the token's budget.
    budget: super::budget::Budget,
    /// The last answer to each GET path with its `ETag`: the same GET is
    /// sent again with `If-None-Match`, and a `304` (which GitHub does not
    /// count against the primary limit) is answered from here.
    etags: std::sync::Mutex<std::collections::HashMap<String, (String, Raw)>>,
}

impl std::fmt::Debug for OctoForge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OctoForge")
            .field("graphql_path", &self.graphql_path)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Raw {
    status: u16,
    headers: HeaderMap,
    body: String,
}

/// `value` with every string passed through the redactor. Strings, not the
/// serialized text: a secret holding a quote or a newline is escaped in JSON
/// and would not match there.
fn redact_strings(value: &Value) -> Value {
    let redactor = crate::redact::global();
    if redactor.is_empty() {
        return value.clone();
    }
    match value {
        Value::String(s) => Value::String(redactor.apply(s)),
        Value::Array(items) => Value::Array(items.iter().map(redact_strings).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact_strings(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Whether the failure was one a retry might have cured (retries included).
fn transient(e: &GithubError) -> bool {
    match e {
        GithubError::Exhausted { last, .. } => transient(last),
        e => e.retry_hint().is_some(),
    }
}

/// No single answer is awaited longer than the whole call may take: a
/// server that stops answering is then retried or given up on within the
/// retry policy's bound, not after a fixed minute.
fn read_timeout(policy: &RetryPolicy) -> Duration {
    policy.max_total.min(Duration::from_secs(60))
}

fn client(base: &str, token: &str, read_timeout: Duration) -> Result<Octocrab, GithubError> {
    Octocrab::builder()
        .base_uri(base)
        .map_err(|e| GithubError::Setup(format!("`{base}` is not a usable API URL: {e}")))?
        .personal_token(token.to_owned())
        .add_header(
            http::header::HeaderName::from_static("x-github-api-version"),
            API_VERSION.to_owned(),
        )
        .set_connect_timeout(Some(Duration::from_secs(15)))
        .set_read_timeout(Some(read_timeout))
        .build()
        .map_err(|e| GithubError::Setup(e.to_string()))
}

/// Percent-encodes one path segment (environment names may hold spaces).
fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Splits an absolute URL into its origin and its path (with query).
fn split_url(url: &str) -> (String, String) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => (
            url[..after_scheme + i].to_owned(),
            url[after_scheme + i..].to_owned(),
        ),
        None => (url.to_owned(), "/".to_owned()),
    }
}

fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        rel.contains("rel=\"next\"").then(|| {
            let url = url.trim().trim_start_matches('<').trim_end_matches('>');
            split_url(url).1
        })
    })
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// GitHub's error message with any field errors, kept short.
fn error_message(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return body.chars().take(200).collect();
    };
    let mut msg = v["message"].as_str().unwrap_or_default().to_owned();
    let details: Vec<&str> = v["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str())
        .collect();
    if !details.is_empty() {
        msg = format!("{msg}: {}", details.join("; "));
    }
    msg
}

/// Classifies a finished exchange: success, or a [`GithubError`] that says
/// whether trying again may help and which permission is missing.
fn check(raw: Raw, action: &str, permission: &str) -> Result<Raw, GithubError> {
    if (200..300).contains(&raw.status) {
        return Ok(raw);
    }
    let message = error_message(&raw.body);
    let retry_after = header_u64(&raw.headers, "retry-after").map(Duration::from_secs);
    let exhausted = header_u64(&raw.headers, "x-ratelimit-remaining") == Some(0);
    let lower = message.to_lowercase();
    let (transient, retry_after) = match raw.status {
        429 => (true, retry_after),
        403 if exhausted => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let reset = header_u64(&raw.headers, "x-ratelimit-reset").unwrap_or(now);
            (
                true,
                Some(Duration::from_secs(reset.saturating_sub(now).max(1))),
            )
        }
        403 if retry_after.is_some() || lower.contains("rate limit") => (true, retry_after),
        s if s >= 500 => (true, retry_after),
        _ => (false, None),
    };
    let named = raw
        .headers
        .get("x-accepted-github-permissions")
        .and_then(|h| h.to_str().ok())
        .and_then(accepted_permissions);
    let permission = match raw.status {
        403 if !transient => {
            named.or_else(|| (!permission.is_empty()).then(|| format!("`{permission}`")))
        }
        404 => named,
        _ => None,
    };
    Err(GithubError::Api {
        action: action.to_owned(),
        status: raw.status,
        message,
        permission,
        transient,
        retry_after,
    })
}

#[derive(Deserialize)]
struct ApiUser {
    login: String,
    #[serde(default)]
    id: u64,
}

#[derive(Deserialize)]
struct ApiApp {
    slug: Option<String>,
}

#[derive(Deserialize)]
struct ApiComment {
    id: u64,
    node_id: String,
    #[serde(default)]
    body: Option<String>,
    user: Option<ApiUser>,
    created_at: String,
    html_url: String,
    #[serde(default)]
    performed_via_github_app: Option<ApiApp>,
}

impl From<ApiComment> for Comment {
    fn from(c: ApiComment) -> Comment {
        Comment {
            id: c.id,
            node_id: c.node_id,
            author: c.user.map(|u| u.login).unwrap_or_default(),
            via_app: c.performed_via_github_app.and_then(|a| a.slug),
            body: c.body.unwrap_or_default(),
            created_at: c.created_at,
            html_url: c.html_url,
        }
    }
}

#[derive(Deserialize)]
struct ApiLabel {
    name: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum LabelOrName {
    Label(ApiLabel),
    Name(String),
}

#[derive(Deserialize)]
struct ApiIssue {
    number: u64,
    title: String,
    #[serde(default)]
    body: Option<String>,
    state: String,
    #[serde(default)]
    labels: Vec<LabelOrName>,
    #[serde(default)]
    pull_request: Option<Value>,
    #[serde(default)]
    user: Option<ApiUser>,
    #[serde(default)]
    performed_via_github_app: Option<ApiApp>,
    #[serde(default)]
    html_url: String,
}

impl From<ApiIssue> for Issue {
    fn from(i: ApiIssue) -> Issue {
        Issue {
            number: i.number,
            title: i.title,
            body: i.body.unwrap_or_default(),
            state: i.state,
            labels: i
                .labels
                .into_iter()
                .map(|l| match l {
                    LabelOrName::Label(l) => l.name,
                    LabelOrName::Name(n) => n,
                })
                .collect(),
            author: i.user.map(|u| u.login).unwrap_or_default(),
            via_app: i.performed_via_github_app.and_then(|a| a.slug),
            html_url: i.html_url,
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(raw: &Raw, action: &str) -> Result<T, GithubError> {
    serde_json::from_str(&raw.body).map_err(|e| GithubError::Decode {
        action: action.to_owned(),
        detail: e.to_string(),
    })
}

impl OctoForge {
    pub fn new(config: &ForgeConfig) -> Result<OctoForge, GithubError> {
        let (origin, path) = split_url(&config.graphql_endpoint());
        let graphql_base = format!("{origin}{path}");
        Ok(OctoForge {
            rest: client(&config.api_url, &config.token, read_timeout(&config.retry))?,
            graphql: client(&graphql_base, &config.token, read_timeout(&config.retry))?,
            graphql_path: path,
            token: config.token.clone(),
            retry: config.retry,
            identity: tokio::sync::OnceCell::new(),
            bot_login: None,
            budget: Default::default(),
            etags: Default::default(),
        })
    }

    /// Sets the login the config asserts the token comments as
    /// (`github.bot_login`); see [`super::identity`].
    pub fn with_bot_login(mut self, login: Option<String>) -> OctoForge {
        self.bot_login = login.filter(|l| !l.trim().is_empty());
        self
    }

    /// What GitHub says the token's login is: the GraphQL `viewer`, which
    /// answers user and installation tokens alike (an app's bot login for
    /// the latter), else `GET /user`, which only user tokens may read.
    async fn ask_login(&self) -> Result<ApiAnswer, GithubError> {
        // A rate limit's 403 is GitHub busy, not GitHub refusing: it stays
        // an external failure instead of an undecidable identity (exit 2).
        let refused =
            |e: &GithubError| matches!(e.status(), Some(401 | 403 | 404)) && !transient(e);
        let viewer_why = match self.viewer_login().await {
            Ok(Ok(login)) => {
                return Ok(ApiAnswer::Login {
                    login,
                    source: IdentitySource::Viewer,
                })
            }
            Ok(Err(why)) => why,
            Err(e) if refused(&e) => e.to_string(),
            Err(e) => return Err(e),
        };
        tracing::debug!("the GraphQL viewer named no login ({viewer_why}); trying GET /user");
        let action = "read the token's user";
        match self.call(Method::GET, "/user", None, action, "").await {
            Ok(raw) => {
                let u: ApiUser = decode(&raw, action)?;
                Ok(ApiAnswer::Login {
                    login: u.login,
                    source: IdentitySource::User,
                })
            }
            Err(e) if refused(&e) => Ok(ApiAnswer::Unknown(format!(
                "the GraphQL viewer named no login ({viewer_why}) and GET /user was refused ({e})"
            ))),
            Err(e) => Err(e),
        }
    }

    /// `query { viewer { login } }`: `Ok(Err(why))` when GitHub answered
    /// without a usable login.
    async fn viewer_login(&self) -> Result<Result<String, String>, GithubError> {
        let action = "read the token's login (GraphQL viewer)";
        let v = self
            .graphql(&json!({ "query": VIEWER }), action, "")
            .await?;
        Ok(match v["data"]["viewer"]["login"].as_str() {
            Some(login) if is_valid_login(login) => Ok(login.to_owned()),
            Some(login) => Err(format!("{login:?} is not a GitHub login")),
            None => Err(graphql_errors(&v).unwrap_or_default()),
        })
    }

    /// One GraphQL request, retried per the policy; the decoded answer,
    /// which may still carry GraphQL `errors`.
    async fn graphql(
        &self,
        body: &Value,
        action: &str,
        permission: &str,
    ) -> Result<Value, GithubError> {
        let raw = retry::run(&self.retry, || async {
            let raw = self
                .exchange(true, Method::POST, &self.graphql_path, Some(body), action)
                .await?;
            check(raw, action, permission).map_err(|e| e.scrub(&self.token))
        })
        .await?;
        decode(&raw, action)
    }

    /// One exchange, no retry, with any echo of the token scrubbed from
    /// errors before they are logged or returned.
    async fn exchange(
        &self,
        graphql: bool,
        method: Method,
        path: &str,
        body: Option<&Value>,
        action: &str,
    ) -> Result<Raw, GithubError> {
        self.exchange_raw(graphql, method, path, body, action)
            .await
            .map_err(|e| e.scrub(&self.token))
    }

    /// Transport failures (refused, dropped, timed out, unreadable body)
    /// become [`GithubError::Transport`].
    async fn exchange_raw(
        &self,
        graphql: bool,
        method: Method,
        path: &str,
        body: Option<&Value>,
        action: &str,
    ) -> Result<Raw, GithubError> {
        let c = if graphql { &self.graphql } else { &self.rest };
        // Every body GitHub receives is a sink like stdout: registered
        // secrets (a key the security gate found in plain user data, a value
        // Terraform marks sensitive) are masked here, the one place bodies
        // leave.
        let redacted = body.map(redact_strings);
        let body = redacted.as_ref();
        let transport = |e: octocrab::Error| GithubError::Transport {
            action: action.to_owned(),
            detail: e.to_string(),
        };
        let cached = match (&method, graphql) {
            (&Method::GET, false) => self
                .etags
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(path)
                .cloned(),
            _ => None,
        };
        let resp = match method {
            Method::GET => {
                let conditional = cached.as_ref().and_then(|(etag, _)| {
                    let mut h = HeaderMap::new();
                    h.insert(http::header::IF_NONE_MATCH, etag.parse().ok()?);
                    Some(h)
                });
                c._get_with_headers(path, conditional).await
            }
            Method::POST => c._post(path, body).await,
            Method::PATCH => c._patch(path, body).await,
            Method::PUT => c._put(path, body).await,
            Method::DELETE => c._delete(path, body).await,
            other => {
                return Err(GithubError::Setup(format!("unsupported method {other}")));
            }
        }
        .map_err(transport)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = c.body_to_string(resp).await.map_err(transport)?;
        self.budget.observe(status, &headers);
        if let (304, Some((_, raw))) = (status, &cached) {
            return Ok(raw.clone());
        }
        let raw = Raw {
            status,
            headers,
            body,
        };
        // Git objects never change (the store keeps what it read of them):
        // only answers that can change are worth a conditional re-read.
        let immutable = ["/git/blobs/", "/git/trees/", "/git/commits/"]
            .iter()
            .any(|k| path.contains(k));
        if method == Method::GET && !graphql && status == 200 && !immutable {
            if let Some(etag) = raw
                .headers
                .get(http::header::ETAG)
                .and_then(|v| v.to_str().ok())
            {
                self.etags
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(path.to_owned(), (etag.to_owned(), raw.clone()));
            }
        }
        Ok(raw)
    }

    /// A call that is safe to repeat, retried per the policy.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        action: &str,
        permission: &str,
    ) -> Result<Raw, GithubError> {
        retry::run(&self.retry, || async {
            let raw = self
                .exchange(false, method.clone(), path, body, action)
                .await?;
            check(raw, action, permission).map_err(|e| e.scrub(&self.token))
        })
        .await
    }

    /// A POST that creates something: retried only when GitHub certainly did
    /// nothing (rate limits); a 5xx or a dropped connection is returned so
    /// the caller can look before writing again.
    async fn create(
        &self,
        path: &str,
        body: &Value,
        action: &str,
        permission: &str,
    ) -> Result<Raw, GithubError> {
        retry::run_if(&self.retry, retry_unless_applied, || async {
            let raw = self
                .exchange(false, Method::POST, path, Some(body), action)
                .await?;
            check(raw, action, permission).map_err(|e| e.scrub(&self.token))
        })
        .await
    }

    async fn get_pages<T: serde::de::DeserializeOwned>(
        &self,
        first: String,
        action: &str,
        permission: &str,
    ) -> Result<Vec<T>, GithubError> {
        let mut out = Vec::new();
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(path) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                break;
            }
            let raw = self
                .call(Method::GET, &path, None, action, permission)
                .await?;
            let items: Vec<T> = decode(&raw, action)?;
            out.extend(items);
            next = next_link(&raw.headers);
        }
        Ok(out)
    }

    fn check_run_body(
        run: &CheckRunRequest,
        annotations: &[super::Annotation],
        create: bool,
    ) -> Value {
        let mut body = json!({
            "name": run.name,
            "output": {"title": run.title, "summary": run.summary, "annotations": annotations},
        });
        if create {
            body["head_sha"] = json!(run.head_sha);
        }
        if let Some(t) = &run.text {
            body["output"]["text"] = json!(t);
        }
        for (k, v) in [
            ("status", &run.status),
            ("conclusion", &run.conclusion),
            ("details_url", &run.details_url),
        ] {
            if let Some(v) = v {
                body[k] = json!(v);
            }
        }
        body
    }

    async fn add_annotations(
        &self,
        repo: &RepoRef,
        id: u64,
        run: &CheckRunRequest,
        rest: &[super::Annotation],
    ) -> Result<(), GithubError> {
        for chunk in rest.chunks(ANNOTATIONS_PER_REQUEST) {
            let body = json!({"output": {"title": run.title, "summary": run.summary, "annotations": chunk}});
            self.call(
                Method::PATCH,
                &format!(
                    "/repos/{}/{}/check-runs/{id}",
                    seg(&repo.owner),
                    seg(&repo.name)
                ),
                Some(&body),
                &format!("add annotations to check run {id} on {repo}"),
                "checks: write",
            )
            .await?;
        }
        Ok(())
    }
}

/// A ref name (`phasegate/a/b`) as a URL path, each segment encoded.
fn ref_path(name: &str) -> String {
    name.split('/').map(seg).collect::<Vec<_>>().join("/")
}

/// GitHub's 422 answers meaning another writer won the race for a ref:
/// it exists already, moved elsewhere, or is gone.
fn lost_race(e: &GithubError) -> bool {
    let GithubError::Api {
        status: 422,
        message,
        ..
    } = e
    else {
        return false;
    };
    let m = message.to_lowercase();
    [
        "reference already exists",
        "not a fast forward",
        "reference does not exist",
        "reference cannot be updated",
    ]
    .iter()
    .any(|s| m.contains(s))
}

#[derive(Deserialize)]
struct ApiRef {
    #[serde(rename = "ref")]
    name: String,
    object: ApiSha,
}

#[derive(Deserialize)]
struct ApiSha {
    sha: String,
}

impl OctoForge {
    /// A retried call whose answer is the JSON `T`.
    async fn fetch<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        action: &str,
        permission: &str,
    ) -> Result<T, GithubError> {
        let raw = self.call(method, path, body, action, permission).await?;
        decode(&raw, action)
    }

    /// [`Self::fetch`] of a GET, with a 404 as `None`.
    async fn fetch_optional<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        action: &str,
        permission: &str,
    ) -> Result<Option<T>, GithubError> {
        match self
            .fetch(Method::GET, path, None, action, permission)
            .await
        {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// POSTs a git object (`blobs`, `trees`, `commits`) and returns its SHA.
    /// Objects are content-addressed: sending one twice stores it once, so
    /// unlike other creations this one is retried like a read.
    async fn create_object(
        &self,
        repo: &RepoRef,
        kind: &str,
        body: &Value,
    ) -> Result<String, GithubError> {
        let created: ApiSha = self
            .fetch(
                Method::POST,
                &format!("{}/git/{kind}", repo_path(repo)),
                Some(body),
                &format!("store git {kind} on {repo}"),
                "contents: write",
            )
            .await?;
        Ok(created.sha)
    }

    /// Creates or fast-forwards a ref. A write whose outcome is unknown (5xx,
    /// dropped connection) is never resent blindly: the ref is read first;
    /// pointing at `sha` means it landed (commit SHAs carry a nonce, so no
    /// one else wrote that SHA); otherwise it is sent again, which is safe
    /// because a non-forced update still refuses anything but a fast-forward.
    async fn move_ref(
        &self,
        repo: &RepoRef,
        name: &str,
        sha: &str,
        create: bool,
    ) -> Result<RefWrite, GithubError> {
        let action = if create {
            format!("create ref refs/{name} on {repo}")
        } else {
            format!("update ref refs/{name} on {repo}")
        };
        let (method, path, body) = if create {
            (
                Method::POST,
                format!("{}/git/refs", repo_path(repo)),
                json!({"ref": format!("refs/{name}"), "sha": sha}),
            )
        } else {
            (
                Method::PATCH,
                format!("{}/git/refs/{}", repo_path(repo), ref_path(name)),
                json!({"sha": sha, "force": false}),
            )
        };
        let started = std::time::Instant::now();
        let mut attempt = 0;
        loop {
            let r = retry::run_if(&self.retry, retry_unless_applied, || async {
                let raw = self
                    .exchange(false, method.clone(), &path, Some(&body), &action)
                    .await?;
                check(raw, &action, "contents: write").map_err(|e| e.scrub(&self.token))
            })
            .await;
            let err = match r {
                Ok(_) => return Ok(RefWrite::Moved),
                Err(e) if lost_race(&e) => return Ok(RefWrite::Lost),
                Err(e) if e.outcome_unknown() => e,
                Err(e) => return Err(e),
            };
            match self.get_ref(repo, name).await? {
                Some(now) if now == sha => return Ok(RefWrite::Moved),
                Some(_) if create => return Ok(RefWrite::Lost),
                _ => {}
            }
            attempt += 1;
            let wait = self.retry.delay(attempt - 1, None);
            if attempt >= self.retry.max_attempts || started.elapsed() + wait > self.retry.max_total
            {
                return Err(GithubError::Exhausted {
                    attempts: attempt,
                    last: Box::new(err),
                });
            }
            tracing::warn!(
                attempt,
                "ref write outcome unknown and not applied, resending: {err}"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

/// The messages of a GraphQL answer's `errors`, when it has any.
fn graphql_errors(v: &Value) -> Option<String> {
    let errors = v["errors"].as_array().filter(|e| !e.is_empty())?;
    Some(
        errors
            .iter()
            .filter_map(|e| e["message"].as_str())
            .collect::<Vec<_>>()
            .join("; "),
    )
}

fn repo_path(repo: &RepoRef) -> String {
    format!("/repos/{}/{}", seg(&repo.owner), seg(&repo.name))
}

const VIEWER: &str = "query { viewer { login } }";

const MINIMIZE: &str = "mutation($input: MinimizeCommentInput!) { minimizeComment(input: $input) { minimizedComment { isMinimized } } }";

impl Forge for OctoForge {
    fn budget(&self) -> super::budget::BudgetState {
        self.budget.state()
    }

    async fn identity(&self) -> Result<Identity, GithubError> {
        self.identity
            .get_or_try_init(|| async {
                let api = self.ask_login().await?;
                let me = decide(api, self.bot_login.as_deref())?;
                tracing::debug!(login = %me.login, source = ?me.source, "token identity");
                Ok(me)
            })
            .await
            .cloned()
    }

    async fn list_comments(&self, pr: &PrTarget) -> Result<Vec<Comment>, GithubError> {
        let path = format!(
            "{}/issues/{}/comments?per_page=100",
            repo_path(&pr.repo),
            pr.number
        );
        let items: Vec<ApiComment> = self
            .get_pages(
                path,
                &format!("list the comments on {pr}"),
                "pull-requests: read",
            )
            .await?;
        Ok(items.into_iter().map(Comment::from).collect())
    }

    async fn create_comment(&self, pr: &PrTarget, body: &str) -> Result<Comment, GithubError> {
        let action = format!("comment on {pr}");
        let raw = self
            .create(
                &format!("{}/issues/{}/comments", repo_path(&pr.repo), pr.number),
                &json!({ "body": body }),
                &action,
                "pull-requests: write",
            )
            .await?;
        Ok(decode::<ApiComment>(&raw, &action)?.into())
    }

    async fn update_comment(
        &self,
        repo: &RepoRef,
        id: u64,
        body: &str,
    ) -> Result<Comment, GithubError> {
        let action = format!("update comment {id} on {repo}");
        let raw = self
            .call(
                Method::PATCH,
                &format!("{}/issues/comments/{id}", repo_path(repo)),
                Some(&json!({ "body": body })),
                &action,
                "pull-requests: write",
            )
            .await?;
        Ok(decode::<ApiComment>(&raw, &action)?.into())
    }

    async fn delete_comment(&self, repo: &RepoRef, id: u64) -> Result<(), GithubError> {
        let r = self
            .call(
                Method::DELETE,
                &format!("{}/issues/comments/{id}", repo_path(repo)),
                None,
                &format!("delete comment {id} on {repo}"),
                "pull-requests: write",
            )
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn minimize_comment(&self, node_id: &str, classifier: &str) -> Result<(), GithubError> {
        let action = format!("minimize comment {node_id}");
        let body = json!({"query": MINIMIZE, "variables": {"input": {"subjectId": node_id, "classifier": classifier}}});
        let v = self.graphql(&body, &action, "pull-requests: write").await?;
        match graphql_errors(&v) {
            Some(message) => Err(GithubError::Graphql { action, message }),
            None => Ok(()),
        }
    }

    async fn get_pull(&self, pr: &PrTarget) -> Result<PullInfo, GithubError> {
        let action = format!("read pull request {pr}");
        let raw = self
            .call(
                Method::GET,
                &format!("{}/pulls/{}", repo_path(&pr.repo), pr.number),
                None,
                &action,
                "pull-requests: read",
            )
            .await?;
        Ok(decode::<ApiPull>(&raw, &action)?.into())
    }

    async fn open_pulls(&self, repo: &RepoRef) -> Result<Vec<PullInfo>, GithubError> {
        let pulls: Vec<ApiPull> = self
            .get_pages(
                format!("{}/pulls?state=open&per_page=100", repo_path(repo)),
                &format!("list the open pull requests of {repo}"),
                "pull-requests: read",
            )
            .await?;
        Ok(pulls.into_iter().map(PullInfo::from).collect())
    }

    async fn rerun_workflow_run(&self, repo: &RepoRef, run_id: u64) -> Result<(), GithubError> {
        self.create(
            &format!("{}/actions/runs/{run_id}/rerun", repo_path(repo)),
            &serde_json::json!({}),
            &format!("re-run workflow run {run_id} of {repo}"),
            "actions: write",
        )
        .await
        .map(|_| ())
    }

    async fn create_check_run(
        &self,
        repo: &RepoRef,
        run: &CheckRunRequest,
    ) -> Result<u64, GithubError> {
        let action = format!("create check run `{}` on {repo}", run.name);
        let (first, rest) = run
            .annotations
            .split_at(run.annotations.len().min(ANNOTATIONS_PER_REQUEST));
        let raw = self
            .create(
                &format!("{}/check-runs", repo_path(repo)),
                &Self::check_run_body(run, first, true),
                &action,
                "checks: write",
            )
            .await?;
        #[derive(Deserialize)]
        struct Created {
            id: u64,
        }
        let id = decode::<Created>(&raw, &action)?.id;
        self.add_annotations(repo, id, run, rest).await?;
        Ok(id)
    }

    async fn update_check_run(
        &self,
        repo: &RepoRef,
        id: u64,
        run: &CheckRunRequest,
    ) -> Result<(), GithubError> {
        let (first, rest) = run
            .annotations
            .split_at(run.annotations.len().min(ANNOTATIONS_PER_REQUEST));
        self.call(
            Method::PATCH,
            &format!("{}/check-runs/{id}", repo_path(repo)),
            Some(&Self::check_run_body(run, first, false)),
            &format!("update check run {id} on {repo}"),
            "checks: write",
        )
        .await?;
        self.add_annotations(repo, id, run, rest).await
    }

    async fn get_environment(
        &self,
        repo: &RepoRef,
        name: &str,
    ) -> Result<Option<EnvironmentInfo>, GithubError> {
        let action = format!("read environment `{name}` of {repo}");
        let r = self
            .call(
                Method::GET,
                &format!("{}/environments/{}", repo_path(repo), seg(name)),
                None,
                &action,
                "actions: read",
            )
            .await;
        let raw = match r {
            Ok(raw) => raw,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let v: Value = decode(&raw, &action)?;
        let mut info = EnvironmentInfo {
            name: v["name"].as_str().unwrap_or(name).to_owned(),
            ..Default::default()
        };
        for rule in v["protection_rules"].as_array().into_iter().flatten() {
            match rule["type"].as_str() {
                Some("wait_timer") => info.wait_timer = rule["wait_timer"].as_u64().unwrap_or(0),
                Some("required_reviewers") => {
                    info.prevent_self_review =
                        rule["prevent_self_review"].as_bool().unwrap_or(false);
                    for r in rule["reviewers"].as_array().into_iter().flatten() {
                        let kind = if r["type"] == "Team" {
                            ReviewerKind::Team
                        } else {
                            ReviewerKind::User
                        };
                        let who = &r["reviewer"];
                        info.reviewers.push(EnvReviewer {
                            kind,
                            id: who["id"].as_u64().unwrap_or(0),
                            name: who["login"]
                                .as_str()
                                .or_else(|| who["slug"].as_str())
                                .unwrap_or_default()
                                .to_owned(),
                        });
                    }
                }
                _ => {}
            }
        }
        let p = &v["deployment_branch_policy"];
        if p.is_object() {
            info.branch_policy = Some(BranchPolicy {
                protected_branches: p["protected_branches"].as_bool().unwrap_or(false),
                custom_branch_policies: p["custom_branch_policies"].as_bool().unwrap_or(false),
            });
        }
        Ok(Some(info))
    }

    async fn put_environment(
        &self,
        repo: &RepoRef,
        name: &str,
        update: &EnvironmentUpdate,
    ) -> Result<(), GithubError> {
        let reviewers: Vec<Value> = update
            .reviewers
            .iter()
            .map(|(k, id)| json!({"type": if *k == ReviewerKind::Team { "Team" } else { "User" }, "id": id}))
            .collect();
        let policy = update.branch_policy.map(|b| {
            json!({"protected_branches": b.protected_branches, "custom_branch_policies": b.custom_branch_policies})
        });
        let body = json!({
            "wait_timer": update.wait_timer,
            "prevent_self_review": update.prevent_self_review,
            "reviewers": reviewers,
            "deployment_branch_policy": policy,
        });
        self.call(
            Method::PUT,
            &format!("{}/environments/{}", repo_path(repo), seg(name)),
            Some(&body),
            &format!("configure environment `{name}` of {repo}"),
            "administration: write",
        )
        .await
        .map(|_| ())
    }

    async fn run_approvals(
        &self,
        repo: &RepoRef,
        run_id: u64,
    ) -> Result<Vec<RunApproval>, GithubError> {
        let action = format!("read the approvals of run {run_id} on {repo}");
        let raw = self
            .call(
                Method::GET,
                &format!("{}/actions/runs/{run_id}/approvals", repo_path(repo)),
                None,
                &action,
                "actions: read",
            )
            .await?;
        let v: Vec<Value> = decode(&raw, &action)?;
        Ok(v.iter()
            .map(|a| {
                let envs: Vec<&Value> = a["environments"]
                    .as_array()
                    .map(|e| e.iter().collect())
                    .unwrap_or_default();
                RunApproval {
                    environments: envs
                        .iter()
                        .filter_map(|e| e["name"].as_str().map(str::to_owned))
                        .collect(),
                    state: a["state"].as_str().unwrap_or_default().to_owned(),
                    user: a["user"]["login"].as_str().unwrap_or_default().to_owned(),
                    at: envs
                        .iter()
                        .find_map(|e| e["updated_at"].as_str())
                        .unwrap_or_default()
                        .to_owned(),
                }
            })
            .collect())
    }

    async fn collaborator_permission(
        &self,
        repo: &RepoRef,
        user: &str,
    ) -> Result<String, GithubError> {
        let action = format!("read {user}'s permission on {repo}");
        let r = self
            .call(
                Method::GET,
                &format!("{}/collaborators/{}/permission", repo_path(repo), seg(user)),
                None,
                &action,
                "metadata: read",
            )
            .await;
        let raw = match r {
            Ok(raw) => raw,
            Err(e) if e.status() == Some(404) => return Ok("none".to_owned()),
            Err(e) => return Err(e),
        };
        let v: Value = decode(&raw, &action)?;
        Ok(v["role_name"]
            .as_str()
            .filter(|r| !r.is_empty())
            .or_else(|| v["permission"].as_str())
            .unwrap_or("none")
            .to_owned())
    }

    async fn user_id(&self, login: &str) -> Result<u64, GithubError> {
        let action = format!("look up user `{login}`");
        let raw = self
            .call(
                Method::GET,
                &format!("/users/{}", seg(login)),
                None,
                &action,
                "",
            )
            .await?;
        Ok(decode::<ApiUser>(&raw, &action)?.id)
    }

    async fn team_id(&self, org: &str, slug: &str) -> Result<u64, GithubError> {
        let action = format!("look up team `{org}/{slug}`");
        let raw = self
            .call(
                Method::GET,
                &format!("/orgs/{}/teams/{}", seg(org), seg(slug)),
                None,
                &action,
                "members: read",
            )
            .await?;
        #[derive(Deserialize)]
        struct Team {
            id: u64,
        }
        Ok(decode::<Team>(&raw, &action)?.id)
    }

    async fn create_issue(
        &self,
        repo: &RepoRef,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<Issue, GithubError> {
        let action = format!("open an issue on {repo}");
        let raw = self
            .create(
                &format!("{}/issues", repo_path(repo)),
                &json!({"title": title, "body": body, "labels": labels}),
                &action,
                "issues: write",
            )
            .await?;
        Ok(decode::<ApiIssue>(&raw, &action)?.into())
    }

    async fn add_assignees(
        &self,
        repo: &RepoRef,
        number: u64,
        logins: &[String],
    ) -> Result<(), GithubError> {
        let action = format!("assign issue {repo}#{number}");
        // Adding is idempotent: a retry after an unknown outcome adds nothing twice.
        self.create(
            &format!("{}/issues/{number}/assignees", repo_path(repo)),
            &json!({ "assignees": logins }),
            &action,
            "issues: write",
        )
        .await?;
        Ok(())
    }

    async fn update_issue(
        &self,
        repo: &RepoRef,
        number: u64,
        update: &IssueUpdate,
    ) -> Result<Issue, GithubError> {
        let action = format!("update issue {repo}#{number}");
        let mut body = json!({});
        if let Some(t) = &update.title {
            body["title"] = json!(t);
        }
        if let Some(b) = &update.body {
            body["body"] = json!(b);
        }
        if let Some(s) = &update.state {
            body["state"] = json!(s);
        }
        if let Some(l) = &update.labels {
            body["labels"] = json!(l);
        }
        let raw = self
            .call(
                Method::PATCH,
                &format!("{}/issues/{number}", repo_path(repo)),
                Some(&body),
                &action,
                "issues: write",
            )
            .await?;
        Ok(decode::<ApiIssue>(&raw, &action)?.into())
    }

    async fn list_issues(
        &self,
        repo: &RepoRef,
        labels: &[String],
        state: &str,
    ) -> Result<Vec<Issue>, GithubError> {
        let mut path = format!(
            "{}/issues?state={}&per_page=100",
            repo_path(repo),
            seg(state)
        );
        if !labels.is_empty() {
            let joined: Vec<String> = labels.iter().map(|l| seg(l)).collect();
            path.push_str(&format!("&labels={}", joined.join(",")));
        }
        let items: Vec<ApiIssue> = self
            .get_pages(path, &format!("list issues on {repo}"), "issues: read")
            .await?;
        Ok(items
            .into_iter()
            .filter(|i| i.pull_request.is_none())
            .map(Issue::from)
            .collect())
    }

    async fn get_ref(&self, repo: &RepoRef, name: &str) -> Result<Option<String>, GithubError> {
        let found: Option<ApiRef> = self
            .fetch_optional(
                &format!("{}/git/ref/{}", repo_path(repo), ref_path(name)),
                &format!("read ref refs/{name} on {repo}"),
                "contents: read",
            )
            .await?;
        Ok(found.map(|r| r.object.sha))
    }

    async fn matching_refs(
        &self,
        repo: &RepoRef,
        prefix: &str,
    ) -> Result<Vec<GitRef>, GithubError> {
        let refs: Vec<ApiRef> = self
            .fetch(
                Method::GET,
                &format!("{}/git/matching-refs/{}", repo_path(repo), ref_path(prefix)),
                None,
                &format!("list refs/{prefix}* on {repo}"),
                "contents: read",
            )
            .await?;
        Ok(refs
            .into_iter()
            .map(|r| GitRef {
                name: r.name,
                sha: r.object.sha,
            })
            .collect())
    }

    async fn create_ref(
        &self,
        repo: &RepoRef,
        name: &str,
        sha: &str,
    ) -> Result<RefWrite, GithubError> {
        self.move_ref(repo, name, sha, true).await
    }

    async fn update_ref(
        &self,
        repo: &RepoRef,
        name: &str,
        sha: &str,
    ) -> Result<RefWrite, GithubError> {
        self.move_ref(repo, name, sha, false).await
    }

    async fn create_blob(&self, repo: &RepoRef, bytes: &[u8]) -> Result<String, GithubError> {
        use base64::Engine;
        let body = json!({
            "content": base64::engine::general_purpose::STANDARD.encode(bytes),
            "encoding": "base64",
        });
        self.create_object(repo, "blobs", &body).await
    }

    async fn get_blob(&self, repo: &RepoRef, sha: &str) -> Result<Vec<u8>, GithubError> {
        use base64::Engine;
        let action = format!("read blob {sha} on {repo}");
        #[derive(Deserialize)]
        struct Blob {
            content: String,
            encoding: String,
        }
        let b: Blob = self
            .fetch(
                Method::GET,
                &format!("{}/git/blobs/{}", repo_path(repo), seg(sha)),
                None,
                &action,
                "contents: read",
            )
            .await?;
        match b.encoding.as_str() {
            "base64" => base64::engine::general_purpose::STANDARD
                .decode(b.content.replace(['\n', '\r'], ""))
                .map_err(|e| GithubError::Decode {
                    action,
                    detail: e.to_string(),
                }),
            "utf-8" => Ok(b.content.into_bytes()),
            other => Err(GithubError::Decode {
                action,
                detail: format!("unknown blob encoding `{other}`"),
            }),
        }
    }

    async fn create_tree(
        &self,
        repo: &RepoRef,
        entries: &[TreeEntry],
    ) -> Result<String, GithubError> {
        let tree: Vec<Value> = entries
            .iter()
            .map(|e| json!({"path": e.path, "mode": e.mode, "type": e.kind, "sha": e.sha}))
            .collect();
        self.create_object(repo, "trees", &json!({ "tree": tree }))
            .await
    }

    async fn get_tree(&self, repo: &RepoRef, sha: &str) -> Result<Vec<TreeEntry>, GithubError> {
        #[derive(Deserialize)]
        struct Entry {
            path: String,
            mode: String,
            #[serde(rename = "type")]
            kind: String,
            sha: String,
        }
        #[derive(Deserialize)]
        struct Tree {
            tree: Vec<Entry>,
        }
        let tree: Tree = self
            .fetch(
                Method::GET,
                &format!("{}/git/trees/{}", repo_path(repo), seg(sha)),
                None,
                &format!("read tree {sha} on {repo}"),
                "contents: read",
            )
            .await?;
        Ok(tree
            .tree
            .into_iter()
            .map(|e| TreeEntry {
                path: e.path,
                mode: e.mode,
                kind: e.kind,
                sha: e.sha,
            })
            .collect())
    }

    async fn create_text_tree(
        &self,
        repo: &RepoRef,
        path: &str,
        text: &str,
    ) -> Result<String, GithubError> {
        let entry = json!({"path": path, "mode": "100644", "type": "blob", "content": text});
        self.create_object(repo, "trees", &json!({ "tree": [entry] }))
            .await
    }

    async fn get_file_at(
        &self,
        repo: &RepoRef,
        path: &str,
        commit: &str,
    ) -> Result<Vec<u8>, GithubError> {
        use base64::Engine;
        let action = format!("read {path} at commit {commit} on {repo}");
        #[derive(Deserialize)]
        struct File {
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            encoding: String,
            #[serde(default)]
            content: String,
            sha: String,
        }
        let f: File = self
            .fetch(
                Method::GET,
                &format!(
                    "{}/contents/{}?ref={}",
                    repo_path(repo),
                    seg(path),
                    seg(commit)
                ),
                None,
                &action,
                "contents: read",
            )
            .await?;
        match (f.kind.as_str(), f.encoding.as_str()) {
            ("file", "base64") => base64::engine::general_purpose::STANDARD
                .decode(f.content.replace(['\n', '\r'], ""))
                .map_err(|e| GithubError::Decode {
                    action,
                    detail: e.to_string(),
                }),
            // Over 1 MB GitHub leaves the contents out: read the blob.
            ("file", "none") => self.get_blob(repo, &f.sha).await,
            (kind, encoding) => Err(GithubError::Decode {
                action,
                detail: format!("expected a file in base64, got a `{kind}` in `{encoding}`"),
            }),
        }
    }

    async fn create_commit(
        &self,
        repo: &RepoRef,
        message: &str,
        tree: &str,
        parents: &[String],
    ) -> Result<String, GithubError> {
        let body = json!({"message": message, "tree": tree, "parents": parents});
        self.create_object(repo, "commits", &body).await
    }

    async fn get_commit(&self, repo: &RepoRef, sha: &str) -> Result<GitCommit, GithubError> {
        #[derive(Deserialize)]
        struct Commit {
            sha: String,
            tree: ApiSha,
            parents: Vec<ApiSha>,
            message: String,
        }
        let c: Commit = self
            .fetch(
                Method::GET,
                &format!("{}/git/commits/{}", repo_path(repo), seg(sha)),
                None,
                &format!("read commit {sha} on {repo}"),
                "contents: read",
            )
            .await?;
        Ok(GitCommit {
            sha: c.sha,
            tree: c.tree.sha,
            parents: c.parents.into_iter().map(|p| p.sha).collect(),
            message: c.message,
        })
    }

    async fn workflow_run(
        &self,
        repo: &RepoRef,
        run_id: u64,
    ) -> Result<Option<WorkflowRun>, GithubError> {
        #[derive(Deserialize)]
        struct Run {
            id: u64,
            status: Option<String>,
            conclusion: Option<String>,
        }
        let run: Option<Run> = self
            .fetch_optional(
                &format!("{}/actions/runs/{run_id}", repo_path(repo)),
                &format!("read workflow run {run_id} of {repo}"),
                "actions: read",
            )
            .await?;
        Ok(run.map(|run| WorkflowRun {
            id: run.id,
            status: run.status.unwrap_or_default(),
            conclusion: run.conclusion,
        }))
    }

    async fn commit_pulls(
        &self,
        repo: &RepoRef,
        sha: &str,
    ) -> Result<Vec<CommitPull>, GithubError> {
        #[derive(Deserialize)]
        struct Head {
            sha: String,
        }
        #[derive(Deserialize)]
        struct Base {
            #[serde(rename = "ref")]
            name: String,
        }
        #[derive(Deserialize)]
        struct Pull {
            number: u64,
            state: String,
            merged_at: Option<String>,
            merge_commit_sha: Option<String>,
            head: Head,
            base: Base,
        }
        let pulls: Vec<Pull> = self
            .get_pages(
                format!(
                    "{}/commits/{}/pulls?per_page=100",
                    repo_path(repo),
                    seg(sha)
                ),
                &format!("list the pull requests of commit {sha} on {repo}"),
                "pull-requests: read",
            )
            .await?;
        Ok(pulls
            .into_iter()
            .map(|p| CommitPull {
                number: p.number,
                state: p.state,
                merged_at: p.merged_at,
                merge_commit_sha: p.merge_commit_sha,
                head_sha: p.head.sha,
                base_ref: p.base.name,
            })
            .collect())
    }

    async fn ensure_label(
        &self,
        repo: &RepoRef,
        name: &str,
        color: &str,
        description: &str,
    ) -> Result<(), GithubError> {
        let path = format!("{}/labels/{}", repo_path(repo), seg(name));
        let read = format!("read label {name} on {repo}");
        let exists = || async {
            let found: Option<ApiLabel> = self.fetch_optional(&path, &read, "issues: read").await?;
            Ok::<bool, GithubError>(found.is_some())
        };
        if exists().await? {
            return Ok(());
        }
        let action = format!("create label {name} on {repo}");
        let made = self
            .create(
                &format!("{}/labels", repo_path(repo)),
                &json!({"name": name, "color": color, "description": description}),
                &action,
                "issues: write",
            )
            .await;
        match made {
            Ok(_) => Ok(()),
            // Created meanwhile (by a concurrent job, or by our own request
            // whose answer was lost): what we wanted exists.
            Err(e) if e.status() == Some(422) || e.outcome_unknown() => {
                if exists().await? {
                    Ok(())
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }
}

/// The retry rule for writes: an answer that leaves unknown whether GitHub
/// carried the write out is never resent here (the caller looks first);
/// anything else follows the error's own hint.
fn retry_unless_applied(e: &GithubError) -> Option<Option<std::time::Duration>> {
    if e.outcome_unknown() {
        None
    } else {
        e.retry_hint()
    }
}

/// A pull request as the REST API answers it, the fields phasegate reads.
#[derive(Deserialize)]
struct ApiPull {
    number: u64,
    state: String,
    user: ApiUser,
    head: ApiPullHead,
}

#[derive(Deserialize)]
struct ApiPullHead {
    sha: String,
}

impl From<ApiPull> for PullInfo {
    fn from(p: ApiPull) -> PullInfo {
        PullInfo {
            number: p.number,
            author: p.user.login,
            head_sha: p.head.sha,
            state: p.state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(api: &str) -> ForgeConfig {
        ForgeConfig {
            api_url: api.to_owned(),
            graphql_url: None,
            token: "t".into(),
            retry: RetryPolicy::fast(),
        }
    }

    #[test]
    fn graphql_endpoint_follows_github_and_ghes_layouts() {
        assert_eq!(
            config("https://api.github.com").graphql_endpoint(),
            "https://api.github.com/graphql"
        );
        assert_eq!(
            config("https://ghe.corp/api/v3/").graphql_endpoint(),
            "https://ghe.corp/api/graphql"
        );
    }

    #[test]
    fn next_link_is_reduced_to_path_and_query() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            "<https://ghe.corp/api/v3/repos/a/b/issues/1/comments?per_page=100&page=2>; rel=\"next\", <https://x/last?page=9>; rel=\"last\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("/api/v3/repos/a/b/issues/1/comments?per_page=100&page=2")
        );
    }

    #[test]
    fn debug_output_hides_the_token() {
        let mut c = config("https://api.github.com");
        c.token = "ghs_secret".into();
        assert!(!format!("{c:?}").contains("ghs_secret"));
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(seg("prod eu/1"), "prod%20eu%2F1");
    }
}
