//! Request handling: fault injection, validation against the description,
//! authentication, permissions, then the endpoint itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State as AxState};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use crate::model::{timestamp, Issue, Reviewer, State};
use crate::{spec, FaultKind, Request, TokenKind};

mod git_data;
mod labels;
mod runs;

type Shared = Arc<Mutex<State>>;

pub(crate) fn router(state: Shared) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// An endpoint's answer: status, JSON body (None for 204), extra headers.
struct Reply(u16, Option<Value>, Vec<(String, String)>);

impl Reply {
    fn json(status: u16, v: Value) -> Reply {
        Reply(status, Some(v), Vec::new())
    }
    fn message(status: u16, msg: &str) -> Reply {
        Reply::json(
            status,
            json!({"message": msg, "documentation_url": "https://docs.github.com/rest", "status": status.to_string()}),
        )
    }
    fn not_found() -> Reply {
        Reply::message(404, "Not Found")
    }
    fn too_long(resource: &str) -> Reply {
        Reply::json(
            422,
            json!({"message": "Validation Failed", "errors": [{"resource": resource, "code": "unprocessable",
                "field": "data", "message": "body is too long (maximum is 65536 characters)"}],
                "documentation_url": "https://docs.github.com/rest", "status": "422"}),
        )
    }
    fn unprocessable(message: &str) -> Reply {
        Reply::json(
            422,
            json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": "422"}),
        )
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut b =
            Response::builder().status(StatusCode::from_u16(self.0).unwrap_or(StatusCode::OK));
        for (k, v) in &self.2 {
            b = b.header(k.as_str(), v.as_str());
        }
        match self.1 {
            Some(v) => b
                .header("content-type", "application/json; charset=utf-8")
                .body(Body::from(v.to_string())),
            None => b.body(Body::empty()),
        }
        .expect("valid response")
    }
}

fn lock(s: &Shared) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Records the request, answers it, and records the status answered.
async fn handle(
    AxState(shared): AxState<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seq = {
        let mut st = lock(&shared);
        st.request_seq += 1;
        st.request_seq
    };
    let resp = answer(shared.clone(), peer, method, uri, headers, body, seq).await;
    let mut st = lock(&shared);
    if let Some(r) = st.requests.iter_mut().rev().find(|r| r.seq == seq) {
        r.status = resp.status().as_u16();
    }
    resp
}

