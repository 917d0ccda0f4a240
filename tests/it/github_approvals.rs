//! The human gate: environment protection checks and sync, and the
//! pre-apply approval check with its fallback `/phasegate approve` path.

use fakehub::{EnvSpec, FakeHub, Reviewer, TokenKind};
use phasegate::github::approvals::{
    check_approval, parse_approve_command, record_fallback_approval, ApprovalCheck,
    ApprovalDecision, FallbackApproval, FallbackPolicy,
};
use phasegate::github::comment::{ApprovalSource, CommentState};
use phasegate::github::environments::{
    check_environments, sync_environments, EnvRequirement, EnvironmentError, EnvironmentSpec,
    ReviewerSpec, SyncAction,
};
use phasegate::github::{BranchPolicy, ForgeConfig, OctoForge, RepoRef, RetryPolicy};
use phasegate::render::approval::approval_section_md;

const BOT: &str = "ghs_bot_token";
const ADMIN: &str = "ghp_admin_token";
const DIGEST: &str = "0123456789abcdef0123456789abcdef";
const OLD_DIGEST: &str = "fedcba9876543210fedcba9876543210";

fn hub() -> FakeHub {
    let hub = FakeHub::start();
    hub.add_repo("acme", "infra");
    hub.add_token(
        BOT,
        "",
        TokenKind::Installation,
        &[("actions", "read"), ("pull_requests", "write")],
    );
    hub.add_token(ADMIN, "acme", TokenKind::User, &[]);
    hub.set_permission("acme", "infra", "rita", "write");
    hub.set_permission("acme", "infra", "vic", "read");
    hub.set_permission("acme", "infra", "alice", "write");
    hub
}

fn forge(hub: &FakeHub, token: &str) -> OctoForge {
    OctoForge::new(&ForgeConfig {
        api_url: hub.url().to_owned(),
        graphql_url: None,
        token: token.to_owned(),
        retry: RetryPolicy::fast(),
    })
    .unwrap()
}

fn repo() -> RepoRef {
    RepoRef::new("acme", "infra")
}

fn protected(hub: &FakeHub) {
    hub.add_environment(
        "acme",
        "infra",
        "production",
        EnvSpec {
            reviewers: vec![Reviewer::User("rita".into())],
            prevent_self_review: true,
            ..Default::default()
        },
    );
}

async fn decide(f: &OctoForge, state: &CommentState, run_id: Option<u64>) -> ApprovalDecision {
    let repo = repo();
    let policy = FallbackPolicy::default();
    check_approval(
        f,
        ApprovalCheck {
            repo: &repo,
            run_id,
            pr_author: "alice",
            env_name: "prod",
            github_environment: "production",
            reviewers_required: true,
            prevent_self_review: true,
            digest: DIGEST,
            fallback: &policy,
            state,
        },
    )
    .await
    .unwrap()
}

fn refused_for(d: &ApprovalDecision, needle: &str) {
    assert!(!d.allowed, "{d:?}");
    assert!(
        d.refusals.iter().any(|r| r.contains(needle)),
        "no refusal mentions `{needle}`: {:#?}",
        d.refusals
    );
}

async fn approve_by_comment(
    f: &OctoForge,
    who: &str,
    digest_in_command: &str,
    state: &mut CommentState,
) -> Result<(), String> {
    let repo = repo();
    let policy = FallbackPolicy::default();
    let cmd = parse_approve_command(&format!(
        "/phasegate approve prod {}",
        &digest_in_command[..12]
    ))
    .unwrap();
    record_fallback_approval(
        f,
        FallbackApproval {
            repo: &repo,
            commenter: who,
            command: &cmd,
            pr_author: "alice",
            env_name: "prod",
            prevent_self_review: true,
            digest: DIGEST,
            policy: &policy,
            at: "2026-01-01T00:00:00Z",
        },
        state,
    )
    .await
    .unwrap()
    .map(|_| ())
}

