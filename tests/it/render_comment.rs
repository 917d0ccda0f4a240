//! The PR comment and the job summary: layout, size budgets and inert
//! rendering of hostile values.

use phasegate::gates::Verdict;
use phasegate::plan::{
    Action, AttrDiff, ChangeSet, DiffValue, Engine, Mode, OutputChange, ResourceChange,
};
use phasegate::render::{
    self, PhaseView, ProjectView, Section, COMMENT_BUDGET, DETAILS_MARKER, SUMMARY_BUDGET,
};
use serde_json::{json, Value};

/// Builds resource changes for tests, with Terraform-like defaults.
struct Res(ResourceChange);

impl Res {
    fn new(address: &str, action: Action) -> Res {
        let (resource_type, name) = address
            .rsplit_once('.')
            .map(|(t, n)| (t.rsplit('.').next().unwrap_or(t), n))
            .unwrap_or(("null_resource", address));
        Res(ResourceChange {
            address: address.to_owned(),
            module: None,
            mode: Mode::Managed,
            resource_type: resource_type.to_owned(),
            name: name.to_owned(),
            index: None,
            provider: "registry.terraform.io/hashicorp/aws".to_owned(),
            action,
            action_reason: None,
            previous_address: None,
            importing: None,
            deposed: None,
            before: Value::Null.into(),
            after: Value::Null.into(),
            after_unknown: json!({}).into(),
            after_sensitive: json!({}).into(),
            diff: Vec::new(),
        })
    }
    fn attr(mut self, path: &str, before: DiffValue, after: DiffValue) -> Res {
        self.0.diff.push(AttrDiff {
            path: path.to_owned(),
            before,
            after,
            forces_replacement: false,
        });
        self
    }
    fn forcing(mut self, path: &str, before: DiffValue, after: DiffValue) -> Res {
        self.0.diff.push(AttrDiff {
            path: path.to_owned(),
            before,
            after,
            forces_replacement: true,
        });
        self
    }
    fn reason(mut self, reason: &str) -> Res {
        self.0.action_reason = Some(reason.to_owned());
        self
    }
    fn importing(mut self, id: &str) -> Res {
        self.0.importing = Some(id.to_owned());
        self
    }
    fn moved_from(mut self, previous: &str) -> Res {
        self.0.previous_address = Some(previous.to_owned());
        self
    }
    fn deposed(mut self, key: &str) -> Res {
        self.0.deposed = Some(key.to_owned());
        self
    }
    fn data(mut self) -> Res {
        self.0.mode = Mode::Data;
        self
    }
}

fn known(v: Value) -> DiffValue {
    DiffValue::Known(v.into())
}

fn s(text: &str) -> DiffValue {
    DiffValue::Known(Value::String(text.to_owned()).into())
}

fn change_set(resources: Vec<Res>, drift: Vec<Res>, outputs: Vec<OutputChange>) -> ChangeSet {
    ChangeSet {
        format_version: "1.2".to_owned(),
        engine: Engine::Terraform,
        engine_version: Some("1.9.5".to_owned()),
        resources: resources.into_iter().map(|r| r.0).collect(),
        drift: drift.into_iter().map(|r| r.0).collect(),
        outputs,
        errored: Some(false),
        applyable: Some(true),
        complete: Some(true),
        provider_config: json!({}),
        references: Default::default(),
        digest: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned(),
        sensitive_values: Default::default(),
        groups: Default::default(),
    }
}

fn output(name: &str, action: Action, before: DiffValue, after: DiffValue) -> OutputChange {
    OutputChange {
        name: name.to_owned(),
        action,
        before,
        after,
    }
}

fn view(projects: Vec<ProjectView>, sections: Vec<Section>) -> PhaseView {
    PhaseView {
        change_id: "CHG-42".to_owned(),
        change_title: Some("Move the web tier to t3".to_owned()),
        phase_name: "staging".to_owned(),
        phase_index: 1,
        environment: "staging".to_owned(),
        projects,
        sections,
        run_url: Some("https://github.com/acme/infra/actions/runs/1234".to_owned()),
    }
}

fn section(key: &str, title: &str, badge: Verdict, essentials: &str, details: &str) -> Section {
    Section {
        key: key.to_owned(),
        title: title.to_owned(),
        badge: Some(badge),
        essentials_md: essentials.to_owned(),
        details_md: details.to_owned(),
    }
}

