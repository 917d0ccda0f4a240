//! Reading `terraform show -json` of the state (no plan file) into the
//! applied resources, masked exactly as the plan's are: each resource's
//! `values` by its `sensitive_values` marks, through the same walkers
//! (`values.rs`). What comes out holds no sensitive value; the strings that
//! were masked are kept apart for the redactor only.
//!
//! The document: `format_version`, `terraform_version` and `values` with
//! `outputs` and `root_module` (`resources`, `child_modules` recursively,
//! each module with its `address`). An empty state has no `values`. Format
//! 0.1 (Terraform 0.12 – 0.14) carries no `sensitive_values`: as with plans
//! of that format, nothing in a resource can be masked. Output values are
//! never held.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::json::RawMode;
use super::json_text::JsonText;
use super::model::{Action, ChangeSet, Mode, ResourceChange, SensitiveValues};
use super::parse::{check_version, detect_engine, located, PlanError};
use super::values::{clean_marks, marked_strings, mask};

/// The applied state, masked.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedState {
    pub format_version: String,
    pub engine_version: Option<String>,
    /// Every resource instance in the state, root module first, then each
    /// child module in the engine's order. Deposed objects are left out.
    pub resources: Vec<StateResource>,
    /// The sensitive strings the state held in clear, for the redactor only.
    pub sensitive_values: SensitiveValues,
}

/// One resource instance as it stands after apply.
#[derive(Debug, Clone, PartialEq)]
pub struct StateResource {
    pub address: String,
    /// `module.a.module.b`, or None at the root.
    pub module: Option<String>,
    pub mode: Mode,
    pub resource_type: String,
    pub name: String,
    pub index: Option<Value>,
    pub provider: String,
    /// The attribute values, sensitive leaves replaced by the mask.
    pub values: Value,
    /// The `sensitive_values` marks, cleaned (`true` leaves only).
    pub sensitive: Value,
}

#[derive(Deserialize)]
struct RawState<'a> {
    format_version: String,
    #[serde(default)]
    terraform_version: Option<String>,
    #[serde(default, borrow)]
    values: Option<RawStateValues<'a>>,
}

#[derive(Deserialize)]
struct RawStateValues<'a> {
    #[serde(default, borrow)]
    root_module: Option<RawStateModule<'a>>,
}

#[derive(Deserialize)]
struct RawStateModule<'a> {
    #[serde(default)]
    address: Option<String>,
    #[serde(default, borrow)]
    resources: Vec<RawStateResource<'a>>,
    #[serde(default, borrow)]
    child_modules: Vec<RawStateModule<'a>>,
}

#[derive(Deserialize)]
struct RawStateResource<'a> {
    address: String,
    mode: RawMode,
    #[serde(rename = "type")]
    resource_type: String,
    name: String,
    #[serde(default)]
    index: Option<Value>,
    #[serde(default)]
    provider_name: Option<String>,
    #[serde(default)]
    deposed_key: Option<String>,
    #[serde(default, borrow)]
    values: Option<&'a RawValue>,
    #[serde(default, borrow)]
    sensitive_values: Option<&'a RawValue>,
}

/// Parses and masks the state JSON read from `origin` (a name for errors).
pub fn parse_state_json(text: &str, origin: &str) -> Result<AppliedState, PlanError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(PlanError::Empty {
            origin: origin.to_owned(),
        });
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let raw: RawState = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        located(e.into_inner(), origin, Some(path))
    })?;
    check_version(Some(&Value::String(raw.format_version.clone())), origin)?;
    let mut resources = Vec::new();
    let mut secrets = Vec::new();
    if let Some(root) = raw.values.and_then(|v| v.root_module) {
        walk(root, None, origin, &mut resources, &mut secrets)?;
    }
    Ok(AppliedState {
        format_version: raw.format_version,
        engine_version: raw.terraform_version,
        resources,
        sensitive_values: SensitiveValues(secrets),
    })
}

