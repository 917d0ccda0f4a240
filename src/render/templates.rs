//! The embedded templates, looked up by constant IDs, and their overrides: a
//! repository can replace any template by putting a file with the same name
//! in an overrides directory.

use std::path::{Path, PathBuf};

use minijinja::syntax::SyntaxConfig;
use minijinja::Environment;
use serde::Serialize;

/// The essentials of a phase block: header, counts, warnings, digests, badges.
pub const PHASE_ESSENTIALS: &str = "phase_essentials.md.j2";
/// The heading that opens one project's details.
pub const PROJECT_HEADING: &str = "project_heading.md.j2";
/// One project's resources grouped by action.
pub const RESOURCE_LIST: &str = "resource_list.md.j2";
/// One resource's collapsible attribute diff.
pub const RESOURCE_DIFF: &str = "resource_diff.md.j2";
/// Partial: the attribute table shared by diffs and drift.
pub const DIFF_TABLE: &str = "diff_table.md.j2";
/// One project's changes made outside Terraform.
pub const DRIFT: &str = "drift.md.j2";
/// One project's output changes.
pub const OUTPUTS: &str = "outputs.md.j2";
/// One section's details.
pub const SECTION_DETAILS: &str = "section_details.md.j2";
/// The note that stands in for shed details.
pub const SHED_NOTE: &str = "shed_note.md.j2";
/// Partial: the list of what the shed note leaves out.
pub const OMITTED_LIST: &str = "omitted_list.md.j2";
/// One change group's details: shared and varying attributes, members.
pub const GROUP_DETAILS: &str = "group_details.md.j2";
/// Partial: a project's group table, in the essentials.
pub const GROUP_TABLE: &str = "group_table.md.j2";

/// The drift issue of one project in one environment (and its closing comment).
pub const DRIFT_ISSUE: &str = "drift_issue.md.j2";

/// Every template, by ID, as compiled into the binary.
pub const EMBEDDED: [(&str, &str); 13] = [
    (
        PHASE_ESSENTIALS,
        include_str!("../../templates/phase_essentials.md.j2"),
    ),
    (
        PROJECT_HEADING,
        include_str!("../../templates/project_heading.md.j2"),
    ),
    (
        RESOURCE_LIST,
        include_str!("../../templates/resource_list.md.j2"),
    ),
    (
        RESOURCE_DIFF,
        include_str!("../../templates/resource_diff.md.j2"),
    ),
    (DIFF_TABLE, include_str!("../../templates/diff_table.md.j2")),
    (DRIFT, include_str!("../../templates/drift.md.j2")),
    (OUTPUTS, include_str!("../../templates/outputs.md.j2")),
    (
        SECTION_DETAILS,
        include_str!("../../templates/section_details.md.j2"),
    ),
    (SHED_NOTE, include_str!("../../templates/shed_note.md.j2")),
    (
        OMITTED_LIST,
        include_str!("../../templates/omitted_list.md.j2"),
    ),
    (
        GROUP_DETAILS,
        include_str!("../../templates/group_details.md.j2"),
    ),
    (
        GROUP_TABLE,
        include_str!("../../templates/group_table.md.j2"),
    ),
    (
        DRIFT_ISSUE,
        include_str!("../../templates/drift_issue.md.j2"),
    ),
];

/// A template that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read template override {path}: {source}; fix its permissions or remove it")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("template override {path} does not compile: {message}; fix it or remove it to use the built-in template")]
    Syntax { path: PathBuf, message: String },
}

impl From<TemplateError> for crate::Error {
    fn from(e: TemplateError) -> Self {
        match e {
            TemplateError::Read { .. } => crate::Error::External(e.to_string()),
            TemplateError::Syntax { .. } => crate::Error::Input(e.to_string()),
        }
    }
}

/// The templates one renderer uses: the embedded set, with any overrides in
/// place of embedded ones.
pub struct Templates {
    env: Environment<'static>,
    /// The untouched embedded set, used when an override fails at render time.
    embedded: Option<Environment<'static>>,
    overridden: Vec<&'static str>,
}

