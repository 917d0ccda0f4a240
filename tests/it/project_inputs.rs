//! Projects that pass outputs (issue 22 §1): app reads network's `vpc_id`
//! through `projects[].inputs`. Within dev, network is planned and applied
//! first, app waits for the output and is planned with it (as `TF_VAR_`),
//! and its digest binds the value; an apply of network that changes the
//! output makes app's reviewed plan stale, so it is planned, gated and
//! approved again. Every next step is run as status prints it. Real
//! Terraform 1.0.3 and testcloud.

use serde_json::Value;

use crate::suite_support::Runner;
use crate::testbed::describe;

const FIXTURE: &str = "tests/fixtures/runner/inputs";

/// Runs `next` (a `phasegate ...` line) word for word.
fn run_printed(c: &Runner, next: &str) -> std::process::Output {
    let words: Vec<&str> = next.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"phasegate"), "not a command: {next}");
    c.run(&words[1..])
}

/// Runs the next step status names, which must start with `expected`,
/// and asserts its exit code.
fn step(c: &Runner, expected: &str, code: i32) -> (String, std::process::Output) {
    let next = c.next();
    assert!(
        next.starts_with(expected),
        "expected `{expected}…`, status names `{next}`\n{}",
        describe(&c.run(&["status"]))
    );
    let out = run_printed(c, &next);
    assert_eq!(out.status.code(), Some(code), "{next}\n{}", describe(&out));
    (next, out)
}

/// The testcloud group named `name`.
fn group(c: &Runner, name: &str) -> Value {
    let dir = c.tb.cloud_dir().join("aws_security_group");
    std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| {
            serde_json::from_str::<Value>(&std::fs::read_to_string(e.path()).unwrap()).unwrap()
        })
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no group {name} in {}", dir.display()))
}

/// The input `var` of a journaled plan.
fn input<'a>(plan: &'a Value, var: &str) -> &'a Value {
    plan["plan"]["inputs"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["var"] == var))
        .unwrap_or_else(|| panic!("no input {var} in {plan}"))
}

/// network's sensitive output, read by app.
const CANARY: &str = "inputs-canary-7f3a9c2e";

/// The canary is in none of `outputs`, the journal, or any file written but
/// the saved plans and the state checkpoints (Terraform's own files, which
/// hold every value as the state does).
fn assert_no_canary(c: &Runner, outputs: &[&std::process::Output]) {
    for out in outputs {
        let shown = describe(out);
        assert!(!shown.contains(CANARY), "{shown}");
    }
    assert!(!c.journal_text().contains(CANARY));
    let mut dirs = vec![c.tb.workdir().join("out")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .extension()
                .is_some_and(|x| x != "tfplan" && x != "tfstate")
            {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(CANARY),
                    "{}",
                    path.display()
                );
            }
        }
    }
}

fn events<'a>(journal: &'a [Value], kind: &str, project: &str) -> Vec<&'a Value> {
    journal
        .iter()
        .filter(|e| e["event"] == kind && e["project"] == project)
        .collect()
}

