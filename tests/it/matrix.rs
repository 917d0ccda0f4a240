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

/// A repository with a root module per environment directory (`infra/dev`,
/// `infra/prod`, each deployed to its own environment) and `dns`, deployed
/// everywhere; committed once on `main`.
fn per_environment_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |file: &str, text: &str| {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "phasegate.yml",
        "version: 1\nenvironments:\n  - name: dev\n  - name: staging\n  - name: prod\nprojects:\n  - name: dev\n    dir: infra/dev\n    environments: [dev]\n  - name: prod\n    dir: infra/prod\n    environments: [prod]\n  - name: dns\n    dir: dns\n",
    );
    for d in ["infra/dev", "infra/prod", "dns"] {
        write(
            &format!("{d}/main.tf"),
            "resource \"null_resource\" \"x\" {}\n",
        );
    }
    git(dir.path(), &["init", "-q", "-b", "main", "."]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "base"]);
    dir
}

fn matrix_with_outputs(dir: &std::path::Path, args: &[&str]) -> (std::process::Output, String) {
    let outputs = dir.join("github_output");
    let _ = std::fs::remove_file(&outputs);
    let out = std::process::Command::new(crate::workflows::PHASEGATE)
        .current_dir(dir)
        .env_remove("GITHUB_EVENT_PATH")
        .env("GITHUB_OUTPUT", &outputs)
        .arg("matrix")
        .args(args)
        .output()
        .unwrap();
    let written = std::fs::read_to_string(outputs).unwrap_or_default();
    (out, written)
}

