//! The markdown renderer with its budgets. The fuzzer picks resources
//! (types, names, `for_each` keys, actions, attribute values, how many of
//! them and how long) for a plan; the comment rendered from it must:
//! - be at most 65,536 characters;
//! - carry the plan digest and a destroy warning for every destroyed or
//!   replaced address (or, when cut, say how many more are in the summary);
//! - never show the canary value planted in a sensitive attribute;
//! - hold no live link, image, raw HTML, mention or issue reference that
//!   came from plan text (the GFM checker of tests/it/inert.rs).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use phasegate::plan::parse_plan_json;
use phasegate::render::{self, escape, PhaseView, ProjectView, COMMENT_BUDGET, DETAILS_MARKER};
use serde_json::{json, Value};

#[path = "../../tests/it/inert.rs"]
#[allow(dead_code)]
mod inert;

const CANARY: &str = "CANARY-7f3a9c-sensitive";

#[derive(Debug, Arbitrary)]
struct Input {
    resources: Vec<Resource>,
    /// Repeat the resource list this many times (up to 64) with new keys,
    /// so budgets are exercised without huge inputs.
    repeat: u8,
    title: String,
}

#[derive(Debug, Arbitrary)]
struct Resource {
    kind: u8,
    key: String,
    action: u8,
    module: Option<String>,
    before: String,
    after: String,
    /// Repeat `after` this many times (up to 255) to make large values.
    grow: u8,
}

const TYPES: &[&str] = &[
    "aws_instance",
    "aws_db_instance",
    "aws_s3_bucket",
    "google_compute_instance",
    "azurerm_storage_account",
    "aws_security_group",
];

fn actions(code: u8) -> Value {
    match code % 6 {
        0 => json!(["create"]),
        1 => json!(["update"]),
        2 => json!(["delete"]),
        3 => json!(["delete", "create"]),
        4 => json!(["create", "delete"]),
        _ => json!(["no-op"]),
    }
}

fn resource(r: &Resource, copy: usize) -> Value {
    let ty = TYPES[r.kind as usize % TYPES.len()];
    let key = format!(
        "{}{}",
        r.key,
        if copy > 0 {
            copy.to_string()
        } else {
            String::new()
        }
    );
    let module = r.module.as_ref().map(|m| format!("module.{}", json!(m)));
    let local = format!("{ty}.r[{}]", json!(key));
    let address = match &module {
        Some(m) => format!("{m}.{local}"),
        None => local,
    };
    let acts = actions(r.action);
    let deleting = acts == json!(["delete"]);
    let creating = acts == json!(["create"]);
    let before = if creating {
        Value::Null
    } else {
        json!({"name": r.before, "password": CANARY, "tags": {"k": r.before}})
    };
    let after = if deleting {
        Value::Null
    } else {
        json!({"name": r.after.repeat(1 + r.grow as usize), "password": CANARY, "tags": {"k": r.after}})
    };
    let sensitive = if deleting {
        json!(false)
    } else {
        json!({"password": true})
    };
    let before_sensitive = if creating {
        json!(false)
    } else {
        json!({"password": true})
    };
    let mut rc = json!({
        "address": address,
        "mode": "managed",
        "type": ty,
        "name": "r",
        "index": key,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": acts,
            "before": before,
            "after": after,
            "after_unknown": if deleting { json!(false) } else { json!({"id": true}) },
            "before_sensitive": before_sensitive,
            "after_sensitive": sensitive
        }
    });
    if let Some(m) = module {
        rc["module_address"] = json!(m);
    }
    rc
}

fuzz_target!(|input: Input| {
    let repeat = 1 + (input.repeat as usize % 64);
    // One change per address: a real plan never repeats one (but for
    // deposed objects, which this generator does not make).
    let mut seen = std::collections::HashSet::new();
    let mut changes = Vec::new();
    for copy in 0..repeat {
        for r in &input.resources {
            let rc = resource(r, copy);
            if seen.insert(rc["address"].as_str().unwrap_or_default().to_string()) {
                changes.push(rc);
            }
        }
    }
    let plan = json!({
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "resource_changes": changes,
        "configuration": {"provider_config": {}},
        "errored": false, "applyable": true, "complete": true
    })
    .to_string();
    let Ok(changes) = parse_plan_json(&plan, "fuzz.json") else {
        return;
    };
    let digest = changes.digest.clone();
    let destroyed: Vec<String> = changes.destroyed().map(|r| r.address.clone()).collect();
    let view = PhaseView {
        change_id: "CHG-1".into(),
        change_title: Some(input.title.clone()),
        phase_name: "dev".into(),
        phase_index: 0,
        environment: "dev".into(),
        projects: vec![ProjectView {
            name: "app".into(),
            changes,
        }],
        sections: vec![],
        run_url: Some("https://github.com/o/r/actions/runs/1".into()),
    };
    let comment = render::comment(&view);
    let chars = comment.chars().count();
    assert!(chars <= COMMENT_BUDGET, "{chars} chars");
    let (essentials, _) = comment
        .split_once(DETAILS_MARKER)
        .expect("every block has the details marker");
    assert!(essentials.contains(&digest), "digest missing");
    let shown = destroyed
        .iter()
        .filter(|a| essentials.contains(&escape::inline(a)))
        .count();
    if shown < destroyed.len() {
        // A cut warning says how many more are in the job summary.
        let more = destroyed.len() - shown;
        assert!(
            essentials.contains(&format!("…and {more} more, listed in the job summary")),
            "{shown} of {} destroys shown and no cut note",
            destroyed.len()
        );
    }
    assert!(!comment.contains(CANARY), "the sensitive canary leaked");
    let found = inert::violations(&comment, &["github.com"]);
    assert!(found.is_empty(), "{found:#?}");
});
