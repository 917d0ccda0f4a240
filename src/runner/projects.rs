//! One phase's projects and their plans, from `--plan-json` or by running
//! the IaC engine over each project: what `plan` and `gate` both start from,
//! and what the gates run over.

use std::path::{Path, PathBuf};

use crate::config::ResolvedPhase;
use crate::error::{Error, Result};
use crate::iac::{self, CliEngine, IacEngine};
use crate::plan::{self, ChangeSet};
use crate::runner::session::absolute;
use crate::runner::workspace::{local_phase, Workspace};

/// One project's plan in this phase.
pub struct ProjectPlan {
    pub name: String,
    pub dir: PathBuf,
    /// Shared with the view the comment and summary render (no copy).
    pub changes: std::sync::Arc<ChangeSet>,
    /// The `show -json` text, for the policy gate's input (`plan` empties it
    /// once the gates ran).
    pub plan_json: String,
    /// The upstream outputs it was planned with (`projects[].inputs`).
    pub inputs: Vec<crate::journal::PlannedInput>,
}

/// A project whose inputs read outputs its upstreams' states do not hold
/// yet: planned once they are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub name: String,
    /// The sources it waits for (`network.outputs.vpc_id`).
    pub waiting_on: Vec<String>,
    /// Why, in words.
    pub why: String,
    /// What the phase's digest holds for it until it is planned.
    pub digest: String,
}

/// A phase's plans: the projects planned, and those that wait for their
/// upstreams' outputs.
pub struct PhasePlans {
    pub phase: ResolvedPhase,
    pub projects: Vec<ProjectPlan>,
    pub waiting: Vec<Waiting>,
}

/// The selected phase and its projects' plans, for the commands that gate
/// a plan without journaling it: a project still waiting for its
/// upstreams' outputs cannot be gated, so it is refused naming them.
pub fn collect_projects(
    ws: &Workspace,
    select: &crate::cli::PhaseSelector,
    plan_json: Option<&Path>,
    out: Option<&Path>,
) -> Result<(ResolvedPhase, Vec<ProjectPlan>)> {
    let plans = collect_plans(ws, select, plan_json, out)?;
    if let Some(w) = plans.waiting.first() {
        return Err(Error::Refused(w.why.clone()));
    }
    Ok((plans.phase, plans.projects))
}

/// The selected phase and its projects' plans: from `--plan-json`, or by
/// running the engine over every project of the phase, in dependency
/// order, each with the outputs its inputs read.
pub fn collect_plans(
    ws: &Workspace,
    select: &crate::cli::PhaseSelector,
    plan_json: Option<&Path>,
    out: Option<&Path>,
) -> Result<PhasePlans> {
    let phase = match ws.select(select)? {
        Some(p) => p,
        None => local_phase(&project_name_for(plan_json)),
    };
    let mut projects = vec![];
    let mut waiting = vec![];
    match plan_json {
        Some(file) => projects.push(ingest(&phase, select.project.as_deref(), file)?),
        None => {
            let cfg = ws.config.as_ref().ok_or_else(|| {
                Error::Input("planning needs a config (or pass --plan-json FILE)".into())
            })?;
            let engine = CliEngine::from_config(&cfg.engine, &ws.base_dir);
            let out_dir = ws.out_dir(out);
            for p in &phase.projects {
                let mut inputs = crate::runner::inputs::resolve(ws, &phase, p)?;
                // An upstream planned just before it whose plan changes an
                // output it reads: it waits for that apply.
                inputs.wait_for_changes(&|upstream, output| {
                    projects.iter().any(|q: &ProjectPlan| {
                        q.name == upstream
                            && q.changes
                                .outputs
                                .iter()
                                .any(|o| o.name == output && o.action != crate::plan::Action::NoOp)
                    })
                });
                if inputs.absent.is_empty() {
                    projects.push(run_engine(ws, &phase, p, &inputs, &engine, &out_dir)?);
                    continue;
                }
                let why = inputs
                    .absent
                    .iter()
                    .map(|a| {
                        crate::runner::inputs::absent_message(&p.name, a, &phase.environment.name)
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                let waiting_on = inputs.waiting_on();
                waiting.push(Waiting {
                    name: p.name.clone(),
                    digest: crate::runner::inputs::waiting_digest(&waiting_on),
                    waiting_on,
                    why,
                });
            }
        }
    };
    Ok(PhasePlans {
        phase,
        projects,
        waiting,
    })
}

fn project_name_for(plan_json: Option<&Path>) -> String {
    plan_json
        .and_then(|p| p.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "default".into())
}

fn ingest(phase: &ResolvedPhase, project: Option<&str>, file: &Path) -> Result<ProjectPlan> {
    let target = match project {
        Some(name) => phase
            .projects
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                Error::Input(format!("--project {name}: not in phase {}", phase.name))
            })?,
        None if phase.projects.len() == 1 => &phase.projects[0],
        None => {
            return Err(Error::Input(format!(
                "--plan-json gives one plan but phase {} has {} projects; pass --project",
                phase.name,
                phase.projects.len()
            )))
        }
    };
    let text = read_plan_file(file)?;
    let origin = file.display().to_string();
    let mut changes = parse_plan(&text, &origin)?;
    // A reader's plan binds the values it was made with, as phasegate's own
    // plans do, so the re-plan before its apply can match its digest.
    let inputs = crate::runner::inputs::from_plan_json(&text, target, &origin)?;
    changes.digest = crate::runner::inputs::bind_digest(&changes.digest, &inputs.binds());
    Ok(ProjectPlan {
        name: target.name.clone(),
        dir: target.dir.clone(),
        changes: changes.into(),
        plan_json: text,
        inputs: inputs.records(),
    })
}

