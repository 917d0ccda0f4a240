//! The commands' side of GitHub: building the client from the run's
//! environment, posting a phase to the sticky comment and its check run.

use crate::ci::ActionsContext;
use crate::config::{Config, Environment, ResolvedPhase};
use crate::error::{Error, Result};
use crate::gates::Verdict;
use crate::github::{
    upsert_phase, CheckRunRequest, CommentRef, CommentState, Forge, ForgeConfig, OctoForge,
    PrTarget, RepoRef,
};
use crate::render::{self, PhaseView};

/// GitHub's limit on a check run's summary, in characters.
const CHECK_SUMMARY_LIMIT: usize = 65_535;

/// A current-thread runtime for the few async calls a command makes.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::External(format!("cannot start the async runtime: {e}")))
}

/// A runtime and the client on it, from `GITHUB_API_URL` and the token
/// (flag or `GITHUB_TOKEN`). The client's background worker is spawned on
/// this runtime, so every call must be driven by it.
pub fn connect(token: Option<String>) -> Result<(tokio::runtime::Runtime, OctoForge)> {
    connect_as(token, None)
}

/// [`connect`], with the login `phasegate.yml` says the token comments as
/// (`github.bot_login`); commands that find their own comment use this.
pub fn connect_as(
    token: Option<String>,
    config: Option<&Config>,
) -> Result<(tokio::runtime::Runtime, OctoForge)> {
    let rt = runtime()?;
    let cfg = ForgeConfig::from_env(token)?;
    let bot_login = config.and_then(|c| c.github.bot_login.clone());
    let client = {
        let _entered = rt.enter();
        OctoForge::new(&cfg)?.with_bot_login(bot_login)
    };
    Ok((rt, client))
}

pub fn repo_of(ctx: &ActionsContext) -> RepoRef {
    RepoRef::new(ctx.owner.clone(), ctx.repo.clone())
}

/// The comment key of a phase: its environment, since approvals are given per
/// environment.
pub fn phase_key(env: &Environment) -> String {
    env.name.clone()
}

/// Phase keys in promotion order, so blocks stay in that order in the comment.
pub fn phase_order(all: &[ResolvedPhase]) -> Vec<String> {
    let mut keys: Vec<String> = vec![];
    for p in all {
        let k = phase_key(&p.environment);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys
}

/// What the plan job tells approvers about the human gate.
pub fn awaiting_approval_section(
    view: &PhaseView,
    env: &Environment,
    verdict: Verdict,
    irreversible: bool,
    rule: Option<(&crate::phase::auto_approval::RuleOutcome, bool)>,
) -> render::Section {
    let run = view
        .run_url
        .as_deref()
        .and_then(render::escape::link_target)
        .map(|u| format!(" in [the workflow run]({u})"))
        .unwrap_or_default();
    let needs_approval = env.reviewers_required || env.protected || irreversible;
    let essentials = if verdict.stops() && !needs_approval {
        "Not ready to apply: a gate above must pass (or be acknowledged in the change plan) first."
            .to_string()
    } else if !needs_approval {
        format!(
            "No approval needed: `{}` has no required reviewers, so the plan with the digest above is applied once the gates pass and the earlier environments are done.",
            render::escape::inline(&env.name)
        )
    } else if verdict.stops() {
        format!(
            "Not ready for approval: a gate above must pass (or be acknowledged in the change plan) before `{}` can be approved.",
            render::escape::inline(env.github_environment())
        )
    } else if !(env.reviewers_required || env.protected) {
        format!(
            "**Awaiting approval for `{}`**: the phase has an irreversible step, which always needs an approval, even where the environment has no required reviewers. Approve it by commenting `/phasegate approve {} <digest>` with the digest above. Only this plan and these steps can then be run.",
            render::escape::inline(&env.name),
            render::escape::inline(&env.name)
        )
    } else {
        format!(
            "**Awaiting approval for `{}`**: a required reviewer approves the deployment{run}. Only the plan with the digest above can then be applied.{}",
            render::escape::inline(env.github_environment()),
            if irreversible {
                " Approving it also approves the phase's **irreversible** steps above."
            } else {
                ""
            }
        )
    };
    let essentials = match rule {
        Some((o, true)) if needs_approval && o.approves() && !verdict.stops() => format!(
            "**Approved by rule** for `{}`: every condition of its `approvals.auto` held ({}). Only the plan with the digest above is approved; it is journaled as an approval by `rule`.",
            render::escape::inline(&env.name),
            render::escape::inline(&o.held.join("; "))
        ),
        Some((o, true)) if needs_approval && !o.approves() => format!(
            "The automatic approval rule of `{}` did not hold: {}.\n\n{essentials}",
            render::escape::inline(&env.name),
            render::escape::inline(&o.failed.join("; "))
        ),
        Some((_, false)) if needs_approval => format!(
            "The automatic approval rule of `{}` approves nothing here: {}.\n\n{essentials}",
            render::escape::inline(&env.name),
            if irreversible {
                "an irreversible step needs a person"
            } else {
                "GitHub's required reviewers hold this environment, and no rule overrides them"
            }
        ),
        _ => essentials,
    };
    render::Section {
        key: "approval".into(),
        title: "Approval".into(),
        badge: None,
        essentials_md: essentials,
        details_md: String::new(),
    }
}

/// Posts the phase's block to the change's sticky comment and records the
/// plan digests in its state (the upsert also hides our comments of other
/// changes).
pub async fn post_phase<F: Forge>(
    forge: &F,
    target: &PrTarget,
    view: &PhaseView,
    key: &str,
    order: &[String],
    digest: &str,
) -> Result<CommentRef> {
    let comment = upsert_phase(
        forge,
        target,
        &view.change_id,
        key,
        order,
        |budget| render::phase_block(view, budget),
        |state: &mut CommentState| {
            let phase = state.phases.entry(key.to_string()).or_default();
            phase.digest = Some(digest.to_string());
        },
    )
    .await?;
    Ok(comment)
}

/// One check run per phase, `phasegate / <env>`, on the head commit.
pub async fn post_check_run<F: Forge>(
    forge: &F,
    repo: &RepoRef,
    head_sha: &str,
    view: &PhaseView,
    verdict: Verdict,
    details_url: Option<String>,
    annotations: Vec<crate::github::Annotation>,
) -> Result<u64> {
    // A plan Terraform could not finish fails the check whatever the gates
    // said: the phase cannot be applied.
    let errored = view.projects.iter().any(|p| p.changes.plan_failed());
    let conclusion = if errored {
        "failure"
    } else {
        render::verdict::words(verdict).conclusion
    };
    let summary = render::phase_block(view, CHECK_SUMMARY_LIMIT);
    let run = CheckRunRequest {
        name: render::escape::plain(&format!("phasegate / {}", view.environment)),
        head_sha: head_sha.to_string(),
        status: Some("completed".into()),
        conclusion: Some(conclusion.into()),
        // GitHub requires a details URL for action_required.
        details_url,
        title: render::escape::plain(&if errored {
            format!(
                "{} plan failed: Terraform reported errors",
                view.environment
            )
        } else {
            format!("{} plan: {conclusion}", view.environment)
        }),
        summary,
        text: None,
        annotations,
    };
    Ok(forge.create_check_run(repo, &run).await?)
}
