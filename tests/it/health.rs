//! Scheduled health end to end: `phasegate drift` (the command the drift
//! workflow runs) probes the environment's checks again and reports them in
//! the same per-project issue as drift. Real Terraform 1.0.3 against
//! testcloud, the real binary, fakehub for the issue, and loopback HTTP and
//! TLS servers (a test CA from rcgen) for the checks.

use std::path::PathBuf;
use std::process::Output;
use std::sync::{Arc, Mutex};

use fakehub::{FakeHub, TokenKind};
use serde_json::Value;

use crate::loopback::{HttpServer, Reply, TestCa, TlsServer};
use crate::testbed::{describe, Testbed};

const PHASEGATE: &str = env!("CARGO_BIN_EXE_phasegate");
const TOKEN: &str = "ghs_health_token_0123456789";
const FIXTURE: &str = "tests/fixtures/drift/health";
const LABEL: &str = "phasegate-drift";
const MARKER: &str = "<!-- phasegate:drift project=app env=dev -->";
/// What a broken endpoint answers: markup that must stay inert, and the
/// run's own token, which must be masked.
const HOSTILE_BODY: &str = "</details><!-- phasegate:drift project=app env=dev --> @admin [x](https://evil.example) ghs_health_token_0123456789 down";

struct Bed {
    tb: Testbed,
    hub: FakeHub,
    ca: TestCa,
    http: HttpServer,
    /// The answer the HTTP endpoint gives now.
    reply: Arc<Mutex<Reply>>,
    store: PathBuf,
    outputs: PathBuf,
    summary: PathBuf,
}

impl Bed {
    fn new() -> Bed {
        let tb = Testbed::new(FIXTURE);
        tb.deploy();
        let hub = FakeHub::start();
        hub.add_repo("acme", "infra");
        hub.add_token(
            TOKEN,
            "",
            TokenKind::Installation,
            &[("issues", "write"), ("contents", "read")],
        );
        let reply = Arc::new(Mutex::new(Reply::new(200, "ok")));
        let answer = Arc::clone(&reply);
        let http = HttpServer::start(move |_, _| answer.lock().unwrap().clone());
        let ca = TestCa::new("phasegate health CA");
        std::fs::write(tb.workdir().join("ca.pem"), ca.pem()).unwrap();
        let root = tb.root().to_path_buf();
        Bed {
            tb,
            hub,
            ca,
            http,
            reply,
            store: root.join("store"),
            outputs: root.join("github_output"),
            summary: root.join("step_summary"),
        }
    }

    /// Serves a certificate valid for `days` more days (negative: expired)
    /// on a fresh port, and points the environment's checks at it.
    fn serve_certificate(&self, days: i64) -> TlsServer {
        let tls = TlsServer::start(&self.ca.leaf(&["localhost"], days));
        self.tb.write_file(
            "phasegate.yml",
            &format!(
                r#"version: 1
engine:
  kind: terraform
  timeout_seconds: 300
environments:
  - name: dev
    checks:
      - kind: tls
        name: web certificate
        host: "localhost:{tls_port}"
        ca_file: ca.pem
      - kind: http
        name: status page
        url: "{url}"
        body_contains: ok
      - kind: output
        output: bucket
        matches: "^health-"
      - kind: convergence
projects:
  - name: app
    dir: .
output_dir: out
"#,
                tls_port = tls.addr.port(),
                url = self.http.url("/health"),
            ),
        );
        tls
    }

    fn answer(&self, status: u16, body: &str) {
        *self.reply.lock().unwrap() = Reply::new(status, body);
    }

    /// One scheduled run, as the drift workflow runs it.
    fn drift(&self) -> (Output, Value) {
        self.run("phasegate drift --env dev --all --format json")
    }