impl Templates {
    /// The embedded templates only.
    pub fn embedded() -> Templates {
        Templates {
            env: embedded_env(),
            embedded: None,
            overridden: Vec::new(),
        }
    }

    /// The embedded templates, with each file in `dir` whose name is a
    /// template ID replacing that template. Other files are ignored, and a
    /// missing directory means no overrides.
    pub fn with_overrides(dir: &Path) -> Result<Templates, TemplateError> {
        let mut env = embedded_env();
        let mut overridden = Vec::new();
        for (id, _) in EMBEDDED {
            let path = dir.join(id);
            let source = match std::fs::read_to_string(&path) {
                Ok(source) => source,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(TemplateError::Read { path, source }),
            };
            env.add_template_owned(id, source)
                .map_err(|e| TemplateError::Syntax {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            overridden.push(id);
        }
        let embedded = (!overridden.is_empty()).then(embedded_env);
        Ok(Templates {
            env,
            embedded,
            overridden,
        })
    }

    /// Renders template `id` with `ctx`. An override that fails at render
    /// time (an unknown filter, a bad attribute access) falls back to the
    /// embedded template with a warning, so a broken override never costs a
    /// phase its comment.
    pub fn render<C: Serialize>(&self, id: &'static str, ctx: &C) -> String {
        match render_in(&self.env, id, ctx) {
            Ok(text) => text,
            Err(e) => match (&self.embedded, self.overridden.contains(&id)) {
                (Some(embedded), true) => {
                    tracing::warn!(template = id, error = %e, "template override failed; using the built-in template");
                    render_in(embedded, id, ctx).unwrap_or_else(|e| embedded_failure(id, &e))
                }
                _ => embedded_failure(id, &e),
            },
        }
    }
}

fn render_in<C: Serialize>(
    env: &Environment<'static>,
    id: &str,
    ctx: &C,
) -> Result<String, minijinja::Error> {
    env.get_template(id)?
        .render(minijinja::Value::from(minijinja::value::Serde(ctx)))
}

/// The embedded templates are exercised by the snapshot tests; failing here
/// is a bug, reported in the output rather than by aborting the run.
fn embedded_failure(id: &str, e: &minijinja::Error) -> String {
    tracing::error!(template = id, error = %e, "built-in template failed");
    format!("(phasegate could not render {id}; this is a bug, please report it)")
}

fn embedded_env() -> Environment<'static> {
    let mut env = Environment::new();
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
        .expect("the default delimiters are valid");
    env.set_syntax(syntax);
    // Markdown output: every value arrives escaped by `render::escape`, so
    // HTML auto-escaping would only double-encode it.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    for (id, source) in EMBEDDED {
        env.add_template(id, source)
            .expect("embedded templates compile (checked by tests)");
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_template_compiles() {
        let env = embedded_env();
        for (id, _) in EMBEDDED {
            assert!(env.get_template(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn an_override_file_replaces_the_template_of_the_same_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(PROJECT_HEADING),
            "## {{ project }} (custom)",
        )
        .unwrap();
        let t = Templates::with_overrides(dir.path()).unwrap();
        let out = t.render(PROJECT_HEADING, &serde_json::json!({"project": "net"}));
        assert_eq!(out, "## net (custom)");
    }

    #[test]
    fn an_override_with_a_syntax_error_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SHED_NOTE), "{% if %}").unwrap();
        let err = Templates::with_overrides(dir.path()).err().unwrap();
        assert!(err.to_string().contains(SHED_NOTE), "{err}");
    }

    #[test]
    fn an_override_failing_at_render_time_falls_back_to_the_builtin() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(PROJECT_HEADING),
            "{{ project | no_such_filter }}",
        )
        .unwrap();
        let t = Templates::with_overrides(dir.path()).unwrap();
        let out = t.render(PROJECT_HEADING, &serde_json::json!({"project": "net"}));
        assert!(out.contains("Details of project <code>net</code>"), "{out}");
    }
}
