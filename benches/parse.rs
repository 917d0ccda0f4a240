//! Parse + normalize + digest alone (`plan::parse_plan_json`), against the
//! floor: the same bytes parsed into `serde::de::IgnoredAny` (check it is
//! JSON, keep nothing), in the same run, alternating the two.
//!
//! Run: `cargo bench --bench parse -- [PLAN.json | RESOURCES] [ROUNDS]`.
//! A file (e.g. from `cargo run --release --example plangen -- 5000 plan.json`)
//! is read; a number generates `synthetic_plan_json` of that many resources
//! (default 5,000). Prints each side's median time, their ratio, and what the
//! counting allocator saw of one parse: allocations, bytes allocated, and the
//! peak of live heap above the start, as a multiple of the file.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use phasegate::plan::{parse_plan_json, synthetic_plan_json};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static COUNT: AtomicUsize = AtomicUsize::new(0);
static TOTAL: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Relaxed) + by;
    PEAK.fetch_max(live, Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        COUNT.fetch_add(1, Relaxed);
        TOTAL.fetch_add(layout.size(), Relaxed);
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        COUNT.fetch_add(1, Relaxed);
        if new_size > layout.size() {
            TOTAL.fetch_add(new_size - layout.size(), Relaxed);
            grew(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Allocations, bytes allocated and peak live heap above the start of `f`.
fn allocations<T>(f: impl FnOnce() -> T) -> (usize, usize, usize) {
    let (count, total, base) = (COUNT.load(Relaxed), TOTAL.load(Relaxed), LIVE.load(Relaxed));
    PEAK.store(base, Relaxed);
    let out = f();
    let seen = (
        COUNT.load(Relaxed) - count,
        TOTAL.load(Relaxed) - total,
        PEAK.load(Relaxed) - base,
    );
    drop(out);
    seen
}

fn main() {
    // `cargo bench` passes `--bench`; only our own arguments count.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let source = args.first().cloned().unwrap_or_else(|| "5000".into());
    let rounds: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(7);
    let text = match source.parse::<usize>() {
        Ok(n) => synthetic_plan_json(n, n / 30, 20),
        Err(_) => std::fs::read_to_string(&source).expect("a readable plan file"),
    };
    let mib = text.len() as f64 / 1_048_576.0;
    println!("plan {source}: {mib:.1} MiB of JSON; median of {rounds} rounds, alternating");

    let (mut floor, mut pipeline) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = Instant::now();
        std::hint::black_box(
            serde_json::from_str::<serde::de::IgnoredAny>(&text).expect("valid JSON"),
        );
        floor.push(start.elapsed());
        let start = Instant::now();
        std::hint::black_box(parse_plan_json(&text, "bench.json").expect("a valid plan"));
        pipeline.push(start.elapsed());
    }
    let (floor, pipeline) = (median(floor), median(pipeline));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("floor: JSON -> IgnoredAny           {:>9.1} ms", ms(floor));
    println!(
        "parse + normalize + digest          {:>9.1} ms  = {:.2}x the floor",
        ms(pipeline),
        pipeline.as_secs_f64() / floor.as_secs_f64()
    );
    let (count, total, peak) =
        allocations(|| parse_plan_json(&text, "bench.json").expect("a valid plan"));
    println!(
        "one parse allocates {count} times, {:.1} MiB in all; live heap peaks {:.1} MiB above the start ({:.2}x the file)",
        total as f64 / 1_048_576.0,
        peak as f64 / 1_048_576.0,
        peak as f64 / text.len() as f64
    );
}
