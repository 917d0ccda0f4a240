//! The team's policies again, on the applied state. Policies are written
//! for the plan JSON, so the state is handed to them in that shape: each
//! resource the change created, updated or replaced is a `resource_changes`
//! entry with its planned `actions` and its applied values as
//! `change.after` (nothing `after_unknown`; `before` is null, as the state
//! keeps no earlier value), and `planned_values.root_module` holds every
//! resource of the state, child modules nested as Terraform nests them.
//! The document is masked by [`mask_plan`], as a plan is; the values come
//! already masked from `plan::state`.
//!
//! A finding on the applied state the plan did not have counts, judged by
//! the plan-time gate's rule (critical blocks, high blocks unless
//! acknowledged). Pure, like the rest of the gate.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{
    finding_verdict, mask_plan, report, AckContext, PolicyFinding, PolicyInput, PolicyReport,
};
use crate::gates::Verdict;
use crate::journal::{CheckResult, CheckStatus, GateFinding};
use crate::plan::{Action, AppliedState, Mode, StateResource};

/// The plan-time report's findings on `project`, for the journal.
pub fn plan_findings(report: &PolicyReport, project: &str) -> Vec<GateFinding> {
    let mut out: Vec<GateFinding> = report
        .findings
        .iter()
        .filter(|f| f.project == project)
        .map(|f| GateFinding {
            id: f.id.clone(),
            address: f.address.clone(),
            unknown: None,
        })
        .collect();
    out.dedup();
    out
}

/// The policy input for the applied state (see the module docs).
pub fn state_input(state: &AppliedState, touched: &BTreeMap<String, Action>) -> PolicyInput {
    let changes: Vec<Value> = state
        .resources
        .iter()
        .filter(|r| r.mode == Mode::Managed)
        .filter_map(|r| touched.get(&r.address).map(|a| (r, *a)))
        .map(|(r, action)| {
            let mut rc = resource_head(r);
            rc.insert(
                "change".into(),
                json!({
                    "actions": actions(action),
                    "before": null,
                    "after": r.values,
                    "after_unknown": {},
                    "before_sensitive": false,
                    "after_sensitive": r.sensitive,
                }),
            );
            Value::Object(rc)
        })
        .collect();
    mask_plan(json!({
        "format_version": state.format_version,
        "terraform_version": state.engine_version,
        "resource_changes": changes,
        "planned_values": {"root_module": module(&state.resources, None)},
    }))
}

/// Policy findings on the applied state that the plan did not have, as
/// checks of kind `policy`; acknowledgements count as at plan time. A new
/// finding that would not have moved the gate (info) is left out.
pub fn recheck(
    found: Vec<PolicyFinding>,
    planned: &[GateFinding],
    ctx: &AckContext,
) -> Vec<CheckResult> {
    let judged = report(found, vec![], ctx);
    let mut out: Vec<CheckResult> = Vec::new();
    for f in judged
        .findings
        .iter()
        .filter(|f| !planned.iter().any(|p| p.id == f.id))
    {
        let status = match finding_verdict(f) {
            Verdict::Block | Verdict::AckRequired => CheckStatus::Fail,
            Verdict::Warn => CheckStatus::Warn,
            Verdict::Pass => continue,
        };
        let name = match &f.address {
            Some(a) => format!("{} {a}", f.id),
            None => f.id.clone(),
        };
        let severity = serde_json::to_value(f.severity)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let ack = if f.acknowledged { ", acknowledged" } else { "" };
        let evidence = format!(
            "after apply: {} ({severity}{ack}; {}:{}); the plan had no such finding",
            f.message, f.file, f.line
        );
        match out.iter_mut().find(|c| c.name == name) {
            Some(c) => {
                c.status = c.status.max(status);
                c.evidence = format!("{}; {evidence}", c.evidence);
            }
            None => out.push(CheckResult {
                name,
                kind: "policy".into(),
                status,
                evidence,
                attempts: 1,
                duration_ms: 0,
            }),
        }
    }
    out
}

