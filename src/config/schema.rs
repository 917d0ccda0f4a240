//! JSON Schemas of the config and the change plan, generated from the Rust
//! types; the committed copies in `schemas/` are checked against these.

use super::model::{ChangePlan, Config};

pub fn config_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Config)).expect("a schema serializes")
}

pub fn change_plan_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(ChangePlan)).expect("a schema serializes")
}

/// Generates one schema.
pub type SchemaFn = fn() -> serde_json::Value;

/// The committed file names, with the generator for each.
pub const SCHEMA_FILES: [(&str, SchemaFn); 2] = [
    ("phasegate.schema.json", config_schema),
    ("change-plan.schema.json", change_plan_schema),
];

/// A schema as committed: pretty JSON and a trailing newline.
pub fn to_file_text(schema: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a schema serializes");
    text.push('\n');
    text
}
