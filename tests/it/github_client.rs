//! The forge client against the fake GitHub: the sticky comment is created
//! once, updated in place, survives faults and races, trusts only its own
//! comments, names missing permissions, and never leaks the token.

use std::time::Duration;

use fakehub::{FakeHub, Fault, FaultKind, TokenKind};
use phasegate::github::comment::change_marker;
use phasegate::github::{
    minimize_outdated, upsert_phase, Annotation, CheckRunRequest, Forge, ForgeConfig, GithubError,
    IssueUpdate, OctoForge, PrTarget, RepoRef, RetryPolicy,
};
use phasegate::render::{COMMENT_BUDGET, DETAILS_MARKER};

const TOKEN: &str = "ghs_fake_installation_token_0123456789";

fn hub() -> FakeHub {
    let hub = FakeHub::start();
    hub.add_repo("acme", "infra");
    hub.add_pull("acme", "infra", 7, "alice", "abc123");
    hub.add_token(
        TOKEN,
        "",
        TokenKind::Installation,
        &[("pull_requests", "write"), ("checks", "write")],
    );
    hub
}

fn forge(hub: &FakeHub, token: &str) -> OctoForge {
    OctoForge::new(&ForgeConfig {
        api_url: hub.url().to_owned(),
        graphql_url: None,
        token: token.to_owned(),
        retry: RetryPolicy::fast(),
    })
    .expect("client")
}

fn pr() -> PrTarget {
    PrTarget {
        repo: RepoRef::new("acme", "infra"),
        number: 7,
    }
}

fn order() -> Vec<String> {
    ["dev", "staging", "prod"].map(String::from).to_vec()
}

async fn upsert(
    f: &OctoForge,
    phase: &str,
    text: &str,
) -> Result<phasegate::github::CommentRef, GithubError> {
    let text = text.to_owned();
    let key = phase.to_owned();
    upsert_phase(
        f,
        &pr(),
        "pr-7",
        phase,
        &order(),
        move |_budget| format!("#### {key}\n{text}"),
        |state| {
            state.phases.entry(phase.to_owned()).or_default().digest =
                Some(format!("digest-{phase}"));
        },
    )
    .await
}