/// A plan JSON file's text. Terraform writes UTF-8; anything else (a UTF-16
/// file from PowerShell's `>`, a binary plan given by mistake) is bad input
/// naming the file and where the first undecodable byte is.
pub(crate) fn read_plan_file(file: &Path) -> Result<String> {
    let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
    decode_plan(bytes, &file.display().to_string())
}

fn decode_plan(bytes: Vec<u8>, origin: &str) -> Result<String> {
    let utf16 = bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]);
    if utf16 {
        return Err(Error::Input(format!(
            "{origin}:1:1: the plan JSON is UTF-16 (it starts with a UTF-16 byte order mark); `terraform show -json` writes UTF-8, so write it with a redirect that keeps UTF-8 (PowerShell: `| Out-File -Encoding utf8`)"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..at];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let column = at - before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) + 1;
        let hint = if e.as_bytes().starts_with(b"PK") {
            " (it looks like a binary plan file: pass the output of `terraform show -json PLANFILE`)"
        } else {
            ""
        };
        Error::Input(format!(
            "{origin}:{line}:{column}: the plan JSON is not UTF-8 (byte {at} cannot be decoded){hint}"
        ))
    })
}

/// [`parse_plan`] of a plan the engine made for `req`, its digest bound to
/// the upstream outputs `req` passed (`PlanRequest::binds`). Every plan of
/// a project with inputs is parsed here, so its digest always binds them.
pub(crate) fn parse_requested(
    text: &str,
    req: &crate::iac::PlanRequest,
    origin: &str,
) -> Result<ChangeSet> {
    let mut changes = parse_plan(text, origin)?;
    changes.digest = crate::runner::inputs::bind_digest(&changes.digest, &req.binds);
    Ok(changes)
}

/// Parses a `show -json` text and hands the values Terraform marks sensitive
/// to the redactor before anything else runs, so that engine output quoting
/// one (a failed apply's error) is masked on every sink. Every command parses
/// plans here.
pub(crate) fn parse_plan(text: &str, origin: &str) -> Result<ChangeSet> {
    let changes = plan::parse_plan_json(text, origin)?;
    let redactor = crate::redact::global();
    // A plan exported already masked holds our own placeholders where the
    // secrets were: masking those would rewrite every mention of them.
    let placeholders = [plan::model::SENSITIVE_MASK, plan::model::UNKNOWN_MARK];
    for secret in &changes.sensitive_values.0 {
        if !placeholders.contains(&secret.as_str()) {
            redactor.add_sensitive(secret);
        }
    }
    Ok(changes)
}

fn run_engine(
    ws: &Workspace,
    phase: &ResolvedPhase,
    project: &crate::config::Project,
    inputs: &crate::runner::inputs::Resolved,
    engine: &dyn IacEngine,
    out_dir: &Path,
) -> Result<ProjectPlan> {
    let plan_dir = absolute(&out_dir.join("plans"))?;
    std::fs::create_dir_all(&plan_dir).map_err(|e| Error::io(&plan_dir, e))?;
    let plan_file = plan_dir.join(format!(
        "{}-{}.tfplan",
        project.name, phase.environment.name
    ));
    let req = crate::runner::session::with_inputs(
        crate::runner::session::base_request(ws, phase, project, plan_file)?,
        inputs,
    );
    let (_, json) = iac::plan_project(engine, &req)?;
    let changes = parse_requested(&json, &req, &format!("{} (show -json)", project.name))?;
    Ok(ProjectPlan {
        name: project.name.clone(),
        dir: project.dir.clone(),
        changes: changes.into(),
        plan_json: json,
        inputs: inputs.records(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_plan_that_is_not_utf8_is_bad_input_naming_the_line_and_column() {
        let err = super::decode_plan(b"{\n  \"a\": \"\xff\"}".to_vec(), "p.json").unwrap_err();
        assert!(matches!(err, crate::Error::Input(_)), "{err}");
        assert!(err.to_string().starts_with("p.json:2:9: "), "{err}");
        let utf16: Vec<u8> = [0xFF, 0xFE, b'{', 0, b'}', 0].to_vec();
        let err = super::decode_plan(utf16, "p.json").unwrap_err();
        assert!(err.to_string().contains("UTF-16"), "{err}");
        let zip = b"PK\x03\x04\x14\x00\x08\x00\x08\x00\xa5".to_vec();
        assert!(super::decode_plan(zip, "p.tfplan")
            .unwrap_err()
            .to_string()
            .contains("binary plan"));
    }

    #[test]
    fn a_parsed_plan_s_sensitive_values_are_masked_in_engine_messages() {
        let text = include_str!("../../tests/fixtures/plans/sensitive-canary.json");
        super::parse_plan(text, "sensitive-canary.json").unwrap();
        let message = "Error: invalid password \"CANARY-7f3a-create\" for user admin";
        let shown = crate::redact::global().apply(message);
        assert!(!shown.contains("CANARY"), "{shown}");
        assert!(shown.contains("for user admin"), "{shown}");
    }

    #[test]
    fn a_plan_exported_already_masked_does_not_make_the_placeholder_a_secret() {
        let text = include_str!("../../tests/fixtures/security/planted.json");
        super::parse_plan(text, "planted.json").unwrap();
        let line = "password is (sensitive value)";
        assert_eq!(crate::redact::global().apply(line), line);
    }
}
