//! cargo-deny over our own dependency tree, offline: no OpenSSL or native-tls
//! (TLS is rustls only), every licence on the allow list, every crate from
//! crates.io. Advisories need the internet and run in .github/workflows/ci.yml.

use std::process::Command;

use crate::workflows::{repo, text, tool};

fn cargo_deny(config: &std::path::Path, checks: &[&str]) -> std::process::Output {
    Command::new(tool("cargo-deny"))
        .current_dir(repo())
        .args(["--offline", "--locked", "--log-level", "error", "--config"])
        .arg(config)
        .arg("check")
        .args(checks)
        .output()
        .expect("run cargo-deny")
}

#[test]
fn the_dependency_tree_passes_bans_licences_and_sources_offline() {
    let out = cargo_deny(&repo().join("deny.toml"), &["bans", "licenses", "sources"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn deny_toml_bans_openssl_openssl_sys_and_native_tls() {
    let config = std::fs::read_to_string(repo().join("deny.toml")).unwrap();
    for name in ["openssl", "openssl-sys", "native-tls"] {
        assert!(
            config.contains(&format!("{{ crate = \"{name}\"")),
            "deny.toml does not ban {name}"
        );
    }
}

#[test]
fn a_banned_crate_in_the_tree_fails_the_bans_check_and_is_named() {
    // The same config plus a ban on a crate we do use: proves the bans check
    // reads the tree, so the OpenSSL bans would fire if OpenSSL crept in.
    let dir = tempfile::tempdir().unwrap();
    let config = std::fs::read_to_string(repo().join("deny.toml"))
        .unwrap()
        .replace(
            "deny = [\n",
            "deny = [\n  { crate = \"serde_json\", reason = \"test: proves bans fire\" },\n",
        );
    assert!(
        config.contains("test: proves bans fire"),
        "deny.toml's `deny = [` list moved"
    );
    let path = dir.path().join("deny.toml");
    std::fs::write(&path, config).unwrap();
    let out = cargo_deny(&path, &["bans"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("serde_json"), "{}", text(&out));
}
