//! Verification with evidence: every check kind against servers this test
//! starts on loopback (HTTP, TLS with a test CA, DNS over UDP), commands
//! run from argv, and `phasegate verify` end to end after a real Terraform
//! apply. Nothing here touches the internet.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use phasegate::config::Check;
use phasegate::journal::{CheckResult, CheckStatus};
use phasegate::verify;
use serde_json::{json, Value};

use crate::loopback::{DnsServer, HttpServer, Reply, Rr, TestCa, TlsServer};
use crate::testbed::{describe, Testbed};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs one declared check (as JSON) the way `phasegate verify` does.
fn run_in(dir: &Path, check: Value) -> CheckResult {
    let check: Check = serde_json::from_value(check).expect("a valid check");
    rt().block_on(verify::run_environment_checks(&[check], dir))
        .expect("the check can be set up")
        .remove(0)
}

fn run(check: Value) -> CheckResult {
    run_in(Path::new("."), check)
}

fn assert_status(r: &CheckResult, want: CheckStatus) {
    assert_eq!(r.status, want, "{r:#?}");
    assert!(!r.evidence.trim().is_empty(), "no evidence: {r:#?}");
}

// ---- http ----

#[test]
fn http_pass_records_status_latency_and_the_body_it_matched() {
    let s = HttpServer::start(|_, _| Reply::new(200, "service ok v42"));
    let r = run(
        json!({"kind": "http", "url": s.url("/health"), "body_contains": "ok",
        "name": "health"}),
    );
    assert_status(&r, CheckStatus::Pass);
    assert_eq!(r.name, "health");
    assert_eq!(r.kind, "http");
    assert_eq!(r.attempts, 1);
    assert!(
        r.evidence.contains("GET http://127.0.0.1:"),
        "{}",
        r.evidence
    );
    assert!(r.evidence.contains("→ 200 in "), "{}", r.evidence);
    assert!(r.evidence.contains(" ms"), "{}", r.evidence);
    assert!(
        r.evidence.contains("body contains \"ok\""),
        "{}",
        r.evidence
    );

    let r = run(json!({"kind": "http", "url": s.url("/"), "body_regex": "v[0-9]+"}));
    assert_status(&r, CheckStatus::Pass);
    assert!(r.evidence.contains("at \"v42\""), "{}", r.evidence);
}

#[test]
fn http_wrong_status_or_body_fails_showing_what_was_seen() {
    let s = HttpServer::start(|path, _| match path {
        "/missing" => Reply::new(404, "no such page"),
        _ => Reply::new(200, "maintenance mode"),
    });
    let r = run(json!({"kind": "http", "url": s.url("/missing")}));
    assert_status(&r, CheckStatus::Fail);
    assert!(r.evidence.contains("→ 404"), "{}", r.evidence);
    assert!(
        r.evidence.contains("expected a 2xx status"),
        "{}",
        r.evidence
    );
    assert!(r.evidence.contains("no such page"), "{}", r.evidence);

    let r = run(json!({"kind": "http", "url": s.url("/missing"), "expect_status": 404}));
    assert_status(&r, CheckStatus::Pass);

    let r = run(json!({"kind": "http", "url": s.url("/"), "body_contains": "welcome"}));
    assert_status(&r, CheckStatus::Fail);
    assert!(
        r.evidence.contains("does not contain \"welcome\""),
        "{}",
        r.evidence
    );
    assert!(r.evidence.contains("maintenance mode"), "{}", r.evidence);

    let r = run(json!({"kind": "http", "url": s.url("/"), "body_regex": "^ok$"}));
    assert_status(&r, CheckStatus::Fail);
}

