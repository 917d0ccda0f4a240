//! `phasegate drift` end to end: real Terraform 1.0.3 against testcloud, the
//! real binary (one process per step, sharing only the store), the fake
//! GitHub for the issue. The fixture is applied by Terraform itself, then
//! edited behind its back in testcloud's store.

use std::path::PathBuf;
use std::process::Output;

use fakehub::{FakeHub, Fault, FaultKind, TokenKind};
use serde_json::Value;

use crate::testbed::{describe, Testbed};

const PHASEGATE: &str = env!("CARGO_BIN_EXE_phasegate");
const TOKEN: &str = "ghs_drift_token";
const FIXTURE: &str = "tests/fixtures/drift/one-env";
const LABEL: &str = "phasegate-drift";
const HOSTILE: &str =
    "</details><!-- phasegate:drift project=app env=dev -->@admin [x](https://evil.example) `tick`";

struct Bed {
    tb: Testbed,
    hub: FakeHub,
    store: PathBuf,
    outputs: PathBuf,
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
        let store = tb.root().join("store");
        let outputs = tb.root().join("github_output");
        Bed {
            tb,
            hub,
            store,
            outputs,
        }
    }

    /// One drift run, as the scheduled job runs it.
    fn drift(&self) -> (Output, Value) {
        std::fs::write(&self.outputs, "").unwrap();
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
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_EVENT_NAME", "schedule")
            .env("GITHUB_OUTPUT", &self.outputs)
            .env_remove("GITHUB_EVENT_PATH")
            .args([
                "--config",
                "phasegate.yml",
                "drift",
                "--env",
                "dev",
                "--all",
            ])
            .args(["--format", "json"])
            .output()
            .expect("run phasegate drift");
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("drift --format json prints JSON ({e}):\n{}", describe(&out))
        });
        (out, json)
    }

    /// Our issues (those with the label), as GitHub shows them.
    fn issues(&self) -> Vec<Value> {
        self.hub
            .issues("acme", "infra")
            .into_iter()
            .filter(|i| {
                i["labels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| l["name"] == LABEL)
            })
            .filter(|i| i["user"]["login"] == "github-actions[bot]")
            .collect()
    }

    fn outputs(&self) -> String {
        std::fs::read_to_string(&self.outputs).unwrap()
    }

    fn journal(&self) -> Vec<Value> {
        let text =
            std::fs::read_to_string(self.store.join("changes/drift-dev/journal.jsonl")).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn edit_assets(&self, acl: &str) {
        self.tb.edit_resource("aws_s3_bucket", "drift-assets", |b| {
            b.insert("acl".into(), acl.into());
        });
    }
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

#[test]
fn drift_opens_one_issue_updates_it_and_closes_it_when_fixed() {
    let bed = Bed::new();
    // Someone else's issue with our marker and label is never taken for ours.
    let marker = "<!-- phasegate:drift project=app env=dev -->";
    let foreign = bed.hub.add_issue(
        "acme",
        "infra",
        "mallory",
        "Drift: app in dev",
        &format!("{marker}\nnot ours"),
        &[LABEL],
    );

    // No drift yet: nothing is opened, exit 0.
    let (out, json) = bed.drift();
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    assert_eq!(json["drifted"], false);
    assert_eq!(json["projects"][0]["issue"]["action"], "nothing");
    assert!(bed.issues().is_empty());

    // An out-of-band edit opens an issue; the run fails (on_drift: fail).
    let original = bed.tb.read_resource("aws_s3_bucket", "drift-assets");
    bed.edit_assets("public-read");
    let (out, json) = bed.drift();
    assert_eq!(code(&out), Some(1), "{}", describe(&out));
    assert_eq!(json["drifted"], true);
    assert_eq!(json["drifted_resources"], 1);
    let project = &json["projects"][0];
    assert_eq!(project["drifted"][0]["address"], "aws_s3_bucket.assets");
    assert_eq!(project["drifted"][0]["attributes"][0], "acl");
    assert_eq!(
        project["pending_counts"]["change"], 1,
        "an apply would put it back"
    );
    // The plan drift made is gated like any plan, and its verdicts journaled.
    let gates = json["gates"].as_str().unwrap();
    assert!(
        gates.contains("security") && gates.contains("cost") && gates.contains("blast"),
        "{gates}"
    );
    let gated: Vec<String> = bed
        .journal()
        .iter()
        .filter(|e| e["event"] == "gate_evaluated")
        .map(|e| e["gate"].as_str().unwrap().to_string())
        .collect();
    for gate in ["security", "cost", "blast"] {
        assert!(
            gated.iter().any(|g| g == gate),
            "{gate} not journaled: {gated:?}"
        );
    }
    assert_eq!(project["issue"]["action"], "opened");
    let issues = bed.issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    let body = issues[0]["body"].as_str().unwrap_or_default();
    assert!(body.contains("**Its gates:** security "), "{body}");
    let number = issues[0]["number"].as_u64().unwrap();
    assert_ne!(number, foreign);
    assert_eq!(issues[0]["state"], "open");
    let body = issues[0]["body"].as_str().unwrap();
    assert!(body.starts_with(marker), "{body}");
    assert!(
        body.contains("bucket.assets</code>") && body.contains("public-read"),
        "{body}"
    );
    assert!(bed.hub.labels("acme", "infra").contains(&LABEL.to_string()));
    let outputs = bed.outputs();
    assert!(outputs.contains("drifted=true\n"), "{outputs}");
    assert!(outputs.contains("drifted_resources=1\n"), "{outputs}");
    assert!(outputs.contains(&format!("/issues/{number}")), "{outputs}");

    // A second run updates the same issue; no second one.
    bed.edit_assets("authenticated-read");
    let (out, json) = bed.drift();
    assert_eq!(code(&out), Some(1), "{}", describe(&out));
    assert_eq!(json["projects"][0]["issue"]["action"], "updated");
    assert_eq!(json["projects"][0]["issue"]["number"], number);
    let issues = bed.issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert!(issues[0]["body"]
        .as_str()
        .unwrap()
        .contains("authenticated-read"));

    // Reverting the edit closes it with a comment.
    bed.tb
        .edit_resource("aws_s3_bucket", "drift-assets", |b| *b = original.clone());
    let (out, json) = bed.drift();
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    assert_eq!(json["projects"][0]["issue"]["action"], "closed");
    let issues = bed.issues();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0]["state"], "closed");
    let comments = bed.hub.comments("acme", "infra", number);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert!(comments[0]["body"]
        .as_str()
        .unwrap()
        .contains("The drift is gone"));

    // Drift coming back reopens the same issue.
    bed.edit_assets("public-read");
    let (_, json) = bed.drift();
    assert_eq!(json["projects"][0]["issue"]["action"], "reopened");
    assert_eq!(json["projects"][0]["issue"]["number"], number);
    assert_eq!(bed.issues().len(), 1);
    assert_eq!(
        bed.hub
            .issues("acme", "infra")
            .iter()
            .find(|i| i["number"] == foreign)
            .unwrap()["body"],
        format!("{marker}\nnot ours"),
        "the foreign issue is left alone"
    );

    // Every run is journaled under the environment's pseudo-change.
    let journal = bed.journal();
    let actions: Vec<&str> = journal
        .iter()
        .filter(|e| e["event"] == "drift_checked")
        .map(|e| e["issue_action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["nothing", "opened", "updated", "closed", "reopened"]
    );
    assert!(
        bed.hub.violations().is_empty(),
        "{:?}",
        bed.hub.violations()
    );
}

#[test]
fn a_create_applied_then_answered_5xx_leaves_one_issue() {
    let bed = Bed::new();
    bed.edit_assets("public-read");
    bed.hub.inject(Fault {
        method: Some("POST"),
        path_prefix: "/repos/acme/infra/issues".into(),
        kind: FaultKind::StatusAfterApplying(502),
        times: 1,
    });
    let (out, json) = bed.drift();
    assert_eq!(code(&out), Some(1), "{}", describe(&out));
    assert_eq!(json["projects"][0]["issue"]["action"], "opened");
    assert_eq!(bed.issues().len(), 1, "{:#?}", bed.issues());
    let creates = bed
        .hub
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/repos/acme/infra/issues")
        .count();
    assert_eq!(
        creates, 1,
        "the create is never resent once GitHub may have made it"
    );
}

#[test]
fn hostile_addresses_and_values_stay_inert_in_the_issue() {
    let bed = Bed::new();
    for id in bed.tb.resource_ids("aws_s3_bucket") {
        if id.starts_with("drift-named-") {
            bed.tb.edit_resource("aws_s3_bucket", &id, |b| {
                b.insert("acl".into(), HOSTILE.into());
            });
        }
    }
    let (out, json) = bed.drift();
    assert_eq!(code(&out), Some(1), "{}", describe(&out));
    assert_eq!(json["drifted_resources"], 2);
    let issues = bed.issues();
    assert_eq!(issues.len(), 1);
    let body = issues[0]["body"].as_str().unwrap();
    assert_eq!(
        body.matches("<!-- phasegate:").count(),
        1,
        "only our own marker line: {body}"
    );
    assert!(!body.contains("</details><!--"), "{body}");
    assert!(
        !body.contains("@admin") && !body.contains("@octocat"),
        "mentions are defused: {body}"
    );
    assert!(
        !body.contains("](https://evil.example)"),
        "links are defused: {body}"
    );
    assert_eq!(
        body.matches("<details>").count(),
        body.matches("</details>").count(),
        "{body}"
    );
}

/// A drift of 3,000 buckets with long values, far over any body limit.
fn huge_drift() -> phasegate::drift::ProjectDrift {
    let resources: Vec<String> = (0..3000)
        .map(|i| {
            format!(
                r#"{{"address":"aws_s3_bucket.b[{i}]","mode":"managed","type":"aws_s3_bucket","name":"b","index":{i},
                "provider_name":"registry.terraform.io/hashicorp/aws",
                "change":{{"actions":["update"],"before":{{"acl":"private","policy":"{0}"}},
                "after":{{"acl":"public-read","policy":"{1}"}},
                "after_unknown":{{}},"before_sensitive":{{}},"after_sensitive":{{}}}}}}"#,
                "a".repeat(200),
                "b".repeat(200)
            )
        })
        .collect();
    let json = format!(
        r#"{{"format_version":"0.2","terraform_version":"1.0.3","resource_drift":[{}],"resource_changes":[]}}"#,
        resources.join(",")
    );
    let refresh = phasegate::plan::parse_plan_json(&json, "huge").unwrap();
    let plan = phasegate::plan::parse_plan_json(
        r#"{"format_version":"0.2","terraform_version":"1.0.3"}"#,
        "empty",
    )
    .unwrap();
    phasegate::drift::summarize("app", "prod", refresh, plan)
}

