//! Change groups (issue 13): same-shaped changes read as one line, whole
//! groups are shed (never scattered members), destroys stay listed by
//! address, and the comment does not depend on the plan's order.

use std::collections::BTreeMap;

use phasegate::plan::group::{address_pattern, group_changes, ChangeGroup};
use phasegate::plan::{fleet_plan_json, parse_plan_json, Action, ChangeSet};
use phasegate::render::{self, escape, PhaseView, ProjectView, COMMENT_BUDGET, SUMMARY_BUDGET};
use proptest::prelude::*;
use serde_json::{json, Value};

fn view(changes: ChangeSet) -> PhaseView {
    PhaseView {
        change_id: "CHG-13".into(),
        change_title: Some("Resize the fleet".into()),
        phase_name: "prod".into(),
        phase_index: 2,
        environment: "prod".into(),
        projects: vec![ProjectView {
            name: "fleet".into(),
            changes: changes.into(),
        }],
        sections: vec![],
        run_url: Some("https://github.com/acme/infra/actions/runs/1".into()),
    }
}

fn fleet() -> ChangeSet {
    parse_plan_json(&fleet_plan_json(5_000, 3), "fleet.json").unwrap()
}

#[test]
fn fleet_plan_is_one_instance_group_plus_the_destroyed_databases() {
    let groups = group_changes(&fleet());
    assert_eq!(
        groups.len(),
        2,
        "{:#?}",
        groups.iter().map(|g| &g.pattern).collect::<Vec<_>>()
    );
    let fleet = groups
        .iter()
        .find(|g| g.resource_type == "aws_instance")
        .unwrap();
    assert_eq!(fleet.count(), 5_000);
    assert_eq!(fleet.pattern, "module.fleet[*].aws_instance.web");
    assert_eq!(fleet.module_pattern.as_deref(), Some("module.fleet[*]"));
    assert_eq!(fleet.action, Action::Update);
    let shared: Vec<&str> = fleet.shared.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(shared, ["instance_type"]);
    assert_eq!(fleet.varying.len(), 1);
    assert_eq!(fleet.varying[0].path, "user_data");
    assert_eq!(fleet.varying[0].distinct, 5_000);
    let dbs = groups
        .iter()
        .find(|g| g.resource_type == "aws_db_instance")
        .unwrap();
    assert_eq!(dbs.count(), 3);
    assert!(dbs.destroys());
}

#[test]
fn fleet_comment_fits_names_the_group_and_lists_every_destroy() {
    let v = view(fleet());
    let comment = render::comment(&v);
    assert!(comment.chars().count() <= COMMENT_BUDGET);
    // The group table: count, type, module pattern, the shared change and
    // how many distinct values the varying one has.
    assert!(
        comment.contains("| 5,000 | <code>aws&#95;instance</code>"),
        "{comment}"
    );
    assert!(comment.contains(&escape::code_inline("module.fleet[*]")));
    assert!(comment.contains(&format!(
        "{} <code>\"t3.micro\"</code> → <code>\"t3.small\"</code>",
        escape::code_inline("instance_type")
    )));
    assert!(comment.contains(&format!(
        "{} changed (5,000 distinct values)",
        escape::code_inline("user_data")
    )));
    // The three destroys, by address, in the essentials.
    let (essentials, details) = render::split_block(&comment).unwrap();
    for j in 0..3 {
        let address = escape::code_inline(&format!("aws_db_instance.orders[{j}]"));
        assert!(essentials.contains(&address), "{address} missing");
    }
    // No silent gap: either a member is in the comment, or the note names
    // its whole group and points at the job summary.
    let label = format!(
        "5,000 × {}",
        escape::code_inline("module.fleet[*].aws_instance.web")
    );
    let shown = details.contains("module.fleet[4999].aws_instance.web");
    let named = details.contains("job summary") && details.contains(&label);
    assert!(shown || named, "{details}");
    assert!(
        details.contains("module.fleet[4999].aws_instance.web")
            || !details.contains("module.fleet[0].aws_instance.web"),
        "members of one group were shed piecemeal"
    );
}