/// `["create"]` for a create, and so on: the plan's own action lists.
fn actions(action: Action) -> Vec<&'static str> {
    match action {
        Action::Create => vec!["create"],
        Action::Update => vec!["update"],
        Action::Delete => vec!["delete"],
        Action::ReplaceDestroyFirst => vec!["delete", "create"],
        Action::ReplaceCreateFirst => vec!["create", "delete"],
        Action::Read => vec!["read"],
        Action::NoOp => vec!["no-op"],
        Action::Forget => vec!["forget"],
        Action::CreateThenForget => vec!["create", "forget"],
    }
}

fn resource_head(r: &StateResource) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("address".into(), json!(r.address));
    if let Some(module) = &r.module {
        m.insert("module_address".into(), json!(module));
    }
    m.insert(
        "mode".into(),
        json!(match r.mode {
            Mode::Managed => "managed",
            Mode::Data => "data",
        }),
    );
    m.insert("type".into(), json!(r.resource_type));
    m.insert("name".into(), json!(r.name));
    if let Some(index) = &r.index {
        m.insert("index".into(), index.clone());
    }
    m.insert("provider_name".into(), json!(r.provider));
    m
}

/// The module at `address` (None: the root) with its resources and, nested,
/// every module directly under it.
fn module(resources: &[StateResource], address: Option<&str>) -> Value {
    let own: Vec<Value> = resources
        .iter()
        .filter(|r| r.module.as_deref() == address)
        .map(|r| {
            let mut m = resource_head(r);
            m.insert("values".into(), r.values.clone());
            m.insert("sensitive_values".into(), r.sensitive.clone());
            Value::Object(m)
        })
        .collect();
    let mut children: Vec<&str> = resources
        .iter()
        .filter_map(|r| r.module.as_deref())
        .filter_map(|m| child_of(m, address))
        .collect();
    children.sort();
    children.dedup();
    let mut out = Map::new();
    if let Some(a) = address {
        out.insert("address".into(), json!(a));
    }
    out.insert("resources".into(), Value::Array(own));
    out.insert(
        "child_modules".into(),
        Value::Array(
            children
                .into_iter()
                .map(|c| module(resources, Some(c)))
                .collect(),
        ),
    );
    Value::Object(out)
}

/// The module directly under `parent` on the way to `module`, if any:
/// `module.a.module.b` under the root is `module.a`.
fn child_of<'a>(module: &'a str, parent: Option<&str>) -> Option<&'a str> {
    let rest_start = match parent {
        None => 0,
        Some(p) => {
            let after = module.strip_prefix(p)?.strip_prefix('.')?;
            module.len() - after.len()
        }
    };
    let rest = &module[rest_start..];
    // `module.<name>` with the name possibly keyed: `module.a["x"]`.
    let name_end = rest
        .strip_prefix("module.")?
        .find(".module.")
        .map_or(rest.len(), |i| i + "module.".len());
    Some(&module[..rest_start + name_end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::policy::{compile, findings, Namespaces, PolicySource, SetSeverity};
    use crate::gates::Severity;
    use crate::plan::parse_state_json;

    const STATE: &str = r#"{"format_version": "0.2", "terraform_version": "1.0.3", "values": {"root_module": {
        "resources": [{"address": "aws_s3_bucket.a", "mode": "managed", "type": "aws_s3_bucket", "name": "a",
            "values": {"bucket": "a", "tags": {"secret": "tag-S3cr3t-value"}}, "sensitive_values": {"tags": {"secret": true}}},
          {"address": "aws_s3_bucket.old", "mode": "managed", "type": "aws_s3_bucket", "name": "old",
            "values": {"bucket": "old", "tags": {}}, "sensitive_values": {}}],
        "child_modules": [{"address": "module.m", "resources": [
            {"address": "module.m.aws_s3_bucket.b", "mode": "managed", "type": "aws_s3_bucket", "name": "b",
             "values": {"bucket": "b", "tags": {}}, "sensitive_values": {}}],
          "child_modules": [{"address": "module.m.module.n", "resources": [
            {"address": "module.m.module.n.aws_s3_bucket.c", "mode": "managed", "type": "aws_s3_bucket", "name": "c",
             "values": {"bucket": "c", "tags": {}}, "sensitive_values": {}}]}]}]}}}"#;

    const OWNER: &str = r#"package main

