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
    assert!(web.after.value().get("id").is_none());
    assert_eq!(web.after_unknown.value()["id"], true);
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
    assert_eq!(db.after.value()["port"], 5433);
    assert_eq!(db.after.value()["settings"]["user"], "admin");
    assert_eq!(db.after.value()["secrets"][1], "public");
}

#[test]
fn sensitive_values_are_kept_for_the_redactor_alone() {
    let plan = fixture("sensitive-canary.json");
    let held = &plan.sensitive_values.0;
    // Only what Terraform marked: nothing public is handed to the redactor.
    assert!(
        held.iter().all(|s| s.contains("CANARY-7f3a")),
        "a public value would be masked everywhere: {held:?}"
    );
    for canary in [
        "before",
        "after",
        "create",
        "delete",
        "drift-before",
        "drift-after",
        "list-0",
        "list-1",
        "map-value",
        "nested",
        "whole",
        "output-before",
        "output-after",
    ] {
        let value = format!("CANARY-7f3a-{canary}");
        assert!(
            held.contains(&value),
            "{value} is not held for the redactor"
        );
    }
    assert_eq!(
        format!("{:?}", plan.sensitive_values),
        format!("SensitiveValues({} hidden)", held.len())
    );
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
fn value_newly_marked_sensitive_is_masked_on_both_sides() {
    let text = fixture_text("action-update.json")
        .replace(
            r#""instance_type": "t3.micro""#,
            r#""instance_type": "CANARY-was-public""#,
        )
        .replace(
            r#""after_sensitive": {}"#,
            r#""after_sensitive": {"instance_type": true}"#,
        );
    assert!(text.contains(r#""after_sensitive": {"instance_type": true}"#));
    let plan = parse_plan_json(&text, "newly-sensitive.json").unwrap();
    assert!(!serde_json::to_string(&plan).unwrap().contains("CANARY"));
    let web = &plan.resources[0];
    let change = web.diff.iter().find(|d| d.path == "instance_type").unwrap();
    assert_eq!(
        (&change.before, &change.after),
        (&DiffValue::Sensitive, &DiffValue::Sensitive)
    );
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
    assert!(message.starts_with("plan.json:1:"), "{message}");
    assert!(
        message.contains("`resource_changes[0].change.actions`"),
        "{message}"
    );
}

#[test]
fn empty_or_non_object_input_is_explained() {
    let empty = parse_plan_json("  \n", "empty.json").unwrap_err();
    assert!(matches!(empty, PlanError::Empty { .. }), "{empty}");
    let list = parse_plan_json("[]", "list.json").unwrap_err();
    assert!(matches!(list, PlanError::Shape { .. }), "{list}");
}

#[test]
fn byte_order_mark_is_ignored() {
    let text = format!("\u{feff}{}", fixture_text("action-create.json"));
    assert_eq!(parse_plan_json(&text, "bom.json").unwrap().counts().add, 1);
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

/// Each action kind, from its own fixture: the action it normalizes to and
/// what it counts for.
#[test]
fn every_action_kind_normalizes_and_counts_in_terraforms_sense() {
    let c = |add, change, destroy, import, moved, forget| Counts {
        add,
        change,
        destroy,
        import,
        moved,
        forget,
    };
    let cases = [
        ("action-create.json", Action::Create, c(1, 0, 0, 0, 0, 0)),
        ("action-update.json", Action::Update, c(0, 1, 0, 0, 0, 0)),
        ("action-delete.json", Action::Delete, c(0, 0, 1, 0, 0, 0)),
        (
            "action-replace-destroy-first.json",
            Action::ReplaceDestroyFirst,
            c(1, 0, 1, 0, 0, 0),
        ),
        (
            "action-replace-create-first.json",
            Action::ReplaceCreateFirst,
            c(1, 0, 1, 0, 0, 0),
        ),
        ("action-read.json", Action::Read, c(0, 0, 0, 0, 0, 0)),
        ("action-no-op.json", Action::NoOp, c(0, 0, 0, 0, 0, 0)),
        ("action-forget.json", Action::Forget, c(0, 0, 0, 0, 0, 1)),
        (
            "action-create-then-forget.json",
            Action::CreateThenForget,
            c(1, 0, 0, 0, 0, 1),
        ),
        (
            "action-forget-then-create.json",
            Action::CreateThenForget,
            c(1, 0, 0, 0, 0, 1),
        ),
    ];
    for (name, action, counts) in cases {
        let plan = fixture(name);
        assert_eq!(plan.resources[0].action, action, "{name}");
        assert_eq!(plan.counts(), counts, "{name}");
    }
}

#[test]
fn replace_counts_as_add_and_destroy() {
    for name in [
        "action-replace-destroy-first.json",
        "action-replace-create-first.json",
    ] {
        let plan = fixture(name);
        let counts = plan.counts();
        assert_eq!((counts.add, counts.destroy, counts.change), (1, 1, 0));
        let web = &plan.resources[0];
        assert!(web.action.is_replace());
        let ami = web.diff.iter().find(|d| d.path == "ami").unwrap();
        assert!(ami.forces_replacement, "{name}: ami forces replacement");
        assert_eq!(plan.destroyed().count(), 1);
    }
}

#[test]
fn read_and_noop_count_nothing() {
    for name in ["action-read.json", "action-no-op.json"] {
        let plan = fixture(name);
        assert_eq!(plan.counts(), Counts::default(), "{name}");
        assert!(!plan.has_changes(), "{name}");
    }
}

#[test]
fn data_sources_never_count() {
    let text =
        fixture_text("action-delete.json").replace(r#""mode": "managed""#, r#""mode": "data""#);
    let plan = parse_plan_json(&text, "data-delete.json").unwrap();
    assert_eq!(plan.resources[0].mode, Mode::Data);
    assert_eq!(plan.counts(), Counts::default());
    assert_eq!(plan.destroyed().count(), 0);
}

#[test]
fn import_counts_import_whatever_the_action() {
    let plan = fixture("action-import.json");
    assert_eq!(
        plan.counts(),
        Counts {
            change: 1,
            import: 2,
            ..Counts::default()
        }
    );
    let web = resource(&plan, "aws_instance.web");
    assert_eq!(web.action, Action::NoOp);
    assert_eq!(web.importing.as_deref(), Some("i-0abc"));
    assert!(plan.has_changes(), "a no-op import still changes state");
}

#[test]
fn move_counts_move() {
    let plan = fixture("action-move.json");
    assert_eq!(
        plan.counts(),
        Counts {
            change: 1,
            moved: 2,
            ..Counts::default()
        }
    );
    let app = resource(&plan, "aws_instance.app");
    assert_eq!(app.previous_address.as_deref(), Some("aws_instance.web"));
    assert!(app.is_move());
    let vpc = resource(&plan, "module.net.aws_vpc.main");
    assert_eq!(vpc.module.as_deref(), Some("module.net"));
}

#[test]
fn deposed_object_delete_counts_as_destroy() {
    let plan = fixture("action-deposed.json");
    let deposed: Vec<_> = plan
        .resources
        .iter()
        .filter_map(|r| r.deposed.as_deref())
        .collect();
    assert_eq!(deposed, ["00000001"]);
    assert_eq!(
        plan.counts(),
        Counts {
            destroy: 1,
            ..Counts::default()
        }
    );
}

#[test]
fn changed_lists_only_what_counts() {
    let plan = fixture("format-1.2.json");
    let changed: Vec<_> = plan.changed().map(|r| r.address.as_str()).collect();
    assert_eq!(
        changed,
        [
            "aws_instance.web",
            "aws_s3_bucket.logs",
            "module.db.aws_db_instance.main",
            "aws_iam_role.old[\"ci\"]"
        ]
    );
    assert!(plan.resource("aws_vpc.main").is_some());
    assert!(plan.resource("aws_vpc.other").is_none());
    let deposed = fixture("action-deposed.json");
    assert_eq!(
        deposed.resource("aws_instance.web").unwrap().action,
        Action::NoOp
    );
}

#[test]
fn by_action_groups_in_plan_order() {
    let plan = fixture("format-1.2.json");
    let groups = plan.by_action();
    let keys: Vec<_> = groups.keys().copied().collect();
    assert_eq!(
        keys,
        [
            Action::Create,
            Action::Update,
            Action::Delete,
            Action::ReplaceDestroyFirst,
            Action::Read,
            Action::NoOp
        ]
    );
    assert_eq!(groups[&Action::Create][0].address, "aws_instance.web");
}

#[test]
fn rejects_unknown_action_list_naming_the_address() {
    let text = fixture_text("action-update.json").replace(r#""update""#, r#""update", "delete""#);
    let err = parse_plan_json(&text, "odd.json").unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, PlanError::UnknownActions { .. }));
    assert!(
        message.starts_with("odd.json: aws_instance.web:"),
        "{message}"
    );
    assert!(message.contains(r#"["update","delete"]"#), "{message}");
}

#[test]
fn format_0_1_masks_outputs_declared_sensitive() {
    let text = fixture_text("format-0.1.json");
    let plan = parse_plan_json(&text, "format-0.1.json").unwrap();
    assert_eq!(plan.engine, Engine::Terraform);
    assert_eq!(plan.resources[0].provider, "aws");
    let token = plan.outputs.iter().find(|o| o.name == "token").unwrap();
    assert_eq!(
        (&token.before, &token.after),
        (&DiffValue::Sensitive, &DiffValue::Sensitive)
    );
    let serialized = serde_json::to_string(&plan).unwrap();
    assert!(!serialized.contains("CANARY"), "{serialized}");
    assert_eq!(
        plan.counts(),
        Counts {
            add: 1,
            destroy: 1,
            ..Counts::default()
        }
    );
}

#[test]
fn format_0_2_masks_marked_attributes_and_outputs() {
    let plan = fixture("format-0.2.json");
    let serialized = serde_json::to_string(&plan).unwrap();
    assert!(!serialized.contains("CANARY"), "{serialized}");
    assert_eq!(plan.engine, Engine::Terraform);
    assert_eq!(plan.counts().change, 1);
}

#[test]
fn format_1_0_reads_drift_moves_and_reasons() {
    let plan = fixture("format-1.0.json");
    assert_eq!(plan.drift.len(), 1);
    assert_eq!(plan.drift[0].diff[0].path, "tags.edited");
    let tainted = resource(&plan, "aws_instance.tainted");
    assert_eq!(
        tainted.action_reason.as_deref(),
        Some("replace_because_tainted")
    );
    assert!(tainted.diff.iter().all(|d| !d.forces_replacement));
    assert_eq!(
        plan.counts(),
        Counts {
            add: 1,
            change: 1,
            destroy: 1,
            moved: 1,
            ..Counts::default()
        }
    );
}

#[test]
fn format_1_1_marks_paths_that_force_replacement() {
    let plan = fixture("format-1.1.json");
    let web = &plan.resources[0];
    assert_eq!(web.action, Action::ReplaceCreateFirst);
    let forced: Vec<_> = web
        .diff
        .iter()
        .filter(|d| d.forces_replacement)
        .map(|d| d.path.as_str())
        .collect();
    assert_eq!(forced, ["ami"]);
}

#[test]
fn opentofu_plan_is_recognized() {
    let plan = fixture("format-opentofu.json");
    assert_eq!(plan.engine, Engine::Opentofu);
    assert_eq!(plan.engine_version.as_deref(), Some("1.8.5"));
    assert_eq!(
        (plan.errored, plan.applyable, plan.complete),
        (Some(false), None, None)
    );
    assert_eq!(plan.counts().import, 1);
    assert_eq!(
        fixture("action-forget-then-create.json").engine,
        Engine::Opentofu
    );
}

#[test]
fn accepts_future_minor_versions_and_rejects_garbage() {
    let text = fixture_text("action-create.json");
    let future = text.replace(r#""format_version": "1.2""#, r#""format_version": "1.9""#);
    assert_eq!(parse_plan_json(&future, "f").unwrap().format_version, "1.9");
    for bad in [r#""format_version": "one""#, r#""format_version": 1.2"#] {
        let text = text.replace(r#""format_version": "1.2""#, bad);
        let err = parse_plan_json(&text, "bad.json").unwrap_err();
        assert!(
            matches!(err, PlanError::UnsupportedVersion { .. }),
            "{bad}: {err}"
        );
    }
    let missing = parse_plan_json(r#"{"resource_changes": []}"#, "m.json").unwrap_err();
    assert!(
        missing
            .to_string()
            .starts_with("m.json:1:1: `format_version`"),
        "{missing}"
    );
}

#[test]
fn outputs_carry_every_side_kind() {
    let plan = fixture("outputs.json");
    let side = |name: &str| {
        let o = plan.outputs.iter().find(|o| o.name == name).unwrap();
        (o.action, o.before.clone(), o.after.clone())
    };
    use serde_json::json;
    assert_eq!(
        side("created"),
        (
            Action::Create,
            DiffValue::Absent,
            DiffValue::Known(json!("new").into())
        )
    );
    assert_eq!(
        side("deleted"),
        (
            Action::Delete,
            DiffValue::Known(json!(["a"]).into()),
            DiffValue::Absent
        )
    );
    assert_eq!(side("unknown").2, DiffValue::Unknown);
    assert_eq!(
        side("secret"),
        (Action::Update, DiffValue::Sensitive, DiffValue::Sensitive)
    );
    assert_eq!(side("same").0, Action::NoOp);
    assert!(!serde_json::to_string(&plan).unwrap().contains("CANARY"));
    assert!(plan.has_changes(), "output changes alone are changes");
    assert_eq!(plan.counts(), Counts::default());
}

#[test]
fn drift_alone_is_no_change() {
    let plan = fixture("drift.json");
    assert_eq!(plan.drift.len(), 2);
    assert_eq!(plan.drift[1].action, Action::Delete);
    assert!(!plan.has_changes());
}

#[test]
fn unknown_leaves_in_lists_and_blocks_are_flagged() {
    let plan = fixture("unknown-values.json");
    let lb = &plan.resources[0];
    let unknown: Vec<_> = lb
        .diff
        .iter()
        .filter(|d| d.after == DiffValue::Unknown)
        .map(|d| d.path.as_str())
        .collect();
    assert_eq!(
        unknown,
        [
            "access_logs[0].prefix",
            "dns_name",
            "id",
            "subnets[1]",
            "zone_id"
        ]
    );
    assert_eq!(
        lb.after.value()["subnets"],
        serde_json::json!(["subnet-1", null])
    );
}

#[test]
fn provider_config_masks_hard_coded_credentials() {
    let text = fixture_text("action-create.json").replace(
        r#""region": {"#,
        r#""secret_key": {"constant_value": "CANARY-provider-secret"}, "assume_role": {"session_name": {"constant_value": "ci"}}, "region": {"#,
    );
    assert!(text.contains("CANARY-provider-secret"));
    let plan = parse_plan_json(&text, "p.json").unwrap();
    let exprs = &plan.provider_config["aws"]["expressions"];
    assert_eq!(
        exprs["secret_key"]["constant_value"],
        phasegate::plan::SENSITIVE_MASK
    );
    assert_eq!(exprs["assume_role"]["session_name"]["constant_value"], "ci");
    assert_eq!(exprs["region"]["constant_value"], "eu-west-1");
}

#[test]
fn digest_ignores_drift_engine_version_and_untouched_resources() {
    let base = fixture("drift.json");
    let text = fixture_text("drift.json")
        .replace("1.9.8", "1.9.9")
        .replace(r#""t3.nano""#, r#""t3.small""#);
    let other = parse_plan_json(&text, "other").unwrap();
    assert_eq!(base.digest, other.digest);
    let refreshed = fixture_text("action-no-op.json").replace("t3.micro", "t3.small");
    assert_eq!(
        fixture("action-no-op.json").digest,
        parse_plan_json(&refreshed, "refreshed").unwrap().digest
    );
}

#[test]
fn digest_changes_when_an_action_or_attribute_changes() {
    let base = fixture("action-replace-destroy-first.json");
    let reordered = fixture("action-replace-create-first.json");
    assert_ne!(
        base.digest, reordered.digest,
        "replace order is part of the operation"
    );
    let text = fixture_text("action-replace-destroy-first.json").replace("ami-222", "ami-333");
    let changed = parse_plan_json(&text, "changed").unwrap();
    assert_ne!(base.digest, changed.digest);
    let moved = fixture_text("action-update.json").replace("t3.large", "t3.xlarge");
    assert_ne!(
        fixture("action-update.json").digest,
        parse_plan_json(&moved, "m").unwrap().digest
    );
}

#[test]
fn normalized_replace_snapshot() {
    insta::assert_json_snapshot!(fixture("action-replace-destroy-first.json"));
}

#[test]
fn normalized_sensitive_snapshot() {
    insta::assert_json_snapshot!(fixture("sensitive-canary.json"));
}

/// `terraform-1.0.3-outputs.json` is what Terraform 1.0.3 itself wrote for
/// `terraform-config/main.tf`: sensitive outputs appear there in clear text.
#[test]
fn real_terraform_output_keeps_no_sensitive_value() {
    let text = fixture_text("terraform-1.0.3-outputs.json");
    assert!(text.contains("CANARY-real-variable"));
    let plan = parse_plan_json(&text, "terraform-1.0.3-outputs.json").unwrap();
    assert_eq!(plan.format_version, "0.2");
    assert!(!serde_json::to_string(&plan).unwrap().contains("CANARY"));
    let names: Vec<_> = plan
        .outputs
        .iter()
        .map(|o| (o.name.as_str(), o.after.clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("nested", DiffValue::Sensitive),
            ("plain", DiffValue::Known(serde_json::json!("hello").into())),
            ("secret", DiffValue::Sensitive),
        ]
    );
}

/// Runs the installed Terraform on the same configuration, so that a change in
/// what Terraform writes is caught here rather than in a user's PR comment.
#[test]
fn installed_terraform_plan_parses_and_keeps_no_sensitive_value() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let terraform = root.join(".tools/bin/terraform");
    assert!(
        terraform.exists(),
        "{} is missing: run scripts/install-test-deps.sh",
        terraform.display()
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture_path("terraform-config/main.tf"),
        dir.path().join("main.tf"),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&terraform)
            .args(args)
            .current_dir(dir.path())
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "terraform {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["init", "-input=false", "-no-color"]);
    run(&["plan", "-input=false", "-no-color", "-out=plan.bin"]);
    let text = run(&["show", "-json", "plan.bin"]);
    assert!(
        text.contains("CANARY-real-variable"),
        "Terraform writes it in clear"
    );
    let plan = parse_plan_json(&text, "plan.json").unwrap();
    assert_eq!(plan.engine, Engine::Terraform);
    assert!(!serde_json::to_string(&plan).unwrap().contains("CANARY"));
    assert_eq!(plan.digest, fixture("terraform-1.0.3-outputs.json").digest);
}
