//! Hostile text stays inert on every surface. One string carrying a link, an
//! image, raw HTML, a team mention, an issue reference, a forged marker, a
//! `</details>`, backticks, a pipe and a line break is planted in a
//! `for_each` key (of a security group that opens SSH to the world, so a
//! finding quotes it), in quoted attribute values, in an imported SARIF
//! message, in the change plan's title and in an acknowledgement reason.
//! Every surface is parsed as GitHub-flavoured markdown (comrak) and the tree
//! must hold no link or image off github.com or the configured server, no
//! raw HTML but the renderer's own tags, no mention, no issue reference and
//! no copy of the marker.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::inert::violations;

const PHASEGATE: &str = env!("CARGO_BIN_EXE_phasegate");
const TOKEN: &str = "ghs_hostileTextToken0123456789";
const HEAD: &str = "3333333333333333333333333333333333333333";

/// The issue's line plus `</details>`, backticks, `|` and a newline.
const HOSTILE: &str = "[click me](https://evil.example/steal) <img src=x> @org/admins #1 <!-- phasegate -->\n</details> `code` a|b www.evil.example";

fn sg_address() -> String {
    format!(
        "aws_security_group.ssh[{}]",
        serde_json::to_string(HOSTILE).unwrap()
    )
}

fn old_address() -> String {
    format!(
        "aws_instance.old[{}]",
        serde_json::to_string(HOSTILE).unwrap()
    )
}

/// A format-1.2 plan: the security group (created, SSH open to the world,
/// hostile key, name and description) and a destroyed instance with the
/// same key, so the destroy warning and the blast gate quote it too.
fn plan_json() -> String {
    let sg_after = json!({
        "name": HOSTILE,
        "description": HOSTILE,
        "ingress": [{"cidr_blocks": ["0.0.0.0/0"], "description": HOSTILE, "from_port": 22,
                     "ipv6_cidr_blocks": [], "protocol": "tcp", "to_port": 22,
                     "prefix_list_ids": [], "security_groups": [], "self": false}],
        "egress": [],
        "tags": {"note": HOSTILE},
        "vpc_id": "vpc-1"
    });
    json!({
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "resource_changes": [
            {
                "address": sg_address(), "mode": "managed", "type": "aws_security_group",
                "name": "ssh", "index": HOSTILE,
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {"actions": ["create"], "before": null, "after": sg_after,
                           "after_unknown": {"id": true, "arn": true},
                           "before_sensitive": false, "after_sensitive": {}}
            },
            {
                "address": old_address(), "mode": "managed", "type": "aws_instance",
                "name": "old", "index": HOSTILE,
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {"actions": ["delete"],
                           "before": {"instance_type": "t3.micro", "ami": "ami-1", "tags": {"note": HOSTILE}},
                           "after": null, "after_unknown": {},
                           "before_sensitive": {}, "after_sensitive": false}
            }
        ],
        "configuration": {"provider_config": {"aws": {"name": "aws",
            "expressions": {"region": {"constant_value": "us-east-1"}}}}},
        "errored": false
    })
    .to_string()
}

fn sarif_json() -> String {
    json!({
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "tfsec", "rules": [{
                "id": "HOSTILE-1",
                "shortDescription": {"text": HOSTILE},
                "help": {"text": HOSTILE}
            }]}},
            "results": [{
                "ruleId": "HOSTILE-1",
                "level": "error",
                "message": {"text": HOSTILE},
                "locations": [{"logicalLocations": [{"fullyQualifiedName": sg_address()}]}]
            }]
        }]
    })
    .to_string()
}

