//! `projects[].inputs` at run time: each upstream's outputs read from its
//! state in the phase's environment (`terraform output -json`), passed to
//! the project's engine as `TF_VAR_<var>`, bound into its plan's digest,
//! and compared again before its apply. An output Terraform marks sensitive
//! is registered with the redactor before anything else sees it, and only
//! its sha256 is journaled.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

use crate::config::inputs::InputRef;
use crate::config::{Project, ResolvedPhase};
use crate::error::{Error, Result};
use crate::iac::{CliEngine, IacEngine};
use crate::journal::PlannedInput;
use crate::runner::workspace::Workspace;

/// A value longer than this (as JSON) is journaled by its sha256 only.
const SHOWN_VALUE_CHARS: usize = 200;

/// One input as read now.
#[derive(Debug, Clone, PartialEq)]
pub struct InputValue {
    pub var: String,
    pub source: String,
    pub upstream: String,
    pub value: Value,
    pub sensitive: bool,
}

impl InputValue {
    /// sha256 of the value's JSON text.
    pub fn sha256(&self) -> String {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(self.value.to_string().as_bytes()))
    }

    /// The `TF_VAR_` value: a string as it is, anything else as JSON
    /// (which Terraform reads as an HCL expression of the same value).
    fn tf_var(&self) -> String {
        match &self.value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    pub fn record(&self) -> PlannedInput {
        let text = self.value.to_string();
        PlannedInput {
            var: self.var.clone(),
            source: self.source.clone(),
            sha256: self.sha256(),
            sensitive: self.sensitive,
            value: (!self.sensitive && text.chars().count() <= SHOWN_VALUE_CHARS).then_some(text),
        }
    }
}

/// An input whose output the upstream's state does not hold, or whose
/// value the upstream's plan in the same run changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absent {
    pub var: String,
    pub source: String,
    pub upstream: String,
    /// The upstream's plan changes it: its value is known after that apply.
    pub changing: bool,
}

/// A project's inputs, as the upstreams' states hold them now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    pub values: Vec<InputValue>,
    pub absent: Vec<Absent>,
}

impl Resolved {
    /// `TF_VAR_<var>` for each value read.
    pub fn env(&self) -> Vec<(String, String)> {
        self.values
            .iter()
            .map(|v| (format!("TF_VAR_{}", v.var), v.tf_var()))
            .collect()
    }

    /// What a plan's digest binds: `input:<var>` → the value's sha256.
    pub fn binds(&self) -> Vec<(String, String)> {
        self.values
            .iter()
            .map(|v| (format!("input:{}", v.var), v.sha256()))
            .collect()
    }

    pub fn records(&self) -> Vec<PlannedInput> {
        self.values.iter().map(InputValue::record).collect()
    }

    /// The upstream outputs an absent input waits for.
    pub fn waiting_on(&self) -> Vec<String> {
        self.absent.iter().map(|a| a.source.clone()).collect()
    }

    /// Moves every value whose upstream output `changes(upstream, output)`
    /// says an upstream plan changes to the absent ones: a plan made with it
    /// now would be stale as soon as that upstream is applied.
    pub fn wait_for_changes(&mut self, changes: &dyn Fn(&str, &str) -> bool) {
        let (changing, kept): (Vec<InputValue>, Vec<InputValue>) = std::mem::take(&mut self.values)
            .into_iter()
            .partition(|v| InputRef::parse(&v.source).is_ok_and(|r| changes(r.project, r.output)));
        self.values = kept;
        self.absent.extend(changing.into_iter().map(|v| Absent {
            var: v.var,
            source: v.source,
            upstream: v.upstream,
            changing: true,
        }));
    }
}

/// The inputs of `project` in `phase`'s environment. Nothing is read for a
/// project without inputs.
pub fn resolve(ws: &Workspace, phase: &ResolvedPhase, project: &Project) -> Result<Resolved> {
    let mut out = Resolved::default();
    for (var, source) in &project.inputs {
        let r = InputRef::parse(source).map_err(Error::Input)?;
        let outputs = outputs_of(ws, phase, r.project)?;
        match outputs.get(r.output) {
            Some(o) => out.values.push(InputValue {
                var: var.clone(),
                source: source.clone(),
                upstream: r.project.to_string(),
                value: o.get("value").cloned().unwrap_or(Value::Null),
                sensitive: o.get("sensitive").and_then(Value::as_bool).unwrap_or(false),
            }),
            None => out.absent.push(Absent {
                var: var.clone(),
                source: source.clone(),
                upstream: r.project.to_string(),
                changing: false,
            }),
        }
    }
    Ok(out)
}