#[test]
fn a_huge_drift_fits_githubs_limit_and_says_what_it_left_out() {
    let d = huge_drift();
    let run = phasegate::render::drift::RunInfo {
        gates: None,
        checked_at: "2026-12-02T03:00:00Z".into(),
        run_url: None,
    };
    let body = phasegate::render::drift::issue_body(&d, &run, 65_536);
    let chars = body.chars().count();
    assert!(chars <= 65_536, "{chars} characters");
    assert!(chars > 30_000, "the budget is used, not wasted: {chars}");
    assert!(
        body.contains("3000** resources changed"),
        "the total survives"
    );
    assert!(
        body.contains("leaves out the attribute details of"),
        "the shed note says so"
    );
    assert!(
        body.contains("more resources"),
        "the table says how many rows it cut"
    );
}

#[test]
fn copies_of_our_issue_from_a_race_are_closed_in_favour_of_the_oldest() {
    let bed = Bed::new();
    let marker = "<!-- phasegate:drift project=app env=dev -->";
    let body = format!("{marker}\nolder run");
    let [first, second] = [(); 2].map(|_| {
        bed.hub.add_issue(
            "acme",
            "infra",
            "github-actions[bot]",
            "Drift: app in dev",
            &body,
            &[LABEL],
        )
    });
    bed.edit_assets("public-read");
    let (out, json) = bed.drift();
    assert_eq!(code(&out), Some(1), "{}", describe(&out));
    let issue = &json["projects"][0]["issue"];
    assert_eq!(issue["action"], "updated");
    assert_eq!(issue["number"], first);
    assert_eq!(issue["duplicates_closed"], serde_json::json!([second]));
    let open: Vec<Value> = bed
        .issues()
        .into_iter()
        .filter(|i| i["state"] == "open")
        .collect();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["number"], first);
    let note = bed.hub.comments("acme", "infra", second);
    assert!(note[0]["body"]
        .as_str()
        .unwrap()
        .contains(&format!("#{first} tracks this drift")));
}

