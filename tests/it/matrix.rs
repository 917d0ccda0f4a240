//! `phasegate matrix`: the changed projects from one `git diff`, following
//! local module calls and `depends_on`, written as a GitHub matrix.

use crate::workflows::{example_repo, git, init, phasegate, text};

fn committed_example() -> tempfile::TempDir {
    let dir = example_repo();
    assert_eq!(init(dir.path(), &[]).status.code(), Some(0));
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "base"]);
    dir
}

fn change_and_commit(dir: &std::path::Path, file: &str) {
    let path = dir.join(file);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n# changed\n");
    std::fs::write(&path, text).unwrap();
    git(dir, &["commit", "-q", "-am", "change"]);
}

#[test]
fn only_a_shared_module_changed_lists_exactly_the_projects_that_use_it() {
    let dir = committed_example();
    change_and_commit(dir.path(), "modules/tags/main.tf");
    let outputs = dir.path().join("github_output");
    let out = std::process::Command::new(crate::workflows::PHASEGATE)
        .current_dir(dir.path())
        .env_remove("GITHUB_EVENT_PATH")
        .env("GITHUB_OUTPUT", &outputs)
        .args([
            "matrix", "--base", "HEAD~1", "--head", "HEAD", "--format", "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let want = r#"{"include":[{"project":"app"},{"project":"network"}]}"#;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want);
    let written = std::fs::read_to_string(outputs).unwrap();
    assert!(written.contains(&format!("matrix={want}\n")), "{written}");
    assert!(written.contains("count=2\n"), "{written}");
}

#[test]
fn a_change_inside_one_project_lists_only_that_project() {
    let dir = committed_example();
    change_and_commit(dir.path(), "dns/main.tf");
    let out = phasegate(
        dir.path(),
        &["matrix", "--base", "HEAD~1", "--head", "HEAD"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "dns");
}

#[test]
fn base_and_head_come_from_the_pull_request_event() {
    let dir = committed_example();
    change_and_commit(dir.path(), "network/dev.tfvars");
    let sha = |r: &str| {
        let o = std::process::Command::new("git")
            .current_dir(dir.path())
            .args(["rev-parse", r])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        serde_json::json!({"pull_request": {"base": {"sha": sha("HEAD~1")}, "head": {"sha": sha("HEAD")}}}).to_string(),
    )
    .unwrap();
    let out = std::process::Command::new(crate::workflows::PHASEGATE)
        .current_dir(dir.path())
        .env_remove("GITHUB_OUTPUT")
        .env("GITHUB_EVENT_PATH", &event)
        .args(["matrix"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "network");
}
