//! A phase's steps: the Terraform apply of its projects and the operations
//! around it (a snapshot, a replication that runs for hours, a DNS swap).
//! This module holds their types, their problems (located by the caller)
//! and the digest that binds each step's commands to an approval.
//!
//! A command is always an argv list, run without a shell: a string where a
//! list belongs is refused with its line, never split on spaces.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::checks::check_problems;
use super::model::{ChangePlan, Check};

/// A program and its arguments, run without a shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Argv(pub Vec<String>);

impl Argv {
    pub fn program(&self) -> &str {
        self.0.first().map(String::as_str).unwrap_or("")
    }
}

impl<'de> Deserialize<'de> for Argv {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Argv, D::Error> {
        struct ArgvVisitor;
        impl<'de> Visitor<'de> for ArgvVisitor {
            type Value = Argv;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of arguments, e.g. [\"./ops/restore.sh\", \"--id\", \"db-1\"]")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Argv, E> {
                const SHELL: [&str; 10] = ["&&", "||", "|", ";", "$", "`", ">", "<", "*", "~"];
                if let Some(syntax) = SHELL.iter().find(|m| s.contains(**m)) {
                    return Err(E::custom(format!(
                        "a command is a list of arguments, never a shell string, and this one uses shell syntax (`{syntax}`): put it in a script and give the script's argv, e.g. [\"./ops/step.sh\"]"
                    )));
                }
                Err(E::custom(format!(
                    "a command is a list of arguments, never a shell string: write {:?} as [{}]",
                    s,
                    s.split_whitespace()
                        .map(|w| format!("{w:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Argv, A::Error> {
                let mut args = Vec::new();
                while let Some(arg) = seq.next_element::<String>()? {
                    args.push(arg);
                }
                Ok(Argv(args))
            }
        }
        d.deserialize_any(ArgvVisitor)
    }
}

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// Runs commands: `preview`, `execute`, `verify`, `rollback`, `poll`.
    #[default]
    Operation,
    /// The Terraform apply of the phase's projects (the only step of a phase without `steps`).
    Terraform,
}

/// One step of a phase. Steps run in the order listed, each after the steps it requires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Stable id, unique in the change plan: the journal matches steps across reruns by it.
    /// Letters, digits, `-`, `_` and `.`.
    pub id: String,
    /// `operation` (default) or `terraform`.
    #[serde(default)]
    pub kind: StepKind,
    /// Ids of steps that must have succeeded first: in this phase, or in an earlier one.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Read-only command; its output is shown in the PR comment as this step's plan, and is
    /// part of the phase digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<Argv>,
    /// The command that makes the change. Required for an operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execute: Option<Argv>,
    /// How to tell the step took effect. When it passes before `execute`, the step is done
    /// and `execute` is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<StepVerify>,
    /// Best-effort undo, run only when asked for after a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Argv>,
    /// For a long-running step: asked until it reports a terminal state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<Poll>,
    /// Cannot be undone: flagged in the comment, the approval request and the rollback's
    /// output, and always needs an approval, in every environment.
    #[serde(default)]
    pub irreversible: bool,
    /// Environment variables set for every command of the step. Shown and digested: put no
    /// secret here (see `secret_env`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Names of variables passed through from phasegate's own environment. Their values are
    /// redacted from every output and never digested.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_env: Vec<String>,
    /// Directory the commands run in, relative to the config file; default the config's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<PathBuf>,
}

/// An operation's verification: a command whose output matches, or the check kinds of
/// `verify` (HTTP, TLS, DNS, outputs, command).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepVerify {
    /// A command that must exit 0 (and print `success_pattern`, when given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argv: Option<Argv>,
    /// A regular expression the command's standard output must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_pattern: Option<String>,
    /// Checks, as in a phase's `checks`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
}

/// How a long-running step is watched. The state is the last non-empty line of the poll
/// command's standard output, trimmed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    pub argv: Argv,
    /// Wait between polls: `30s`, `5m`, `1h`.
    pub interval: String,
    /// States that end the poll: the step succeeded.
    pub terminal: Vec<String>,
    /// States that end the poll: the step failed.
    #[serde(default)]
    pub failure: Vec<String>,
    /// Longest total wait, across jobs: `45m`, `12h`, `3d` (at most 30 days).
    pub timeout: String,
}

/// The longest a poll may wait in all.
pub const POLL_TIMEOUT_LIMIT: Duration = Duration::from_secs(30 * 24 * 3600);

/// `30s`, `5m`, `12h`, `3d`: a poll's interval or timeout.
pub fn parse_poll_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || format!("`{text}` is not a duration; write e.g. `30s`, `5m`, `12h` or `3d`");
    let i = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let n: u64 = t[..i].parse().map_err(|_| bad())?;
    let secs = match &t[i..] {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(bad()),
    };
    let d = Duration::from_secs(secs);
    if d.is_zero() {
        return Err(format!("`{text}` is zero; a poll needs time to pass"));
    }
    if d > POLL_TIMEOUT_LIMIT {
        return Err(format!("`{text}` is longer than 30 days"));
    }
    Ok(d)
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !id.starts_with('.')
}

