//! When to try a GitHub call again and how long to wait: exponential backoff
//! with jitter, bounded in attempts and total time, deferring to the server's
//! `retry-after` and rate-limit reset.
//!
//! Only calls that are safe to repeat go through [`run`]: reads, PATCH/PUT/
//! DELETE of a known id, and writes GitHub refused before doing anything (rate
//! limits). A POST whose outcome is unknown is not resent here; the caller
//! looks for what it wrote before writing again.

use std::future::Future;
use std::time::{Duration, Instant};

use rand::Rng;

use super::GithubError;

/// Bounds on retrying one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first backoff; doubled each time.
    pub base_delay: Duration,
    /// No single wait is longer than this.
    pub max_delay: Duration,
    /// Give up rather than wait past this much time spent on one call.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            max_total: Duration::from_secs(180),
        }
    }
}

impl RetryPolicy {
    /// A fast policy for tests: same shape, millisecond waits.
    pub fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(20),
            max_total: Duration::from_secs(10),
        }
    }

    /// The wait before attempt `attempt + 1` (0-based `attempt` just failed):
    /// the server's hint when given, else `base * 2^attempt` with full jitter
    /// over its upper half; never above `max_delay`.
    pub fn delay(&self, attempt: u32, hint: Option<Duration>) -> Duration {
        let wait = match hint {
            Some(h) => h,
            None => {
                let exp = self.base_delay.saturating_mul(1u32 << attempt.min(16));
                let half = exp / 2;
                let jitter = rand::rng().random_range(0..=half.as_millis().max(1) as u64);
                half + Duration::from_millis(jitter)
            }
        };
        wait.min(self.max_delay)
    }
}

/// Runs `call` until it succeeds, fails for good, or the policy runs out.
pub async fn run<T, F, Fut>(policy: &RetryPolicy, call: F) -> Result<T, GithubError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, GithubError>>,
{
    run_if(policy, GithubError::retry_hint, call).await
}

/// [`run`], retrying only errors for which `retryable` gives a wait hint.
pub async fn run_if<T, F, Fut, R>(
    policy: &RetryPolicy,
    retryable: R,
    mut call: F,
) -> Result<T, GithubError>
where
    R: Fn(&GithubError) -> Option<Option<Duration>>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, GithubError>>,
{
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        let err = match call().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let Some(hint) = retryable(&err) else {
            return Err(err);
        };
        attempt += 1;
        let wait = policy.delay(attempt - 1, hint);
        if attempt >= policy.max_attempts || started.elapsed() + wait > policy.max_total {
            return Err(GithubError::Exhausted {
                attempts: attempt,
                last: Box::new(err),
            });
        }
        tracing::warn!(
            attempt,
            wait_ms = wait.as_millis() as u64,
            "GitHub call failed, retrying: {err}"
        );
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn transient() -> GithubError {
        GithubError::Api {
            action: "read".into(),
            status: 502,
            message: String::new(),
            permission: None,
            transient: true,
            retry_after: None,
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            max_total: Duration::from_secs(10),
        };
        let d0 = p.delay(0, None);
        assert!(
            d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100),
            "{d0:?}"
        );
        let d3 = p.delay(3, None);
        assert!(
            d3 >= Duration::from_millis(400) && d3 <= Duration::from_millis(800),
            "{d3:?}"
        );
        assert_eq!(p.delay(9, None), Duration::from_millis(1000));
        assert_eq!(
            p.delay(0, Some(Duration::from_millis(7))),
            Duration::from_millis(7)
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn transient_failures_are_retried_until_success() {
        let calls = Cell::new(0);
        let r = run(&RetryPolicy::fast(), || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(transient())
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r.unwrap(), 3);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn retries_stop_at_the_attempt_bound() {
        let calls = Cell::new(0);
        let r: Result<(), _> = run(&RetryPolicy::fast(), || {
            calls.set(calls.get() + 1);
            async { Err(transient()) }
        })
        .await;
        assert!(matches!(r, Err(GithubError::Exhausted { attempts: 5, .. })));
        assert_eq!(calls.get(), 5);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_wait_longer_than_the_time_budget_gives_up_at_once() {
        let calls = Cell::new(0);
        let r: Result<(), _> = run(&RetryPolicy::fast(), || {
            calls.set(calls.get() + 1);
            async {
                Err(GithubError::Transport {
                    action: "read".into(),
                    detail: "reset".into(),
                })
            }
        })
        .await;
        assert!(r.is_err());
        let mut p = RetryPolicy::fast();
        p.max_delay = Duration::from_secs(3600);
        let r: Result<(), _> = run(&p, || async {
            Err(GithubError::Api {
                action: "read".into(),
                status: 403,
                message: String::new(),
                permission: None,
                transient: true,
                retry_after: Some(Duration::from_secs(600)),
            })
        })
        .await;
        assert!(matches!(r, Err(GithubError::Exhausted { attempts: 1, .. })));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn permanent_failures_are_not_retried() {
        let calls = Cell::new(0);
        let r: Result<(), _> = run(&RetryPolicy::fast(), || {
            calls.set(calls.get() + 1);
            async { Err(GithubError::NoToken) }
        })
        .await;
        assert!(matches!(r, Err(GithubError::NoToken)));
        assert_eq!(calls.get(), 1);
    }
}
