//! `phasegate.yml` and the change plan: their types, loading with located
//! errors, validation and JSON Schemas.

pub mod model;

pub use model::*;
