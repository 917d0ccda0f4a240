//! Specification of the test bed itself: real Terraform 1.0.3 planning and applying against
//! testcloud behaves like Terraform against a cloud (creates, no-op re-plans, replacements,
//! drift, partial failures, state, sensitive values), so other tests can rely on it.

use serde_json::Value;

use crate::testbed::{describe, paths_containing, Testbed, CANARY_PASSWORD};

const STACK: &str = "tests/fixtures/testcloud/stack";

fn change<'p>(plan: &'p Value, address: &str) -> &'p Value {
    plan["resource_changes"]
        .as_array()
        .expect("resource_changes is a list")
        .iter()
        .find(|rc| rc["address"] == address)
        .unwrap_or_else(|| panic!("no resource change for {address} in {plan:#}"))
}

fn actions(plan: &Value, address: &str) -> Vec<String> {
    change(plan, address)["change"]["actions"]
        .as_array()
        .expect("actions is a list")
        .iter()
        .map(|a| a.as_str().expect("an action is a string").to_owned())
        .collect()
}

#[test]
fn apply_creates_every_resource_as_a_stored_file() {
    let tb = Testbed::new(STACK);
    let plan = tb.deploy();

    for rc in plan["resource_changes"].as_array().unwrap() {
        assert_eq!(
            rc["change"]["actions"],
            serde_json::json!(["create"]),
            "{}",
            rc["address"]
        );
        assert_eq!(
            rc["change"]["after_unknown"]["id"], true,
            "{}: id known before apply",
            rc["address"]
        );
    }
    let bucket = tb.read_resource("aws_s3_bucket", "stack-assets");
    assert_eq!(bucket["arn"], "arn:aws:s3:::stack-assets");
    assert_eq!(bucket["versioning"][0]["enabled"], true);
    let db = tb.read_resource("aws_db_instance", "stack-db");
    assert_eq!(db["engine"], "postgres");
    assert_eq!(db["storage_encrypted"], true);
    for (type_name, prefix) in [
        ("aws_security_group", "sg-"),
        ("aws_instance", "i-"),
        ("aws_nat_gateway", "nat-"),
        ("aws_ebs_volume", "vol-"),
    ] {
        let ids = tb.resource_ids(type_name);
        assert_eq!(ids.len(), 1, "{type_name}: {ids:?}");
        assert!(ids[0].starts_with(prefix), "{type_name} id {}", ids[0]);
    }
    let sg_id = &tb.resource_ids("aws_security_group")[0];
    let instance = tb.read_resource("aws_instance", &tb.resource_ids("aws_instance")[0]);
    assert_eq!(
        instance["vpc_security_group_ids"],
        serde_json::json!([sg_id])
    );
    assert_eq!(tb.resource_ids("aws_iam_policy").len(), 1);
}