#[tokio::test]
async fn refuses_when_reviewers_are_mandatory_but_the_environment_has_none() {
    let hub = hub();
    let f = forge(&hub, BOT);
    refused_for(
        &decide(&f, &CommentState::default(), Some(1)).await,
        "has no required reviewers",
    );
    hub.add_environment("acme", "infra", "production", EnvSpec::default());
    refused_for(
        &decide(&f, &CommentState::default(), Some(1)).await,
        "has no required reviewers",
    );
}

#[tokio::test]
async fn refuses_when_no_approval_is_recorded() {
    let hub = hub();
    protected(&hub);
    let f = forge(&hub, BOT);
    let d = decide(&f, &CommentState::default(), Some(42)).await;
    refused_for(&d, "no approval recorded for `prod` on plan 0123456789ab");
    assert!(
        approval_section_md(&d, "https://run").contains("Awaiting approval for <code>prod</code>")
    );
}

#[tokio::test]
async fn refuses_self_approval_where_forbidden() {
    let hub = hub();
    protected(&hub);
    hub.add_run_approvals(
        "acme",
        "infra",
        42,
        vec![("production", "alice", "2026-01-01T00:00:01Z", "approved")],
    );
    let f = forge(&hub, BOT);
    refused_for(
        &decide(&f, &CommentState::default(), Some(42)).await,
        "self-approval is not allowed",
    );
    let mut state = CommentState::default();
    let why = approve_by_comment(&f, "alice", DIGEST, &mut state)
        .await
        .unwrap_err();
    assert!(why.contains("cannot approve it"), "{why}");
    assert!(state.phases.is_empty());
}

#[tokio::test]
async fn refuses_a_fallback_approval_for_an_older_digest() {
    let hub = hub();
    protected(&hub);
    let f = forge(&hub, BOT);
    let mut state = CommentState::default();
    let why = approve_by_comment(&f, "rita", OLD_DIGEST, &mut state)
        .await
        .unwrap_err();
    assert!(why.contains("approve the current plan"), "{why}");
    // An approval recorded for the previous plan does not carry over.
    approve_by_comment(&f, "rita", DIGEST, &mut state)
        .await
        .unwrap();
    state.phases.get_mut("prod").unwrap().approvals[0].digest = OLD_DIGEST.into();
    refused_for(
        &decide(&f, &state, None).await,
        "approval was for plan fedcba987654",
    );
}

#[tokio::test]
async fn refuses_a_fallback_approval_by_a_user_without_permission() {
    let hub = hub();
    protected(&hub);
    let f = forge(&hub, BOT);
    let mut state = CommentState::default();
    let why = approve_by_comment(&f, "vic", DIGEST, &mut state)
        .await
        .unwrap_err();
    assert!(why.contains("@vic has `read` permission"), "{why}");
    // Even if such an approval got into the state, it does not count.
    approve_by_comment(&f, "rita", DIGEST, &mut state)
        .await
        .unwrap();
    state.phases.get_mut("prod").unwrap().approvals[0].approver = "vic".into();
    refused_for(
        &decide(&f, &state, None).await,
        "@vic has `read` permission",
    );
}

#[tokio::test]
async fn an_environment_approval_by_a_reviewer_allows_the_apply() {
    let hub = hub();
    protected(&hub);
    hub.add_run_approvals(
        "acme",
        "infra",
        42,
        vec![("production", "rita", "2026-01-01T00:00:05Z", "approved")],
    );
    let f = forge(&hub, BOT);
    let d = decide(&f, &CommentState::default(), Some(42)).await;
    assert!(d.allowed, "{d:?}");
    assert_eq!(d.evidence[0].approver, "rita");
    assert_eq!(d.evidence[0].source, ApprovalSource::Environment);
    assert_eq!(d.evidence[0].at, "2026-01-01T00:00:05Z");
    assert!(approval_section_md(&d, "https://run").contains("@rita (environment review"));
    assert!(hub.violations().is_empty());
}

