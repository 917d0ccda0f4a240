//! The plan model: reading `show -json` output of every format version into a
//! normalized, masked change set with Terraform's counts and a stable digest.

use std::path::PathBuf;

use phasegate::plan::{
    parse_plan_json, Action, ChangeSet, Counts, DiffValue, Engine, Mode, PlanError,
};

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/plans")
        .join(name)
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name))
        .unwrap_or_else(|e| panic!("reading fixture {name}: {e}"))
}

fn fixture(name: &str) -> ChangeSet {
    parse_plan_json(&fixture_text(name), name).unwrap_or_else(|e| panic!("{e}"))
}

fn resource<'a>(plan: &'a ChangeSet, address: &str) -> &'a phasegate::plan::ResourceChange {
    plan.resources
        .iter()
        .find(|r| r.address == address)
        .unwrap_or_else(|| panic!("no resource {address}"))
}

#[test]
fn format_1_2_plan_normalizes_actions_and_counts() {
    let plan = fixture("format-1.2.json");
    assert_eq!(plan.format_version, "1.2");
    assert_eq!(plan.engine, Engine::Terraform);
    assert_eq!(plan.engine_version.as_deref(), Some("1.9.8"));
    assert_eq!(
        plan.counts(),
        Counts {
            add: 2,
            change: 1,
            destroy: 2,
            ..Counts::default()
        }
    );
    let db = resource(&plan, "module.db.aws_db_instance.main");
    assert_eq!(db.action, Action::ReplaceDestroyFirst);
    assert_eq!(db.module.as_deref(), Some("module.db"));
    assert_eq!(
        db.action_reason.as_deref(),
        Some("replace_because_cannot_update")
    );
    let forced: Vec<_> = db
        .diff
        .iter()
        .filter(|d| d.forces_replacement)
        .map(|d| d.path.as_str())
        .collect();
    assert_eq!(forced, ["engine_version"]);
    assert_eq!(
        resource(&plan, "data.aws_caller_identity.current").mode,
        Mode::Data
    );
    assert_eq!(plan.drift.len(), 1);
    assert_eq!(plan.outputs[0].after, DiffValue::Unknown);
    assert_eq!(
        (plan.errored, plan.applyable, plan.complete),
        (Some(false), Some(true), Some(true))
    );
    assert!(plan.has_changes());
}

#[test]
fn destroyed_lists_deletes_and_replaces() {
    let plan = fixture("format-1.2.json");
    let destroyed: Vec<_> = plan.destroyed().map(|r| r.address.as_str()).collect();
    assert_eq!(
        destroyed,
        ["module.db.aws_db_instance.main", "aws_iam_role.old[\"ci\"]"]
    );
}

#[test]
fn unknown_values_are_absent_from_after_and_flagged() {
    let plan = fixture("format-1.2.json");
    let web = resource(&plan, "aws_instance.web");
    assert!(web.after.get("id").is_none());
    assert_eq!(web.after_unknown["id"], true);
    let id = web
        .diff
        .iter()
        .find(|d| d.path == "id")
        .expect("id in diff");
    assert_eq!(
        (&id.before, &id.after),
        (&DiffValue::Absent, &DiffValue::Unknown)
    );
}

#[test]
fn provider_config_keeps_expressions_and_drops_the_rest() {
    let plan = fixture("format-1.2.json");
    let aws = &plan.provider_config["aws"];
    assert_eq!(aws["full_name"], "registry.terraform.io/hashicorp/aws");
    assert_eq!(aws["expressions"]["region"]["references"][0], "var.region");
    assert_eq!(
        aws["expressions"]["assume_role"][0]["role_arn"]["constant_value"],
        "arn:aws:iam::1:role/ci"
    );
    assert!(aws.get("version_constraint").is_none());
}

