//! The policy gate's glue: reads the policy sets (from `policies:` or from
//! `--policy` flags, as `conftest test` takes them) and the plans, runs the
//! pure gate, and shapes its report for `gate policy`, the comment, SARIF and
//! check-run annotations; and `phasegate policy test`, the policies' own
//! `test_` rules as `opa test` runs them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;

use crate::cli::{GateArgs, GateFormat, GlobalArgs, PolicyAction, PolicyCommandArgs};
use crate::config::{Acknowledgement, PolicySet, ResolvedPhase};
use crate::error::{Error, ExitCode, Result};
use crate::gates::policy::{
    self, Namespaces, PolicyError, PolicyReport, PolicySource, SetSeverity,
};
use crate::gates::Severity;
use crate::runner::gating::GateRun;
use crate::runner::output::print_stdout;
use crate::runner::plan::{collect_projects, ProjectPlan};
use crate::runner::workspace::Workspace;

/// Default time limit for one set over one plan.
const DEFAULT_TIMEOUT_MS: u64 = 5_000;

/// A set ready to run, with how it judges its findings.
struct LoadedSet {
    compiled: policy::CompiledSet,
    severity: SetSeverity,
}

/// `phasegate gate policy`: with `--policy`, conftest-style over `--plan-json`
/// without needing a config; otherwise the config's sets over the phase.
pub fn gate(global: &GlobalArgs, args: &GateArgs) -> Result<GateRun> {
    let standalone = !args.policy.policy.is_empty();
    let ws = Workspace::load(global, !standalone && args.plan_json.is_none())?;
    let (phase, projects) = if standalone {
        let plan = args.plan_json.as_deref().ok_or_else(|| {
            Error::Input("gate policy --policy DIR needs --plan-json FILE (the `terraform show -json` output)".into())
        })?;
        let phase = crate::runner::workspace::local_phase(&stem(plan));
        let text = crate::runner::projects::read_plan_file(plan)?;
        let changes = crate::runner::projects::parse_plan(&text, &plan.display().to_string())?;
        let project = ProjectPlan {
            name: stem(plan),
            dir: PathBuf::from("."),
            changes: changes.into(),
            plan_json: text,
            inputs: vec![],
        };
        (phase, vec![project])
    } else {
        collect_projects(&ws, &args.select, args.plan_json.as_deref(), None)?
    };
    let acks = ws
        .change
        .as_ref()
        .map(|c| c.acknowledgements.clone())
        .unwrap_or_default();
    let today = chrono::Utc::now().date_naive();
    let run = if standalone {
        let p = &args.policy;
        let mut namespaces = p.namespace.clone();
        if p.all_namespaces {
            namespaces.push("*".into());
        }
        let set = PolicySet {
            name: None,
            paths: p.policy.clone(),
            data: p.data.clone(),
            namespaces,
            environments: vec![],
            projects: vec![],
            severity: None,
            rules: Default::default(),
            timeout_ms: p.timeout_ms,
        };
        let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
        run_sets(&ws, &phase, &projects, &[(set, cwd)], &acks, today)?
    } else {
        let sets = configured_sets(&ws, &phase, args.policy.timeout_ms);
        if sets.is_empty() {
            return Err(Error::Input(format!(
                "no policy set applies to phase {}: add `policies:` to the config or pass --policy DIR",
                phase.name
            )));
        }
        run_sets(&ws, &phase, &projects, &sets, &acks, today)?
    };
    Ok(run)
}

/// The policy gate inside `plan` and the other gates: `None` when no set of
/// the config applies to this phase.
pub fn gate_run(
    ws: &Workspace,
    phase: &ResolvedPhase,
    projects: &[ProjectPlan],
    acknowledgements: &[Acknowledgement],
    today: NaiveDate,
) -> Result<Option<GateRun>> {
    let sets = configured_sets(ws, phase, None);
    if sets.is_empty() {
        return Ok(None);
    }
    run_sets(ws, phase, projects, &sets, acknowledgements, today).map(Some)
}

/// The config's sets for this phase and `project` over `input` (the applied
/// state, as `gates::policy::applied::state_input` shapes it): `None` when
/// no set applies. Acknowledgements are judged by the caller.
pub(super) fn applied_findings(
    ws: &Workspace,
    phase: &ResolvedPhase,
    project: &str,
    input: &policy::PolicyInput,
) -> Result<Option<Vec<policy::PolicyFinding>>> {
    let sets: Vec<(PolicySet, PathBuf)> = configured_sets(ws, phase, None)
        .into_iter()
        .filter(|(s, _)| s.projects.is_empty() || s.projects.iter().any(|p| p == project))
        .collect();
    if sets.is_empty() {
        return Ok(None);
    }
    let mut findings = Vec::new();
    for (set, base) in &sets {
        let loaded = load(set, base, false)?;
        findings.extend(policy::findings(
            &loaded.compiled,
            &loaded.severity,
            input,
            project,
        )?);
    }
    Ok(Some(findings))
}