#[test]
fn app_reads_network_s_vpc_id_and_an_upstream_change_makes_its_plan_stale() {
    let c = Runner::new(FIXTURE);

    // network's output does not exist yet: app waits, and says for what.
    let planned = c.ok(&["plan", "--phase", "1"]);
    let text = String::from_utf8_lossy(&planned.stdout);
    assert!(text.contains("app: WAITING"), "{text}");
    let comment = std::fs::read_to_string(c.tb.workdir().join("out/comment.md")).unwrap();
    assert!(
        comment.contains(
            "**app** waits for <code>network.outputs.token</code>, <code>network.outputs.vpc&#95;id</code>"
        ),
        "{comment}"
    );
    let journal = c.journal();
    let waiting = events(&journal, "plan_waiting", "app");
    assert_eq!(waiting.len(), 1, "{journal:?}");
    assert_eq!(
        waiting[0]["waiting_on"],
        serde_json::json!(["network.outputs.token", "network.outputs.vpc_id"])
    );
    let status = String::from_utf8_lossy(&c.ok(&["status"]).stdout).to_string();
    assert!(
        status.contains("app: plan pending, apply pending; waiting for network.outputs.token, network.outputs.vpc_id"),
        "{status}"
    );

    // The approval covers network's plan and app's wait; the apply applies
    // network and leaves app for its own plan.
    step(&c, "phasegate approve --local --env dev --digest ", 0);
    let (_, applied) = step(&c, "phasegate apply --phase 1", 0);
    assert!(
        String::from_utf8_lossy(&applied.stdout)
            .contains("waits for network.outputs.token, network.outputs.vpc_id"),
        "{}",
        describe(&applied)
    );
    let vpc_a = group(&c, "inputs-network-a")["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(vpc_a.starts_with("sg-"), "{vpc_a}");

    // app is planned now, with the value passed and shown; the sensitive
    // one only by its hash.
    let (_, app_planned) = step(&c, "phasegate plan --phase 1", 0);
    let journal = c.journal();
    let plans = events(&journal, "step_succeeded", "app");
    let app_plan = plans.last().unwrap();
    let vpc = input(app_plan, "vpc_id");
    assert_eq!(vpc["source"], "network.outputs.vpc_id");
    assert_eq!(vpc["value"], format!("\"{vpc_a}\""));
    let token = input(app_plan, "token");
    assert_eq!(token["sensitive"], true, "{token}");
    assert!(token.get("value").is_none(), "{token}");
    assert_eq!(token["sha256"].as_str().unwrap().len(), 64);
    assert_no_canary(&c, &[&app_planned]);
    let comment = std::fs::read_to_string(c.tb.workdir().join("out/comment.md")).unwrap();
    assert!(
        comment.contains(&format!(
            "<code>vpc&#95;id</code> = <code>\"{vpc_a}\"</code>"
        )),
        "{comment}"
    );
    assert!(
        comment.contains("<code>token</code> = (sensitive)"),
        "{comment}"
    );
    // A new plan in the phase: the earlier approval does not cover it.
    let refused = c.run(&["apply", "--phase", "1"]);
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    step(&c, "phasegate approve --local --env dev --digest ", 0);
    let (_, app_applied) = step(&c, "phasegate apply --phase 1", 0);
    let app_group = group(&c, "inputs-app");
    assert_eq!(app_group["vpc_id"], vpc_a.as_str());
    // The value reached Terraform: the cloud holds it.
    assert_eq!(app_group["tags"]["token"], CANARY);
    assert_no_canary(&c, &[&app_applied]);
    step(&c, "phasegate verify --phase 1", 0);
    step(&c, "phasegate review --phase 1", 0);
    assert_eq!(c.next(), "none");

    // network's group is renamed: a replacement, so a new id. Each project
    // is planned by its own job (as the matrix does): app's job does not see
    // network's plan, reads the old id and has nothing to change.
    let main = c.tb.workdir().join("network/main.tf");
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, text.replace("inputs-network-a", "inputs-network-b")).unwrap();
    c.ok(&["plan", "--phase", "1", "--project", "app"]);
    c.ok(&["plan", "--phase", "1", "--project", "network"]);
    let journal = c.journal();
    let stale_digest = events(&journal, "step_succeeded", "app").last().unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    step(&c, "phasegate approve --local --env dev --digest ", 0);
    // network's apply job changes the output: app's reviewed plan is
    // journaled stale by it, and app's own apply job is refused.
    let applied_network = c.ok(&["apply", "--phase", "1", "--project", "network"]);
    assert!(
        describe(&applied_network).contains("it is stale and must be planned and approved again"),
        "{}",
        describe(&applied_network)
    );
    assert_eq!(events(&c.journal(), "plan_stale", "app").len(), 1);
    let stale = c.run(&["apply", "--phase", "1", "--project", "app"]);
    assert_eq!(stale.status.code(), Some(1), "{}", describe(&stale));
    let shown = describe(&stale);
    assert!(
        shown.contains("is stale: an upstream apply in dev changed what it read"),
        "{shown}"
    );
    let vpc_b = group(&c, "inputs-network-b")["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(vpc_a, vpc_b);
    let journal = c.journal();
    let marked = events(&journal, "plan_stale", "app");
    assert_eq!(marked.len(), 1, "{journal:?}");
    assert_eq!(marked[0]["digest"], stale_digest.as_str());
    assert_eq!(marked[0]["inputs"][0], "vpc_id (network.outputs.vpc_id)");
    let refusal = c.refusals().pop().unwrap();
    assert_eq!(refusal["what"], "stale", "{refusal}");
    let status = String::from_utf8_lossy(&c.ok(&["status"]).stdout).to_string();
    assert!(
        status.contains("stale: an upstream apply changed vpc_id (network.outputs.vpc_id)"),
        "{status}"
    );
    assert_eq!(refusal["command"], "phasegate plan --phase 1");

    // Planned again with the new id: a new digest, gated, approved again.
    let status: Value =
        serde_json::from_slice(&c.ok(&["status", "--format", "json"]).stdout).unwrap();
    assert!(
        status["next"]["reason"].as_str().unwrap().contains("stale"),
        "{status}"
    );
    step(&c, "phasegate plan --phase 1", 0);
    let journal = c.journal();
    let replanned = events(&journal, "step_succeeded", "app");
    let fresh = replanned.last().unwrap();
    assert_ne!(fresh["digest"], stale_digest.as_str());
    assert_eq!(input(fresh, "vpc_id")["value"], format!("\"{vpc_b}\""));
    assert!(events(&journal, "gate_evaluated", "app")
        .iter()
        .any(|g| g["digest"] == fresh["digest"]));
    step(&c, "phasegate approve --local --env dev --digest ", 0);
    step(&c, "phasegate apply --phase 1", 0);
    assert_eq!(group(&c, "inputs-app")["vpc_id"], vpc_b.as_str());
    let (_, verified) = step(&c, "phasegate verify --phase 1", 0);
    step(&c, "phasegate review --phase 1", 0);
    assert_eq!(c.next(), "none");
    assert_no_canary(&c, &[&stale, &verified]);

    // Planned together, network's plan shows the output changing: app
    // waits for that apply instead of being planned with a value about to
    // go stale.
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, text.replace("inputs-network-b", "inputs-network-c")).unwrap();
    let planned = c.ok(&["plan", "--phase", "1"]);
    let shown = String::from_utf8_lossy(&planned.stdout);
    assert!(
        shown.contains("which network's plan in dev changes: app is planned with the new value once network is applied"),
        "{shown}"
    );
    let stale_before = events(&c.journal(), "plan_stale", "app").len();
    step(&c, "phasegate approve --local --env dev --digest ", 0);
    step(&c, "phasegate apply --phase 1", 0);
    assert_eq!(
        events(&c.journal(), "plan_stale", "app").len(),
        stale_before
    );
    let vpc_c = group(&c, "inputs-network-c")["id"]
        .as_str()
        .unwrap()
        .to_string();
    step(&c, "phasegate plan --phase 1", 0);
    step(&c, "phasegate approve --local --env dev --digest ", 0);
    step(&c, "phasegate apply --phase 1", 0);
    assert_eq!(group(&c, "inputs-app")["vpc_id"], vpc_c.as_str());
    step(&c, "phasegate verify --phase 1", 0);
    step(&c, "phasegate review --phase 1", 0);
    assert_eq!(c.next(), "none");
}