/// A YAML double-quoted scalar holding `text`.
fn yaml_str(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// Config, change plan (hostile title and acknowledgement reasons; a low
/// declared blast radius so the acknowledgement shows), plan and SARIF.
fn workspace(dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::write(
        dir.join("phasegate.yml"),
        "version: 1\nenvironments:\n  - name: dev\n    region: us-east-1\nprojects:\n  - name: app\n    dir: .\n",
    )
    .unwrap();
    let change = format!(
        "version: 1\nid: CHG-7\ntitle: {t}\nphases:\n  - name: dev\n    environment: dev\n    blast_radius: low\nacknowledgements:\n  - id: blast-radius\n    reason: {t}\n  - id: PG-AWS-001\n    reason: {t}\n",
        t = yaml_str(HOSTILE)
    );
    std::fs::write(dir.join("change.yml"), change).unwrap();
    let plan = dir.join("plan.json");
    std::fs::write(&plan, plan_json()).unwrap();
    let sarif = dir.join("tfsec.sarif");
    std::fs::write(&sarif, sarif_json()).unwrap();
    (plan, sarif)
}

fn assert_inert(name: &str, markdown: &str, allowed_hosts: &[&str]) {
    let found = violations(markdown, allowed_hosts);
    assert!(found.is_empty(), "{name}: {found:#?}\n---\n{markdown}");
}

#[test]
fn the_checker_finds_what_it_looks_for() {
    // The assertions below mean something only if the checker catches the raw text.
    let found = violations(HOSTILE, &["github.com"]);
    for what in [
        "link to https://evil.example",
        "mention",
        "issue reference",
        "raw HTML",
    ] {
        assert!(
            found.iter().any(|f| f.contains(what)),
            "{what} not caught: {found:#?}"
        );
    }
    let in_table = format!("| a |\n|---|\n| {HOSTILE} |\n");
    assert!(!violations(&in_table, &["github.com"]).is_empty());
}

fn run_local(dir: &Path, args: &[&str]) -> Output {
    Command::new(PHASEGATE)
        .current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .env("NO_COLOR", "1")
        .args(["--config", "phasegate.yml", "--change", "change.yml"])
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn local_comment_summary_and_gate_views_are_inert() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, sarif) = workspace(dir.path());
    let out_dir = dir.path().join("out");
    let plan_s = plan.to_str().unwrap();
    let sarif_s = sarif.to_str().unwrap();
    let out = run_local(
        dir.path(),
        &[
            "plan",
            "--env",
            "dev",
            "--plan-json",
            plan_s,
            "--sarif-in",
            sarif_s,
            "--out",
            out_dir.to_str().unwrap(),
            "--format",
            "markdown",
        ],
    );
    let comment = stdout(&out);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{comment}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The hostile text reached every section, shown as text.
    assert!(comment.contains("PG-AWS-001"), "{comment}");
    assert!(comment.contains("HOSTILE-1"), "{comment}");
    assert!(
        comment.contains("acknowledged (`blast-radius`)"),
        "{comment}"
    );
    assert!(comment.contains("evil.example"), "{comment}");
    assert_inert("comment (stdout)", &comment, &["github.com"]);
    for file in ["comment.md", "summary.md"] {
        let text = std::fs::read_to_string(out_dir.join(file)).unwrap();
        assert_inert(file, &text, &["github.com"]);
    }
    for gate in ["security", "cost", "blast"] {
        let out = run_local(
            dir.path(),
            &[
                "gate",
                gate,
                "--env",
                "dev",
                "--plan-json",
                plan_s,
                "--sarif-in",
                sarif_s,
                "--format",
                "markdown",
            ],
        );
        assert_inert(&format!("gate {gate}"), &stdout(&out), &["github.com"]);
    }
}

