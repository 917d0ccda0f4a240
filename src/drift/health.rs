//! Health: the environment's declared checks, probed again by the drift
//! run. Pure: which checks a scheduled run probes, which project's issue
//! carries them, what their results mean for the issue (open while one
//! fails or warns) and for the exit code (1 while one fails).
//!
//! The environment-wide kinds (http, tls, dns, command) belong to no
//! project, and drift issues are per project: they are reported in one
//! issue only, the one of the environment's first project in the config's
//! dependency order (the anchor), so one outage opens one issue whichever
//! projects the environment holds. `output` checks go to their project's.

use serde::Serialize;

use crate::config::{Check, Config};
use crate::journal::{CheckResult, CheckStatus};

/// One project's checks in one scheduled run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectHealth {
    pub project: String,
    /// The worst result; `pass` when every check passed.
    pub status: CheckStatus,
    /// This project's issue carries the environment-wide checks.
    pub environment_checks: bool,
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

/// The project whose issue carries the environment-wide checks: the
/// environment's first, whichever projects one run was asked for.
pub fn anchor(config: &Config, environment: &str) -> Option<String> {
    crate::config::resolve_phases(config, None)
        .into_iter()
        .find(|p| p.environment.name == environment)
        .and_then(|p| p.projects.first().map(|p| p.name.clone()))
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
            environment_checks: true,
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
    fn the_environment_checks_go_to_its_first_project_in_dependency_order() {
        let cfg: Config = serde_json::from_value(serde_json::json!({
            "version": 1,
            "environments": [{"name": "dev"}, {"name": "prod"}],
            "projects": [
                {"name": "app", "dir": "app", "depends_on": ["network"]},
                {"name": "network", "dir": "network"},
                {"name": "edge", "dir": "edge", "environments": ["prod"]}
            ]
        }))
        .unwrap();
        assert_eq!(anchor(&cfg, "dev").as_deref(), Some("network"));
        assert_eq!(anchor(&cfg, "staging"), None);
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