/// The inputs a plan JSON given with `--plan-json` was made with: each
/// input's variable as the plan's `variables` hold it (nothing else of the
/// plan is read here). Its sensitivity is not known without the upstream's
/// outputs, so each is journaled by its sha256 only. A variable the plan
/// lacks is bad input: the plan was not made with the input.
pub fn from_plan_json(text: &str, project: &Project, origin: &str) -> Result<Resolved> {
    #[derive(serde::Deserialize)]
    struct OnlyVariables {
        #[serde(default)]
        variables: serde_json::Map<String, Value>,
    }
    if project.inputs.is_empty() {
        return Ok(Resolved::default());
    }
    let plan: OnlyVariables = serde_json::from_str(text)
        .map_err(|e| Error::Input(format!("{origin}: reading its variables: {e}")))?;
    let mut out = Resolved::default();
    for (var, source) in &project.inputs {
        let r = InputRef::parse(source).map_err(Error::Input)?;
        let value = plan
            .variables
            .get(var)
            .and_then(|v| v.get("value"))
            .cloned()
            .ok_or_else(|| {
                Error::Input(format!(
                    "{origin}: the plan has no value for variable `{var}`, which input `{source}` of {} passes; plan with it set (TF_VAR_{var}), or let phasegate plan",
                    project.name
                ))
            })?;
        out.values.push(InputValue {
            var: var.clone(),
            source: source.clone(),
            upstream: r.project.to_string(),
            value,
            sensitive: true,
        });
    }
    Ok(out)
}

/// `resolve`, refusing when an output is absent: what every engine call but
/// a plan needs (a plan instead waits for the upstream's apply).
pub fn resolve_all(ws: &Workspace, phase: &ResolvedPhase, project: &Project) -> Result<Resolved> {
    let r = resolve(ws, phase, project)?;
    if let Some(a) = r.absent.first() {
        return Err(Error::Refused(absent_message(
            &project.name,
            a,
            &phase.environment.name,
        )));
    }
    Ok(r)
}

pub fn absent_message(project: &str, a: &Absent, env: &str) -> String {
    if a.changing {
        return format!(
            "{project} reads `{}` as `{}`, which {}'s plan in {env} changes: {project} is planned with the new value once {} is applied",
            a.source, a.var, a.upstream, a.upstream
        );
    }
    format!(
        "{project} reads `{}` as `{}`, and {}'s state in {env} holds no such output yet: apply {} in {env} first",
        a.source, a.var, a.upstream, a.upstream
    )
}

type Outputs = serde_json::Map<String, Value>;

fn cache() -> &'static Mutex<HashMap<(String, String), Outputs>> {
    static CACHE: OnceLock<Mutex<HashMap<(String, String), Outputs>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Forgets what was read of `project`'s outputs in `env`: its apply may
/// have changed them.
pub fn forget(env: &str, project: &str) {
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&(env.to_string(), project.to_string()));
}

/// `terraform output -json` of project `name` in the phase's environment,
/// read once per process (until [`forget`]). Sensitive values reach the
/// redactor here.
pub fn outputs_of(ws: &Workspace, phase: &ResolvedPhase, name: &str) -> Result<Outputs> {
    let key = (phase.environment.name.clone(), name.to_string());
    if let Some(hit) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(hit.clone());
    }
    let cfg = ws
        .config
        .as_ref()
        .ok_or_else(|| Error::Input("inputs need a config".into()))?;
    let upstream = cfg
        .projects
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| Error::Input(format!("no project named `{name}`")))?;
    let engine = CliEngine::from_config(&cfg.engine, &ws.base_dir);
    let req = crate::runner::session::base_request(ws, phase, upstream, Default::default())?;
    engine.init(&req)?;
    if let Some(w) = req.workspace.clone() {
        engine.select_workspace(&req, &w)?;
    }
    let text = engine.output_json(&req)?;
    let outputs: Outputs = serde_json::from_str(&text).map_err(|e| {
        Error::External(format!(
            "{name}: `terraform output -json` in {}: {e}",
            phase.environment.name
        ))
    })?;
    let redactor = crate::redact::global();
    for o in outputs.values() {
        if o.get("sensitive").and_then(Value::as_bool) == Some(true) {
            register(redactor, o.get("value").unwrap_or(&Value::Null));
        }
    }
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, outputs.clone());
    Ok(outputs)
}

