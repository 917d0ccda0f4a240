//! The fake's own specification: it accepts what GitHub's description allows,
//! flags what it does not, keeps state, paginates, and injects faults.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use fakehub::{FakeHub, Fault, FaultKind, TokenKind};
use serde_json::{json, Value};

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A minimal HTTP/1.1 client, so the fake is tested without the client under test.
fn send(
    hub: &FakeHub,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> std::io::Result<Reply> {
    send_with(hub, method, path, token, body, "")
}

/// [`send`] with extra header lines, each ending in `\r\n`.
fn send_with(
    hub: &FakeHub,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
    extra: &str,
) -> std::io::Result<Reply> {
    let addr = hub.url().trim_start_matches("http://").to_owned();
    let mut s = TcpStream::connect(&addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         X-GitHub-Api-Version: 2022-11-28\r\nContent-Type: application/json\r\n{extra}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("incomplete response"))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(": ")
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect();
    if let Some(len) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        let len: usize = len.1.parse().unwrap_or(0);
        if body.len() < len {
            return Err(std::io::Error::other("truncated body"));
        }
    } else if status != 204 && status != 304 && body.is_empty() {
        return Err(std::io::Error::other("connection closed without a body"));
    }
    Ok(Reply {
        status,
        headers,
        body: body.to_owned(),
    })
}

fn hub() -> FakeHub {
    let hub = FakeHub::start();
    hub.add_repo("acme", "infra");
    hub.add_pull("acme", "infra", 7, "alice", "abc123");
    hub.add_token("tok-user", "carol", TokenKind::User, &[]);
    hub.add_token(
        "tok-bot",
        "",
        TokenKind::Installation,
        &[("pull_requests", "write"), ("issues", "write")],
    );
    hub
}

const COMMENTS: &str = "/repos/acme/infra/issues/7/comments";

#[test]
fn valid_comment_is_stored_without_violations() {
    let hub = hub();
    let r = send(
        &hub,
        "POST",
        COMMENTS,
        "tok-bot",
        Some(&json!({"body": "hello"})),
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["user"]["login"], "github-actions[bot]");
    assert_eq!(r.json()["user"]["type"], "Bot");
    assert_eq!(hub.comments("acme", "infra", 7).len(), 1);
    assert!(hub.requests()[0].api_version);
    assert!(hub.violations().is_empty());
}

#[test]
fn body_the_schema_rejects_is_a_violation() {
    let hub = hub();
    let r = send(&hub, "POST", COMMENTS, "tok-bot", Some(&json!({"body": 5}))).unwrap();
    assert_eq!(r.status, 400);
    let v = hub.take_violations();
    assert!(
        v.iter()
            .any(|v| v.contains("/issues/{issue_number}/comments")),
        "{v:?}"
    );
    assert!(hub.comments("acme", "infra", 7).is_empty());
}

#[test]
fn unknown_path_and_query_parameter_are_violations() {
    let hub = hub();
    assert_eq!(
        send(&hub, "GET", "/repos/acme/infra/nonsense", "tok-bot", None)
            .unwrap()
            .status,
        404
    );
    assert_eq!(
        send(
            &hub,
            "GET",
            &format!("{COMMENTS}?colour=red"),
            "tok-bot",
            None
        )
        .unwrap()
        .status,
        400
    );
    assert_eq!(hub.take_violations().len(), 2);
}

