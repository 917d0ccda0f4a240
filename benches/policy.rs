//! The policy gate's speed beside OPA's own Go engine (through PyPI's
//! opa-golib-python-bindings, installed by scripts/test-deps.d/opa.sh) on the
//! same input: a 5,000-resource plan (the team fixture's resource changes
//! repeated under new addresses) and the team's policies (11 policy files
//! plus a helper library, all namespaces).
//!
//! Run: `cargo bench --bench policy` (optionally `-- 5000` for resources).
//! Prints the median time of each side and the ratio phasegate / OPA; OPA is
//! timed inside Python around its evaluation only (policies already loaded),
//! phasegate around masking the plan and evaluating (compiled once).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use phasegate::gates::policy::{
    compile, findings, mask_plan, Namespaces, PolicySource, SetSeverity,
};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("fixture dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let n = p.to_string_lossy();
            exts.iter().any(|x| n.ends_with(x)) && !n.ends_with("_test.rego")
        })
        .collect();
    out.sort();
    out
}

fn big_plan(resources: usize) -> Value {
    let text = std::fs::read_to_string(root().join("tests/fixtures/policy/plans/team.json"))
        .expect("team plan");
    let mut plan: Value = serde_json::from_str(&text).expect("JSON");
    let template = plan["resource_changes"]
        .as_array()
        .expect("changes")
        .clone();
    let changes: Vec<Value> = (0..resources)
        .map(|i| {
            let mut rc = template[i % template.len()].clone();
            let address = format!("{}[{i}]", rc["address"].as_str().unwrap_or("x"));
            rc["address"] = Value::String(address);
            rc["index"] = Value::from(i);
            rc
        })
        .collect();
    plan["resource_changes"] = Value::Array(changes);
    plan
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let resources = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5_000usize);
    let rounds = 5;
    let policy_dir = root().join("tests/fixtures/policy/team/policy");
    let data_dir = root().join("tests/fixtures/policy/team/data");
    let rego = files(&policy_dir, &[".rego"]);
    let data = files(&data_dir, &[".yaml"]);
    let plan = big_plan(resources);

    let source = PolicySource {
        name: "team".into(),
        modules: rego
            .iter()
            .map(|p| {
                (
                    p.display().to_string(),
                    std::fs::read_to_string(p).expect("rego"),
                )
            })
            .collect(),
        data: data
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).expect("data");
                (
                    p.display().to_string(),
                    serde_saphyr::from_str(&text).expect("yaml"),
                )
            })
            .collect(),
        namespaces: Namespaces::All,
        timeout: Duration::from_secs(600),
    };
    let compiled = compile(&source).expect("the team policies compile");
    let mut count = 0;
    let samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            let input = mask_plan(plan.clone());
            let found =
                findings(&compiled, &SetSeverity::default(), &input, "bench").expect("evaluates");
            count = found.len();
            start.elapsed()
        })
        .collect();
    let ours = median(samples);
    println!(
        "policy gate: {resources} resources, {} policy files; phasegate median of {rounds}: {:.3} s, {count} findings",
        rego.len(),
        ours.as_secs_f64()
    );

    // OPA through the Python bindings, on the masked input.
    let tmp = std::env::temp_dir().join(format!(
        "phasegate-policy-bench-{}.json",
        std::process::id()
    ));
    std::fs::write(&tmp, mask_plan(plan).plan.to_string()).expect("write the plan");
    let tools = root().join(".tools/opa-py");
    let mut theirs = Vec::new();
    for _ in 0..rounds {
        let out = Command::new("python3")
            .env("PYTHONPATH", &tools)
            .arg(root().join("tests/fixtures/policy/opa_eval.py"))
            .arg(&tmp)
            .arg("*")
            .args(&rego)
            .args(&data)
            .output()
            .expect("python3");
        if !out.status.success() {
            println!(
                "OPA (Python bindings) unavailable: {}; install with `bash scripts/install-test-deps.sh`",
                String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
            );
            let _ = std::fs::remove_file(&tmp);
            return;
        }
        let v: Value = serde_json::from_slice(&out.stdout).expect("opa_eval JSON");
        theirs.push(Duration::from_secs_f64(
            v["seconds"].as_f64().unwrap_or(f64::NAN),
        ));
    }
    let _ = std::fs::remove_file(&tmp);
    let theirs = median(theirs);
    println!(
        "OPA 1.x Go engine (opa-golib-python-bindings 0.4.4) median of {rounds}: {:.3} s",
        theirs.as_secs_f64()
    );
    println!(
        "ratio phasegate / OPA: {:.2}",
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}