#[test]
fn posted_comment_check_run_summary_and_outputs_are_inert() {
    let hub = crate::suite_support::pr_hub(TOKEN, HEAD);
    let dir = tempfile::tempdir().unwrap();
    let (plan, sarif) = workspace(dir.path());
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        format!(
            r#"{{"number":7,"pull_request":{{"number":7,"head":{{"sha":"{HEAD}","ref":"feat"}},"base":{{"ref":"main"}},"user":{{"login":"alice"}}}}}}"#
        ),
    )
    .unwrap();
    let output_file = dir.path().join("output");
    let summary_file = dir.path().join("step_summary.md");
    let out = Command::new(PHASEGATE)
        .current_dir(dir.path())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "acme/infra")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_API_URL", hub.url())
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_RUN_ID", "100")
        .env("GITHUB_SHA", HEAD)
        .env("GITHUB_OUTPUT", &output_file)
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .env("GITHUB_TOKEN", TOKEN)
        .env("NO_COLOR", "1")
        .args(["--config", "phasegate.yml", "--change", "change.yml"])
        .args([
            "plan",
            "--env",
            "dev",
            "--plan-json",
            plan.to_str().unwrap(),
        ])
        .args(["--sarif-in", sarif.to_str().unwrap()])
        .args(["--out", dir.path().join("out").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let violations_of_hub = hub.take_violations();
    assert!(violations_of_hub.is_empty(), "{violations_of_hub:#?}");

    let comments = hub.comments("acme", "infra", 7);
    assert_eq!(comments.len(), 1);
    let body = comments[0]["body"].as_str().unwrap();
    assert!(
        body.contains("evil.example"),
        "the hostile text was posted: {body}"
    );
    assert_inert("posted comment", body, &["github.com"]);

    let checks = hub.check_runs("acme", "infra");
    assert_eq!(checks.len(), 1);
    let output: &Value = &checks[0]["output"];
    for field in ["summary", "text"] {
        if let Some(md) = output[field].as_str() {
            assert_inert(&format!("check run {field}"), md, &["github.com"]);
        }
    }
    for field in [&checks[0]["name"], &output["title"]] {
        let plain = field.as_str().unwrap_or_default();
        assert!(!plain.contains("<!-- phasegate"), "{plain}");
        assert!(!plain.chars().any(|c| c.is_control()), "{plain:?}");
    }
    if let Some(annotations) = output["annotations"].as_array() {
        for a in annotations {
            let message = a["message"].as_str().unwrap_or_default();
            assert!(!message.contains("<!-- phasegate:"), "{message}");
        }
    }
    let summary = std::fs::read_to_string(&summary_file).unwrap();
    assert!(summary.contains("evil.example"));
    assert_inert("job summary", &summary, &["github.com"]);
    let outputs = std::fs::read_to_string(&output_file).unwrap();
    assert!(!outputs.contains("evil.example"), "{outputs}");
    assert!(!outputs.contains("<!--"), "{outputs}");
}

fn run_quickstart(args: &[&str]) -> Output {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    Command::new(PHASEGATE)
        .current_dir(&root)
        .env_remove("GITHUB_ACTIONS")
        .env("NO_COLOR", "1")
        .args([
            "--config",
            "examples/quickstart/phasegate.yml",
            "--change",
            "examples/quickstart/change.yml",
        ])
        .args(args)
        .output()
        .unwrap()
}

/// `gate GATE` on the quickstart's dev phase and plan, with `extra` flags.
fn quickstart_gate(gate: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "gate",
        gate,
        "--env",
        "dev",
        "--plan-json",
        "examples/quickstart/plan.json",
    ];
    args.extend_from_slice(extra);
    run_quickstart(&args)
}

#[test]
fn security_no_longer_reports_the_cost_acknowledgement_as_unmatched() {
    let out = quickstart_gate("security", &["--format", "markdown"]);
    let text = stdout(&out);
    assert!(
        text.contains("**Security:"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("cost-budget"), "{text}");
    let cost = quickstart_gate("cost", &["--format", "markdown"]);
    assert!(stdout(&cost).contains("cost-budget") || stdout(&cost).contains("within budget"));
}

#[test]
fn gate_runs_only_the_named_gate() {
    // The cost gate reads the usage file; another gate never opens it.
    let missing = "/nonexistent/usage.yml";
    let blast = quickstart_gate("blast", &["--usage", missing, "--format", "json"]);
    assert_ne!(
        blast.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&blast.stderr)
    );
    let json: Value = serde_json::from_str(&stdout(&blast)).unwrap();
    assert_eq!(json["gate"], "blast");
    let cost = quickstart_gate("cost", &["--usage", missing]);
    assert_eq!(
        cost.status.code(),
        Some(2),
        "the cost gate did run and read the file"
    );
}

#[test]
fn sarif_out_on_cost_or_blast_is_a_usage_error() {
    for gate in ["cost", "blast"] {
        let out = quickstart_gate(gate, &["--sarif-out", "/tmp/never-written.sarif"]);
        assert_eq!(out.status.code(), Some(2), "gate {gate}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--sarif-out"));
    }
}
