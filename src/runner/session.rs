//! What every runner command shares: the store the journal lives in, who is
//! running (run id, attempt, job, actor), the clock, and the phases the
//! journal is folded over. [`Runner`] opens the chosen store, and in
//! Actions the forge client, on one runtime that drives them both.

use std::path::PathBuf;

use crate::ci::ActionsContext;
use crate::config::{ResolvedPhase, StoreBackend};
use crate::error::{Error, Result};
use crate::github::runs::pr_for_push;
use crate::github::{OctoForge, PrTarget, RepoRef};
use crate::journal::{
    self, chain, fold, Event, JournalError, LockOwner, PhaseRef, Progress, RunRef,
};
use crate::runner::workspace::Workspace;
use crate::store::any::AnyStore;
use crate::store::github::GitRefStore;
use crate::store::local::LocalStore;
use crate::store::lock::{LocalLiveness, RunLiveness};
use crate::store::runs::RunsLiveness;
use crate::store::{update, Contention, Store, StoreError};

/// Which backend, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    Local(PathBuf),
    /// The repository's refs (`refs/phasegate/...`), through the Git Data API.
    Github,
}

/// Picks the store: `PHASEGATE_STORE_DIR` (always local), else the config's
/// `store:`, else `github` in Actions and a local directory elsewhere.
pub fn store_choice(ws: &Workspace, actions: Option<&ActionsContext>) -> Result<StoreChoice> {
    if let Some(dir) = std::env::var_os("PHASEGATE_STORE_DIR") {
        return Ok(StoreChoice::Local(PathBuf::from(dir)));
    }
    let cfg = ws
        .config
        .as_ref()
        .map(|c| c.store.clone())
        .unwrap_or_default();
    let backend = cfg.backend.unwrap_or(if actions.is_some() {
        StoreBackend::Github
    } else {
        StoreBackend::Local
    });
    match backend {
        // The default sits in the configured output directory (not the
        // `--out` flag) so that every step of a change finds the same store.
        StoreBackend::Local => Ok(StoreChoice::Local(match cfg.path {
            Some(path) => ws.base_dir.join(path),
            None => ws.out_dir(None).join("store"),
        })),
        StoreBackend::Github => Ok(StoreChoice::Github),
    }
}

/// What a runner command works with: one runtime, the chosen store, and in
/// Actions (with a token) the forge client built on that same runtime, since
/// the client's background worker only runs while its runtime is driven.
pub struct Runner {
    pub rt: tokio::runtime::Runtime,
    pub store: AnyStore,
    /// The client when the store is local; a `github` store carries its own.
    forge: Option<OctoForge>,
    /// The repository the store and the comment live in, in Actions.
    pub repo: Option<RepoRef>,
    /// The PR this run reports to: the event's, or after the merge the PR a
    /// push to the default branch came from. `None`: the job summary alone.
    pub pr: Option<PrTarget>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("store", &self.store)
            .field("repo", &self.repo)
            .field("pr", &self.pr)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// Opens the store [`store_choice`] picks. The `github` store needs a
    /// token (`token`, else `GITHUB_TOKEN`) and the repository (the run's,
    /// else `GITHUB_REPOSITORY`); a local store in Actions still gets the
    /// client when there is a token, for the comment and approvals.
    pub fn open(
        ws: &Workspace,
        actions: Option<&ActionsContext>,
        token: Option<String>,
    ) -> Result<Runner> {
        let choice = store_choice(ws, actions)?;
        let token = token
            .or_else(|| std::env::var("GITHUB_TOKEN").ok())
            .filter(|t| !t.trim().is_empty());
        let repo = actions.map(crate::runner::forge::repo_of).or_else(|| {
            std::env::var("GITHUB_REPOSITORY")
                .ok()
                .and_then(|r| RepoRef::parse(&r))
        });
        let (rt, forge) = match (&choice, token) {
            (StoreChoice::Github, None) => {
                return Err(Error::Input(
                    "store.backend `github` needs a token with `contents: write` (GITHUB_TOKEN or --token); \
                     or choose `store: {backend: local, path: DIR}` in phasegate.yml"
                        .into(),
                ))
            }
            (StoreChoice::Local(_), token) if actions.is_none() || token.is_none() => {
                (crate::runner::forge::runtime()?, None)
            }
            (_, token) => {
                let (rt, client) = crate::runner::forge::connect_as(token, ws.config.as_ref())?;
                (rt, Some(client))
            }
        };
        let (store, forge) = match choice {
            StoreChoice::Local(dir) => (AnyStore::Local(LocalStore::new(dir)), forge),
            StoreChoice::Github => {
                let repo = repo.clone().ok_or_else(|| {
                    Error::Input(
                        "store.backend `github` needs the repository: run in GitHub Actions or set GITHUB_REPOSITORY=owner/name"
                            .into(),
                    )
                })?;
                let client = forge.expect("a github store comes with its client");
                (
                    AnyStore::Github(Box::new(GitRefStore::new(client, repo))),
                    None,
                )
            }
        };
        remember_config(ws);
        let mut runner = Runner {
            rt,
            store,
            forge,
            repo,
            pr: None,
        };
        runner.pr = match actions {
            Some(ctx) => runner.report_target(ws, ctx)?,
            None => None,
        };
        Ok(runner)
    }

