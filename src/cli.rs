//! Command-line definitions (clap derive).
