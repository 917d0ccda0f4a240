//! A scripted [`IacEngine`] for tests that need no real Terraform: returns
//! canned plan JSON and records the calls made. It lives here, not in the
//! library, so no test double ships in the binary; the tests below pin the
//! order `plan_project` drives an engine in.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use phasegate::iac::{plan_project, EngineVersion, IacEngine, IacError, PlanOutcome, PlanRequest};

#[derive(Debug, Default)]
pub struct FakeEngine {
    /// `show -json` output, returned for every project.
    pub plan_json: String,
    /// `show -json` of the state (no plan file), returned for every project.
    pub state_json: String,
    pub outcome: Option<PlanOutcome>,
    /// When set, `plan` fails with this stderr.
    pub fail_plan: Option<String>,
    calls: Mutex<Vec<String>>,
}

impl FakeEngine {
    pub fn with_plan(plan_json: impl Into<String>) -> Self {
        FakeEngine {
            plan_json: plan_json.into(),
            outcome: Some(PlanOutcome::Changes),
            ..Self::default()
        }
    }

    /// A fake whose `show -json` of the state returns `state_json`.
    pub fn with_state(state_json: impl Into<String>) -> Self {
        FakeEngine {
            state_json: state_json.into(),
            ..Self::default()
        }
    }

    /// The calls made so far, as `verb dir`.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record(&self, verb: &str, dir: &Path) {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!("{verb} {}", dir.display()));
    }
}

impl IacEngine for FakeEngine {
    fn version(&self, dir: &Path) -> Result<EngineVersion, IacError> {
        self.record("version", dir);
        Ok(EngineVersion {
            version: "1.0.3".into(),
            platform: Some("linux_amd64".into()),
        })
    }
    fn init(&self, req: &PlanRequest) -> Result<(), IacError> {
        self.record("init", &req.dir);
        Ok(())
    }
    fn select_workspace(&self, req: &PlanRequest, name: &str) -> Result<(), IacError> {
        self.record(&format!("workspace {name}"), &req.dir);
        Ok(())
    }
    fn plan(&self, req: &PlanRequest) -> Result<PlanOutcome, IacError> {
        self.record("plan", &req.dir);
        if let Some(stderr) = &self.fail_plan {
            return Err(IacError::Failed {
                command: "fake plan".into(),
                dir: req.dir.clone(),
                code: 1,
                stderr_tail: stderr.clone(),
            });
        }
        Ok(self.outcome.unwrap_or(PlanOutcome::Changes))
    }
    fn show_json(&self, req: &PlanRequest) -> Result<String, IacError> {
        self.record("show", &req.dir);
        Ok(self.plan_json.clone())
    }
    fn show_state_json(&self, req: &PlanRequest) -> Result<String, IacError> {
        self.record("show-state", &req.dir);
        Ok(self.state_json.clone())
    }
    fn apply(&self, req: &PlanRequest) -> Result<(), IacError> {
        self.record("apply", &req.dir);
        Ok(())
    }
    fn state_pull(&self, req: &PlanRequest) -> Result<String, IacError> {
        self.record("state-pull", &req.dir);
        Ok("{}".into())
    }
    fn output_json(&self, req: &PlanRequest) -> Result<String, IacError> {
        self.record("output", &req.dir);
        Ok("{}".into())
    }
}

fn request(workspace: Option<&str>) -> PlanRequest {
    PlanRequest {
        dir: PathBuf::from("infra/network"),
        workspace: workspace.map(str::to_owned),
        plan_file: PathBuf::from("network.tfplan"),
        ..PlanRequest::default()
    }
}

#[test]
fn plan_project_inits_selects_the_workspace_plans_then_shows() {
    let engine = FakeEngine::with_plan(r#"{"format_version":"1.0"}"#);
    let (outcome, json) = plan_project(&engine, &request(Some("prod"))).unwrap();
    assert_eq!(outcome, PlanOutcome::Changes);
    assert_eq!(json, r#"{"format_version":"1.0"}"#);
    assert_eq!(
        engine.calls(),
        [
            "init infra/network",
            "workspace prod infra/network",
            "plan infra/network",
            "show infra/network"
        ]
    );
}

#[test]
fn plan_project_without_a_workspace_selects_none() {
    let engine = FakeEngine {
        outcome: Some(PlanOutcome::NoChanges),
        ..FakeEngine::default()
    };
    let (outcome, _) = plan_project(&engine, &request(None)).unwrap();
    assert_eq!(outcome, PlanOutcome::NoChanges);
    assert!(!engine.calls().iter().any(|c| c.starts_with("workspace")));
}

#[test]
fn a_failed_plan_stops_before_show_and_keeps_the_stderr() {
    let engine = FakeEngine {
        fail_plan: Some("Error: Invalid reference".into()),
        ..FakeEngine::with_plan("{}")
    };
    let err = plan_project(&engine, &request(None)).unwrap_err();
    assert!(err.to_string().contains("Invalid reference"), "{err}");
    assert_eq!(engine.calls(), ["init infra/network", "plan infra/network"]);
}