#[test]
fn http_slow_answer_fails_at_the_timeout_and_warns_past_warn_latency() {
    let s = HttpServer::start(|path, _| Reply {
        delay: if path == "/slow" {
            Duration::from_secs(3)
        } else {
            Duration::from_millis(300)
        },
        ..Reply::new(200, "ok")
    });
    let r = run(json!({"kind": "http", "url": s.url("/slow"), "timeout": "200ms"}));
    assert_status(&r, CheckStatus::Fail);
    assert!(
        r.evidence.contains("no answer within 200 ms"),
        "{}",
        r.evidence
    );

    let r = run(json!({"kind": "http", "url": s.url("/sluggish"), "warn_latency": "50ms"}));
    assert_status(&r, CheckStatus::Warn);
    assert!(
        r.evidence.contains("slower than warn_latency 50 ms"),
        "{}",
        r.evidence
    );
}

#[test]
fn http_flaky_then_ok_passes_after_retries_with_attempts_recorded() {
    let s = HttpServer::start(|_, n| {
        if n < 2 {
            Reply::new(503, "warming up")
        } else {
            Reply::new(200, "ready")
        }
    });
    let r = run(json!({"kind": "http", "url": s.url("/a"), "retries": 3, "interval": "20ms"}));
    assert_status(&r, CheckStatus::Pass);
    assert_eq!(r.attempts, 3);
    assert_eq!(s.hits("/a"), 3);
    assert!(
        r.evidence.contains("PASS on attempt 3 of 4"),
        "{}",
        r.evidence
    );
    assert!(r.evidence.contains("earlier: GET"), "{}", r.evidence);

    // Too few retries: the last failure is the result, every attempt counted.
    let r = run(json!({"kind": "http", "url": s.url("/b"), "retries": 1, "interval": "20ms"}));
    assert_status(&r, CheckStatus::Fail);
    assert_eq!(r.attempts, 2);
    assert!(r.evidence.contains("after 2 attempts"), "{}", r.evidence);
}

#[test]
fn http_refused_connection_fails_with_the_cause() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = run(json!({"kind": "http", "url": format!("http://127.0.0.1:{port}/")}));
    assert_status(&r, CheckStatus::Fail);
    assert!(
        r.evidence.to_lowercase().contains("refused"),
        "{}",
        r.evidence
    );
}

#[test]
fn http_evidence_hides_url_credentials_and_query_and_renders_inert() {
    let s = HttpServer::start(|_, _| {
        Reply::new(
            500,
            "<!-- phasegate:comment --> @octocat | [x](https://evil.example)",
        )
    });
    let url = format!(
        "http://admin:hunter2-secret@{}/api?token=tok-9f8e7d6c",
        s.addr
    );
    let r = run(json!({"kind": "http", "url": url}));
    assert_status(&r, CheckStatus::Fail);
    assert!(!r.evidence.contains("hunter2-secret"), "{}", r.evidence);
    assert!(!r.evidence.contains("tok-9f8e7d6c"), "{}", r.evidence);
    assert!(!r.name.contains("tok-9f8e7d6c"), "{}", r.name);
    let md = phasegate::render::verify::table_markdown(&[r]);
    assert!(!md.contains("<!--"), "{md}");
    assert!(!md.contains("@octocat"), "{md}");
    assert!(!md.contains("](https"), "{md}");
    assert_eq!(
        md.lines().count(),
        3,
        "one row, nothing broke out of it: {md}"
    );
}

#[test]
fn https_trusts_the_ca_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("phasegate test CA");
    let id = ca.leaf(&["localhost", "127.0.0.1"], 90);
    std::fs::write(dir.path().join("ca.pem"), &id.ca_pem).unwrap();
    let s = HttpServer::start_tls(|_, _| Reply::new(200, "secure ok"), &id);
    let url = format!("https://localhost:{}/", s.addr.port());
    let r = run_in(
        dir.path(),
        json!({"kind": "http", "url": url, "ca_file": "ca.pem", "body_contains": "secure"}),
    );
    assert_status(&r, CheckStatus::Pass);

    // Another CA's bundle: the chain is not trusted.
    let other = TestCa::new("someone else");
    std::fs::write(dir.path().join("other.pem"), other.pem()).unwrap();
    let r = run_in(
        dir.path(),
        json!({"kind": "http", "url": url, "ca_file": "other.pem"}),
    );
    assert_status(&r, CheckStatus::Fail);
    assert!(
        r.evidence.to_lowercase().contains("certificate"),
        "{}",
        r.evidence
    );
}