#[test]
fn the_digest_binds_the_upstream_value_even_when_the_plan_is_the_same() {
    use phasegate::runner::inputs::{bind_digest, InputValue, Resolved};
    let at = |id: &str| Resolved {
        values: vec![InputValue {
            var: "vpc_id".into(),
            source: "network.outputs.vpc_id".into(),
            upstream: "network".into(),
            value: Value::from(id),
            sensitive: false,
        }],
        absent: vec![],
    };
    let plan = "0123abcd";
    assert_ne!(
        bind_digest(plan, &at("sg-a").binds()),
        bind_digest(plan, &at("sg-b").binds())
    );
}

#[test]
fn a_cycle_through_inputs_or_a_missing_output_is_bad_input_naming_the_line() {
    let c = Runner::new(FIXTURE);
    let config = c.tb.workdir().join("phasegate.yml");
    let original = std::fs::read_to_string(&config).unwrap();

    let missing = original.replace("network.outputs.vpc_id", "network.outputs.subnet_id");
    std::fs::write(&config, &missing).unwrap();
    let out = c.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = missing
        .lines()
        .position(|l| l.contains("subnet_id"))
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!("phasegate.yml:{line}:"))
            && err.contains("projects[0].inputs.vpc_id"),
        "{err}"
    );
    assert!(
        err.contains("declares no output `subnet_id`; it declares `token`, `vpc_id`"),
        "{err}"
    );

    let cycle = original.replace(
        "  - name: network\n    dir: network\n",
        "  - name: network\n    dir: network\n    inputs:\n      app_id: app.outputs.id\n",
    );
    assert_ne!(cycle, original);
    std::fs::write(&config, &cycle).unwrap();
    let out = c.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("dependency cycle: app -> network -> app"),
        "{err}"
    );
    assert!(err.contains("projects[0].inputs.token"), "{err}");
}

