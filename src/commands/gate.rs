//! `phasegate gate security|cost|blast`: only the named gate, over a phase's plans (from
//! the engine, or `--plan-json`), printed as JSON or markdown; exit 1 when
//! the gate blocks or needs an acknowledgement that is missing.

use crate::cli::{GateArgs, GateFormat, GateKind, GlobalArgs};
use crate::error::{Error, ExitCode, Result};
use crate::runner::gating::{self, GateRun};
use crate::runner::output::print_stdout;
use crate::runner::projects::collect_projects;
use crate::runner::workspace::Workspace;

pub fn run(global: &GlobalArgs, args: GateArgs) -> Result<ExitCode> {
    // The policy gate also runs without a config, as `conftest test` does.
    if args.gate == GateKind::Policy {
        return show(&args, &crate::runner::policy::gate(global, &args)?);
    }
    let key = match args.gate {
        GateKind::Security => "security",
        GateKind::Cost => "cost",
        GateKind::Blast => "blast",
        GateKind::Policy => "policy",
    };
    // Checked before any plan runs: a flag the gate cannot honour is a
    // mistake in the command line, not something to ignore.
    if key != "security" && args.gates.sarif_out.is_some() {
        return Err(Error::Input(format!(
            "--sarif-out: only `gate security` writes SARIF; `gate {key}` has no findings to write"
        )));
    }
    let ws = Workspace::load(global, args.plan_json.is_none())?;
    let (phase, projects) = collect_projects(&ws, &args.select, args.plan_json.as_deref(), None)?;
    let outcome = gating::evaluate(
        &ws,
        &phase,
        &projects,
        &args.gates,
        &ws.out_dir(None),
        gating::GateSet::Only(key),
    )?;
    let run: &GateRun = outcome
        .get(key)
        .ok_or_else(|| Error::External(format!("the {key} gate did not run")))?;
    show(&args, run)
}

/// Prints one gate's result (and writes its SARIF when asked); exit 1 when
/// it stops the phase.
fn show(args: &GateArgs, run: &GateRun) -> Result<ExitCode> {
    if let Some(path) = &args.gates.sarif_out {
        let name = format!("{}.sarif", run.key);
        if let Some((_, sarif)) = run.files.iter().find(|(n, _)| *n == name) {
            std::fs::write(path, crate::redact::global().apply(sarif))
                .map_err(|e| Error::io(path, e))?;
        }
    }
    match args.format {
        GateFormat::Json => {
            print_stdout(&serde_json::to_string_pretty(&run.json).unwrap_or_default())
        }
        GateFormat::Markdown => print_stdout(&format!(
            "{}\n\n{}",
            run.section.essentials_md, run.section.details_md
        )),
    }
    Ok(if run.verdict.stops() {
        ExitCode::Refused
    } else {
        ExitCode::Success
    })
}