// ---- tls ----

fn tls_check(dir: &Path, server: &TlsServer, extra: Value) -> CheckResult {
    let mut check = json!({"kind": "tls", "host": format!("localhost:{}", server.addr.port()),
        "ca_file": "ca.pem", "timeout": "5s"});
    for (k, v) in extra.as_object().unwrap() {
        check[k] = v.clone();
    }
    run_in(dir, check)
}

fn tls_setup(names: &[&str], days: i64) -> (tempfile::TempDir, TlsServer) {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("phasegate test CA");
    let id = ca.leaf(names, days);
    std::fs::write(dir.path().join("ca.pem"), &id.ca_pem).unwrap();
    (dir, TlsServer::start(&id))
}

#[test]
fn tls_pass_shows_names_issuer_expiry_and_days_left() {
    let (dir, s) = tls_setup(&["localhost", "api.example.test"], 90);
    let r = tls_check(
        dir.path(),
        &s,
        json!({"expect_names": ["api.example.test", "LOCALHOST"]}),
    );
    assert_status(&r, CheckStatus::Pass);
    assert!(r.evidence.contains("chain trusted"), "{}", r.evidence);
    assert!(
        r.evidence.contains("localhost, api.example.test"),
        "{}",
        r.evidence
    );
    assert!(r.evidence.contains("phasegate test CA"), "{}", r.evidence);
    assert!(r.evidence.contains("days left"), "{}", r.evidence);
    assert!(r.evidence.contains("TLSv1_3"), "{}", r.evidence);
}

#[test]
fn tls_near_expiry_warns_or_fails_by_the_configured_days() {
    let (dir, s) = tls_setup(&["localhost"], 5);
    let r = tls_check(
        dir.path(),
        &s,
        json!({"min_days_valid": 2, "warn_days_valid": 30}),
    );
    assert_status(&r, CheckStatus::Warn);
    assert!(
        r.evidence.contains("fewer than warn_days_valid 30 days"),
        "{}",
        r.evidence
    );
    let r = tls_check(dir.path(), &s, json!({"min_days_valid": 10}));
    assert_status(&r, CheckStatus::Fail);
    assert!(
        r.evidence.contains("fewer than min_days_valid 10 days"),
        "{}",
        r.evidence
    );
    // The default minimum is 14 days.
    let r = tls_check(dir.path(), &s, json!({}));
    assert_status(&r, CheckStatus::Fail);
}

#[test]
fn tls_expired_wrong_name_or_untrusted_certificates_fail() {
    let (dir, s) = tls_setup(&["localhost"], -2);
    let r = tls_check(dir.path(), &s, json!({}));
    assert_status(&r, CheckStatus::Fail);
    assert!(
        r.evidence.to_lowercase().contains("expired"),
        "{}",
        r.evidence
    );

    let (dir, s) = tls_setup(&["localhost"], 90);
    let r = tls_check(
        dir.path(),
        &s,
        json!({"expect_names": ["www.example.test"]}),
    );
    assert_status(&r, CheckStatus::Fail);
    assert!(
        r.evidence.contains("does not cover www.example.test"),
        "{}",
        r.evidence
    );

    // SNI and verification use server_name: a name the certificate lacks fails the handshake.
    let r = tls_check(dir.path(), &s, json!({"server_name": "other.example.test"}));
    assert_status(&r, CheckStatus::Fail);
    assert!(r.evidence.contains("handshake"), "{}", r.evidence);

    let other = TestCa::new("someone else");
    std::fs::write(dir.path().join("ca.pem"), other.pem()).unwrap();
    let r = tls_check(dir.path(), &s, json!({}));
    assert_status(&r, CheckStatus::Fail);
    assert!(r.evidence.contains("UnknownIssuer"), "{}", r.evidence);
}

