//! Locks per (environment, project), held in the store by compare-and-swap:
//! two jobs never apply to the same place at once. A lock records its owner;
//! it is stale when that owner is gone (its workflow run completed, or
//! locally its process died), and only then may it be broken.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, Version};
use crate::journal::{key_part, LockOwner};

/// The store key of the lock on `env`/`project`.
pub fn lock_key(env: &str, project: &str) -> String {
    format!("locks/{}/{}.json", key_part(env), key_part(project))
}

/// What the lock object holds; `holder: None` is a released lock (the store
/// has no delete, and a released object keeps the compare-and-swap chain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LockRecord {
    #[serde(default)]
    pub holder: Option<Holder>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub owner: LockOwner,
    pub change: String,
    /// RFC 3339.
    pub since: String,
}

/// Whether a lock's owner still runs. The lead implements it over the
/// GitHub API (workflow run status); [`LocalLiveness`] answers for locks
/// taken outside Actions.
#[allow(async_fn_in_trait)]
pub trait RunLiveness {
    /// `true` when the owner has certainly finished; unknown means alive.
    async fn finished(&self, owner: &LockOwner) -> Result<bool, StoreError>;
}

/// Locks without a run id: stale when their process is gone on this host.
/// Locks of a workflow run are never judged stale here.
#[derive(Debug, Clone, Default)]
pub struct LocalLiveness;

impl RunLiveness for LocalLiveness {
    async fn finished(&self, owner: &LockOwner) -> Result<bool, StoreError> {
        Ok(local_owner_gone(owner))
    }
}

/// This machine's name, as lock owners record it.
pub fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

fn local_owner_gone(owner: &LockOwner) -> bool {
    if owner.run.id.is_some() {
        return false;
    }
    match (owner.pid, &owner.host) {
        (Some(pid), Some(host)) if Some(host) == hostname().as_ref() => pid_gone(pid),
        _ => false,
    }
}

#[cfg(target_os = "linux")]
fn pid_gone(pid: u32) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(not(target_os = "linux"))]
fn pid_gone(_pid: u32) -> bool {
    false
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{env}/{project} is locked by {} since {}", describe(&.holder.owner), .holder.since)]
    Held {
        env: String,
        project: String,
        holder: Box<Holder>,
    },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("lock {key} holds unreadable JSON: {message}")]
    Corrupt { key: String, message: String },
}

/// "run 123 (job apply) by @octocat" or "pid 42 on host by @me".
pub fn describe(owner: &LockOwner) -> String {
    let who = match (owner.run.id, &owner.run.job, owner.pid) {
        (Some(id), Some(job), _) => format!("run {id} (job {job})"),
        (Some(id), None, _) => format!("run {id}"),
        (None, _, Some(pid)) => format!(
            "pid {pid} on {}",
            owner.host.as_deref().unwrap_or("another host")
        ),
        _ => "an unknown owner".into(),
    };
    format!("{who} by @{}", owner.actor)
}

/// A lock this process holds; hand it back to [`release`].
#[derive(Debug, Clone)]
pub struct Held {
    pub key: String,
    pub version: Version,
    /// A stale lock broken to take this one.
    pub broken: Option<Holder>,
}

fn parse(key: &str, bytes: &[u8]) -> Result<LockRecord, LockError> {
    serde_json::from_slice(bytes).map_err(|e| LockError::Corrupt {
        key: key.to_string(),
        message: e.to_string(),
    })
}

fn encode(record: &LockRecord) -> Vec<u8> {
    serde_json::to_vec_pretty(record).expect("a lock record serializes")
}

