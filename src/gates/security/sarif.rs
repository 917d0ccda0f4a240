//! SARIF 2.1.0: exporting the report for code scanning, and importing the
//! SARIF that Checkov, Trivy and tfsec write, as findings.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{json, Value};

use super::{catalog, Crosswalk, Finding, FindingOutcome, SecurityError, SecurityReport};
use crate::gates::Severity;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity` scale.
fn score(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

fn rule_json(
    id: &str,
    title: &str,
    help: &str,
    severity: Severity,
    crosswalk: &Crosswalk,
) -> Value {
    json!({
        "id": id,
        "name": id,
        "shortDescription": { "text": title },
        "fullDescription": { "text": title },
        "help": { "text": help, "markdown": help },
        "defaultConfiguration": { "level": level(severity) },
        "properties": {
            "security-severity": score(severity),
            "severity": severity,
            "tags": ["security", "terraform"],
            "checkov": crosswalk.checkov,
            "trivy": crosswalk.trivy,
        }
    })
}

/// The report as a SARIF 2.1.0 log. Rules are the whole catalog plus any
/// imported rule ids; each result names its resource as a logical location.
pub fn to_sarif(report: &SecurityReport) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for r in catalog() {
        let cw = Crosswalk {
            checkov: r.checkov.iter().map(|s| s.to_string()).collect(),
            trivy: r.trivy.iter().map(|s| s.to_string()).collect(),
        };
        let mut rule = rule_json(r.id, r.title, r.remediation, r.severity, &cw);
        rule["properties"]["checkov_note"] = Value::String(r.checkov_note.to_string());
        rules.push(rule);
        ids.push(r.id.to_string());
    }
    for f in &report.findings {
        if !ids.contains(&f.id) {
            rules.push(rule_json(
                &f.id,
                &f.title,
                &f.remediation,
                f.severity,
                &f.crosswalk,
            ));
            ids.push(f.id.clone());
        }
    }
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let index = ids.iter().position(|i| i == &f.id).unwrap_or(0);
            let mut r = json!({
                "ruleId": f.id,
                "ruleIndex": index,
                "level": level(f.severity),
                "message": { "text": format!("{}: {}", f.address, f.message) },
                "locations": [{
                    "logicalLocations": [{ "fullyQualifiedName": f.address, "kind": "resource" }]
                }],
                "properties": { "severity": f.severity, "source": f.source }
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
                "name": "phasegate",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/phasegate/phasegate",
                "rules": rules,
            }},
            "results": results,
        }]
    })
}

fn severity_from_score(s: f64) -> Severity {
    match s {
        s if s >= 9.0 => Severity::Critical,
        s if s >= 7.0 => Severity::High,
        s if s >= 4.0 => Severity::Medium,
        s if s > 0.0 => Severity::Low,
        _ => Severity::Info,
    }
}

fn severity_from_word(w: &str) -> Option<Severity> {
    match w.to_ascii_lowercase().as_str() {
        "critical" => Some(Severity::Critical),
        "high" | "error" => Some(Severity::High),
        "medium" | "moderate" | "warning" => Some(Severity::Medium),
        "low" | "note" => Some(Severity::Low),
        "info" | "none" => Some(Severity::Info),
        _ => None,
    }
}

/// Severity from the most specific source a scanner fills in: its
/// `security-severity` score, then a severity word in properties or tags,
/// then the SARIF level.
fn severity_of(result: &Value, rule: Option<&Value>) -> Severity {
    let props = [
        result.get("properties"),
        rule.and_then(|r| r.get("properties")),
    ];
    for p in props.iter().flatten() {
        if let Some(s) = p.get("security-severity") {
            let n = s
                .as_f64()
                .or_else(|| s.as_str().and_then(|t| t.parse().ok()));
            if let Some(n) = n {
                return severity_from_score(n);
            }
        }
    }
    for p in props.iter().flatten() {
        if let Some(sev) = p
            .get("severity")
            .and_then(Value::as_str)
            .and_then(severity_from_word)
        {
            return sev;
        }
        let tags = p
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for t in tags.filter_map(Value::as_str) {
            if let Some(sev) =
                severity_from_word(t).filter(|_| t.chars().all(|c| c.is_ascii_uppercase()))
            {
                return sev;
            }
        }
    }
    let lvl = result
        .get("level")
        .or_else(|| rule.and_then(|r| r.pointer("/defaultConfiguration/level")))
        .and_then(Value::as_str)
        .unwrap_or("warning");
    severity_from_word(lvl).unwrap_or(Severity::Medium)
}

static ADDRESS_IN_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b((?:module\.[\w-]+(?:\[[^\]]+\])?\.)*(?:data\.)?(?:aws|google|azurerm|azuread|kubernetes)_[a-z0-9_]+\.[\w-]+(?:\[[^\]]+\])?)"#)
        .expect("address regex compiles")
});

fn address_of(result: &Value) -> String {
    let locs = result
        .get("locations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for loc in locs.clone() {
        let logical = loc
            .get("logicalLocations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for l in logical {
            if let Some(a) = l
                .get("fullyQualifiedName")
                .or_else(|| l.get("name"))
                .and_then(Value::as_str)
            {
                return a.to_string();
            }
        }
    }
    if let Some(text) = result.pointer("/message/text").and_then(Value::as_str) {
        if let Some(m) = ADDRESS_IN_TEXT.captures(text) {
            return m[1].to_string();
        }
    }
    for loc in locs {
        if let Some(uri) = loc
            .pointer("/physicalLocation/artifactLocation/uri")
            .and_then(Value::as_str)
        {
            let line = loc
                .pointer("/physicalLocation/region/startLine")
                .and_then(Value::as_u64);
            return line.map_or_else(|| uri.to_string(), |l| format!("{uri}:{l}"));
        }
    }
    "(unknown)".to_string()
}

/// Reads another scanner's SARIF log as findings, keeping its rule ids.
pub fn import_sarif(text: &str, origin: &str) -> Result<Vec<Finding>, SecurityError> {
    let log: Value = serde_json::from_str(text).map_err(|source| SecurityError::SarifJson {
        origin: origin.to_string(),
        source,
    })?;
    let shape = |reason: &str| SecurityError::SarifShape {
        origin: origin.to_string(),
        reason: reason.to_string(),
    };
    let runs = log
        .get("runs")
        .and_then(Value::as_array)
        .ok_or_else(|| shape("no `runs` array"))?;
    let mut out = Vec::new();
    for run in runs {
        let driver = run
            .pointer("/tool/driver")
            .ok_or_else(|| shape("a run has no tool.driver"))?;
        let tool = driver
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("sarif")
            .to_string();
        let rules: Vec<&Value> = driver
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        for result in run
            .get("results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let id = result
                .get("ruleId")
                .and_then(Value::as_str)
                .ok_or_else(|| shape("a result has no ruleId"))?
                .to_string();
            let rule = result
                .get("ruleIndex")
                .and_then(Value::as_u64)
                .and_then(|i| rules.get(i as usize).copied())
                .filter(|r| r.get("id").and_then(Value::as_str) == Some(&id))
                .or_else(|| {
                    rules
                        .iter()
                        .copied()
                        .find(|r| r.get("id").and_then(Value::as_str) == Some(&id))
                });
            let text_of = |v: Option<&Value>, p: &str| {
                v.and_then(|x| x.pointer(p))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            let title = text_of(rule, "/shortDescription/text")
                .or_else(|| text_of(rule, "/name"))
                .unwrap_or_else(|| id.clone());
            let message = text_of(Some(result), "/message/text").unwrap_or_else(|| title.clone());
            let remediation = text_of(rule, "/help/text")
                .or_else(|| text_of(rule, "/helpUri"))
                .unwrap_or_else(|| format!("See {tool}'s documentation for {id}."));
            let (checkov, trivy) = if id.starts_with("CKV") {
                (vec![id.clone()], vec![])
            } else if id.starts_with("AVD-") {
                (vec![], vec![id.clone()])
            } else {
                (vec![], vec![])
            };
            out.push(Finding {
                severity: severity_of(result, rule),
                address: address_of(result),
                message,
                remediation,
                crosswalk: Crosswalk { checkov, trivy },
                acknowledged: false,
                title,
                source: tool.clone(),
                outcome: FindingOutcome::Fail,
                attribute: None,
                id,
            });
        }
    }
    Ok(out)
}