/// A small plan with every action kind, drift and outputs.
fn every_action_view() -> PhaseView {
    let resources = vec![
        Res::new("aws_s3_bucket.logs", Action::Create)
            .attr("bucket", DiffValue::Absent, s("acme-logs"))
            .attr("arn", DiffValue::Absent, DiffValue::Unknown),
        Res::new("aws_instance.web", Action::Update)
            .attr("instance_type", s("t2.micro"), s("t3.micro"))
            .attr("tags.Owner", s("ops"), s("web")),
        Res::new("aws_db_instance.main", Action::Delete)
            .attr("password", DiffValue::Sensitive, DiffValue::Absent)
            .attr("engine", s("postgres"), DiffValue::Absent),
        Res::new("aws_launch_template.web", Action::ReplaceDestroyFirst)
            .forcing("image_id", s("ami-1"), s("ami-2"))
            .reason("replace_because_cannot_update"),
        Res::new("aws_lb.front", Action::ReplaceCreateFirst).forcing(
            "name",
            s("front"),
            s("front-2"),
        ),
        Res::new("data.aws_ami.latest", Action::Read).data(),
        Res::new("aws_iam_role.legacy", Action::Forget),
        Res::new("aws_sqs_queue.jobs", Action::CreateThenForget).attr(
            "name",
            DiffValue::Absent,
            s("jobs"),
        ),
        Res::new("aws_vpc.main", Action::NoOp).importing("vpc-0abc"),
        Res::new("aws_subnet.a", Action::NoOp).moved_from("aws_subnet.old_a"),
        Res::new("aws_security_group.app", Action::Update)
            .importing("sg-123")
            .attr("description", s("old"), s("new")),
        Res::new("aws_instance.old", Action::Delete).deposed("00000001"),
        Res::new("aws_route53_zone.untouched", Action::NoOp),
    ];
    let drift = vec![
        Res::new("aws_instance.web", Action::Update).attr(
            "tags.Manual",
            DiffValue::Absent,
            s("added-in-console"),
        ),
        Res::new("aws_eip.gone", Action::Delete),
    ];
    let outputs = vec![
        output(
            "web_url",
            Action::Create,
            DiffValue::Absent,
            DiffValue::Unknown,
        ),
        output(
            "db_password",
            Action::Update,
            DiffValue::Sensitive,
            DiffValue::Sensitive,
        ),
        output("replicas", Action::Update, known(json!(2)), known(json!(3))),
        output("legacy", Action::Delete, s("x"), DiffValue::Absent),
        output("same", Action::NoOp, s("y"), s("y")),
    ];
    let sections = vec![
        section(
            "security",
            "Security",
            Verdict::Warn,
            "1 medium finding.",
            "| rule | resource |\n|---|---|\n| PG-S3-001 | `aws_s3_bucket.logs` |",
        ),
        section("cost", "Cost", Verdict::Pass, "+$12.40/month.", ""),
        section(
            "blast",
            "Blast radius",
            Verdict::AckRequired,
            "Destroys a stateful resource: needs `allow_destroy`.",
            "`aws_db_instance.main` is stateful.",
        ),
    ];
    view(
        vec![
            ProjectView {
                name: "network".to_owned(),
                changes: change_set(resources, drift, outputs).into(),
            },
            ProjectView {
                name: "dns".to_owned(),
                changes: change_set(
                    vec![Res::new("aws_route53_record.a", Action::NoOp)],
                    vec![],
                    vec![],
                )
                .into(),
            },
        ],
        sections,
    )
}

fn essentials_of(block: &str) -> &str {
    block
        .split_once(DETAILS_MARKER)
        .map(|(e, _)| e)
        .expect("every block has the details marker")
}

#[test]
fn comment_of_every_action_kind_matches_snapshot() {
    let comment = render::comment(&every_action_view());
    insta::assert_snapshot!("every_action_comment", comment);
}

#[test]
fn summary_of_every_action_kind_matches_snapshot() {
    let summary = render::summary(&every_action_view());
    insta::assert_snapshot!("every_action_summary", summary);
}