fn walk(
    module: RawStateModule,
    address: Option<String>,
    origin: &str,
    out: &mut Vec<StateResource>,
    secrets: &mut Vec<String>,
) -> Result<(), PlanError> {
    for r in module.resources {
        if r.deposed_key.is_some() {
            continue;
        }
        let parse = |raw: Option<&RawValue>| match raw {
            Some(raw) => serde_json::from_str(raw.get()),
            None => Ok(Value::Null),
        };
        let shape = |e: serde_json::Error| PlanError::Shape {
            origin: origin.to_owned(),
            path: format!("{} (values)", r.address),
            line: 0,
            column: 0,
            message: e.to_string(),
        };
        let values = parse(r.values).map_err(shape)?;
        let sensitive = clean_marks(&parse(r.sensitive_values).map_err(shape)?);
        marked_strings(&values, &sensitive, secrets);
        out.push(StateResource {
            module: address.clone(),
            mode: match r.mode {
                RawMode::Managed => Mode::Managed,
                RawMode::Data => Mode::Data,
            },
            resource_type: r.resource_type,
            name: r.name,
            index: r.index,
            provider: r.provider_name.unwrap_or_default(),
            values: mask(&values, &sensitive),
            sensitive,
            address: r.address,
        });
    }
    for child in module.child_modules {
        let child_address = child.address.clone();
        walk(child, child_address, origin, out, secrets)?;
    }
    Ok(())
}

impl AppliedState {
    /// The state read as a change whose planned values are the applied ones,
    /// so the security rules run on it unchanged: each resource in `touched`
    /// (what the change created, updated or replaced) carries its planned
    /// action, every other one is a no-op. Nothing is unknown any more, and
    /// there is no `configuration`, so relationships are judged by values.
    /// The digest is empty: this is no plan.
    pub fn as_change_set(&self, touched: &BTreeMap<String, Action>) -> ChangeSet {
        let resources: Vec<ResourceChange> = self
            .resources
            .iter()
            .map(|r| ResourceChange {
                address: r.address.clone(),
                module: r.module.clone(),
                mode: r.mode,
                resource_type: r.resource_type.clone(),
                name: r.name.clone(),
                index: r.index.clone(),
                provider: r.provider.clone(),
                action: match r.mode {
                    Mode::Managed => touched.get(&r.address).copied().unwrap_or(Action::NoOp),
                    Mode::Data => Action::NoOp,
                },
                action_reason: None,
                previous_address: None,
                importing: None,
                deposed: None,
                before: JsonText::null(),
                after: JsonText::new(&r.values),
                after_unknown: JsonText::new(&Value::Object(Map::new())),
                after_sensitive: JsonText::new(&r.sensitive),
                diff: Vec::new(),
            })
            .collect();
        let provider_config = Value::Object(Map::new());
        let engine = detect_engine(self.engine_version.as_deref(), &resources, &provider_config);
        ChangeSet {
            format_version: self.format_version.clone(),
            engine,
            engine_version: self.engine_version.clone(),
            resources,
            drift: Vec::new(),
            outputs: Vec::new(),
            errored: None,
            applyable: None,
            complete: None,
            provider_config,
            references: Default::default(),
            digest: String::new(),
            sensitive_values: self.sensitive_values.clone(),
            groups: Default::default(),
        }
    }