    /// The forge client, when this run has one.
    pub fn forge(&self) -> Option<&OctoForge> {
        match &self.store {
            AnyStore::Github(s) => Some(s.forge()),
            AnyStore::Local(_) => self.forge.as_ref(),
        }
    }

    /// Who holds a lock: in Actions, through the owning run's status.
    pub fn liveness(&self, writer: &Writer) -> Liveness<'_> {
        Liveness(match (self.forge(), &self.repo) {
            (Some(forge), Some(repo)) => Some(RunsLiveness {
                forge,
                repo,
                current: writer.run.clone(),
            }),
            _ => None,
        })
    }

    /// The writer of this run's events; after the merge, a change without a
    /// change plan keeps the id of the PR it came from.
    pub fn writer(&self, ws: &Workspace, actions: Option<&ActionsContext>) -> Writer {
        let mut writer = new_writer(ws, actions);
        if let (None, Some(pr)) = (ws.change_id(), &self.pr) {
            writer.change = format!("PR-{}", pr.number);
        }
        writer
    }

    /// The event's PR, or for a push to the default branch the merged PR
    /// that produced the pushed commit.
    fn report_target(&self, ws: &Workspace, ctx: &ActionsContext) -> Result<Option<PrTarget>> {
        let repo = crate::runner::forge::repo_of(ctx);
        if let Some(number) = ctx.pull_request() {
            return Ok(Some(PrTarget { repo, number }));
        }
        let (Some(forge), Some(sha)) = (self.forge(), ctx.sha.as_deref()) else {
            return Ok(None);
        };
        if !pushed_to_default_branch(ws, ctx) {
            return Ok(None);
        }
        let pr = self.rt.block_on(pr_for_push(forge, &repo, sha))?;
        match &pr {
            Some(t) => tracing::info!("push {sha} came from {t}: reporting there"),
            None => tracing::info!("push {sha} belongs to no merged PR: job summary only"),
        }
        Ok(pr)
    }
}

/// Whether this run is a push to the branch merges land on.
pub fn pushed_to_default_branch(ws: &Workspace, ctx: &ActionsContext) -> bool {
    let branch = ws
        .config
        .as_ref()
        .and_then(|c| c.workflows.default_branch.clone())
        .unwrap_or_else(|| "main".into());
    ctx.event.kind == crate::ci::EventKind::Push
        && ctx.git_ref.as_deref() == Some(format!("refs/heads/{branch}").as_str())
}

/// Lock staleness for this run: the owning workflow run's status when
/// there is a client, else the local process check.
pub struct Liveness<'a>(Option<RunsLiveness<'a, OctoForge>>);

impl RunLiveness for Liveness<'_> {
    async fn finished(&self, owner: &LockOwner) -> std::result::Result<bool, StoreError> {
        match &self.0 {
            Some(runs) => runs.finished(owner).await,
            None => LocalLiveness.finished(owner).await,
        }
    }
}

pub use crate::journal::Writer;

