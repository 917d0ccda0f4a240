//! Runs the gates over one phase's plans and keeps their results as data:
//! JSON for machines, sections for the comment, files (SARIF), and the
//! combined verdict that decides the exit code.

use std::path::Path;

use serde_json::Value;

use crate::cli::GateInputs;
use crate::config::{Acknowledgement, ResolvedPhase};
use crate::error::{Error, Result};
use crate::gates::{blast, cost, security, Severity, Verdict};
use crate::plan::ChangeSet;
use crate::render::{self, escape, Section};
use crate::runner::output::Staged;
use crate::runner::projects::ProjectPlan;
use crate::runner::workspace::Workspace;

/// Which gates a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateSet {
    /// Every gate: `plan`.
    All,
    /// Only the named one: `gate security|cost|blast`.
    Only(&'static str),
}

impl GateSet {
    fn runs(self, key: &str) -> bool {
        match self {
            GateSet::All => true,
            GateSet::Only(k) => k == key,
        }
    }
}

/// The acknowledgement ids a gate other than security owns; the security
/// gate is given every other acknowledgement, so it reports as unmatched
/// only acknowledgements that could have been meant for it.
const OTHER_GATES_ACKS: [&str; 2] = [cost::ACK_ID, blast::ACK_ID];

pub(super) fn security_acknowledgements(all: &[Acknowledgement]) -> Vec<Acknowledgement> {
    all.iter()
        .filter(|a| {
            !OTHER_GATES_ACKS.contains(&a.id.as_str())
                && !a.id.starts_with(crate::gates::policy::ID_PREFIX)
        })
        .cloned()
        .collect()
}

/// One gate's result, in every form the commands need.
#[derive(Debug, Clone)]
pub struct GateRun {
    /// `security`, `cost` or `blast`.
    pub key: &'static str,
    pub verdict: Verdict,
    pub json: Value,
    pub section: Section,
    /// Extra files to write, relative to the output directory.
    pub files: Vec<(String, String)>,
    /// Check-run annotations (security findings located in `.tf` files).
    pub annotations: Vec<crate::github::Annotation>,
}

/// The results of every gate of one phase.
#[derive(Debug, Clone, Default)]
pub struct GateOutcome {
    pub runs: Vec<GateRun>,
}

impl GateOutcome {
    /// The worst verdict of all gates; pass when none ran.
    pub fn verdict(&self) -> Verdict {
        self.runs
            .iter()
            .map(|r| r.verdict)
            .max()
            .unwrap_or(Verdict::Pass)
    }

    pub fn sections(&self) -> Vec<Section> {
        self.runs.iter().map(|r| r.section.clone()).collect()
    }

