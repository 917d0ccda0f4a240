//! The binary in a pull-request workflow against the fake GitHub: one sticky
//! comment however often and however badly the API behaves, a check run on
//! the PR head, and the pre-apply approval check with its refusals shown in
//! the comment. Every request is validated against GitHub's description.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fakehub::{EnvSpec, FakeHub, Fault, FaultKind, Reviewer};

use crate::cli::text;

const PHASEGATE: &str = env!("CARGO_BIN_EXE_phasegate");
const TOKEN: &str = "ghs_flowTestToken0123456789";
const HEAD: &str = "1111111111111111111111111111111111111111";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An installation token of the GitHub App `deployer`.
const APP_TOKEN: &str = "ghs_deployerAppToken0123456789";

struct Flow {
    hub: FakeHub,
    dir: tempfile::TempDir,
    /// The token the binary runs with.
    token: &'static str,
    config: PathBuf,
    /// The journal in a local directory (a test edits it) instead of the
    /// repository's refs, the default in Actions.
    local_store: bool,
}

use crate::suite_support::pr_hub;

impl Flow {
    /// The binary runs with a GitHub App's token instead of the default one.
    fn with_app() -> Flow {
        let mut f = Flow::new();
        f.hub.add_app_token(
            APP_TOKEN,
            "deployer",
            &[
                ("pull_requests", "write"),
                ("checks", "write"),
                ("contents", "write"),
            ],
        );
        f.token = APP_TOKEN;
        f
    }

    fn new() -> Flow {
        let hub = pr_hub(TOKEN, HEAD);
        hub.set_permission("acme", "infra", "rita", "maintain");
        hub.set_permission("acme", "infra", "vic", "read");
        hub.set_permission("acme", "infra", "alice", "write");
        Flow {
            hub,
            dir: tempfile::tempdir().unwrap(),
            token: TOKEN,
            config: repo_root().join("examples/quickstart/phasegate.yml"),
            local_store: false,
        }
    }

    fn event(&self, name: &str, payload: &str) -> PathBuf {
        let path = self.dir.path().join(format!("{name}.json"));
        std::fs::write(&path, payload).unwrap();
        path
    }

