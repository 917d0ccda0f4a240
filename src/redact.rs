//! Redaction of secrets (tokens, sensitive values) from any text phasegate emits.