#[test]
fn replan_after_apply_has_no_changes() {
    let tb = Testbed::new(STACK);
    tb.deploy();
    let out = tb.terraform(&["plan", "-input=false", "-lock=false", "-detailed-exitcode"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "expected no changes:\n{}",
        describe(&out)
    );
}

#[test]
fn renaming_the_bucket_plans_a_replace() {
    let tb = Testbed::new(STACK);
    tb.deploy();
    let plan = tb.plan_json("rename.tfplan", &["-var", "bucket_name=stack-assets-v2"]);

    let replace = actions(&plan, "aws_s3_bucket.assets");
    assert!(
        replace == ["delete", "create"] || replace == ["create", "delete"],
        "bucket actions: {replace:?}"
    );
    assert_eq!(
        change(&plan, "aws_s3_bucket.assets")["change"]["replace_paths"],
        serde_json::json!([["bucket"]])
    );
    // The policy embeds the bucket ARN, which is unknown until the new bucket exists.
    assert_eq!(actions(&plan, "aws_iam_policy.read_assets"), ["update"]);
    assert_eq!(actions(&plan, "aws_db_instance.main"), ["no-op"]);

    let out = tb.apply("rename.tfplan");
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(tb.resource_ids("aws_s3_bucket"), ["stack-assets-v2"]);
}

#[test]
fn changing_the_db_engine_plans_a_replace() {
    let tb = Testbed::new(STACK);
    tb.deploy();
    let main_tf = tb.workdir().join("main.tf");
    let text = std::fs::read_to_string(&main_tf).unwrap();
    tb.write_file("main.tf", &text.replace("\"postgres\"", "\"mysql\""));
    let plan = tb.plan_json("engine.tfplan", &[]);
    assert_eq!(actions(&plan, "aws_db_instance.main"), ["delete", "create"]);
}

#[test]
fn out_of_band_edit_shows_as_resource_drift() {
    let tb = Testbed::new(STACK);
    tb.deploy();
    tb.edit_resource("aws_s3_bucket", "stack-assets", |bucket| {
        bucket.insert("acl".into(), "public-read".into());
    });
    let plan = tb.plan_json("drift.tfplan", &[]);

    let drift = plan["resource_drift"]
        .as_array()
        .expect("resource_drift present");
    let bucket = drift
        .iter()
        .find(|d| d["address"] == "aws_s3_bucket.assets")
        .unwrap_or_else(|| panic!("bucket not in drift: {drift:#?}"));
    assert_eq!(bucket["change"]["actions"], serde_json::json!(["update"]));
    assert_eq!(bucket["change"]["before"]["acl"], "private");
    assert_eq!(bucket["change"]["after"]["acl"], "public-read");
    assert_eq!(drift.len(), 1, "only the edited bucket drifted: {drift:#?}");
}

#[test]
fn resource_deleted_out_of_band_is_planned_for_creation() {
    let tb = Testbed::new(STACK);
    tb.deploy();
    let volume = tb.resource_ids("aws_ebs_volume").remove(0);
    tb.delete_resource("aws_ebs_volume", &volume);
    let plan = tb.plan_json("gone.tfplan", &[]);
    assert_eq!(actions(&plan, "aws_ebs_volume.data"), ["create"]);
}

#[test]
fn fail_apply_resource_fails_while_the_others_are_created() {
    let tb = Testbed::new(STACK);
    tb.write_file(
        "broken.tf",
        r#"resource "aws_s3_bucket" "broken" {
  bucket = "stack-fail-apply"
}
"#,
    );
    tb.init();
    tb.plan_json("partial.tfplan", &[]);
    // CI machines often set RUST_BACKTRACE; the failure must still read as one clean diagnostic.
    let out = tb
        .terraform_command(&["apply", "-input=false", "-lock=false", "partial.tfplan"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run terraform apply");

    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("creating aws_s3_bucket \"stack-fail-apply\" failed (injected failure)"),
        "{stderr}"
    );
    assert!(!stderr.contains("TERRAFORM CRASH"), "{stderr}");
    assert!(
        !stderr.contains("tf_provider::"),
        "a backtrace in the diagnostic: {stderr}"
    );
    assert_eq!(tb.resource_ids("aws_s3_bucket"), ["stack-assets"]);
    assert_eq!(tb.resource_ids("aws_db_instance"), ["stack-db"]);
    let state = tb.terraform_ok(&["state", "list"]);
    let listed = String::from_utf8_lossy(&state.stdout);
    assert!(listed.contains("aws_s3_bucket.assets"), "{listed}");
    assert!(!listed.contains("aws_s3_bucket.broken"), "{listed}");
}

#[test]
fn state_pull_returns_serial_and_lineage() {
    let tb = Testbed::new(STACK);
    tb.deploy();
    let out = tb.terraform_ok(&["state", "pull"]);
    let state: Value = serde_json::from_slice(&out.stdout).expect("state pull prints JSON");
    assert!(
        state["serial"].as_u64().unwrap_or(0) >= 1,
        "serial: {}",
        state["serial"]
    );
    assert!(
        state["lineage"].as_str().is_some_and(|l| !l.is_empty()),
        "lineage: {}",
        state["lineage"]
    );
    assert_eq!(state["terraform_version"], "1.0.3");
    assert_eq!(state["resources"].as_array().map(Vec::len), Some(7));
}

#[test]
fn db_password_appears_only_where_terraform_puts_it_and_is_marked_sensitive() {
    let tb = Testbed::new(STACK);
    tb.init();
    let plan = tb.plan_json("secret.tfplan", &[]);

    let index_of = |list: &Value| {
        list.as_array()
            .and_then(|l| {
                l.iter()
                    .position(|r| r["address"] == "aws_db_instance.main")
            })
            .expect("the database is planned")
    };
    let planned_db = index_of(&plan["planned_values"]["root_module"]["resources"]);
    let changed_db = index_of(&plan["resource_changes"]);
    let mut found = paths_containing(&plan, CANARY_PASSWORD);
    found.sort();
    assert_eq!(
        found,
        [
            "configuration.root_module.variables.db_password.default".to_owned(),
            format!("planned_values.root_module.resources[{planned_db}].values.password"),
            format!("resource_changes[{changed_db}].change.after.password"),
            "variables.db_password.value".to_owned(),
        ],
        "the canary is somewhere Terraform does not put it"
    );
    let db = &plan["resource_changes"][changed_db];
    assert_eq!(db["change"]["after_sensitive"]["password"], true);
    assert_eq!(
        plan["configuration"]["root_module"]["variables"]["db_password"]["sensitive"],
        true
    );
    let planned = &plan["planned_values"]["root_module"]["resources"][planned_db];
    assert_eq!(planned["sensitive_values"]["password"], true);
}

/// The committed recordings must be what Terraform plans for the quickstart today; when this
/// fails after a deliberate change, run scripts/record-quickstart.sh and commit the result.
#[test]
fn quickstart_recordings_match_what_terraform_plans_today() {
    let recorded = |name: &str| -> Value {
        let path = crate::testbed::repo_root()
            .join("examples/quickstart")
            .join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        serde_json::from_str(&text).expect("a recording is JSON")
    };
    let stale = "stale recording: run scripts/record-quickstart.sh and commit the result";
    let tb = Testbed::new("examples/quickstart/infra");
    tb.init();
    let first = tb.plan_json("first.tfplan", &[]);
    assert!(first == recorded("plan.json"), "plan.json: {stale}");

    let out = tb.apply("first.tfplan");
    assert!(out.status.success(), "{}", describe(&out));
    // The same two changes the script makes: a renamed bucket and an out-of-band resize.
    let main_tf = std::fs::read_to_string(tb.workdir().join("main.tf")).unwrap();
    let renamed = main_tf.replace(
        "bucket = \"quickstart-${var.environment}-assets\"",
        "bucket = \"quickstart-${var.environment}-assets-v2\"",
    );
    assert_ne!(
        renamed, main_tf,
        "the bucket line moved; update this test and the script"
    );
    tb.write_file("main.tf", &renamed);
    let instance = tb.resource_ids("aws_instance").remove(0);
    tb.edit_resource("aws_instance", &instance, |i| {
        i.insert("instance_type".into(), "t3.large".into());
    });
    let second = tb.plan_json("replace.tfplan", &[]);
    assert!(
        second == recorded("plan-replace.json"),
        "plan-replace.json: {stale}"
    );
}
