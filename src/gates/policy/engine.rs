//! The Rego engine behind the policy gate: `regorus` (Microsoft's Rego
//! interpreter) compiles a set's modules and data once; each plan is then
//! evaluated rule by rule, so an error or a runaway names the rule and the
//! file and line that declare it. Every failure is the user's input and
//! carries file, line and column.

use std::num::NonZeroU32;
use std::time::Duration;

use regorus::unstable::{Rule, RuleHead};
use regorus::utils::limits::ExecutionTimerConfig;
use serde_json::Value;

use super::message::RuleKind;
use super::PolicyError;

/// Which packages count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Namespaces {
    /// These packages (conftest's default is `main`).
    Named(Vec<String>),
    /// Every package of the set (conftest's `--all-namespaces`).
    All,
}

impl Namespaces {
    /// From config or flags: empty means `main`, `*` means all.
    pub fn from_list(list: &[String]) -> Namespaces {
        if list.iter().any(|n| n == "*") {
            Namespaces::All
        } else if list.is_empty() {
            Namespaces::Named(vec!["main".into()])
        } else {
            Namespaces::Named(list.to_vec())
        }
    }
}

/// A policy set's text, as read from disk.
#[derive(Debug, Clone)]
pub struct PolicySource {
    pub name: String,
    /// (path shown in errors, Rego text).
    pub modules: Vec<(String, String)>,
    /// (path shown in errors, data document).
    pub data: Vec<(String, Value)>,
    pub namespaces: Namespaces,
    pub timeout: Duration,
}

/// A rule conftest would read, and where it is declared.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredRule {
    pub namespace: String,
    pub name: String,
    pub kind: RuleKind,
    pub file: String,
    pub line: u32,
}

/// One rule's value for one plan.
#[derive(Debug, Clone)]
pub struct RuleValue {
    pub rule: DeclaredRule,
    pub value: Value,
}

/// A compiled set, ready to evaluate plans.
#[derive(Debug, Clone)]
pub struct CompiledSet {
    pub name: String,
    engine: regorus::Engine,
    /// The rules that count, in the namespaces that count.
    pub rules: Vec<DeclaredRule>,
    /// Every rule named `test_*`, for `policy test`.
    pub tests: Vec<DeclaredRule>,
    timeout: Duration,
}

