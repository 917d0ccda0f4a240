//! The policy report as SARIF 2.1.0: one rule per policy rule that fired,
//! each result at the rule's declaration in its `.rego` file and at the
//! resource it names.

use serde_json::{json, Value};

use super::PolicyReport;
use crate::gates::Severity;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

pub fn to_sarif(report: &PolicyReport) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for f in &report.findings {
        if !ids.contains(&f.id) {
            let title = format!(
                "{} rule {}.{} ({})",
                f.kind.as_str(),
                f.namespace,
                f.rule,
                f.policy_set
            );
            rules.push(json!({
                "id": f.id,
                "name": format!("{}.{}", f.namespace, f.rule),
                "shortDescription": { "text": title },
                "help": { "text": format!("Declared at {}:{}. Fix the change or acknowledge {} in the change plan.", f.file, f.line, f.id) },
                "defaultConfiguration": { "level": level(f.severity) },
                "properties": { "severity": f.severity, "tags": ["policy", "rego", "terraform"] }
            }));
            ids.push(f.id.clone());
        }
    }
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let index = ids.iter().position(|i| i == &f.id).unwrap_or(0);
            let mut locations = vec![json!({
                "physicalLocation": {
                    "artifactLocation": { "uri": f.file },
                    "region": { "startLine": f.line.max(1) }
                }
            })];
            if let Some(a) = &f.address {
                locations[0]["logicalLocations"] = json!([{ "fullyQualifiedName": a, "kind": "resource" }]);
            }
            let mut r = json!({
                "ruleId": f.id,
                "ruleIndex": index,
                "level": level(f.severity),
                "message": { "text": f.message },
                "locations": locations,
                "properties": { "severity": f.severity, "kind": f.kind, "project": f.project }
            });
            if f.acknowledged {
                r["suppressions"] = json!([{ "kind": "external", "justification": "acknowledged in the change plan" }]);
            }
            r
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "phasegate-policy",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/phasegate/phasegate",
                "rules": rules,
            }},
            "results": results,
        }]
    })
}