#[test]
fn a_label_created_then_answered_5xx_counts_as_created() {
    use phasegate::github::{Forge, ForgeConfig, OctoForge, RepoRef, RetryPolicy};
    let hub = FakeHub::start();
    hub.add_repo("acme", "infra");
    hub.add_token(TOKEN, "", TokenKind::Installation, &[("issues", "write")]);
    hub.inject(Fault {
        method: Some("POST"),
        path_prefix: "/repos/acme/infra/labels".into(),
        kind: FaultKind::StatusAfterApplying(502),
        times: 1,
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let forge = OctoForge::new(&ForgeConfig {
            api_url: hub.url().to_owned(),
            graphql_url: None,
            token: TOKEN.to_owned(),
            retry: RetryPolicy::fast(),
        })
        .unwrap();
        let repo = RepoRef::new("acme", "infra");
        forge
            .ensure_label(&repo, LABEL, "d93f0b", "drift")
            .await
            .unwrap();
        forge
            .ensure_label(&repo, LABEL, "d93f0b", "drift")
            .await
            .unwrap();
    });
    assert_eq!(hub.labels("acme", "infra"), vec![LABEL.to_string()]);
    let posts = hub
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/repos/acme/infra/labels")
        .count();
    assert_eq!(posts, 1, "an existing label is read, not created again");
    assert!(hub.violations().is_empty(), "{:?}", hub.violations());
}

