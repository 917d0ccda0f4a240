//! Test support: a throwaway setup in which the project-local Terraform 1.0.3 runs against
//! testcloud (our `hashicorp/aws` stand-in) with no network, no `~/.terraformrc` and none of the
//! machine's `TF_*` settings.
//!
//! Layout of one testbed, all under one temporary directory:
//! ```text
//! <tmp>/terraformrc        CLI config: filesystem mirror for hashicorp/aws, plugin cache
//! <tmp>/mirror/registry.terraform.io/hashicorp/aws/<PROVIDER_VERSION>/linux_amd64/terraform-provider-aws_v<PROVIDER_VERSION>
//! <tmp>/plugin-cache/
//! <tmp>/cloud/<type>/<id>.json   the emulated cloud (TESTCLOUD_DIR)
//! <tmp>/work/              a copy of the fixture root module; `.terraform/` lands here
//! ```
//! Child processes (Terraform itself, or the phasegate binary driving it) get the settings from
//! [`Testbed::env`] or, with every inherited `TF_*` variable removed, from [`Testbed::command`].
#![allow(dead_code)] // Each test module uses a different part of this toolbox.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Map, Value};
use tempfile::TempDir;

/// The version testcloud is served as; it satisfies constraints such as `~> 5.0` and `>= 4.0`.
pub const PROVIDER_VERSION: &str = "5.0.0";
/// The provider address testcloud answers for.
pub const PROVIDER_SOURCE: &str = "registry.terraform.io/hashicorp/aws";
/// The default of the fixtures' sensitive `db_password` variable: it must never leak.
pub const CANARY_PASSWORD: &str = "canary-S3cr3t-do-not-print";

/// Subcommands that accept `-no-color`.
const COLORED: &[&str] = &[
    "init", "plan", "apply", "show", "validate", "destroy", "refresh", "output",
];

pub struct Testbed {
    // Declared first so the directory outlives nothing that points into it.
    root: TempDir,
    terraform: PathBuf,
    workdir: PathBuf,
    cloud_dir: PathBuf,
    cli_config: PathBuf,
}

/// The repository root (where Cargo.toml and `.tools/` live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The project-local Terraform, or a panic saying how to install it. Tests never skip silently.
pub fn terraform_binary() -> PathBuf {
    terraform_binary_in(&repo_root())
}

fn terraform_binary_in(repo: &Path) -> PathBuf {
    let path = repo.join(".tools/bin/terraform");
    if !path.is_file() {
        panic!(
            "Terraform is not installed at {}: run scripts/install-test-deps.sh (it installs \
             Terraform 1.0.3 into .tools/) and re-run the tests",
            path.display()
        );
    }
    path
}

/// The built testcloud provider, or a panic saying how to build it.
pub fn provider_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                repo_root().join(dir)
            }
        })
        .unwrap_or_else(|| repo_root().join("target"));
    let path = target.join("debug/terraform-provider-aws");
    if !path.is_file() {
        panic!(
            "the testcloud provider is not built at {}: run `cargo build -p terraform-provider-aws` \
             before the tests",
            path.display()
        );
    }
    path
}

impl Testbed {
    /// A fresh testbed whose work directory is a copy of `fixture_dir` (absolute, or relative to
    /// the repository root, e.g. `tests/fixtures/testcloud/stack`).
    pub fn new(fixture_dir: impl AsRef<Path>) -> Testbed {
        let fixture = repo_root().join(fixture_dir.as_ref());
        assert!(
            fixture.is_dir(),
            "fixture root module {} does not exist",
            fixture.display()
        );
        let terraform = terraform_binary();
        let provider = provider_binary();
        let root = tempfile::Builder::new()
            .prefix("testbed-")
            .tempdir()
            .expect("create the testbed's temporary directory");

        let mirror = root.path().join("mirror");
        let platform_dir = mirror
            .join(PROVIDER_SOURCE)
            .join(PROVIDER_VERSION)
            .join("linux_amd64");
        fs::create_dir_all(&platform_dir).expect("create the provider mirror");
        let installed = platform_dir.join(format!("terraform-provider-aws_v{PROVIDER_VERSION}"));
        // A hard link is free; across filesystems fall back to a copy.
        if fs::hard_link(&provider, &installed).is_err() {
            fs::copy(&provider, &installed)
                .unwrap_or_else(|e| panic!("copy {} into the mirror: {e}", provider.display()));
        }

        let cache = root.path().join("plugin-cache");
        let cloud_dir = root.path().join("cloud");
        let workdir = root.path().join("work");
        for dir in [&cache, &cloud_dir, &workdir] {
            fs::create_dir_all(dir).expect("create a testbed directory");
        }
        let cli_config = root.path().join("terraformrc");
        fs::write(&cli_config, cli_config_text(&mirror, &cache)).expect("write the CLI config");
        copy_module(&fixture, &workdir);

        Testbed {
            root,
            terraform,
            workdir,
            cloud_dir,
            cli_config,
        }
    }

