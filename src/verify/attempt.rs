//! Attempts with an interval: a check that fails is tried again until it
//! passes or its attempts run out. A pass after retries is a PASS (not a
//! WARN): eventual consistency is expected after an apply, and the number
//! of attempts is recorded with the result for anyone who wants to judge it.

use std::time::Instant;

use super::{status_word, Probe};
use crate::config::checks::AttemptPolicy;
use crate::journal::{CheckResult, CheckStatus};

/// Runs `probe` under `policy` and records the last attempt's verdict with
/// its evidence, redacted. A PASS without evidence is turned into a FAIL.
pub async fn run<P: Probe>(
    name: &str,
    kind: &str,
    probe: &P,
    policy: AttemptPolicy,
) -> CheckResult {
    let started = Instant::now();
    let attempts = policy.attempts.max(1);
    let mut n = 0;
    let mut first_failure = None;
    let last = loop {
        n += 1;
        let a = probe.attempt(policy.timeout).await;
        if a.status != CheckStatus::Fail || n >= attempts {
            break a;
        }
        first_failure.get_or_insert_with(|| a.evidence.clone());
        tokio::time::sleep(policy.interval).await;
    };
    let mut status = last.status;
    let mut evidence = last.evidence;
    if evidence.trim().is_empty() {
        status = CheckStatus::Fail;
        evidence = "the check produced no evidence".into();
    }
    if n > 1 {
        evidence = match (&first_failure, status) {
            (Some(first), CheckStatus::Fail) => format!(
                "{evidence} (after {n} attempts every {:?}; first: {first})",
                policy.interval
            ),
            (Some(first), s) => format!(
                "{evidence} ({} on attempt {n} of {attempts}; earlier: {first})",
                status_word(s)
            ),
            (None, _) => evidence,
        };
    }
    CheckResult {
        name: crate::redact::global().apply(name),
        kind: kind.to_string(),
        status,
        evidence: crate::redact::global().apply(&evidence),
        attempts: n,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}
