//! A generator of large, valid format-1.2 plans for tests and benchmarks (the
//! comment size budget is tested against thousands of resources).

use serde_json::{json, Map, Value};

/// A plan of `resources` managed resource changes, the first `destroys` of
/// which are replacements (one add and one destroy each) and the rest
/// updates, each with `attrs_per_resource` changed attributes, one of them
/// sensitive and one unknown after apply.
pub fn synthetic_plan_json(resources: usize, destroys: usize, attrs_per_resource: usize) -> String {
    let changes: Vec<Value> = (0..resources)
        .map(|i| resource(i, i < destroys, attrs_per_resource))
        .collect();
    let plan = json!({
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "variables": {"region": {"value": "eu-west-1"}},
        "resource_changes": changes,
        "output_changes": {
            "count": {
                "actions": ["update"],
                "before": resources.saturating_sub(1),
                "after": resources,
                "after_unknown": false,
                "before_sensitive": false,
                "after_sensitive": false
            }
        },
        "configuration": {"provider_config": {"aws": {
            "name": "aws",
            "full_name": "registry.terraform.io/hashicorp/aws",
            "expressions": {"region": {"constant_value": "eu-west-1"}}
        }}},
        "errored": false,
        "applyable": true,
        "complete": true
    });
    plan.to_string()
}

fn resource(i: usize, replace: bool, attrs: usize) -> Value {
    let mut before = Map::new();
    let mut after = Map::new();
    let mut before_sensitive = Map::new();
    let mut after_sensitive = Map::new();
    for a in 0..attrs {
        let key = format!("attribute_{a:03}");
        before.insert(
            key.clone(),
            json!(format!(
                "old value {a} of resource {i} with some padding text"
            )),
        );
        after.insert(
            key,
            json!(format!(
                "new value {a} of resource {i} with some padding text"
            )),
        );
    }
    before.insert("id".into(), json!(format!("i-{i:08x}")));
    before.insert("password".into(), json!(format!("old-secret-{i}")));
    after.insert("password".into(), json!(format!("new-secret-{i}")));
    before_sensitive.insert("password".into(), json!(true));
    after_sensitive.insert("password".into(), json!(true));
    let (actions, replace_paths) = if replace {
        (json!(["delete", "create"]), json!([["attribute_000"]]))
    } else {
        (json!(["update"]), json!([]))
    };
    json!({
        "address": format!("aws_instance.synthetic[{i}]"),
        "mode": "managed",
        "type": "aws_instance",
        "name": "synthetic",
        "index": i,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": {"id": true},
            "before_sensitive": before_sensitive,
            "after_sensitive": after_sensitive,
            "replace_paths": replace_paths
        }
    })
}

/// The fleet plan of issue 13: `instances` instances in `module.fleet[*]`
/// change `instance_type` the same way and `user_data` each differently, and
/// `databases` databases are destroyed.
pub fn fleet_plan_json(instances: usize, databases: usize) -> String {
    let mut changes: Vec<Value> = (0..instances)
        .map(|i| {
            json!({
                "address": format!("module.fleet[{i}].aws_instance.web"),
                "module_address": format!("module.fleet[{i}]"),
                "mode": "managed",
                "type": "aws_instance",
                "name": "web",
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {
                    "actions": ["update"],
                    "before": {"ami": "ami-1", "instance_type": "t3.micro",
                               "user_data": format!("#!/bin/sh\necho node {i} v1\n")},
                    "after": {"ami": "ami-1", "instance_type": "t3.small",
                              "user_data": format!("#!/bin/sh\necho node {i} v2\n")},
                    "after_unknown": {},
                    "before_sensitive": {},
                    "after_sensitive": {}
                }
            })
        })
        .collect();
    changes.extend((0..databases).map(|j| {
        json!({
            "address": format!("aws_db_instance.orders[{j}]"),
            "mode": "managed",
            "type": "aws_db_instance",
            "name": "orders",
            "index": j,
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {
                "actions": ["delete"],
                "before": {"identifier": format!("orders-{j}"), "instance_class": "db.t3.micro"},
                "after": null,
                "after_unknown": {},
                "before_sensitive": {},
                "after_sensitive": false
            }
        })
    }));
    json!({
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "resource_changes": changes,
        "configuration": {"provider_config": {"aws": {
            "name": "aws",
            "expressions": {"region": {"constant_value": "us-east-1"}}
        }}},
        "errored": false,
        "applyable": true,
        "complete": true
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::parse_plan_json;

    #[test]
    fn synthetic_plan_parses_with_the_requested_counts() {
        let plan = parse_plan_json(&synthetic_plan_json(20, 5, 4), "synthetic.json").unwrap();
        let counts = plan.counts();
        assert_eq!((counts.add, counts.change, counts.destroy), (5, 15, 5));
        assert!(plan.resources.iter().all(|r| r.diff.len() == 6));
    }

    #[test]
    fn synthetic_plan_secrets_are_masked() {
        let plan = parse_plan_json(&synthetic_plan_json(3, 1, 2), "synthetic.json").unwrap();
        let text = serde_json::to_string(&plan).unwrap();
        assert!(!text.contains("-secret-"), "{text}");
    }

    #[test]
    fn five_thousand_resources_parse_with_their_destroys() {
        // Speed is measured in benches/pipeline.rs, not here.
        let text = synthetic_plan_json(5_000, 500, 10);
        let plan = parse_plan_json(&text, "synthetic.json").unwrap();
        assert_eq!(plan.counts().destroy, 500);
        assert_eq!(plan.resources.len(), 5_000);
    }
}
