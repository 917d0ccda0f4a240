//! The Terraform adapter against real Terraform 1.0.3 and testcloud: every
//! command phasegate runs, and the errors it reports.

use std::time::Duration;

use phasegate::config::EngineKind;
use phasegate::iac::{plan_project, CliEngine, IacEngine, IacError, PlanOutcome, PlanRequest};

use crate::testbed::{Testbed, CANARY_PASSWORD};

fn engine(tb: &Testbed) -> CliEngine {
    CliEngine {
        kind: EngineKind::Terraform,
        binary: tb.terraform_path().to_path_buf(),
        timeout: Duration::from_secs(300),
    }
}

/// The engine inherits the test process's environment; the testbed's
/// variables are passed explicitly, and the machine's own CLI config is
/// overridden by them.
fn request(tb: &Testbed, plan_file: &str) -> PlanRequest {
    PlanRequest {
        dir: tb.workdir().join("infra"),
        env: tb
            .env()
            .into_iter()
            .chain([("TF_VAR_environment".to_string(), "dev".to_string())])
            .collect(),
        plan_file: tb.root().join(plan_file),
        ..PlanRequest::default()
    }
}

#[test]
fn every_engine_command_runs_against_real_terraform() {
    let tb = Testbed::new("examples/quickstart");
    let engine = engine(&tb);
    let version = engine.version(tb.workdir()).unwrap();
    assert_eq!(version.version, "1.0.3");

    let mut req = request(&tb, "first.tfplan");
    req.workspace = Some("dev".into());
    let (outcome, json) = plan_project(&engine, &req).unwrap();
    assert_eq!(outcome, PlanOutcome::Changes);
    let cs = phasegate::plan::parse_plan_json(&json, "show -json").unwrap();
    assert_eq!(cs.counts().add, 7);

    engine.apply(&req).unwrap();
    // Selecting an existing workspace does not create it again.
    engine.select_workspace(&req, "dev").unwrap();
    let state: serde_json::Value = serde_json::from_str(&engine.state_pull(&req).unwrap()).unwrap();
    assert!(state["serial"].as_u64().unwrap() >= 1);
    assert!(state["lineage"].as_str().is_some_and(|l| !l.is_empty()));
    let outputs: serde_json::Value =
        serde_json::from_str(&engine.output_json(&req).unwrap()).unwrap();
    assert!(outputs["bucket_arn"]["value"].is_string());

    let again = request(&tb, "second.tfplan");
    let again = PlanRequest {
        workspace: Some("dev".into()),
        ..again
    };
    let (outcome, _) = plan_project(&engine, &again).unwrap();
    assert_eq!(
        outcome,
        PlanOutcome::NoChanges,
        "a re-plan after apply converges"
    );
}

#[test]
fn a_failed_apply_reports_command_directory_code_and_stderr() {
    let tb = Testbed::new("examples/quickstart");
    let main_tf = tb.workdir().join("infra/main.tf");
    let text = std::fs::read_to_string(&main_tf).unwrap();
    std::fs::write(
        &main_tf,
        text.replace(
            "\"quickstart-${var.environment}-assets\"",
            "\"quickstart-fail-apply-assets\"",
        ),
    )
    .unwrap();
    let engine = engine(&tb);
    let req = request(&tb, "fail.tfplan");
    plan_project(&engine, &req).unwrap();
    let err = engine.apply(&req).unwrap_err();
    let IacError::Failed {
        command,
        dir,
        code,
        stderr_tail,
    } = &err
    else {
        panic!("expected a failed command, got {err}");
    };
    assert!(command.contains("apply"), "{command}");
    assert_eq!(dir, &tb.workdir().join("infra"));
    assert_eq!(*code, 1);
    assert!(stderr_tail.contains("fail-apply"), "{stderr_tail}");
    assert!(!err.to_string().contains(CANARY_PASSWORD));
}

#[test]
fn a_missing_engine_binary_is_an_external_failure_naming_it() {
    let tb = Testbed::new("examples/quickstart");
    let engine = CliEngine {
        binary: "/nonexistent/terraform".into(),
        ..engine(&tb)
    };
    let err = engine.init(&request(&tb, "x.tfplan")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/terraform"), "{err}");
    let top: phasegate::Error = err.into();
    assert_eq!(top.exit_code(), phasegate::ExitCode::External);
}

#[test]
fn a_recorded_tofu_show_json_parses_with_opentofu_provider_addresses() {
    let path = crate::workflows::repo().join("tests/fixtures/engines/tofu/basic-create/show.json");
    let json = std::fs::read_to_string(path).unwrap();
    let cs = phasegate::plan::parse_plan_json(&json, "tofu show -json").unwrap();
    assert_eq!(cs.counts().add, 3);
    assert_eq!(cs.counts().destroy, 0);
}

/// A `terragrunt` that records its arguments and non-interactive settings,
/// then runs the testbed's real Terraform with the same arguments: what
/// Terragrunt does for one unit, minus its config processing.
fn terragrunt_shim(tb: &Testbed, log: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let shim = tb.root().join("terragrunt");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\nprintf '%s|TG_NON_INTERACTIVE=%s|TERRAGRUNT_NON_INTERACTIVE=%s\\n' \"$*\" \"$TG_NON_INTERACTIVE\" \"$TERRAGRUNT_NON_INTERACTIVE\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            tb.terraform_path().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    shim
}

#[test]
fn terragrunt_plans_each_unit_non_interactively_with_terraform_flags_only() {
    let tb = Testbed::new("examples/quickstart");
    let log = tb.root().join("terragrunt.log");
    let engine = CliEngine {
        kind: EngineKind::Terragrunt,
        binary: terragrunt_shim(&tb, &log),
        timeout: Duration::from_secs(300),
    };
    let req = request(&tb, "unit.tfplan");
    let (outcome, json) = plan_project(&engine, &req).unwrap();
    assert_eq!(outcome, PlanOutcome::Changes);
    // The unit's own plan JSON, as `show -json` printed it through Terragrunt.
    let cs = phasegate::plan::parse_plan_json(&json, "terragrunt show -json").unwrap();
    assert_eq!(cs.counts().add, 7);
    let calls = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = calls.lines().collect();
    assert!(lines.len() >= 3, "init, plan, show: {calls}");
    for line in &lines {
        assert!(
            line.ends_with("|TG_NON_INTERACTIVE=true|TERRAGRUNT_NON_INTERACTIVE=true"),
            "{line}"
        );
        assert!(
            !line.contains("--terragrunt-"),
            "no flag the redesigned CLI refuses: {line}"
        );
    }
    assert!(
        lines[0].starts_with("init -input=false -no-color"),
        "{calls}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("plan ") && l.contains("-out=")),
        "{calls}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("show -json -no-color ")),
        "{calls}"
    );
}
