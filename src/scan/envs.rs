//! Environments and projects suggested by a repository's layout, per project:
//! a root module per environment directory (`envs/dev`, `infra/prod`,
//! `live/<env>/<region>/<unit>`) belongs to that environment only; one root
//! module planned per environment names its environments by tfvars files
//! (`prod.tfvars`), backend configuration files (`backend/prod.hcl`) and
//! workspaces (`terraform.tfstate.d/prod`). Environments come out in
//! promotion order.

use std::collections::{BTreeMap, BTreeSet};

use super::TfDir;
use crate::config::EngineKind;

/// Where an environment's name was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EnvSource {
    Tfvars,
    BackendFiles,
    Workspace,
    Directory,
}

impl EnvSource {
    pub fn describe(self) -> &'static str {
        match self {
            EnvSource::Tfvars => "tfvars files",
            EnvSource::BackendFiles => "backend config files",
            EnvSource::Workspace => "workspaces",
            EnvSource::Directory => "directory names",
        }
    }
}

/// One environment and every kind of evidence that named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedEnv {
    pub name: String,
    pub sources: BTreeSet<EnvSource>,
}

/// How a project is planned in one environment it names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvSettings {
    /// Var files, relative to the scanned root (as `var_files` are to the config).
    pub var_files: Vec<String>,
    /// Backend configuration files, relative to the project's directory
    /// (where the engine runs, as Terraform reads `-backend-config`).
    pub backend_config: Vec<String>,
    /// A workspace of the environment's name exists.
    pub workspace: bool,
}

impl EnvSettings {
    pub fn is_empty(&self) -> bool {
        self.var_files.is_empty() && self.backend_config.is_empty() && !self.workspace
    }
}

/// Why a directory is a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectReason {
    Backend,
    Providers,
    Resources,
    TerragruntUnit,
}

impl ProjectReason {
    pub fn describe(self) -> &'static str {
        match self {
            ProjectReason::Backend => "declares a backend",
            ProjectReason::Providers => "declares providers and no module calls it",
            ProjectReason::Resources => "declares resources and no module calls it",
            ProjectReason::TerragruntUnit => "a Terragrunt unit",
        }
    }
}

/// One project the layout suggests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedProject {
    /// Relative to the scanned root, `/`-separated.
    pub dir: String,
    pub reason: ProjectReason,
    /// The environments the project names, with how it is planned in each;
    /// empty when nothing names one (the project is in every environment).
    pub environments: BTreeMap<String, EnvSettings>,
}

/// What `init` configures: the engine, the environments in promotion
/// order, and the projects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub engine: EngineKind,
    pub environments: Vec<DetectedEnv>,
    pub projects: Vec<DetectedProject>,
}

/// Where a name sits in a usual promotion order; unknown names go between
/// the pre-production stages and production.
pub fn promotion_rank(name: &str) -> u8 {
    match name.to_ascii_lowercase().as_str() {
        "sandbox" | "local" => 0,
        "dev" | "develop" | "development" => 1,
        "test" | "testing" | "qa" | "int" | "integration" => 2,
        "stage" | "staging" | "preprod" | "pre-prod" | "uat" => 3,
        "prod" | "production" | "prd" => 5,
        _ => 4,
    }
}

fn is_known(name: &str) -> bool {
    promotion_rank(name) != 4
}

/// Directories whose subdirectories are named for environments, whatever
/// the names: `envs/eu-prod/...`, `live/dev/...`.
const ENV_CONTAINERS: [&str; 5] = ["env", "envs", "environments", "live", "deployments"];

/// The environment a directory path is for: the component below an
/// environment container, else the first well-known environment name.
pub fn environment_of_dir(dir: &str) -> Option<&str> {
    let parts: Vec<&str> = dir.split('/').collect();
    parts
        .windows(2)
        .find(|w| ENV_CONTAINERS.contains(&w[0]))
        .map(|w| w[1])
        .or_else(|| parts.iter().copied().find(|c| is_known(c)))
}

/// The projects and environments of a scanned repository. Terragrunt units,
/// when there are any, are the projects (and the engine is Terragrunt);
/// otherwise the Terraform root modules are.
pub fn detect_layout(dirs: &[TfDir]) -> Layout {
    let units: Vec<&TfDir> = dirs.iter().filter(|d| d.terragrunt_unit).collect();
    let (engine, projects): (EngineKind, Vec<DetectedProject>) = if units.is_empty() {
        let projects = dirs
            .iter()
            .filter(|d| d.is_root())
            .map(|d| DetectedProject {
                dir: d.dir.clone(),
                reason: if d.backend {
                    ProjectReason::Backend
                } else if d.providers {
                    ProjectReason::Providers
                } else {
                    ProjectReason::Resources
                },
                environments: root_environments(d),
            })
            .collect();
        (EngineKind::Terraform, projects)
    } else {
        let projects = units
            .iter()
            .map(|d| DetectedProject {
                dir: d.dir.clone(),
                reason: ProjectReason::TerragruntUnit,
                environments: environment_of_dir(&d.dir)
                    .map(|e| BTreeMap::from([(e.to_string(), EnvSettings::default())]))
                    .unwrap_or_default(),
            })
            .collect();
        (EngineKind::Terragrunt, projects)
    };

    let mut found: BTreeMap<String, BTreeSet<EnvSource>> = BTreeMap::new();
    for p in &projects {
        for (name, settings) in &p.environments {
            let sources = found.entry(name.clone()).or_default();
            if !settings.var_files.is_empty() {
                sources.insert(EnvSource::Tfvars);
            }
            if !settings.backend_config.is_empty() {
                sources.insert(EnvSource::BackendFiles);
            }
            if settings.workspace {
                sources.insert(EnvSource::Workspace);
            }
            if environment_of_dir(&p.dir) == Some(name.as_str()) {
                sources.insert(EnvSource::Directory);
            }
        }
    }
    let mut environments: Vec<DetectedEnv> = found
        .into_iter()
        .map(|(name, sources)| DetectedEnv { name, sources })
        .collect();
    environments.sort_by(|a, b| {
        (promotion_rank(&a.name), &a.name).cmp(&(promotion_rank(&b.name), &b.name))
    });
    Layout {
        engine,
        environments,
        projects,
    }
}

