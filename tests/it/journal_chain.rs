//! The journal is tamper-evident (issue 19 §3): every line names the hash of
//! the line before it, so a deleted, reordered or edited line is refused
//! (exit 1, naming the first broken link) by the commands that read the
//! journal, after a real `plan` wrote it; a torn last line is set aside with
//! a warning and journaled; `journal verify` and `doctor` report the chain.
//! In the `github` store the ref's witness and history catch what the chain
//! cannot (a dropped tail, a re-chained rewrite), up to the documented limit.

use std::path::Path;
use std::process::Output;

use fakehub::{FakeHub, TokenKind};
use phasegate::github::{Forge, ForgeConfig, OctoForge, RepoRef, RetryPolicy, TreeEntry};
use phasegate::journal::{append_line, chain, Event};
use phasegate::runner::session as runner;
use phasegate::store::github::GitRefStore;
use phasegate::store::Store;
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::runner_e2e::Change;
use crate::testbed::{describe, Testbed};

/// Appends `event` (JSON as a job would journal it) to the journal file at
/// `path`, linked into its chain as phasegate links it: how tests stand in
/// for another job's append.
pub(crate) fn append_event(path: &Path, event: Value) {
    let current = std::fs::read(path).unwrap();
    let event: Event = serde_json::from_value(event).expect("a journal event");
    let change = event.change.clone();
    let bytes = append_line(Some(&current), &change, &[event]).expect("the journal's chain holds");
    std::fs::write(path, bytes).unwrap();
}

const JOURNAL: &str = "changes/CHG-RUN/journal.jsonl";

fn lines(c: &Change) -> Vec<String> {
    std::fs::read_to_string(c.store.join(JOURNAL))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(c: &Change, lines: &[String]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(c.store.join(JOURNAL), text).unwrap();
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn hash(line: &str) -> String {
    chain::line_hash(line.as_bytes())
}

/// `plan --phase 1` journaled by the real binary: a chained journal.
fn planned() -> (Change, Vec<String>) {
    let c = Change::new();
    c.ok(&["plan", "--phase", "1"]);
    let original = lines(&c);
    assert!(original.len() >= 4, "{original:#?}");
    let first: Value = serde_json::from_str(&original[0]).unwrap();
    assert_eq!(first["event"], "journal_opened");
    assert_eq!(first["prev"], chain::genesis("CHG-RUN"));
    let config = std::fs::read(c.tb.workdir().join("phasegate.yml")).unwrap();
    assert_eq!(
        first["config_digest"],
        chain::line_hash(&config),
        "the journal is opened under the config's sha256"
    );
    (c, original)
}

#[test]
fn a_deleted_edited_or_reordered_line_is_refused_by_every_reading_command() {
    let (c, original) = planned();
    c.ok(&["status"]);

    // Line 3 deleted: line 4 (now 3) names line 3's hash, not line 2's.
    let mut deleted = original.clone();
    deleted.remove(2);
    write_lines(&c, &deleted);
    let expected = format!(
        "journal line 3: the chain is broken: line 2 as stored hashes to {}, but line 3 names {} as the line before it",
        hash(&original[1]),
        hash(&original[2])
    );
    for args in [
        &["status"][..],
        &["apply", "--phase", "1"],
        &["plan", "--phase", "1"],
        &["review", "--phase", "1"],
        &["journal", "verify"],
    ] {
        let out = c.refused(args);
        let shown = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(shown.contains(&expected), "{args:?}:\n{shown}");
    }
    assert_eq!(
        lines(&c),
        deleted,
        "nothing was appended to a broken journal"
    );

    // Line 2 edited (its digest changed): line 3's link names the original.
    let mut edited = original.clone();
    let digest = serde_json::from_str::<Value>(&edited[1]).unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    edited[1] = edited[1].replace(&digest, &"0".repeat(64));
    assert_ne!(edited[1], original[1]);
    write_lines(&c, &edited);
    let out = c.refused(&["status"]);
    assert!(
        stderr(&out).contains(&format!(
            "journal line 3: the chain is broken: line 2 as stored hashes to {}",
            hash(&edited[1])
        )),
        "{}",
        describe(&out)
    );

    // Lines 2 and 3 swapped.
    let mut swapped = original.clone();
    swapped.swap(1, 2);
    write_lines(&c, &swapped);
    let out = c.refused(&["status"]);
    assert!(
        stderr(&out).contains(&format!(
            "journal line 2: the chain is broken: line 1 as stored hashes to {}, but line 2 names {}",
            hash(&original[0]),
            hash(&original[1])
        )),
        "{}",
        describe(&out)
    );

    // The first line removed: the chain no longer starts at the genesis.
    write_lines(&c, &original[1..]);
    let out = c.refused(&["status"]);
    assert!(
        stderr(&out).contains(&format!(
            "journal line 1: the chain is broken: the first line must name {}",
            chain::genesis("CHG-RUN")
        )),
        "{}",
        describe(&out)
    );

    // A journal without a chain (as written before chaining) is refused.
    let unchained: Vec<String> = original
        .iter()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("prev");
            v.to_string()
        })
        .collect();
    write_lines(&c, &unchained);
    let out = c.refused(&["status"]);
    assert!(
        stderr(&out).contains("journal line 1 carries no chain link (`prev`"),
        "{}",
        describe(&out)
    );

    // An invalid line in the middle stays an error.
    let mut garbled = original.clone();
    garbled[2] = garbled[2][..20].to_owned();
    write_lines(&c, &garbled);
    let out = c.refused(&["status"]);
    assert!(
        stderr(&out).contains("journal line 3: "),
        "{}",
        describe(&out)
    );

    // Restored, everything reads again.
    write_lines(&c, &original);
    c.ok(&["status"]);
}

