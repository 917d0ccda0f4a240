//! The human gate from the command line: `approvals check` (the pre-apply
//! check the apply job runs under its `environment:`) and `approve` (the
//! fallback `/phasegate approve <env> <digest>` comment, for repositories
//! whose plan offers no environment reviewers).

use crate::ci::ActionsContext;
use crate::cli::GlobalArgs;
use crate::config::{Config, Environment};
use crate::error::{Error, ExitCode, Result};
use crate::github::approvals::{
    abbreviate, check_approval, parse_approve_command, parse_digest_arg, record_fallback_approval,
    ApprovalCheck, FallbackApproval, FallbackPolicy, FULL_DIGEST_LEN, MIN_DIGEST_PREFIX,
};
use crate::github::comment::{change_marker, is_ours, read_state, RecordedApproval};
use crate::github::{upsert_phase, CommentState, Forge, PrTarget, RepoRef};
use crate::runner::forge;
use crate::runner::output::print_stdout;
use crate::runner::workspace::Workspace;

fn actions_pr() -> Result<(ActionsContext, u64)> {
    let ctx = ActionsContext::from_process_env()?.ok_or_else(|| {
        Error::Input("this command runs in GitHub Actions (GITHUB_ACTIONS=true)".into())
    })?;
    let pr = ctx.pull_request().ok_or_else(|| {
        Error::Input(format!(
            "event `{}` names no pull request; the approval lives on the change's PR",
            ctx.event_name
        ))
    })?;
    Ok((ctx, pr))
}

