//! Environments suggested by a repository: tfvars file names (`prod.tfvars`),
//! workspaces (`terraform.tfstate.d/<name>`), and directory names
//! (`live/staging/...`), put in promotion order.

use std::collections::BTreeMap;

use super::TfDir;

/// Where an environment's name was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EnvSource {
    Tfvars,
    Workspace,
    Directory,
}

impl EnvSource {
    pub fn describe(self) -> &'static str {
        match self {
            EnvSource::Tfvars => "tfvars files",
            EnvSource::Workspace => "workspaces",
            EnvSource::Directory => "directory names",
        }
    }
}

/// One environment and how each root module is planned in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedEnv {
    pub name: String,
    pub source: EnvSource,
    /// Root module dir → its var files for this environment.
    pub var_files: BTreeMap<String, Vec<String>>,
    /// Root module dirs that have a workspace of this name.
    pub workspaces: Vec<String>,
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

/// The environments of `roots` (root modules only), from the first source
/// that yields any: tfvars, then workspaces, then directory names.
pub fn detect_environments(roots: &[&TfDir]) -> Vec<DetectedEnv> {
    let mut found: BTreeMap<String, DetectedEnv> = BTreeMap::new();
    for d in roots {
        for f in &d.tfvars {
            let file = f.rsplit('/').next().unwrap_or(f);
            let stem = file
                .strip_suffix(".tfvars.json")
                .or_else(|| file.strip_suffix(".tfvars"))
                .unwrap_or(file);
            let e = entry(&mut found, stem, EnvSource::Tfvars);
            e.var_files
                .entry(d.dir.clone())
                .or_default()
                .push(f.clone());
        }
    }
    if found.is_empty() {
        for d in roots {
            for ws in d.workspaces.iter().filter(|w| *w != "default") {
                entry(&mut found, ws, EnvSource::Workspace)
                    .workspaces
                    .push(d.dir.clone());
            }
        }
    }
    if found.is_empty() {
        for d in roots {
            if let Some(name) = d.dir.split('/').find(|c| is_known(c)) {
                entry(&mut found, name, EnvSource::Directory);
            }
        }
    }
    let mut envs: Vec<DetectedEnv> = found.into_values().collect();
    envs.sort_by(|a, b| {
        (promotion_rank(&a.name), &a.name).cmp(&(promotion_rank(&b.name), &b.name))
    });
    envs
}

fn entry<'a>(
    found: &'a mut BTreeMap<String, DetectedEnv>,
    name: &str,
    source: EnvSource,
) -> &'a mut DetectedEnv {
    found
        .entry(name.to_string())
        .or_insert_with(|| DetectedEnv {
            name: name.to_string(),
            source,
            var_files: BTreeMap::new(),
            workspaces: Vec::new(),
        })
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

    #[test]
    fn tfvars_names_become_environments_in_promotion_order() {
        let a = root(
            "app",
            &["app/prod.tfvars", "app/dev.tfvars", "app/staging.tfvars"],
        );
        let envs = detect_environments(&[&a]);
        let names: Vec<_> = envs.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["dev", "staging", "prod"]);
        assert_eq!(envs[2].var_files["app"], ["app/prod.tfvars"]);
    }

    #[test]
    fn directory_names_are_used_when_nothing_else_names_environments() {
        let a = root("live/prod/net", &[]);
        let b = root("live/dev/net", &[]);
        let envs = detect_environments(&[&a, &b]);
        let names: Vec<_> = envs.iter().map(|e| (e.name.as_str(), e.source)).collect();
        assert_eq!(
            names,
            [
                ("dev", EnvSource::Directory),
                ("prod", EnvSource::Directory)
            ]
        );
    }
}
