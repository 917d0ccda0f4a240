//! The policy input: the plan JSON exactly as `terraform show -json` wrote it
//! (what conftest hands a policy), with every value Terraform marks sensitive
//! replaced by the mask before any policy sees it.
//!
//! What is masked, and why each place:
//! - `resource_changes` / `resource_drift`: `before` and `after` by the union
//!   of both sides' marks (a value sensitive on one side was the same secret
//!   on the other), and `after_unknown` collapsed under those marks so map
//!   keys inside a sensitive value cannot leak through it;
//! - `output_changes`: a sensitive output whole;
//! - `planned_values` / `prior_state`: resource `values` by their
//!   `sensitive_values` marks, outputs flagged `sensitive`;
//! - `variables`: every value whose declaration in `configuration` is not
//!   known to be non-sensitive (fail closed: format 0.1 has no marks and a
//!   plan may omit the declaration), and the default of a sensitive variable.
//!
//! The strings masked are kept so the gate can scrub them from any message a
//! policy builds from its own data, as a second line of defence.

use serde_json::{Map, Value};

use crate::plan::{clean_marks, collapse_under, mask, union_marks, SENSITIVE_MASK};

/// The masked plan and the secrets taken out of it.
#[derive(Debug, Clone)]
pub struct PolicyInput {
    /// The masked plan; `Null` once [`PolicyInput::into_rego`] moved it into
    /// the Rego tree.
    pub plan: Value,
    /// Every string leaf that was masked, longest first.
    pub masked: Vec<String>,
    /// The plan as regorus holds it, built once and shared by every set.
    rego: std::sync::OnceLock<regorus::Value>,
}

impl PolicyInput {
    /// The masked plan as the policies' `input`: converted from [`Self::plan`]
    /// on first use, once for every set and rule that reads it.
    pub fn rego(&self) -> &regorus::Value {
        self.rego.get_or_init(|| {
            use serde::Deserialize;
            regorus::Value::deserialize(&self.plan).unwrap_or(regorus::Value::Undefined)
        })
    }

    /// Moves the masked plan into its Rego tree, so that a large plan is not
    /// held twice (as `serde_json` and as regorus values) while the policies
    /// run. [`Self::plan`] is `Null` afterwards.
    pub fn into_rego(mut self) -> PolicyInput {
        if self.rego.get().is_none() {
            let plan = std::mem::take(&mut self.plan);
            let _ = self.rego.set(regorus::Value::from(plan));
        }
        self.plan = Value::Null;
        self
    }
}

/// Masks `plan` (a parsed `show -json` document) for the policies.
pub fn mask_plan(mut plan: Value) -> PolicyInput {
    let mut masked = Vec::new();
    let sensitive_vars = declared_sensitivity(&plan);
    if let Some(root) = plan.as_object_mut() {
        for key in ["resource_changes", "resource_drift"] {
            if let Some(Value::Array(changes)) = root.get_mut(key) {
                for rc in changes {
                    if let Some(change) = rc.get_mut("change") {
                        mask_change(change, &mut masked);
                    }
                }
            }
        }
        if let Some(Value::Object(outputs)) = root.get_mut("output_changes") {
            for change in outputs.values_mut() {
                mask_change(change, &mut masked);
            }
        }
        for key in ["planned_values", "prior_state"] {
            let values = match root.get_mut(key) {
                Some(v) if key == "prior_state" => v.get_mut("values"),
                other => other,
            };
            if let Some(values) = values {
                mask_values(values, &mut masked);
            }
        }
        if let Some(Value::Object(vars)) = root.get_mut("variables") {
            for (name, var) in vars.iter_mut() {
                if sensitive_vars.get(name) != Some(&Value::Bool(false)) {
                    if let Some(v) = var.get_mut("value") {
                        mask_by(v, &Value::Bool(true), &mut masked);
                    }
                }
            }
        }
        if let Some(vars) = root
            .get_mut("configuration")
            .and_then(|c| c.get_mut("root_module"))
            .and_then(|m| m.get_mut("variables"))
            .and_then(Value::as_object_mut)
        {
            for var in vars.values_mut() {
                if var.get("sensitive") == Some(&Value::Bool(true)) {
                    if let Some(v) = var.get_mut("default") {
                        mask_by(v, &Value::Bool(true), &mut masked);
                    }
                }
            }
        }
    }
    masked.sort_by_key(|s| std::cmp::Reverse(s.len()));
    masked.dedup();
    PolicyInput {
        plan,
        masked,
        rego: std::sync::OnceLock::new(),
    }
}

/// `text` with every masked string replaced by the mask. Short strings are
/// left alone: masking `1` or `on` everywhere would garble every message.
pub fn scrub(text: &str, masked: &[String]) -> String {
    let mut out = text.to_string();
    for secret in masked.iter().filter(|s| s.chars().count() >= 4) {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), SENSITIVE_MASK);
        }
    }
    out
}