    pub fn terraform_path(&self) -> &Path {
        &self.terraform
    }

    /// The root module's copy, where Terraform runs.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// The emulated cloud's directory (`TESTCLOUD_DIR`).
    pub fn cloud_dir(&self) -> &Path {
        &self.cloud_dir
    }

    pub fn cli_config_path(&self) -> &Path {
        &self.cli_config
    }

    /// The environment a child process needs to run this testbed's Terraform. PATH is left
    /// alone: pass [`Testbed::terraform_path`] explicitly. Remove inherited `TF_*` variables
    /// too (the machine sets its own `TF_CLI_CONFIG_FILE`); [`Testbed::command`] does both.
    pub fn env(&self) -> Vec<(String, String)> {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        vec![
            ("TF_CLI_CONFIG_FILE".into(), path(&self.cli_config)),
            ("TF_IN_AUTOMATION".into(), "1".into()),
            ("TF_INPUT".into(), "0".into()),
            ("CHECKPOINT_DISABLE".into(), "1".into()),
            ("TESTCLOUD_DIR".into(), path(&self.cloud_dir)),
        ]
    }

    /// `PATH` with the project-local Terraform's directory first, for a child that looks
    /// `terraform` up on PATH (the machine has a newer one in /usr/local/bin). Not part of
    /// [`Testbed::env`]: add it where wanted.
    pub fn path_env(&self) -> (String, String) {
        let dir = self
            .terraform
            .parent()
            .expect("terraform lives in a directory");
        let mut paths = vec![dir.to_path_buf()];
        if let Some(current) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&current));
        }
        let joined = std::env::join_paths(paths).expect("PATH entries hold no separator");
        ("PATH".into(), joined.to_string_lossy().into_owned())
    }

    /// A command for `program`, run in the work directory, with every inherited `TF_*` variable
    /// removed and [`Testbed::env`] set.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("TF_") {
                cmd.env_remove(key);
            }
        }
        cmd.envs(self.env()).current_dir(&self.workdir);
        cmd
    }

    /// A Terraform command with `args`, ready to run; add environment variables before running.
    pub fn terraform_command(&self, args: &[&str]) -> Command {
        assert!(!args.is_empty(), "terraform needs a subcommand");
        let mut cmd = self.command(&self.terraform);
        cmd.arg(args[0]);
        // Only the main commands take -no-color; `state pull` and friends reject it.
        if COLORED.contains(&args[0]) {
            cmd.arg("-no-color");
        }
        cmd.args(&args[1..]);
        cmd
    }

    /// Like [`Testbed::terraform_command`], run in `subdir` of the work directory, for fixtures
    /// that hold a whole repository (e.g. `examples/quickstart`, whose module is `infra/`).
    pub fn terraform_command_in(&self, subdir: &str, args: &[&str]) -> Command {
        let mut cmd = self.terraform_command(args);
        cmd.current_dir(self.workdir.join(subdir));
        cmd
    }

    /// Runs Terraform with `args` (subcommand first) and returns what it did, success or not.
    pub fn terraform(&self, args: &[&str]) -> Output {
        self.terraform_command(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.terraform.display()))
    }

    /// Runs Terraform and panics with its output unless it exits 0.
    pub fn terraform_ok(&self, args: &[&str]) -> Output {
        let out = self.terraform(args);
        assert!(
            out.status.success(),
            "terraform {} failed ({}):\n{}",
            args.join(" "),
            out.status,
            describe(&out)
        );
        out
    }

    pub fn init(&self) {
        self.terraform_ok(&["init", "-input=false"]);
    }

    /// Plans into `planfile` (relative to the work directory) and returns `show -json` of it.
    pub fn plan_json(&self, planfile: &str, extra: &[&str]) -> Value {
        let out = format!("-out={planfile}");
        let mut args = vec!["plan", "-input=false", "-lock=false", out.as_str()];
        args.extend_from_slice(extra);
        self.terraform_ok(&args);
        self.show_json(planfile)
    }

    /// `terraform show -json <planfile>`, parsed.
    pub fn show_json(&self, planfile: &str) -> Value {
        let out = self.terraform_ok(&["show", "-json", planfile]);
        serde_json::from_slice(&out.stdout).expect("terraform show -json prints JSON")
    }

    /// Applies a saved plan.
    pub fn apply(&self, planfile: &str) -> Output {
        self.terraform(&["apply", "-input=false", "-lock=false", planfile])
    }

    /// init, plan and apply: the fixture as deployed. Returns the first plan's JSON.
    pub fn deploy(&self) -> Value {
        self.init();
        let plan = self.plan_json("initial.tfplan", &[]);
        let out = self.apply("initial.tfplan");
        assert!(out.status.success(), "apply failed:\n{}", describe(&out));
        plan
    }

    /// Writes a file into the work directory, e.g. an extra `.tf` file.
    pub fn write_file(&self, relative: &str, contents: &str) {
        let path = self.workdir.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create the file's directory");
        }
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Where the cloud stores the resource `type_name` with `id`.
    pub fn resource_path(&self, type_name: &str, id: &str) -> PathBuf {
        let file: String = id
            .chars()
            .map(|c| {
                if matches!(c, '/' | ':' | '\\') {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        self.cloud_dir.join(type_name).join(format!("{file}.json"))
    }

    /// The ids of the stored resources of `type_name`, sorted (ARN ids come back flattened).
    pub fn resource_ids(&self, type_name: &str) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.cloud_dir.join(type_name)) else {
            return Vec::new();
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".json").map(str::to_owned)
            })
            .collect();
        ids.sort();
        ids
    }

    /// The stored resource, as the cloud sees it.
    pub fn read_resource(&self, type_name: &str, id: &str) -> Map<String, Value> {
        let path = self.resource_path(type_name, id);
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read stored resource {}: {e}", path.display()));
        match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => map,
            other => panic!("{} is not a JSON object: {other:?}", path.display()),
        }
    }

    /// Changes a stored resource behind Terraform's back (drift).
    pub fn edit_resource(
        &self,
        type_name: &str,
        id: &str,
        edit: impl FnOnce(&mut Map<String, Value>),
    ) {
        let mut object = self.read_resource(type_name, id);
        edit(&mut object);
        let path = self.resource_path(type_name, id);
        let text = serde_json::to_string_pretty(&object).expect("serialize the edited resource");
        fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Deletes a stored resource behind Terraform's back.
    pub fn delete_resource(&self, type_name: &str, id: &str) {
        let path = self.resource_path(type_name, id);
        fs::remove_file(&path).unwrap_or_else(|e| panic!("delete {}: {e}", path.display()));
    }

    /// The temporary directory holding everything; gone when the testbed is dropped.
    pub fn root(&self) -> &Path {
        self.root.path()
    }
}