#[test]
fn essentials_come_before_the_details_marker_and_details_after() {
    let view = every_action_view();
    let block = render::comment(&view);
    assert_eq!(block.matches(DETAILS_MARKER).count(), 1);
    assert!(block.lines().any(|l| l == DETAILS_MARKER));
    let (essentials, details) = block.split_once(DETAILS_MARKER).unwrap();
    let counts = render::counts_line(&view.projects[0].changes.counts());
    assert!(essentials.contains(&counts), "{counts}");
    assert!(
        essentials.contains(render::NO_CHANGES),
        "the dns project changes nothing"
    );
    assert!(essentials.contains("> [!CAUTION]"));
    assert!(essentials.contains("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
    assert!(essentials.contains("✋ ack required"));
    assert!(details.contains("Changes outside Terraform"));
    assert!(details.contains("Output changes"));
    assert!(!essentials.contains("<details>"));
}

#[test]
fn destroy_warning_lists_every_destroyed_or_replaced_address() {
    let block = render::comment(&every_action_view());
    let essentials = essentials_of(&block);
    for address in [
        "aws&#95;db&#95;instance.main",
        "aws&#95;launch&#95;template.web",
        "aws&#95;lb.front",
        "aws&#95;instance.old",
    ] {
        assert!(
            essentials.contains(address),
            "{address} missing from the warning"
        );
    }
    assert!(
        !essentials.contains("aws&#95;iam&#95;role.legacy"),
        "forget is not a destroy"
    );
}

/// A plan of `n` resources, every 33rd destroyed or replaced, each with
/// `attrs` long attribute changes.
fn big_view(n: usize, attrs: usize) -> (PhaseView, Vec<String>) {
    let mut destroyed = Vec::new();
    let resources = (0..n)
        .map(|i| {
            let address = format!("module.app.aws_instance.web[{i}]");
            let action = match i % 33 {
                0 => Action::Delete,
                1 => Action::ReplaceDestroyFirst,
                _ => Action::Update,
            };
            if action.destroys() {
                destroyed.push(address.clone());
            }
            (0..attrs).fold(Res::new(&address, action), |r, a| {
                r.attr(
                    &format!("tags.attribute_{a}"),
                    s(&format!("old value {a} {}", "x".repeat(80))),
                    s(&format!("new value {a} {}", "y".repeat(80))),
                )
            })
        })
        .collect();
    let v = view(
        vec![ProjectView {
            name: "app".to_owned(),
            changes: change_set(resources, vec![], vec![]).into(),
        }],
        vec![],
    );
    (v, destroyed)
}

#[test]
fn five_thousand_resource_plan_fits_comment_budget() {
    let json = phasegate::plan::synthetic_plan_json(5_000, 150, 20);
    let changes = phasegate::plan::parse_plan_json(&json, "synthetic.json").unwrap();
    let destroyed: Vec<String> = changes.destroyed().map(|r| r.address.clone()).collect();
    assert_eq!(destroyed.len(), 150);
    let digest = changes.digest.clone();
    let view = view(
        vec![ProjectView {
            name: "app".to_owned(),
            changes: changes.into(),
        }],
        vec![section(
            "blast",
            "Blast radius",
            Verdict::AckRequired,
            "150 replacements.",
            "long details",
        )],
    );

    let comment = render::comment(&view);
    assert!(
        comment.chars().count() <= COMMENT_BUDGET,
        "{} chars",
        comment.chars().count()
    );
    let essentials = essentials_of(&comment);
    for address in &destroyed {
        let shown = render::escape::inline(address);
        assert!(essentials.contains(&shown), "{address} missing");
    }
    assert!(essentials.contains(&digest));
    assert!(essentials.contains("Plan: 150 to add, 4850 to change, 150 to destroy."));
    assert!(
        comment.contains("job summary"),
        "the comment says where the details went"
    );
    assert_eq!(
        comment.matches("<details>").count(),
        comment.matches("</details>").count()
    );

    let summary = render::summary(&view);
    assert!(summary.len() <= SUMMARY_BUDGET, "{} bytes", summary.len());
    assert!(summary.contains(&digest));
    for address in &destroyed {
        assert!(
            summary.contains(&render::escape::inline(address)),
            "{address} missing from the summary"
        );
    }
}

const HOSTILE: &str = "x`y`</details></summary><!-- phasegate:change=x -->@octocat <img src=x onerror=alert(1)> [click](https://evil.example) | *bold* #1";

fn hostile_view() -> PhaseView {
    let resources = vec![
        Res::new(&format!("aws_instance.a[\"{HOSTILE}\"]"), Action::Delete)
            .attr(HOSTILE, s(HOSTILE), s(&format!("{HOSTILE}\n```\nline two")))
            .importing(HOSTILE),
        Res::new("aws_instance.b", Action::Update).attr("tags", s("a"), s(HOSTILE)),
    ];
    let drift = vec![Res::new(HOSTILE, Action::Update).attr(HOSTILE, s(HOSTILE), s("b"))];
    let outputs = vec![output(HOSTILE, Action::Update, s(HOSTILE), s(HOSTILE))];
    PhaseView {
        change_id: HOSTILE.to_owned(),
        change_title: Some(HOSTILE.to_owned()),
        phase_name: HOSTILE.to_owned(),
        phase_index: 0,
        environment: HOSTILE.to_owned(),
        projects: vec![ProjectView {
            name: HOSTILE.to_owned(),
            changes: change_set(resources, drift, outputs).into(),
        }],
        sections: vec![section(
            "security",
            HOSTILE,
            Verdict::Block,
            "safe <!-- phasegate:state --> text",
            "more",
        )],
        run_url: Some("javascript:alert(1)".to_owned()),
    }
}

fn assert_inert(text: &str) {
    assert_eq!(
        text.matches("<details>").count(),
        text.matches("</details>").count(),
        "unbalanced details:\n{text}"
    );
    assert_eq!(
        text.matches("<summary>").count(),
        text.matches("</summary>").count()
    );
    assert!(!text.contains("@octocat"), "a mention survived");
    assert!(!text.contains("<img"), "an image tag survived");
    assert!(!text.contains("](https://evil"), "a link survived");
    assert!(!text.contains("javascript:"), "a script URL survived");
    assert!(
        !text.contains("https://evil"),
        "a bare URL would be autolinked"
    );
    assert!(
        !text.contains("<!-- phasegate:change"),
        "a marker was injected"
    );
    assert!(
        !text.contains("<!-- phasegate:state"),
        "a marker was injected"
    );
    assert!(!text.contains("`y`"), "a code span survived");
    assert!(
        text.matches("<!-- phasegate:").count() == text.matches(DETAILS_MARKER).count(),
        "only the renderer's own marker may appear"
    );
}

#[test]
fn hostile_values_cannot_break_out_of_the_comment() {
    let comment = render::comment(&hostile_view());
    insta::assert_snapshot!("hostile_comment", comment);
    assert_inert(&comment);
    assert_eq!(comment.matches(DETAILS_MARKER).count(), 1);
}

#[test]
fn hostile_values_cannot_break_out_of_the_summary() {
    assert_inert(&render::summary(&hostile_view()));
}

#[test]
fn hostile_values_stay_inert_when_the_budget_sheds_details() {
    let block = render::phase_block(&hostile_view(), 2_500);
    assert!(block.chars().count() <= 2_500);
    assert_inert(&block);
}

#[test]
fn tiny_budget_keeps_counts_and_digest() {
    let (view, _) = big_view(300, 5);
    let digest = view.projects[0].changes.digest.clone();
    for budget in [400, 1_000, 3_000] {
        let block = render::phase_block(&view, budget);
        assert!(
            block.chars().count() <= budget,
            "{budget}: {}",
            block.chars().count()
        );
        assert!(
            block.contains("Plan: 10 to add, 280 to change, 20 to destroy."),
            "{budget}: counts missing:\n{block}"
        );
        assert!(
            block.contains(&digest),
            "{budget}: digest missing:\n{block}"
        );
    }
}

#[test]
fn a_cut_destroy_warning_says_how_many_more_are_in_the_summary() {
    let (view, destroyed) = big_view(300, 5);
    // Room for the essentials with their group table, not for every address.
    let block = render::phase_block(&view, 2_600);
    assert!(block.chars().count() <= 2_600);
    assert!(block.contains(DETAILS_MARKER));
    let shown = destroyed
        .iter()
        .filter(|a| block.contains(&render::escape::inline(a)))
        .count();
    assert!(
        shown > 0 && shown < destroyed.len(),
        "{shown} shown:\n{block}"
    );
    let more = destroyed.len() - shown;
    assert!(
        block.contains(&format!("…and {more} more, listed in the job summary")),
        "{block}"
    );
}

#[test]
fn an_override_directory_replaces_a_template() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(render::templates::PROJECT_HEADING),
        "#### Our project {{ project }}",
    )
    .unwrap();
    let renderer = render::Renderer::with_overrides(dir.path()).unwrap();
    let comment = renderer.comment(&every_action_view());
    assert!(comment.contains("#### Our project network"));
}