fn bodies(hub: &FakeHub) -> Vec<String> {
    hub.comments("acme", "infra", 7)
        .iter()
        .map(|c| c["body"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn assert_clean(hub: &FakeHub) {
    assert!(hub.violations().is_empty(), "{:?}", hub.violations());
    for r in hub.requests() {
        assert!(
            r.api_version,
            "{} {} lacks X-GitHub-Api-Version",
            r.method, r.path
        );
        assert!(
            !r.body.contains(TOKEN),
            "token in the body of {} {}",
            r.method,
            r.path
        );
    }
}

#[tokio::test]
async fn first_upsert_creates_exactly_one_comment() {
    let hub = hub();
    let f = forge(&hub, TOKEN);
    let r = upsert(&f, "dev", "plan: 1 to add").await.unwrap();
    assert!(r.created);
    let b = bodies(&hub);
    assert_eq!(b.len(), 1);
    assert!(b[0].starts_with(&change_marker("pr-7")));
    assert!(b[0].contains(
        "<!-- phasegate:phase=dev -->\n#### dev\nplan: 1 to add\n<!-- phasegate:phase-end=dev -->"
    ));
    assert_eq!(
        hub.comments("acme", "infra", 7)[0]["user"]["login"],
        "github-actions[bot]"
    );
    assert_clean(&hub);
}

#[tokio::test]
async fn second_upsert_updates_in_place_with_list_and_patch_only() {
    let hub = hub();
    let f = forge(&hub, TOKEN);
    upsert(&f, "dev", "first").await.unwrap();
    hub.clear_requests();
    let r = upsert(&f, "dev", "second").await.unwrap();
    assert!(!r.created);
    let calls: Vec<String> = hub
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        calls,
        [
            "GET /repos/acme/infra/issues/7/comments".to_owned(),
            format!("PATCH /repos/acme/infra/issues/comments/{}", r.id),
        ]
    );
    // A fresh process also asks who it is (the GraphQL viewer): three
    // requests in all.
    hub.clear_requests();
    upsert(&forge(&hub, TOKEN), "dev", "third").await.unwrap();
    assert_eq!(hub.requests().len(), 3);
    let b = bodies(&hub);
    assert_eq!(b.len(), 1);
    assert!(b[0].contains("third") && !b[0].contains("second"));
    assert_clean(&hub);
}

#[tokio::test]
async fn phases_keep_each_other_and_promotion_order() {
    let hub = hub();
    let f = forge(&hub, TOKEN);
    upsert(&f, "prod", "prod plan").await.unwrap();
    upsert(&f, "dev", "dev plan").await.unwrap();
    let b = &bodies(&hub)[0];
    assert!(b.find("dev plan").unwrap() < b.find("prod plan").unwrap());
    let state = phasegate::github::comment::read_state(b);
    assert_eq!(state.phases["dev"].digest.as_deref(), Some("digest-dev"));
    assert_eq!(state.phases["prod"].digest.as_deref(), Some("digest-prod"));
    assert_clean(&hub);
}

#[tokio::test]
async fn faults_on_every_call_type_still_leave_one_comment() {
    let hub = hub();
    let f = forge(&hub, TOKEN);
    let comments = "/repos/acme/infra/issues/7/comments";
    let fault = |method: &'static str, path: &str, kind: FaultKind, times: u32| Fault {
        method: Some(method),
        path_prefix: path.to_owned(),
        kind,
        times,
    };
    hub.inject(fault("GET", "/user", FaultKind::Status(502), 1));
    hub.inject(fault("GET", comments, FaultKind::Status(500), 1));
    hub.inject(fault("GET", comments, FaultKind::Drop, 1));
    hub.inject(fault(
        "GET",
        comments,
        FaultKind::SecondaryRateLimit {
            retry_after_secs: 0,
        },
        1,
    ));
    hub.inject(fault("POST", comments, FaultKind::Status(503), 1));
    hub.inject(fault(
        "POST",
        comments,
        FaultKind::SecondaryRateLimit {
            retry_after_secs: 0,
        },
        1,
    ));
    hub.inject(fault("POST", comments, FaultKind::Drop, 1));
    upsert(&f, "dev", "dev plan").await.unwrap();
    let patch = "/repos/acme/infra/issues/comments/";
    hub.inject(fault("PATCH", patch, FaultKind::Status(502), 1));
    hub.inject(fault(
        "PATCH",
        patch,
        FaultKind::RateLimit429 {
            retry_after_secs: 0,
        },
        1,
    ));
    hub.inject(fault(
        "PATCH",
        patch,
        FaultKind::PrimaryRateLimit { reset_in_secs: 0 },
        1,
    ));
    hub.inject(fault("PATCH", patch, FaultKind::Drop, 1));
    upsert(&f, "staging", "staging plan").await.unwrap();
    let b = bodies(&hub);
    assert_eq!(b.len(), 1, "{b:#?}");
    assert!(b[0].contains("dev plan") && b[0].contains("staging plan"));
    assert_clean(&hub);
}

#[tokio::test]
async fn oversize_blocks_never_produce_a_failing_422() {
    let hub = hub();
    let f = forge(&hub, TOKEN);
    let huge = |_budget: usize| format!("essentials\n{DETAILS_MARKER}\n{}", "é".repeat(90_000));
    for phase in ["dev", "staging", "prod"] {
        upsert_phase(&f, &pr(), "pr-7", phase, &order(), huge, |_| {})
            .await
            .unwrap();
    }
    let b = bodies(&hub);
    assert_eq!(b.len(), 1);
    assert!(b[0].chars().count() <= COMMENT_BUDGET);
    assert!(
        b[0].contains("<!-- phasegate:phase=dev -->")
            && b[0].contains("<!-- phasegate:phase-end=prod -->")
    );
    assert_clean(&hub);
}

#[tokio::test]
async fn two_concurrent_upserts_leave_one_comment() {
    let hub = hub();
    let (a, b) = (forge(&hub, TOKEN), forge(&hub, TOKEN));
    let (ra, rb) = tokio::join!(
        upsert(&a, "dev", "dev plan"),
        upsert(&b, "staging", "staging plan")
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.id, rb.id);
    let bodies = bodies(&hub);
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    assert!(bodies[0].contains("dev plan") && bodies[0].contains("staging plan"));
    let count = |m: &str| {
        hub.requests()
            .iter()
            .filter(|r| r.method == m && r.path.contains("comments"))
            .count()
    };
    // Both writers may delete the same duplicate; the second gets a 404.
    assert!(
        count("DELETE") + 1 >= count("POST"),
        "every extra comment was deleted"
    );
    assert_clean(&hub);
}

#[tokio::test]
async fn a_marker_pasted_by_someone_else_is_ignored() {
    let hub = hub();
    let forged = format!(
        "{}\n<!-- phasegate:phase=dev -->\napproved!\n<!-- phasegate:phase-end=dev -->",
        change_marker("pr-7")
    );
    let theirs = hub.add_comment("acme", "infra", 7, "mallory", &forged);
    let f = forge(&hub, TOKEN);
    let r = upsert(&f, "staging", "staging plan").await.unwrap();
    assert!(r.created && r.id != theirs);
    let all = hub.comments("acme", "infra", 7);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["body"], forged.as_str());
    let ours = all[1]["body"].as_str().unwrap();
    assert!(!ours.contains("approved!"));
    assert_clean(&hub);
}