#[test]
fn nullable_fields_accept_null() {
    let hub = hub();
    hub.add_token("tok-admin", "acme", TokenKind::User, &[]);
    let body = json!({"wait_timer": 0, "reviewers": null, "deployment_branch_policy": null});
    let r = send(
        &hub,
        "PUT",
        "/repos/acme/infra/environments/prod",
        "tok-admin",
        Some(&body),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(hub.violations().is_empty());
}

#[test]
fn comments_paginate_with_link_headers() {
    let hub = hub();
    for i in 0..75 {
        hub.add_comment("acme", "infra", 7, "dave", &format!("c{i}"));
    }
    let first = send(
        &hub,
        "GET",
        &format!("{COMMENTS}?per_page=30"),
        "tok-bot",
        None,
    )
    .unwrap();
    assert_eq!(first.json().as_array().unwrap().len(), 30);
    let link = first.header("link").unwrap();
    assert!(
        link.contains("page=2>; rel=\"next\"") && link.contains("page=3>; rel=\"last\""),
        "{link}"
    );
    let last = send(
        &hub,
        "GET",
        &format!("{COMMENTS}?per_page=30&page=3"),
        "tok-bot",
        None,
    )
    .unwrap();
    assert_eq!(last.json().as_array().unwrap().len(), 15);
    assert!(!last.header("link").unwrap().contains("rel=\"next\""));
}

#[test]
fn body_over_65536_characters_is_refused_with_github_message() {
    let hub = hub();
    let body = json!({"body": "é".repeat(65_537)});
    let r = send(&hub, "POST", COMMENTS, "tok-bot", Some(&body)).unwrap();
    assert_eq!(r.status, 422);
    assert!(r
        .body
        .contains("body is too long (maximum is 65536 characters)"));
    let ok = json!({"body": "é".repeat(65_536)});
    assert_eq!(
        send(&hub, "POST", COMMENTS, "tok-bot", Some(&ok))
            .unwrap()
            .status,
        201
    );
}

#[test]
fn more_than_50_annotations_are_refused() {
    let hub = hub();
    hub.add_token(
        "tok-checks",
        "",
        TokenKind::Installation,
        &[("checks", "write")],
    );
    let ann = json!({"path": "main.tf", "start_line": 1, "end_line": 1, "annotation_level": "warning", "message": "m"});
    let body = |n: usize| {
        json!({"name": "phasegate", "head_sha": "abc123",
        "output": {"title": "t", "summary": "s", "annotations": vec![ann.clone(); n]}})
    };
    let path = "/repos/acme/infra/check-runs";
    assert_eq!(
        send(&hub, "POST", path, "tok-checks", Some(&body(51)))
            .unwrap()
            .status,
        422
    );
    assert_eq!(
        send(&hub, "POST", path, "tok-checks", Some(&body(50)))
            .unwrap()
            .status,
        201
    );
    assert_eq!(hub.check_runs("acme", "infra").len(), 1);
}

#[test]
fn unknown_token_is_401_and_installation_cannot_read_user() {
    let hub = hub();
    assert_eq!(
        send(&hub, "GET", "/user", "nope", None).unwrap().status,
        401
    );
    let r = send(&hub, "GET", "/user", "tok-bot", None).unwrap();
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Resource not accessible by integration"));
    assert_eq!(
        send(&hub, "GET", "/user", "tok-user", None).unwrap().json()["login"],
        "carol"
    );
}

#[test]
fn missing_permission_names_the_accepted_ones() {
    let hub = hub();
    let r = send(
        &hub,
        "POST",
        "/repos/acme/infra/check-runs",
        "tok-bot",
        Some(&json!({"name": "phasegate", "head_sha": "abc123"})),
    )
    .unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(
        r.header("x-accepted-github-permissions"),
        Some("checks=write")
    );
}

#[test]
fn ref_update_that_is_not_a_fast_forward_needs_force() {
    let hub = hub();
    hub.add_token(
        "tok-git",
        "",
        TokenKind::Installation,
        &[("contents", "write")],
    );
    // Real 40-hex SHAs: the fake's answers are held to the description.
    let (a, b, c) = ("a".repeat(40), "b".repeat(40), "c".repeat(40));
    hub.add_commit("acme", "infra", &b, &[&a]);
    hub.add_commit("acme", "infra", &c, &[&a]);
    hub.set_ref("acme", "infra", "heads/journal", &b);
    let path = "/repos/acme/infra/git/refs/heads/journal";
    let r = send(&hub, "PATCH", path, "tok-git", Some(&json!({"sha": c}))).unwrap();
    assert_eq!(r.status, 422);
    assert!(r.body.contains("not a fast forward"));
    assert_eq!(
        hub.git_ref("acme", "infra", "heads/journal").as_deref(),
        Some(b.as_str())
    );
    let r = send(
        &hub,
        "PATCH",
        path,
        "tok-git",
        Some(&json!({"sha": c, "force": true})),
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let got = send(
        &hub,
        "GET",
        "/repos/acme/infra/git/ref/heads/journal",
        "tok-git",
        None,
    )
    .unwrap();
    assert_eq!(got.json()["object"]["sha"], c.as_str());
}

fn fault(kind: FaultKind) -> Fault {
    Fault {
        method: Some("POST"),
        path_prefix: COMMENTS.into(),
        kind,
        times: 1,
    }
}

#[test]
fn status_fault_fails_once_and_leaves_state_unchanged() {
    let hub = hub();
    hub.inject(fault(FaultKind::Status(502)));
    let body = json!({"body": "x"});
    assert_eq!(
        send(&hub, "POST", COMMENTS, "tok-bot", Some(&body))
            .unwrap()
            .status,
        502
    );
    assert!(hub.comments("acme", "infra", 7).is_empty());
    assert_eq!(
        send(&hub, "POST", COMMENTS, "tok-bot", Some(&body))
            .unwrap()
            .status,
        201
    );
}

#[test]
fn rate_limit_faults_carry_their_headers() {
    let hub = hub();
    let body = json!({"body": "x"});
    hub.inject(fault(FaultKind::SecondaryRateLimit {
        retry_after_secs: 3,
    }));
    let r = send(&hub, "POST", COMMENTS, "tok-bot", Some(&body)).unwrap();
    assert_eq!((r.status, r.header("retry-after")), (403, Some("3")));
    assert!(r.body.contains("secondary rate limit"));
    hub.inject(fault(FaultKind::RateLimit429 {
        retry_after_secs: 2,
    }));
    let r = send(&hub, "POST", COMMENTS, "tok-bot", Some(&body)).unwrap();
    assert_eq!((r.status, r.header("retry-after")), (429, Some("2")));
    hub.inject(fault(FaultKind::PrimaryRateLimit { reset_in_secs: 60 }));
    let r = send(&hub, "POST", COMMENTS, "tok-bot", Some(&body)).unwrap();
    assert_eq!(
        (r.status, r.header("x-ratelimit-remaining")),
        (403, Some("0"))
    );
    assert!(r.header("x-ratelimit-reset").is_some());
    assert!(hub.comments("acme", "infra", 7).is_empty());
}

#[test]
fn slow_fault_delays_and_drop_fault_breaks_the_response() {
    let hub = hub();
    hub.inject(Fault {
        method: None,
        path_prefix: "/user".into(),
        kind: FaultKind::Slow(Duration::from_millis(300)),
        times: 1,
    });
    let t = Instant::now();
    assert_eq!(
        send(&hub, "GET", "/user", "tok-user", None).unwrap().status,
        200
    );
    assert!(t.elapsed() >= Duration::from_millis(300));
    hub.inject(fault(FaultKind::Drop));
    assert!(send(
        &hub,
        "POST",
        COMMENTS,
        "tok-bot",
        Some(&json!({"body": "x"}))
    )
    .is_err());
    assert!(hub.comments("acme", "infra", 7).is_empty());
}

#[test]
fn minimize_comment_mutation_is_checked_and_applied() {
    let hub = hub();
    let id = hub.add_comment("acme", "infra", 7, "github-actions[bot]", "old");
    let q = "mutation($input: MinimizeCommentInput!) { minimizeComment(input: $input) { minimizedComment { isMinimized } } }";
    let body = json!({"query": q, "variables": {"input": {"subjectId": format!("IC_{id}"), "classifier": "OUTDATED"}}});
    let r = send(&hub, "POST", "/graphql", "tok-bot", Some(&body)).unwrap();
    assert_eq!(
        r.json()["data"]["minimizeComment"]["minimizedComment"]["isMinimized"],
        true
    );
    assert_eq!(hub.comments("acme", "infra", 7)[0]["minimized"], "outdated");
    let bad =
        json!({"query": q, "variables": {"input": {"subjectId": "x", "classifier": "STALE"}}});
    send(&hub, "POST", "/graphql", "tok-bot", Some(&bad)).unwrap();
    assert_eq!(hub.take_violations().len(), 1);
}

fn git_hub() -> FakeHub {
    let hub = hub();
    hub.add_token(
        "tok-git",
        "",
        TokenKind::Installation,
        &[("contents", "write")],
    );
    hub
}

const GIT: &str = "/repos/acme/infra/git";

/// Stores `text` as blob, one-file tree and root commit; returns the commit.
fn commit_of(hub: &FakeHub, text: &str) -> String {
    let post = |path: &str, body: Value| {
        let r = send(
            hub,
            "POST",
            &format!("{GIT}/{path}"),
            "tok-git",
            Some(&body),
        )
        .unwrap();
        assert_eq!(r.status, 201, "{path}: {}", r.body);
        r.json()["sha"].as_str().unwrap().to_owned()
    };
    let blob = post("blobs", json!({"content": text}));
    let tree = post(
        "trees",
        json!({"tree": [{"path": "data", "mode": "100644", "type": "blob", "sha": blob}]}),
    );
    post(
        "commits",
        json!({"message": "m", "tree": tree, "parents": []}),
    )
}

#[test]
fn git_objects_are_content_addressed_and_read_back_as_github_shows_them() {
    let hub = git_hub();
    let body = json!({"content": "aGVsbG8=", "encoding": "base64"});
    let a = send(
        &hub,
        "POST",
        &format!("{GIT}/blobs"),
        "tok-git",
        Some(&body),
    )
    .unwrap();
    let b = send(
        &hub,
        "POST",
        &format!("{GIT}/blobs"),
        "tok-git",
        Some(&json!({"content": "hello"})),
    )
    .unwrap();
    assert_eq!(a.json()["sha"], b.json()["sha"], "same bytes, same blob");
    let sha = a.json()["sha"].as_str().unwrap().to_owned();
    let got = send(&hub, "GET", &format!("{GIT}/blobs/{sha}"), "tok-git", None).unwrap();
    assert_eq!(
        (
            got.json()["encoding"].clone(),
            got.json()["content"].clone()
        ),
        (json!("base64"), json!("aGVsbG8=\n"))
    );
    let commit = commit_of(&hub, "hello");
    let c = send(
        &hub,
        "GET",
        &format!("{GIT}/commits/{commit}"),
        "tok-git",
        None,
    )
    .unwrap();
    assert_eq!(c.json()["author"]["name"], "github-actions[bot]");
    let tree = c.json()["tree"]["sha"].as_str().unwrap().to_owned();
    let t = send(&hub, "GET", &format!("{GIT}/trees/{tree}"), "tok-git", None).unwrap();
    assert_eq!(t.json()["tree"][0]["sha"], sha.as_str());
    assert!(hub.violations().is_empty(), "{:?}", hub.violations());
}

#[test]
fn git_data_gives_githubs_422_answers() {
    let hub = git_hub();
    let missing = "d".repeat(40);
    let cases = [
        (
            "trees",
            json!({"tree": [{"path": "f", "mode": "100644", "type": "blob", "sha": missing}]}),
            "GitRPC::BadObjectState",
        ),
        (
            "commits",
            json!({"message": "m", "tree": missing}),
            "Tree SHA does not exist",
        ),
        (
            "refs",
            json!({"ref": "refs/phasegate/x", "sha": missing}),
            "Object does not exist",
        ),
    ];
    for (path, body, message) in cases {
        let r = send(
            &hub,
            "POST",
            &format!("{GIT}/{path}"),
            "tok-git",
            Some(&body),
        )
        .unwrap();
        assert_eq!(
            (r.status, r.json()["message"].clone()),
            (422, json!(message))
        );
    }
    let c1 = commit_of(&hub, "one");
    let c2 = commit_of(&hub, "two");
    let create = json!({"ref": "refs/phasegate/locks/a.json", "sha": c1});
    let r = send(
        &hub,
        "POST",
        &format!("{GIT}/refs"),
        "tok-git",
        Some(&create),
    )
    .unwrap();
    assert_eq!(r.status, 201);
    let r = send(
        &hub,
        "POST",
        &format!("{GIT}/refs"),
        "tok-git",
        Some(&create),
    )
    .unwrap();
    assert_eq!(
        (r.status, r.json()["message"].clone()),
        (422, json!("Reference already exists"))
    );
    // c2 is a root commit, not a descendant of c1.
    let r = send(
        &hub,
        "PATCH",
        &format!("{GIT}/refs/phasegate/locks/a.json"),
        "tok-git",
        Some(&json!({"sha": c2})),
    )
    .unwrap();
    assert_eq!(
        (r.status, r.json()["message"].clone()),
        (422, json!("Update is not a fast forward"))
    );
    let m = send(
        &hub,
        "GET",
        &format!("{GIT}/matching-refs/phasegate/locks/"),
        "tok-git",
        None,
    )
    .unwrap();
    assert_eq!(m.json()[0]["ref"], "refs/phasegate/locks/a.json");
    let none = send(
        &hub,
        "GET",
        &format!("{GIT}/matching-refs/phasegate/changes/"),
        "tok-git",
        None,
    )
    .unwrap();
    assert_eq!(none.json(), json!([]));
    assert!(hub.violations().is_empty(), "{:?}", hub.violations());
}

#[test]
fn a_fault_after_applying_changes_state_but_answers_an_error() {
    let hub = git_hub();
    let c1 = commit_of(&hub, "one");
    hub.inject(Fault {
        method: Some("POST"),
        path_prefix: format!("{GIT}/refs"),
        kind: FaultKind::StatusAfterApplying(502),
        times: 1,
    });
    let create = json!({"ref": "refs/phasegate/k", "sha": c1});
    let r = send(
        &hub,
        "POST",
        &format!("{GIT}/refs"),
        "tok-git",
        Some(&create),
    )
    .unwrap();
    assert_eq!(r.status, 502);
    assert_eq!(hub.git_ref("acme", "infra", "phasegate/k"), Some(c1));
}

#[test]
fn an_app_token_acts_as_its_bot_and_its_comments_name_the_app() {
    let hub = hub();
    hub.add_app_token(
        "tok-app",
        "deployer",
        &[("pull_requests", "write"), ("issues", "write")],
    );
    assert_eq!(
        send(&hub, "GET", "/user", "tok-app", None).unwrap().status,
        403
    );
    let viewer = json!({"query": "query { viewer { login } }"});
    let r = send(&hub, "POST", "/graphql", "tok-app", Some(&viewer)).unwrap();
    assert_eq!(r.json()["data"]["viewer"]["login"], "deployer[bot]");
    let r = send(&hub, "POST", "/graphql", "tok-bot", Some(&viewer)).unwrap();
    assert_eq!(r.json()["data"]["viewer"]["login"], "github-actions[bot]");

    let r = send(
        &hub,
        "POST",
        COMMENTS,
        "tok-app",
        Some(&json!({"body": "hi"})),
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["user"]["login"], "deployer[bot]");
    assert_eq!(r.json()["performed_via_github_app"]["slug"], "deployer");
    let r = send(
        &hub,
        "POST",
        COMMENTS,
        "tok-user",
        Some(&json!({"body": "hi"})),
    )
    .unwrap();
    assert!(r.json()["performed_via_github_app"].is_null());
    // The answers, app included, are held to the description.
    assert!(hub.violations().is_empty(), "{:?}", hub.violations());
}

#[test]
fn a_graphql_query_other_than_the_viewer_s_login_is_a_violation() {
    let hub = hub();
    let q = json!({"query": "query { viewer { login email } }"});
    send(&hub, "POST", "/graphql", "tok-user", Some(&q)).unwrap();
    assert!(!hub.take_violations().is_empty());
}

/// One request from a child process that a runner started for `job` of the
/// workflow `phasegate promote`: the status code curl saw.
fn from_job(hub: &FakeHub, job: &str, path: &str, body: &Value) -> u16 {
    let out = std::process::Command::new("curl")
        .args([
            "--silent",
            "--output",
            "/dev/null",
            "--write-out",
            "%{http_code}",
        ])
        .args(["-X", "POST", "-H", "Authorization: Bearer tok-runner"])
        .args(["-H", "X-GitHub-Api-Version: 2022-11-28"])
        .args(["-H", "Content-Type: application/json", "--data"])
        .arg(body.to_string())
        .arg(format!("{}{path}", hub.url()))
        .env("GITHUB_WORKFLOW", "phasegate promote")
        .env("GITHUB_JOB", job)
        .output()
        .expect("curl runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn a_runner_token_has_the_permissions_of_the_job_it_comes_from() {
    let hub = hub();
    hub.add_runner_token("tok-runner");
    hub.set_job_permissions("phasegate promote", "reader", &[("contents", "read")]);
    hub.set_job_permissions(
        "phasegate promote",
        "writer",
        &[("contents", "read"), ("pull_requests", "write")],
    );
    let body = json!({"body": "hello"});
    assert_eq!(from_job(&hub, "writer", COMMENTS, &body), 201);
    assert_eq!(from_job(&hub, "reader", COMMENTS, &body), 403);
    // A job nobody registered, and this test process (no job at all).
    assert_eq!(from_job(&hub, "stranger", COMMENTS, &body), 403);
    let r = send(&hub, "POST", COMMENTS, "tok-runner", Some(&body)).unwrap();
    assert_eq!(r.status, 403, "{}", r.body);

    assert_eq!(
        hub.comments("acme", "infra", 7).len(),
        1,
        "only the writer's"
    );
    let denied = hub.denied();
    assert_eq!(denied.len(), 3, "{denied:?}");
    assert_eq!(denied[0]["job"], "phasegate promote/reader");
    assert!(denied[0]["accepted"]
        .as_str()
        .unwrap()
        .contains("pull_requests=write"));
    assert!(denied[1]["job"].is_null() && denied[2]["job"].is_null());
    assert_eq!(
        hub.dump("acme", "infra")["comments"]["7"][0]["user"]["login"],
        "github-actions[bot]"
    );
}

/// GET from a child process that a runner started for `job`: the body.
fn get_from_job(hub: &FakeHub, job: &str, path: &str) -> Value {
    let out = std::process::Command::new("curl")
        .args(["--silent", "-H", "Authorization: Bearer tok-runner"])
        .args(["-H", "X-GitHub-Api-Version: 2022-11-28"])
        .arg(format!("{}{path}", hub.url()))
        .env("GITHUB_WORKFLOW", "phasegate promote")
        .env("GITHUB_JOB", job)
        .output()
        .expect("curl runs");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[test]
fn a_scripted_review_is_given_when_a_job_of_its_environment_reaches_the_gate() {
    let hub = hub();
    hub.add_runner_token("tok-runner");
    hub.add_environment("acme", "infra", "prod", Default::default());
    for job in ["plan-prod", "apply-staging", "apply-prod"] {
        hub.set_job_permissions("phasegate promote", job, &[("actions", "read")]);
    }
    hub.set_job_environment("phasegate promote", "apply-staging", "staging");
    hub.set_job_environment("phasegate promote", "apply-prod", "prod");
    hub.script_review("acme", "infra", 42, "prod", "lead", "approved");
    let path = "/repos/acme/infra/actions/runs/42/approvals";
    // Neither a job without an environment nor one of another environment
    // brings the prod review about.
    assert_eq!(get_from_job(&hub, "plan-prod", path), json!([]));
    assert_eq!(get_from_job(&hub, "apply-staging", path), json!([]));
    let given = get_from_job(&hub, "apply-prod", path);
    assert_eq!(given[0]["user"]["login"], "lead", "{given}");
    assert_eq!(given[0]["state"], "approved");
    assert_eq!(given[0]["environments"][0]["name"], "prod");
    let at = given[0]["environments"][0]["created_at"].as_str().unwrap();
    assert!(at.starts_with("20") && at.ends_with('Z'), "{at}");
    // Given once: asking again lists the same review.
    assert_eq!(get_from_job(&hub, "apply-prod", path), given);
    assert!(hub.violations().is_empty(), "{:?}", hub.violations());
}

#[test]
fn usage_counts_each_token_apart_and_a_304_is_not_counted() {
    let hub = hub();
    hub.add_token(
        "tok-job2",
        "",
        TokenKind::Installation,
        &[("pull_requests", "write")],
    );
    let made = send(
        &hub,
        "POST",
        COMMENTS,
        "tok-bot",
        Some(&json!({"body": "a"})),
    )
    .unwrap();
    assert_eq!(made.status, 201);
    let first = send(&hub, "GET", COMMENTS, "tok-job2", None).unwrap();
    assert_eq!(first.status, 200);
    let etag = first
        .header("etag")
        .expect("a GET answers with an ETag")
        .to_owned();
    let used: u64 = first.header("x-ratelimit-used").unwrap().parse().unwrap();
    let again = send_with(
        &hub,
        "GET",
        COMMENTS,
        "tok-job2",
        None,
        &format!("If-None-Match: {etag}\r\n"),
    )
    .unwrap();
    assert_eq!(again.status, 304, "unchanged: not modified");
    assert!(again.body.is_empty());
    assert_eq!(
        again
            .header("x-ratelimit-used")
            .unwrap()
            .parse::<u64>()
            .unwrap(),
        used,
        "a 304 is not counted"
    );
    send(
        &hub,
        "POST",
        COMMENTS,
        "tok-bot",
        Some(&json!({"body": "b"})),
    )
    .unwrap();
    let changed = send_with(
        &hub,
        "GET",
        COMMENTS,
        "tok-job2",
        None,
        &format!("If-None-Match: {etag}\r\n"),
    )
    .unwrap();
    assert_eq!(changed.status, 200, "changed since: the new list");
    let by = hub.usage_by_token();
    assert_eq!(
        by["tok-bot"],
        fakehub::Usage {
            total: 2,
            content_creating: 2,
            not_modified: 0
        }
    );
    assert_eq!(
        by["tok-job2"],
        fakehub::Usage {
            total: 3,
            content_creating: 0,
            not_modified: 1
        }
    );
    assert_eq!(hub.usage().counted(), 4);
    assert!(hub.requests().iter().all(|r| r.status != 0));
}

#[test]
fn an_enforced_budget_refuses_once_spent_and_says_so_in_headers() {
    let hub = hub();
    hub.set_rate_limit(2, true);
    let a = send(&hub, "GET", COMMENTS, "tok-bot", None).unwrap();
    assert_eq!(a.header("x-ratelimit-remaining"), Some("1"));
    let b = send(&hub, "GET", COMMENTS, "tok-bot", None).unwrap();
    assert_eq!(b.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(b.status, 200);
    let c = send(&hub, "GET", COMMENTS, "tok-bot", None).unwrap();
    assert_eq!(c.status, 403);
    assert_eq!(c.header("x-ratelimit-remaining"), Some("0"));
    assert!(c.header("x-ratelimit-reset").is_some());
}
