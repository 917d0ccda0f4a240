//! Phase reviews end to end: the real binary, Terraform 1.0.3 and testcloud,
//! one process per step sharing only the local store. Verification results
//! are journaled as the `verify` step writes them.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{json, Value};

use crate::testbed::{describe, repo_root, Testbed};

const PHASEGATE: &str = env!("CARGO_BIN_EXE_phasegate");

/// One change in a testbed: the fixture's config, a store, the journal.
pub struct Runner {
    pub tb: Testbed,
    pub store: PathBuf,
    pub change: &'static str,
}

impl Runner {
    pub fn new(fixture: &str, change: &'static str) -> Runner {
        let tb = Testbed::new(fixture);
        let store = tb.root().join("store");
        Runner { tb, store, change }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let (k, v) = self.tb.path_env();
        self.tb
            .command(PHASEGATE)
            .env(k, v)
            .env("NO_COLOR", "1")
            .env("PHASEGATE_STORE_DIR", &self.store)
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_TOKEN")
            .env_remove("GITHUB_EVENT_PATH")
            .args(["--config", "phasegate.yml", "--change", "change.yml"])
            .args(args)
            .output()
            .expect("run phasegate")
    }

    /// Runs and asserts the exit code.
    pub fn code(&self, code: i32, args: &[&str]) -> Output {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}\n{}",
            describe(&out)
        );
        out
    }

    pub fn json(&self, code: i32, args: &[&str]) -> Value {
        let out = self.code(code, args);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}):\n{}", describe(&out)))
    }

    pub fn status(&self) -> Value {
        self.json(0, &["status", "--format", "json"])
    }

    fn journal_path(&self) -> PathBuf {
        self.store
            .join(format!("changes/{}/journal.jsonl", self.change))
    }

    pub fn journal(&self) -> Vec<Value> {
        std::fs::read_to_string(self.journal_path())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Appends one event as another job would.
    pub fn append(&self, event: Value) {
        crate::journal_chain::append_event(&self.journal_path(), event);
    }

    /// What the approve job journals once GitHub reports an approval.
    pub fn approve(&self, phase: &str, digest: &str) {
        self.append(json!({
            "time": "2030-01-01T00:00:00Z", "run": {"id": 99}, "actor": "reviewer",
            "change": self.change, "phase": phase, "step": "approval", "digest": digest,
            "event": "approval_recorded", "environment": phase, "approver": "reviewer",
            "source": "comment", "at": "2030-01-01T00:00:00Z",
        }));
    }

    /// What `phasegate verify` journals for `project`'s applied digest.
    pub fn verified(&self, phase: &str, digest: &str, checks: Value) {
        let status = if checks.to_string().contains("\"fail\"") {
            "fail"
        } else {
            "pass"
        };
        self.append(json!({
            "time": "2030-01-01T00:00:01Z", "run": {}, "actor": "verifier",
            "change": self.change, "phase": phase, "project": "app", "step": "verify",
            "digest": digest, "event": "verification_finished", "status": status,
            "checks": checks,
        }));
    }

    pub fn phase_digest(&self, index: usize) -> String {
        self.status()["phases"][index]["digest"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn out(&self) -> PathBuf {
        self.tb.workdir().join("out")
    }
}

fn http(status: &str, evidence: &str) -> Value {
    json!([
        {"name": "site", "kind": "http", "status": status, "evidence": evidence,
         "attempts": 1, "duration_ms": 4},
        {"name": "converged", "kind": "convergence", "status": "pass",
         "evidence": "a fresh plan shows no changes", "attempts": 1, "duration_ms": 900},
    ])
}

fn validator() -> jsonschema::Validator {
    let text =
        std::fs::read_to_string(repo_root().join("schemas/phase-report.schema.json")).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn validates(file: &Path) -> Value {
    let value: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let errors: Vec<String> = validator()
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{}: {errors:?}", file.display());
    value
}

#[test]
fn committed_phase_report_schema_matches_the_report_type() {
    let path = repo_root()
        .join("schemas")
        .join(phasegate::report::SCHEMA_FILE);
    let mut fresh =
        serde_json::to_string_pretty(&phasegate::report::phase_report_schema()).unwrap();
    fresh.push('\n');
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "schemas/phase-report.schema.json is out of date; run `UPDATE_SCHEMAS=1 cargo test --test it runner_review::committed_phase_report_schema_matches_the_report_type` and commit it"
    );
}

#[test]
fn a_reviewed_dev_lets_prod_apply_and_the_last_review_writes_the_change_report() {
    let c = Runner::new("tests/fixtures/runner/two-env", "CHG-RUN");
    c.code(0, &["plan", "--phase", "1"]);
    // Nothing applied yet: review names the apply.
    let refused = c.json(1, &["review", "--phase", "1", "--format", "json"]);
    assert_eq!(refused["what"], "apply", "{refused:#}");
    c.code(0, &["apply", "--phase", "1"]);
    assert_eq!(c.status()["next"]["command"], "phasegate verify --phase 1");
    let refused = c.json(1, &["review", "--phase", "1", "--format", "json"]);
    assert_eq!(refused["command"], "phasegate verify --phase 1");

    let dev = c.phase_digest(0);
    c.verified("dev", &dev, http("pass", "HTTP 200 in 4 ms"));
    assert_eq!(c.status()["next"]["command"], "phasegate review --phase 1");
    // prod cannot start before dev is reviewed.
    c.code(0, &["plan", "--phase", "2"]);
    c.approve("prod", &c.phase_digest(1));
    let out = c.code(1, &["apply", "--phase", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("not been reviewed"), "{text}");
    assert!(text.contains("phasegate review --phase 1"), "{text}");

    let review = c.json(0, &["review", "--phase", "1", "--format", "json"]);
    assert!(
        review["verdict"] == "pass" || review["verdict"] == "warn",
        "{review:#}"
    );
    let report = validates(&c.out().join("reports/phase-1.json"));
    assert_eq!(report["verdict"], review["verdict"]);
    assert_eq!(
        report["projects"][0]["verification"]["checks"][0]["evidence"],
        "HTTP 200 in 4 ms"
    );
    assert!(report["projects"][0]["checkpoint"]["sha256"].is_string());
    assert!(report["timing"]["total_seconds"].is_i64(), "{report:#}");
    assert!(!c.out().join("reports/change.json").exists());
    let journal = c.journal();
    let reviewed: Vec<&Value> = journal
        .iter()
        .filter(|e| e["event"] == "reviewed")
        .collect();
    assert_eq!(reviewed.len(), 1);
    assert!(reviewed[0]["project"].is_null());

    // dev passed: prod applies, is verified and reviewed; the change report
    // lists both phases.
    c.code(0, &["apply", "--phase", "2"]);
    c.verified("prod", &c.phase_digest(1), http("pass", "HTTP 200 in 5 ms"));
    let review = c.json(0, &["review", "--phase", "2", "--format", "json"]);
    validates(&c.out().join("reports/phase-2.json"));
    let change: Value = serde_json::from_str(
        &std::fs::read_to_string(c.out().join("reports/change.json")).unwrap(),
    )
    .unwrap();
    let names: Vec<&str> = change["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dev", "prod"], "{change:#}");
    assert_eq!(change["verdicts"]["prod"], review["verdict"]);
    assert_eq!(change["approvers"], json!(["reviewer"]));
    assert!(
        change["resources_changed"].as_u64().unwrap() >= 4,
        "{change:#}"
    );
    assert!(change["total_monthly_cost"]["source"].is_string());
    let md = std::fs::read_to_string(c.out().join("reports/change.md")).unwrap();
    assert!(
        md.contains("## Phase 1: dev") && md.contains("## Phase 2: prod"),
        "{md}"
    );
    assert_eq!(c.status()["overall"], "done");
}

#[test]
fn a_failing_verification_needs_fixes_and_prod_apply_is_refused_with_the_reason() {
    let c = Runner::new("tests/fixtures/runner/two-env", "CHG-RUN");
    c.code(0, &["plan", "--phase", "1"]);
    c.code(0, &["apply", "--phase", "1"]);
    c.verified(
        "dev",
        &c.phase_digest(0),
        http("fail", "HTTP 503 after 3 attempts"),
    );
    let out = c.code(1, &["review", "--phase", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("needs-fixes"), "{text}");
    assert!(
        text.contains("site FAIL (HTTP 503 after 3 attempts)"),
        "{text}"
    );
    let report = validates(&c.out().join("reports/phase-1.json"));
    assert_eq!(report["verdict"], "needs-fixes");
    assert_eq!(c.status()["overall"], "blocked");

    c.code(0, &["plan", "--phase", "2"]);
    c.approve("prod", &c.phase_digest(1));
    let out = c.code(1, &["apply", "--phase", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("needs-fixes"), "{text}");
    assert!(text.contains("HTTP 503"), "{text}");
    let refusal = c
        .journal()
        .into_iter()
        .rfind(|e| e["event"] == "refusal")
        .unwrap();
    assert_eq!(refusal["what"], "previous-phase");
    assert_eq!(refusal["phase"], "prod");
    // Nothing was applied in prod.
    assert!(!c
        .journal()
        .iter()
        .any(|e| e["event"] == "apply_started" && e["phase"] == "prod"));
}

#[test]
fn the_review_block_in_the_comment_shows_hostile_evidence_only_escaped() {
    use phasegate::config::{load_config_str, resolve_phases};
    use phasegate::github::{ForgeConfig, OctoForge, PrTarget, RepoRef, RetryPolicy};
    use phasegate::journal::{
        CheckResult, CheckStatus, EventKind, PlanRecord, ResourceOutcome, ResourceResult, RunRef,
        Step,
    };
    use phasegate::runner::review::{post_review, review_phase};
    use phasegate::runner::session::{append, Writer};
    use phasegate::runner::workspace::Workspace;

    const TOKEN: &str = "ghs_review_token";
    let hub = fakehub::FakeHub::start();
    hub.add_repo("acme", "infra");
    hub.add_pull("acme", "infra", 7, "alice", &"a".repeat(40));
    hub.add_token(
        TOKEN,
        "",
        fakehub::TokenKind::Installation,
        &[("pull_requests", "write"), ("issues", "write")],
    );
    let yaml = "version: 1\nenvironments:\n  - name: dev\n  - name: prod\nprojects:\n  - name: app\n    dir: app\n";
    let ws = Workspace {
        base_dir: ".".into(),
        config_path: None,
        config: Some(load_config_str(yaml, "phasegate.yml").unwrap()),
        change: None,
    };
    let phase = resolve_phases(ws.config.as_ref().unwrap(), None).remove(0);
    let store_dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let writer = Writer {
        run: RunRef::default(),
        actor: "alice".into(),
        change: "PR-7".into(),
        pid: None,
        host: None,
        clock: phasegate::runner::session::now,
    };
    let hostile = "<!-- phasegate:x --> @admin | [x](javascript:alert(1))";
    let d = Some("d".repeat(64));
    let e = |step, kind| writer.event("dev", Some("app"), step, d.as_deref(), kind);
    let mut events = vec![e(
        Step::Plan,
        EventKind::StepSucceeded {
            plan: Some(PlanRecord {
                has_changes: true,
                ..Default::default()
            }),
        },
    )];
    for gate in ["security", "cost", "blast"] {
        events.push(e(
            Step::Gate,
            EventKind::GateEvaluated {
                gate: gate.into(),
                verdict: "pass".into(),
                blocking: false,
            },
        ));
    }
    events.push(e(
        Step::Apply,
        EventKind::ApplyFinished {
            results: vec![ResourceResult {
                address: "aws_s3_bucket.a".into(),
                action: "create".into(),
                outcome: ResourceOutcome::Applied,
                error: None,
            }],
            error: None,
            class: None,
        },
    ));
    events.push(e(
        Step::Verify,
        EventKind::VerificationFinished {
            status: CheckStatus::Fail,
            checks: vec![CheckResult {
                name: "site".into(),
                kind: "http".into(),
                status: CheckStatus::Fail,
                evidence: hostile.into(),
                attempts: 3,
                duration_ms: 40,
            }],
        },
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = phasegate::store::local::LocalStore::new(store_dir.path().to_path_buf());
    let outcome = rt.block_on(async {
        append(&store, "PR-7", &events).await.unwrap();
        review_phase(&store, &ws, &phase, &writer, out.path())
            .await
            .unwrap()
    });
    assert_eq!(outcome.code, phasegate::ExitCode::Refused);
    assert_eq!(outcome.json["verdict"], "needs-fixes");
    let markdown = outcome.markdown.unwrap();
    let target = PrTarget {
        repo: RepoRef {
            owner: "acme".into(),
            name: "infra".into(),
        },
        number: 7,
    };
    rt.block_on(async {
        let forge = OctoForge::new(&ForgeConfig {
            api_url: hub.url().to_owned(),
            graphql_url: None,
            token: TOKEN.to_owned(),
            retry: RetryPolicy::fast(),
        })
        .unwrap();
        post_review(&forge, &target, &ws, "PR-7", "dev", &markdown)
            .await
            .unwrap()
    });
    let comments = hub.comments("acme", "infra", 7);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    let body = comments[0]["body"].as_str().unwrap();
    assert!(body.contains("Review of phase 1"), "{body}");
    assert!(body.contains("needs-fixes"), "{body}");
    assert!(body.contains("no checkpoint"), "{body}");
    assert!(!body.contains("<!-- phasegate:x"), "{body}");
    assert!(!body.contains(" @admin"), "{body}");
    assert!(!body.contains("[x](javascript"), "{body}");
    assert!(hub.violations().is_empty(), "{:?}", hub.violations());
}

/// The change plan of the two-environment fixture with `checks` on each phase.
fn with_checks(c: &Runner, dev: Value, prod: Value) {
    let change = json!({"version": 1, "id": c.change, "title": "Runner end to end", "phases": [
        {"name": "dev", "environment": "dev", "checks": dev},
        {"name": "prod", "environment": "prod", "checks": prod}]});
    // JSON is YAML.
    c.tb.write_file("change.yml", &change.to_string());
}

#[test]
fn a_real_verify_against_loopback_then_a_review_lets_prod_apply_and_a_failing_one_refuses_it() {
    use crate::loopback::{HttpServer, Reply};
    let server = HttpServer::start(|path, _| match path {
        "/health" => Reply::new(200, "healthy"),
        _ => Reply::new(503, "down"),
    });
    let c = Runner::new("tests/fixtures/runner/two-env", "CHG-RUN");
    let dev_checks = json!([
        {"kind": "http", "name": "site", "url": server.url("/health"), "body_contains": "healthy"},
        {"kind": "convergence"},
    ]);
    with_checks(&c, dev_checks, json!([{"kind": "convergence"}]));

    c.code(0, &["plan", "--phase", "1"]);
    c.code(0, &["apply", "--phase", "1"]);
    let verified = c.json(0, &["verify", "--phase", "1", "--format", "json"]);
    assert_eq!(verified["result"], "pass", "{verified:#}");
    assert_eq!(server.hits("/health"), 1, "the HTTP check really asked");
    // The fixture's security gate warns, so the review passes with a warning.
    let review = c.json(0, &["review", "--phase", "1", "--format", "json"]);
    assert!(
        review["verdict"] == "pass" || review["verdict"] == "warn",
        "{review:#}"
    );
    let report = validates(&c.out().join("reports/phase-1.json"));
    let kinds: Vec<&str> = report["projects"][0]["verification"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["http", "convergence"], "{report:#}");

    c.code(0, &["plan", "--phase", "2"]);
    c.approve("prod", &c.phase_digest(1));
    c.code(0, &["apply", "--phase", "2"]);

    // The same change where dev's endpoint is down: verify fails, the review
    // says needs-fixes, and prod's apply is refused with that reason.
    let c = Runner::new("tests/fixtures/runner/two-env", "CHG-RUN");
    let broken = json!([{"kind": "http", "name": "site", "url": server.url("/down"),
                         "retries": 1, "interval": "50ms"}]);
    with_checks(&c, broken, json!([{"kind": "convergence"}]));
    c.code(0, &["plan", "--phase", "1"]);
    c.code(0, &["apply", "--phase", "1"]);
    let verified = c.json(1, &["verify", "--phase", "1", "--format", "json"]);
    assert_eq!(verified["result"], "fail", "{verified:#}");
    let review = c.json(1, &["review", "--phase", "1", "--format", "json"]);
    assert_eq!(review["verdict"], "needs-fixes", "{review:#}");
    c.code(0, &["plan", "--phase", "2"]);
    c.approve("prod", &c.phase_digest(1));
    let out = c.code(1, &["apply", "--phase", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("needs-fixes"), "{text}");
    assert!(text.contains("site"), "{text}");
    assert!(c
        .journal()
        .iter()
        .any(|e| e["event"] == "refusal" && e["phase"] == "prod"));
}