deny contains {"msg": sprintf("%s has no owner tag (tags: %v)", [rc.address, rc.change.after.tags]), "address": rc.address} if {
    some rc in input.resource_changes
    rc.change.actions[_] == "create"
    not rc.change.after.tags.owner
}
"#;

    fn touched() -> BTreeMap<String, Action> {
        BTreeMap::from([
            ("aws_s3_bucket.a".to_string(), Action::Create),
            ("module.m.aws_s3_bucket.b".to_string(), Action::Create),
        ])
    }

    fn ctx() -> AckContext {
        AckContext {
            phase: Some("dev".into()),
            acknowledgements: vec![],
            today: chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
        }
    }

    #[test]
    fn the_state_reaches_policies_as_a_plan_of_the_touched_resources_masked() {
        let state = parse_state_json(STATE, "state.json").unwrap();
        let input = state_input(&state, &touched());
        let text = input.plan.to_string();
        assert!(!text.contains("tag-S3cr3t-value"), "{text}");
        let changes = input.plan["resource_changes"].as_array().unwrap();
        let addresses: Vec<&str> = changes
            .iter()
            .map(|c| c["address"].as_str().unwrap())
            .collect();
        assert_eq!(addresses, ["aws_s3_bucket.a", "module.m.aws_s3_bucket.b"]);
        assert_eq!(changes[1]["module_address"], "module.m");
        assert_eq!(changes[0]["change"]["actions"], json!(["create"]));
        let root = &input.plan["planned_values"]["root_module"];
        assert_eq!(root["resources"].as_array().unwrap().len(), 2);
        let m = &root["child_modules"][0];
        assert_eq!(m["address"], "module.m");
        assert_eq!(
            m["child_modules"][0]["resources"][0]["address"],
            "module.m.module.n.aws_s3_bucket.c"
        );
    }

    #[test]
    fn only_findings_new_after_apply_become_checks_and_high_ones_fail() {
        let set = compile(&PolicySource {
            name: "team".into(),
            modules: vec![("p/owner.rego".into(), OWNER.into())],
            data: vec![],
            namespaces: Namespaces::from_list(&[]),
            timeout: std::time::Duration::from_secs(2),
        })
        .unwrap();
        let state = parse_state_json(STATE, "state.json").unwrap();
        let input = state_input(&state, &touched());
        let found = findings(&set, &SetSeverity::default(), &input, "app").unwrap();
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|f| f.severity == Severity::High));
        // The plan already had the finding on `a`.
        let on_a = found
            .iter()
            .find(|f| f.address.as_deref() == Some("aws_s3_bucket.a"))
            .unwrap();
        let planned = [GateFinding {
            id: on_a.id.clone(),
            address: on_a.address.clone(),
            unknown: None,
        }];
        let checks = recheck(found, &planned, &ctx());
        assert_eq!(checks.len(), 1, "{checks:#?}");
        assert_eq!(checks[0].kind, "policy");
        assert_eq!(checks[0].status, CheckStatus::Fail);
        assert!(
            checks[0].name.ends_with(" module.m.aws_s3_bucket.b"),
            "{checks:#?}"
        );
        assert!(
            checks[0].evidence.contains("has no owner tag"),
            "{checks:#?}"
        );
        assert!(checks[0].evidence.contains("p/owner.rego:3"), "{checks:#?}");
    }

    #[test]
    fn module_paths_nest_one_level_at_a_time() {
        assert_eq!(child_of("module.a.module.b", None), Some("module.a"));
        assert_eq!(
            child_of("module.a.module.b", Some("module.a")),
            Some("module.a.module.b")
        );
        assert_eq!(
            child_of(r#"module.a["x"].module.b"#, None),
            Some(r#"module.a["x"]"#)
        );
        assert_eq!(child_of("module.a", Some("module.a")), None);
        assert_eq!(child_of("module.b", Some("module.a")), None);
    }
}
