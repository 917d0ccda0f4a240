//! `phasegate schema`: prints the JSON Schemas generated from the config types.

use crate::cli::SchemaKind;
use crate::config::schema;
use crate::error::{ExitCode, Result};
use crate::runner::output::print_stdout;

pub fn run(which: Option<SchemaKind>) -> Result<ExitCode> {
    let value = match which {
        Some(SchemaKind::Config) => schema::config_schema(),
        Some(SchemaKind::Change) => schema::change_plan_schema(),
        None => serde_json::json!({
            "phasegate.yml": schema::config_schema(),
            "change-plan": schema::change_plan_schema(),
        }),
    };
    print_stdout(&schema::to_file_text(&value));
    Ok(ExitCode::Success)
}