    /// The resource at `address`.
    pub fn resource(&self, address: &str) -> Option<&StateResource> {
        self.resources.iter().find(|r| r.address == address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Engine;

    const STATE: &str = r#"{
      "format_version": "0.2", "terraform_version": "1.0.3",
      "values": {
        "outputs": {"token": {"sensitive": true, "value": "out-secret-value"}},
        "root_module": {
          "resources": [{
            "address": "aws_iam_policy.reader", "mode": "managed", "type": "aws_iam_policy",
            "name": "reader", "provider_name": "registry.terraform.io/hashicorp/aws",
            "schema_version": 1,
            "values": {"name": "reader", "description": "canary-S3cr3t-do-not-print",
                       "policy": "{\"Statement\":[{\"Action\":\"*\",\"Effect\":\"Allow\",\"Resource\":\"arn:aws:s3:::b\"}]}"},
            "sensitive_values": {"description": true}
          }, {
            "address": "aws_s3_bucket.old", "mode": "managed", "type": "aws_s3_bucket",
            "name": "old", "deposed_key": "00000001", "values": {"bucket": "old"}
          }],
          "child_modules": [{
            "address": "module.child",
            "resources": [{
              "address": "module.child.aws_s3_bucket.c[\"k\"]", "mode": "managed",
              "type": "aws_s3_bucket", "name": "c", "index": "k",
              "values": {"bucket": "child", "tags": {"pw": "tag-secret-value"}},
              "sensitive_values": {"tags": {"pw": true}}
            }],
            "child_modules": [{
              "address": "module.child.module.deeper",
              "resources": [{
                "address": "module.child.module.deeper.data.aws_caller_identity.me",
                "mode": "data", "type": "aws_caller_identity", "name": "me",
                "values": {"account_id": "123"}, "sensitive_values": {}
              }]
            }]
          }]
        }
      }
    }"#;

    #[test]
    fn child_modules_are_read_and_sensitive_values_masked_as_in_plans() {
        let state = parse_state_json(STATE, "state.json").unwrap();
        let addresses: Vec<&str> = state.resources.iter().map(|r| r.address.as_str()).collect();
        assert_eq!(
            addresses,
            [
                "aws_iam_policy.reader",
                "module.child.aws_s3_bucket.c[\"k\"]",
                "module.child.module.deeper.data.aws_caller_identity.me"
            ],
            "deposed objects are left out"
        );
        let child = &state.resources[1];
        assert_eq!(child.module.as_deref(), Some("module.child"));
        assert_eq!(child.values["tags"]["pw"], crate::plan::SENSITIVE_MASK);
        assert_eq!(
            state.resources[0].values["description"],
            crate::plan::SENSITIVE_MASK
        );
        assert_eq!(state.resources[2].mode, Mode::Data);
        let mut secrets = state.sensitive_values.0.clone();
        secrets.sort();
        assert_eq!(secrets, ["canary-S3cr3t-do-not-print", "tag-secret-value"]);
        // Nothing but the redactor's list holds a secret, and outputs are not held.
        let shown = format!("{:?}", state.resources);
        assert!(!shown.contains("canary") && !shown.contains("tag-secret"));
        assert!(!shown.contains("out-secret-value"));
    }

    #[test]
    fn as_a_change_set_touched_resources_keep_their_action_and_nothing_is_unknown() {
        let state = parse_state_json(STATE, "state.json").unwrap();
        let touched = BTreeMap::from([("aws_iam_policy.reader".to_string(), Action::Create)]);
        let cs = state.as_change_set(&touched);
        assert_eq!(cs.resources[0].action, Action::Create);
        assert_eq!(cs.resources[1].action, Action::NoOp);
        assert_eq!(cs.resources[0].after_unknown, serde_json::json!({}));
        assert_eq!(cs.engine, Engine::Terraform);
        assert!(cs.digest.is_empty());
    }

    #[test]
    fn an_empty_state_has_no_resources_and_a_future_format_is_refused() {
        let empty = parse_state_json(r#"{"format_version":"1.0"}"#, "s").unwrap();
        assert!(empty.resources.is_empty());
        let err = parse_state_json(r#"{"format_version":"2.0"}"#, "s").unwrap_err();
        assert!(matches!(err, PlanError::UnsupportedVersion { .. }), "{err}");
        let err = parse_state_json("{", "s").unwrap_err();
        assert!(matches!(err, PlanError::Syntax { .. }), "{err}");
    }
}
