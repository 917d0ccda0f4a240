//! Resuming after a crash. An apply the journal shows started but never
//! finished (the job was killed mid-apply) is re-verified before anything
//! else: the state serial is compared with the checkpoint, the project is
//! planned again, and either the step is journaled done (nothing remains)
//! or the partial result is reported and a person decides: `--retry`,
//! `phasegate rollback`, or `--abort`. Nothing here applies a plan that was
//! not approved: a retry applies the fresh plan only when its digest equals
//! the approved one, and the refusal names `--retry` only then.
//!
//! The engine of the interrupted apply may have outlived its phasegate
//! (it runs in its own process group, `iac/process.rs`): one still running
//! on this host is waited for before anything is re-verified.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::Project;
use crate::error::{ExitCode, Result};
use crate::iac::orphan::{self, Seen};
use crate::iac::PlanRequest;
use crate::journal::{
    EventKind, ProjectProgress, ResourceOutcome, ResourceResult, Step, StepState,
};
use crate::phase::Approved;
use crate::runner::apply::{self, ApplyContext, Outcome};
use crate::store::Store;

/// What the person running `apply` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// A plain apply: an interrupted one is re-verified and, when changes
    /// remain, refused until a decision.
    #[default]
    Apply,
    /// `--retry`: re-verify, then apply the fresh plan if it is the approved one.
    Retry,
    /// `--abort`: journal the abort and release the lock.
    Abort,
}

impl Mode {
    pub fn from_flags(retry: bool, abort: bool) -> Mode {
        match (retry, abort) {
            (true, _) => Mode::Retry,
            (_, true) => Mode::Abort,
            _ => Mode::Apply,
        }
    }

    pub fn flag(self) -> &'static str {
        match self {
            Mode::Apply => "",
            Mode::Retry => "--retry",
            Mode::Abort => "--abort",
        }
    }
}

/// Whether the journal shows an apply of the project that started and
/// never finished (ApplyStarted, or StepStarted for apply, with no end).
pub fn interrupted(project: Option<&ProjectProgress>) -> bool {
    project.is_some_and(|p| p.apply == StepState::InProgress)
}

/// How long an `apply` waits for the engine of an interrupted apply that
/// still runs on this host before it refuses (the engine may still be
/// changing the state; nothing is re-verified until it ends).
pub const ORPHAN_WAIT: Duration = Duration::from_secs(600);

/// The decision after a re-verification that found changes left, as one
/// command to run, and the other ways on. `--retry` only when the fresh
/// plan is the approved one (nothing of it was applied): it applies only
/// that digest, so anything else needs a new plan, gates and approval.
pub fn decision(phase: usize, retry_works: bool) -> (String, String) {
    let next = if retry_works {
        format!("phasegate apply --phase {phase} --retry")
    } else {
        format!("phasegate plan --phase {phase}")
    };
    let why = if retry_works {
        "the fresh plan is the approved one: `--retry` applies it"
    } else {
        "part of the plan was applied, so what remains needs a new plan, its gates and an approval"
    };
    let others = format!(
        "{why}; or roll it back with `phasegate rollback --phase {phase}`, or abort it with `phasegate apply --phase {phase} --abort`"
    );
    (next, others)
}

/// An engine of the interrupted apply still running on this host is waited
/// for (at most [`ORPHAN_WAIT`]); one still running after that is a
/// journaled refusal. On another host nothing can be seen: Terraform's
/// state lock, if its backend has one, stops the re-verify's plan.
async fn wait_for_engine<S: Store>(
    store: &S,
    ctx: &ApplyContext<'_>,
    name: &str,
    progress: &ProjectProgress,
) -> Result<Option<Outcome>> {
    let Some(engine) = progress.in_flight.as_ref().and_then(|f| f.engine.clone()) else {
        return Ok(None);
    };
    let pid = engine.pid;
    match orphan::seen(&engine) {
        Seen::Gone => Ok(None),
        Seen::Elsewhere => {
            tracing::info!(
                "the engine of the interrupted apply of {name} ran on {} (pid {pid}); if it still runs there, Terraform's state lock holds the re-verify off",
                engine.host.as_deref().unwrap_or("an unrecorded host")
            );
            Ok(None)
        }
        Seen::Running => {
            tracing::warn!(
                "the engine of the interrupted apply of {name} (pid {pid}) still runs on this host: waiting up to {} min for it to end, then re-verifying what it did",
                ORPHAN_WAIT.as_secs() / 60
            );
            if orphan::wait_gone(&engine, ORPHAN_WAIT) {
                tracing::info!("the engine (pid {pid}) ended");
                return Ok(None);
            }
            let why = format!(
                "the engine of the interrupted apply of {name} (pid {pid}) still runs on this host after {} min; nothing is re-verified while it may change the state (stop it with `kill -INT {pid}` if it hangs)",
                ORPHAN_WAIT.as_secs() / 60
            );
            let command = format!("phasegate apply --phase {}", ctx.phase.index);
            let digest = progress.digest.as_deref();
            let o = apply::refuse(store, ctx, name, digest, "engine-running", why, command).await?;
            Ok(Some(o))
        }
    }
}