/// A CLI config that installs hashicorp/aws from the mirror only and nothing from the network.
fn cli_config_text(mirror: &Path, cache: &Path) -> String {
    format!(
        r#"plugin_cache_dir = "{cache}"
disable_checkpoint = true

provider_installation {{
  filesystem_mirror {{
    path    = "{mirror}"
    include = ["{PROVIDER_SOURCE}"]
  }}
  direct {{
    exclude = ["{PROVIDER_SOURCE}"]
  }}
}}
"#,
        cache = cache.display(),
        mirror = mirror.display(),
    )
}

/// Copies a root module, leaving out Terraform's own working files.
fn copy_module(from: &Path, to: &Path) {
    let entries =
        fs::read_dir(from).unwrap_or_else(|e| panic!("read fixture {}: {e}", from.display()));
    for entry in entries {
        let entry = entry.expect("read a fixture entry");
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str == ".terraform"
            || name_str.ends_with(".tfstate")
            || name_str.ends_with(".tfplan")
        {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().expect("fixture entry type").is_dir() {
            fs::create_dir_all(&target).expect("create a fixture subdirectory");
            copy_module(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copy {}: {e}", entry.path().display()));
        }
    }
}

/// Exit status, stdout and stderr of a process, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "exit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn missing_terraform_fails_naming_the_installer() {
    let empty = tempfile::tempdir().unwrap();
    let panic = std::panic::catch_unwind(|| terraform_binary_in(empty.path())).unwrap_err();
    let message = panic
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert!(
        message.contains("scripts/install-test-deps.sh"),
        "{message}"
    );
}

/// Every JSON path (`a.b[0].c`) under `value` whose string contains `needle`.
pub fn paths_containing(value: &Value, needle: &str) -> Vec<String> {
    fn walk(value: &Value, path: String, needle: &str, found: &mut Vec<String>) {
        match value {
            Value::String(s) if s.contains(needle) => found.push(path),
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, format!("{path}[{i}]"), needle, found);
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(v, p, needle, found);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(value, String::new(), needle, &mut found);
    found
}

/// Every file below `dir`, for checks over everything a command wrote.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![];
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}