/// Who writes, from the Actions context (the workflow run and its actor) or
/// outside Actions the local user and this process on this host, with the
/// clock at the edge.
pub fn new_writer(ws: &Workspace, actions: Option<&ActionsContext>) -> Writer {
    let run = RunRef {
        id: actions.and_then(|c| c.run_id),
        attempt: actions.and_then(|c| c.run_attempt),
        job: actions.and_then(|c| c.job.clone()),
    };
    let actor = actions
        .and_then(|c| c.actor.clone())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into());
    Writer {
        pid: run.id.is_none().then(std::process::id),
        host: crate::store::lock::hostname(),
        run,
        actor,
        change: change_id(ws, actions),
        clock: now,
    }
}

/// The clock, at the edge.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The change's id: the change plan's, else `PR-<n>`, else `local`.
pub fn change_id(ws: &Workspace, actions: Option<&ActionsContext>) -> String {
    ws.change_id()
        .map(str::to_string)
        .or_else(|| {
            actions
                .and_then(ActionsContext::pull_request)
                .map(|n| format!("PR-{n}"))
        })
        .unwrap_or_else(|| "local".into())
}

/// The phases of the change as the journal folds them.
pub fn phase_refs(phases: &[ResolvedPhase]) -> Vec<PhaseRef> {
    phases
        .iter()
        .map(|p| PhaseRef {
            index: p.index,
            name: p.name.clone(),
            environment: p.environment.name.clone(),
            projects: p.projects.iter().map(|x| x.name.clone()).collect(),
            approval_required: p.environment.reviewers_required
                || p.environment.protected
                || p.steps.iter().any(|s| s.irreversible),
            steps: step_refs(&p.steps),
            rule_may_approve: rule_may_approve(p),
        })
        .collect()
}

/// Whether an approval by the environment's `approvals.auto` rule counts in
/// `phase`: there is a rule, GitHub's reviewers do not hold the environment
/// (no rule overrides them), and no step of the phase is irreversible.
pub fn rule_may_approve(phase: &ResolvedPhase) -> bool {
    let env = &phase.environment;
    env.approvals.auto.is_some()
        && !crate::config::AutoApproval::overridden_by_reviewers(env)
        && !phase.steps.iter().any(|s| s.irreversible)
}

/// A phase's operation steps as the journal's fold needs them, in the order
/// they run.
pub fn step_refs(steps: &[crate::config::steps::Step]) -> Vec<crate::journal::StepRef> {
    use crate::config::steps::{before_apply, run_order, StepKind};
    let before = before_apply(steps);
    run_order(steps)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.kind == StepKind::Operation)
        .map(|s| crate::journal::StepRef {
            id: s.id.clone(),
            has_rollback: s.rollback.is_some(),
            before_apply: before.contains(&s.id),
            irreversible: s.irreversible,
        })
        .collect()
}

/// Every phase of the workspace's change.
pub fn all_phases(ws: &Workspace) -> Vec<ResolvedPhase> {
    ws.config
        .as_ref()
        .map(|cfg| crate::config::resolve_phases(cfg, ws.change.as_ref()))
        .unwrap_or_default()
}

/// The config this process's commands loaded, as a new journal records it
/// in its `journal_opened` line. Process-wide because [`append`] is called
/// from every runner command with only the store and the change at hand;
/// [`Runner::open`] sets it.
static CONFIG_DIGEST: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn remember_config(ws: &Workspace) {
    let digest = ws.config_path.as_deref().and_then(|p| file_sha256(p).ok());
    *CONFIG_DIGEST.lock().unwrap_or_else(|p| p.into_inner()) = digest;
}

fn opening() -> journal::Opening {
    journal::Opening {
        config_digest: CONFIG_DIGEST
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone(),
    }
}

/// The change's journal, its chain checked: a deleted, reordered or edited
/// line is refused (exit 1) naming the first broken link. A torn last line
/// is set aside with a warning; the next [`append`] journals it.
pub async fn read_journal<S: Store>(store: &S, change: &str) -> Result<Vec<Event>> {
    match store.read(&journal::journal_key(change)).await? {
        Some(obj) => {
            let journal = chain::read(&obj.bytes, change)?;
            if let Some(torn) = &journal.torn {
                warn_torn(change, torn, "the next append journals it and continues");
            }
            Ok(journal.events)
        }
        None => Ok(vec![]),
    }
}