#[test]
fn a_torn_last_line_is_set_aside_with_a_warning_and_journaled_by_the_next_append() {
    let (c, original) = planned();
    let path = c.store.join(JOURNAL);
    let mut bytes = std::fs::read(&path).unwrap();
    let torn = br#"{"time":"2030-01-01T00:00:00Z","run":{},"actor":"ci","chan"#;
    bytes.extend_from_slice(torn);
    std::fs::write(&path, &bytes).unwrap();
    let sha = chain::line_hash(torn);
    let torn_line = original.len() + 1;

    // Reading tolerates it, with a warning.
    let out = c.ok(&["status"]);
    assert!(
        stderr(&out).contains(&format!(
            "journal of change CHG-RUN: line {torn_line} is torn ({} bytes without a newline, not JSON, sha256 {sha})",
            torn.len()
        )),
        "{}",
        describe(&out)
    );
    let verify = c.ok(&["journal", "verify", "--format", "json"]);
    let report: Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(report["intact"], true, "{report:#}");
    assert_eq!(
        report["torn"],
        json!({"line": torn_line, "length": torn.len(), "sha256": sha})
    );
    assert_eq!(report["events"], original.len());

    // The next append drops the torn bytes, journals them and links on
    // from the last good line.
    let out = c.ok(&["plan", "--phase", "1"]);
    assert!(
        stderr(&out).contains("journaled as torn_line_set_aside"),
        "{}",
        describe(&out)
    );
    let after = lines(&c);
    assert_eq!(after[..original.len()], original[..]);
    let note: Value = serde_json::from_str(&after[original.len()]).unwrap();
    assert_eq!(note["event"], "torn_line_set_aside");
    assert_eq!(note["step"], "journal");
    assert_eq!(
        (&note["line"], &note["length"], &note["sha256"]),
        (&json!(torn_line), &json!(torn.len()), &json!(sha))
    );
    assert_eq!(note["prev"], hash(original.last().unwrap()));
    assert!(!after
        .iter()
        .any(|l| l.contains("\"chan\n") || l.ends_with("\"chan")));
    let verify = c.ok(&["journal", "verify", "--format", "json"]);
    let report: Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(
        (&report["intact"], &report["torn"]),
        (&json!(true), &Value::Null)
    );
    assert!(report["events"].as_u64().unwrap() > original.len() as u64 + 1);
    // The set-aside note folds into nothing: the plan stands.
    assert_eq!(c.next(), "phasegate apply --phase 1");
}

