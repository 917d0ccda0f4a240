//! fakehub as a standalone server, for a workflow runner (nektos/act) whose
//! jobs are separate processes: the GitHub API on one loopback port, and a
//! small control API on another for the harness that seeds it, scripts what
//! a person would do on github.com (approve a deployment, comment, merge)
//! and reads the state back.
//!
//! `fakehub-server [--addr-file FILE]` prints one JSON line
//! `{"api": URL, "graphql": URL, "control": URL}` (also written to FILE) and
//! serves until `POST /shutdown` or the process is killed.
//!
//! Control API (JSON bodies; every answer is JSON):
//! - `POST /seed`: `{"repo": "o/r", "runner_token": T, "permissions": {login: role},
//!   "pulls": [{"number", "author", "head"}], "environments": {name: {"reviewers":
//!   [login], "prevent_self_review": bool}}, "tokens": [{"token", "permissions"}]}`
//! - `POST /workflow`: `{"path": FILE}`: registers every job's `permissions:` for
//!   the runner token (as GitHub mints one token per job); answers what it read
//! - `POST /run`: `{"id", "status", "conclusion"}`: a workflow run's state
//! - `POST /approval`: `{"repo", "run_id", "environment", "user", "state"}`: a review
//!   (`approved` or `rejected`) a person gives when a job of that run deploying to
//!   the environment reaches its gate ([`fakehub::FakeHub::script_review`])
//! - `POST /merge`: `{"number", "merge_commit_sha", "base"}`
//! - `POST /comment`: `{"issue", "author", "body"}` → `{"id", "created_at"}`
//! - `GET /state?repo=o/r`: [`fakehub::FakeHub::dump`]
//! - `POST /shutdown`

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use fakehub::{EnvSpec, FakeHub, Reviewer, TokenKind};
use serde::Deserialize;
use serde_json::{json, Value};

type Hub = Arc<FakeHub>;
type Answer = (axum::http::StatusCode, Json<Value>);

fn ok(v: Value) -> Answer {
    (axum::http::StatusCode::OK, Json(v))
}

fn bad(msg: impl Into<String>) -> Answer {
    (
        axum::http::StatusCode::BAD_REQUEST,
        Json(json!({"error": msg.into()})),
    )
}

fn split_repo(full: &str) -> Option<(&str, &str)> {
    full.split_once('/')
        .filter(|(o, r)| !o.is_empty() && !r.is_empty())
}

#[derive(Deserialize)]
struct Pull {
    number: u64,
    author: String,
    head: String,
}

#[derive(Deserialize, Default)]
struct Env {
    #[serde(default)]
    reviewers: Vec<String>,
    #[serde(default)]
    prevent_self_review: bool,
}

