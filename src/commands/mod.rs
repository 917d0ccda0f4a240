//! The application layer: each command turns its arguments plus config into
//! a request, drives the domain core and the adapters, and returns an exit code.

pub mod output;
