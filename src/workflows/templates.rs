//! The embedded workflow templates and their minijinja environment. Values are
//! written `[[ x ]]` and blocks `{% %}`, so GitHub's own `${{ }}` expressions
//! pass through untouched and need no escaping.

use minijinja::syntax::SyntaxConfig;
use minijinja::Environment;

/// Pull-request workflow: plan + gates + comment for the first environment.
pub const PULL_REQUEST: &str = "pull-request.yml.j2";
/// Promotion chain: plan → apply (under `environment:`) → verify and review, per environment.
pub const PROMOTE: &str = "promote.yml.j2";
/// Fallback approval through `/phasegate approve` comments.
pub const APPROVE: &str = "approve.yml.j2";
/// Scheduled drift check.
pub const DRIFT: &str = "drift.yml.j2";
/// Continues operation steps a promote job left waiting.
pub const CONTINUE: &str = "continue.yml.j2";

const EMBEDDED: [(&str, &str); 8] = [
    (
        "_header.yml.j2",
        include_str!("../../templates/workflows/_header.yml.j2"),
    ),
    (
        "_inputs.yml.j2",
        include_str!("../../templates/workflows/_inputs.yml.j2"),
    ),
    (
        "_changes_job.yml.j2",
        include_str!("../../templates/workflows/_changes_job.yml.j2"),
    ),
    (
        PULL_REQUEST,
        include_str!("../../templates/workflows/pull-request.yml.j2"),
    ),
    (
        PROMOTE,
        include_str!("../../templates/workflows/promote.yml.j2"),
    ),
    (
        APPROVE,
        include_str!("../../templates/workflows/approve.yml.j2"),
    ),
    (
        DRIFT,
        include_str!("../../templates/workflows/drift.yml.j2"),
    ),
    (
        CONTINUE,
        include_str!("../../templates/workflows/continue.yml.j2"),
    ),
];

/// The environment every workflow is rendered in.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    let syntax = SyntaxConfig::builder()
        .block_delimiters("{%", "%}")
        .variable_delimiters("[[", "]]")
        .comment_delimiters("{#", "#}")
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .expect("the workflow delimiters are valid");
    env.set_syntax(syntax);
    // YAML output: values that come from the config pass through `tojson`
    // (a JSON string is a YAML double-quoted scalar); HTML escaping would corrupt them.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    for (id, source) in EMBEDDED {
        env.add_template(id, source)
            .expect("embedded workflow templates compile (checked by tests)");
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workflow_template_compiles() {
        let env = environment();
        for (id, _) in EMBEDDED {
            assert!(env.get_template(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn github_expressions_pass_through_without_escaping() {
        let mut env = environment();
        env.add_template("t", "a: ${{ github.sha }} [[ x ]]")
            .unwrap();
        let out = env
            .get_template("t")
            .unwrap()
            .render(minijinja::context! { x => "y" })
            .unwrap();
        assert_eq!(out, "a: ${{ github.sha }} y");
    }
}