/// Compiles a set: parses every module, merges the data, and checks that
/// each configured namespace exists and declares a rule that counts.
pub fn compile(src: &PolicySource) -> Result<CompiledSet, PolicyError> {
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(false);
    // As OPA (and so conftest): a builtin given the wrong type fails the
    // evaluation (`eval_type_error`) rather than making it undefined.
    engine.set_strict_builtin_errors(true);
    let mut packages: Vec<(String, String)> = Vec::new();
    for (path, text) in &src.modules {
        let package = engine
            .add_policy(path.clone(), text.clone())
            .map_err(|e| located(&src.name, path, &e.to_string()))?;
        let package = package
            .strip_prefix("data.")
            .unwrap_or(&package)
            .to_string();
        packages.push((path.clone(), package));
    }
    for (path, data) in &src.data {
        engine
            .add_data(regorus::Value::from(data.clone()))
            .map_err(|e| PolicyError::Data {
                set: src.name.clone(),
                file: path.clone(),
                reason: e.to_string(),
            })?;
    }
    let mut declared = Vec::new();
    for module in engine.get_modules().iter() {
        let file = module.package.span.source.file().to_string();
        let Some((_, namespace)) = packages.iter().find(|(p, _)| *p == file) else {
            continue;
        };
        for rule in &module.policy {
            let name = match rule.as_ref() {
                Rule::Spec {
                    head: RuleHead::Func { .. },
                    ..
                } => continue,
                Rule::Spec { span, .. } => head_name(span.text()),
                Rule::Default { refr, .. } => head_name(refr.span().text()),
            };
            let line = rule.span().line;
            if !declared
                .iter()
                .any(|d: &(String, String, String, u32)| d.0 == *namespace && d.1 == name)
            {
                declared.push((namespace.clone(), name, file.clone(), line));
            }
        }
    }
    let wanted: Vec<String> = match &src.namespaces {
        Namespaces::All => {
            let mut all: Vec<String> = packages.iter().map(|(_, p)| p.clone()).collect();
            all.sort();
            all.dedup();
            all
        }
        Namespaces::Named(names) => names.clone(),
    };
    let as_rule =
        |(namespace, name, file, line): &(String, String, String, u32), kind| DeclaredRule {
            namespace: namespace.clone(),
            name: name.clone(),
            kind,
            file: file.clone(),
            line: *line,
        };
    let mut rules = Vec::new();
    for ns in &wanted {
        let files: Vec<&String> = packages
            .iter()
            .filter(|(_, p)| p == ns)
            .map(|(f, _)| f)
            .collect();
        if files.is_empty() && matches!(src.namespaces, Namespaces::Named(_)) {
            return Err(PolicyError::UndefinedNamespace {
                set: src.name.clone(),
                namespace: ns.clone(),
                files: packages
                    .iter()
                    .map(|(f, p)| format!("{f}:1 (package {p})"))
                    .collect(),
            });
        }
        let before = rules.len();
        for d in declared.iter().filter(|d| &d.0 == ns) {
            if let Some(kind) = RuleKind::of(&d.1) {
                rules.push(as_rule(d, kind));
            }
        }
        if rules.len() == before && matches!(src.namespaces, Namespaces::Named(_)) {
            return Err(PolicyError::UndefinedRule {
                set: src.name.clone(),
                namespace: ns.clone(),
                file: files.first().map(|f| f.to_string()).unwrap_or_default(),
            });
        }
    }
    let tests = declared
        .iter()
        .filter(|d| d.1.starts_with("test_"))
        .map(|d| as_rule(d, RuleKind::Deny))
        .collect();
    Ok(CompiledSet {
        name: src.name.clone(),
        engine,
        rules,
        tests,
        timeout: src.timeout,
    })
}