#[tokio::test]
async fn the_existing_comment_is_found_past_the_first_page() {
    let hub = hub();
    let f = forge(&hub, TOKEN);
    upsert(&f, "dev", "dev plan").await.unwrap();
    for i in 0..150 {
        hub.add_comment("acme", "infra", 7, "bob", &format!("chatter {i}"));
    }
    upsert(&f, "dev", "dev plan 2").await.unwrap();
    assert_eq!(
        bodies(&hub)
            .iter()
            .filter(|b| b.contains("phasegate:change"))
            .count(),
        1
    );
    assert_clean(&hub);
}

#[tokio::test]
async fn a_missing_permission_is_named_and_the_token_is_not_echoed() {
    let hub = hub();
    let weak = "ghs_weak_token_without_write_access";
    hub.add_token(
        weak,
        "",
        TokenKind::Installation,
        &[("pull_requests", "read")],
    );
    let f = forge(&hub, weak);
    let err = upsert(&f, "dev", "plan").await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("`issues: write` or `pull-requests: write`"),
        "{text}"
    );
    assert!(!text.contains(weak));
    let run = CheckRunRequest {
        name: "phasegate".into(),
        head_sha: "abc123".into(),
        title: "t".into(),
        summary: "s".into(),
        ..Default::default()
    };
    let err = f.create_check_run(&pr().repo, &run).await.unwrap_err();
    assert!(err.to_string().contains("`checks: write`"), "{err}");
    let as_cli = phasegate::Error::from(err);
    assert_eq!(as_cli.exit_code(), phasegate::ExitCode::External);
    for r in hub.requests() {
        assert!(!r.body.contains(weak));
    }
    assert!(hub.comments("acme", "infra", 7).is_empty());
    assert_clean(&hub);
}

#[tokio::test]
async fn check_runs_send_annotations_in_batches_of_50() {
    let hub = hub();
    let f = forge(&hub, TOKEN);
    let ann = |i: u64| Annotation {
        path: "main.tf".into(),
        start_line: i,
        end_line: i,
        annotation_level: "warning".into(),
        message: format!("finding {i}"),
        title: None,
    };
    let run = CheckRunRequest {
        name: "phasegate / dev".into(),
        head_sha: "abc123".into(),
        status: Some("completed".into()),
        conclusion: Some("failure".into()),
        title: "3 findings".into(),
        summary: "s".into(),
        annotations: (1..=120).map(ann).collect(),
        ..Default::default()
    };
    f.create_check_run(&pr().repo, &run).await.unwrap();
    let runs = hub.check_runs("acme", "infra");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["output"]["annotations_count"], 120);
    assert_eq!(runs[0]["conclusion"], "failure");
    assert_clean(&hub);
}