/// Resources of a state file by address (`module.x.type.name[key]`), with
/// their instances' attributes: what a diff of two states compares.
fn resources(state: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    for r in state["resources"].as_array().into_iter().flatten() {
        if r["mode"] == "data" {
            continue;
        }
        let base = match r["module"].as_str() {
            Some(m) => format!(
                "{m}.{}.{}",
                r["type"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or("")
            ),
            None => format!(
                "{}.{}",
                r["type"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or("")
            ),
        };
        for i in r["instances"].as_array().into_iter().flatten() {
            let address = match &i["index_key"] {
                serde_json::Value::Null => base.clone(),
                serde_json::Value::String(k) => format!("{base}[\"{k}\"]"),
                k => format!("{base}[{k}]"),
            };
            out.insert(address, i["attributes"].clone());
        }
    }
    out
}

/// What the interrupted apply did, derived from evidence: the checkpoint's
/// state against the state now. Created, deleted and changed resources are
/// `applied`; the results never name what the states do not show.
pub fn derive_results(
    before: &serde_json::Value,
    after: &serde_json::Value,
) -> Vec<ResourceResult> {
    let (before, after) = (resources(before), resources(after));
    let mut out = vec![];
    for (address, attrs) in &after {
        let action = match before.get(address) {
            None => "create",
            Some(old) if old != attrs => "update",
            Some(_) => continue,
        };
        out.push(applied(address, action));
    }
    for address in before.keys().filter(|a| !after.contains_key(*a)) {
        out.push(applied(address, "delete"));
    }
    out
}

fn applied(address: &str, action: &str) -> ResourceResult {
    ResourceResult {
        address: address.to_string(),
        action: action.to_string(),
        outcome: ResourceOutcome::Applied,
        error: None,
    }
}

/// The state serial and resources now, beside the checkpoint's.
struct Evidence {
    serial_then: Option<u64>,
    serial_now: Option<u64>,
    applied: Vec<ResourceResult>,
    /// Whether the checkpoint file could be read to derive `applied`.
    derived: bool,
}

fn gather(
    ctx: &ApplyContext<'_>,
    req: &PlanRequest,
    progress: &ProjectProgress,
) -> Result<Evidence> {
    let now: serde_json::Value =
        serde_json::from_str(&ctx.engine.state_pull(req)?).unwrap_or_default();
    let checkpoint = progress.checkpoint.as_ref();
    // A workspace without state pulls as nothing: no resources yet.
    let then: Option<serde_json::Value> = checkpoint
        .and_then(|c| std::fs::read_to_string(&c.file).ok())
        .and_then(|t| match t.trim() {
            "" => Some(serde_json::json!({ "resources": [] })),
            t => serde_json::from_str(t).ok(),
        });
    Ok(Evidence {
        serial_then: checkpoint.and_then(|c| c.serial),
        serial_now: now["serial"].as_u64(),
        applied: then
            .as_ref()
            .map(|t| derive_results(t, &now))
            .unwrap_or_default(),
        derived: then.is_some(),
    })
}

fn serials(e: &Evidence) -> String {
    let show = |s: Option<u64>| s.map(|n| n.to_string()).unwrap_or_else(|| "none".into());
    format!(
        "state serial {} at the checkpoint, {} now",
        show(e.serial_then),
        show(e.serial_now)
    )
}

/// Re-verifies an interrupted apply under the lock and acts on `ctx.mode`.
pub async fn resume<S: Store>(
    store: &S,
    ctx: &ApplyContext<'_>,
    project: &Project,
    progress: &ProjectProgress,
    approved: &Approved,
) -> Result<Outcome> {
    let w = &ctx.writer;
    let phase = &ctx.phase.name;
    let n = ctx.phase.index;
    let name = project.name.as_str();
    let digest = progress.digest.as_deref();
    if let Some(refused) = wait_for_engine(store, ctx, name, progress).await? {
        return Ok(refused);
    }
    if ctx.mode == Mode::Abort {
        let e = w.event(
            phase,
            Some(name),
            Step::Apply,
            digest,
            EventKind::StepFailed {
                error: format!(
                    "aborted by {} after an interrupted apply of plan {}",
                    w.actor,
                    apply::short(digest.unwrap_or_default())
                ),
                class: crate::journal::ErrorClass::Other,
            },
        );
        ctx.journal(store, &[e]).await?;
        let mut o = apply::outcome(
            name,
            ExitCode::Success,
            "aborted",
            "the interrupted apply is journaled as aborted; nothing was applied now".into(),
        );
        o.command = Some(format!("phasegate plan --phase {n}"));
        return Ok(o);
    }
    let mut req = apply::prepare(ctx, project)?;
    let evidence = gather(ctx, &req, progress)?;
    req.plan_file = apply::plan_file(ctx, name, ".resume")?;
    if let Err(e) = ctx.engine.plan(&req) {
        let text = e.to_string();
        if !text.to_ascii_lowercase().contains("state lock") {
            return Err(e.into());
        }
        let holder = progress
            .in_flight
            .as_ref()
            .and_then(|f| f.engine.as_ref())
            .map(|e| {
                format!(
                    "; the engine of the interrupted apply (pid {} on {}) may still hold it",
                    e.pid,
                    e.host.as_deref().unwrap_or("an unrecorded host")
                )
            })
            .unwrap_or_default();
        let why = format!(
            "the state of {name} is locked{holder}: wait for it to end (or, once it is surely gone, `terraform force-unlock <ID>`), then re-verify"
        );
        let command = format!("phasegate apply --phase {n}");
        return apply::refuse(store, ctx, name, digest, "state-locked", why, command).await;
    }
    let json = ctx.engine.show_json(&req)?;
    let fresh =
        crate::runner::projects::parse_requested(&json, &req, &format!("{name} (re-verify)"))?;
    if !fresh.has_changes() {
        // The apply got to the end before the job died: journal the step
        // done with what the states show, and the convergence it proves.
        let done = [
            EventKind::ApplyFinished {
                results: evidence.applied.clone(),
                error: None,
                class: None,
            },
            EventKind::ConvergenceChecked { converged: true },
        ]
        .map(|kind| {
            let step = match kind {
                EventKind::ConvergenceChecked { .. } => Step::Verify,
                _ => Step::Apply,
            };
            w.event(phase, Some(name), step, digest, kind)
        });
        ctx.journal(store, &done).await?;
        let mut o = apply::outcome(
            name,
            ExitCode::Success,
            "applied",
            format!(
                "the interrupted apply of plan {} had finished ({}); a re-plan shows no changes: converged",
                apply::short(digest.unwrap_or_default()),
                serials(&evidence)
            ),
        );
        o.resources = evidence.applied;
        return Ok(o);
    }
    let remaining = apply::planned(&fresh);
    if ctx.mode == Mode::Retry {
        if Some(fresh.digest.as_str()) == approved.digest.as_deref() {
            // Every apply starts from a fresh checkpoint.
            apply::checkpoint(ctx, &req, name, digest)?;
            return apply::apply_changes(store, ctx, name, digest, req, &fresh).await;
        }
        let why = format!(
            "the fresh plan {} is not the approved plan {}: some of it was applied ({}); it needs a new plan, its gates and an approval",
            apply::short(&fresh.digest),
            apply::short(approved.digest.as_deref().unwrap_or_default()),
            serials(&evidence)
        );
        let (command, _) = decision(n, false);
        return apply::refuse(store, ctx, name, digest, "retry", why, command).await;
    }
    let mut resources = evidence.applied.clone();
    resources.extend(remaining.iter().map(|(address, action)| ResourceResult {
        address: address.clone(),
        action: action.clone(),
        outcome: ResourceOutcome::Untouched,
        error: None,
    }));
    let shown = |rs: &[String]| {
        if rs.is_empty() {
            "none".to_string()
        } else {
            rs.join(", ")
        }
    };
    let applied: Vec<String> = evidence.applied.iter().map(|r| r.address.clone()).collect();
    let left: Vec<String> = remaining.iter().map(|(a, _)| a.clone()).collect();
    let uncertain = cut_off_creates(progress, &remaining);
    let retry_works = Some(fresh.digest.as_str()) == approved.digest.as_deref();
    let (command, others) = decision(n, retry_works);
    let why = format!(
        "the apply of plan {} was interrupted ({}); applied{}: {}; still to change: {}.{} {others}",
        apply::short(digest.unwrap_or_default()),
        serials(&evidence),
        if evidence.derived {
            ""
        } else {
            " (unknown: the checkpoint file cannot be read)"
        },
        shown(&applied),
        shown(&left),
        uncertain_note(&uncertain)
    );
    let mut o = apply::refuse(store, ctx, name, digest, "interrupted", why, command).await?;
    o.resources = resources;
    Ok(o)
}

/// Creates the stopped apply started and saw fail, and the state still lacks: the engine
/// cannot tell a create the cloud refused from one whose answer was lost while it stopped.
fn cut_off_creates(progress: &ProjectProgress, remaining: &[(String, String)]) -> Vec<String> {
    let stopped = progress
        .in_flight
        .as_ref()
        .is_some_and(|f| f.stopped.is_some());
    if !stopped {
        return vec![];
    }
    progress
        .results
        .iter()
        .filter(|r| r.outcome == ResourceOutcome::Failed && r.action == "create")
        .filter(|r| {
            remaining
                .iter()
                .any(|(a, action)| a == &r.address && action == "create")
        })
        .map(|r| r.address.clone())
        .collect()
}

fn uncertain_note(uncertain: &[String]) -> String {
    if uncertain.is_empty() {
        return String::new();
    }
    format!(
        " Uncertain: {} (its create failed while the apply stopped: the object may exist outside the state; look for it before a new plan, and import it if it is there).",
        uncertain.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(resources: serde_json::Value) -> serde_json::Value {
        json!({"version": 4, "serial": 3, "resources": resources})
    }

    fn bucket(name: &str, acl: &str) -> serde_json::Value {
        json!({"mode": "managed", "type": "aws_s3_bucket", "name": name,
               "instances": [{"attributes": {"bucket": name, "acl": acl}}]})
    }

    #[test]
    fn results_name_created_changed_and_deleted_resources_only() {
        let before = state(json!([
            bucket("kept", "private"),
            bucket("changed", "private"),
            bucket("gone", "private")
        ]));
        let after = state(
            json!([bucket("kept", "private"), bucket("changed", "public-read"), bucket("new", "private"),
            {"mode": "data", "type": "aws_region", "name": "here", "instances": [{"attributes": {}}]}]),
        );
        let got: Vec<(String, String)> = derive_results(&before, &after)
            .into_iter()
            .map(|r| (r.address, r.action))
            .collect();
        assert_eq!(
            got,
            vec![
                ("aws_s3_bucket.changed".to_string(), "update".to_string()),
                ("aws_s3_bucket.new".to_string(), "create".to_string()),
                ("aws_s3_bucket.gone".to_string(), "delete".to_string()),
            ]
        );
    }

    #[test]
    fn instances_are_addressed_by_their_keys_and_modules() {
        let r = json!([{"mode": "managed", "module": "module.m", "type": "aws_s3_bucket", "name": "b",
            "instances": [{"index_key": 0, "attributes": {}}, {"index_key": "x", "attributes": {}}]}]);
        let got: Vec<String> = derive_results(&state(json!([])), &state(r))
            .into_iter()
            .map(|r| r.address)
            .collect();
        assert_eq!(
            got,
            vec![
                "module.m.aws_s3_bucket.b[\"x\"]",
                "module.m.aws_s3_bucket.b[0]"
            ]
        );
    }

    #[test]
    fn only_an_apply_left_in_progress_is_interrupted() {
        let mut p = ProjectProgress::default();
        assert!(!interrupted(Some(&p)));
        p.apply = StepState::InProgress;
        assert!(interrupted(Some(&p)));
        assert!(!interrupted(None));
    }

    #[test]
    fn flags_pick_the_mode() {
        assert_eq!(Mode::from_flags(false, false), Mode::Apply);
        assert_eq!(Mode::from_flags(true, false), Mode::Retry);
        assert_eq!(Mode::from_flags(false, true), Mode::Abort);
    }
}