/// The rule name at the start of a rule's text (`deny_x contains msg if`,
/// `default deny := false`).
fn head_name(text: &str) -> String {
    let text = text.trim_start();
    let text = text.strip_prefix("default ").unwrap_or(text).trim_start();
    text.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

impl CompiledSet {
    /// Evaluates every rule that counts over `input`; undefined rules give
    /// nothing. The set's time limit covers the whole plan: regorus checks it
    /// between steps, and a watchdog stops waiting for a builtin that runs
    /// long inside one step (its thread is left to finish on its own).
    ///
    /// `input` is the one Rego tree of the plan ([`super::PolicyInput::rego`]),
    /// shared with the evaluating thread, never copied.
    pub fn evaluate(&self, input: &regorus::Value) -> Result<Vec<RuleValue>, PolicyError> {
        if self.rules.is_empty() {
            return Ok(vec![]);
        }
        let current = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (tx, rx) = std::sync::mpsc::channel();
        let this = self.clone();
        let input = input.clone();
        let progress = current.clone();
        std::thread::spawn(move || {
            let _ = tx.send(this.evaluate_here(&input, &progress));
        });
        // A little grace over the limit, so regorus's own check reports first.
        let grace = self.timeout + Duration::from_millis(250);
        match rx.recv_timeout(grace) {
            Ok(result) => result,
            Err(_) => {
                let index = current.load(std::sync::atomic::Ordering::SeqCst);
                Err(self.runaway(&self.rules[index.min(self.rules.len().saturating_sub(1))]))
            }
        }
    }

    fn evaluate_here(
        &self,
        input: &regorus::Value,
        current: &std::sync::atomic::AtomicUsize,
    ) -> Result<Vec<RuleValue>, PolicyError> {
        let mut engine = self.engine.clone();
        // A reference-counted handle on the same tree.
        engine.set_input(input.clone());
        let started = std::time::Instant::now();
        let mut out = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            current.store(i, std::sync::atomic::Ordering::SeqCst);
            let left = self.timeout.saturating_sub(started.elapsed());
            let value = self.query(&mut engine, rule, left)?;
            if let Some(value) = value {
                out.push(RuleValue {
                    rule: rule.clone(),
                    value,
                });
            }
        }
        Ok(out)
    }

    fn runaway(&self, rule: &DeclaredRule) -> PolicyError {
        PolicyError::Timeout {
            set: self.name.clone(),
            file: rule.file.clone(),
            line: rule.line,
            rule: format!("{}.{}", rule.namespace, rule.name),
            limit_ms: self.timeout.as_millis() as u64,
        }
    }

    /// Runs each `test_*` rule with no input: pass when it is true.
    pub fn run_tests(&self) -> Vec<(DeclaredRule, Result<bool, PolicyError>)> {
        let mut engine = self.engine.clone();
        self.tests
            .iter()
            .map(|t| {
                let got = self
                    .query(&mut engine, t, self.timeout)
                    .map(|v| v == Some(Value::Bool(true)));
                (t.clone(), got)
            })
            .collect()
    }

    fn query(
        &self,
        engine: &mut regorus::Engine,
        rule: &DeclaredRule,
        left: Duration,
    ) -> Result<Option<Value>, PolicyError> {
        let runaway = || self.runaway(rule);
        if left.is_zero() {
            return Err(runaway());
        }
        engine.set_execution_timer_config(ExecutionTimerConfig {
            limit: left,
            check_interval: NonZeroU32::new(32).expect("32 is not zero"),
        });
        let query = format!("data.{}.{}", rule.namespace, rule.name);
        let results = engine.eval_query(query, false).map_err(|e| {
            let text = e.to_string();
            if text.contains("exceeded time limit")
                || e.downcast_ref::<regorus::LimitError>().is_some()
            {
                runaway()
            } else {
                let mut err = located(&self.name, &rule.file, &text);
                if let PolicyError::Rego { line, .. } = &mut err {
                    if *line == 0 {
                        *line = rule.line;
                    }
                }
                err
            }
        })?;
        let Some(value) = results
            .result
            .first()
            .and_then(|r| r.expressions.first())
            .map(|e| e.value.clone())
        else {
            return Ok(None);
        };
        if value == regorus::Value::Undefined {
            return Ok(None);
        }
        let json = value.to_json_str().map_err(|e| PolicyError::Rego {
            set: self.name.clone(),
            file: rule.file.clone(),
            line: rule.line,
            column: 1,
            message: format!("the value of {} cannot be read: {e}", rule.name),
        })?;
        serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| PolicyError::Rego {
                set: self.name.clone(),
                file: rule.file.clone(),
                line: rule.line,
                column: 1,
                message: format!("the value of {} cannot be read: {e}", rule.name),
            })
    }
}

/// A regorus error as a located policy error. regorus writes
/// `--> file:line:col`, the source line, a caret, and `error: message`.
fn located(set: &str, fallback_file: &str, text: &str) -> PolicyError {
    let mut file = fallback_file.to_string();
    let (mut line, mut column) = (0, 0);
    if let Some(pos) = text.find("--> ") {
        let loc = text[pos + 4..].lines().next().unwrap_or("");
        let mut parts = loc.rsplitn(3, ':');
        let col = parts.next().and_then(|c| c.trim().parse().ok());
        let ln = parts.next().and_then(|l| l.trim().parse().ok());
        if let (Some(c), Some(l), Some(f)) = (col, ln, parts.next()) {
            file = f.to_string();
            line = l;
            column = c;
        }
    }
    let message = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or_else(|| text.trim())
        .to_string();
    PolicyError::Rego {
        set: set.to_string(),
        file,
        line,
        column,
        message,
    }
}