#[test]
fn a_missing_ca_file_is_bad_input_not_a_failed_check() {
    let check: Check = serde_json::from_value(
        json!({"kind": "tls", "host": "localhost:1", "ca_file": "nope.pem"}),
    )
    .unwrap();
    let err = rt()
        .block_on(verify::run_environment_checks(
            &[check],
            Path::new("/nonexistent"),
        ))
        .unwrap_err();
    assert!(err.to_string().contains("nope.pem"), "{err}");
}

// ---- dns ----

fn dns_zone() -> DnsServer {
    DnsServer::start(vec![
        ("app.example.test", Rr::A(Ipv4Addr::new(192, 0, 2, 10))),
        ("app.example.test", Rr::A(Ipv4Addr::new(192, 0, 2, 11))),
        (
            "app.example.test",
            Rr::Aaaa("2001:db8::10".parse::<Ipv6Addr>().unwrap()),
        ),
        ("www.example.test", Rr::Cname("app.example.test".into())),
    ])
}

#[test]
fn dns_a_aaaa_and_cname_answers_are_compared_with_the_expected_values() {
    let z = dns_zone();
    let resolver = z.addr.to_string();
    let r = run(
        json!({"kind": "dns", "record": "app.example.test", "expect": ["192.0.2.11"],
        "resolver": resolver}),
    );
    assert_status(&r, CheckStatus::Pass);
    assert!(
        r.evidence.contains("192.0.2.10, 192.0.2.11"),
        "{}",
        r.evidence
    );
    assert!(
        r.evidence.contains(&format!("via {resolver}")),
        "{}",
        r.evidence
    );

    let r = run(
        json!({"kind": "dns", "record": "app.example.test", "type": "AAAA",
        "expect": ["2001:0db8:0:0::10"], "resolver": resolver}),
    );
    assert_status(&r, CheckStatus::Pass);
    assert!(r.evidence.contains("2001:db8::10"), "{}", r.evidence);

    let r = run(
        json!({"kind": "dns", "record": "www.example.test", "type": "CNAME",
        "expect": ["app.example.test."], "resolver": resolver}),
    );
    assert_status(&r, CheckStatus::Pass);

    // An A query through the CNAME shows the chain it followed.
    let r = run(
        json!({"kind": "dns", "record": "www.example.test", "expect": ["192.0.2.10"],
        "resolver": resolver}),
    );
    assert_status(&r, CheckStatus::Pass);
    assert!(
        r.evidence.contains("via CNAME app.example.test"),
        "{}",
        r.evidence
    );
}

#[test]
fn dns_missing_value_nxdomain_and_a_silent_resolver_fail() {
    let z = dns_zone();
    let resolver = z.addr.to_string();
    let r = run(json!({"kind": "dns", "record": "app.example.test",
        "expect": ["192.0.2.10", "198.51.100.1"], "resolver": resolver}));
    assert_status(&r, CheckStatus::Fail);
    assert!(
        r.evidence.contains("missing 198.51.100.1"),
        "{}",
        r.evidence
    );

    let r = run(json!({"kind": "dns", "record": "gone.example.test", "resolver": resolver}));
    assert_status(&r, CheckStatus::Fail);
    assert!(r.evidence.contains("NXDOMAIN"), "{}", r.evidence);

    // A socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let r = run(
        json!({"kind": "dns", "record": "app.example.test", "timeout": "200ms",
        "retries": 1, "interval": "10ms", "resolver": silent.local_addr().unwrap().to_string()}),
    );
    assert_status(&r, CheckStatus::Fail);
    assert_eq!(r.attempts, 2);
    assert!(
        r.evidence.contains("no answer within 200 ms"),
        "{}",
        r.evidence
    );
}