#[test]
fn journal_verify_prints_the_chain_and_doctor_runs_it() {
    let (c, original) = planned();
    let out = c.ok(&["journal", "verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let head = hash(original.last().unwrap());
    let config = chain::line_hash(&std::fs::read(c.tb.workdir().join("phasegate.yml")).unwrap());
    for want in [
        format!(
            "journal of change CHG-RUN: {JOURNAL} in the local store {}",
            c.store.display()
        ),
        format!("  events:    {} (head sha256 {head})", original.len()),
        format!("  opened:    under config sha256 {config}"),
        "  chain:     intact, every line names the one before it".into(),
        "  torn line: none".into(),
        "  history:   none in a local store; a dropped last line is not detectable here".into(),
        "journal intact".into(),
    ] {
        assert!(text.contains(&want), "missing {want:?} in:\n{text}");
    }
    // Another change's journal, by id: none yet.
    let other = c.ok(&["journal", "verify", "--change-id", "CHG-OTHER"]);
    assert!(String::from_utf8_lossy(&other.stdout).contains("no journal yet"));

    let doctor = c.run(&["doctor"], &[]);
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        text.contains(&format!(
            "ok   journal of change CHG-RUN: {} events, chain intact to head {}",
            original.len(),
            &head[..12]
        )),
        "{}",
        describe(&doctor)
    );

    let mut deleted = original.clone();
    deleted.remove(1);
    write_lines(&c, &deleted);
    let out = c.refused(&["journal", "verify", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["intact"], false);
    assert_eq!(report["broken"]["line"], 2);
    assert_eq!(report["events"], 1, "the events before the break");
    assert_eq!(report["head"], hash(&original[0]));
    let doctor = c.run(&["doctor"], &[]);
    assert_eq!(doctor.status.code(), Some(1));
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        text.contains("FAIL journal of change CHG-RUN: journal line 2: the chain is broken"),
        "{}",
        describe(&doctor)
    );
    assert!(
        text.contains("fix: `phasegate journal verify` shows the chain and the first broken link"),
        "{text}"
    );
}

// The `github` store: the ref's witness and history.

const TOKEN: &str = "ghs_journalChainWitness0123456789";
const REF: &str = "phasegate/changes/CHG-RUN/journal.jsonl";
const WITNESS: &str = "phasegate-witness/changes/CHG-RUN/journal.jsonl";

fn hub() -> FakeHub {
    let hub = FakeHub::start();
    hub.add_repo("acme", "infra");
    hub.add_token(TOKEN, "", TokenKind::Installation, &[("contents", "write")]);
    hub
}

fn forge(hub: &FakeHub) -> OctoForge {
    OctoForge::new(&ForgeConfig {
        api_url: hub.url().to_owned(),
        graphql_url: None,
        token: TOKEN.to_owned(),
        retry: RetryPolicy::fast(),
    })
    .unwrap()
}

fn repo() -> RepoRef {
    RepoRef::new("acme", "infra")
}

fn store(hub: &FakeHub) -> GitRefStore<OctoForge> {
    GitRefStore::new(forge(hub), repo())
}

fn event(n: usize) -> Event {
    serde_json::from_value(json!({
        "time": format!("2030-01-01T00:00:{n:02}Z"), "run": {"id": 7}, "actor": "ci",
        "change": "CHG-RUN", "phase": "dev", "project": "app", "step": "plan",
        "digest": format!("{n:064}"), "event": "step_started",
    }))
    .unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Five appends through the runner, one commit each; returns the commits,
/// oldest first, and what each holds.
async fn five_appends(hub: &FakeHub) -> Vec<(String, Vec<u8>)> {
    let s = store(hub);
    let mut versions = vec![];
    for n in 0..5 {
        runner::append(&s, "CHG-RUN", &[event(n)]).await.unwrap();
        let commit = hub.git_ref("acme", "infra", REF).unwrap();
        assert_eq!(hub.git_ref("acme", "infra", WITNESS), Some(commit.clone()));
        let bytes = store(hub).read(JOURNAL).await.unwrap().unwrap().bytes;
        versions.push((commit, bytes));
    }
    versions
}

/// A commit holding `bytes` as the journal, on `parents`, made as anyone
/// with `contents: write` could.
async fn commit(hub: &FakeHub, bytes: &[u8], parents: &[String]) -> String {
    let f = forge(hub);
    let blob = f.create_blob(&repo(), bytes).await.unwrap();
    let entry = TreeEntry {
        path: "journal.jsonl".into(),
        mode: "100644".into(),
        kind: "blob".into(),
        sha: blob,
    };
    let tree = f.create_tree(&repo(), &[entry]).await.unwrap();
    f.create_commit(&repo(), "rewritten", &tree, parents)
        .await
        .unwrap()
}

/// The journal of `versions[keep]` with events 3 and 4 appended again,
/// re-chained: event 2 dropped without breaking the chain.
fn rechained_without_event_2(versions: &[(String, Vec<u8>)]) -> Vec<u8> {
    let base = &versions[1].1; // opened, event 0, event 1
    let forged = append_line(Some(base), "CHG-RUN", &[event(3), event(4)]).unwrap();
    let j = chain::read(&forged, "CHG-RUN").expect("the chain alone cannot tell");
    assert_eq!(j.events.len(), 5);
    forged
}

fn refusal(e: phasegate::Error) -> String {
    assert!(matches!(e, phasegate::Error::Refused(_)), "{e:?}");
    e.to_string()
}

#[test]
fn a_force_pushed_ref_that_drops_an_event_is_refused_until_restored() {
    let hub = hub();
    let rt = rt();
    rt.block_on(async {
        let versions = five_appends(&hub).await;
        let (head, _) = versions[4].clone();
        let forged = rechained_without_event_2(&versions);
        let x = commit(&hub, &forged, &[versions[1].0.clone()]).await;
        hub.set_ref("acme", "infra", REF, &x); // git push --force

        let s = store(&hub);
        let e = refusal(runner::read_journal(&s, "CHG-RUN").await.unwrap_err());
        assert!(e.contains(&format!("changes/CHG-RUN/journal.jsonl was rewritten outside phasegate: refs/{REF} points at {x}, but phasegate last wrote commit {head} (its witness, refs/{WITNESS})")), "{e}");
        assert!(e.contains("the ref was reset or force-pushed"), "{e}");
        assert!(e.contains(&format!("`git push --force origin {head}:refs/{REF}`")), "{e}");
        // Nothing is appended on top of the rewrite either.
        refusal(runner::append(&s, "CHG-RUN", &[event(9)]).await.unwrap_err());
        assert_eq!(hub.git_ref("acme", "infra", REF), Some(x.clone()));

        // A ref reset to an older commit (the tail dropped) likewise.
        hub.set_ref("acme", "infra", REF, &versions[2].0);
        let e = refusal(runner::read_journal(&s, "CHG-RUN").await.unwrap_err());
        assert!(e.contains("reset or force-pushed"), "{e}");
        assert!(chain::read(&versions[2].1, "CHG-RUN").is_ok(), "a truncated tail still chains");

        // Restored as the message says: everything is there again.
        hub.set_ref("acme", "infra", REF, &head);
        let events = runner::read_journal(&s, "CHG-RUN").await.unwrap();
        assert_eq!(events.len(), 6);
    });
    assert!(hub.violations().is_empty(), "{:?}", hub.violations());
}

#[test]
fn a_fast_forward_that_drops_a_line_is_refused_and_the_history_names_it() {
    let hub = hub();
    let rt = rt();
    rt.block_on(async {
        let versions = five_appends(&hub).await;
        let (head, _) = versions[4].clone();
        let forged = rechained_without_event_2(&versions);
        // On top of the real head: a fast-forward, no force needed.
        let x = commit(&hub, &forged, std::slice::from_ref(&head)).await;
        assert!(forge(&hub).update_ref(&repo(), REF, &x).await.is_ok());
        let s = store(&hub);
        let e = refusal(runner::read_journal(&s, "CHG-RUN").await.unwrap_err());
        assert!(e.contains("line 4 of what it wrote is missing or changed"), "{e}");

        // Whoever also moves the witness (a fast-forward too) gets past the
        // read; the history, read back by `journal verify`, still shows it.
        hub.set_ref("acme", "infra", WITNESS, &x);
        assert_eq!(runner::read_journal(&s, "CHG-RUN").await.unwrap().len(), 5);
        let h = s.history(JOURNAL, 100).await.unwrap();
        assert!(h.complete && h.witness_problem.is_none());
        assert_eq!(h.versions.len(), 6);
        assert_eq!(
            h.rewrite.as_deref(),
            Some(format!("commit {x} does not extend its parent {head}: line 4 of the parent is missing or changed").as_str())
        );
    });
}

#[test]
fn a_lagging_witness_is_found_and_caught_up() {
    let hub = hub();
    let rt = rt();
    rt.block_on(async {
        let versions = five_appends(&hub).await;
        // A writer died after moving the ref, before moving the witness.
        hub.set_ref("acme", "infra", WITNESS, &versions[2].0);
        let s = store(&hub);
        assert_eq!(runner::read_journal(&s, "CHG-RUN").await.unwrap().len(), 6);
        let h = s.history(JOURNAL, 100).await.unwrap();
        assert_eq!((h.witness_problem, h.rewrite), (None, None));
        runner::append(&s, "CHG-RUN", &[event(5)]).await.unwrap();
        let head = hub.git_ref("acme", "infra", REF);
        assert_eq!(hub.git_ref("acme", "infra", WITNESS), head);
    });
}

/// The limit, stated as a test so it stays true: rewriting the ref and its
/// witness alike, into a history where each commit extends its parent and
/// the chain is recomputed, is not detected. Only a record outside the
/// repository's refs could catch it (docs/journal.md).
#[test]
fn rewriting_both_refs_into_a_consistent_history_goes_unnoticed() {
    let hub = hub();
    let rt = rt();
    rt.block_on(async {
        let versions = five_appends(&hub).await;
        let forged = rechained_without_event_2(&versions);
        let x = commit(&hub, &forged, &[versions[1].0.clone()]).await;
        hub.set_ref("acme", "infra", REF, &x);
        hub.set_ref("acme", "infra", WITNESS, &x);
        let s = store(&hub);
        assert_eq!(runner::read_journal(&s, "CHG-RUN").await.unwrap().len(), 5);
        let h = s.history(JOURNAL, 100).await.unwrap();
        assert_eq!((h.witness_problem, h.rewrite), (None, None));
    });
}

#[test]
fn journal_verify_and_status_refuse_a_force_pushed_github_journal() {
    let hub = hub();
    let tb = Testbed::new("tests/fixtures/runner/two-env");
    let config = tb.workdir().join("phasegate.yml");
    let yaml = std::fs::read_to_string(&config).unwrap() + "store:\n  backend: github\n";
    std::fs::write(&config, yaml).unwrap();
    let (head, x) = rt().block_on(async {
        let versions = five_appends(&hub).await;
        let forged = rechained_without_event_2(&versions);
        let x = commit(&hub, &forged, &[versions[1].0.clone()]).await;
        (versions[4].0.clone(), x)
    });
    let run = |args: &[&str]| {
        tb.command(env!("CARGO_BIN_EXE_phasegate"))
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("PHASEGATE_STORE_DIR")
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_REPOSITORY", "acme/infra")
            .env("GITHUB_API_URL", hub.url())
            .args(["--config", "phasegate.yml", "--change", "change.yml"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["journal", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "  witness:   refs/{WITNESS} at {head}, the ref's head"
        )),
        "{text}"
    );
    assert!(
        text.contains("  history:   all 5 commits read back, each extends its parent"),
        "{text}"
    );

    hub.set_ref("acme", "infra", REF, &x);
    let out = run(&["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr(&out).contains("was rewritten outside phasegate"),
        "{}",
        describe(&out)
    );
    let out = run(&["journal", "verify", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["intact"], false);
    assert_eq!(
        report["broken"],
        Value::Null,
        "the chain alone holds: {report:#}"
    );
    let problem = report["history"]["witness_problem"].as_str().unwrap();
    assert!(
        problem.contains(&format!("phasegate last wrote commit {head}")),
        "{problem}"
    );
}

/// A journal of `n` events (and its opening line), as lines.
fn chained(n: usize) -> Vec<String> {
    let events: Vec<Event> = (0..n).map(event).collect();
    let bytes = append_line(None, "CHG-RUN", &events).unwrap();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn first_break(lines: &[String]) -> Option<usize> {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    match chain::read(text.as_bytes(), "CHG-RUN") {
        Ok(_) => None,
        Err(phasegate::journal::JournalError::Broken(b)) => Some(b.line),
        Err(e) => panic!("not a broken link: {e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_deleted_or_swapped_line_but_the_last_breaks_the_chain_where_it_happened(
        n in 2..12usize,
        picks in (0usize..64, 0usize..64),
    ) {
        let lines = chained(n);
        let count = lines.len();
        // Deleting line i + 1 (not the last) breaks the link of the line
        // that moves up into its place.
        let i = picks.0 % (count - 1);
        let mut deleted = lines.clone();
        deleted.remove(i);
        prop_assert_eq!(first_break(&deleted), Some(i + 1));
        // Swapping lines i + 1 and j + 1 breaks at line i + 1.
        let j = i + 1 + picks.1 % (count - i - 1);
        let mut swapped = lines.clone();
        swapped.swap(i, j);
        prop_assert_eq!(first_break(&swapped), Some(i + 1));
        // Dropping the last line is what the chain alone cannot see.
        prop_assert_eq!(first_break(&lines[..count - 1]), None);
    }

    #[test]
    fn any_bytes_are_inspected_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let found = chain::inspect(&bytes, "CHG-RUN");
        prop_assert!(found.journal.good_len <= bytes.len());
    }
}
