//! Config and change-plan files: golden folders of accepted and rejected
//! inputs, the committed JSON Schemas, and the examples.
//!
//! Each folder under `tests/fixtures/config/<case>/` holds `phasegate.yml`,
//! optionally `change.yml`, and `expected.txt`: `ok`, or the exact error text.
//! `UPDATE_EXPECT=1` rewrites the expectations; `UPDATE_SCHEMAS=1` rewrites `schemas/`.

use std::path::{Path, PathBuf};

use phasegate::config::{self, schema};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn outcome(dir: &Path) -> String {
    // Paths in messages are shown relative to the case folder, as a user
    // running phasegate there would see them.
    let cfg = PathBuf::from("phasegate.yml");
    let change = dir
        .join("change.yml")
        .exists()
        .then(|| PathBuf::from("change.yml"));
    let prev = std::env::current_dir().unwrap();
    let result = {
        let _guard = CwdGuard::enter(dir, prev);
        config::load_checked(&cfg, change.as_deref(), &phasegate::scan::declared)
    };
    match result {
        Ok(_) => "ok\n".to_string(),
        Err(e) => format!("{e}\n"),
    }
}

/// The golden cases change directory; tests in this module run one at a time
/// through this lock so they cannot see each other's working directory.
static CWD_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct CwdGuard {
    prev: PathBuf,
    _lock: std::sync::MutexGuard<'static, ()>,
}

impl CwdGuard {
    fn enter(dir: &Path, prev: PathBuf) -> CwdGuard {
        let lock = CWD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        std::env::set_current_dir(dir).unwrap();
        CwdGuard { prev, _lock: lock }
    }
}

impl Drop for CwdGuard {
    fn drop(&mut self) {
        let _ = std::env::set_current_dir(&self.prev);
    }
}

#[test]
fn golden_config_cases_give_their_expected_outcome() {
    let root = repo().join("tests/fixtures/config");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "expected the golden cases in {root:?}");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = vec![];
    for case in &cases {
        let got = outcome(case);
        let expected_path = case.join("expected.txt");
        if update {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{expected_path:?} missing; run with UPDATE_EXPECT=1"));
        if got != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- got\n{got}",
                case.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rejection_names_file_line_and_column() {
    let root = repo().join("tests/fixtures/config");
    let located = regex::Regex::new(r"^(phasegate|change)\.yml:\d+:\d+: ").unwrap();
    for entry in std::fs::read_dir(&root).unwrap() {
        let case = entry.unwrap().path();
        let got = outcome(&case);
        if got == "ok\n" {
            continue;
        }
        for line in got.lines() {
            assert!(
                located.is_match(line),
                "{}: not located: {line}",
                case.display()
            );
        }
    }
}

#[test]
fn committed_schemas_match_types() {
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    for (file, generate) in schema::SCHEMA_FILES {
        let path = repo().join("schemas").join(file);
        let fresh = schema::to_file_text(&generate());
        if update {
            std::fs::write(&path, &fresh).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "schemas/{file} is out of date with the Rust types; run `UPDATE_SCHEMAS=1 cargo test --test it committed_schemas_match_types` and commit it"
        );
    }
}

#[test]
fn examples_validate_against_the_committed_schemas() {
    let load = |file: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(repo().join("schemas").join(file)).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let yaml = |path: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(repo().join(path)).unwrap();
        serde_saphyr::from_str(&text).unwrap()
    };
    let config = jsonschema::validator_for(&load("phasegate.schema.json")).unwrap();
    let change = jsonschema::validator_for(&load("change-plan.schema.json")).unwrap();
    let quick = yaml("examples/quickstart/phasegate.yml");
    let errors: Vec<_> = config.iter_errors(&quick).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let plan = yaml("examples/quickstart/change.yml");
    let errors: Vec<_> = change.iter_errors(&plan).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    // And the schema rejects what phasegate rejects.
    let mut bad = quick.clone();
    bad["environments"][0]["reviewrs"] = serde_json::json!(true);
    assert!(!config.is_valid(&bad));
}

#[test]
fn quickstart_config_and_change_plan_are_valid() {
    let dir = repo().join("examples/quickstart");
    let (cfg, change) = config::load_checked(
        &dir.join("phasegate.yml"),
        Some(&dir.join("change.yml")),
        &phasegate::scan::declared,
    )
    .unwrap();
    let phases = config::resolve_phases(&cfg, change.as_ref());
    assert_eq!(phases.len(), 3);
    assert_eq!(phases[2].environment.github_environment(), "production");
}

/// `phasegate <args>` in `dir`, which must exit 0; its stdout.
fn validated(dir: &std::path::Path, args: &[&str]) -> String {
    let out = crate::workflows::phasegate(dir, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::workflows::text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn validate_shows_each_phase_with_only_the_projects_deployed_to_its_environment() {
    let dir = repo().join("tests/fixtures/config/per-environment-projects");
    let stdout = validated(&dir, &["validate"]);
    assert!(
        stdout.contains("  phase 1 dev -> dev [dev, dns]\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  phase 2 prod -> prod [prod, dns]"),
        "{stdout}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&validated(&dir, &["validate", "--format", "json"])).unwrap();
    let phases: Vec<(String, serde_json::Value)> = json["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["environment"].as_str().unwrap().to_string(),
                p["projects"].clone(),
            )
        })
        .collect();
    assert_eq!(
        phases,
        [
            ("dev".to_string(), serde_json::json!(["dev", "dns"])),
            ("prod".to_string(), serde_json::json!(["prod", "dns"])),
        ]
    );
    assert_eq!(
        json["project_environments"],
        serde_json::json!({"dev": ["dev"], "prod": ["prod"], "dns": ["dev", "prod"]})
    );
}

#[test]
fn a_change_plan_phase_holds_only_projects_of_its_environment() {
    let dir = repo().join("tests/fixtures/config/per-environment-projects");
    let stdout = validated(&dir, &["--change", "change.yml", "validate"]);
    // The prod phase names no projects: every project deployed to prod.
    assert!(
        stdout.contains("  phase 1 dev -> dev [dev, dns]\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  phase 2 prod -> prod [prod, dns]"),
        "{stdout}"
    );

    let bad = repo().join("tests/fixtures/config/phase-project-outside-environment");
    let out = crate::workflows::phasegate(&bad, &["--change", "change.yml", "validate"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        crate::workflows::text(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("phases[0].projects[1]: project `prod` is not deployed to `dev`"),
        "{}",
        crate::workflows::text(&out)
    );
}