    fn run(&self, event_name: &str, payload: &str, args: &[&str]) -> Output {
        let event = self.event(event_name, payload);
        let mut cmd = Command::new(PHASEGATE);
        if self.local_store {
            cmd.env("PHASEGATE_STORE_DIR", self.dir.path().join("store"));
        }
        let out = cmd
            .current_dir(repo_root())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REPOSITORY", "acme/infra")
            .env("GITHUB_EVENT_NAME", event_name)
            .env("GITHUB_EVENT_PATH", &event)
            .env("GITHUB_API_URL", self.hub.url())
            .env("GITHUB_RUN_ID", "100")
            .env("GITHUB_SHA", "2222222222222222222222222222222222222222")
            .env("GITHUB_OUTPUT", self.dir.path().join("output"))
            .env("GITHUB_TOKEN", self.token)
            .env("NO_COLOR", "1")
            .arg("--config")
            .arg(&self.config)
            .args(["--change", "examples/quickstart/change.yml"])
            .args(args)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(self.token), "the token was printed:\n{all}");
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
        self.approvals_check_args(&["--env", env])
    }

    fn approvals_check_args(&self, args: &[&str]) -> Output {
        let mut all = vec!["approvals", "check"];
        all.extend_from_slice(args);
        self.run(
            "pull_request",
            &format!(
                r#"{{"number":7,"pull_request":{{"number":7,"head":{{"sha":"{HEAD}"}},"user":{{"login":"alice"}}}}}}"#
            ),
            &all,
        )
    }

    fn assert_clean(&self) {
        let violations = self.hub.take_violations();
        assert!(violations.is_empty(), "{violations:#?}");
        for r in self.hub.requests() {
            assert!(
                !r.body.contains(self.token),
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
    // dev needs no reviewer: the comment does not ask for one.
    assert!(
        !bodies[0].contains("Awaiting approval for"),
        "{}",
        bodies[0]
    );
    assert!(bodies[0].contains("No approval needed"), "{}", bodies[0]);
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
    // The journal appended in the repository's refs (read its witness, the
    // ref and its object, write blob, tree, commit, move the ref, then the
    // witness); who the token is (GitHub's GraphQL viewer names the default
    // token's github-actions[bot]), list the comments, patch ours, create the
    // check run; then the journal block: re-read the journal, patch, and
    // check that neither the journal nor the comment moved since.
    let journal_ref = "/repos/acme/infra/git/ref/phasegate/changes/CHG-1/journal.jsonl";
    let witness_ref = "/repos/acme/infra/git/ref/phasegate-witness/changes/CHG-1/journal.jsonl";
    let patch = format!(
        "PATCH /repos/acme/infra/issues/comments/{}",
        f.hub.comments("acme", "infra", 7)[0]["id"]
    );
    let expected: Vec<String> = [
        format!("GET {witness_ref}"),
        format!("GET {journal_ref}"),
        "GET /repos/acme/infra/contents/journal.jsonl".into(),
        "POST /repos/acme/infra/git/trees".into(),
        "POST /repos/acme/infra/git/commits".into(),
        "PATCH /repos/acme/infra/git/refs/phasegate/changes/CHG-1/journal.jsonl".into(),
        "PATCH /repos/acme/infra/git/refs/phasegate-witness/changes/CHG-1/journal.jsonl".into(),
        "POST /graphql".into(),
        "GET /repos/acme/infra/issues/7/comments".into(),
        patch.clone(),
        "POST /repos/acme/infra/check-runs".into(),
        format!("GET {witness_ref}"),
        format!("GET {journal_ref}"),
        "GET /repos/acme/infra/issues/7/comments".into(),
        patch,
        format!("GET {witness_ref}"),
        format!("GET {journal_ref}"),
        "GET /repos/acme/infra/issues/7/comments".into(),
    ]
    .into();
    // Object SHAs vary: compare the object reads without them.
    let calls: Vec<String> = calls
        .iter()
        .map(|c| match c.rsplit_once('/') {
            Some((head, _))
                if c.starts_with("GET ")
                    && ["/git/commits", "/git/trees", "/git/blobs"]
                        .iter()
                        .any(|k| head.ends_with(k)) =>
            {
                format!("{head}/")
            }
            _ => c.clone(),
        })
        .collect();
    assert_eq!(
        calls, expected,
        "a plan on a PR that has its comment makes exactly these requests"
    );
    // Re-reads are conditional (If-None-Match): the journal's refs read a
    // last time, unchanged, are answered 304, which GitHub does not count
    // against the hour's budget (README).
    let not_modified: Vec<String> = requests
        .iter()
        .filter(|r| r.status == 304)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        not_modified,
        vec![format!("GET {witness_ref}"), format!("GET {journal_ref}"),],
        "{calls:#?}"
    );
    assert_eq!(
        f.hub.usage().content_creating,
        7,
        "tree (the journal inline), commit, the ref and its witness, the comment twice, the check run"
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
    refused_for_older_plan(&f, &first);
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

#[test]
fn a_refused_approval_after_an_accepted_one_leaves_the_accepted_one_shown() {
    let f = Flow::new();
    assert_eq!(f.plan("dev", &quickstart_plan()).status.code(), Some(0));
    let command = format!("/phasegate approve dev {}", &plan_digest(&f)[..16]);
    assert_eq!(f.approve_comment("rita", &command).status.code(), Some(0));
    let out = f.approve_comment("vic", &command);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let body = f.comment_bodies().concat();
    let block = body
        .split_once("#### Approval for `dev`")
        .and_then(|(_, rest)| rest.split_once("<!-- phasegate:phase-end="))
        .map(|(block, _)| block)
        .unwrap_or_else(|| panic!("no approval block:\n{body}"));
    assert!(block.contains("Approved by &#64;rita"), "{block}");
    assert!(block.contains("Approval by &#64;vic refused"), "{block}");
    assert_eq!(f.approvals_check("dev").status.code(), Some(0));
    f.assert_clean();
}

/// A comment carrying the quickstart change's marker, posted by `author`.
fn marker_copy(f: &Flow, author: &str) -> u64 {
    let body = format!(
        "{}\n<!-- phasegate:phase=dev -->\napproved by everyone!\n<!-- phasegate:phase-end=dev -->",
        phasegate::github::comment::change_marker("CHG-1")
    );
    f.hub.add_comment("acme", "infra", 7, author, &body)
}

#[test]
fn with_an_app_token_plan_edits_its_own_comment_and_ignores_copies() {
    let f = Flow::with_app();
    let actions = marker_copy(&f, "github-actions[bot]");
    let forged = marker_copy(&f, "mallory");
    let out = f.plan("dev", &quickstart_plan());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = f.plan("dev", &quickstart_plan());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let all = f.hub.comments("acme", "infra", 7);
    assert_eq!(all.len(), 3, "one comment of ours beside the two copies");
    for c in &all[..2] {
        assert!(c["body"]
            .as_str()
            .unwrap()
            .contains("approved by everyone!"));
        assert!([actions, forged].contains(&c["id"].as_u64().unwrap()));
    }
    assert_eq!(all[2]["user"]["login"], "deployer[bot]");
    let ours = all[2]["body"].as_str().unwrap();
    assert!(ours.contains("Plan: 7 to add") && !ours.contains("approved by everyone!"));
    f.assert_clean();
}

#[test]
fn a_bot_login_setting_that_github_contradicts_exits_2_and_posts_nothing() {
    let mut f = Flow::with_app();
    let quickstart = repo_root().join("examples/quickstart");
    let config = std::fs::read_to_string(quickstart.join("phasegate.yml"))
        .unwrap()
        .replace(
            "\nprojects:",
            "\ngithub:\n  bot_login: github-actions[bot]\nprojects:",
        );
    assert!(config.contains("bot_login"), "the setting went in");
    // Project dirs are relative to the config; --plan-json stands in for them.
    std::fs::create_dir_all(f.dir.path().join("infra")).unwrap();
    f.config = f.dir.path().join("phasegate.yml");
    std::fs::write(&f.config, config).unwrap();
    let out = f.plan("dev", &quickstart_plan());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("github.bot_login"), "{}", text(&out));
    assert!(f.comment_bodies().is_empty());
    f.assert_clean();
}

/// The quickstart's no-op plan, as Terraform writes it when planning failed.
fn errored_no_change_plan(f: &Flow) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join("tests/fixtures/plans/action-no-op.json"))
        .unwrap();
    let mut plan: serde_json::Value = serde_json::from_str(&text).unwrap();
    plan["errored"] = serde_json::Value::Bool(true);
    let path = f.dir.path().join("errored.json");
    std::fs::write(&path, plan.to_string()).unwrap();
    path
}

