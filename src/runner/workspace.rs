//! Loading what a command works on: the config (found or given), the change
//! plan, and the phase the command was asked for.

use std::path::{Path, PathBuf};

use crate::cli::{GlobalArgs, PhaseSelector};
use crate::config::{self, ChangePlan, Config, Environment, Project, ResolvedPhase};
use crate::error::{Error, Result};

/// The config and change plan of one invocation.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Where the config file lives; project dirs are relative to it.
    pub base_dir: PathBuf,
    pub config_path: Option<PathBuf>,
    pub config: Option<Config>,
    pub change: Option<ChangePlan>,
}

impl Workspace {
    /// Loads the config given with `--config`, else the one discovered from the
    /// current directory. When `required` is false a missing config is fine.
    pub fn load(global: &GlobalArgs, required: bool) -> Result<Self> {
        let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
        let config_path = match &global.config {
            Some(p) => Some(p.clone()),
            None => config::discover_config(&cwd),
        };
        let (config, change) = match &config_path {
            Some(p) => {
                let (cfg, change) =
                    config::load_checked(p, global.change.as_deref(), &crate::scan::declared)?;
                (Some(cfg), change)
            }
            None if required => {
                return Err(Error::Input(format!(
                    "no phasegate.yml found in {} or at the git root; pass --config FILE",
                    cwd.display()
                )))
            }
            None => {
                let change = match &global.change {
                    Some(p) => Some(config::load_change_plan(p)?),
                    None => None,
                };
                (None, change)
            }
        };
        let base_dir = config_path
            .as_deref()
            .and_then(Path::parent)
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(&cwd)
            .to_path_buf();
        Ok(Workspace {
            base_dir,
            config_path,
            config,
            change,
        })
    }

    /// The config and its file, for a workspace loaded with the config
    /// required.
    pub fn required_config(&self) -> (&Config, &Path) {
        (
            self.config.as_ref().expect("required config is loaded"),
            self.config_path
                .as_deref()
                .expect("required config has a path"),
        )
    }

    pub fn change_id(&self) -> Option<&str> {
        self.change.as_ref().map(|c| c.id.as_str())
    }

    /// The phase selected by `--phase`/`--env`/`--project`.
    pub fn select(&self, select: &PhaseSelector) -> Result<Option<ResolvedPhase>> {
        let Some(cfg) = &self.config else {
            return Ok(None);
        };
        if select.phase.is_none() && select.env.is_none() {
            return Err(Error::Input(
                "which phase? pass --phase N (or its name) or --env E".into(),
            ));
        }
        let phases = config::resolve_phases(cfg, self.change.as_ref());
        Ok(Some(config::select_phase(
            &phases,
            select.phase.as_deref(),
            select.env.as_deref(),
            select.project.as_deref(),
        )?))
    }

    /// The output directory: `--out`, else the config's, else `.phasegate`.
    pub fn out_dir(&self, flag: Option<&Path>) -> PathBuf {
        if let Some(dir) = flag {
            return dir.to_path_buf();
        }
        match self.config.as_ref().and_then(|c| c.output_dir.as_ref()) {
            Some(dir) => self.base_dir.join(dir),
            None => PathBuf::from(".phasegate"),
        }
    }
}

/// A phase to work on when there is no config: one environment, one project.
pub fn local_phase(project_name: &str) -> ResolvedPhase {
    ResolvedPhase {
        index: 1,
        name: "local".into(),
        environment: Environment {
            name: "local".into(),
            github_environment: None,
            reviewers_required: false,
            prevent_self_review: true,
            reviewers: vec![],
            wait_timer_minutes: 0,
            protected_branches_only: false,
            protected: false,
            security_policy: Default::default(),
            monthly_budget: None,
            region: None,
            plan: Default::default(),
            projects: Default::default(),
            checks: vec![],
            approvals: Default::default(),
        },
        projects: vec![Project {
            name: project_name.into(),
            dir: PathBuf::from("."),
            depends_on: vec![],
            inputs: Default::default(),
            environments: None,
        }],
        blast_radius: None,
        monthly_budget: None,
        checks: vec![],
        steps: vec![],
    }
}