// ---- command ----

#[test]
fn command_exit_code_is_compared_with_the_expected_one() {
    let r = run(json!({"kind": "command", "argv": ["true"]}));
    assert_status(&r, CheckStatus::Pass);
    assert!(r.evidence.contains("exited 0"), "{}", r.evidence);
    let r = run(json!({"kind": "command", "argv": ["false"]}));
    assert_status(&r, CheckStatus::Fail);
    assert!(r.evidence.contains("exited 1") && r.evidence.contains("expected exit 0"));
    let r = run(json!({"kind": "command", "argv": ["false"], "expect_exit": 1}));
    assert_status(&r, CheckStatus::Pass);
    let r = run(json!({"kind": "command", "argv": ["/no/such/program"]}));
    assert_status(&r, CheckStatus::Fail);
}

#[test]
fn command_argv_is_never_given_to_a_shell() {
    let r = run(json!({"kind": "command", "argv": ["echo", "$(id -u); echo injected"]}));
    assert_status(&r, CheckStatus::Pass);
    assert!(
        r.evidence
            .contains("last line: \"$(id -u); echo injected\""),
        "{}",
        r.evidence
    );
}

#[test]
fn command_past_its_time_limit_is_killed_and_fails() {
    let r = run(json!({"kind": "command", "argv": ["sleep", "30"], "timeout": "300ms"}));
    assert_status(&r, CheckStatus::Fail);
    assert!(
        r.evidence.contains("killed at its time limit of 300 ms"),
        "{}",
        r.evidence
    );
}

// ---- config ----

#[test]
fn bad_checks_are_reported_by_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("phasegate.yml");
    std::fs::write(
        &config,
        "version: 1\nenvironments:\n  - name: dev\n    checks:\n      - kind: dns\n        record: a.test\n        resolver: localhost\nprojects:\n  - name: app\n    dir: infra\n",
    )
    .unwrap();
    let change = dir.path().join("change.yml");
    std::fs::write(
        &change,
        "version: 1\nid: C\nphases:\n  - name: dev\n    environment: dev\n    checks:\n      - kind: http\n        url: http://x/\n        interval: soon\n      - kind: output\n        output: url\n        project: web\n        equals: 1\n",
    )
    .unwrap();
    let err = phasegate::config::load_checked(&config, Some(&change), &phasegate::scan::declared)
        .unwrap_err();
    let text = err.to_string();
    let problems: Vec<String> = err.problems().iter().map(|p| p.to_string()).collect();
    let has = |s: &str| problems.iter().any(|p| p.contains(s));
    assert!(
        has("phasegate.yml:7:9: environments[0].checks[0].resolver"),
        "{text}"
    );
    assert!(
        has("change.yml:9:9: phases[0].checks[0].interval"),
        "{text}"
    );
    assert!(
        has("change.yml:12:9: phases[0].checks[1].project"),
        "{text}"
    );
}

// ---- phasegate verify, end to end ----

const PHASEGATE: &str = env!("CARGO_BIN_EXE_phasegate");

struct Change {
    tb: Testbed,
    store: PathBuf,
}

impl Change {
    fn new() -> Change {
        let tb = Testbed::new("tests/fixtures/verify/one-env");
        let store = tb.root().join("store");
        Change { tb, store }
    }

    fn run(&self, args: &[&str]) -> Output {
        let (k, v) = self.tb.path_env();
        self.tb
            .command(PHASEGATE)
            .env(k, v)
            .env("NO_COLOR", "1")
            .env("PHASEGATE_STORE_DIR", &self.store)
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_TOKEN")
            .args(["--config", "phasegate.yml", "--change", "change.yml"])
            .args(args)
            .output()
            .expect("run phasegate")
    }