fn warn_torn(change: &str, torn: &journal::Torn, what_next: &str) {
    tracing::warn!(
        "journal of change {change}: line {} is torn ({} bytes without a newline, not JSON, sha256 {}): a write was cut off; it is set aside, {what_next} from line {}",
        torn.line,
        torn.length,
        torn.sha256,
        torn.line - 1
    );
}

/// Appends events by compare-and-swap; concurrent appenders lose nothing.
/// Every line passes the redactor first and is linked to the line before
/// it as stored; each retry links to the bytes it actually appends to.
pub async fn append<S: Store>(store: &S, change: &str, events: &[Event]) -> Result<()> {
    let redactor = crate::redact::global();
    let opening = opening();
    let mut set_aside = None;
    update(
        store,
        &journal::journal_key(change),
        Contention::default(),
        |cur| {
            let appended = chain::append(cur, change, &opening, events, |l| redactor.apply(&l))?;
            set_aside = appended.set_aside;
            Ok::<_, JournalError>(appended.bytes)
        },
    )
    .await??;
    if let Some(torn) = &set_aside {
        warn_torn(
            change,
            torn,
            "journaled as torn_line_set_aside; the chain continues",
        );
    }
    Ok(())
}

/// The folded view of the change.
pub async fn progress<S: Store>(store: &S, ws: &Workspace, change: &str) -> Result<Progress> {
    let events = read_journal(store, change).await?;
    Ok(fold(change, &phase_refs(&all_phases(ws)), &events))
}

/// How `project` is planned and applied in `phase`'s environment: the
/// environment's settings with the project's overrides, paths made absolute.
pub fn plan_request(
    ws: &Workspace,
    phase: &ResolvedPhase,
    project: &crate::config::Project,
    plan_file: PathBuf,
) -> Result<crate::iac::PlanRequest> {
    let inputs = crate::runner::inputs::resolve_all(ws, phase, project)?;
    Ok(with_inputs(
        base_request(ws, phase, project, plan_file)?,
        &inputs,
    ))
}

/// `req` given the upstream outputs `inputs` read: as `TF_VAR_` variables
/// (after the environment's own, so an input is never overridden by
/// accident), and as the values its plan's digest binds.
pub fn with_inputs(
    mut req: crate::iac::PlanRequest,
    inputs: &crate::runner::inputs::Resolved,
) -> crate::iac::PlanRequest {
    req.env.extend(inputs.env());
    req.binds = inputs.binds();
    req
}

/// How `project` is planned in the phase's environment, without its
/// inputs: what reading its own outputs needs.
pub fn base_request(
    ws: &Workspace,
    phase: &ResolvedPhase,
    project: &crate::config::Project,
    plan_file: PathBuf,
) -> Result<crate::iac::PlanRequest> {
    let env = &phase.environment;
    let mut settings = env.plan.clone();
    if let Some(over) = env.projects.get(&project.name) {
        settings.var_files.extend(over.var_files.iter().cloned());
        settings
            .backend_config
            .extend(over.backend_config.iter().cloned());
        if over.workspace.is_some() {
            settings.workspace = over.workspace.clone();
        }
        settings.env.extend(over.env.clone());
    }
    Ok(crate::iac::PlanRequest {
        var_files: settings
            .var_files
            .iter()
            .map(|f| absolute(&ws.base_dir.join(f)))
            .collect::<Result<_>>()?,
        backend_config: settings.backend_config.clone(),
        workspace: settings.workspace.clone(),
        env: settings.env.into_iter().collect(),
        plan_file,
        dir: ws.base_dir.join(&project.dir),
        binds: vec![],
    })
}

/// `p` made absolute against the current directory.
pub fn absolute(p: &std::path::Path) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    Ok(cwd.join(p))
}