/// Every problem of the change plan's steps, as (field path, message).
pub fn step_problems(plan: &ChangePlan) -> Vec<(String, String)> {
    let mut out = Vec::new();
    // Where each id is declared: (phase index, step index).
    let mut declared: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (i, phase) in plan.phases.iter().enumerate() {
        let mut terraform_steps = 0;
        for (j, step) in phase.steps.iter().enumerate() {
            let at = |field: &str| format!("phases[{i}].steps[{j}].{field}");
            if !valid_id(&step.id) {
                out.push((
                    at("id"),
                    format!(
                        "{:?} is not a step id: 1 to 64 letters, digits, `-`, `_` or `.`",
                        step.id
                    ),
                ));
            } else if let Some((pi, _)) = declared.get(step.id.as_str()) {
                out.push((
                    at("id"),
                    format!(
                        "step `{}` is declared twice (first in phase `{}`)",
                        step.id, plan.phases[*pi].name
                    ),
                ));
            } else {
                declared.insert(&step.id, (i, j));
            }
            match step.kind {
                StepKind::Terraform => {
                    terraform_steps += 1;
                    if terraform_steps == 2 {
                        out.push((
                            at("kind"),
                            "a phase has one terraform step: it applies all the phase's projects"
                                .into(),
                        ));
                    }
                    for (field, set) in [
                        ("preview", step.preview.is_some()),
                        ("execute", step.execute.is_some()),
                        ("verify", step.verify.is_some()),
                        ("rollback", step.rollback.is_some()),
                        ("poll", step.poll.is_some()),
                        ("irreversible", step.irreversible),
                        ("env", !step.env.is_empty()),
                        ("secret_env", !step.secret_env.is_empty()),
                        ("working_directory", step.working_directory.is_some()),
                    ] {
                        if set {
                            out.push((
                                at(field),
                                format!("a terraform step takes only `id` and `requires`, not `{field}`: the plan is its preview and `checks` its verify"),
                            ));
                        }
                    }
                }
                StepKind::Operation => {
                    if step.execute.is_none() {
                        out.push((
                            at("execute"),
                            "an operation needs `execute`, the command that makes the change"
                                .into(),
                        ));
                    }
                    operation_problems(step, &at, &mut out);
                }
            }
        }
    }
    // References, after every id is known: a step may require one of its own phase or of an
    // earlier phase, never of a later one.
    for (i, phase) in plan.phases.iter().enumerate() {
        for (j, step) in phase.steps.iter().enumerate() {
            for (k, req) in step.requires.iter().enumerate() {
                let at = format!("phases[{i}].steps[{j}].requires[{k}]");
                match declared.get(req.as_str()) {
                    None => out.push((
                        at,
                        format!(
                            "no step `{req}` in this phase or an earlier one; steps are {}",
                            list(declared.keys().copied())
                        ),
                    )),
                    Some((pi, _)) if *pi > i => out.push((
                        at,
                        format!(
                            "step `{req}` is in a later phase (`{}`); a step can require only steps of its own phase or earlier ones",
                            plan.phases[*pi].name
                        ),
                    )),
                    Some(_) if req == &step.id => {
                        out.push((at, format!("step `{req}` requires itself")))
                    }
                    Some(_) => {}
                }
            }
        }
    }
    if let Some(cycle) = requires_cycle(plan) {
        let (i, j) = declared[cycle[0].as_str()];
        out.push((
            format!("phases[{i}].steps[{j}].requires"),
            format!("requires cycle: {}", cycle.join(" -> ")),
        ));
    }
    out
}