#[test]
fn by_env_gives_each_environment_the_changed_projects_deployed_to_it() {
    let dir = per_environment_repo();
    change_and_commit(dir.path(), "infra/dev/main.tf");
    change_and_commit(dir.path(), "dns/main.tf");
    let (out, written) = matrix_with_outputs(dir.path(), &["--base", "HEAD~2", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The flat matrix is unchanged: every changed project, once.
    let flat = r#"{"include":[{"project":"dev"},{"project":"dns"}]}"#;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), flat);
    assert!(written.contains(&format!("matrix={flat}\n")), "{written}");
    let by_env = concat!(
        r#"{"dev":{"include":[{"project":"dev"},{"project":"dns"}]},"#,
        r#""staging":{"include":[{"project":"dns"}]},"#,
        r#""prod":{"include":[{"project":"dns"}]}}"#
    );
    assert!(written.contains(&format!("by_env={by_env}\n")), "{written}");

    let (out, _) =
        matrix_with_outputs(dir.path(), &["--base", "HEAD~2", "--format", "by-env-json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), by_env);
}

#[test]
fn an_environment_none_of_whose_projects_changed_gets_an_empty_matrix() {
    let dir = per_environment_repo();
    change_and_commit(dir.path(), "infra/prod/main.tf");
    let (out, written) = matrix_with_outputs(dir.path(), &["--base", "HEAD~1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "prod");
    let by_env = r#"{"dev":{"include":[]},"staging":{"include":[]},"prod":{"include":[{"project":"prod"}]}}"#;
    assert!(written.contains(&format!("by_env={by_env}\n")), "{written}");
}

#[test]
fn outside_actions_the_base_is_where_head_left_the_default_branch() {
    let dir = per_environment_repo();
    git(dir.path(), &["checkout", "-q", "-b", "feature"]);
    change_and_commit(dir.path(), "dns/main.tf");
    change_and_commit(dir.path(), "infra/dev/main.tf");
    let out = phasegate(dir.path(), &["matrix"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "dev\ndns");
}

#[test]
fn the_remote_default_branch_is_preferred_to_the_local_one() {
    // Commits made on `main` itself and not pushed: the local branch is
    // HEAD, so only `origin/main` tells what changed.
    let dir = per_environment_repo();
    git(
        dir.path(),
        &["update-ref", "refs/remotes/origin/main", "HEAD"],
    );
    change_and_commit(dir.path(), "infra/prod/main.tf");
    let out = phasegate(dir.path(), &["matrix"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "prod");
}

#[test]
fn without_a_base_anywhere_matrix_is_bad_input_saying_so() {
    let dir = per_environment_repo();
    let config = dir.path().join("phasegate.yml");
    let mut text_before = std::fs::read_to_string(&config).unwrap();
    text_before.push_str("workflows:\n  default_branch: trunk\n");
    std::fs::write(&config, text_before).unwrap();
    let out = phasegate(dir.path(), &["matrix"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no base commit") && stderr.contains("origin/trunk"),
        "{stderr}"
    );
    assert!(stderr.contains("--base"), "{stderr}");
}

/// Terragrunt units `live/<env>/app` over one local module.
fn terragrunt_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |file: &str, text: &str| {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "phasegate.yml",
        "version: 1\nengine:\n  kind: terragrunt\nenvironments:\n  - name: dev\n  - name: prod\nprojects:\n  - name: dev-app\n    dir: live/dev/app\n    environments: [dev]\n  - name: prod-app\n    dir: live/prod/app\n    environments: [prod]\n",
    );
    for env in ["dev", "prod"] {
        write(
            &format!("live/{env}/app/terragrunt.hcl"),
            "terraform {\n  source = \"../../../modules//app\"\n}\n",
        );
    }
    write(
        "modules/app/main.tf",
        "resource \"null_resource\" \"x\" {}\n",
    );
    git(dir.path(), &["init", "-q", "-b", "main", "."]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "base"]);
    dir
}

#[test]
fn a_module_a_terragrunt_unit_sources_changes_the_unit() {
    let dir = terragrunt_repo();
    change_and_commit(dir.path(), "modules/app/main.tf");
    let (out, written) = matrix_with_outputs(dir.path(), &["--base", "HEAD~1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "dev-app\nprod-app"
    );
    assert!(
        written.contains(r#"by_env={"dev":{"include":[{"project":"dev-app"}]},"prod":{"include":[{"project":"prod-app"}]}}"#),
        "{written}"
    );

    change_and_commit(dir.path(), "live/prod/app/terragrunt.hcl");
    let out = phasegate(dir.path(), &["matrix", "--base", "HEAD~1"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "prod-app");
}

#[test]
fn by_level_splits_each_environment_by_dependency_level() {
    let dir = per_environment_repo();
    // dns runs after the per-environment project of each environment.
    let config = dir.path().join("phasegate.yml");
    let text_before = std::fs::read_to_string(&config).unwrap();
    let ordered = text_before.replace(
        "  - name: dns\n    dir: dns\n",
        "  - name: dns\n    dir: dns\n    depends_on: [dev, prod]\n",
    );
    assert_ne!(text_before, ordered);
    std::fs::write(&config, ordered).unwrap();
    git(dir.path(), &["commit", "-q", "-am", "order"]);
    change_and_commit(dir.path(), "infra/dev/main.tf");
    let (out, written) = matrix_with_outputs(
        dir.path(),
        &["--base", "HEAD~1", "--format", "by-level-json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // dev changed, so dns (after it) changed too: level 0 then level 1 in
    // dev; staging and prod only dns, at level 1, with nothing at level 0.
    let by_level = concat!(
        r#"{"dev":[{"include":[{"project":"dev"}]},{"include":[{"project":"dns"}]}],"#,
        r#""staging":[{"include":[]},{"include":[{"project":"dns"}]}],"#,
        r#""prod":[{"include":[]},{"include":[{"project":"dns"}]}]}"#
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), by_level);
    assert!(
        written.contains(&format!("by_level={by_level}\n")),
        "{written}"
    );
    // by_env is as without the order.
    let by_env = concat!(
        r#"{"dev":{"include":[{"project":"dev"},{"project":"dns"}]},"#,
        r#""staging":{"include":[{"project":"dns"}]},"#,
        r#""prod":{"include":[{"project":"dns"}]}}"#
    );
    assert!(written.contains(&format!("by_env={by_env}\n")), "{written}");
}
