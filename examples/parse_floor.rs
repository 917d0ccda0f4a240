//! The benchmarks' floor (`scripts/bench.sh`): read a plan file and parse it
//! with serde_json into `serde::de::IgnoredAny`, the least any consumer of a
//! plan must do (check it is JSON, keep nothing). Run as a process so it is
//! timed the same way as `phasegate plan --plan-json`.
//!
//! `cargo run --release --example parse_floor -- <file>`

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: parse_floor <file>");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("parse_floor: {path}: {e}");
        std::process::exit(3);
    });
    let parsed: serde::de::IgnoredAny = serde_json::from_str(&text).unwrap_or_else(|e| {
        eprintln!("parse_floor: {path}: {e}");
        std::process::exit(2);
    });
    std::hint::black_box(parsed);
}