fn environment<'a>(cfg: &'a Config, name: &str) -> Result<&'a Environment> {
    cfg.environments
        .iter()
        .find(|e| e.name == name || e.github_environment() == name)
        .ok_or_else(|| {
            Error::Input(format!(
                "--env {name}: no such environment in phasegate.yml; environments are {}",
                cfg.environments
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

pub(super) fn fallback(cfg: &Config) -> FallbackPolicy {
    FallbackPolicy {
        min_permission: cfg.approvals.min_permission.clone(),
        approvers: cfg.approvals.approvers.clone(),
    }
}

/// The sticky comment's state, read from our own comment only.
pub(super) async fn comment_state<F: Forge>(
    forge: &F,
    target: &PrTarget,
    change_id: &str,
) -> Result<CommentState> {
    let me = forge.identity().await?;
    let marker = change_marker(change_id);
    let comments = forge.list_comments(target).await?;
    Ok(comments
        .iter()
        .filter(|c| is_ours(c, &me, &marker))
        .min_by_key(|c| c.id)
        .map(|c| read_state(&c.body))
        .unwrap_or_default())
}

/// The PR's author, from the event when it says, else from the PR itself.
pub(super) fn pr_author<F: Forge>(
    rt: &tokio::runtime::Runtime,
    client: &F,
    ctx: &ActionsContext,
    target: &PrTarget,
) -> Result<String> {
    match &ctx.event.pr_author {
        Some(a) => Ok(a.clone()),
        None => Ok(rt.block_on(client.get_pull(target))?.author),
    }
}

fn change_id(ws: &Workspace, pr: u64) -> String {
    ws.change_id()
        .map(str::to_string)
        .unwrap_or_else(|| format!("PR-{pr}"))
}

/// The key under which a block about approvals sits, right after the phase.
fn approval_key(env: &Environment) -> String {
    format!("{}-approval", forge::phase_key(env))
}

fn order(ws: &Workspace, cfg: &Config) -> Vec<String> {
    forge::phase_order(&crate::config::resolve_phases(cfg, ws.change.as_ref()))
        .into_iter()
        .flat_map(|k| [k.clone(), format!("{k}-approval")])
        .collect()
}

/// A connection to the change's PR and the state its comment holds.
struct PrSession {
    rt: tokio::runtime::Runtime,
    client: crate::github::OctoForge,
    repo: RepoRef,
    target: PrTarget,
    change: String,
    state: CommentState,
}

impl PrSession {
    fn open(
        ws: &Workspace,
        ctx: &ActionsContext,
        pr: u64,
        token: Option<String>,
    ) -> Result<PrSession> {
        let (rt, client) = forge::connect_as(token, ws.config.as_ref())?;
        let repo = forge::repo_of(ctx);
        let target = PrTarget {
            repo: repo.clone(),
            number: pr,
        };
        let change = change_id(ws, pr);
        let state = rt.block_on(comment_state(&client, &target, &change))?;
        Ok(PrSession {
            rt,
            client,
            repo,
            target,
            change,
            state,
        })
    }
}

/// Writes the approval outcome for `env` into the comment, right after the
/// environment's plan block.
async fn post_approval_block<F: Forge>(
    client: &F,
    target: &PrTarget,
    change: &str,
    env: &Environment,
    order: &[String],
    markdown: &str,
    update_state: impl FnOnce(&mut CommentState),
) -> Result<()> {
    let block = format!(
        "#### Approval for `{}`\n\n{markdown}\n",
        crate::render::escape::inline(&env.name)
    );
    upsert_phase(
        client,
        target,
        change,
        &approval_key(env),
        order,
        |budget| block.chars().take(budget).collect(),
        update_state,
    )
    .await?;
    Ok(())
}

/// The full digest `--digest` names: itself when it is whole, else the
/// digest recorded for the environment that it is a prefix of. A prefix that
/// matches nothing recorded cannot be checked, so it is bad input.
fn resolve_digest_arg(d: String, recorded: Option<&str>, env: &str) -> Result<String> {
    if d.len() == FULL_DIGEST_LEN {
        return Ok(d);
    }
    match recorded {
        Some(full) if full.starts_with(&d) => Ok(full.to_owned()),
        Some(full) => Err(Error::Input(format!(
            "--digest {d} matches no plan recorded for `{env}` (the journal records {}): \
             pass the full {FULL_DIGEST_LEN}-character digest of the plan to check",
            abbreviate(full, MIN_DIGEST_PREFIX)
        ))),
        None => Err(Error::Input(format!(
            "--digest {d} is a prefix and no plan is recorded for `{env}` to complete it: \
             pass the full {FULL_DIGEST_LEN}-character digest"
        ))),
    }
}

pub fn check(
    global: &GlobalArgs,
    env: &str,
    digest: Option<&str>,
    token: Option<String>,
) -> Result<ExitCode> {
    let ws = Workspace::load(global, true)?;
    let cfg = ws.config.as_ref().expect("required config is loaded");
    let env = environment(cfg, env)?;
    // Checked before anything is fetched: a bad digest is a usage error.
    let digest = digest
        .map(parse_digest_arg)
        .transpose()
        .map_err(|e| Error::Input(format!("--digest {e}")))?;
    let (ctx, pr) = actions_pr()?;
    // The plan about to be applied is the one the journal recorded, never
    // a digest read from the comment.
    let recorded =
        crate::runner::session::journal_digest(&ws, Some(&ctx), &env.name, token.clone())?;
    let PrSession {
        rt,
        client,
        repo,
        target,
        change,
        state,
    } = PrSession::open(&ws, &ctx, pr, token)?;
    let digest = match (digest, recorded) {
        (Some(d), recorded) => resolve_digest_arg(d, recorded.as_deref(), &env.name)?,
        (None, Some(d)) => d,
        (None, None) => {
            return Err(Error::Input(format!(
                "no plan digest for `{}` in the change's journal: pass --digest, or run `phasegate plan` for this environment first",
                env.name
            )))
        }
    };
    let pr_author = pr_author(&rt, &client, &ctx, &target)?;
    let policy = fallback(cfg);
    let decision = rt.block_on(check_approval(
        &client,
        ApprovalCheck {
            repo: &repo,
            run_id: ctx.run_id,
            pr_author: &pr_author,
            env_name: &env.name,
            github_environment: env.github_environment(),
            reviewers_required: env.reviewers_required,
            prevent_self_review: env.prevent_self_review,
            digest: &digest,
            fallback: &policy,
            state: &state,
        },
    ))?;
    let run_url = ctx.run_url().unwrap_or_default();
    let section = crate::render::approval::approval_section_md(&decision, &run_url);
    rt.block_on(post_approval_block(
        &client,
        &target,
        &change,
        env,
        &order(&ws, cfg),
        &section,
        |_| {},
    ))?;
    print_stdout(&section);
    Ok(if decision.allowed {
        ExitCode::Success
    } else {
        ExitCode::Refused
    })
}

pub fn approve(global: &GlobalArgs, token: Option<String>) -> Result<ExitCode> {
    let ws = Workspace::load(global, true)?;
    let cfg = ws.config.as_ref().expect("required config is loaded");
    let (ctx, pr) = actions_pr()?;
    let body = ctx.event.comment_body.clone().unwrap_or_default();
    let Some(command) = parse_approve_command(&body) else {
        print_stdout(
            "no `/phasegate approve <env> <digest prefix>` line in this comment: nothing to do",
        );
        return Ok(ExitCode::Success);
    };
    let env = environment(cfg, &command.env)?;
    let commenter = ctx
        .event
        .comment_author
        .clone()
        .ok_or_else(|| Error::Input("the comment event names no author".into()))?;
    let PrSession {
        rt,
        client,
        repo,
        target,
        change,
        mut state,
    } = PrSession::open(&ws, &ctx, pr, token)?;
    let key = forge::phase_key(env);
    let Some(digest) = state.phases.get(&key).and_then(|p| p.digest.clone()) else {
        return Err(Error::Refused(format!(
            "`{}` has no plan in this change's comment yet: nothing to approve",
            env.name
        )));
    };
    let pr_author = pr_author(&rt, &client, &ctx, &target)?;
    let policy = fallback(cfg);
    let at = chrono::Utc::now().to_rfc3339();
    let outcome = rt.block_on(record_fallback_approval(
        &client,
        FallbackApproval {
            repo: &repo,
            commenter: &commenter,
            command: &command,
            pr_author: &pr_author,
            env_name: &env.name,
            prevent_self_review: env.prevent_self_review,
            digest: &digest,
            policy: &policy,
            at: &at,
        },
        &mut state,
    ))?;
    let approved = |rec: &RecordedApproval| {
        format!(
            "Approved by &#64;{} for `{}`, plan `{}` (comment, {}).",
            crate::render::escape::inline(&rec.approver),
            crate::render::escape::inline(&env.name),
            crate::render::escape::inline(abbreviate(&rec.digest, 16)),
            rec.at
        )
    };
    let (text, code) = match &outcome {
        Ok(rec) => (approved(rec), ExitCode::Success),
        Err(why) => (
            format!(
                "Approval by &#64;{} refused: {}",
                crate::render::escape::inline(&commenter),
                crate::render::escape::inline(why)
            ),
            ExitCode::Refused,
        ),
    };
    // The block lists every approval the comment records for the current
    // plan, then this comment's refusal if it was one: a refused attempt
    // after an accepted one must not read as if nobody had approved.
    let mut block: Vec<String> = state
        .phases
        .get(&env.name)
        .map(|p| {
            p.approvals
                .iter()
                .filter(|a| a.env == env.name && a.digest == digest)
                .map(approved)
                .collect()
        })
        .unwrap_or_default();
    if outcome.is_err() {
        block.push(text.clone());
    }
    let recorded = outcome.as_ref().ok().cloned();
    rt.block_on(post_approval_block(
        &client,
        &target,
        &change,
        env,
        &order(&ws, cfg),
        &block.join("\n\n"),
        move |s: &mut CommentState| {
            if let Some(rec) = recorded {
                let approvals = &mut s.phases.entry(rec.env.clone()).or_default().approvals;
                if !approvals.contains(&rec) {
                    approvals.push(rec);
                }
            }
        },
    ))?;
    print_stdout(&text);
    Ok(code)
}

/// The destroy guard again, at apply time: a plan about to be applied that
/// destroys a stateful resource of a protected environment needs an
/// `allow_destroy` entry in the change plan as it stands now (it may have
/// been removed since the plan was gated). The reason, when refused.
pub(super) fn unallowed_destroys(
    ws: &Workspace,
    phase: &crate::config::ResolvedPhase,
    project: &str,
    changes: &crate::plan::ChangeSet,
) -> Option<String> {
    if !changes.destroys() {
        return None;
    }
    let report = crate::gates::blast::evaluate(
        &[(project.to_string(), changes)],
        &crate::gates::blast::BlastContext {
            environment: phase.environment.name.clone(),
            protected: phase.environment.protected,
            declared: None,
            allow_destroy: ws
                .change
                .as_ref()
                .map(|c| c.allow_destroy.clone())
                .unwrap_or_default(),
            phase: Some(phase.name.clone()),
            acknowledgements: vec![],
            today: chrono::Utc::now().date_naive(),
        },
    );
    (!report.guarded.is_empty()).then(|| {
        format!(
            "the plan destroys {} in protected environment {} and the change plan has no `allow_destroy` entry for it",
            report.guarded.join(", "),
            phase.environment.name
        )
    })
}

/// The acknowledgement ids the gates accepted for a plan: security and
/// policy findings marked acknowledged, and the cost and blast gates'
/// acknowledged overruns.
fn accepted_ids(gates: &crate::runner::gating::GateOutcome) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if m.get("acknowledged") == Some(&serde_json::Value::Bool(true)) {
                    if let Some(id) = m.get("id").and_then(|i| i.as_str()) {
                        out.push(id.to_string());
                    }
                }
                m.values().for_each(|x| walk(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut ids = vec![];
    for run in &gates.runs {
        walk(&run.json, &mut ids);
        let overrun = run
            .json
            .get("acknowledged_by")
            .is_some_and(|a| !a.is_null());
        match run.key {
            "cost" if overrun => ids.push(crate::gates::cost::ACK_ID.to_string()),
            "blast" if overrun => ids.push(crate::gates::blast::ACK_ID.to_string()),
            _ => {}
        }
    }
    ids.sort();
    ids.dedup();
    ids
}

/// `AcknowledgementApplied` events for one project's plan: every
/// acknowledgement of the change plan a gate accepted, with its reason and
/// who gave it, bound to the plan's digest.
pub fn acknowledgement_events(
    writer: &crate::runner::session::Writer,
    phase: &str,
    project: &str,
    digest: Option<&str>,
    gates: &crate::runner::gating::GateOutcome,
    change: Option<&crate::config::ChangePlan>,
) -> Vec<crate::journal::Event> {
    let acks = change.map(|c| c.acknowledgements.as_slice()).unwrap_or(&[]);
    accepted_ids(gates)
        .into_iter()
        .filter_map(|id| {
            let ack = acks
                .iter()
                .find(|a| a.id == id && a.phase.as_deref().is_none_or(|p| p == phase))?;
            Some(writer.event(
                phase,
                Some(project),
                crate::journal::Step::Gate,
                digest,
                crate::journal::EventKind::AcknowledgementApplied {
                    id,
                    reason: ack.reason.clone(),
                    by: ack.by.clone(),
                },
            ))
        })
        .collect()
}