#[test]
fn fleet_summary_holds_every_member() {
    let summary = render::summary(&view(fleet()));
    assert!(summary.len() <= SUMMARY_BUDGET);
    for i in [0, 1234, 4999] {
        assert!(
            summary.contains(&format!("module.fleet[{i}].aws_instance.web")),
            "member {i} missing from the summary"
        );
    }
}

/// A plan of creates, updates, replaces, deletes, moves and imports across
/// modules and indexes.
fn mixed_plan() -> Value {
    let rc = |address: &str,
              module: Option<&str>,
              ty: &str,
              name: &str,
              actions: Value,
              before: Value,
              after: Value| {
        let mut v = json!({
            "address": address, "mode": "managed", "type": ty, "name": name,
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {"actions": actions, "before": before, "after": after,
                       "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {}}
        });
        if let Some(m) = module {
            v["module_address"] = json!(m);
        }
        v
    };
    let mut changes = vec![];
    for i in 0..4 {
        changes.push(rc(
            &format!("module.app[\"{i}\"].aws_s3_bucket.logs"),
            Some(&format!("module.app[\"{i}\"]")),
            "aws_s3_bucket",
            "logs",
            json!(["create"]),
            Value::Null,
            json!({"bucket": format!("logs-{i}"), "acl": "private"}),
        ));
    }
    for i in 0..3 {
        changes.push(rc(
            &format!("aws_instance.api[{i}]"),
            None,
            "aws_instance",
            "api",
            json!(["update"]),
            json!({"instance_type": "t3.micro"}),
            json!({"instance_type": "t3.large"}),
        ));
    }
    // Same pattern and action, different changed paths: a group of its own.
    changes.push(rc(
        "aws_instance.api[3]",
        None,
        "aws_instance",
        "api",
        json!(["update"]),
        json!({"instance_type": "t3.micro", "ami": "a"}),
        json!({"instance_type": "t3.micro", "ami": "b"}),
    ));
    for i in 0..2 {
        let mut r = rc(
            &format!("aws_db_instance.db[{i}]"),
            None,
            "aws_db_instance",
            "db",
            json!(["delete", "create"]),
            json!({"engine_version": "14"}),
            json!({"engine_version": "15"}),
        );
        r["change"]["replace_paths"] = json!([["engine_version"]]);
        changes.push(r);
    }
    let mut moved = rc(
        "aws_iam_role.new",
        None,
        "aws_iam_role",
        "new",
        json!(["no-op"]),
        json!({"name": "r"}),
        json!({"name": "r"}),
    );
    moved["previous_address"] = json!("aws_iam_role.old");
    changes.push(moved);
    let mut imported = rc(
        "aws_route53_zone.main",
        None,
        "aws_route53_zone",
        "main",
        json!(["no-op"]),
        json!({"name": "z"}),
        json!({"name": "z"}),
    );
    imported["change"]["importing"] = json!({"id": "Z123"});
    changes.push(imported);
    changes.push(rc(
        "aws_sqs_queue.dead",
        None,
        "aws_sqs_queue",
        "dead",
        json!(["delete"]),
        json!({"name": "q"}),
        Value::Null,
    ));
    json!({
        "format_version": "1.2", "terraform_version": "1.9.8",
        "resource_changes": changes,
        "configuration": {"provider_config": {}}
    })
}

#[test]
fn mixed_plan_groups_by_pattern_action_and_changed_paths() {
    let plan = parse_plan_json(&mixed_plan().to_string(), "mixed.json").unwrap();
    let groups = group_changes(&plan);
    let by: BTreeMap<(String, Action, usize), &ChangeGroup> = groups
        .iter()
        .map(|g| ((g.pattern.clone(), g.action, g.paths.len()), g))
        .collect();
    let get = |p: &str, a: Action, n: usize| {
        *by.get(&(p.to_string(), a, n))
            .unwrap_or_else(|| panic!("no group {p} {a:?} {n}: {:#?}", by.keys()))
    };
    let buckets = get("module.app[*].aws_s3_bucket.logs", Action::Create, 2);
    assert_eq!(buckets.count(), 4);
    assert_eq!(buckets.module_pattern.as_deref(), Some("module.app[*]"));
    assert_eq!(
        buckets.varying.len(),
        1,
        "bucket names differ, the acl does not"
    );
    assert_eq!(get("aws_instance.api[*]", Action::Update, 1).count(), 3);
    assert_eq!(
        get("aws_instance.api[*]", Action::Update, 1).shared.len(),
        1
    );
    assert_eq!(
        get("aws_instance.api[*]", Action::Update, 1).members,
        [
            "aws_instance.api[0]",
            "aws_instance.api[1]",
            "aws_instance.api[2]"
        ]
    );
    // ami changed on [3] only: its changed paths differ, so it stands alone.
    assert!(groups.iter().any(|g| g.members == ["aws_instance.api[3]"]));
    let replaces = get("aws_db_instance.db[*]", Action::ReplaceDestroyFirst, 1);
    assert_eq!(replaces.count(), 2);
    assert!(groups
        .iter()
        .any(|g| g.moving && g.members == ["aws_iam_role.new"]));
    assert!(groups
        .iter()
        .any(|g| g.importing && g.members == ["aws_route53_zone.main"]));

    // Replaces and destroys stay listed by address in the comment.
    let comment = render::comment(&view(plan));
    let (essentials, _) = render::split_block(&comment).unwrap();
    for a in [
        "aws_db_instance.db[0]",
        "aws_db_instance.db[1]",
        "aws_sqs_queue.dead",
    ] {
        assert!(
            essentials.contains(&escape::code_inline(a)),
            "{a} not listed"
        );
    }
    assert!(
        essentials.contains("| 4 | <code>aws&#95;s3&#95;bucket</code>"),
        "{essentials}"
    );
}

#[test]
fn json_output_carries_groups_with_member_addresses() {
    let plan = parse_plan_json(&mixed_plan().to_string(), "mixed.json").unwrap();
    let json = serde_json::to_value(group_changes(&plan)).unwrap();
    let buckets = json
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["pattern"] == "module.app[*].aws_s3_bucket.logs")
        .unwrap();
    assert_eq!(buckets["members"].as_array().unwrap().len(), 4);
    assert_eq!(buckets["type"], "aws_s3_bucket");
    assert_eq!(buckets["varying"][0]["distinct"], 4);
}