    pub fn to_json(&self) -> Value {
        Value::Object(
            self.runs
                .iter()
                .map(|r| (r.key.to_string(), r.json.clone()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&GateRun> {
        self.runs.iter().find(|r| r.key == key)
    }

    /// Writes the gates' files (SARIF) to `files`, from their text, uncopied.
    pub fn stage_files(&self, files: &mut Staged, sarif_out: Option<&Path>) -> Result<()> {
        for run in &self.runs {
            for (name, text) in &run.files {
                files.text(name, text)?;
            }
        }
        let _ = sarif_out;
        Ok(())
    }

    /// Check-run annotations for the findings that have a place in the code.
    pub fn annotations(&self) -> Vec<crate::github::Annotation> {
        self.runs
            .iter()
            .flat_map(|r| r.annotations.iter().cloned())
            .collect()
    }

    pub fn text_line(&self) -> String {
        if self.runs.is_empty() {
            return "gates: none ran".into();
        }
        let parts: Vec<String> = self
            .runs
            .iter()
            .map(|r| format!("{} {}", r.key, render::verdict::words(r.verdict).key))
            .collect();
        format!("gates: {}", parts.join(", "))
    }
}

/// Runs the gates of `which` over the phase, in the order security, cost,
/// policy, blast.
pub fn evaluate(
    ws: &Workspace,
    phase: &ResolvedPhase,
    projects: &[ProjectPlan],
    inputs: &GateInputs,
    out_dir: &Path,
    which: GateSet,
) -> Result<GateOutcome> {
    let today = chrono::Utc::now().date_naive();
    let change = ws.change.as_ref();
    let acknowledgements = change
        .map(|c| c.acknowledgements.clone())
        .unwrap_or_default();
    let phase_name = Some(phase.name.clone());
    let pairs: Vec<(String, &ChangeSet)> = projects
        .iter()
        .map(|p| (p.name.clone(), p.changes.as_ref()))
        .collect();

    let mut runs = Vec::new();
    if which.runs("security") {
        runs.push(security_run(
            ws,
            phase,
            projects,
            inputs,
            &security_acknowledgements(&acknowledgements),
            today,
        )?);
    }
    if which.runs("cost") {
        let usage = match &inputs.usage {
            Some(path) => cost::Usage::load(path)?,
            None => cost::Usage::default(),
        };
        let cost_report = cost::evaluate(
            &pairs,
            &cost::CostContext {
                default_region: phase.environment.region.clone(),
                usage,
                phase: phase_name.clone(),
                phase_budget: phase.monthly_budget,
                environment_budget: phase.environment.monthly_budget,
                prior_phases_monthly: prior_phases_monthly(ws, phase, out_dir),
                acknowledgements: acknowledgements.clone(),
                today,
            },
        );
        runs.push(GateRun {
            key: "cost",
            verdict: cost_report.verdict,
            json: cost_report.to_json(),
            section: render::cost::section(&cost_report),
            files: vec![],
            annotations: vec![],
        });
    }
    if which.runs("policy") {
        runs.extend(crate::runner::policy::gate_run(
            ws,
            phase,
            projects,
            &acknowledgements,
            today,
        )?);
    }
    if which.runs("blast") {
        let blast_report = blast::evaluate(
            &pairs,
            &blast::BlastContext {
                environment: phase.environment.name.clone(),
                protected: phase.environment.protected,
                declared: phase.blast_radius,
                allow_destroy: change.map(|c| c.allow_destroy.clone()).unwrap_or_default(),
                phase: phase_name,
                acknowledgements,
                today,
            },
        );
        runs.push(GateRun {
            key: "blast",
            verdict: blast_report.verdict,
            json: blast_report.to_json(),
            section: render::blast::section(&blast_report),
            files: vec![],
            annotations: vec![],
        });
    }
    Ok(GateOutcome { runs })
}

/// The security gate's run: report, SARIF files, section and annotations.
fn security_run(
    ws: &Workspace,
    phase: &ResolvedPhase,
    projects: &[ProjectPlan],
    inputs: &GateInputs,
    acknowledgements: &[Acknowledgement],
    today: chrono::NaiveDate,
) -> Result<GateRun> {
    let report = run_security(ws, phase, projects, inputs, acknowledgements, today)?;
    let sarif = serde_json::to_string_pretty(&security::to_sarif(&report)).unwrap_or_default();
    let mut files = vec![("security.sarif".to_string(), sarif.clone())];
    if let Some(path) = &inputs.sarif_out {
        // Relative to where the user ran phasegate, not to the output directory.
        let path = std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.clone());
        files.push((path.display().to_string(), sarif));
    }
    Ok(GateRun {
        key: "security",
        verdict: report.verdict,
        json: serde_json::to_value(&report).unwrap_or_default(),
        section: render::security::section(&report),
        files,
        annotations: annotations(ws, projects, &report),
    })
}

/// Where a phase's result is kept in the output directory, so that later
/// phases can add up the change's running cost.
pub fn phase_result_path(out_dir: &Path, phase_name: &str) -> std::path::PathBuf {
    out_dir.join("phases").join(format!("{phase_name}.json"))
}

/// The monthly cost delta of the phases before this one, from their results
/// in the output directory (written by earlier `plan` runs, or downloaded as
/// artifacts). A phase without a result counts nothing and is logged.
fn prior_phases_monthly(ws: &Workspace, phase: &ResolvedPhase, out_dir: &Path) -> f64 {
    let Some(cfg) = &ws.config else {
        return 0.0;
    };
    crate::config::resolve_phases(cfg, ws.change.as_ref())
        .iter()
        .filter(|p| p.index < phase.index)
        .map(|p| {
            let path = phase_result_path(out_dir, &p.name);
            let delta = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| v["gates"]["cost"]["monthly_delta"].as_f64());
            if delta.is_none() {
                tracing::info!(
                    phase = %p.name,
                    "no result of this earlier phase in {}; its cost is not in the running total",
                    out_dir.display()
                );
            }
            delta.unwrap_or(0.0)
        })
        .sum()
}

/// The security gate over every project, with imported SARIF findings, and
/// every secret it found registered with the redactor before anything prints.
fn run_security(
    ws: &Workspace,
    phase: &ResolvedPhase,
    projects: &[ProjectPlan],
    inputs: &GateInputs,
    acknowledgements: &[crate::config::Acknowledgement],
    today: chrono::NaiveDate,
) -> Result<security::SecurityReport> {
    let _ = ws;
    let mut imported = Vec::new();
    for file in &inputs.sarif_in {
        let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
        imported.extend(security::import_sarif(&text, &file.display().to_string())?);
    }
    let reports = projects
        .iter()
        .enumerate()
        .map(|(i, p)| {
            security::evaluate(
                &p.changes,
                &security::SecurityContext {
                    policy: phase.environment.security_policy,
                    protected: phase.environment.protected,
                    phase: Some(phase.name.clone()),
                    acknowledgements: acknowledgements.to_vec(),
                    today,
                    // Imported findings are judged once, with the first project.
                    imported: if i == 0 { imported.clone() } else { vec![] },
                    unknown: ws
                        .config
                        .as_ref()
                        .map(|c| c.security.unknown)
                        .unwrap_or_default(),
                },
            )
        })
        .collect();
    let report = security::SecurityReport::merge(reports);
    for secret in report.secrets() {
        crate::redact::global().add(secret);
    }
    Ok(report)
}

/// Check-run annotations for findings above info, at their resource block.
fn annotations(
    ws: &Workspace,
    projects: &[ProjectPlan],
    report: &security::SecurityReport,
) -> Vec<crate::github::Annotation> {
    let repo_root = ws
        .base_dir
        .ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(&ws.base_dir)
        .to_path_buf();
    let locators: Vec<_> = projects
        .iter()
        .map(|p| {
            let resources: std::collections::HashSet<&str> = p
                .changes
                .resources
                .iter()
                .map(|r| r.address.as_str())
                .collect();
            (
                resources,
                crate::github::annotate::Locator::load(&repo_root, &ws.base_dir.join(&p.dir)),
            )
        })
        .collect();
    report
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .filter_map(|f| {
            let (_, locator) = locators
                .iter()
                .find(|(addrs, _)| addrs.contains(&f.address.as_str()))
                .or(locators.first())?;
            let loc = locator.locate_or_main(&f.address).ok().flatten()?;
            Some(crate::github::Annotation {
                path: loc.path,
                start_line: u64::from(loc.line),
                end_line: u64::from(loc.line),
                annotation_level: match f.severity {
                    Severity::Critical | Severity::High => "failure",
                    Severity::Medium => "warning",
                    _ => "notice",
                }
                .into(),
                message: escape::plain(&format!("{}: {}\n{}", f.address, f.message, f.remediation)),
                title: Some(escape::plain(&format!("{} {}", f.id, f.title))),
            })
        })
        .collect()
}