fn operation_problems(step: &Step, at: &dyn Fn(&str) -> String, out: &mut Vec<(String, String)>) {
    for (field, argv) in [
        ("preview", step.preview.as_ref()),
        ("execute", step.execute.as_ref()),
        ("rollback", step.rollback.as_ref()),
        ("poll.argv", step.poll.as_ref().map(|p| &p.argv)),
        (
            "verify.argv",
            step.verify.as_ref().and_then(|v| v.argv.as_ref()),
        ),
    ] {
        if let Some(argv) = argv {
            if argv.program().trim().is_empty() {
                out.push((
                    at(field),
                    "name a program first: the list is empty or starts with an empty string".into(),
                ));
            }
        }
    }
    if let Some(verify) = &step.verify {
        match (&verify.argv, verify.checks.is_empty()) {
            (Some(_), false) => {
                out.push((at("verify"), "give `argv` or `checks`, not both".into()))
            }
            (None, true) => out.push((
                at("verify"),
                "give `argv` (with an optional `success_pattern`) or `checks`".into(),
            )),
            _ => {}
        }
        if let Some(pattern) = &verify.success_pattern {
            if verify.argv.is_none() {
                out.push((
                    at("verify.success_pattern"),
                    "a pattern is matched against `argv`'s output: give `argv`".into(),
                ));
            }
            if let Err(e) = regex::Regex::new(pattern) {
                // The regex crate's message draws the pattern over lines; its last line says what.
                let text = e.to_string();
                let what = text
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim_start_matches("error: ");
                out.push((at("verify.success_pattern"), format!("bad pattern: {what}")));
            }
        }
        for (path, message) in check_problems(&verify.checks, &at("verify.checks")) {
            out.push((path, message));
        }
        for (k, check) in verify.checks.iter().enumerate() {
            if check.per_project() {
                out.push((
                    at(&format!("verify.checks[{k}]")),
                    format!("a `{}` check looks at a project's Terraform: put it in the phase's `checks`; a step's verify takes http, tls, dns and command checks", check.kind()),
                ));
            }
        }
    }
    if let Some(poll) = &step.poll {
        let mut interval = None;
        for (field, text) in [("interval", &poll.interval), ("timeout", &poll.timeout)] {
            match parse_poll_duration(text) {
                Ok(d) if field == "interval" => interval = Some(d),
                Ok(d) => {
                    if interval.is_some_and(|i| i > d) {
                        out.push((
                            at("poll.timeout"),
                            "is shorter than `interval`: the poll would end before it asks twice"
                                .into(),
                        ));
                    }
                }
                Err(e) => out.push((at(&format!("poll.{field}")), e)),
            }
        }
        if poll.terminal.iter().all(|s| s.trim().is_empty()) {
            out.push((
                at("poll.terminal"),
                "name at least one state that ends the poll, e.g. [COMPLETED]".into(),
            ));
        }
        for (k, state) in poll.failure.iter().enumerate() {
            if poll.terminal.contains(state) {
                out.push((
                    at(&format!("poll.failure[{k}]")),
                    format!("`{state}` is also in `terminal`: a state either succeeds or fails"),
                ));
            }
        }
    }
    for (k, name) in step.secret_env.iter().enumerate() {
        if step.env.contains_key(name) {
            out.push((
                at(&format!("secret_env[{k}]")),
                format!("`{name}` is also in `env`: a secret comes from the environment only"),
            ));
        }
    }
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// A cycle among the steps' `requires`, as the ids along it, the first repeated last.
pub fn requires_cycle(plan: &ChangePlan) -> Option<Vec<String>> {
    let deps: BTreeMap<&str, Vec<&str>> = plan
        .phases
        .iter()
        .flat_map(|p| &p.steps)
        .rev() // the first declaration of a duplicated id wins, as in the problems
        .map(|s| {
            (
                s.id.as_str(),
                s.requires.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    super::validate::cycle_in(&deps)
}

/// The order a phase's steps run in: each after the steps of the phase it requires, otherwise
/// as listed. `None` when they form a cycle (a config that passed validation has none).
pub fn run_order(steps: &[Step]) -> Option<Vec<&Step>> {
    let ids: BTreeSet<&str> = steps.iter().map(|s| s.id.as_str()).collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::with_capacity(steps.len());
    while order.len() < steps.len() {
        let next = steps.iter().find(|s| {
            !done.contains(s.id.as_str())
                && s.requires
                    .iter()
                    .all(|r| !ids.contains(r.as_str()) || done.contains(r.as_str()))
        })?;
        done.insert(&next.id);
        order.push(next);
    }
    Some(order)
}

/// The ids of the operation steps a phase's Terraform step requires, directly or through
/// other steps of the phase: they run before the apply; every other operation runs after it
/// or beside it.
pub fn before_apply(steps: &[Step]) -> BTreeSet<String> {
    let by_id: BTreeMap<&str, &Step> = steps.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut out = BTreeSet::new();
    let mut todo: Vec<&str> = steps
        .iter()
        .filter(|s| s.kind == StepKind::Terraform)
        .flat_map(|s| s.requires.iter().map(String::as_str))
        .collect();
    while let Some(id) = todo.pop() {
        if let Some(step) = by_id.get(id) {
            if out.insert(id.to_string()) {
                todo.extend(step.requires.iter().map(String::as_str));
            }
        }
    }
    out
}

/// The digest that binds a step to an approval: its kind, requirements, every command's argv,
/// its literal environment, its working directory, whether it is irreversible, and the output
/// its preview showed. A changed argv or preview is a new digest, so a new approval. Secret
/// values are never part of it (only their names).
pub fn step_digest(step: &Step, preview_output: Option<&str>) -> String {
    let mut h = Fields::default();
    h.field("id", &step.id);
    h.field(
        "kind",
        match step.kind {
            StepKind::Operation => "operation",
            StepKind::Terraform => "terraform",
        },
    );
    for r in &step.requires {
        h.field("requires", r);
    }
    h.argv("preview", step.preview.as_ref());
    h.argv("execute", step.execute.as_ref());
    h.argv("rollback", step.rollback.as_ref());
    if let Some(verify) = &step.verify {
        h.argv("verify", verify.argv.as_ref());
        if let Some(p) = &verify.success_pattern {
            h.field("success_pattern", p);
        }
        // Checks are digested through their canonical JSON: field order is the type's.
        h.field(
            "checks",
            &serde_json::to_string(&verify.checks).unwrap_or_default(),
        );
    }
    if let Some(poll) = &step.poll {
        h.argv("poll", Some(&poll.argv));
        h.field("interval", &poll.interval);
        h.field("timeout", &poll.timeout);
        for s in &poll.terminal {
            h.field("terminal", s);
        }
        for s in &poll.failure {
            h.field("failure", s);
        }
    }
    h.field("irreversible", if step.irreversible { "1" } else { "0" });
    for (k, v) in &step.env {
        h.field("env", k);
        h.field("env", v);
    }
    for name in &step.secret_env {
        h.field("secret_env", name);
    }
    if let Some(dir) = &step.working_directory {
        h.field("working_directory", &dir.to_string_lossy());
    }
    if let Some(out) = preview_output {
        h.field("preview_output", out);
    }
    hex::encode(h.0.finalize())
}

/// Length-prefixed fields into one sha256: no two different steps hash the same bytes.
#[derive(Default)]
struct Fields(Sha256);

impl Fields {
    fn field(&mut self, name: &str, value: &str) {
        for part in [name, value] {
            self.0.update((part.len() as u64).to_be_bytes());
            self.0.update(part.as_bytes());
        }
    }

    fn argv(&mut self, name: &str, argv: Option<&Argv>) {
        if let Some(argv) = argv {
            self.field(name, &argv.0.len().to_string());
            for arg in &argv.0 {
                self.field(name, arg);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: &str, execute: &[&str]) -> Step {
        Step {
            id: id.into(),
            kind: StepKind::Operation,
            requires: vec![],
            preview: None,
            execute: Some(Argv(execute.iter().map(|s| s.to_string()).collect())),
            verify: None,
            rollback: None,
            poll: None,
            irreversible: false,
            env: BTreeMap::new(),
            secret_env: vec![],
            working_directory: None,
        }
    }

    #[test]
    fn a_changed_argument_or_preview_output_is_a_new_digest() {
        let a = op("swap", &["./swap.sh", "--to", "green"]);
        let b = op("swap", &["./swap.sh", "--to", "blue"]);
        assert_ne!(step_digest(&a, None), step_digest(&b, None));
        assert_eq!(
            step_digest(&a, Some("x")),
            step_digest(&a.clone(), Some("x"))
        );
        assert_ne!(step_digest(&a, Some("x")), step_digest(&a, Some("y")));
        // Arguments are not joined: ["a b"] and ["a", "b"] differ.
        let joined = op("swap", &["./swap.sh --to", "green"]);
        assert_ne!(step_digest(&a, None), step_digest(&joined, None));
        let mut irreversible = a.clone();
        irreversible.irreversible = true;
        assert_ne!(step_digest(&a, None), step_digest(&irreversible, None));
    }

    #[test]
    fn steps_run_after_what_they_require_otherwise_as_listed() {
        let mut a = op("a", &["a"]);
        let b = op("b", &["b"]);
        let mut c = op("c", &["c"]);
        a.requires = vec!["c".into(), "earlier-phase-step".into()];
        c.requires = vec![];
        let steps = [a, b, c];
        let order: Vec<&str> = run_order(&steps)
            .unwrap()
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(order, ["b", "c", "a"]);
        let mut x = op("x", &["x"]);
        let mut y = op("y", &["y"]);
        x.requires = vec!["y".into()];
        y.requires = vec!["x".into()];
        assert!(run_order(&[x, y]).is_none());
    }

    #[test]
    fn a_string_where_an_argv_belongs_is_refused_with_the_list_to_write_instead() {
        let plain = serde_json::from_str::<Argv>(r#""./swap.sh --to green""#).unwrap_err();
        assert!(
            plain
                .to_string()
                .contains(r#"as ["./swap.sh", "--to", "green"]"#),
            "{plain}"
        );
        let shell = serde_json::from_str::<Argv>(r#""./a.sh | tee log""#).unwrap_err();
        assert!(shell.to_string().contains("shell syntax (`|`)"), "{shell}");
        let ok: Argv = serde_json::from_str(r#"["./a.sh", "x y"]"#).unwrap();
        assert_eq!(ok.0, ["./a.sh", "x y"]);
    }

    #[test]
    fn poll_durations_take_seconds_to_days_and_refuse_zero_and_more_than_30_days() {
        assert_eq!(parse_poll_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_poll_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_poll_duration("3d"), Ok(Duration::from_secs(259_200)));
        assert!(parse_poll_duration("0s").is_err());
        assert!(parse_poll_duration("31d").is_err());
        assert!(parse_poll_duration("10").is_err());
        assert!(parse_poll_duration("5 minutes").is_err());
    }
}
