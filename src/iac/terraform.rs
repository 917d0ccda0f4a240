//! The real engine: `terraform`, `tofu` or `terragrunt` on the command line.
//! The three share Terraform's command set for everything phasegate runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::process::{resolve, CommandSpec};
use super::{ApplyRun, EngineVersion, IacEngine, IacError, PlanOutcome, PlanRequest, StartedApply};
use crate::config::{EngineConfig, EngineKind};

/// Default time limit for one engine command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone)]
pub struct CliEngine {
    pub kind: EngineKind,
    pub binary: PathBuf,
    pub timeout: Duration,
}

impl CliEngine {
    /// Builds the engine from config; `base` resolves a relative binary path.
    pub fn from_config(cfg: &EngineConfig, base: &Path) -> Self {
        let binary = match &cfg.binary {
            Some(b) if b.components().count() > 1 => resolve(base, b),
            Some(b) => b.clone(),
            None => PathBuf::from(super::engines::default_binary(cfg.kind)),
        };
        CliEngine {
            kind: cfg.kind,
            binary,
            timeout: cfg
                .timeout_seconds
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_TIMEOUT),
        }
    }

    fn spec(&self, req: &PlanRequest, args: &[&str], log_stdout: bool) -> CommandSpec {
        CommandSpec {
            program: self.binary.clone(),
            args: args.iter().map(|s| s.to_string()).collect(),
            dir: req.dir.clone(),
            env: super::engines::with_engine_env(self.kind, &req.env),
            timeout: self.timeout,
            log_stdout,
            clear_env: false,
        }
    }

    /// `plan -detailed-exitcode -out`, with `mode` flags (`-refresh-only`).
    fn plan_mode(&self, req: &PlanRequest, mode: &[&str]) -> Result<PlanOutcome, IacError> {
        let out_arg = format!("-out={}", req.plan_file.display());
        let var_files: Vec<String> = req
            .var_files
            .iter()
            .map(|f| format!("-var-file={}", f.display()))
            .collect();
        let mut args = vec![
            "plan",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            out_arg.as_str(),
        ];
        args.extend_from_slice(mode);
        args.extend(var_files.iter().map(String::as_str));
        let out = self.spec(req, &args, true).run_expecting(&[0, 2])?;
        Ok(if out.code == 2 {
            PlanOutcome::Changes
        } else {
            PlanOutcome::NoChanges
        })
    }
}

impl IacEngine for CliEngine {
    fn version(&self, dir: &Path) -> Result<EngineVersion, IacError> {
        let req = PlanRequest {
            dir: dir.to_path_buf(),
            ..PlanRequest::default()
        };
        let spec = self.spec(&req, &["version", "-json"], false);
        let out = spec.run_expecting(&[0])?;
        let bad = |message: String| IacError::BadOutput {
            command: spec.display(),
            dir: dir.to_path_buf(),
            message,
        };
        let v: serde_json::Value =
            serde_json::from_str(&out.stdout).map_err(|e| bad(e.to_string()))?;
        let version = v["terraform_version"]
            .as_str()
            .ok_or_else(|| bad("no terraform_version field".into()))?
            .to_string();
        Ok(EngineVersion {
            version,
            platform: v["platform"].as_str().map(str::to_string),
        })
    }

    fn init(&self, req: &PlanRequest) -> Result<(), IacError> {
        let backend: Vec<String> = req
            .backend_config
            .iter()
            .map(|b| format!("-backend-config={b}"))
            .collect();
        let mut args = vec!["init", "-input=false", "-no-color"];
        args.extend(backend.iter().map(String::as_str));
        // One directory planned against one backend per environment: without
        // -reconfigure, Terraform takes the next environment's backend
        // settings for a migration of the last one's state and refuses.
        if !backend.is_empty() {
            args.push("-reconfigure");
        }
        self.spec(req, &args, true).run_expecting(&[0])?;
        Ok(())
    }

    fn select_workspace(&self, req: &PlanRequest, name: &str) -> Result<(), IacError> {
        let select = self.spec(req, &["workspace", "select", "-no-color", name], true);
        if select.run()?.code == 0 {
            return Ok(());
        }
        self.spec(req, &["workspace", "new", "-no-color", name], true)
            .run_expecting(&[0])?;
        Ok(())
    }

    fn plan(&self, req: &PlanRequest) -> Result<PlanOutcome, IacError> {
        self.plan_mode(req, &[])
    }

    fn plan_refresh_only(&self, req: &PlanRequest) -> Result<PlanOutcome, IacError> {
        self.plan_mode(req, &["-refresh-only"])
    }

    fn show_json(&self, req: &PlanRequest) -> Result<String, IacError> {
        let file = req.plan_file.display().to_string();
        let out = self
            .spec(req, &["show", "-json", "-no-color", &file], false)
            .run_expecting(&[0])?;
        Ok(out.stdout)
    }

    fn show_state_json(&self, req: &PlanRequest) -> Result<String, IacError> {
        let out = self
            .spec(req, &["show", "-json", "-no-color"], false)
            .run_expecting(&[0])?;
        Ok(out.stdout)
    }

    fn apply(&self, req: &PlanRequest) -> Result<(), IacError> {
        // Only ever a saved plan file: applying it needs no approval flag and
        // cannot re-plan.
        let file = req.plan_file.display().to_string();
        self.spec(req, &["apply", "-input=false", "-no-color", &file], true)
            .run_expecting(&[0])?;
        Ok(())
    }

    fn apply_json(&self, req: &PlanRequest) -> Result<ApplyRun, IacError> {
        self.start_apply_json(req)?.wait()
    }

    fn start_apply_json(&self, req: &PlanRequest) -> Result<StartedApply, IacError> {
        // The saved plan only, as in `apply`; the stream goes unlogged since
        // its diagnostics may quote values.
        let file = req.plan_file.display().to_string();
        let spec = self.spec(req, &["apply", "-json", "-input=false", &file], false);
        Ok(StartedApply::Running(spec.start()?))
    }

    fn state_pull(&self, req: &PlanRequest) -> Result<String, IacError> {
        Ok(self
            .spec(req, &["state", "pull"], false)
            .run_expecting(&[0])?
            .stdout)
    }

    fn output_json(&self, req: &PlanRequest) -> Result<String, IacError> {
        Ok(self
            .spec(req, &["output", "-json", "-no-color"], false)
            .run_expecting(&[0])?
            .stdout)
    }

    fn state_push(&self, req: &PlanRequest, file: &Path) -> Result<(), IacError> {
        let file = file.display().to_string();
        self.spec(req, &["state", "push", "-no-color", &file], false)
            .run_expecting(&[0])?;
        Ok(())
    }
}
