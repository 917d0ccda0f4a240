//! The JSON Schema of one journal line, generated from [`super::Event`] and
//! committed as `schemas/journal-event.schema.json`.

/// The committed file name.
pub const SCHEMA_FILE: &str = "journal-event.schema.json";

pub fn event_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(super::Event)).expect("a schema serializes")
}