/// The config's sets that apply to this phase's environment, each with the
/// directory its paths are relative to.
fn configured_sets(
    ws: &Workspace,
    phase: &ResolvedPhase,
    timeout_ms: Option<u64>,
) -> Vec<(PolicySet, PathBuf)> {
    let Some(cfg) = &ws.config else { return vec![] };
    cfg.policies
        .iter()
        .filter(|s| s.environments.is_empty() || s.environments.contains(&phase.environment.name))
        .map(|s| {
            let mut s = s.clone();
            if timeout_ms.is_some() {
                s.timeout_ms = timeout_ms;
            }
            (s, ws.base_dir.clone())
        })
        .collect()
}

fn run_sets(
    ws: &Workspace,
    phase: &ResolvedPhase,
    projects: &[ProjectPlan],
    sets: &[(PolicySet, PathBuf)],
    acknowledgements: &[Acknowledgement],
    today: NaiveDate,
) -> Result<GateRun> {
    let mut loaded = Vec::new();
    for (set, base) in sets {
        loaded.push((set, load(set, base, false)?));
    }
    let mut findings = Vec::new();
    for project in projects {
        let relevant: Vec<&LoadedSet> = loaded
            .iter()
            .filter(|(s, _)| s.projects.is_empty() || s.projects.contains(&project.name))
            .map(|(_, l)| l)
            .collect();
        if relevant.is_empty() {
            continue;
        }
        let plan: serde_json::Value = serde_json::from_str(&project.plan_json)
            .map_err(|e| Error::Input(format!("{}: the plan is not JSON: {e}", project.name)))?;
        // One tree of the plan while the policies run: the masked
        // `serde_json` value is moved into regorus's, not copied per set.
        let input = policy::mask_plan(plan).into_rego();
        for set in relevant {
            findings.extend(policy::findings(
                &set.compiled,
                &set.severity,
                &input,
                &project.name,
            )?);
        }
    }
    let report = policy::report(
        findings,
        loaded
            .iter()
            .map(|(_, l)| l.compiled.name.clone())
            .collect(),
        &policy::AckContext {
            phase: Some(phase.name.clone()),
            acknowledgements: acknowledgements.to_vec(),
            today,
        },
    );
    let sarif = serde_json::to_string_pretty(&policy::sarif::to_sarif(&report)).unwrap_or_default();
    Ok(GateRun {
        key: "policy",
        verdict: report.verdict,
        json: serde_json::to_value(&report).unwrap_or_default(),
        section: crate::render::policy::section(&report),
        files: vec![("policy.sarif".to_string(), sarif)],
        annotations: annotations(ws, projects, &report),
    })
}

/// Reads one set from disk and compiles it. `_test.rego` files count only
/// for `policy test`, as with conftest and opa.
fn load(set: &PolicySet, base: &Path, with_tests: bool) -> Result<LoadedSet> {
    let name = set
        .name
        .clone()
        .or_else(|| set.paths.first().map(|p| p.display().to_string()))
        .unwrap_or_else(|| "policies".into());
    let mut modules = Vec::new();
    for path in &set.paths {
        for file in files(&base.join(path), &name, &["rego"])? {
            let shown = shown(&file, base);
            if !with_tests && shown.ends_with("_test.rego") {
                continue;
            }
            let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
            modules.push((shown, text));
        }
    }
    if modules.is_empty() {
        return Err(PolicyError::Source {
            set: name,
            path: set
                .paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            reason: "no .rego file found".into(),
        }
        .into());
    }
    let mut data = Vec::new();
    for path in &set.data {
        for file in files(&base.join(path), &name, &["json", "yaml", "yml"])? {
            let shown = shown(&file, base);
            let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
            let parsed: std::result::Result<serde_json::Value, String> = if shown.ends_with(".json")
            {
                serde_json::from_str(&text).map_err(|e| e.to_string())
            } else {
                serde_saphyr::from_str(&text).map_err(|e| e.to_string())
            };
            let value = parsed.map_err(|reason| PolicyError::Data {
                set: name.clone(),
                file: shown.clone(),
                reason,
            })?;
            data.push((shown, value));
        }
    }
    let source = PolicySource {
        name: name.clone(),
        modules,
        data,
        namespaces: Namespaces::from_list(&set.namespaces),
        timeout: Duration::from_millis(set.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS)),
    };
    Ok(LoadedSet {
        compiled: policy::compile(&source)?,
        severity: SetSeverity {
            default: set.severity,
            rules: set.rules.clone(),
        },
    })
}