async fn answer(
    shared: Shared,
    peer: SocketAddr,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    seq: u64,
) -> Response {
    // GitHub Enterprise Server serves REST under /api/v3 and GraphQL at
    // /api/graphql; accept both layouts so clients can be tested with either.
    let path = match uri.path() {
        "/api/graphql" => "/graphql".to_owned(),
        p => p.strip_prefix("/api/v3").unwrap_or(p).to_owned(),
    };
    let query = parse_query(uri.query());
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let api_version = headers
        .get("x-github-api-version")
        .is_some_and(|v| v == "2022-11-28");
    let fault = {
        let mut st = lock(&shared);
        st.requests.push(Request {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query: query.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
            api_version,
            authorization: auth.clone(),
            status: 0,
            conditional: headers.contains_key("if-none-match"),
            seq,
        });
        let hit = st.faults.iter_mut().find(|f| {
            f.times > 0
                && f.method
                    .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
                && path.starts_with(&f.path_prefix)
        });
        hit.map(|f| {
            f.times -= 1;
            f.kind.clone()
        })
    };
    let mut applied_then = None;
    match fault {
        Some(FaultKind::Slow(d)) => tokio::time::sleep(d).await,
        Some(FaultKind::StatusAfterApplying(s)) => applied_then = Some(s),
        Some(kind) => return fault_response(kind),
        None => {}
    }
    let token = auth
        .as_deref()
        .and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("token "))
        })
        .map(str::to_owned);

    if path == "/graphql" && method == Method::POST {
        let mut st = lock(&shared);
        return graphql(&mut st, token.as_deref(), &body).into_response();
    }
    let spec = spec::spec();
    let Some(op) = spec.find(method.as_str(), &path) else {
        lock(&shared).violations.push(format!(
            "{method} {path}: no such operation in the description"
        ));
        return Reply::not_found().into_response();
    };
    // The description caps annotations with maxItems; GitHub answers 422,
    // which clients must handle, so answer that before schema validation.
    if op.template.contains("/check-runs") {
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if let Err(r) = check_annotations(&v) {
            return r.into_response();
        }
    }
    let problems = spec.check(op, &query, &body);
    if !problems.is_empty() {
        let mut st = lock(&shared);
        for p in &problems {
            st.violations
                .push(format!("{method} {} ({path}): {p}", op.template));
        }
        return Reply::message(400, &format!("Invalid request: {}", problems.join("; ")))
            .into_response();
    }
    let params = path_params(&op.template, &path);
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    let mut st = lock(&shared);
    let Some(tok) = token.as_deref().and_then(|t| st.tokens.get(t)) else {
        return Reply::message(401, "Bad credentials").into_response();
    };
    let mut caller = Caller {
        login: tok.login.clone(),
        kind: tok.kind,
        permissions: tok.permissions.clone(),
        job: None,
    };
    if tok.per_job {
        let job = job_of_peer(&mut st, peer);
        match job.and_then(|j| st.job_permissions.get(&j).cloned().map(|p| (j, p))) {
            Some((job, permissions)) => {
                caller.permissions = permissions;
                caller.job = Some(job);
            }
            None => {
                let why = "fakehub: the runner's token came from no job whose permissions were registered";
                st.denied
                    .push(json!({"method": method.as_str(), "path": path,
                    "job": Value::Null, "message": why}));
                return Reply::message(403, why).into_response();
            }
        }
    }
    if st.enforce_rate_limit && st.rate_used >= st.rate_limit {
        let mut r = Reply::message(403, "API rate limit exceeded for installation.");
        rate_headers(&st, &mut r.2);
        return r.into_response();
    }
    let q: HashMap<String, String> = query.into_iter().collect();
    let reply = endpoint(
        &mut st,
        &caller,
        method.as_str(),
        &op.template,
        &params,
        &q,
        &body,
    );
    if let Some((_, accepted)) = reply
        .2
        .iter()
        .find(|(k, _)| k == "x-accepted-github-permissions")
        .filter(|_| reply.0 == 403)
    {
        let job = caller
            .job
            .as_ref()
            .map(|j| format!("{}/{}", j.workflow, j.job));
        st.denied.push(json!({"method": method.as_str(), "path": path, "job": job,
            "accepted": accepted, "message": reply.1.as_ref().and_then(|b| b["message"].as_str())}));
    }
    // The fake's own successful answers are held to the description too.
    if (200..300).contains(&reply.0) {
        for p in spec.check_response(op, reply.0, reply.1.as_ref()) {
            st.violations
                .push(format!("{method} {} ({path}) answered: {p}", op.template));
        }
    }
    if let Some(status) = applied_then {
        return Reply::message(status, "Server Error").into_response();
    }
    let mut reply = conditional(&method, &headers, reply);
    if reply.0 != 304 {
        st.rate_used += 1;
    }
    rate_headers(&st, &mut reply.2);
    reply.into_response()
}

/// GitHub's conditional requests: a successful GET answers with an `ETag`
/// of its body; the same GET sent with that tag in `If-None-Match` gets
/// `304 Not Modified` and no body while the answer is unchanged, and a 304
/// is not counted against the primary rate limit.
fn conditional(method: &Method, headers: &HeaderMap, reply: Reply) -> Reply {
    if *method != Method::GET || reply.0 != 200 {
        return reply;
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    reply.1.as_ref().map(Value::to_string).hash(&mut h);
    let etag = format!("\"{:016x}\"", h.finish());
    let sent = headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag)
        });
    let mut extra = reply.2;
    extra.push(("etag".into(), etag));
    match sent {
        true => Reply(304, None, extra),
        false => Reply(reply.0, reply.1, extra),
    }
}

/// The primary limit's headers, as GitHub sends them on every answer.
fn rate_headers(st: &State, extra: &mut Vec<(String, String)>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let remaining = st.rate_limit.saturating_sub(st.rate_used);
    for (k, v) in [
        ("x-ratelimit-limit", st.rate_limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        (
            "x-ratelimit-used",
            st.rate_used.min(st.rate_limit).to_string(),
        ),
        ("x-ratelimit-reset", (now + 3600).to_string()),
        ("x-ratelimit-resource", "core".to_owned()),
    ] {
        if !extra.iter().any(|(name, _)| name == k) {
            extra.push((k.to_owned(), v));
        }
    }
}

fn fault_response(kind: FaultKind) -> Response {
    match kind {
        FaultKind::Status(s) => Reply::message(s, "Server Error").into_response(),
        FaultKind::SecondaryRateLimit { retry_after_secs } => {
            let mut r = Reply::message(
                403,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            );
            r.2.push(("retry-after".into(), retry_after_secs.to_string()));
            r.into_response()
        }
        FaultKind::RateLimit429 { retry_after_secs } => {
            let mut r = Reply::message(429, "Too Many Requests");
            r.2.push(("retry-after".into(), retry_after_secs.to_string()));
            r.into_response()
        }
        FaultKind::PrimaryRateLimit { reset_in_secs } => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let mut r = Reply::message(403, "API rate limit exceeded for installation.");
            r.2.push(("x-ratelimit-remaining".into(), "0".into()));
            r.2.push(("x-ratelimit-limit".into(), "5000".into()));
            r.2.push((
                "x-ratelimit-reset".into(),
                (now + reset_in_secs).to_string(),
            ));
            r.into_response()
        }
        FaultKind::Drop => {
            // A body that fails makes hyper abort the connection mid-response.
            let failing = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other("fakehub: dropped"))
            });
            Response::builder()
                .status(200)
                .body(Body::from_stream(failing))
                .expect("valid response")
        }
        FaultKind::Slow(_) | FaultKind::StatusAfterApplying(_) => {
            unreachable!("these faults answer after handling the request")
        }
    }
}