/// Takes the lock on `env`/`project`, breaking it when its holder is stale.
/// One attempt: a held lock or a lost race is [`LockError::Held`].
pub async fn acquire<S: Store, L: RunLiveness>(
    store: &S,
    liveness: &L,
    env: &str,
    project: &str,
    holder: Holder,
) -> Result<Held, LockError> {
    let key = lock_key(env, project);
    let current = store.read(&key).await?;
    let mut broken = None;
    if let Some(obj) = &current {
        if let Some(existing) = parse(&key, &obj.bytes)?.holder {
            if !liveness.finished(&existing.owner).await? {
                return Err(LockError::Held {
                    env: env.into(),
                    project: project.into(),
                    holder: Box::new(existing),
                });
            }
            broken = Some(existing);
        }
    }
    let record = LockRecord {
        holder: Some(holder),
    };
    match store
        .write(&key, current.as_ref().map(|o| &o.version), &encode(&record))
        .await
    {
        Ok(version) => Ok(Held {
            key,
            version,
            broken,
        }),
        Err(StoreError::Conflict { .. }) => {
            // Someone took it between our read and write: report them.
            let holder = match store.read(&key).await? {
                Some(o) => parse(&key, &o.bytes)?.holder,
                None => None,
            };
            Err(LockError::Held {
                env: env.into(),
                project: project.into(),
                holder: Box::new(holder.unwrap_or(Holder {
                    owner: LockOwner::default(),
                    change: String::new(),
                    since: "just now".into(),
                })),
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Releases a lock this process holds. When the lock was broken and taken
/// by someone else meanwhile, it is left alone.
pub async fn release<S: Store>(store: &S, held: &Held) -> Result<(), LockError> {
    match store
        .write(
            &held.key,
            Some(&held.version),
            &encode(&LockRecord::default()),
        )
        .await
    {
        Ok(_) | Err(StoreError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The current holder of `env`/`project`, if any.
pub async fn holder<S: Store>(
    store: &S,
    env: &str,
    project: &str,
) -> Result<Option<(Holder, Version)>, LockError> {
    let key = lock_key(env, project);
    match store.read(&key).await? {
        Some(obj) => Ok(parse(&key, &obj.bytes)?.holder.map(|h| (h, obj.version))),
        None => Ok(None),
    }
}

/// Removes whatever holds `env`/`project` (`phasegate unlock`); returns the
/// holder it removed. The caller journals who and why.
pub async fn force_release<S: Store>(
    store: &S,
    env: &str,
    project: &str,
) -> Result<Option<Holder>, LockError> {
    let key = lock_key(env, project);
    let Some((holder, version)) = self::holder(store, env, project).await? else {
        return Ok(None);
    };
    store
        .write(&key, Some(&version), &encode(&LockRecord::default()))
        .await?;
    Ok(Some(holder))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::RunRef;
    use crate::store::local::LocalStore;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn holder_with(run: Option<u64>, pid: Option<u32>) -> Holder {
        Holder {
            owner: LockOwner {
                run: RunRef {
                    id: run,
                    attempt: None,
                    job: Some("apply".into()),
                },
                actor: "octocat".into(),
                pid,
                host: hostname(),
            },
            change: "CHG-1".into(),
            since: "2026-12-01T10:00:00Z".into(),
        }
    }

    #[test]
    fn a_held_lock_refuses_a_second_owner_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        rt().block_on(async {
            let me = holder_with(Some(1), None);
            let held = acquire(&store, &LocalLiveness, "prod", "app", me.clone())
                .await
                .unwrap();
            let err = acquire(
                &store,
                &LocalLiveness,
                "prod",
                "app",
                holder_with(Some(2), None),
            )
            .await
            .unwrap_err();
            assert!(err.to_string().contains("run 1 (job apply)"), "{err}");
            release(&store, &held).await.unwrap();
            acquire(
                &store,
                &LocalLiveness,
                "prod",
                "app",
                holder_with(Some(2), None),
            )
            .await
            .unwrap();
        });
    }

    #[test]
    fn a_lock_whose_local_process_is_gone_is_broken() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        // A child that has exited and been reaped: its pid is gone.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        rt().block_on(async {
            acquire(
                &store,
                &LocalLiveness,
                "dev",
                "app",
                holder_with(None, Some(pid)),
            )
            .await
            .unwrap();
            let me = holder_with(None, Some(std::process::id()));
            let held = acquire(&store, &LocalLiveness, "dev", "app", me)
                .await
                .unwrap();
            assert_eq!(held.broken.unwrap().owner.pid, Some(pid));
        });
    }

    #[test]
    fn a_workflow_run_lock_is_never_judged_stale_locally() {
        let owner = holder_with(Some(9), Some(1)).owner;
        assert!(!local_owner_gone(&owner));
    }
}