fn register(redactor: &crate::redact::Redactor, v: &Value) {
    match v {
        Value::String(s) => redactor.add_sensitive(s),
        Value::Array(items) => items.iter().for_each(|i| register(redactor, i)),
        Value::Object(map) => map.values().for_each(|i| register(redactor, i)),
        Value::Number(n) => redactor.add_sensitive(&n.to_string()),
        _ => {}
    }
}

/// A plan digest bound to the inputs it was planned with: the digest
/// itself when there are none (a project without inputs keeps the digest
/// it always had), else a sha256 over it and each `input:<var>` binding.
pub fn bind_digest(digest: &str, binds: &[(String, String)]) -> String {
    if binds.is_empty() {
        return digest.to_string();
    }
    use sha2::{Digest, Sha256};
    let mut lines: Vec<String> = binds.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    lines.sort();
    let mut h = Sha256::new();
    h.update(format!("plan:{digest}\n").as_bytes());
    for l in lines {
        h.update(l.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The digest a project that waits for its upstreams' outputs holds in
/// its phase: named by what it waits for, so the phase's digest (and any
/// approval of it) changes once it is planned.
pub fn waiting_digest(waiting_on: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let mut sources = waiting_on.to_vec();
    sources.sort();
    hex::encode(Sha256::digest(
        format!("waiting:{}\n", sources.join("\n")).as_bytes(),
    ))
}

/// The inputs whose values differ from those a plan was made with, as
/// `<var> (<source>)`.
pub fn changed_since(planned: &[PlannedInput], now: &Resolved) -> Vec<String> {
    planned
        .iter()
        .filter(|p| {
            now.values
                .iter()
                .find(|v| v.var == p.var)
                .is_none_or(|v| v.sha256() != p.sha256 || v.source != p.source)
        })
        .map(|p| format!("{} ({})", p.var, p.source))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(var: &str, v: Value) -> InputValue {
        InputValue {
            var: var.into(),
            source: format!("network.outputs.{var}"),
            upstream: "network".into(),
            value: v,
            sensitive: false,
        }
    }

    #[test]
    fn a_string_is_passed_as_it_is_and_anything_else_as_json() {
        let r = Resolved {
            values: vec![
                value("vpc_id", Value::from("vpc-123")),
                value("subnets", serde_json::json!(["a", "b"])),
            ],
            absent: vec![],
        };
        assert_eq!(
            r.env(),
            [
                ("TF_VAR_vpc_id".to_string(), "vpc-123".to_string()),
                ("TF_VAR_subnets".to_string(), "[\"a\",\"b\"]".to_string())
            ]
        );
    }

    #[test]
    fn the_digest_binds_the_values_and_is_unchanged_without_inputs() {
        assert_eq!(bind_digest("abc", &[]), "abc");
        let one = Resolved {
            values: vec![value("vpc_id", Value::from("vpc-1"))],
            absent: vec![],
        };
        let two = Resolved {
            values: vec![value("vpc_id", Value::from("vpc-2"))],
            absent: vec![],
        };
        let d1 = bind_digest("abc", &one.binds());
        assert_ne!(d1, "abc");
        assert_ne!(d1, bind_digest("abc", &two.binds()));
        assert_eq!(d1, bind_digest("abc", &one.binds()));
        assert_eq!(
            changed_since(&one.records(), &two),
            ["vpc_id (network.outputs.vpc_id)"]
        );
        assert!(changed_since(&one.records(), &one).is_empty());
    }

    #[test]
    fn a_sensitive_value_is_journaled_by_its_hash_only() {
        let mut v = value("db_password", Value::from("hunter2-very-secret"));
        v.sensitive = true;
        let r = v.record();
        assert!(r.value.is_none());
        assert_eq!(r.sha256.len(), 64);
        assert_eq!(
            value("id", Value::from("x")).record().value.as_deref(),
            Some("\"x\"")
        );
    }
}