/// An installation token with fixed permissions (a harness's own reader).
#[derive(Deserialize)]
struct SeedToken {
    token: String,
    #[serde(default)]
    permissions: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Seed {
    repo: String,
    runner_token: Option<String>,
    #[serde(default)]
    permissions: BTreeMap<String, String>,
    #[serde(default)]
    pulls: Vec<Pull>,
    #[serde(default)]
    environments: BTreeMap<String, Env>,
    #[serde(default)]
    tokens: Vec<SeedToken>,
}

async fn seed(State(hub): State<Hub>, Json(s): Json<Seed>) -> Answer {
    let Some((o, r)) = split_repo(&s.repo) else {
        return bad("repo must be owner/name");
    };
    hub.add_repo(o, r);
    if let Some(t) = &s.runner_token {
        hub.add_runner_token(t);
    }
    for t in &s.tokens {
        let perms: Vec<(&str, &str)> = t
            .permissions
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        hub.add_token(&t.token, "", TokenKind::Installation, &perms);
    }
    for (user, role) in &s.permissions {
        hub.set_permission(o, r, user, role);
    }
    for p in &s.pulls {
        hub.add_pull(o, r, p.number, &p.author, &p.head);
    }
    for (name, e) in &s.environments {
        let spec = EnvSpec {
            reviewers: e.reviewers.iter().cloned().map(Reviewer::User).collect(),
            prevent_self_review: e.prevent_self_review,
            ..Default::default()
        };
        hub.add_environment(o, r, name, spec);
    }
    ok(json!({"seeded": s.repo}))
}

#[derive(Deserialize)]
struct WorkflowFile {
    path: String,
}

const SCOPES: [&str; 15] = [
    "actions",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "models",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
];

/// A `permissions:` value as installation permissions (`pull-requests` →
/// `pull_requests`), `metadata: read` included as GitHub always grants it.
/// `None` (no block) is GitHub's restricted default.
fn token_permissions(block: Option<&Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match block {
        None => {
            out.insert("contents".into(), "read".into());
            out.insert("packages".into(), "read".into());
        }
        Some(Value::String(all)) => {
            let level = if all == "write-all" { "write" } else { "read" };
            for s in SCOPES {
                out.insert(s.replace('-', "_"), level.into());
            }
        }
        Some(Value::Object(m)) => {
            for (k, v) in m {
                if let Some(level) = v.as_str().filter(|l| *l != "none") {
                    out.insert(k.replace('-', "_"), level.into());
                }
            }
        }
        Some(_) => {}
    }
    out.insert("metadata".into(), "read".into());
    out
}

async fn workflow(State(hub): State<Hub>, Json(w): Json<WorkflowFile>) -> Answer {
    let text = match std::fs::read_to_string(&w.path) {
        Ok(t) => t,
        Err(e) => return bad(format!("{}: {e}", w.path)),
    };
    let doc: Value = match serde_saphyr::from_str(&text) {
        Ok(d) => d,
        Err(e) => return bad(format!("{}: {e}", w.path)),
    };
    // The runner names a workflow without `name:` by its file.
    let name = doc["name"].as_str().map(str::to_owned).unwrap_or_else(|| {
        std::path::Path::new(&w.path)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let top = doc.get("permissions");
    let mut jobs = serde_json::Map::new();
    for (id, job) in doc["jobs"].as_object().cloned().unwrap_or_default() {
        let perms = token_permissions(job.get("permissions").or(top));
        let pairs: Vec<(&str, &str)> = perms
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        hub.set_job_permissions(&name, &id, &pairs);
        // `environment: name` or `environment: {name: ..., url: ...}`.
        let environment = job
            .get("environment")
            .and_then(|e| e.as_str().or_else(|| e["name"].as_str()))
            .map(str::to_owned);
        if let Some(env) = &environment {
            hub.set_job_environment(&name, &id, env);
        }
        jobs.insert(
            id,
            json!({"permissions": perms, "environment": environment}),
        );
    }
    ok(json!({"workflow": name, "jobs": jobs}))
}

#[derive(Deserialize)]
struct RepoQuery {
    repo: String,
}

#[derive(Deserialize)]
struct Run {
    repo: String,
    id: u64,
    status: String,
    conclusion: Option<String>,
}

async fn run(State(hub): State<Hub>, Json(r): Json<Run>) -> Answer {
    let Some((o, n)) = split_repo(&r.repo) else {
        return bad("repo must be owner/name");
    };
    hub.set_run(o, n, r.id, &r.status, r.conclusion.as_deref());
    ok(json!({"run": r.id}))
}

#[derive(Deserialize)]
struct Approval {
    repo: String,
    run_id: u64,
    environment: String,
    user: String,
    state: String,
}

async fn approval(State(hub): State<Hub>, Json(a): Json<Approval>) -> Answer {
    let Some((o, n)) = split_repo(&a.repo) else {
        return bad("repo must be owner/name");
    };
    if !["approved", "rejected"].contains(&a.state.as_str()) {
        return bad("state is approved or rejected");
    }
    hub.script_review(o, n, a.run_id, &a.environment, &a.user, &a.state);
    ok(json!({"run_id": a.run_id, "environment": a.environment, "scripted": true}))
}

#[derive(Deserialize)]
struct Merge {
    repo: String,
    number: u64,
    merge_commit_sha: String,
    base: String,
}

async fn merge(State(hub): State<Hub>, Json(m): Json<Merge>) -> Answer {
    let Some((o, n)) = split_repo(&m.repo) else {
        return bad("repo must be owner/name");
    };
    hub.merge_pull(o, n, m.number, &m.merge_commit_sha, &m.base);
    ok(json!({"merged": m.number}))
}

#[derive(Deserialize)]
struct NewComment {
    repo: String,
    issue: u64,
    author: String,
    body: String,
}

async fn comment(State(hub): State<Hub>, Json(c): Json<NewComment>) -> Answer {
    let Some((o, n)) = split_repo(&c.repo) else {
        return bad("repo must be owner/name");
    };
    let id = hub.add_comment(o, n, c.issue, &c.author, &c.body);
    let view = hub
        .comments(o, n, c.issue)
        .into_iter()
        .find(|v| v["id"] == id)
        .unwrap_or(Value::Null);
    ok(json!({"id": id, "created_at": view["created_at"], "comment": view}))
}

async fn state(State(hub): State<Hub>, Query(q): Query<RepoQuery>) -> Answer {
    let Some((o, n)) = split_repo(&q.repo) else {
        return bad("repo must be owner/name");
    };
    ok(hub.dump(o, n))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut addr_file = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--addr-file" => addr_file = args.next(),
            other => {
                eprintln!("fakehub-server: unknown argument {other}; usage: fakehub-server [--addr-file FILE]");
                std::process::exit(2);
            }
        }
    }
    let hub: Hub = Arc::new(FakeHub::start());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind control port");
        let control = format!("http://{}", listener.local_addr().expect("addr"));
        let line =
            json!({"api": hub.url(), "graphql": hub.graphql_url(), "control": control}).to_string();
        if let Some(f) = &addr_file {
            let tmp = format!("{f}.tmp");
            std::fs::write(&tmp, format!("{line}\n")).expect("write addr file");
            std::fs::rename(&tmp, f).expect("rename addr file");
        }
        println!("{line}");
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let stop = Arc::new(std::sync::Mutex::new(Some(stop_tx)));
        let app = Router::new()
            .route("/seed", post(seed))
            .route("/workflow", post(workflow))
            .route("/run", post(run))
            .route("/approval", post(approval))
            .route("/merge", post(merge))
            .route("/comment", post(comment))
            .route("/state", get(state))
            .route(
                "/shutdown",
                post(move || {
                    let stop = stop.clone();
                    async move {
                        if let Some(tx) = stop.lock().ok().and_then(|mut s| s.take()) {
                            let _ = tx.send(());
                        }
                        Json(json!({"stopping": true}))
                    }
                }),
            )
            .with_state(hub.clone());
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
            .expect("serve control");
        // Violations are reported through /state; leave without the
        // in-process fake's panic on drop.
        std::process::exit(0);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_blocks_become_installation_permissions() {
        let block: Value =
            json!({"contents": "write", "pull-requests": "write", "id-token": "none"});
        let p = token_permissions(Some(&block));
        assert_eq!(p["pull_requests"], "write");
        assert_eq!(p["metadata"], "read");
        assert!(!p.contains_key("id_token"));
        assert_eq!(token_permissions(Some(&json!({}))).len(), 1);
        assert_eq!(
            token_permissions(Some(&json!("read-all")))["issues"],
            "read"
        );
        assert_eq!(token_permissions(None)["contents"], "read");
    }
}