fn path_params(template: &str, path: &str) -> HashMap<String, String> {
    let t: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut out = HashMap::new();
    for (i, seg) in t.iter().enumerate() {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let value = if i == t.len() - 1 {
                p[i..].join("/")
            } else {
                p[i].to_owned()
            };
            out.insert(name.to_owned(), decode(&value));
        }
    }
    out
}

struct Caller {
    login: String,
    kind: TokenKind,
    permissions: HashMap<String, String>,
    /// The workflow job a runner token was traced to.
    job: Option<crate::peer::JobId>,
}

/// The job the connection from `peer` comes from, cached per client port
/// for as long as the port's socket is the same one.
fn job_of_peer(st: &mut State, peer: SocketAddr) -> Option<crate::peer::JobId> {
    let local: SocketAddr = st.base.trim_start_matches("http://").parse().ok()?;
    let inode = crate::peer::inode_of(peer, local)?;
    if let Some((known, job)) = st.peers.get(&peer.port()) {
        if *known == inode {
            return job.clone();
        }
    }
    let job = crate::peer::job_holding(inode);
    st.peers.insert(peer.port(), (inode, job.clone()));
    job
}

const LEVELS: [&str; 3] = ["none", "read", "write"];

impl Caller {
    /// Installation tokens need one of `accepted`; user tokens may do
    /// anything except administration, which needs the admin role.
    fn need(
        &self,
        st: &State,
        owner: &str,
        repo: &str,
        accepted: &[(&str, &str)],
    ) -> Result<(), Reply> {
        let ok = match self.kind {
            TokenKind::Installation => accepted.iter().any(|(perm, level)| {
                let have = self
                    .permissions
                    .get(*perm)
                    .map(String::as_str)
                    .unwrap_or("none");
                LEVELS.iter().position(|l| *l == have) >= LEVELS.iter().position(|l| l == level)
            }),
            TokenKind::User => {
                !accepted.iter().all(|(p, _)| *p == "administration")
                    || st.permission(owner, repo, &self.login) == "admin"
            }
        };
        if ok {
            return Ok(());
        }
        let mut r = Reply::message(403, "Resource not accessible by integration");
        if self.kind == TokenKind::User {
            r = Reply::message(403, "Must have admin rights to Repository.");
        }
        let accepted: Vec<String> = accepted.iter().map(|(p, l)| format!("{p}={l}")).collect();
        r.2.push(("x-accepted-github-permissions".into(), accepted.join("; ")));
        Err(r)
    }
}

fn too_long(st: &State, body: &Value) -> bool {
    body["body"]
        .as_str()
        .is_some_and(|b| b.chars().count() > st.body_limit)
}

fn page<T: Clone>(
    st: &State,
    path: &str,
    q: &HashMap<String, String>,
    items: &[T],
) -> (Vec<T>, Vec<(String, String)>) {
    let per_page = q
        .get("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30usize)
        .clamp(1, 100);
    let page = q
        .get("page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let start = ((page - 1) * per_page).min(items.len());
    let end = (start + per_page).min(items.len());
    let mut links = Vec::new();
    let url = |p: usize| format!("<{}{path}?per_page={per_page}&page={p}>", st.base);
    if page < last {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
        links.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url(page - 1)));
        links.push(format!("{}; rel=\"first\"", url(1)));
    }
    let headers = if links.is_empty() {
        Vec::new()
    } else {
        vec![("link".to_owned(), links.join(", "))]
    };
    (items[start..end].to_vec(), headers)
}

const READ_COMMENTS: &[(&str, &str)] = &[("issues", "read"), ("pull_requests", "read")];
const WRITE_COMMENTS: &[(&str, &str)] = &[("issues", "write"), ("pull_requests", "write")];

