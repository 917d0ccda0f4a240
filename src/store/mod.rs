//! Where the journal and the locks live: one narrow compare-and-swap seam.
//!
//! A store holds small objects under slash-separated keys
//! (`changes/CHG-1/journal.jsonl`, `locks/prod/app.json`). Every write names
//! the version it replaces, so two jobs that race never lose each other's
//! work: the loser gets [`StoreError::Conflict`], re-reads and tries again
//! ([`update`]). Backends: [`local::LocalStore`] (a directory, the default
//! outside GitHub Actions) and the repository itself through the Git Data API
//! ([`github::GitRefStore`]); [`any::AnyStore`] is whichever a command chose.

pub mod any;
pub mod github;
pub mod local;
pub mod lock;
pub mod runs;

use std::future::Future;
use std::time::Duration;

/// An opaque token naming one version of one object. Backends choose what it
/// holds (a content hash, a commit SHA); callers only hand it back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(pub String);

/// One object as read, with the version a write must name to replace it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub bytes: Vec<u8>,
    pub version: Version,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Someone else wrote `key` since it was read. Re-read and try again.
    #[error("{key} changed since it was read (another job wrote it first)")]
    Conflict { key: String },
    /// The key cannot name an object: empty, absolute, or with `..`.
    #[error("invalid store key `{0}`: keys are relative, slash-separated names without `..`")]
    InvalidKey(String),
    /// Compare-and-swap kept losing: too many concurrent writers.
    #[error("{key}: gave up after {attempts} attempts, every one lost to a concurrent writer")]
    Contended { key: String, attempts: u32 },
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The remote backend failed (network, API); the message says how.
    #[error("{0}")]
    Remote(String),
    /// An append-only object was rewritten behind the store's back (a ref
    /// reset or force-pushed); the message says what and how to recover.
    #[error("{0}")]
    Rewritten(String),
}

impl From<StoreError> for crate::Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidKey(_) => crate::Error::Input(e.to_string()),
            StoreError::Rewritten(_) => crate::Error::Refused(e.to_string()),
            _ => crate::Error::External(e.to_string()),
        }
    }
}

/// The compare-and-swap seam. Native `async fn`: callers are generic over it,
/// as they are over `Forge`.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// The object at `key` with its version, or `None` when there is none.
    async fn read(&self, key: &str) -> Result<Option<Object>, StoreError>;
    /// Writes `bytes` at `key` only when its current version is `expected`
    /// (`None`: only when no object exists). Returns the new version, or
    /// [`StoreError::Conflict`] when another writer got there first.
    async fn write(
        &self,
        key: &str,
        expected: Option<&Version>,
        bytes: &[u8],
    ) -> Result<Version, StoreError>;
    /// Every key that starts with `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
}

/// How hard [`update`] tries before giving up on a contended key.
#[derive(Debug, Clone, Copy)]
pub struct Contention {
    pub attempts: u32,
    /// The first ceiling of the random wait; it doubles up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for Contention {
    /// Sized for a matrix of 50 jobs appending to one journal at once: the
    /// waits are drawn at random below a ceiling that doubles (full
    /// jitter), so the losers of one round spread out over the next instead
    /// of colliding again; about three minutes of losing before giving up.
    fn default() -> Self {
        Contention {
            attempts: 60,
            backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(4_000),
        }
    }
}

/// Read-modify-write with compare-and-swap: `change` gets the current bytes
/// (`None` when the object does not exist) and returns the new ones; on a
/// conflict the object is re-read and `change` runs again. `change` must be a
/// pure function of what it is given, since it may run more than once.
pub async fn update<S, F, E>(
    store: &S,
    key: &str,
    contention: Contention,
    mut change: F,
) -> Result<Result<Version, E>, StoreError>
where
    S: Store,
    F: FnMut(Option<&[u8]>) -> Result<Vec<u8>, E>,
{
    let mut backoff = contention.backoff;
    for attempt in 1..=contention.attempts.max(1) {
        let current = store.read(key).await?;
        let next = match change(current.as_ref().map(|o| o.bytes.as_slice())) {
            Ok(bytes) => bytes,
            Err(e) => return Ok(Err(e)),
        };
        match store
            .write(key, current.as_ref().map(|o| &o.version), &next)
            .await
        {
            Ok(v) => return Ok(Ok(v)),
            Err(StoreError::Conflict { .. }) if attempt < contention.attempts => {
                sleep_with_jitter(backoff).await;
                backoff = (backoff * 2).min(contention.max_backoff);
            }
            Err(StoreError::Conflict { .. }) => break,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Contended {
        key: key.to_string(),
        attempts: contention.attempts,
    })
}

/// Full jitter: anywhere from nothing to `ceiling`.
fn sleep_with_jitter(ceiling: Duration) -> impl Future<Output = ()> {
    use rand::Rng;
    let wait = rand::rng().random_range(0..=ceiling.as_millis() as u64);
    tokio::time::sleep(Duration::from_millis(wait))
}

/// Checks that `key` is a relative, slash-separated name with no `.` or `..`
/// part, so no backend can be steered outside its root.
pub fn check_key(key: &str) -> Result<(), StoreError> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.contains('\\')
        || key
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        Err(StoreError::InvalidKey(key.to_string()))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_leave_the_store() {
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "./a", "a\\b", "a/"] {
            assert!(check_key(bad).is_err(), "{bad:?} was accepted");
        }
        check_key("changes/CHG-1/journal.jsonl").unwrap();
    }
}