#[tokio::test]
async fn a_fallback_approval_is_bound_to_the_digest_and_accepted() {
    let hub = hub();
    protected(&hub);
    let f = forge(&hub, BOT);
    let mut state = CommentState::default();
    approve_by_comment(&f, "rita", DIGEST, &mut state)
        .await
        .unwrap();
    approve_by_comment(&f, "rita", DIGEST, &mut state)
        .await
        .unwrap();
    let recorded = &state.phases["prod"].approvals;
    assert_eq!(recorded.len(), 1, "a repeated approval is recorded once");
    assert_eq!(recorded[0].digest, DIGEST);
    let d = decide(&f, &state, None).await;
    assert!(d.allowed, "{d:?}");
    assert_eq!(d.evidence[0].source, ApprovalSource::Comment);
}

fn requirement(reviewers_required: bool) -> EnvRequirement {
    EnvRequirement {
        name: "prod".into(),
        github_environment: "production".into(),
        reviewers_required,
        prevent_self_review: true,
    }
}

#[tokio::test]
async fn environment_check_refuses_missing_or_unreviewed_environments() {
    let hub = hub();
    let f = forge(&hub, BOT);
    let r = check_environments(&f, &repo(), &[requirement(true)])
        .await
        .unwrap();
    assert!(!r[0].ok() && r[0].problems[0].contains("does not exist"));
    let r = check_environments(&f, &repo(), &[requirement(false)])
        .await
        .unwrap();
    assert!(r[0].ok() && !r[0].warnings.is_empty());
    protected(&hub);
    let r = check_environments(&f, &repo(), &[requirement(true)])
        .await
        .unwrap();
    assert!(r[0].ok(), "{:?}", r[0]);
    assert_eq!(r[0].found.as_ref().unwrap().reviewers[0].name, "rita");
}

fn spec(reviewers: Vec<ReviewerSpec>) -> EnvironmentSpec {
    EnvironmentSpec {
        github_environment: "production".into(),
        reviewers,
        prevent_self_review: true,
        wait_timer: 5,
        branch_policy: Some(BranchPolicy {
            protected_branches: true,
            custom_branch_policies: false,
        }),
    }
}

#[tokio::test]
async fn sync_creates_then_leaves_environments_alone() {
    let hub = hub();
    hub.add_team("acme", "sre");
    let f = forge(&hub, ADMIN);
    let want = spec(vec![
        ReviewerSpec::User("rita".into()),
        ReviewerSpec::Team {
            org: "acme".into(),
            slug: "sre".into(),
        },
    ]);
    let done = sync_environments(&f, &repo(), std::slice::from_ref(&want))
        .await
        .unwrap();
    assert_eq!(done, [("production".to_owned(), SyncAction::Created)]);
    let env = hub.environment("acme", "infra", "production").unwrap();
    let rules = env["protection_rules"].as_array().unwrap();
    assert!(rules.iter().any(
        |r| r["type"] == "required_reviewers" && r["reviewers"].as_array().unwrap().len() == 2
    ));
    let again = sync_environments(&f, &repo(), &[want]).await.unwrap();
    assert_eq!(again, [("production".to_owned(), SyncAction::Unchanged)]);
    assert!(hub.violations().is_empty(), "{:#?}", hub.violations());
}

#[tokio::test]
async fn sync_with_the_default_token_says_an_admin_token_is_needed() {
    let hub = hub();
    let f = forge(&hub, BOT);
    let err = sync_environments(
        &f,
        &repo(),
        &[spec(vec![ReviewerSpec::User("rita".into())])],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, EnvironmentError::AdminTokenNeeded { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("administration: write") && text.contains("default"),
        "{text}"
    );
    let seven = (0..7)
        .map(|i| ReviewerSpec::User(format!("u{i}")))
        .collect();
    let err = sync_environments(&f, &repo(), &[spec(seven)])
        .await
        .unwrap_err();
    assert_eq!(
        phasegate::Error::from(err).exit_code(),
        phasegate::ExitCode::BadInput
    );
}