fn endpoint(
    st: &mut State,
    caller: &Caller,
    method: &str,
    template: &str,
    p: &HashMap<String, String>,
    q: &HashMap<String, String>,
    body: &Value,
) -> Reply {
    let owner = p.get("owner").cloned().unwrap_or_default();
    let repo = p.get("repo").cloned().unwrap_or_default();
    if template.starts_with("/repos/{owner}/{repo}") && !st.has_repo(&owner, &repo) {
        return Reply::not_found();
    }
    let num = |k: &str| p.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let result: Result<Reply, Reply> = (|| {
        Ok(match (method, template) {
            ("GET", "/user") => {
                if caller.kind == TokenKind::Installation {
                    return Err(Reply::message(
                        403,
                        "Resource not accessible by integration",
                    ));
                }
                Reply::json(200, st.profile_json(&caller.login))
            }
            ("GET", "/users/{username}") => {
                let u = &p["username"];
                if !st.users.contains_key(u) {
                    return Err(Reply::not_found());
                }
                Reply::json(200, st.profile_json(u))
            }
            ("GET", "/orgs/{org}/teams/{team_slug}") => {
                if !st
                    .teams
                    .contains_key(&(p["org"].clone(), p["team_slug"].clone()))
                {
                    return Err(Reply::not_found());
                }
                caller.need(st, "", "", &[("members", "read")])?;
                Reply::json(200, st.team_json(&p["org"], &p["team_slug"]))
            }
            ("GET", "/repos/{owner}/{repo}") => {
                let id = st.repos[&(owner.clone(), repo.clone())];
                Reply::json(
                    200,
                    json!({"id": id, "node_id": format!("R_{id}"), "name": repo,
                    "full_name": format!("{owner}/{repo}"), "owner": st.user_json(&owner), "private": true,
                    "default_branch": "main", "url": format!("{}/repos/{owner}/{repo}", st.base),
                    "html_url": format!("https://github.example/{owner}/{repo}")}),
                )
            }
            ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}") => {
                caller.need(st, &owner, &repo, &[("pull_requests", "read")])?;
                let n = num("pull_number");
                let i = find_issue(st, &owner, &repo, n)
                    .filter(|i| i.pull_head.is_some())
                    .ok_or_else(Reply::not_found)?;
                Reply::json(200, runs::full_pull_json(st, i))
            }
            ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments") => {
                caller.need(st, &owner, &repo, READ_COMMENTS)?;
                let n = num("issue_number");
                find_issue(st, &owner, &repo, n).ok_or_else(Reply::not_found)?;
                let all = st.comment_views(&owner, &repo, n);
                let all: Vec<Value> = all.into_iter().map(strip_fake_fields).collect();
                let (items, headers) = page(
                    st,
                    &format!("/repos/{owner}/{repo}/issues/{n}/comments"),
                    q,
                    &all,
                );
                Reply(200, Some(Value::Array(items)), headers)
            }
            ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments") => {
                caller.need(st, &owner, &repo, WRITE_COMMENTS)?;
                let n = num("issue_number");
                find_issue(st, &owner, &repo, n).ok_or_else(Reply::not_found)?;
                if too_long(st, body) {
                    return Err(Reply::too_long("IssueComment"));
                }
                let kind = if caller.kind == TokenKind::Installation {
                    "Bot"
                } else {
                    "User"
                };
                let text = body["body"].as_str().unwrap_or_default();
                let id = st.insert_comment(&owner, &repo, n, &caller.login, kind, text);
                Reply::json(
                    201,
                    strip_fake_fields(comment(st, id).expect("just inserted")),
                )
            }
            ("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}") => {
                caller.need(st, &owner, &repo, READ_COMMENTS)?;
                Reply::json(
                    200,
                    strip_fake_fields(comment(st, num("comment_id")).ok_or_else(Reply::not_found)?),
                )
            }
            ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}") => {
                caller.need(st, &owner, &repo, WRITE_COMMENTS)?;
                let id = num("comment_id");
                if too_long(st, body) {
                    return Err(Reply::too_long("IssueComment"));
                }
                let t = st.tick();
                let c = st
                    .comments
                    .iter_mut()
                    .find(|c| c.id == id && c.owner == owner && c.repo == repo)
                    .ok_or_else(Reply::not_found)?;
                c.body = body["body"].as_str().unwrap_or_default().to_owned();
                c.updated = t;
                Reply::json(200, strip_fake_fields(comment(st, id).expect("exists")))
            }
            ("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}") => {
                caller.need(st, &owner, &repo, WRITE_COMMENTS)?;
                let id = num("comment_id");
                let before = st.comments.len();
                st.comments
                    .retain(|c| !(c.id == id && c.owner == owner && c.repo == repo));
                if st.comments.len() == before {
                    return Err(Reply::not_found());
                }
                Reply(204, None, Vec::new())
            }
            ("GET", "/repos/{owner}/{repo}/issues") => {
                caller.need(st, &owner, &repo, &[("issues", "read")])?;
                let state = q.get("state").map(String::as_str).unwrap_or("open");
                let labels: Vec<&str> = q
                    .get("labels")
                    .map(|l| l.split(',').collect())
                    .unwrap_or_default();
                let all: Vec<Value> = st
                    .issues
                    .iter()
                    .filter(|i| i.owner == owner && i.repo == repo && i.pull_head.is_none())
                    .filter(|i| state == "all" || i.state == state)
                    .filter(|i| labels.iter().all(|l| i.labels.iter().any(|il| il == l)))
                    .map(|i| st.issue_json(i))
                    .collect();
                let (items, headers) = page(st, &format!("/repos/{owner}/{repo}/issues"), q, &all);
                Reply(200, Some(Value::Array(items)), headers)
            }
            ("POST", "/repos/{owner}/{repo}/issues") => {
                caller.need(st, &owner, &repo, &[("issues", "write")])?;
                if too_long(st, body) {
                    return Err(Reply::too_long("Issue"));
                }
                let number = st.next_issue_number(&owner, &repo);
                let created = st.tick();
                st.issues.push(Issue {
                    owner: owner.clone(),
                    repo: repo.clone(),
                    number,
                    author: caller.login.clone(),
                    title: value_text(&body["title"]),
                    body: body["body"].as_str().map(str::to_owned),
                    state: "open".into(),
                    labels: labels_of(body),
                    assignees: Vec::new(),
                    pull_head: None,
                    created,
                });
                for l in labels_of(body) {
                    labels::ensure(st, &owner, &repo, &l);
                }
                let i = find_issue(st, &owner, &repo, number).expect("just inserted");
                Reply::json(201, st.issue_json(i))
            }
            ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}") => {
                caller.need(st, &owner, &repo, &[("issues", "write")])?;
                if too_long(st, body) {
                    return Err(Reply::too_long("Issue"));
                }
                let n = num("issue_number");
                let i = st
                    .issues
                    .iter_mut()
                    .find(|i| i.owner == owner && i.repo == repo && i.number == n)
                    .ok_or_else(Reply::not_found)?;
                if let Some(t) = body.get("title").filter(|t| !t.is_null()) {
                    i.title = value_text(t);
                }
                if let Some(b) = body.get("body") {
                    i.body = b.as_str().map(str::to_owned);
                }
                if let Some(s) = body["state"].as_str() {
                    i.state = s.to_owned();
                }
                if body.get("labels").is_some() {
                    i.labels = labels_of(body);
                }
                let i = find_issue(st, &owner, &repo, n).expect("exists");
                Reply::json(200, st.issue_json(i))
            }
            ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/assignees") => {
                caller.need(st, &owner, &repo, &[("issues", "write")])?;
                let n = num("issue_number");
                let i = st
                    .issues
                    .iter_mut()
                    .find(|i| i.owner == owner && i.repo == repo && i.number == n)
                    .ok_or_else(Reply::not_found)?;
                // GitHub adds each login once and keeps those already there.
                for login in body["assignees"].as_array().into_iter().flatten() {
                    let login = value_text(login);
                    if !i.assignees.contains(&login) {
                        i.assignees.push(login);
                    }
                }
                let i = find_issue(st, &owner, &repo, n).expect("exists");
                Reply::json(201, st.issue_json(i))
            }
            ("POST", "/repos/{owner}/{repo}/check-runs") => {
                caller.need(st, &owner, &repo, &[("checks", "write")])?;
                check_annotations(body)?;
                let id = st.id();
                let t = timestamp(st.tick());
                let mut run = json!({"id": id, "node_id": format!("CR_{id}"), "head_sha": body["head_sha"],
                    "name": body["name"], "external_id": body.get("external_id").cloned().unwrap_or(json!("")),
                    "url": format!("{}/repos/{owner}/{repo}/check-runs/{id}", st.base),
                    "html_url": format!("https://github.example/{owner}/{repo}/runs/{id}"),
                    "details_url": body.get("details_url").cloned().unwrap_or(Value::Null),
                    "status": body.get("status").cloned().unwrap_or(json!("queued")),
                    "conclusion": body.get("conclusion").cloned().unwrap_or(Value::Null),
                    "started_at": body.get("started_at").cloned().unwrap_or(json!(t)),
                    "completed_at": body.get("completed_at").cloned().unwrap_or(Value::Null),
                    "output": output_of(body, 0), "check_suite": {"id": 1}, "app": null, "pull_requests": []});
                if run["conclusion"].is_string() {
                    run["status"] = json!("completed");
                }
                st.check_runs
                    .push((owner.clone(), repo.clone(), run.clone()));
                Reply::json(201, run)
            }
            ("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}") => {
                caller.need(st, &owner, &repo, &[("checks", "write")])?;
                check_annotations(body)?;
                let id = num("check_run_id");
                let run = st
                    .check_runs
                    .iter_mut()
                    .find(|(o, r, v)| *o == owner && *r == repo && v["id"] == id)
                    .ok_or_else(Reply::not_found)?;
                let prior = run.2["output"]["annotations_count"].as_u64().unwrap_or(0);
                for key in [
                    "name",
                    "details_url",
                    "external_id",
                    "status",
                    "conclusion",
                    "started_at",
                    "completed_at",
                ] {
                    if let Some(v) = body.get(key) {
                        run.2[key] = v.clone();
                    }
                }
                if body.get("output").is_some() {
                    run.2["output"] = output_of(body, prior);
                }
                if run.2["conclusion"].is_string() {
                    run.2["status"] = json!("completed");
                }
                Reply::json(200, run.2.clone())
            }
            ("GET", "/repos/{owner}/{repo}/environments/{environment_name}") => {
                caller.need(st, &owner, &repo, &[("actions", "read")])?;
                Reply::json(
                    200,
                    st.environment_view(&owner, &repo, &p["environment_name"])
                        .ok_or_else(Reply::not_found)?,
                )
            }
            ("PUT", "/repos/{owner}/{repo}/environments/{environment_name}") => {
                caller.need(st, &owner, &repo, &[("administration", "write")])?;
                let reviewers = body["reviewers"].as_array().cloned().unwrap_or_default();
                if reviewers.len() > 6 {
                    return Err(Reply::unprocessable(
                        "Validation Failed: reviewers can have at most 6 entries",
                    ));
                }
                let mut spec = crate::EnvSpec {
                    prevent_self_review: body["prevent_self_review"].as_bool().unwrap_or(false),
                    wait_timer: body["wait_timer"].as_u64().unwrap_or(0) as u32,
                    ..Default::default()
                };
                for r in reviewers {
                    let id = r["id"].as_u64().unwrap_or(0);
                    let found = if r["type"] == "Team" {
                        st.teams
                            .iter()
                            .find(|(_, v)| **v == id)
                            .map(|((o, s), _)| Reviewer::Team(o.clone(), s.clone()))
                    } else {
                        st.users
                            .iter()
                            .find(|(_, v)| **v == id)
                            .map(|(u, _)| Reviewer::User(u.clone()))
                    };
                    spec.reviewers.push(found.ok_or_else(|| {
                        Reply::unprocessable(&format!("Reviewer {id} not found"))
                    })?);
                }
                if let Some(b) = body
                    .get("deployment_branch_policy")
                    .filter(|b| !b.is_null())
                {
                    spec.branch_policy = Some(crate::BranchPolicy {
                        protected_branches: b["protected_branches"].as_bool().unwrap_or(false),
                        custom_branch_policies: b["custom_branch_policies"]
                            .as_bool()
                            .unwrap_or(false),
                    });
                }
                let name = p["environment_name"].clone();
                let key = (owner.clone(), repo.clone(), name.clone());
                match st.environments.get_mut(&key) {
                    Some(e) => e.spec = spec,
                    None => st.add_environment(&owner, &repo, &name, spec),
                }
                Reply::json(
                    200,
                    st.environment_view(&owner, &repo, &name)
                        .expect("just stored"),
                )
            }
            ("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}/approvals") => {
                caller.need(st, &owner, &repo, &[("actions", "read")])?;
                give_scripted_reviews(st, caller, &owner, &repo, num("run_id"));
                let list = st
                    .approvals
                    .get(&(owner.clone(), repo.clone(), num("run_id")))
                    .cloned()
                    .unwrap_or_default();
                let out: Vec<Value> = list.iter().map(|(env, who, at, state)| {
                    let id = st.environments.get(&(owner.clone(), repo.clone(), env.clone())).map(|e| e.id).unwrap_or(0);
                    json!({"environments": [{"id": id, "node_id": format!("EN_{id}"), "name": env,
                        "url": format!("{}/repos/{owner}/{repo}/environments/{env}", st.base),
                        "html_url": format!("https://github.example/{owner}/{repo}/deployments"),
                        "created_at": at, "updated_at": at}],
                        "state": state, "user": st.user_json(who), "comment": ""})
                }).collect();
                Reply::json(200, Value::Array(out))
            }
            ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission") => {
                let u = &p["username"];
                if !st.users.contains_key(u) {
                    return Err(Reply::not_found());
                }
                let perm = st.permission(&owner, &repo, u);
                let role = perm.as_str();
                let legacy = match perm.as_str() {
                    "maintain" => "write",
                    "triage" => "read",
                    other => other,
                };
                let mut user = st.user_json(u);
                user["role_name"] = json!(role);
                Reply::json(
                    200,
                    json!({"permission": legacy, "role_name": role, "user": user}),
                )
            }
            ("GET", "/repos/{owner}/{repo}/git/ref/{ref}") => {
                caller.need(st, &owner, &repo, &[("contents", "read")])?;
                let name = p["ref"].clone();
                let sha = st
                    .get_ref(&owner, &repo, &name)
                    .ok_or_else(Reply::not_found)?;
                Reply::json(200, ref_json(st, &owner, &repo, &name, &sha))
            }
            ("POST", "/repos/{owner}/{repo}/git/refs") => {
                caller.need(st, &owner, &repo, &[("contents", "write")])?;
                let full = body["ref"].as_str().unwrap_or_default();
                let Some(name) = full.strip_prefix("refs/") else {
                    return Err(Reply::unprocessable(
                        "Reference name must start with 'refs/'",
                    ));
                };
                if st.get_ref(&owner, &repo, name).is_some() {
                    return Err(Reply::unprocessable("Reference already exists"));
                }
                let sha = body["sha"].as_str().unwrap_or_default().to_owned();
                if !known_commit(st, &owner, &repo, &sha) {
                    return Err(Reply::unprocessable("Object does not exist"));
                }
                st.set_ref(&owner, &repo, name, &sha);
                Reply::json(201, ref_json(st, &owner, &repo, name, &sha))
            }
            ("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}") => {
                caller.need(st, &owner, &repo, &[("contents", "write")])?;
                let name = p["ref"].clone();
                let old = st
                    .get_ref(&owner, &repo, &name)
                    .ok_or_else(|| Reply::unprocessable("Reference does not exist"))?;
                let sha = body["sha"].as_str().unwrap_or_default().to_owned();
                if !known_commit(st, &owner, &repo, &sha) {
                    return Err(Reply::unprocessable("Object does not exist"));
                }
                let force = body["force"].as_bool().unwrap_or(false);
                if !force && !st.is_ancestor(&owner, &repo, &old, &sha) {
                    return Err(Reply::unprocessable("Update is not a fast forward"));
                }
                st.set_ref(&owner, &repo, &name, &sha);
                Reply::json(200, ref_json(st, &owner, &repo, &name, &sha))
            }
            _ => {
                if let Some(r) = git_data::endpoint(st, caller, method, template, p, q, body)
                    .or_else(|| runs::endpoint(st, caller, method, template, p, q))
                    .or_else(|| labels::endpoint(st, caller, method, template, p, body))
                {
                    return r;
                }
                st.violations.push(format!(
                    "{method} {template}: described, but fakehub does not implement it"
                ));
                return Err(Reply::not_found());
            }
        })
    })();
    result.unwrap_or_else(|e| e)
}

