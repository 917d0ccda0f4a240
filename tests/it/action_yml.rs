//! `action.yml` and its installer: the release binary is verified against
//! the release's SHA256SUMS before anything runs it, a mismatching binary is
//! refused and removed, and the action itself passes actionlint, zizmor and
//! SchemaStore's `github-action` schema. The release is a fake directory,
//! read as a directory or served over plain http from 127.0.0.1 (the only
//! hosts plain http may name are loopback ones), so nothing touches the
//! network.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::loopback::{HttpServer, Reply};
use crate::workflows::{lint_workflows, repo, text, tool};

const ASSET: &str = "phasegate-x86_64-unknown-linux-musl";

/// A fake release: a "binary" that leaves a marker file when it is run, and
/// a SHA256SUMS naming `sum` for it.
fn fake_release(dir: &Path, marker: &Path, sum: Option<&str>) -> PathBuf {
    let release = dir.join("release");
    std::fs::create_dir_all(&release).unwrap();
    let body = format!("#!/bin/sh\necho ran > '{}'\n", marker.display());
    std::fs::write(release.join(ASSET), &body).unwrap();
    let real = hex::encode(Sha256::digest(body.as_bytes()));
    let listed = sum.map(str::to_string).unwrap_or(real);
    std::fs::write(
        release.join("SHA256SUMS"),
        format!(
            "{}  phasegate-aarch64-apple-darwin\n{listed}  {ASSET}\n",
            "0".repeat(64)
        ),
    )
    .unwrap();
    release
}

fn install(release: impl AsRef<std::ffi::OsStr>, install_dir: &Path) -> Output {
    Command::new("bash")
        .arg(repo().join("scripts/action-install.sh"))
        .env("PHASEGATE_VERSION", "9.9.9")
        .env("PHASEGATE_BASE_URL", release)
        .env("PHASEGATE_INSTALL_DIR", install_dir)
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env_remove("GITHUB_PATH")
        .output()
        .unwrap()
}

#[test]
fn install_verifies_the_checksum_before_anything_runs_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let release = fake_release(dir.path(), &marker, None);
    let target = dir.path().join("install");
    let out = install(&release, &target);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert_eq!(bin, target.join("phasegate"));
    assert!(!marker.exists(), "installing never runs the binary");
    let ran = Command::new(&bin).output().unwrap();
    assert!(
        ran.status.success() && marker.exists(),
        "the verified binary runs"
    );
}

#[test]
fn a_binary_whose_checksum_does_not_match_is_refused_and_never_installed() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let release = fake_release(dir.path(), &marker, Some(&"ab".repeat(32)));
    let target = dir.path().join("install");
    let out = install(&release, &target);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"),
        "{}",
        text(&out)
    );
    assert!(!target.join("phasegate").exists(), "nothing is left to run");
    assert!(
        std::fs::read_dir(&target).unwrap().next().is_none(),
        "no partial download left"
    );
    assert!(!marker.exists());
}

#[test]
fn a_tampered_cached_binary_is_replaced_by_the_verified_one() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let release = fake_release(dir.path(), &marker, None);
    let target = dir.path().join("install");
    assert_eq!(install(&release, &target).status.code(), Some(0));
    let good = std::fs::read(target.join("phasegate")).unwrap();
    std::fs::write(target.join("phasegate"), "#!/bin/sh\necho evil\n").unwrap();
    let out = install(&release, &target);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(std::fs::read(target.join("phasegate")).unwrap(), good);
}

/// The fake release served over plain http on 127.0.0.1 under `/rel/`.
fn served_release(release: &Path) -> HttpServer {
    let files: Vec<(String, String)> = ["SHA256SUMS", ASSET]
        .iter()
        .map(|f| {
            let body = std::fs::read_to_string(release.join(f)).unwrap();
            (format!("/rel/{f}"), body)
        })
        .collect();
    HttpServer::start(move |path, _| match files.iter().find(|(p, _)| p == path) {
        Some((_, body)) => Reply::new(200, body),
        None => Reply::new(404, "not found"),
    })
}