#[test]
fn an_errored_plan_is_flagged_in_the_essentials() {
    let mut view = every_action_view();
    std::sync::Arc::make_mut(&mut view.projects[0].changes).errored = Some(true);
    let block = render::comment(&view);
    let essentials = essentials_of(&block);
    assert!(essentials.contains("> [!WARNING]"));
    assert!(essentials.contains("cannot be applied"));
}

fn fixture_plan(name: &str) -> ChangeSet {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/plans")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    phasegate::plan::parse_plan_json(&text, name).unwrap()
}

#[test]
fn sensitive_values_of_a_real_plan_never_reach_comment_or_summary() {
    let v = view(
        vec![ProjectView {
            name: "db".to_owned(),
            changes: fixture_plan("sensitive-canary.json").into(),
        }],
        vec![],
    );
    for text in [render::comment(&v), render::summary(&v)] {
        assert!(
            !text.contains("CANARY"),
            "a sensitive value leaked:\n{text}"
        );
        assert!(text.contains("(sensitive value)"));
    }
}

#[test]
fn every_fixture_plan_renders_balanced_within_budget() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plans");
    let mut rendered = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(changes) = name
            .ends_with(".json")
            .then(|| std::fs::read_to_string(dir.join(&name)).unwrap())
            .and_then(|text| phasegate::plan::parse_plan_json(&text, &name).ok())
        else {
            continue;
        };
        let v = view(
            vec![ProjectView {
                name: name.clone(),
                changes: changes.into(),
            }],
            vec![],
        );
        let comment = render::comment(&v);
        assert!(comment.chars().count() <= COMMENT_BUDGET);
        assert_eq!(comment.matches(DETAILS_MARKER).count(), 1, "{name}");
        assert_eq!(
            comment.matches("<details>").count(),
            comment.matches("</details>").count(),
            "{name}"
        );
        assert!(comment.contains("Plan digest"), "{name}");
        rendered += 1;
    }
    assert!(rendered >= 10, "only {rendered} fixtures parsed");
}