/// sha256 of a file, hex.
pub fn file_sha256(path: &std::path::Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// The plan's record for the journal: changes, the saved file and its hash.
pub fn plan_record(
    cs: &crate::plan::ChangeSet,
    plan_file: Option<&std::path::Path>,
) -> Result<crate::journal::PlanRecord> {
    let (file, sha) = match plan_file.filter(|f| f.is_file()) {
        Some(f) => (Some(f.display().to_string()), Some(file_sha256(f)?)),
        None => (None, None),
    };
    Ok(crate::journal::PlanRecord {
        inputs: vec![],
        has_changes: cs.has_changes(),
        plan_file: file,
        plan_sha256: sha,
        destroys: cs.destroys(),
        base: None,
    })
}

/// Journals a finished `plan`: per project the plan with its digest and
/// saved file, then every gate's verdict for that digest. Without a config
/// there is no change to journal. When the store cannot be opened (e.g. the
/// `github` store without a token) the journal is skipped with a warning
/// rather than failing the plan. Returns the runner, for posting progress.
pub fn journal_plan(
    ws: &Workspace,
    actions: Option<&ActionsContext>,
    result: &crate::runner::plan::PlanResult,
    plan_files: Option<&std::path::Path>,
    token: Option<String>,
) -> Result<Option<Runner>> {
    if ws.config.is_none() {
        return Ok(None);
    }
    let runner = match Runner::open(ws, actions, token) {
        Ok(r) => r,
        Err(e @ Error::Input(_)) => {
            tracing::warn!("the plan is not journaled: {e}");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let writer = runner.writer(ws, actions);
    let phase = &result.phase;
    let base = crate::runner::gated::change_base(ws);
    let mut events = vec![];
    for p in &result.projects {
        let file =
            plan_files.map(|d| d.join(format!("{}-{}.tfplan", p.name, phase.environment.name)));
        events.extend(crate::runner::gated::plan_events(
            &writer,
            ws,
            phase,
            p,
            &result.gates,
            file.as_deref(),
            base.as_deref(),
        )?);
    }
    // A project waiting for its upstreams' outputs: in the change, with
    // what it waits for standing in the phase's digest.
    for w in &result.waiting {
        events.push(writer.event(
            &phase.name,
            Some(&w.name),
            crate::journal::Step::Plan,
            Some(&w.digest),
            crate::journal::EventKind::PlanWaiting {
                waiting_on: w.waiting_on.clone(),
            },
        ));
    }
    // The environment's rule approved the plan: an approval, journaled with
    // the conditions that held, of exactly this phase digest.
    if let Some(conditions) = &result.auto_approved {
        let digest =
            crate::runner::plan::phase_digest(&result.projects, &result.waiting, &result.steps);
        events.push(writer.event(
            &phase.name,
            None,
            crate::journal::Step::Approval,
            Some(&digest),
            crate::journal::EventKind::ApprovalRecorded {
                environment: phase.environment.name.clone(),
                approver: "rule".into(),
                source: crate::journal::ApprovalSource::Rule,
                at: now(),
                conditions: conditions.clone(),
            },
        ));
    }
    // Each operation step's preview, whose digest is part of the phase's.
    for p in &result.steps {
        events.push(writer.event(
            &phase.name,
            None,
            crate::journal::Step::Operation,
            Some(&p.digest),
            crate::journal::EventKind::Operation {
                step_id: p.step.id.clone(),
                record: p.record(),
            },
        ));
    }
    runner
        .rt
        .block_on(append(&runner.store, &writer.change, &events))?;
    Ok(Some(runner))
}

/// The digest of the plan about to be applied in environment `env`, from
/// the journal (never from the comment): the first phase of `env` not yet
/// done that has a plan, else the last planned one.
pub fn journal_digest(
    ws: &Workspace,
    actions: Option<&ActionsContext>,
    env: &str,
    token: Option<String>,
) -> Result<Option<String>> {
    let runner = Runner::open(ws, actions, token)?;
    let change = runner.writer(ws, actions).change;
    let progress = runner.rt.block_on(progress(&runner.store, ws, &change))?;
    let planned: Vec<_> = progress
        .phases
        .iter()
        .filter(|p| p.environment == env && p.digest.is_some())
        .collect();
    Ok(planned
        .iter()
        .find(|p| !p.done())
        .or(planned.last())
        .and_then(|p| p.digest.clone()))
}
