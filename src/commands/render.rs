//! `phasegate render`: one plan JSON rendered as the PR comment or as JSON,
//! with no side effects at all.

use crate::cli::{RenderArgs, RenderFormat};
use crate::error::{ExitCode, Result};
use crate::render::{self, PhaseView, ProjectView};
use crate::runner::output::print_stdout;
use crate::runner::plan::project_json;

pub fn run(args: RenderArgs) -> Result<ExitCode> {
    let file = &args.plan_json;
    let text = crate::runner::projects::read_plan_file(file)?;
    let changes = crate::runner::projects::parse_plan(&text, &file.display().to_string())?;
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "default".into());
    match args.format {
        RenderFormat::Json => {
            let value = serde_json::json!({ "projects": [project_json(&name, &changes)] });
            print_stdout(&serde_json::to_string_pretty(&value).unwrap_or_default());
        }
        RenderFormat::Markdown => {
            let view = PhaseView {
                change_id: "local".into(),
                change_title: None,
                phase_name: "local".into(),
                phase_index: 0,
                environment: "local".into(),
                projects: vec![ProjectView {
                    name,
                    changes: changes.into(),
                }],
                sections: vec![],
                run_url: None,
            };
            print_stdout(&render::comment(&view));
        }
    }
    Ok(ExitCode::Success)
}
