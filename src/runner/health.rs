//! Scheduled health: the drift run probes the environment's declared checks
//! again, so a dead endpoint, a wrong DNS answer or a certificate near its
//! end is reported between changes, in the same issue as drift. The
//! environment-wide kinds (http, tls, dns, command) run once, for the
//! environment's anchor project (`drift::health::anchor`), when the run
//! includes it; `output` checks run per project. Convergence is left out:
//! the drift run's own plans already are it.

use crate::config::{Check, ResolvedPhase};
use crate::drift::health::scheduled;
pub use crate::drift::health::ProjectHealth;
use crate::error::Result;
use crate::iac::IacEngine;
use crate::journal::{CheckResult, CheckStatus};
use crate::runner::verify::ProjectEngine;
use crate::runner::workspace::Workspace;
use crate::verify::{self, ProjectIac};

/// The health of an environment's projects, and the engine errors met
/// reading outputs (the run then exits 3).
#[derive(Debug, Default)]
pub struct Health {
    /// One per project, in the drift run's order; empty when the
    /// environment declares no check a scheduled run probes.
    pub projects: Vec<ProjectHealth>,
    pub engine_failures: Vec<String>,
}

impl Health {
    /// The project's health, when the environment declares checks.
    pub fn of(&self, project: &str) -> Option<&ProjectHealth> {
        self.projects.iter().find(|p| p.project == project)
    }
}

/// Probes the environment's checks for the projects of `phase`; the
/// environment-wide ones only when `anchor` is among them, and for it.
pub fn probe(
    ws: &Workspace,
    phase: &ResolvedPhase,
    engine: &(dyn IacEngine + Sync),
    anchor: Option<&str>,
) -> Result<Health> {
    let checks = scheduled(&phase.checks);
    if checks.is_empty() {
        return Ok(Health::default());
    }
    let rt = crate::runner::forge::runtime()?;
    let anchored = |p: &str| anchor == Some(p);
    let env_results = if phase.projects.iter().any(|p| anchored(&p.name)) {
        rt.block_on(environment_checks(&checks, ws))
    } else {
        vec![]
    };
    let iac = EngineOutputs(ProjectEngine::new(ws, phase, engine));
    let mut projects = vec![];
    for project in &phase.projects {
        let carries = anchored(&project.name);
        let mut results = if carries { env_results.clone() } else { vec![] };
        // Never empty here, so no implicit convergence check stands in.
        let own: Vec<Check> = checks.iter().filter(|c| c.per_project()).cloned().collect();
        if !own.is_empty() {
            results.extend(rt.block_on(verify::run_project_checks(&own, &project.name, &iac)));
        }
        if results.is_empty() {
            continue;
        }
        projects.push(ProjectHealth {
            project: project.name.clone(),
            status: verify::overall(&results),
            environment_checks: carries && !env_results.is_empty(),
            checks: results,
        });
    }
    let engine_failures = iac
        .0
        .failures
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    Ok(Health {
        projects,
        engine_failures,
    })
}

/// The environment-wide checks one by one, so that one check that cannot be
/// set up (an unreadable CA bundle) is reported as failing without hiding
/// the others: a scheduled run has no one at the keyboard to fix it first.
async fn environment_checks(checks: &[Check], ws: &Workspace) -> Vec<CheckResult> {
    let mut out = vec![];
    for check in checks.iter().filter(|c| !c.per_project()) {
        match verify::run_environment_checks(std::slice::from_ref(check), &ws.base_dir).await {
            Ok(results) => out.extend(results),
            Err(e) => out.push(CheckResult {
                name: crate::redact::global().apply(&check.display_name()),
                kind: check.kind().to_string(),
                status: CheckStatus::Fail,
                evidence: crate::redact::global()
                    .apply(&format!("the check cannot be set up: {e}")),
                attempts: 0,
                duration_ms: 0,
            }),
        }
    }
    out
}

/// `terraform output -json` of each project, for its `output` checks.
struct EngineOutputs<'a>(ProjectEngine<'a>);

impl ProjectIac for EngineOutputs<'_> {
    fn outputs(&self, project: &str) -> std::result::Result<serde_json::Value, String> {
        self.0.outputs(project)
    }

    fn converged(&self, _project: &str) -> std::result::Result<bool, String> {
        Err("convergence is not probed by the scheduled run: its drift plans are that check".into())
    }
}