/// Variable name → declared sensitive, from the root module's configuration.
fn declared_sensitivity(plan: &Value) -> Map<String, Value> {
    plan.pointer("/configuration/root_module/variables")
        .and_then(Value::as_object)
        .map(|vars| {
            vars.iter()
                .map(|(k, v)| {
                    let s = v.get("sensitive").and_then(Value::as_bool).unwrap_or(false);
                    (k.clone(), Value::Bool(s))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn mask_change(change: &mut Value, masked: &mut Vec<String>) {
    let marks = union_marks(
        &clean_marks(change.get("before_sensitive").unwrap_or(&Value::Null)),
        &clean_marks(change.get("after_sensitive").unwrap_or(&Value::Null)),
    );
    for side in ["before", "after"] {
        if let Some(v) = change.get_mut(side) {
            mask_by(v, &marks, masked);
        }
    }
    if let Some(unknown) = change.get_mut("after_unknown") {
        *unknown = collapse_under(unknown, &marks);
    }
}

fn mask_values(values: &mut Value, masked: &mut Vec<String>) {
    if let Some(Value::Object(outputs)) = values.get_mut("outputs") {
        for out in outputs.values_mut() {
            if out.get("sensitive") == Some(&Value::Bool(true)) {
                if let Some(v) = out.get_mut("value") {
                    mask_by(v, &Value::Bool(true), masked);
                }
            }
        }
    }
    if let Some(root) = values.get_mut("root_module") {
        mask_module(root, masked);
    }
}

fn mask_module(module: &mut Value, masked: &mut Vec<String>) {
    if let Some(Value::Array(resources)) = module.get_mut("resources") {
        for r in resources {
            let marks = clean_marks(r.get("sensitive_values").unwrap_or(&Value::Null));
            if let Some(v) = r.get_mut("values") {
                mask_by(v, &marks, masked);
            }
        }
    }
    if let Some(Value::Array(children)) = module.get_mut("child_modules") {
        for child in children {
            mask_module(child, masked);
        }
    }
}

/// Masks what `marks` flags (the plan model's own masking), keeping the
/// strings it took out for scrubbing.
fn mask_by(value: &mut Value, marks: &Value, masked: &mut Vec<String>) {
    let after = mask(value, marks);
    removed(value, &after, masked);
    *value = after;
}

/// The string leaves and object keys of `before` that `after` masked.
fn removed(before: &Value, after: &Value, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, v) in b {
                if let Some(x) = a.get(k) {
                    removed(v, x, out);
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            for (v, x) in b.iter().zip(a) {
                removed(v, x, out);
            }
        }
        (b, Value::String(s)) if s == SENSITIVE_MASK && b != after => collect_strings(b, out),
        _ => {}
    }
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Object(m) => {
            for (k, v) in m {
                out.push(k.clone());
                collect_strings(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sensitive_leaves_are_masked_on_both_sides_and_their_keys_hidden() {
        let plan = json!({"resource_changes": [{"change": {
            "before": {"pw": "old-secret", "port": 1},
            "after": {"pw": "new-secret", "port": 2, "m": {"k-secret": "v"}},
            "after_unknown": {"m": {"k-secret": true}},
            "before_sensitive": {}, "after_sensitive": {"pw": true, "m": true}
        }}]});
        let input = mask_plan(plan);
        let text = input.plan.to_string();
        assert!(!text.contains("secret"), "{text}");
        assert_eq!(
            input.plan["resource_changes"][0]["change"]["after"]["port"],
            2
        );
        assert_eq!(
            input.plan["resource_changes"][0]["change"]["after_unknown"]["m"],
            true
        );
    }

    #[test]
    fn undeclared_variables_are_masked_and_declared_plain_ones_kept() {
        let plan = json!({
            "variables": {"region": {"value": "eu-west-1"}, "pw": {"value": "hunter22"}},
            "configuration": {"root_module": {"variables": {"region": {}, "pw": {"sensitive": true, "default": "dflt-secret"}}}}
        });
        let input = mask_plan(plan);
        assert_eq!(input.plan["variables"]["region"]["value"], "eu-west-1");
        assert_eq!(input.plan["variables"]["pw"]["value"], SENSITIVE_MASK);
        assert!(!input.plan.to_string().contains("dflt-secret"));
        assert_eq!(
            scrub("pw is hunter22", &input.masked),
            format!("pw is {SENSITIVE_MASK}")
        );
    }

    /// The Rego input moved out of the masked plan is the one converted from
    /// it in place: the same masked values, with nothing else kept.
    #[test]
    fn the_rego_tree_moved_out_equals_the_one_converted_in_place() {
        let plan = json!({"resource_changes": [{"address": "a.b", "change": {
            "before": null, "after": {"pw": "new-secret", "port": 2},
            "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {"pw": true}
        }}]});
        let in_place = mask_plan(plan.clone());
        let expected = in_place.rego().clone();
        let moved = mask_plan(plan).into_rego();
        assert!(moved.plan.is_null());
        assert_eq!(moved.rego(), &expected);
        assert_eq!(
            moved.rego()["resource_changes"][0]["change"]["after"]["pw"],
            regorus::Value::from(SENSITIVE_MASK)
        );
        assert_eq!(moved.masked, vec!["new-secret".to_string()]);
    }
}