#[test]
fn shuffled_resource_changes_give_a_byte_identical_comment() {
    let plan = mixed_plan();
    let mut shuffled = plan.clone();
    let list = shuffled["resource_changes"].as_array_mut().unwrap();
    list.reverse();
    list.rotate_left(5);
    let a = parse_plan_json(&plan.to_string(), "a.json").unwrap();
    let b = parse_plan_json(&shuffled.to_string(), "a.json").unwrap();
    assert_eq!(
        render::comment(&view(a.clone())),
        render::comment(&view(b.clone()))
    );
    assert_eq!(render::summary(&view(a)), render::summary(&view(b)));

    let fleet_text = fleet_plan_json(300, 3);
    let mut fleet: Value = serde_json::from_str(&fleet_text).unwrap();
    let one = render::comment(&view(parse_plan_json(&fleet_text, "f.json").unwrap()));
    fleet["resource_changes"].as_array_mut().unwrap().reverse();
    let two = render::comment(&view(
        parse_plan_json(&fleet.to_string(), "f.json").unwrap(),
    ));
    assert_eq!(one, two);
}

#[test]
fn hostile_text_in_a_grouped_value_stays_inert() {
    let hostile =
        "[x](https://evil.example) <img src=x> @org/admins #1 <!-- phasegate -->\n</details>`|";
    let mut plan = json!({"format_version": "1.2", "resource_changes": [], "configuration": {"provider_config": {}}});
    for i in 0..3 {
        plan["resource_changes"].as_array_mut().unwrap().push(json!({
            "address": format!("aws_instance.w[{i}]"), "mode": "managed", "type": "aws_instance",
            "name": "w", "index": i, "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {"actions": ["update"],
                       "before": {"tags": {"a": "x"}, "user_data": format!("{hostile}{i}")},
                       "after": {"tags": {"a": hostile}, "user_data": format!("{hostile}{i}!")},
                       "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {}}
        }));
    }
    let changes = parse_plan_json(&plan.to_string(), "h.json").unwrap();
    for text in [
        render::comment(&view(changes.clone())),
        render::summary(&view(changes)),
    ] {
        assert!(text.contains("evil.example"), "the value is shown");
        let found = crate::inert::violations(&text, &["github.com"]);
        assert!(found.is_empty(), "{found:#?}\n{text}");
        assert_eq!(
            text.matches("</details>").count(),
            text.matches("<details>").count()
        );
    }
}