/// `path` itself, or the files under it with one of `exts`, sorted.
fn files(path: &Path, set: &str, exts: &[&str]) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::from(PolicyError::Source {
            set: set.to_string(),
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    })?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let p = entry.map_err(|e| Error::io(&dir, e))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A path as errors show it: relative to where the set was configured.
fn shown(file: &Path, base: &Path) -> String {
    file.strip_prefix(base)
        .unwrap_or(file)
        .display()
        .to_string()
}

fn stem(plan: &Path) -> String {
    plan.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plan".into())
}

/// Check-run annotations at the block of the resource each finding names;
/// a finding naming no resource is annotated at its rule in the `.rego` file.
fn annotations(
    ws: &Workspace,
    projects: &[ProjectPlan],
    report: &PolicyReport,
) -> Vec<crate::github::Annotation> {
    let repo_root = ws
        .base_dir
        .ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(&ws.base_dir)
        .to_path_buf();
    report
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .filter_map(|f| {
            let (path, line) = match &f.address {
                Some(address) => {
                    let project = projects.iter().find(|p| p.name == f.project)?;
                    let locator = crate::github::annotate::Locator::load(
                        &repo_root,
                        &ws.base_dir.join(&project.dir),
                    );
                    let loc = locator.locate_or_main(address).ok().flatten()?;
                    (loc.path, loc.line)
                }
                None => {
                    let file = ws.base_dir.join(&f.file);
                    (shown(&file, &repo_root), f.line)
                }
            };
            Some(crate::github::Annotation {
                path,
                start_line: u64::from(line.max(1)),
                end_line: u64::from(line.max(1)),
                annotation_level: match f.severity {
                    Severity::Critical | Severity::High => "failure",
                    Severity::Medium => "warning",
                    _ => "notice",
                }
                .into(),
                message: match &f.address {
                    Some(a) => format!("{a}: {}", f.message),
                    None => f.message.clone(),
                },
                title: Some(format!(
                    "{} ({} {}.{})",
                    f.id,
                    f.kind.as_str(),
                    f.namespace,
                    f.rule
                )),
            })
        })
        .collect()
}

/// `phasegate policy ...`.
pub fn run(args: PolicyCommandArgs) -> Result<ExitCode> {
    match args.action {
        PolicyAction::Test { dirs, data, format } => test(dirs, data, format),
    }
}

fn test(dirs: Vec<PathBuf>, data: Vec<PathBuf>, format: GateFormat) -> Result<ExitCode> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let set = PolicySet {
        name: None,
        paths: dirs,
        data,
        namespaces: vec!["*".into()],
        environments: vec![],
        projects: vec![],
        severity: None,
        rules: Default::default(),
        timeout_ms: None,
    };
    let loaded = load(&set, &cwd, true)?;
    let results = loaded.compiled.run_tests();
    let mut failed = 0;
    let mut rows = Vec::new();
    for (rule, outcome) in &results {
        let (status, detail) = match outcome {
            Ok(true) => ("pass", String::new()),
            Ok(false) => ("fail", String::new()),
            Err(e) => ("error", e.to_string()),
        };
        if status != "pass" {
            failed += 1;
        }
        rows.push(serde_json::json!({
            "test": format!("data.{}.{}", rule.namespace, rule.name),
            "file": rule.file,
            "line": rule.line,
            "result": status,
            "error": detail,
        }));
    }
    match format {
        GateFormat::Json => print_stdout(
            &serde_json::to_string_pretty(&serde_json::json!({
                "passed": results.len() - failed,
                "failed": failed,
                "tests": rows,
            }))
            .unwrap_or_default(),
        ),
        GateFormat::Markdown => {
            let mut text = String::new();
            for r in &rows {
                text.push_str(&format!(
                    "{}:{}: {}: {}\n",
                    r["file"].as_str().unwrap_or(""),
                    r["line"],
                    r["test"].as_str().unwrap_or(""),
                    r["result"].as_str().unwrap_or("").to_uppercase()
                ));
            }
            text.push_str(&format!(
                "PASS: {}/{}\n",
                results.len() - failed,
                results.len()
            ));
            print_stdout(&text);
        }
    }
    if results.is_empty() {
        return Err(Error::Input("no test_ rule found in the policies".into()));
    }
    Ok(if failed == 0 {
        ExitCode::Success
    } else {
        ExitCode::Refused
    })
}
