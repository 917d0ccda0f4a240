//! The binary in a pull-request workflow against the fake GitHub: one sticky
//! comment however often and however badly the API behaves, a check run on
//! the PR head, and the pre-apply approval check with its refusals shown in
//! the comment. Every request is validated against GitHub's description.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fakehub::{EnvSpec, FakeHub, Fault, FaultKind, Reviewer, TokenKind};

const PHASEGATE: &str = env!("CARGO_BIN_EXE_phasegate");
const TOKEN: &str = "ghs_flowTestToken0123456789";
const HEAD: &str = "1111111111111111111111111111111111111111";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Flow {
    hub: FakeHub,
    dir: tempfile::TempDir,
}

impl Flow {
    fn new() -> Flow {
        let hub = FakeHub::start();
        hub.add_repo("acme", "infra");
        hub.add_pull("acme", "infra", 7, "alice", HEAD);
        hub.add_token(
            TOKEN,
            "",
            TokenKind::Installation,
            &[
                ("pull_requests", "write"),
                ("issues", "write"),
                ("checks", "write"),
                ("actions", "read"),
            ],
        );
        hub.set_permission("acme", "infra", "rita", "maintain");
        hub.set_permission("acme", "infra", "vic", "read");
        hub.set_permission("acme", "infra", "alice", "write");
        Flow {
            hub,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn event(&self, name: &str, payload: &str) -> PathBuf {
        let path = self.dir.path().join(format!("{name}.json"));
        std::fs::write(&path, payload).unwrap();
        path
    }

    fn run(&self, event_name: &str, payload: &str, args: &[&str]) -> Output {
        let event = self.event(event_name, payload);
        let out = Command::new(PHASEGATE)
            .current_dir(repo_root())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REPOSITORY", "acme/infra")
            .env("GITHUB_EVENT_NAME", event_name)
            .env("GITHUB_EVENT_PATH", &event)
            .env("GITHUB_API_URL", self.hub.url())
            .env("GITHUB_RUN_ID", "100")
            .env("GITHUB_SHA", "2222222222222222222222222222222222222222")
            .env("GITHUB_OUTPUT", self.dir.path().join("output"))
            .env("GITHUB_TOKEN", TOKEN)
            .env("NO_COLOR", "1")
            .args([
                "--config",
                "examples/quickstart/phasegate.yml",
                "--change",
                "examples/quickstart/change.yml",
            ])
            .args(args)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(TOKEN), "the token was printed:\n{all}");
        out
    }

    fn plan(&self, env: &str, plan_json: &Path) -> Output {
        let out_dir = self.dir.path().join("out");
        self.run(
            "pull_request",
            &format!(
                r#"{{"number":7,"pull_request":{{"number":7,"head":{{"sha":"{HEAD}","ref":"feat"}},"base":{{"ref":"main"}},"user":{{"login":"alice"}}}}}}"#
            ),
            &[
                "plan",
                "--env",
                env,
                "--plan-json",
                plan_json.to_str().unwrap(),
                "--out",
                out_dir.to_str().unwrap(),
            ],
        )
    }

    fn comment_bodies(&self) -> Vec<String> {
        self.hub
            .comments("acme", "infra", 7)
            .iter()
            .map(|c| c["body"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    fn approve_comment(&self, user: &str, text: &str) -> Output {
        self.run(
            "issue_comment",
            &format!(
                r#"{{"issue":{{"number":7,"pull_request":{{"url":"x"}},"user":{{"login":"alice"}}}},"comment":{{"id":900,"body":"{text}","user":{{"login":"{user}"}}}}}}"#
            ),
            &["approve"],
        )
    }

    fn approvals_check(&self, env: &str) -> Output {
        self.run(
            "pull_request",
            &format!(
                r#"{{"number":7,"pull_request":{{"number":7,"head":{{"sha":"{HEAD}"}},"user":{{"login":"alice"}}}}}}"#
            ),
            &["approvals", "check", "--env", env],
        )
    }

    fn assert_clean(&self) {
        let violations = self.hub.take_violations();
        assert!(violations.is_empty(), "{violations:#?}");
        for r in self.hub.requests() {
            assert!(
                !r.body.contains(TOKEN),
                "token in a request body: {}",
                r.path
            );
            assert!(
                r.api_version,
                "no API version header on {} {}",
                r.method, r.path
            );
        }
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn quickstart_plan() -> PathBuf {
    repo_root().join("examples/quickstart/plan.json")
}

#[test]
fn first_plan_creates_one_comment_and_a_second_updates_it() {
    let f = Flow::new();
    let out = f.plan("dev", &quickstart_plan());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let bodies = f.comment_bodies();
    assert_eq!(bodies.len(), 1);
    assert!(bodies[0].contains("Plan: 7 to add"));
    assert!(bodies[0].contains("Awaiting approval for"));
    let outputs = std::fs::read_to_string(f.dir.path().join("output")).unwrap();
    assert!(outputs.contains("comment_url=http"), "{outputs}");
    let checks = f.hub.check_runs("acme", "infra");
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0]["head_sha"], HEAD, "checks go on the PR head");
    assert_eq!(checks[0]["name"], "phasegate / dev");

    f.hub.clear_requests();
    let out = f.plan("dev", &quickstart_plan());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(f.comment_bodies().len(), 1);
    let requests = f.hub.requests();
    let comment_posts = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/issues/7/comments"))
        .count();
    assert_eq!(comment_posts, 0, "the second plan creates no comment");
    let calls: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    // GET /user (refused to an installation token, which then acts as
    // github-actions[bot]), list the comments, patch ours, create the check run.
    assert_eq!(
        calls,
        [
            "GET /user",
            "GET /repos/acme/infra/issues/7/comments",
            &format!(
                "PATCH /repos/acme/infra/issues/comments/{}",
                f.hub.comments("acme", "infra", 7)[0]["id"]
            ),
            "POST /repos/acme/infra/check-runs",
        ],
        "a plan on a PR that has its comment makes exactly these requests"
    );
    f.assert_clean();
}

#[test]
fn faults_on_every_call_type_still_leave_exactly_one_comment() {
    let f = Flow::new();
    for (prefix, kind) in [
        ("/repos/acme/infra/issues", FaultKind::Status(502)),
        ("/repos/acme/infra/issues", FaultKind::Status(500)),
        (
            "/repos/acme/infra/issues",
            FaultKind::SecondaryRateLimit {
                retry_after_secs: 1,
            },
        ),
        (
            "/repos/acme/infra/check-runs",
            FaultKind::RateLimit429 {
                retry_after_secs: 1,
            },
        ),
        ("/repos/acme/infra/issues/comments", FaultKind::Status(503)),
    ] {
        f.hub.inject(Fault {
            method: None,
            path_prefix: prefix.to_string(),
            kind,
            times: 1,
        });
    }
    let out = f.plan("dev", &quickstart_plan());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = f.plan("dev", &quickstart_plan());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(f.comment_bodies().len(), 1);
    f.assert_clean();
}

#[test]
fn an_oversize_plan_never_fails_on_a_too_long_body() {
    let f = Flow::new();
    let big = f.dir.path().join("big.json");
    std::fs::write(&big, phasegate::plan::synthetic_plan_json(5_000, 150, 20)).unwrap();
    let out = f.plan("dev", &big);
    // The gates may refuse such a plan; the post itself must not fail.
    assert_ne!(out.status.code(), Some(3), "{}", text(&out));
    let bodies = f.comment_bodies();
    assert_eq!(bodies.len(), 1);
    assert!(bodies[0].chars().count() <= 65_536);
    f.assert_clean();
}

#[test]
fn no_recorded_approval_is_refused_and_shown() {
    let f = Flow::new();
    f.hub.add_environment(
        "acme",
        "infra",
        "staging",
        EnvSpec {
            reviewers: vec![Reviewer::User("rita".into())],
            prevent_self_review: true,
            ..Default::default()
        },
    );
    assert_eq!(f.plan("staging", &quickstart_plan()).status.code(), Some(0));
    let out = f.approvals_check("staging");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let body = f.comment_bodies().concat();
    assert!(body.contains("Approval for"), "{body}");
    f.assert_clean();
}

#[test]
fn mandatory_reviewers_missing_is_refused_and_shown() {
    let f = Flow::new();
    // staging requires reviewers; its GitHub environment has none.
    f.hub
        .add_environment("acme", "infra", "staging", EnvSpec::default());
    assert_eq!(f.plan("staging", &quickstart_plan()).status.code(), Some(0));
    let out = f.approvals_check("staging");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(f
        .comment_bodies()
        .concat()
        .contains("no required reviewers"));
    f.assert_clean();
}

#[test]
fn self_approval_is_refused_and_shown() {
    let f = Flow::new();
    f.hub.add_environment(
        "acme",
        "infra",
        "staging",
        EnvSpec {
            reviewers: vec![Reviewer::User("alice".into())],
            ..Default::default()
        },
    );
    f.hub.add_run_approvals(
        "acme",
        "infra",
        100,
        vec![("staging", "alice", "2026-11-22T10:00:00Z", "approved")],
    );
    assert_eq!(f.plan("staging", &quickstart_plan()).status.code(), Some(0));
    let out = f.approvals_check("staging");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(f.comment_bodies().concat().contains("self-approval"));
    f.assert_clean();
}

#[test]
fn fallback_approval_for_an_older_digest_is_refused_and_shown() {
    let f = Flow::new();
    assert_eq!(f.plan("dev", &quickstart_plan()).status.code(), Some(0));
    // An approval naming some other plan is not recorded at all.
    let out = f.approve_comment("rita", "/phasegate approve dev 0123456789abcdef");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(f.comment_bodies().concat().contains("refused"));

    // A valid approval of the first plan, then the plan changes.
    let first = plan_digest(&f);
    let out = f.approve_comment("rita", &format!("/phasegate approve dev {}", &first[..16]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let replaced = repo_root().join("examples/quickstart/plan-replace.json");
    f.plan("dev", &replaced);
    assert_ne!(plan_digest(&f), first);
    let out = f.approvals_check("dev");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let body = f.comment_bodies().concat();
    assert!(
        body.contains(&format!("approval was for plan {}", &first[..12])),
        "{body}"
    );
    f.assert_clean();
}

fn plan_digest(f: &Flow) -> String {
    let out = std::fs::read_to_string(f.dir.path().join("output")).unwrap();
    out.lines()
        .rev()
        .find_map(|l| l.strip_prefix("digest="))
        .unwrap()
        .to_string()
}

#[test]
fn fallback_approval_without_permission_is_refused_and_a_permitted_one_counts() {
    let f = Flow::new();
    assert_eq!(f.plan("dev", &quickstart_plan()).status.code(), Some(0));
    let digest = plan_digest(&f);
    let command = format!("/phasegate approve dev {}", &digest[..16]);
    let out = f.approve_comment("vic", &command);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(f.comment_bodies().concat().contains("permission"));
    assert_eq!(f.approvals_check("dev").status.code(), Some(1));

    let out = f.approve_comment("rita", &command);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = f.approvals_check("dev");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    f.assert_clean();
}