/// The fixture with network planned, approved and applied in dev (app
/// waiting for it), each step as status names it.
fn network_applied() -> Runner {
    let c = Runner::new(FIXTURE);
    c.ok(&["plan", "--phase", "1"]);
    step(&c, "phasegate approve --local --env dev --digest ", 0);
    step(&c, "phasegate apply --phase 1", 0);
    c
}

#[test]
fn an_upstream_changed_outside_the_change_is_caught_before_the_reader_s_apply() {
    let c = network_applied();
    step(&c, "phasegate plan --phase 1", 0);
    step(&c, "phasegate approve --local --env dev --digest ", 0);

    // Someone applies network by hand: its group is replaced, the id app's
    // approved plan read is gone.
    let main = c.tb.workdir().join("network/main.tf");
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, text.replace("inputs-network-a", "inputs-network-x")).unwrap();
    let by_hand =
        c.tb.terraform_command_in(
            "network",
            &["apply", "-auto-approve", "-input=false", "-no-color"],
        )
        .output()
        .unwrap();
    assert_eq!(by_hand.status.code(), Some(0), "{}", describe(&by_hand));

    let refused = c.run(&["apply", "--phase", "1", "--project", "app"]);
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    let journal = c.journal();
    let marked = events(&journal, "plan_stale", "app");
    assert_eq!(marked.len(), 1, "{journal:?}");
    assert_eq!(marked[0]["inputs"][0], "vpc_id (network.outputs.vpc_id)");
    assert_eq!(c.refusals().pop().unwrap()["what"], "stale");
    // Nothing of app was applied.
    let dir = c.tb.cloud_dir().join("aws_security_group");
    let app_groups = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path())
                .unwrap()
                .contains("inputs-app")
        })
        .count();
    assert_eq!(app_groups, 0);
    assert_eq!(c.next(), "phasegate plan --phase 1");
}

#[test]
fn a_reader_s_plan_given_as_json_binds_the_values_it_was_made_with() {
    let c = network_applied();
    let vpc = group(&c, "inputs-network-a")["id"]
        .as_str()
        .unwrap()
        .to_string();

    // phasegate's own plan of app, then the same plan made by hand with
    // the same values and given as JSON: the same digest, the same binding.
    c.ok(&["plan", "--phase", "1", "--project", "app"]);
    let ours = events(&c.journal(), "step_succeeded", "app")
        .last()
        .copied()
        .cloned()
        .unwrap();
    let by_hand =
        c.tb.terraform_command_in(
            "app",
            &["plan", "-input=false", "-no-color", "-out=hand.tfplan"],
        )
        .env("TF_VAR_vpc_id", &vpc)
        .env("TF_VAR_token", CANARY)
        .output()
        .unwrap();
    assert_eq!(by_hand.status.code(), Some(0), "{}", describe(&by_hand));
    let shown =
        c.tb.terraform_command_in("app", &["show", "-json", "hand.tfplan"])
            .output()
            .unwrap();
    assert_eq!(shown.status.code(), Some(0), "{}", describe(&shown));
    std::fs::write(c.tb.workdir().join("hand.json"), &shown.stdout).unwrap();
    c.ok(&[
        "plan",
        "--phase",
        "1",
        "--project",
        "app",
        "--plan-json",
        "hand.json",
    ]);
    let theirs = events(&c.journal(), "step_succeeded", "app")
        .last()
        .copied()
        .cloned()
        .unwrap();
    assert_eq!(theirs["digest"], ours["digest"], "{theirs}\n{ours}");
    assert_eq!(
        input(&theirs, "vpc_id")["sha256"],
        input(&ours, "vpc_id")["sha256"]
    );
    assert_eq!(
        input(&theirs, "token")["sha256"],
        input(&ours, "token")["sha256"]
    );
    assert!(input(&theirs, "vpc_id").get("value").is_none(), "{theirs}");

    // A plan made without the input is bad input, naming the variable.
    let mut plan: Value = serde_json::from_slice(&shown.stdout).unwrap();
    plan["variables"].as_object_mut().unwrap().remove("vpc_id");
    std::fs::write(c.tb.workdir().join("without.json"), plan.to_string()).unwrap();
    let out = c.run(&[
        "plan",
        "--phase",
        "1",
        "--project",
        "app",
        "--plan-json",
        "without.json",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        describe(&out).contains("the plan has no value for variable `vpc_id`, which input `network.outputs.vpc_id` of app passes"),
        "{}",
        describe(&out)
    );
}
