//! What is left of the token's API budget, as GitHub's answers say it.
//!
//! Every answer carries `x-ratelimit-remaining` and `x-ratelimit-limit`
//! (the primary, hourly budget: 1,000 for a repository's `GITHUB_TOKEN`,
//! 15,000 on Enterprise Cloud, 5,000 and up for a GitHub App); a secondary
//! limit (80 content-creating requests a minute, 500 an hour) shows only as
//! a 403 or 429 with `retry-after`. [`Budget`] keeps the last figures seen,
//! and [`BudgetState::low`] says when comment updates should give way: the
//! journal is always written, the comment can be written by a later job.

use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderMap;

/// Unknown: no answer has said yet.
const UNKNOWN: u64 = u64::MAX;

/// The budget as last seen. Shared by every call of one client.
#[derive(Debug)]
pub struct Budget {
    remaining: AtomicU64,
    limit: AtomicU64,
    /// Answers that were a secondary rate limit (403/429 with `retry-after`).
    secondary: AtomicU64,
    /// Until when (Unix seconds) the last one asked to wait, plus a minute.
    secondary_until: AtomicU64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            remaining: AtomicU64::new(UNKNOWN),
            limit: AtomicU64::new(UNKNOWN),
            secondary: AtomicU64::new(0),
            secondary_until: AtomicU64::new(0),
        }
    }
}

/// A snapshot of [`Budget`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BudgetState {
    pub remaining: Option<u64>,
    pub limit: Option<u64>,
    /// Secondary-limit answers this client got.
    pub secondary_hits: u64,
    /// Whether the last one's `retry-after` (plus a minute) has not passed.
    pub secondary_recent: bool,
}

impl BudgetState {
    /// Whether comment updates should be coalesced or deferred: fewer than
    /// a tenth of the hour's requests (and at most 100) remain, or GitHub
    /// answered with a secondary limit within its `retry-after` and a
    /// minute. Unknown is not low.
    pub fn low(&self) -> bool {
        let primary = match (self.remaining, self.limit) {
            (Some(r), Some(l)) => r < (l / 10).clamp(1, 100),
            (Some(r), None) => r < 100,
            _ => false,
        };
        primary || self.secondary_recent
    }

    /// Why it is low, in words for the job summary.
    pub fn describe(&self) -> String {
        let mut parts = vec![];
        if let (Some(r), Some(l)) = (self.remaining, self.limit) {
            parts.push(format!("{r} of the token's {l} requests this hour remain"));
        }
        if self.secondary_hits > 0 {
            parts.push(format!(
                "GitHub answered {} request(s) with a secondary rate limit",
                self.secondary_hits
            ));
        }
        if parts.is_empty() {
            "the budget is unknown".into()
        } else {
            parts.join("; ")
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn header(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

impl Budget {
    /// Takes in one answer's status and headers.
    pub fn observe(&self, status: u16, headers: &HeaderMap) {
        if let Some(r) = header(headers, "x-ratelimit-remaining") {
            self.remaining.store(r, Ordering::Relaxed);
        }
        if let Some(l) = header(headers, "x-ratelimit-limit") {
            self.limit.store(l, Ordering::Relaxed);
        }
        let secondary = matches!(status, 403 | 429)
            && headers.contains_key("retry-after")
            && header(headers, "x-ratelimit-remaining") != Some(0);
        if secondary {
            self.secondary.fetch_add(1, Ordering::Relaxed);
            let wait = header(headers, "retry-after").unwrap_or(60);
            self.secondary_until
                .fetch_max(now() + wait + 60, Ordering::Relaxed);
        }
    }

    pub fn state(&self) -> BudgetState {
        let known = |v: u64| (v != UNKNOWN).then_some(v);
        BudgetState {
            remaining: known(self.remaining.load(Ordering::Relaxed)),
            limit: known(self.limit.load(Ordering::Relaxed)),
            secondary_hits: self.secondary.load(Ordering::Relaxed),
            secondary_recent: now() < self.secondary_until.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn low_once_a_tenth_of_the_hour_remains_or_a_secondary_limit_answered() {
        let b = Budget::default();
        assert!(!b.state().low(), "unknown is not low");
        b.observe(
            200,
            &headers(&[
                ("x-ratelimit-remaining", "400"),
                ("x-ratelimit-limit", "1000"),
            ]),
        );
        assert!(!b.state().low());
        b.observe(
            200,
            &headers(&[
                ("x-ratelimit-remaining", "99"),
                ("x-ratelimit-limit", "1000"),
            ]),
        );
        assert!(b.state().low());
        assert!(b.state().describe().contains("99 of the token's 1000"));
        // A large budget keeps a reserve of 100, not a tenth.
        b.observe(
            200,
            &headers(&[
                ("x-ratelimit-remaining", "500"),
                ("x-ratelimit-limit", "15000"),
            ]),
        );
        assert!(!b.state().low());
        b.observe(403, &headers(&[("retry-after", "60")]));
        assert!(b.state().low(), "a secondary limit makes it low");
        assert!(b.state().describe().contains("secondary rate limit"));
        let waited = BudgetState {
            secondary_recent: false,
            ..b.state()
        };
        assert!(
            !waited.low(),
            "once its wait and a minute have passed, it is not"
        );
    }

    #[test]
    fn a_primary_limit_refusal_is_not_counted_as_secondary() {
        let b = Budget::default();
        b.observe(
            403,
            &headers(&[("x-ratelimit-remaining", "0"), ("retry-after", "5")]),
        );
        assert_eq!(b.state().secondary_hits, 0);
        assert!(b.state().low(), "nothing remains");
    }
}
