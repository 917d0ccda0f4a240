//! `phasegate.yml` and the change plan: their types, loading with located
//! errors, validation, phase resolution and JSON Schemas.

pub mod checks;
pub mod inputs;
mod levels;
mod load;
pub mod model;
mod phases;
pub mod schema;
pub mod steps;
mod validate;

use std::path::Path;

pub use levels::{level_count, project_levels};
pub use load::{
    load_change_plan, load_change_plan_str, load_config, load_config_str, locate, ConfigError,
    Problem, SUPPORTED_VERSION,
};
pub use model::*;
pub use phases::{dependency_order, discover_config, resolve_phases, select_phase, ResolvedPhase};
pub use validate::{find_cycle, validate, Sources};

/// Whether `login` could be a GitHub account name: letters, digits and
/// inner hyphens, at most 39 characters, optionally an app's `[bot]`.
pub fn is_valid_login(login: &str) -> bool {
    let name = login.strip_suffix("[bot]").unwrap_or(login);
    !name.is_empty()
        && name.len() <= 39
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// Reads, parses and validates a config and an optional change plan,
/// reporting every problem located in its file.
///
/// `declared` reads what the root module in a directory declares (the
/// caller's reader of `.tf` files, `scan::declared`): the projects' inputs
/// are checked against it.
pub fn load_checked(
    config_path: &Path,
    change_path: Option<&Path>,
    declared: &dyn Fn(&Path) -> Option<inputs::Declared>,
) -> Result<(Config, Option<ChangePlan>), ConfigError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| ConfigError::Read {
            path: p.to_path_buf(),
            message: e.to_string(),
        })
    };
    let config_text = read(config_path)?;
    let config_name = config_path.display().to_string();
    let config = load_config_str(&config_text, &config_name)?;
    // Without --change, the change plan the config names, when it is there.
    let named = match (change_path, &config.change_plan) {
        (None, Some(rel)) => {
            let p = config_path.parent().unwrap_or(Path::new(".")).join(rel);
            p.is_file().then_some(p)
        }
        _ => None,
    };
    let change_path = change_path.or(named.as_deref());
    let (change, change_text, change_name) = match change_path {
        Some(p) => {
            let text = read(p)?;
            let name = p.display().to_string();
            (Some(load_change_plan_str(&text, &name)?), text, name)
        }
        None => (None, String::new(), String::new()),
    };
    let sources = Sources {
        config_name: &config_name,
        config_text: &config_text,
        change_name: &change_name,
        change_text: &change_text,
    };
    validate(&config, change.as_ref(), &sources)?;
    // Inputs against what the root modules declare: read from their files
    // only once the config itself is sound.
    let base = config_path.parent().unwrap_or(Path::new("."));
    let declared_in = |p: &Project| declared(&base.join(&p.dir));
    let problems: Vec<Problem> = inputs::declaration_problems(&config, &declared_in)
        .into_iter()
        .map(|(path, message)| {
            let (line, column) = locate(&config_text, &path).unzip();
            Problem {
                file: config_name.clone(),
                line,
                column,
                path,
                message,
            }
        })
        .collect();
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems));
    }
    Ok((config, change))
}