/// A job under `environment: E` that asks for its run's reviews has passed
/// E's gate: the reviews scripted for E in this run are given now, so they
/// come after every earlier job of the run, as on GitHub where the reviewer
/// acts while the job waits.
fn give_scripted_reviews(st: &mut State, caller: &Caller, owner: &str, repo: &str, run: u64) {
    let Some(env) = caller
        .job
        .as_ref()
        .and_then(|j| st.job_environments.get(j))
        .cloned()
    else {
        return;
    };
    let (due, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut st.scripted_reviews)
        .into_iter()
        .partition(|(o, r, id, e, _, _)| o == owner && r == repo && *id == run && *e == env);
    st.scripted_reviews = rest;
    let at = crate::model::wall_clock();
    for (_, _, _, env, user, state) in due {
        st.add_run_approvals(owner, repo, run, vec![(&env, &user, &at, &state)]);
    }
}

fn find_issue<'a>(st: &'a State, owner: &str, repo: &str, n: u64) -> Option<&'a Issue> {
    st.issues
        .iter()
        .find(|i| i.owner == owner && i.repo == repo && i.number == n)
}

fn comment(st: &State, id: u64) -> Option<Value> {
    st.comments
        .iter()
        .find(|c| c.id == id)
        .map(|c| st.comment_json(c))
}