/// A small random plan: resources over a few modules, types, indexes,
/// actions and changed attributes.
fn arb_plan() -> impl Strategy<Value = Value> {
    let one = (
        0..3usize,
        0..3usize,
        0..6usize,
        0..5usize,
        proptest::collection::vec(0..3usize, 0..3),
    );
    proptest::collection::vec(one, 0..40).prop_map(|items| {
        let actions = [json!(["create"]), json!(["update"]), json!(["delete"]), json!(["delete", "create"]), json!(["no-op"])];
        let mut seen = std::collections::BTreeSet::new();
        let mut changes = vec![];
        for (m, t, idx, a, attrs) in items {
            let ty = ["aws_instance", "aws_s3_bucket", "aws_sqs_queue"][t];
            let module = (m > 0).then(|| format!("module.m{m}[{idx}]"));
            let address = match &module {
                Some(md) => format!("{md}.{ty}.r"),
                None => format!("{ty}.r[{idx}]"),
            };
            if !seen.insert(address.clone()) {
                continue;
            }
            let before: serde_json::Map<String, Value> = attrs.iter().map(|k| (format!("k{k}"), json!("old"))).collect();
            let after: serde_json::Map<String, Value> = attrs.iter().map(|k| (format!("k{k}"), json!(format!("new{idx}")))).collect();
            let mut rc = json!({
                "address": address, "mode": "managed", "type": ty, "name": "r",
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {"actions": actions[a], "before": before, "after": after,
                           "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {}}
            });
            if let Some(md) = module {
                rc["module_address"] = json!(md);
            }
            changes.push(rc);
        }
        json!({"format_version": "1.2", "resource_changes": changes, "configuration": {"provider_config": {}}})
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_changed_resource_is_in_exactly_one_group_and_counts_add_up(plan in arb_plan()) {
        let changes = parse_plan_json(&plan.to_string(), "p.json").unwrap();
        let groups = group_changes(&changes);
        let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
        for g in &groups {
            prop_assert_eq!(g.indexes.len(), g.members.len());
            for &i in &g.indexes {
                *seen.entry(i).or_default() += 1;
                let rc = &changes.resources[i];
                prop_assert_eq!(address_pattern(&rc.address), g.pattern.clone());
                prop_assert_eq!(rc.action, g.action);
            }
        }
        for (i, rc) in changes.resources.iter().enumerate() {
            let listed = rc.action != Action::NoOp || rc.is_import() || rc.is_move();
            prop_assert_eq!(seen.get(&i).copied().unwrap_or(0), usize::from(listed), "{}", rc.address);
        }
        // The groups' counts add up to the plan's counts.
        let counts = changes.counts();
        let sum = |f: fn(Action) -> bool| groups.iter().filter(|g| f(g.action)).map(ChangeGroup::count).sum::<usize>();
        prop_assert_eq!(sum(|a| a == Action::Create || a.is_replace()), counts.add);
        prop_assert_eq!(sum(|a| a == Action::Update), counts.change);
        prop_assert_eq!(sum(Action::destroys), counts.destroy);
    }
}