    fn expect(&self, code: i32, args: &[&str]) -> Output {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}\n{}",
            describe(&out)
        );
        out
    }

    fn journal(&self) -> Vec<Value> {
        std::fs::read_to_string(self.store.join("changes/CHG-VERIFY/journal.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn write_change(&self, checks: Value) {
        let change = json!({"version": 1, "id": "CHG-VERIFY", "phases": [
            {"name": "dev", "environment": "dev", "checks": checks}]});
        // JSON is YAML.
        self.tb.write_file("change.yml", &change.to_string());
    }
}

#[test]
fn verify_after_a_real_apply_journals_every_check_with_its_evidence() {
    let server = HttpServer::start(|path, _| match path {
        "/health" => Reply::new(200, "healthy"),
        _ => Reply::new(500, "broken"),
    });
    let c = Change::new();
    let checks = json!([
        {"kind": "http", "name": "health", "url": server.url("/health"), "body_contains": "healthy"},
        {"kind": "convergence"},
        {"kind": "output", "output": "bucket", "equals": "verify-dev-site"},
        {"kind": "output", "name": "key shape", "output": "api_key", "matches": "^sk-verify-"},
    ]);
    c.write_change(checks.clone());

    // Before an apply, verification is refused, naming the command that supplies it.
    c.expect(0, &["plan", "--phase", "1"]);
    let out = c.expect(1, &["verify", "--phase", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("phasegate apply --phase 1"), "{text}");
    let refusal = c
        .journal()
        .into_iter()
        .find(|e| e["event"] == "refusal" && e["step"] == "verify")
        .expect("the refusal is journaled");
    assert_eq!(refusal["command"], "phasegate apply --phase 1");

    c.expect(0, &["apply", "--phase", "1"]);
    let out = c.expect(0, &["verify", "--phase", "1", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["result"], "pass", "{report:#}");
    let checks = report["projects"][0]["checks"].as_array().unwrap();
    let kinds: Vec<&str> = checks.iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["http", "convergence", "output", "output"],
        "{report:#}"
    );
    assert!(checks.iter().all(|c| c["status"] == "pass"), "{report:#}");
    assert!(checks[2]["evidence"]
        .as_str()
        .unwrap()
        .contains("verify-dev-site"));
    assert!(checks[3]["evidence"]
        .as_str()
        .unwrap()
        .contains("(sensitive value)"));

    let journal = c.journal();
    let verify: Vec<&Value> = journal.iter().filter(|e| e["step"] == "verify").collect();
    let kinds: Vec<&str> = verify
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    // apply's own re-plan is journaled under the verify step too.
    assert_eq!(
        kinds,
        [
            "refusal",
            "convergence_checked",
            "step_started",
            "convergence_checked",
            "verification_finished",
            "step_succeeded"
        ],
        "{verify:#?}"
    );
    let finished = verify[4];
    assert_eq!(finished["status"], "pass");
    assert_eq!(finished["project"], "app");
    assert!(finished["digest"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(verify[3]["converged"], true);
    assert_eq!(server.hits("/health"), 1);

    // The sensitive output's value reaches neither stdout nor the journal.
    let journal_text =
        std::fs::read_to_string(c.store.join("changes/CHG-VERIFY/journal.jsonl")).unwrap();
    assert!(!journal_text.contains("sk-verify-0123456789abcdef"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("sk-verify-0123456789abcdef"));

    // Status shows the verification.
    let out = c.expect(0, &["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("verification PASS (4 checks)"), "{text}");

    // A broken endpoint: the verification fails (exit 1) and says why.
    let broken = json!([
        {"kind": "http", "name": "health", "url": server.url("/broken"), "body_contains": "healthy"},
        {"kind": "convergence"},
    ]);
    c.write_change(broken);
    let out = c.expect(1, &["verify", "--phase", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAIL  http"), "{text}");
    assert!(text.contains("→ 500"), "{text}");
    let journal = c.journal();
    let last = journal.last().unwrap();
    assert_eq!(last["event"], "step_failed", "{last:#}");
    assert!(last["error"]
        .as_str()
        .unwrap()
        .contains("1 of 2 checks failed: health"));
    let finished = journal
        .iter()
        .rev()
        .find(|e| e["event"] == "verification_finished")
        .unwrap();
    assert_eq!(finished["status"], "fail");
}

// ---- the PR comment ----

#[test]
fn verification_results_reach_the_pr_comment_escaped() {
    use fakehub::{FakeHub, TokenKind};
    use phasegate::config::{load_config_str, resolve_phases};
    use phasegate::github::{ForgeConfig, OctoForge, PrTarget, RepoRef, RetryPolicy};
    use phasegate::journal::{EventKind, PlanRecord, RunRef, Step};
    use phasegate::runner::post::post_progress;
    use phasegate::runner::session::{append, Writer};
    use phasegate::runner::workspace::Workspace;
    use phasegate::store::local::LocalStore;

    const TOKEN: &str = "ghs_verify_token";
    let hub = FakeHub::start();
    hub.add_repo("acme", "infra");
    hub.add_pull("acme", "infra", 9, "alice", &"b".repeat(40));
    hub.add_token(
        TOKEN,
        "",
        TokenKind::Installation,
        &[("pull_requests", "write"), ("issues", "write")],
    );
    let ws = Workspace {
        base_dir: ".".into(),
        config_path: None,
        config: Some(
            load_config_str(
                "version: 1\nenvironments:\n  - name: dev\nprojects:\n  - name: app\n    dir: app\n",
                "phasegate.yml",
            )
            .unwrap(),
        ),
        change: None,
    };
    let phase = resolve_phases(ws.config.as_ref().unwrap(), None).remove(0);
    let store_dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(store_dir.path().to_path_buf());
    let writer = Writer {
        run: RunRef::default(),
        actor: "alice".into(),
        change: "PR-9".into(),
        pid: None,
        host: None,
        clock: phasegate::runner::session::now,
    };
    let digest = "d".repeat(64);
    let hostile = "<!-- phasegate:end --> @octocat </details> | x";
    let events = [
        writer.event(
            "dev",
            Some("app"),
            Step::Plan,
            Some(&digest),
            EventKind::StepSucceeded {
                plan: Some(PlanRecord {
                    has_changes: true,
                    ..Default::default()
                }),
            },
        ),
        writer.event(
            "dev",
            Some("app"),
            Step::Verify,
            Some(&digest),
            EventKind::VerificationFinished {
                status: CheckStatus::Fail,
                checks: vec![CheckResult {
                    name: "health".into(),
                    kind: "http".into(),
                    status: CheckStatus::Fail,
                    evidence: format!("GET http://x/ → 500; body: \"{hostile}\""),
                    attempts: 2,
                    duration_ms: 40,
                }],
            },
        ),
    ];
    let rt = rt();
    rt.block_on(async {
        append(&store, "PR-9", &events).await.unwrap();
        let forge = OctoForge::new(&ForgeConfig {
            api_url: hub.url().to_owned(),
            graphql_url: None,
            token: TOKEN.to_owned(),
            retry: RetryPolicy::fast(),
        })
        .unwrap();
        let target = PrTarget {
            repo: RepoRef::new("acme", "infra"),
            number: 9,
        };
        post_progress(&store, &forge, &target, &ws, "PR-9", &phase)
            .await
            .unwrap();
    });
    let comments = hub.comments("acme", "infra", 9);
    let body = comments[0]["body"].as_str().unwrap();
    assert!(body.contains("verification FAIL (1 check)"), "{body}");
    assert!(body.contains("Verification of app: FAIL"), "{body}");
    assert!(body.contains("| FAIL | health (http) | GET"), "{body}");
    assert!(!body.contains("@octocat"), "{body}");
    assert!(!body.contains("</details> |"), "{body}");
    assert!(!body.contains("<!-- phasegate:end -->"), "{body}");
}