#[tokio::test]
async fn comments_of_older_changes_are_minimized_as_outdated() {
    let hub = hub();
    let f = forge(&hub, TOKEN);
    upsert_phase(
        &f,
        &pr(),
        "old-change",
        "dev",
        &order(),
        |_| "old".into(),
        |_| {},
    )
    .await
    .unwrap();
    upsert(&f, "dev", "new").await.unwrap();
    assert_eq!(minimize_outdated(&f, &pr(), "pr-7").await.unwrap(), 1);
    let all = hub.comments("acme", "infra", 7);
    assert_eq!(all[0]["minimized"], "outdated");
    assert!(all[1]["minimized"].is_null());
    assert_clean(&hub);
}

#[tokio::test]
async fn an_unreachable_server_is_an_external_failure_without_the_token() {
    let hub = hub();
    let url = hub.url().to_owned();
    drop(hub);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let f = OctoForge::new(&ForgeConfig {
        api_url: url,
        graphql_url: None,
        token: TOKEN.into(),
        retry: RetryPolicy::fast(),
    })
    .unwrap();
    let err = f.list_comments(&pr()).await.unwrap_err();
    assert!(!err.to_string().contains(TOKEN));
    assert_eq!(
        phasegate::Error::from(err).exit_code(),
        phasegate::ExitCode::External
    );
}

#[tokio::test]
async fn a_too_long_answer_shrinks_the_body_and_retries() {
    let hub = hub();
    // GitHub's count may differ from ours: make the server stricter than
    // the client's budget.
    hub.set_body_limit(60_000);
    let f = forge(&hub, TOKEN);
    let fill = |budget: usize| "x".repeat(budget);
    upsert_phase(&f, &pr(), "pr-7", "dev", &order(), fill, |_| {})
        .await
        .unwrap();
    upsert_phase(&f, &pr(), "pr-7", "dev", &order(), fill, |_| {})
        .await
        .unwrap();
    let b = bodies(&hub);
    assert_eq!(b.len(), 1);
    assert!(b[0].chars().count() <= 60_000);
    assert_clean(&hub);
}

#[tokio::test]
async fn ghes_layout_serves_rest_under_api_v3_and_graphql_at_api_graphql() {
    let hub = hub();
    let f = OctoForge::new(&ForgeConfig {
        api_url: format!("{}/api/v3", hub.url()),
        graphql_url: None,
        token: TOKEN.into(),
        retry: RetryPolicy::fast(),
    })
    .unwrap();
    upsert_phase(&f, &pr(), "old", "dev", &order(), |_| "old".into(), |_| {})
        .await
        .unwrap();
    assert_eq!(minimize_outdated(&f, &pr(), "pr-7").await.unwrap(), 1);
    let paths: Vec<String> = hub.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.iter().all(|p| p.starts_with("/api/")), "{paths:?}");
    assert!(paths.iter().any(|p| p == "/api/graphql"));
    assert_clean(&hub);
}

/// An installation token of the GitHub App `deployer` (not the workflow's
/// default token): it comments as `deployer[bot]`.
const APP_TOKEN: &str = "ghs_deployer_app_installation_token_42";

fn app_hub() -> FakeHub {
    let hub = hub();
    hub.add_app_token(APP_TOKEN, "deployer", &[("pull_requests", "write")]);
    hub
}

fn marker_comment(hub: &FakeHub, author: &str, text: &str) -> u64 {
    let body = format!(
        "{}\n<!-- phasegate:phase=dev -->\n{text}\n<!-- phasegate:phase-end=dev -->",
        change_marker("pr-7")
    );
    hub.add_comment("acme", "infra", 7, author, &body)
}

#[tokio::test]
async fn an_app_token_knows_it_is_the_app_s_bot() {
    let hub = app_hub();
    let me = forge(&hub, APP_TOKEN).identity().await.unwrap();
    assert_eq!(me.login, "deployer[bot]");
    assert!(me.is_bot);
    let me = forge(&hub, TOKEN).identity().await.unwrap();
    assert_eq!(me.login, "github-actions[bot]");
    assert_clean(&hub);
}

