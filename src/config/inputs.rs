//! `projects[].inputs`: outputs of one project passed to another's
//! Terraform as variables. A source reads `<project>.outputs.<name>`; the
//! checks here are those the config alone can answer (the form, the
//! project, the environments) and, given what each root module declares,
//! that the output and the variable exist.

use std::collections::BTreeSet;

use super::model::{Config, Project};
use super::validate::names;

/// One input's source: output `output` of project `project`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputRef<'a> {
    pub project: &'a str,
    pub output: &'a str,
}

impl<'a> InputRef<'a> {
    /// `network.outputs.vpc_id` → (`network`, `vpc_id`).
    pub fn parse(source: &'a str) -> Result<Self, String> {
        let shape = || {
            format!(
                "`{source}` is not an output reference: write `<project>.outputs.<name>`, for example `network.outputs.vpc_id`"
            )
        };
        let (project, output) = source.split_once(".outputs.").ok_or_else(shape)?;
        if project.is_empty() || !is_identifier(output) {
            return Err(shape());
        }
        Ok(InputRef { project, output })
    }
}

/// A Terraform identifier: a letter or `_`, then letters, digits, `_`, `-`.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// What a root module declares, as far as inputs care.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declared {
    pub outputs: BTreeSet<String>,
    pub variables: BTreeSet<String>,
}

/// Problems the config alone shows, as (path, message): the variable's
/// name, the source's form, the project it names (known, not itself), and
/// that project's environments covering this one's.
pub fn problems(config: &Config) -> Vec<(String, String)> {
    let mut out = vec![];
    for (i, p) in config.projects.iter().enumerate() {
        for (var, source) in &p.inputs {
            let path = format!("projects[{i}].inputs.{var}");
            if !is_identifier(var) {
                out.push((
                    path.clone(),
                    format!("`{var}` is not a Terraform variable name (a letter or `_`, then letters, digits, `_` or `-`)"),
                ));
            }
            let r = match InputRef::parse(source) {
                Ok(r) => r,
                Err(m) => {
                    out.push((path, m));
                    continue;
                }
            };
            if r.project == p.name {
                out.push((
                    path,
                    format!("project `{}` cannot read its own outputs", p.name),
                ));
                continue;
            }
            let Some(up) = config.projects.iter().find(|q| q.name == r.project) else {
                out.push((
                    path,
                    format!(
                        "no project named `{}`; projects are {}",
                        r.project,
                        names(config)
                    ),
                ));
                continue;
            };
            let missing: Vec<&str> = config
                .environments
                .iter()
                .map(|e| e.name.as_str())
                .filter(|e| p.in_environment(e) && !up.in_environment(e))
                .collect();
            if !missing.is_empty() {
                out.push((
                    path,
                    format!(
                        "project `{}` is not deployed to {}, where `{}` is: its outputs there do not exist",
                        up.name,
                        missing.join(", "),
                        p.name
                    ),
                ));
            }
        }
    }
    out
}

/// Problems against the root modules' declarations: the upstream declares
/// no such output, or this project no such variable (Terraform would
/// ignore the value). A module `declared` cannot read is not judged.
pub fn declaration_problems(
    config: &Config,
    declared: &dyn Fn(&Project) -> Option<Declared>,
) -> Vec<(String, String)> {
    let mut out = vec![];
    for (i, p) in config.projects.iter().enumerate() {
        if p.inputs.is_empty() {
            continue;
        }
        let own = declared(p);
        for (var, source) in &p.inputs {
            let path = format!("projects[{i}].inputs.{var}");
            let Ok(r) = InputRef::parse(source) else {
                continue;
            };
            let up = config.projects.iter().find(|q| q.name == r.project);
            if let Some(up_declared) = up.and_then(declared) {
                if !up_declared.outputs.contains(r.output) {
                    out.push((
                        path.clone(),
                        format!(
                            "project `{}` ({}) declares no output `{}`; it declares {}",
                            r.project,
                            up.map(|u| u.dir.display().to_string()).unwrap_or_default(),
                            r.output,
                            listed(&up_declared.outputs)
                        ),
                    ));
                }
            }
            if let Some(own) = &own {
                if !own.variables.contains(var) {
                    out.push((
                        path,
                        format!(
                            "project `{}` ({}) declares no variable `{var}`, so Terraform would ignore the value; add `variable \"{var}\" {{}}`",
                            p.name,
                            p.dir.display()
                        ),
                    ));
                }
            }
        }
    }
    out
}

fn listed(set: &BTreeSet<String>) -> String {
    if set.is_empty() {
        "none".into()
    } else {
        set.iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_config_str;

    fn config(app: &str) -> Config {
        load_config_str(
            &format!("version: 1\nenvironments:\n  - name: dev\n  - name: prod\nprojects:\n  - name: network\n    dir: network\n  - name: app\n    dir: app\n{app}"),
            "phasegate.yml",
        )
        .unwrap()
    }

    #[test]
    fn a_source_is_a_project_and_an_output() {
        let r = InputRef::parse("network.outputs.vpc_id").unwrap();
        assert_eq!((r.project, r.output), ("network", "vpc_id"));
        for bad in [
            "network.vpc_id",
            ".outputs.x",
            "network.outputs.",
            "network.outputs.1x",
        ] {
            assert!(
                InputRef::parse(bad)
                    .unwrap_err()
                    .contains("<project>.outputs.<name>"),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_input_names_a_known_other_project_deployed_wherever_it_is() {
        let ok = config("    inputs:\n      vpc_id: network.outputs.vpc_id\n");
        assert!(problems(&ok).is_empty());
        assert_eq!(ok.projects[1].upstreams(), vec!["network"]);
        let unknown = config("    inputs:\n      vpc_id: nope.outputs.vpc_id\n");
        let p = problems(&unknown);
        assert_eq!(p[0].0, "projects[1].inputs.vpc_id");
        assert!(p[0].1.contains("no project named `nope`"), "{p:?}");
        let own = config("    inputs:\n      x: app.outputs.x\n");
        assert!(problems(&own)[0].1.contains("its own outputs"));
        let mut narrow = ok.clone();
        narrow.projects[0].environments = Some(vec!["dev".into()]);
        let p = problems(&narrow);
        assert!(p[0].1.contains("not deployed to prod"), "{p:?}");
        let bad_var = config("    inputs:\n      9x: network.outputs.vpc_id\n");
        assert!(problems(&bad_var)[0]
            .1
            .contains("not a Terraform variable name"));
    }

    #[test]
    fn a_missing_output_or_variable_is_named_with_what_is_declared() {
        let cfg = config("    inputs:\n      vpc_id: network.outputs.vpc_id\n");
        let declared = |p: &Project| {
            Some(if p.name == "network" {
                Declared {
                    outputs: ["subnet_id".to_string()].into(),
                    variables: BTreeSet::new(),
                }
            } else {
                Declared::default()
            })
        };
        let p = declaration_problems(&cfg, &declared);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].1
                .contains("declares no output `vpc_id`; it declares `subnet_id`"),
            "{p:?}"
        );
        assert!(p[1].1.contains("declares no variable `vpc_id`"), "{p:?}");
        assert!(declaration_problems(&cfg, &|_| None).is_empty());
    }
}