#[test]
fn an_errored_plan_fails_the_check_run_and_never_says_no_changes() {
    let f = Flow::new();
    let out = f.plan("dev", &errored_no_change_plan(&f));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let body = f.comment_bodies().concat();
    assert!(body.contains(phasegate::render::PLAN_FAILED), "{body}");
    assert!(!body.contains(phasegate::render::NO_CHANGES), "{body}");
    let checks = f.hub.check_runs("acme", "infra");
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0]["conclusion"], "failure");
    let summary = checks[0]["output"]["summary"].as_str().unwrap();
    assert!(summary.contains(phasegate::render::PLAN_FAILED));
    assert!(!summary.contains(phasegate::render::NO_CHANGES));
    let result: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(f.dir.path().join("out/result.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(result["errored"], true, "the runner reads this to refuse");
    assert_eq!(result["projects"][0]["errored"], true);
    let job_summary = std::fs::read_to_string(f.dir.path().join("out/summary.md")).unwrap();
    assert!(job_summary.contains(phasegate::render::PLAN_FAILED));
    assert!(!job_summary.contains(phasegate::render::NO_CHANGES));
    f.assert_clean();
}

#[test]
fn a_digest_that_is_not_hex_or_too_short_is_a_usage_error_before_any_request() {
    let f = Flow::new();
    for bad in [
        "not-a-digest-at-all",
        "0123456789a",
        // Non-ASCII across byte 12 once panicked.
        "0123456789aé0123",
        "éééééééééééééééééé",
    ] {
        f.hub.clear_requests();
        let out = f.approvals_check_args(&["--env", "dev", "--digest", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--digest"), "{bad}: {err}");
        assert!(!err.contains("panicked"), "{bad}: {err}");
        assert!(f.hub.requests().is_empty(), "{bad}: nothing is fetched");
    }
    f.assert_clean();
}

#[test]
fn a_digest_prefix_is_completed_from_the_recorded_plan_or_refused() {
    let f = Flow::new();
    assert_eq!(f.plan("dev", &quickstart_plan()).status.code(), Some(0));
    let digest = plan_digest(&f);
    // The right prefix: checked (and refused for want of an approval, not
    // as bad input).
    let out = f.approvals_check_args(&["--env", "dev", "--digest", &digest[..16]]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // The prefix of some other plan cannot be completed.
    let out = f.approvals_check_args(&["--env", "dev", "--digest", "0123456789abcdef"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("matches no plan recorded"));
    f.assert_clean();
}

#[test]
fn approvals_check_takes_the_plan_digest_from_the_journal_not_the_comment() {
    let f = Flow {
        local_store: true,
        ..Flow::new()
    };
    assert_eq!(f.plan("dev", &quickstart_plan()).status.code(), Some(0));
    let first = plan_digest(&f);
    let out = f.approve_comment("rita", &format!("/phasegate approve dev {}", &first[..16]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(f.approvals_check("dev").status.code(), Some(0));

    // A newer plan reached the journal but not the comment (its post was
    // lost): the comment still names the approved digest. The check follows
    // the journal and refuses.
    let newer = "ab".repeat(32);
    let journal = f.dir.path().join("store/changes/CHG-1/journal.jsonl");
    crate::journal_chain::append_event(
        &journal,
        serde_json::json!({
            "time": "2030-01-01T00:00:00Z", "run": {"id": 101}, "actor": "ci",
            "change": "CHG-1", "phase": "dev", "project": "app", "step": "plan",
            "digest": newer, "event": "step_succeeded", "plan": {"has_changes": true},
        }),
    );
    refused_for_older_plan(&f, &first);
}

/// `approvals check --env dev` refuses, showing that the approval named `first`.
fn refused_for_older_plan(f: &Flow, first: &str) {
    let out = f.approvals_check("dev");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let body = f.comment_bodies().concat();
    assert!(
        body.contains(&format!("approval was for plan {}", &first[..12])),
        "{body}"
    );
    f.assert_clean();
}