#[test]
fn plain_http_is_fetched_from_a_loopback_mirror_and_still_verified() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let release = fake_release(dir.path(), &marker, None);
    let server = served_release(&release);
    for (i, base) in [
        server.url("/rel"),
        format!("http://localhost:{}/rel", server.addr.port()),
    ]
    .iter()
    .enumerate()
    {
        let target = dir.path().join(format!("install-{i}"));
        let out = install(base, &target);
        assert_eq!(out.status.code(), Some(0), "{base}: {}", text(&out));
        assert!(target.join("phasegate").exists(), "{base}");
    }
    assert_eq!(server.hits(&format!("/rel/{ASSET}")), 2);
    assert!(!marker.exists(), "installing never runs the binary");

    // Served over loopback or not, a binary the sums do not name is refused.
    let bad = fake_release(&dir.path().join("bad"), &marker, Some(&"cd".repeat(32)));
    let server = served_release(&bad);
    let target = dir.path().join("install-bad");
    let out = install(server.url("/rel"), &target);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"));
    assert!(!target.join("phasegate").exists());
}

#[test]
fn plain_http_to_any_host_but_loopback_is_refused_before_anything_is_fetched() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let release = fake_release(dir.path(), &marker, None);
    let server = served_release(&release);
    let port = server.addr.port();
    // Each names a host other than this machine, however it is dressed up;
    // none is ever contacted: the refusal comes before any download.
    for base in [
        "http://10.0.0.1/rel".to_string(),
        "http://example.com/rel".to_string(),
        "http://127.0.0.1.example.com/rel".to_string(),
        format!("http://127.0.0.1@example.com:{port}/rel"),
        format!("http://localhost:{port}@example.com/rel"),
        "http://localhost.example.com/rel".to_string(),
        "http://[::2]/rel".to_string(),
        "http://0.0.0.0/rel".to_string(),
    ] {
        let target = dir.path().join("install");
        let out = install(&base, &target);
        assert_eq!(out.status.code(), Some(2), "{base}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("refusing plain http"),
            "{base}: {}",
            text(&out)
        );
        assert!(!target.join("phasegate").exists(), "{base}");
    }
    assert_eq!(server.hits("/rel/SHA256SUMS"), 0, "nothing was fetched");
}

fn action() -> Value {
    let text = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

#[test]
fn action_inputs_reach_scripts_only_through_the_environment() {
    let steps = action()["runs"]["steps"].as_array().unwrap().clone();
    for step in steps {
        if let Some(run) = step["run"].as_str() {
            assert!(
                !run.contains("${{"),
                "expression spliced into a script: {run}"
            );
        }
    }
    let inputs = action()["inputs"].as_object().unwrap().clone();
    for name in [
        "command",
        "phase",
        "env",
        "project",
        "config",
        "change",
        "token",
        "version",
        "working-directory",
        "args",
    ] {
        assert!(inputs.contains_key(name), "input {name}");
    }
    let outputs = action()["outputs"].as_object().unwrap().clone();
    for name in [
        "has_changes",
        "digest",
        "security_verdict",
        "cost_verdict",
        "comment_url",
        "matrix",
    ] {
        assert!(outputs.contains_key(name), "output {name}");
    }
}

/// actionlint checks workflows, not action metadata: the action's steps are
/// linted inside a `workflow_call` workflow declaring the same inputs.
#[test]
fn action_yml_passes_actionlint_zizmor_and_the_action_schema() {
    let a = action();
    let inputs: serde_json::Map<String, Value> = a["inputs"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| (k.clone(), json!({"type": "string", "required": false})))
        .collect();
    let workflow = json!({
        "on": {"workflow_call": {"inputs": inputs}},
        "permissions": {},
        "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": a["runs"]["steps"]}}
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("action-steps.yml");
    std::fs::write(&path, workflow.to_string()).unwrap();
    let out = Command::new(tool("actionlint"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));

    let action_path = repo().join("action.yml");
    let out = Command::new(tool("zizmor"))
        .args(["--offline", "--no-progress"])
        .arg(&action_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = Command::new(tool("check-jsonschema"))
        .args(["--builtin-schema", "vendor.github-actions"])
        .arg(&action_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // The release and CI workflows the action depends on lint clean too.
    lint_workflows(&[repo().join(".github/workflows/release.yml")]);
}
