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