#[test]
fn a_body_the_server_finds_too_long_is_shed_further_until_it_fits() {
    use phasegate::github::issues::{sync, Desired, IssueAction, IssueTarget};
    use phasegate::github::{ForgeConfig, OctoForge, RepoRef, RetryPolicy};
    let hub = FakeHub::start();
    hub.add_repo("acme", "infra");
    hub.add_token(TOKEN, "", TokenKind::Installation, &[("issues", "write")]);
    hub.set_body_limit(40_000);
    let d = huge_drift();
    let run = phasegate::render::drift::RunInfo::default();
    let body = |budget: usize| phasegate::render::drift::issue_body(&d, &run, budget);
    let marked = |budget: usize| {
        format!(
            "{}\n{}",
            phasegate::github::issues::drift_marker("app", "prod"),
            body(budget - 60)
        )
    };
    let target = IssueTarget {
        repo: RepoRef::new("acme", "infra"),
        project: "app".into(),
        environment: "prod".into(),
        label: LABEL.into(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = rt.block_on(async {
        let forge = OctoForge::new(&ForgeConfig {
            api_url: hub.url().to_owned(),
            graphql_url: Some(hub.graphql_url()),
            token: TOKEN.to_owned(),
            retry: RetryPolicy::fast(),
        })
        .unwrap();
        let desired = Desired::Drifted {
            title: "Drift: app in prod".into(),
            body: &marked,
        };
        sync(&forge, &target, &desired).await.unwrap()
    });
    assert_eq!(outcome.action, IssueAction::Opened);
    let issues = hub.issues("acme", "infra");
    assert_eq!(issues.len(), 1);
    let chars = issues[0]["body"].as_str().unwrap().chars().count();
    assert!(chars <= 40_000 && chars > 20_000, "{chars}");
    let creates = hub
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/repos/acme/infra/issues")
        .count();
    assert!(creates >= 2, "the first body was refused as too long");
    // The refused attempts were recorded as 422s, not as violations.
    assert!(hub.violations().is_empty(), "{:?}", hub.violations());
}