/// A root module's environments: its directory's when the path names one,
/// else those its tfvars, backend files and workspaces name.
fn root_environments(d: &TfDir) -> BTreeMap<String, EnvSettings> {
    if let Some(env) = environment_of_dir(&d.dir) {
        return BTreeMap::from([(env.to_string(), EnvSettings::default())]);
    }
    let mut envs: BTreeMap<String, EnvSettings> = BTreeMap::new();
    for f in &d.tfvars {
        let file = f.rsplit('/').next().unwrap_or(f);
        let stem = file
            .strip_suffix(".tfvars.json")
            .or_else(|| file.strip_suffix(".tfvars"))
            .unwrap_or(file);
        envs.entry(stem.to_string())
            .or_default()
            .var_files
            .push(f.clone());
    }
    for (env, file) in &d.backend_files {
        envs.entry(env.clone())
            .or_default()
            .backend_config
            .push(file.clone());
    }
    for ws in d.workspaces.iter().filter(|w| *w != "default") {
        envs.entry(ws.clone()).or_default().workspace = true;
    }
    envs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(dir: &str, tfvars: &[&str]) -> TfDir {
        TfDir {
            dir: dir.into(),
            backend: true,
            tfvars: tfvars.iter().map(|s| s.to_string()).collect(),
            ..TfDir::default()
        }
    }

    fn names(layout: &Layout) -> Vec<&str> {
        layout
            .environments
            .iter()
            .map(|e| e.name.as_str())
            .collect()
    }

    #[test]
    fn tfvars_names_become_environments_in_promotion_order() {
        let a = root(
            "app",
            &["app/prod.tfvars", "app/dev.tfvars", "app/staging.tfvars"],
        );
        let layout = detect_layout(&[a]);
        assert_eq!(names(&layout), ["dev", "staging", "prod"]);
        assert_eq!(
            layout.projects[0].environments["prod"].var_files,
            ["app/prod.tfvars"]
        );
    }

    #[test]
    fn a_root_module_per_environment_directory_belongs_to_that_environment_only() {
        let layout = detect_layout(&[
            root("infra/prod", &[]),
            root("infra/dev", &[]),
            root("envs/eu-west/net", &[]),
            root("dns", &[]),
        ]);
        assert_eq!(names(&layout), ["dev", "eu-west", "prod"]);
        let envs: Vec<(&str, Vec<&str>)> = layout
            .projects
            .iter()
            .map(|p| {
                (
                    p.dir.as_str(),
                    p.environments.keys().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            envs,
            [
                ("infra/prod", vec!["prod"]),
                ("infra/dev", vec!["dev"]),
                ("envs/eu-west/net", vec!["eu-west"]),
                ("dns", vec![]),
            ]
        );
        assert!(layout.environments[0]
            .sources
            .contains(&EnvSource::Directory));
    }

    #[test]
    fn backend_files_and_workspaces_name_environments_beside_tfvars() {
        let mut app = root("app", &["app/dev.tfvars", "app/prod.tfvars"]);
        app.backend_files = vec![
            ("dev".into(), "backend/dev.hcl".into()),
            ("prod".into(), "backend/prod.hcl".into()),
        ];
        app.workspaces = vec!["default".into(), "qa".into()];
        let layout = detect_layout(&[app]);
        assert_eq!(names(&layout), ["dev", "qa", "prod"]);
        let p = &layout.projects[0];
        assert_eq!(p.environments["dev"].backend_config, ["backend/dev.hcl"]);
        assert_eq!(p.environments["dev"].var_files, ["app/dev.tfvars"]);
        assert!(p.environments["qa"].workspace);
        assert!(!p.environments.contains_key("default"));
    }

    #[test]
    fn terragrunt_units_are_the_projects_each_in_the_environment_its_path_names() {
        let unit = |dir: &str| TfDir {
            dir: dir.into(),
            terragrunt: true,
            terragrunt_unit: true,
            ..TfDir::default()
        };
        let parent = TfDir {
            dir: "live".into(),
            terragrunt: true,
            ..TfDir::default()
        };
        let module = TfDir {
            dir: "modules/vpc".into(),
            providers: true,
            called: true,
            ..TfDir::default()
        };
        let layout = detect_layout(&[
            parent,
            unit("live/dev/us-east-1/vpc"),
            unit("live/prod/us-east-1/vpc"),
            module,
        ]);
        assert_eq!(layout.engine, EngineKind::Terragrunt);
        assert_eq!(names(&layout), ["dev", "prod"]);
        let dirs: Vec<_> = layout.projects.iter().map(|p| p.dir.as_str()).collect();
        assert_eq!(dirs, ["live/dev/us-east-1/vpc", "live/prod/us-east-1/vpc"]);
    }

    #[test]
    fn an_environment_is_the_directory_below_a_container_or_a_well_known_name() {
        assert_eq!(
            environment_of_dir("live/eu-prod/us-east-1/app"),
            Some("eu-prod")
        );
        assert_eq!(environment_of_dir("infra/staging"), Some("staging"));
        assert_eq!(environment_of_dir("environments/dev"), Some("dev"));
        assert_eq!(environment_of_dir("network"), None);
        assert_eq!(environment_of_dir("envs"), None);
    }
}
