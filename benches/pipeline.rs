//! The plan pipeline's speed and memory, as ratios against a baseline taken
//! in the same run on the same input: parsing the plan JSON into an untyped
//! `serde_json::Value` (the least any consumer of the plan must do).
//!
//! Run: `cargo bench --bench pipeline` (optionally `-- 20000 10` for resources
//! and attributes per resource). Prints one line per stage: median time,
//! ratio to the baseline, and the peak resident memory so far; then what
//! change grouping adds to rendering the comment (rendering always groups,
//! so "without" is the render time less the grouping time).

use std::time::{Duration, Instant};

use phasegate::plan::group::group_changes;
use phasegate::plan::{parse_plan_json, synthetic_plan_json};
use phasegate::render::{self, PhaseView, ProjectView};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn measure<T>(rounds: usize, mut f: impl FnMut() -> T) -> Duration {
    let samples = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect();
    median(samples)
}

/// Peak resident set size of this process, in MiB (Linux).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let resources = args.first().copied().unwrap_or(5_000);
    let attrs = args.get(1).copied().unwrap_or(20);
    let rounds = 5;
    let text = synthetic_plan_json(resources, resources / 30, attrs);
    println!(
        "plan: {resources} resources x {attrs} attributes, {:.1} MiB of JSON; median of {rounds} rounds",
        text.len() as f64 / 1_048_576.0
    );

    let baseline = measure(rounds, || {
        serde_json::from_str::<serde_json::Value>(&text).expect("valid JSON")
    });
    let parse = measure(rounds, || {
        parse_plan_json(&text, "bench.json").expect("valid plan")
    });
    let changes = parse_plan_json(&text, "bench.json").expect("valid plan");
    let view = PhaseView {
        change_id: "BENCH".into(),
        change_title: None,
        phase_name: "dev".into(),
        phase_index: 0,
        environment: "dev".into(),
        projects: vec![ProjectView {
            name: "app".into(),
            changes: changes.into(),
        }],
        sections: vec![],
        run_url: None,
    };
    let grouping = measure(rounds, || group_changes(&view.projects[0].changes));
    let comment = measure(rounds, || render::comment(&view));
    let summary = measure(rounds, || render::summary(&view));

    let ratio = |d: Duration| d.as_secs_f64() / baseline.as_secs_f64();
    let rss = peak_rss_mib();
    println!("{:<28} {:>10} {:>8}", "stage", "median", "ratio");
    for (name, d) in [
        ("baseline: JSON -> Value", baseline),
        ("parse + normalize + digest", parse),
        ("group changes", grouping),
        ("render comment (65,536)", comment),
        ("render summary (1 MiB)", summary),
    ] {
        println!(
            "{name:<28} {:>8.1}ms {:>7.2}x",
            d.as_secs_f64() * 1e3,
            ratio(d)
        );
    }
    let without = comment.saturating_sub(grouping);
    println!(
        "grouping adds {:.1}% to rendering the comment ({:.1}ms with, {:.1}ms without)",
        grouping.as_secs_f64() / without.as_secs_f64() * 100.0,
        comment.as_secs_f64() * 1e3,
        without.as_secs_f64() * 1e3
    );
    println!(
        "peak RSS {rss:.0} MiB = {:.1}x the plan JSON's size",
        rss / (text.len() as f64 / 1_048_576.0)
    );
}
