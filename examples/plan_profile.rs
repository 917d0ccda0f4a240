//! Where `phasegate plan --plan-json` spends time and memory, step by step,
//! in one process (issue 14 §1: profile before optimizing; perf is not
//! installed here). A counting global allocator gives each step's peak of
//! live heap bytes above what was live when it started; each step is timed.
//! The last line runs the whole command in-process for its total.
//!
//! `cargo run --release --example plan_profile -- <plan.json> [<out dir>]`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use clap::Parser;
use phasegate::gates::security;
use phasegate::plan::json::RawPlan;
use phasegate::plan::parse_plan_json;
use phasegate::render::{self, PhaseView, ProjectView};

/// The system allocator, counting live bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Relaxed) + new_size - layout.size();
            PEAK.fetch_max(live, Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f`, printing its time and the peak of live heap above the start.
fn step<T>(name: &str, file_bytes: usize, f: impl FnOnce() -> T) -> T {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    let peak = PEAK.load(Relaxed) - base;
    println!(
        "{name:<44} {:>9.1} ms  peak +{:>7.1} MiB ({:>5.2}x file)  live after {:>7.1} MiB",
        took.as_secs_f64() * 1e3,
        peak as f64 / 1_048_576.0,
        peak as f64 / file_bytes as f64,
        LIVE.load(Relaxed) as f64 / 1_048_576.0
    );
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .expect("usage: plan_profile <plan.json> [<out dir>]");
    let out_dir = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "/tmp/plan_profile_out".into());
    let bytes = std::fs::metadata(path).expect("the plan").len() as usize;
    println!("{path}: {:.1} MiB", bytes as f64 / 1_048_576.0);
    let text = step("read file", bytes, || {
        std::fs::read_to_string(path).unwrap()
    });
    step("floor: JSON -> IgnoredAny", bytes, || {
        serde_json::from_str::<serde::de::IgnoredAny>(&text).unwrap()
    });
    step("JSON -> Value", bytes, || {
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    });
    step("JSON -> RawPlan (typed, no normalization)", bytes, || {
        serde_json::from_str::<RawPlan>(&text).unwrap()
    });
    let cs = step("parse_plan_json (parse+normalize+digest)", bytes, || {
        parse_plan_json(&text, "plan.json").unwrap()
    });
    step("security scan", bytes, || security::scan(&cs, false));
    step("group changes (once, shared)", bytes, || cs.groups().len());
    let view = PhaseView {
        change_id: "BENCH".into(),
        change_title: None,
        phase_name: "dev".into(),
        phase_index: 0,
        environment: "dev".into(),
        projects: vec![ProjectView {
            name: "app".into(),
            // Shared, as `plan` shares it with the gates (no copy).
            changes: std::sync::Arc::new(cs),
        }],
        sections: vec![],
        run_url: None,
    };
    step("render comment", bytes, || render::comment(&view));
    step("render summary", bytes, || render::summary(&view));
    step("normalized plan as compact JSON", bytes, || {
        serde_json::to_string(view.projects[0].changes.as_ref()).unwrap()
    });
    drop(view);
    let cli = phasegate::cli::Cli::parse_from([
        "phasegate",
        "plan",
        "--plan-json",
        path,
        "--out",
        &out_dir,
        "--format",
        "json",
    ]);
    let code = step("whole command, in-process (prints JSON)", bytes, || {
        phasegate::commands::run(cli)
    });
    eprintln!(
        "exit {:?}",
        code.map(|c| c as i32).map_err(|e| e.to_string())
    );
}
