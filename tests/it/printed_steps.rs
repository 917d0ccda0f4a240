//! The next steps phasegate prints, run exactly as printed, outside Actions
//! (issue 19 §4): an approval given with `approve --local` where status
//! names it, and a rollback's `--apply` without the `--base` the revert was
//! planned from. Real Terraform 1.0.3 and testcloud.

use serde_json::Value;

use crate::suite_support::Runner;
use crate::testbed::describe;

/// Runs `next` (a `phasegate ...` line) word for word.
fn run_printed(c: &Runner, next: &str) -> std::process::Output {
    let words: Vec<&str> = next.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"phasegate"), "not a command: {next}");
    c.run(&words[1..])
}

fn printed_next(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("next: ").map(str::to_string))
        .unwrap_or_else(|| panic!("no next line\n{}", describe(out)))
}

#[test]
fn a_local_approval_is_named_by_status_and_runs_as_printed() {
    let c = Runner::new("tests/fixtures/runner/two-env");
    for step in ["plan", "apply", "verify", "review"] {
        c.ok(&[step, "--phase", "1"]);
    }
    c.ok(&["plan", "--phase", "2"]);
    let next = c.next();
    assert!(
        next.starts_with("phasegate approve --local --env prod --digest "),
        "{next}"
    );
    // The refusal of an apply names the same step.
    let refused = c.run(&["apply", "--phase", "2"]);
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    assert_eq!(printed_next(&refused), next);

    // A digest that is not prod's plan is refused and journaled.
    let wrong = c.run(&[
        "approve",
        "--local",
        "--env",
        "prod",
        "--digest",
        "0123456789abcdef",
        "--as",
        "eve",
    ]);
    assert_eq!(wrong.status.code(), Some(1), "{}", describe(&wrong));
    let refusal = c.refusals().pop().unwrap();
    assert_eq!(refusal["what"], "approval", "{refusal}");

    let approved = run_printed(&c, &next);
    assert_eq!(approved.status.code(), Some(0), "{}", describe(&approved));
    let recorded: Vec<Value> = c
        .journal()
        .into_iter()
        .filter(|e| e["event"] == "approval_recorded")
        .collect();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["source"], "local");
    assert_eq!(printed_next(&approved), "phasegate apply --phase 2");
    let applied = run_printed(&c, "phasegate apply --phase 2");
    assert_eq!(applied.status.code(), Some(0), "{}", describe(&applied));
}

#[test]
fn a_local_approval_is_refused_where_the_journal_is_on_github() {
    let c = Runner::new("tests/fixtures/runner/two-env");
    let config = std::fs::read_to_string(c.tb.workdir().join("phasegate.yml")).unwrap();
    c.tb.write_file(
        "phasegate.yml",
        &format!("{config}store:\n  backend: github\n"),
    );
    let out = c
        .command(&[
            "approve",
            "--local",
            "--env",
            "prod",
            "--digest",
            "0123456789abcdef",
            "--as",
            "rita",
        ])
        .env_remove("PHASEGATE_STORE_DIR")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("local store only"),
        "{}",
        describe(&out)
    );
    // Without --env, --digest and --as: usage.
    assert_eq!(c.run(&["approve", "--local"]).status.code(), Some(2));
}