#[tokio::test]
async fn an_app_token_edits_its_own_comment() {
    let hub = app_hub();
    let ours = marker_comment(&hub, "deployer[bot]", "old plan");
    let r = upsert(&forge(&hub, APP_TOKEN), "dev", "new plan")
        .await
        .unwrap();
    assert!(!r.created);
    assert_eq!(r.id, ours);
    let b = bodies(&hub);
    assert_eq!(b.len(), 1);
    assert!(b[0].contains("new plan") && !b[0].contains("old plan"));
    assert_clean(&hub);
}

#[tokio::test]
async fn an_app_token_ignores_a_marker_comment_by_github_actions_bot() {
    let hub = app_hub();
    // Another workflow, on the default token, posted a copy of our marker.
    let theirs = marker_comment(&hub, "github-actions[bot]", "approved!");
    let f = forge(&hub, APP_TOKEN);
    let r = upsert(&f, "dev", "our plan").await.unwrap();
    assert!(r.created && r.id != theirs);
    // A second run finds its own comment, not the Actions bot's.
    let again = upsert(&forge(&hub, APP_TOKEN), "dev", "our plan 2")
        .await
        .unwrap();
    assert_eq!(again.id, r.id);
    let all = hub.comments("acme", "infra", 7);
    assert_eq!(all.len(), 2);
    assert!(all[0]["body"].as_str().unwrap().contains("approved!"));
    assert_eq!(all[1]["user"]["login"], "deployer[bot]");
    assert_eq!(all[1]["performed_via_github_app"]["slug"], "deployer");
    assert!(!all[1]["body"].as_str().unwrap().contains("approved!"));
    assert_clean(&hub);
}

#[tokio::test]
async fn an_app_token_ignores_a_marker_comment_by_a_user() {
    let hub = app_hub();
    let forged = marker_comment(&hub, "mallory", "approved!");
    let r = upsert(&forge(&hub, APP_TOKEN), "dev", "our plan")
        .await
        .unwrap();
    assert!(r.created && r.id != forged);
    let all = hub.comments("acme", "infra", 7);
    assert_eq!(all.len(), 2);
    assert!(all[0]["body"].as_str().unwrap().contains("approved!"));
    assert!(!all[1]["body"].as_str().unwrap().contains("approved!"));
    assert_clean(&hub);
}

#[tokio::test]
async fn a_configured_bot_login_that_github_contradicts_is_bad_input() {
    let hub = app_hub();
    marker_comment(&hub, "github-actions[bot]", "approved!");
    let f = forge(&hub, APP_TOKEN).with_bot_login(Some("github-actions[bot]".into()));
    let err = upsert(&f, "dev", "plan").await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("github.bot_login") && text.contains("deployer[bot]"),
        "{text}"
    );
    assert_eq!(
        phasegate::Error::from(err).exit_code(),
        phasegate::ExitCode::BadInput
    );
    // Nothing was written: the Actions bot's comment is untouched, no new one.
    let all = hub.comments("acme", "infra", 7);
    assert_eq!(all.len(), 1);
    assert!(all[0]["body"].as_str().unwrap().contains("approved!"));
    assert_clean(&hub);
}

/// GitHub gives no answer on who the token is: GraphQL unavailable, and
/// `GET /user` refused to an installation token.
fn hide_the_viewer(hub: &FakeHub) {
    hub.inject(Fault {
        method: Some("POST"),
        path_prefix: "/graphql".into(),
        kind: FaultKind::Status(404),
        times: 1,
    });
}

#[tokio::test]
async fn when_github_cannot_say_who_the_token_is_the_error_names_the_setting() {
    let hub = app_hub();
    hide_the_viewer(&hub);
    let err = upsert(&forge(&hub, APP_TOKEN), "dev", "plan")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("github: { bot_login"), "{text}");
    assert_eq!(
        phasegate::Error::from(err).exit_code(),
        phasegate::ExitCode::BadInput
    );
    assert!(bodies(&hub).is_empty(), "nothing posted on a guess");
    assert_clean(&hub);
}

