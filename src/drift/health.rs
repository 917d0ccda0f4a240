//! Health: the environment's declared checks, probed again by the drift
//! run, per project. Pure: which checks a scheduled run probes, what their
//! results mean for the issue (open while one fails or warns) and for the
//! exit code (1 while one fails).

use serde::Serialize;

use crate::config::Check;
use crate::journal::{CheckResult, CheckStatus};

/// One project's checks in one scheduled run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectHealth {
    pub project: String,
    /// The worst result; `pass` when every check passed.
    pub status: CheckStatus,
    pub checks: Vec<CheckResult>,
}

impl ProjectHealth {
    /// A check failed: the run exits 1.
    pub fn failed(&self) -> bool {
        self.count(CheckStatus::Fail) > 0
    }

    /// A check failed or warned: the issue stays open to say so.
    pub fn needs_attention(&self) -> bool {
        self.checks.iter().any(|c| c.status != CheckStatus::Pass)
    }

    pub fn count(&self, status: CheckStatus) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
}

/// The checks a scheduled run probes: every declared one but convergence,
/// which the drift run's own plans already are.
pub fn scheduled(checks: &[Check]) -> Vec<Check> {
    checks
        .iter()
        .filter(|c| !matches!(c, Check::Convergence(_)))
        .cloned()
        .collect()
}

/// The exit code health adds to a drift run: 1 when a check failed (a
/// warning is reported, not failed), whatever `drift.on_drift` says: it
/// speaks of drift, and a failing check is an outage.
pub fn exit_code(health: &[ProjectHealth]) -> i32 {
    i32::from(health.iter().any(ProjectHealth::failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(status: CheckStatus) -> CheckResult {
        CheckResult {
            name: "tls web".into(),
            kind: "tls".into(),
            status,
            evidence: "seen".into(),
            attempts: 1,
            duration_ms: 1,
        }
    }

    fn project(statuses: &[CheckStatus]) -> ProjectHealth {
        let checks: Vec<CheckResult> = statuses.iter().copied().map(result).collect();
        ProjectHealth {
            project: "app".into(),
            status: checks.iter().map(|c| c.status).max().unwrap(),
            checks,
        }
    }

    #[test]
    fn a_warning_keeps_the_issue_open_but_only_a_failure_exits_one() {
        let warn = project(&[CheckStatus::Pass, CheckStatus::Warn]);
        assert!(warn.needs_attention() && !warn.failed());
        assert_eq!(exit_code(std::slice::from_ref(&warn)), 0);
        let fail = project(&[CheckStatus::Fail, CheckStatus::Warn]);
        assert!(fail.failed());
        assert_eq!(exit_code(&[warn, fail]), 1);
        let pass = project(&[CheckStatus::Pass]);
        assert!(!pass.needs_attention());
        assert_eq!(exit_code(&[pass]), 0);
    }

    #[test]
    fn convergence_is_not_probed_on_schedule() {
        let checks: Vec<Check> = serde_json::from_value(serde_json::json!([
            {"kind": "convergence"},
            {"kind": "tls", "host": "example.com"},
            {"kind": "output", "output": "url"}
        ]))
        .unwrap();
        let kinds: Vec<&str> = scheduled(&checks).iter().map(Check::kind).collect();
        assert_eq!(kinds, ["tls", "output"]);
    }
}