/// Drops fields GitHub does not send (the fake-only `minimized`).
fn strip_fake_fields(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("minimized");
    }
    v
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn labels_of(body: &Value) -> Vec<String> {
    body["labels"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .filter_map(|l| l.as_str().or_else(|| l["name"].as_str()).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn check_annotations(body: &Value) -> Result<(), Reply> {
    let n = body["output"]["annotations"].as_array().map_or(0, Vec::len);
    if n > 50 {
        return Err(Reply::unprocessable(
            "Validation Failed: only 50 annotations may be sent per request",
        ));
    }
    Ok(())
}

fn output_of(body: &Value, prior: u64) -> Value {
    let o = &body["output"];
    let n = o["annotations"].as_array().map_or(0, Vec::len) as u64;
    json!({"title": o.get("title").cloned().unwrap_or(Value::Null),
        "summary": o.get("summary").cloned().unwrap_or(Value::Null),
        "text": o.get("text").cloned().unwrap_or(Value::Null),
        "annotations_count": prior + n, "annotations_url": ""})
}

/// Whether `sha` names a commit the repository has (seeded or created).
fn known_commit(st: &State, owner: &str, repo: &str, sha: &str) -> bool {
    st.commits
        .contains_key(&(owner.into(), repo.into(), sha.into()))
}

fn ref_json(st: &State, owner: &str, repo: &str, name: &str, sha: &str) -> Value {
    json!({"ref": format!("refs/{name}"), "node_id": format!("REF_{name}"),
        "url": format!("{}/repos/{owner}/{repo}/git/refs/{name}", st.base),
        "object": {"type": "commit", "sha": sha, "url": format!("{}/repos/{owner}/{repo}/git/commits/{sha}", st.base)}})
}

const CLASSIFIERS: [&str; 6] = [
    "SPAM",
    "ABUSE",
    "OFF_TOPIC",
    "OUTDATED",
    "DUPLICATE",
    "RESOLVED",
];

/// `query { viewer { login } }` (or its anonymous form), and nothing more.
fn is_viewer_query(query: &str) -> bool {
    let compact: String = query.split_whitespace().collect();
    compact == "query{viewer{login}}" || compact == "{viewer{login}}"
}

/// The GraphQL operations phasegate sends: the viewer's login, and
/// `minimizeComment(input: $input)` with `$input = {subjectId, classifier}`.
/// Anything else is a violation.
fn graphql(st: &mut State, token: Option<&str>, body: &[u8]) -> Reply {
    if !token.is_some_and(|t| st.tokens.contains_key(t)) {
        return Reply::message(401, "Bad credentials");
    }
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let query = v["query"].as_str().unwrap_or_default();
    if is_viewer_query(query) {
        // Installation tokens too: GitHub names the app's bot here.
        let login = token
            .and_then(|t| st.tokens.get(t))
            .map(|t| t.login.clone())
            .unwrap_or_default();
        return Reply::json(200, json!({"data": {"viewer": {"login": login}}}));
    }
    let input = &v["variables"]["input"];
    let mut problems = Vec::new();
    if !query.trim_start().starts_with("mutation")
        || !query.contains("minimizeComment(input: $input)")
    {
        problems.push(
            "query is not `mutation(..) { minimizeComment(input: $input) { .. } }`".to_owned(),
        );
    }
    if !query.contains("$input: MinimizeCommentInput!") {
        problems.push("the $input variable must be declared as MinimizeCommentInput!".to_owned());
    }
    let keys_ok = input.as_object().is_some_and(|o| {
        o.keys()
            .all(|k| ["subjectId", "classifier", "clientMutationId"].contains(&k.as_str()))
    });
    if !keys_ok || !input["subjectId"].is_string() {
        problems.push(format!(
            "input must be {{subjectId, classifier}}, got {input}"
        ));
    }
    let classifier = input["classifier"].as_str().unwrap_or_default();
    if !CLASSIFIERS.contains(&classifier) {
        problems.push(format!(
            "classifier `{classifier}` is not a ReportedContentClassifiers value"
        ));
    }
    if !problems.is_empty() {
        for p in &problems {
            st.violations.push(format!("POST /graphql: {p}"));
        }
        return Reply::json(
            200,
            json!({"errors": problems.iter().map(|p| json!({"message": p})).collect::<Vec<_>>()}),
        );
    }
    let subject = input["subjectId"].as_str().unwrap_or_default();
    let id = subject
        .strip_prefix("IC_")
        .and_then(|s| s.parse::<u64>().ok());
    match id.and_then(|id| st.comments.iter_mut().find(|c| c.id == id)) {
        Some(c) => {
            c.minimized = Some(classifier.to_lowercase());
            Reply::json(
                200,
                json!({"data": {"minimizeComment": {"minimizedComment": {"isMinimized": true, "minimizedReason": classifier.to_lowercase()}}}}),
            )
        }
        None => Reply::json(
            200,
            json!({"data": {"minimizeComment": null}, "errors": [{"type": "NOT_FOUND", "message": format!("Could not resolve to a node with the global id of '{subject}'")}]}),
        ),
    }
}