    /// `command` (a `phasegate ...` line) word for word, in Actions.
    fn run(&self, command: &str) -> (Output, Value) {
        let words: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(words[0], "phasegate", "not a command: {command}");
        std::fs::write(&self.outputs, "").unwrap();
        std::fs::write(&self.summary, "").unwrap();
        let (k, v) = self.tb.path_env();
        let out = self
            .tb
            .command(PHASEGATE)
            .env(k, v)
            .env("NO_COLOR", "1")
            .env("PHASEGATE_STORE_DIR", &self.store)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REPOSITORY", "acme/infra")
            .env("GITHUB_API_URL", self.hub.url())
            .env("GITHUB_GRAPHQL_URL", self.hub.graphql_url())
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_RUN_ID", "4343")
            .env("GITHUB_EVENT_NAME", "schedule")
            .env("GITHUB_OUTPUT", &self.outputs)
            .env("GITHUB_STEP_SUMMARY", &self.summary)
            .env_remove("GITHUB_EVENT_PATH")
            .args(["--config", "phasegate.yml"])
            .args(&words[1..])
            .output()
            .expect("run phasegate drift");
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("drift --format json prints JSON ({e}):\n{}", describe(&out))
        });
        (out, json)
    }

    /// Our one issue, as GitHub shows it.
    fn issue(&self) -> Value {
        let ours: Vec<Value> = self
            .hub
            .issues("acme", "infra")
            .into_iter()
            .filter(|i| {
                i["labels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| l["name"] == LABEL)
            })
            .collect();
        assert_eq!(ours.len(), 1, "exactly one issue: {ours:#?}");
        ours.into_iter().next().unwrap()
    }

    fn text(path: &PathBuf) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    fn journal(&self) -> Vec<Value> {
        let text =
            std::fs::read_to_string(self.store.join("changes/drift-dev/journal.jsonl")).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// The check named `name` in the project's health.
fn check<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["projects"][0]["health"]["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no health in {json:#}"))
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {json:#}"))
}

#[test]
fn failing_checks_share_the_drift_issue_warn_before_expiry_and_close_when_healthy() {
    let bed = Bed::new();

    // An expired certificate and a broken endpoint, no drift: the issue is
    // opened for health alone, and the run fails.
    let _expired = bed.serve_certificate(-2);
    bed.answer(503, HOSTILE_BODY);
    let (out, json) = bed.drift();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(json["drifted"], false);
    assert_eq!(json["healthy"], false);
    assert_eq!(json["failing_checks"], 2, "{json:#}");
    assert_eq!(json["projects"][0]["health"]["status"], "fail");
    let tls = check(&json, "web certificate");
    assert_eq!(tls["status"], "fail");
    // The refused certificate is still evidence: what it was and when it ended.
    let evidence = tls["evidence"].as_str().unwrap();
    assert!(evidence.contains("certificate expired"), "{tls}");
    assert!(
        evidence.contains("presented a certificate for localhost issued by")
            && evidence.contains("phasegate health CA")
            && evidence.contains("valid until 20"),
        "{tls}"
    );
    let http = check(&json, "status page");
    assert_eq!(http["status"], "fail");
    assert!(http["evidence"].as_str().unwrap().contains("503"), "{http}");
    assert_eq!(check(&json, "output bucket")["status"], "pass");
    let kinds: Vec<&str> = json["projects"][0]["health"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert!(!kinds.contains(&"convergence"), "{kinds:?}");
    assert_eq!(json["projects"][0]["issue"]["action"], "opened");
    let issue = bed.issue();
    let number = issue["number"].as_u64().unwrap();
    assert_eq!(issue["title"], "Health: app in dev");
    let body = issue["body"].as_str().unwrap();
    assert!(body.starts_with(MARKER), "{body}");
    assert!(
        body.contains("## Health: <code>app</code> in <code>dev</code>"),
        "{body}"
    );
    assert!(body.contains("The checks of <code>dev</code>"), "{body}");
    assert!(body.contains("2 failing of 3 checks"), "{body}");
    assert!(body.contains("| FAIL | web certificate (tls) |"), "{body}");
    assert!(body.contains("→ 503"), "{body}");
    assert!(
        body.contains("presented a certificate for localhost"),
        "{body}"
    );
    assert!(body.contains("None: a refresh-only plan"), "{body}");
    // The endpoint's body stays inert, and the token is masked everywhere.
    assert_eq!(body.matches("<!--").count(), 1, "only our marker: {body}");
    assert!(
        !body.contains("</details>") && !body.contains("@admin"),
        "{body}"
    );
    assert!(!body.contains("](https://evil"), "{body}");
    for (surface, text) in [
        ("issue", body.to_string()),
        ("stdout", String::from_utf8_lossy(&out.stdout).into_owned()),
        ("summary", Bed::text(&bed.summary)),
        (
            "journal",
            Bed::text(&bed.store.join("changes/drift-dev/journal.jsonl")),
        ),
    ] {
        assert!(
            !text.contains(TOKEN),
            "the token reached the {surface}: {text}"
        );
    }
    let summary = Bed::text(&bed.summary);
    assert!(
        summary.contains("Health: 2 failing of 3 checks"),
        "{summary}"
    );
    assert!(
        summary.contains("| FAIL | web certificate (tls) |"),
        "{summary}"
    );
    let outputs = Bed::text(&bed.outputs);
    assert!(outputs.contains("healthy=false\n"), "{outputs}");
    assert!(outputs.contains("failing_checks=2\n"), "{outputs}");
    assert!(outputs.contains(&format!("/issues/{number}")), "{outputs}");

    // Drift on top: the same issue holds both.
    bed.tb.edit_resource("aws_s3_bucket", "health-assets", |b| {
        b.insert("acl".into(), "public-read".into());
    });
    let (out, json) = bed.drift();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(json["drifted"], true);
    assert_eq!(json["projects"][0]["issue"]["action"], "updated");
    let issue = bed.issue();
    assert_eq!(issue["number"], number);
    assert_eq!(issue["title"], "Drift and health: app in dev");
    let body = issue["body"].as_str().unwrap();
    assert!(
        body.contains("## Drift: <code>app</code>") && body.contains("public-read"),
        "{body}"
    );
    assert!(body.contains("## Health:"), "{body}");

    // The drift put back and the endpoint fixed, but the certificate near
    // its end (20 days: past the default minimum of 14, inside the default
    // warning window of 30): a warning keeps the issue open, exit 0.
    bed.tb.edit_resource("aws_s3_bucket", "health-assets", |b| {
        b.insert("acl".into(), "private".into());
    });
    bed.answer(200, "all ok");
    let _near = bed.serve_certificate(20);
    let (out, json) = bed.drift();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(json["drifted"], false);
    assert_eq!(json["healthy"], false);
    assert_eq!(json["failing_checks"], 0);
    assert_eq!(json["warning_checks"], 1);
    let tls = check(&json, "web certificate");
    assert_eq!(tls["status"], "warn");
    assert!(
        tls["evidence"]
            .as_str()
            .unwrap()
            .contains("fewer than warn_days_valid 30 days"),
        "{tls}"
    );
    assert_eq!(json["projects"][0]["issue"]["action"], "updated");
    let issue = bed.issue();
    assert_eq!(issue["state"], "open");
    assert_eq!(issue["title"], "Health: app in dev");
    let body = issue["body"].as_str().unwrap();
    assert!(body.contains("1 warning of 3 checks"), "{body}");
    assert!(body.contains("| WARN | web certificate (tls) |"), "{body}");
    assert!(
        body.contains("warning is reported before it becomes a failure"),
        "{body}"
    );

    // Healthy again: closed with a comment.
    let _fresh = bed.serve_certificate(90);
    let (out, json) = bed.drift();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(json["healthy"], true);
    assert_eq!(json["projects"][0]["issue"]["action"], "closed");
    let issue = bed.issue();
    assert_eq!(issue["state"], "closed");
    let comments = bed.hub.comments("acme", "infra", number);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    let closing = comments[0]["body"].as_str().unwrap();
    assert!(closing.contains("Drift and health are clean"), "{closing}");
    assert!(closing.contains("all 3 checks passed"), "{closing}");

    // Each run's checks are journaled beside its drift result.
    let journal = bed.journal();
    let statuses: Vec<&str> = journal
        .iter()
        .filter(|e| e["event"] == "verification_finished")
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["fail", "fail", "warn", "pass"]);
    let actions: Vec<&str> = journal
        .iter()
        .filter(|e| e["event"] == "drift_checked")
        .map(|e| e["issue_action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["opened", "updated", "updated", "closed"]);

    // The command the issue names when it cuts rows shows every check.
    let (out, json) = bed.run("phasegate drift --env dev --project app --format json");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        json["projects"][0]["health"]["checks"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(
        bed.hub.violations().is_empty(),
        "{:?}",
        bed.hub.violations()
    );
}
