//! The one way the runner takes and releases an (environment, project)
//! lock, for an apply and a rollback alike: a stale lock (its holder's run
//! completed, or its process is gone) is broken and the break journaled, the
//! taking and the release are journaled, and a live holder is a refusal
//! naming who holds it and the command that frees it.

use crate::config::ResolvedPhase;
use crate::error::{Error, Result};
use crate::journal::{Event, EventKind, Step};
use crate::runner::session::{self as runner, Writer};
use crate::store::lock::{self, Held, Holder, LockError, RunLiveness};
use crate::store::Store;

/// The lock is held by a live job: why, and what frees it.
pub struct Busy {
    /// Who holds it since when, and how to release it should that job be
    /// surely gone: breaking a live job's lock is a person's call, so it is
    /// advice in the reason, never the next step.
    pub why: String,
}

/// Takes the lock of `project` in `phase`'s environment for `writer`,
/// journaling a broken stale lock and the taking (under `digest`).
pub async fn take<S: Store, L: RunLiveness>(
    store: &S,
    liveness: &L,
    writer: &Writer,
    phase: &ResolvedPhase,
    project: &str,
    digest: Option<&str>,
) -> Result<std::result::Result<Held, Busy>> {
    match take_unjournaled(store, liveness, writer, phase, project, digest).await? {
        Ok((held, taken)) => {
            runner::append(store, &writer.change, &taken).await?;
            Ok(Ok(held))
        }
        Err(busy) => Ok(Err(busy)),
    }
}

/// [`take`], returning the events that journal it (a broken stale lock,
/// the taking) for the caller to append with its next events.
pub async fn take_unjournaled<S: Store, L: RunLiveness>(
    store: &S,
    liveness: &L,
    writer: &Writer,
    phase: &ResolvedPhase,
    project: &str,
    digest: Option<&str>,
) -> Result<std::result::Result<(Held, Vec<Event>), Busy>> {
    let env = phase.environment.name.clone();
    let holder = Holder {
        owner: writer.owner(),
        change: writer.change.clone(),
        since: runner::now(),
    };
    let held = match lock::acquire(store, liveness, &env, project, holder).await {
        Ok(h) => h,
        Err(LockError::Held { holder, .. }) => {
            return Ok(Err(Busy {
                why: format!(
                    "{env}/{project} is locked by {} since {}; it is applied by one job at a time. Run this again once that job ends; if it is surely gone, `phasegate unlock --env {env} --project {project} --reason <why>` releases the lock",
                    lock::describe(&holder.owner),
                    holder.since
                ),
            }))
        }
        Err(e) => return Err(Error::External(e.to_string())),
    };
    let mut taken = vec![];
    if let Some(broken) = &held.broken {
        taken.push(writer.event(
            &phase.name,
            Some(project),
            Step::Lock,
            digest,
            EventKind::LockBroken {
                environment: env.clone(),
                owner: broken.owner.clone(),
                reason: format!(
                    "stale: {} is no longer running",
                    lock::describe(&broken.owner)
                ),
            },
        ));
    }
    taken.push(writer.event(
        &phase.name,
        Some(project),
        Step::Lock,
        digest,
        EventKind::LockTaken {
            environment: env,
            owner: writer.owner(),
        },
    ));
    Ok(Ok((held, taken)))
}

/// Releases `held` and journals it. A release that fails leaves a lock its
/// owner's end makes stale; the journal still says the step let go of it.
pub async fn release<S: Store>(
    store: &S,
    writer: &Writer,
    phase: &ResolvedPhase,
    project: &str,
    digest: Option<&str>,
    held: &Held,
) -> Result<()> {
    release_after(store, writer, phase, project, digest, held, vec![]).await
}

/// [`release`], journaling `before` (events the command held back) in the
/// same append, ahead of the release.
pub async fn release_after<S: Store>(
    store: &S,
    writer: &Writer,
    phase: &ResolvedPhase,
    project: &str,
    digest: Option<&str>,
    held: &Held,
    before: Vec<Event>,
) -> Result<()> {
    let _ = lock::release(store, held).await;
    let released = writer.event(
        &phase.name,
        Some(project),
        Step::Lock,
        digest,
        EventKind::LockReleased {
            environment: phase.environment.name.clone(),
        },
    );
    let mut events = before;
    events.push(released);
    runner::append(store, &writer.change, &events).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{LockOwner, RunRef};
    use crate::store::local::LocalStore;
    use crate::store::StoreError;

    /// Every holder has finished (its run completed, its process is gone).
    struct AllGone;
    impl RunLiveness for AllGone {
        async fn finished(&self, _: &LockOwner) -> std::result::Result<bool, StoreError> {
            Ok(true)
        }
    }

    /// No holder has finished.
    struct AllAlive;
    impl RunLiveness for AllAlive {
        async fn finished(&self, _: &LockOwner) -> std::result::Result<bool, StoreError> {
            Ok(false)
        }
    }

    fn writer(job: &str) -> Writer {
        Writer {
            run: RunRef {
                id: Some(7),
                attempt: Some(1),
                job: Some(job.into()),
            },
            actor: "octocat".into(),
            change: "CHG-1".into(),
            pid: None,
            host: None,
            clock: crate::runner::session::now,
        }
    }

    fn kinds(dir: &std::path::Path) -> Vec<String> {
        std::fs::read_to_string(dir.join("changes/CHG-1/journal.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].to_string())
            .collect()
    }

    #[test]
    fn a_stale_lock_is_broken_and_journaled_and_a_live_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let phase = crate::runner::workspace::local_phase("app");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let first = take(&store, &AllAlive, &writer("apply"), &phase, "app", None)
                .await
                .unwrap();
            assert!(first.is_ok());
            // A live holder: refused, naming the holder and the way out.
            let Err(busy) = take(&store, &AllAlive, &writer("rollback"), &phase, "app", None)
                .await
                .unwrap()
            else {
                panic!("a live holder's lock was taken");
            };
            assert!(busy.why.contains("local/app is locked by"), "{}", busy.why);
            assert!(
                busy.why
                    .contains("`phasegate unlock --env local --project app --reason <why>`"),
                "{}",
                busy.why
            );
            // Its job is gone: the lock is broken, and the break journaled.
            let Ok(held) = take(&store, &AllGone, &writer("rollback"), &phase, "app", None)
                .await
                .unwrap()
            else {
                panic!("a stale lock was not broken");
            };
            release(&store, &writer("rollback"), &phase, "app", None, &held)
                .await
                .unwrap();
        });
        let kinds = kinds(dir.path());
        let tail: Vec<&str> = kinds
            .iter()
            .rev()
            .take(3)
            .rev()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            tail,
            ["\"lock_broken\"", "\"lock_taken\"", "\"lock_released\""],
            "{kinds:?}"
        );
    }
}