#[test]
fn a_real_terraform_plan_matches_snapshot() {
    let v = view(
        vec![ProjectView {
            name: "testcloud".to_owned(),
            changes: fixture_plan("terraform-1.0.3-outputs.json").into(),
        }],
        vec![],
    );
    // The digest is the plan module's business; the snapshot is about layout.
    let comment = render::comment(&v).replace(&v.projects[0].changes.digest, "<digest>");
    insta::assert_snapshot!("terraform_1_0_3_comment", comment);
}

#[test]
fn split_block_separates_essentials_from_details() {
    let block = render::comment(&every_action_view());
    let (essentials, details) = render::split_block(&block).unwrap();
    assert!(essentials.contains("> [!CAUTION]"));
    assert!(!essentials.contains(DETAILS_MARKER));
    assert!(details.contains("<details>"));
    assert!(!details.contains(DETAILS_MARKER));
    assert_eq!(render::split_block("no marker here"), None);
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

#[test]
fn gates_import_nothing_from_render_and_gating_nothing_from_plan() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let gates = rust_files(&root.join("gates"));
    assert!(gates.len() > 5, "the gates were not found");
    for file in gates {
        let text = std::fs::read_to_string(&file).unwrap();
        for needle in ["crate::render", "super::render", "super::super::render"] {
            assert!(
                !text.contains(needle),
                "{} refers to {needle}: gates are data, render/ draws them",
                file.display()
            );
        }
    }
    // `plan` uses `gating`; `gating` must not use `plan` back.
    let gating = std::fs::read_to_string(root.join("runner/gating.rs")).unwrap();
    for needle in ["super::plan", "commands::plan", "runner::plan"] {
        assert!(
            !gating.contains(needle),
            "runner/gating.rs refers to {needle}"
        );
    }
}