#[tokio::test]
async fn when_github_cannot_say_the_configured_bot_login_decides() {
    let hub = app_hub();
    let ours = marker_comment(&hub, "deployer[bot]", "old plan");
    marker_comment(&hub, "github-actions[bot]", "approved!");
    hide_the_viewer(&hub);
    let f = forge(&hub, APP_TOKEN).with_bot_login(Some("deployer[bot]".into()));
    let r = upsert(&f, "dev", "new plan").await.unwrap();
    assert_eq!(r.id, ours);
    let b = bodies(&hub);
    assert!(b[0].contains("new plan") && b[1].contains("approved!"));
    assert_clean(&hub);
}

#[tokio::test]
async fn a_wrong_configured_login_is_caught_on_the_first_post_and_taken_back() {
    let hub = app_hub();
    hide_the_viewer(&hub);
    // Set for the default token, used with an App's token.
    let f = forge(&hub, APP_TOKEN).with_bot_login(Some("github-actions[bot]".into()));
    let err = upsert(&f, "dev", "plan").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("github.bot_login: \"deployer[bot]\""),
        "{err}"
    );
    assert!(bodies(&hub).is_empty(), "the stray comment is deleted");
    assert_clean(&hub);
}

#[tokio::test]
async fn an_upsert_minimizes_our_comments_of_other_changes_only() {
    let hub = app_hub();
    let old = format!("{}\nold change", change_marker("PR-7"));
    hub.add_comment("acme", "infra", 7, "deployer[bot]", &old);
    hub.add_comment("acme", "infra", 7, "github-actions[bot]", &old);
    upsert(&forge(&hub, APP_TOKEN), "dev", "plan")
        .await
        .unwrap();
    let all = hub.comments("acme", "infra", 7);
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["minimized"], "outdated", "ours, of another change");
    assert!(all[1]["minimized"].is_null(), "not ours: left alone");
    assert!(all[2]["minimized"].is_null(), "the current comment");
    assert_clean(&hub);
}

/// Kept for drift (issue 9): one issue per project and environment, found by
/// its labels, updated, then closed.
#[tokio::test]
async fn issues_are_opened_found_by_label_updated_and_closed() {
    let hub = hub();
    hub.add_token(
        "ghs_issues_token",
        "",
        TokenKind::Installation,
        &[("issues", "write")],
    );
    let f = forge(&hub, "ghs_issues_token");
    let repo = pr().repo;
    let labels = vec!["phasegate-drift".to_owned(), "env:prod".to_owned()];
    let opened = f
        .create_issue(&repo, "Drift in prod", "3 resources drifted", &labels)
        .await
        .unwrap();
    assert_eq!(opened.state, "open");
    let found = f.list_issues(&repo, &labels, "open").await.unwrap();
    assert_eq!(found.len(), 1, "the PR is not listed as an issue");
    assert_eq!(found[0].number, opened.number);
    assert_eq!(found[0].labels, labels);
    let closed = f
        .update_issue(
            &repo,
            opened.number,
            &IssueUpdate {
                body: Some("no drift".into()),
                state: Some("closed".into()),
                ..IssueUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (closed.state.as_str(), closed.body.as_str()),
        ("closed", "no drift")
    );
    assert!(f
        .list_issues(&repo, &labels, "open")
        .await
        .unwrap()
        .is_empty());
    assert_clean(&hub);
}

/// Kept for the runner (issue 8): a check run moves from in progress to
/// its conclusion.
#[tokio::test]
async fn a_check_run_is_updated_from_in_progress_to_its_conclusion() {
    let hub = hub();
    let f = forge(&hub, TOKEN);
    let mut run = CheckRunRequest {
        name: "phasegate / prod".into(),
        head_sha: "abc123".into(),
        status: Some("in_progress".into()),
        title: "applying".into(),
        summary: "applying prod".into(),
        ..CheckRunRequest::default()
    };
    let id = f.create_check_run(&pr().repo, &run).await.unwrap();
    run.status = Some("completed".into());
    run.conclusion = Some("success".into());
    run.title = "applied".into();
    f.update_check_run(&pr().repo, id, &run).await.unwrap();
    let runs = hub.check_runs("acme", "infra");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "completed");
    assert_eq!(runs[0]["conclusion"], "success");
    assert_eq!(runs[0]["output"]["title"], "applied");
    assert_clean(&hub);
}