#[test]
fn sensitive_canary_never_in_change_set() {
    let text = fixture_text("sensitive-canary.json");
    assert!(
        text.contains("CANARY-7f3a"),
        "the fixture must hold the canary"
    );
    let plan = parse_plan_json(&text, "sensitive-canary.json").unwrap();
    let serialized = serde_json::to_string(&plan).unwrap();
    assert!(
        !serialized.contains("CANARY"),
        "a sensitive value survived normalization: {serialized}"
    );
    let debug = format!("{plan:?}");
    assert!(!debug.contains("CANARY"));
    // The masking kept what is not secret.
    let db = resource(&plan, "aws_db_instance.main");
    assert_eq!(db.after["port"], 5433);
    assert_eq!(db.after["settings"]["user"], "admin");
    assert_eq!(db.after["secrets"][1], "public");
}

#[test]
fn sensitive_changes_are_reported_without_values() {
    let plan = fixture("sensitive-canary.json");
    let db = resource(&plan, "aws_db_instance.main");
    let password = db.diff.iter().find(|d| d.path == "password").unwrap();
    assert_eq!(
        (&password.before, &password.after),
        (&DiffValue::Sensitive, &DiffValue::Sensitive)
    );
    let conn = plan.outputs.iter().find(|o| o.name == "conn").unwrap();
    assert_eq!(conn.after, DiffValue::Sensitive);
}

#[test]
fn rejects_unknown_major_version() {
    let err = parse_plan_json(&fixture_text("format-2.0.json"), "format-2.0.json").unwrap_err();
    assert!(matches!(err, PlanError::UnsupportedVersion { .. }));
    let message = err.to_string();
    assert!(message.contains("format-2.0.json"), "{message}");
    assert!(message.contains("\"2.0\""), "{message}");
    assert!(message.contains("0.1 to 1.x"), "{message}");
}

#[test]
fn malformed_json_error_names_file_line_and_column() {
    let err = parse_plan_json(&fixture_text("malformed.json"), "malformed.json").unwrap_err();
    let message = err.to_string();
    assert!(message.starts_with("malformed.json:4:"), "{message}");
    let converted: phasegate::Error = err.into();
    assert_eq!(converted.exit_code(), phasegate::ExitCode::BadInput);
}

#[test]
fn ill_typed_field_error_names_the_json_path() {
    let text = r#"{"format_version": "1.2", "resource_changes": [{"address": "a.b", "mode": "managed", "type": "a", "name": "b", "change": {"actions": "create"}}]}"#;
    let message = parse_plan_json(text, "plan.json").unwrap_err().to_string();
    assert!(
        message.contains("plan.json: `resource_changes[0].change.actions`"),
        "{message}"
    );
}

#[test]
fn digest_ignores_key_order() {
    let text = fixture_text("format-1.2.json");
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let reversed = reverse_keys(&value).to_string();
    assert_ne!(reversed, value.to_string());
    let a = parse_plan_json(&text, "a").unwrap();
    let b = parse_plan_json(&reversed, "b").unwrap();
    assert_eq!(a.digest, b.digest);
    assert_eq!(a.digest.len(), 64);
}

#[test]
fn digest_changes_when_sensitive_value_changes() {
    let text = fixture_text("sensitive-canary.json");
    let changed = text.replace("CANARY-7f3a-after", "CANARY-7f3a-other");
    assert_ne!(text, changed);
    let a = parse_plan_json(&text, "a").unwrap();
    let b = parse_plan_json(&changed, "b").unwrap();
    assert_eq!(
        serde_json::to_string(&a.resources).unwrap(),
        serde_json::to_string(&b.resources).unwrap(),
        "the normalized changes look identical"
    );
    assert_ne!(a.digest, b.digest, "but the digest tells them apart");
}

fn reverse_keys(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => serde_json::Value::Object(
            m.iter()
                .rev()
                .map(|(k, v)| (k.clone(), reverse_keys(v)))
                .collect(),
        ),
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.iter().map(reverse_keys).collect())
        }
        other => other.clone(),
    }
}
