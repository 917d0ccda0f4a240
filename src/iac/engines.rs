//! What differs between `terraform`, `tofu` and `terragrunt` when phasegate
//! builds a command line. The three take Terraform's commands and flags;
//! Terragrunt must also never prompt. Pure: arguments in, arguments and
//! environment out. docs/engines.md says what was tested how.

use crate::config::EngineKind;

/// The binary looked up on PATH when the config names none.
pub fn default_binary(kind: EngineKind) -> &'static str {
    match kind {
        EngineKind::Terraform => "terraform",
        EngineKind::Tofu => "tofu",
        EngineKind::Terragrunt => "terragrunt",
    }
}

/// Environment an engine needs on every command, beyond the request's own.
///
/// Terragrunt is made non-interactive through its environment, not a flag:
/// the old flag `--terragrunt-non-interactive` is gone from the redesigned
/// CLI (v0.88 made the redesign the default), where an unknown flag after
/// the command is passed on to tofu/terraform, which refuse it
/// ("flag provided but not defined"); the new `--non-interactive` is unknown
/// to releases before the redesign. `TG_NON_INTERACTIVE` (redesigned) and
/// `TERRAGRUNT_NON_INTERACTIVE` (before) are each ignored by the other side.
pub fn engine_env(kind: EngineKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        EngineKind::Terragrunt => &[
            ("TG_NON_INTERACTIVE", "true"),
            ("TERRAGRUNT_NON_INTERACTIVE", "true"),
            // Terraform's own switch, which Terragrunt passes to the engine it runs.
            ("TF_INPUT", "false"),
        ],
        EngineKind::Terraform | EngineKind::Tofu => &[],
    }
}

/// The request's environment plus the engine's; the engine's settings win
/// so a request cannot make Terragrunt prompt.
pub fn with_engine_env(kind: EngineKind, env: &[(String, String)]) -> Vec<(String, String)> {
    let fixed = engine_env(kind);
    env.iter()
        .filter(|(k, _)| !fixed.iter().any(|(f, _)| f == k))
        .cloned()
        .chain(fixed.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terragrunt_is_non_interactive_through_its_environment_in_both_cli_generations() {
        let env = with_engine_env(
            EngineKind::Terragrunt,
            &[
                ("TF_VAR_environment".into(), "dev".into()),
                ("TG_NON_INTERACTIVE".into(), "false".into()),
            ],
        );
        assert_eq!(
            env,
            [
                ("TF_VAR_environment", "dev"),
                ("TG_NON_INTERACTIVE", "true"),
                ("TERRAGRUNT_NON_INTERACTIVE", "true"),
                ("TF_INPUT", "false"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }

    #[test]
    fn terraform_and_tofu_get_the_request_environment_unchanged() {
        let req = vec![("TF_VAR_x".to_string(), "1".to_string())];
        assert_eq!(with_engine_env(EngineKind::Tofu, &req), req);
        assert_eq!(with_engine_env(EngineKind::Terraform, &req), req);
        assert_eq!(default_binary(EngineKind::Tofu), "tofu");
    }
}
