//! A scripted engine for tests: returns canned plan JSON and records calls.

use std::path::Path;
use std::sync::Mutex;

use super::{EngineVersion, IacEngine, IacError, PlanOutcome, PlanRequest};

#[derive(Debug, Default)]
pub struct FakeEngine {
    /// `show -json` output, returned for every project.
    pub plan_json: String,
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
