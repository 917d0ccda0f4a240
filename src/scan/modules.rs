//! Terraform directories and their local `module` calls, parsed with hcl-edit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use hcl_edit::structure::Body;

/// A directory that holds `.tf` files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TfDir {
    /// Relative to the scanned root, `/`-separated, `.` for the root itself.
    pub dir: String,
    /// Declares a backend (`terraform { backend ... }`).
    pub backend: bool,
    /// Declares providers (`provider` blocks or `required_providers`).
    pub providers: bool,
    /// Declares infrastructure: `resource`, `data` or `module` blocks.
    pub resources: bool,
    /// Holds a `terragrunt.hcl`.
    pub terragrunt: bool,
    /// Holds a `terragrunt.hcl` and no directory below it does: a unit
    /// Terragrunt plans, rather than configuration its units include.
    pub terragrunt_unit: bool,
    /// Per-environment backend configuration files, as (environment, path
    /// relative to this directory): `backend/<env>.hcl`, `<env>.backend.hcl`,
    /// `backend-<env>.hcl`, `<env>.tfbackend`.
    pub backend_files: Vec<(String, String)>,
    /// Local module directories it calls (`source = "./..."`, or a
    /// Terragrunt unit's local `terraform { source }`), relative to the root.
    pub modules: BTreeSet<String>,
    /// `.tfvars` files in the directory and its `env/`, `envs/`, `vars/`
    /// subdirectories, relative to the root.
    pub tfvars: Vec<String>,
    /// Workspaces found in `terraform.tfstate.d/`.
    pub workspaces: Vec<String>,
    /// Called by another directory's `module` block.
    pub called: bool,
    /// `.tf` files that did not parse (reported, not fatal).
    pub unparsed: Vec<String>,
}

impl TfDir {
    /// A Terraform root module: declares a backend; or, without being a
    /// module some other directory calls, declares providers, or declares
    /// resources outside a `modules/` directory (a bare `main.tf` is a root
    /// module too; a module library's unused modules are not).
    pub fn is_root(&self) -> bool {
        self.backend
            || (!self.called && (self.providers || (self.resources && !self.in_module_library())))
    }

    /// Under a directory named `modules`.
    pub fn in_module_library(&self) -> bool {
        self.dir.split('/').any(|c| c == "modules")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{path}: could not read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<ScanError> for crate::Error {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::Read { path, source } => crate::Error::io(path, source),
        }
    }
}

/// Directories never descended into: tool caches, VCS data, build output.
const SKIP: [&str; 5] = [".git", ".terraform", "node_modules", "target", ".phasegate"];
const VAR_DIRS: [&str; 4] = ["env", "envs", "vars", "environments"];

/// Every Terraform directory under `root`, sorted by path, with `called` set.
pub fn scan_repo(root: &Path) -> Result<Vec<TfDir>, ScanError> {
    scan(root, Want::Everything)
}

/// Every Terraform directory under `root` with its local module calls only:
/// what `matrix` needs. Files that never mention `module` are not parsed,
/// and tfvars, workspaces, backends and providers are left empty.
pub fn scan_module_calls(root: &Path) -> Result<Vec<TfDir>, ScanError> {
    scan(root, Want::ModuleCalls)
}

/// How much of each directory a scan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Everything,
    ModuleCalls,
}

impl Want {
    /// Whether a file's text can hold anything this scan reads. A cheap
    /// substring test before the HCL parse, which is most of a scan's time:
    /// most `.tf` files declare only resources and variables. `init` parses
    /// everything, so that it can name each file that does not parse.
    fn worth_parsing(self, text: &str) -> bool {
        match self {
            Want::Everything => true,
            Want::ModuleCalls => text.contains("module"),
        }
    }

    /// The same for a `terragrunt.hcl`, whose module call is its `source`.
    fn worth_parsing_terragrunt(self, text: &str) -> bool {
        match self {
            Want::Everything => true,
            Want::ModuleCalls => text.contains("source"),
        }
    }
}

/// The Terragrunt configuration file of a unit.
const TERRAGRUNT_FILE: &str = "terragrunt.hcl";
/// Directories holding one backend configuration file per environment.
const BACKEND_DIRS: [&str; 2] = ["backend", "backends"];

fn scan(root: &Path, want: Want) -> Result<Vec<TfDir>, ScanError> {
    let mut dirs: BTreeMap<String, TfDir> = BTreeMap::new();
    walk(root, root, want, &mut dirs)?;
    let called: BTreeSet<String> = dirs.values().flat_map(|d| d.modules.clone()).collect();
    // Every directory above a terragrunt.hcl: one there is included, not planned.
    let above_terragrunt: BTreeSet<String> = dirs
        .values()
        .filter(|d| d.terragrunt)
        .flat_map(|d| ancestors(&d.dir))
        .collect();
    for (path, d) in dirs.iter_mut() {
        d.called = called.contains(path);
        d.terragrunt_unit = d.terragrunt && !above_terragrunt.contains(path);
    }
    Ok(dirs.into_values().collect())
}

fn walk(
    root: &Path,
    dir: &Path,
    want: Want,
    out: &mut BTreeMap<String, TfDir>,
) -> Result<(), ScanError> {
    let entries = entries(dir)?;
    let rel = relative(root, dir);
    let mut tf = TfDir {
        dir: rel.clone(),
        ..TfDir::default()
    };
    let mut has_tf = false;
    for Entry { path, is_dir } in &entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if *is_dir {
            if name == "terraform.tfstate.d" {
                if want == Want::Everything {
                    tf.workspaces = subdirs(path)?;
                }
            } else if !SKIP.contains(&name) && !name.starts_with('.') {
                walk(root, path, want, out)?;
            }
            continue;
        }
        if name == TERRAGRUNT_FILE {
            has_tf = true;
            tf.terragrunt = true;
            let text = read_text(path)?;
            if want.worth_parsing_terragrunt(&text) {
                if let Some(body) = parse(&text, root, path, &mut tf) {
                    read_terragrunt(&body, root, dir, &mut tf);
                }
            }
            continue;
        }
        if name.ends_with(".tf") {
            has_tf = true;
            let text = read_text(path)?;
            if !want.worth_parsing(&text) {
                continue;
            }
            if let Some(body) = parse(&text, root, path, &mut tf) {
                read_body(&body, root, dir, &mut tf);
            }
        } else if want == Want::Everything && is_tfvars(name) {
            tf.tfvars.push(relative(root, path));
        } else if want == Want::Everything {
            if let Some(env) = backend_file_env(name, false) {
                tf.backend_files.push((env.to_string(), name.to_string()));
            }
        }
    }
    if has_tf && want == Want::Everything {
        for sub in BACKEND_DIRS {
            let bd = dir.join(sub);
            if bd.is_dir() {
                for f in sorted_files(&bd)? {
                    let Some(name) = f.file_name().and_then(|n| n.to_str()) else {
                        continue;
                    };
                    if let Some(env) = backend_file_env(name, true) {
                        tf.backend_files
                            .push((env.to_string(), format!("{sub}/{name}")));
                    }
                }
            }
        }
    }
    if has_tf && want == Want::Everything {
        for sub in VAR_DIRS {
            let vd = dir.join(sub);
            if vd.is_dir() && !vd.join("main.tf").exists() {
                for f in sorted_files(&vd)? {
                    if f.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(is_tfvars)
                    {
                        tf.tfvars.push(relative(root, &f));
                    }
                }
            }
        }
    }
    if has_tf {
        out.insert(rel, tf);
    }
    Ok(())
}

/// Environment tfvars: not `terraform.tfvars` or `*.auto.tfvars`, which
/// Terraform loads on its own in every environment.
fn read_text(path: &Path) -> Result<String, ScanError> {
    std::fs::read_to_string(path).map_err(|source| ScanError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The file's HCL body; a file that does not parse is recorded in
/// `tf.unparsed` (reported, not fatal).
fn parse(text: &str, root: &Path, path: &Path, tf: &mut TfDir) -> Option<Body> {
    match hcl_edit::parser::parse_body(text) {
        Ok(body) => Some(body),
        Err(_) => {
            tf.unparsed.push(relative(root, path));
            None
        }
    }
}

fn is_tfvars(name: &str) -> bool {
    let stem = name
        .strip_suffix(".tfvars")
        .or_else(|| name.strip_suffix(".tfvars.json"));
    stem.is_some_and(|s| s != "terraform" && !s.ends_with(".auto") && !s.is_empty())
}

/// The environment a backend configuration file is for, from its name:
/// `<env>.hcl` or `<env>.tfbackend` inside a backend directory;
/// `<env>.backend.hcl`, `backend-<env>.hcl` or `<env>.tfbackend` beside the
/// module.
fn backend_file_env(name: &str, in_backend_dir: bool) -> Option<&str> {
    let env = if in_backend_dir {
        name.strip_suffix(".hcl")
            .or_else(|| name.strip_suffix(".tfbackend"))
    } else {
        name.strip_suffix(".backend.hcl")
            .or_else(|| name.strip_prefix("backend-")?.strip_suffix(".hcl"))
            .or_else(|| name.strip_suffix(".tfbackend"))
    }?;
    let plain = !env.is_empty()
        && env
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    plain.then_some(env)
}

/// A Terragrunt unit's `terraform { source = "../modules//vpc" }`, when
/// local, is the module it plans: a change there changes the unit.
fn read_terragrunt(body: &Body, root: &Path, dir: &Path, tf: &mut TfDir) {
    for block in body.blocks().filter(|b| b.ident.as_str() == "terraform") {
        let source = block
            .body
            .get_attribute("source")
            .and_then(|a| a.value.as_str().map(str::to_string));
        if let Some(src) = source.filter(|s| s.starts_with("./") || s.starts_with("../")) {
            // `//` separates what Terragrunt copies from the module inside it.
            let src = src.split('?').next().unwrap_or(&src).replace("//", "/");
            tf.modules
                .insert(relative(root, &normalize(&dir.join(src))));
        }
    }
}

fn read_body(body: &Body, root: &Path, dir: &Path, tf: &mut TfDir) {
    for block in body.blocks() {
        match block.ident.as_str() {
            "provider" => tf.providers = true,
            "resource" | "data" => tf.resources = true,
            "terraform" => {
                for inner in block.body.blocks() {
                    match inner.ident.as_str() {
                        "backend" | "cloud" => tf.backend = true,
                        "required_providers" => tf.providers = true,
                        _ => {}
                    }
                }
            }
            "module" => {
                tf.resources = true;
                let source = block
                    .body
                    .get_attribute("source")
                    .and_then(|a| a.value.as_str().map(str::to_string));
                if let Some(src) = source.filter(|s| s.starts_with("./") || s.starts_with("../")) {
                    tf.modules
                        .insert(relative(root, &normalize(&dir.join(src))));
                }
            }
            _ => {}
        }
    }
}

fn subdirs(dir: &Path) -> Result<Vec<String>, ScanError> {
    Ok(entries(dir)?
        .into_iter()
        .filter(|e| e.is_dir)
        .filter_map(|e| {
            e.path
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
        })
        .collect())
}

fn sorted_files(dir: &Path) -> Result<Vec<PathBuf>, ScanError> {
    Ok(entries(dir)?
        .into_iter()
        .filter(|e| !e.is_dir)
        .map(|e| e.path)
        .collect())
}

/// A directory entry and whether it is (or links to) a directory.
struct Entry {
    path: PathBuf,
    is_dir: bool,
}

/// The entries of `dir`, sorted by path. The entry's own type answers "is it
/// a directory" without a `stat` per file; only symbolic links are followed.
fn entries(dir: &Path) -> Result<Vec<Entry>, ScanError> {
    let mut list: Vec<Entry> = std::fs::read_dir(dir)
        .map_err(|source| ScanError::Read {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok())
        .map(|e| {
            let path = e.path();
            let is_dir = match e.file_type() {
                Ok(t) if t.is_symlink() => path.is_dir(),
                Ok(t) => t.is_dir(),
                Err(_) => path.is_dir(),
            };
            Entry { path, is_dir }
        })
        .collect();
    list.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(list)
}

/// The directories above `dir` (root-relative), up to and including `.`.
fn ancestors(dir: &str) -> Vec<String> {
    if dir == "." {
        return Vec::new();
    }
    let mut out = vec![".".to_string()];
    let mut at = 0;
    while let Some(i) = dir[at..].find('/') {
        out.push(dir[..at + i].to_string());
        at += i + 1;
    }
    out
}

/// `path` relative to `root`, `/`-separated; `.` for the root.
pub(crate) fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let s = rel.to_string_lossy().replace('\\', "/");
    if s.is_empty() {
        ".".into()
    } else {
        s
    }
}

/// `path` (relative to the working directory, or absolute) relative to `root`,
/// `/`-separated; both are resolved on disk first so `..` and links agree.
pub fn relative_to(root: &Path, path: &Path) -> String {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| normalize(p));
    relative(&canon(root), &canon(path))
}

/// `dir` inside `base` (both root-relative, `/`-separated), normalized.
pub fn join_relative(base: &str, dir: &str) -> String {
    let joined = normalize(&Path::new(base).join(dir));
    relative(Path::new(""), &joined)
}

/// Resolves `.` and `..` lexically.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, file: &str, text: &str) {
        let p = root.join(file);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn a_called_module_with_required_providers_is_not_a_root() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, "app/main.tf", "terraform {\n  backend \"local\" {}\n}\nmodule \"tags\" {\n  source = \"../modules/tags\"\n}\n");
        write(r, "modules/tags/main.tf", "terraform {\n  required_providers {\n    aws = { source = \"hashicorp/aws\" }\n  }\n}\n");
        write(r, "tool/main.tf", "provider \"aws\" {}\n");
        let dirs = scan_repo(r).unwrap();
        let roots: Vec<_> = dirs
            .iter()
            .filter(|d| d.is_root())
            .map(|d| d.dir.as_str())
            .collect();
        assert_eq!(roots, ["app", "tool"]);
        assert_eq!(dirs[0].modules.iter().collect::<Vec<_>>(), ["modules/tags"]);
    }

    #[test]
    fn a_bare_main_tf_nobody_calls_is_a_root_but_an_unused_library_module_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let bucket = "resource \"aws_s3_bucket\" \"b\" {\n  bucket = \"b\"\n}\n";
        write(r, "infra/dev/main.tf", bucket);
        write(r, "modules/unused/main.tf", bucket);
        write(r, "vars-only/variables.tf", "variable \"x\" {}\n");
        let dirs = scan_repo(r).unwrap();
        let roots: Vec<_> = dirs
            .iter()
            .filter(|d| d.is_root())
            .map(|d| d.dir.as_str())
            .collect();
        assert_eq!(roots, ["infra/dev"]);
    }

    #[test]
    fn backend_files_are_found_beside_the_module_and_in_a_backend_directory() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, "app/main.tf", "terraform {\n  backend \"s3\" {}\n}\n");
        for f in [
            "app/backend/dev.hcl",
            "app/staging.backend.hcl",
            "app/backend-prod.hcl",
            "app/qa.tfbackend",
            "app/providers.hcl",
        ] {
            write(r, f, "bucket = \"b\"\n");
        }
        let dirs = scan_repo(r).unwrap();
        let mut found = dirs[0].backend_files.clone();
        found.sort();
        assert_eq!(
            found,
            [
                ("dev", "backend/dev.hcl"),
                ("prod", "backend-prod.hcl"),
                ("qa", "qa.tfbackend"),
                ("staging", "staging.backend.hcl"),
            ]
            .map(|(e, f)| (e.to_string(), f.to_string()))
        );
    }

    #[test]
    fn a_terragrunt_unit_calls_its_local_source_and_the_parent_config_is_no_unit() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, "live/terragrunt.hcl", "inputs = {}\n");
        write(
            r,
            "live/dev/app/terragrunt.hcl",
            "include \"root\" {\n  path = find_in_parent_folders()\n}\nterraform {\n  source = \"../../../modules//app\"\n}\n",
        );
        write(r, "modules/app/main.tf", "provider \"aws\" {}\n");
        for dirs in [scan_repo(r).unwrap(), scan_module_calls(r).unwrap()] {
            let unit = dirs.iter().find(|d| d.dir == "live/dev/app").unwrap();
            assert!(unit.terragrunt_unit);
            assert_eq!(unit.modules.iter().collect::<Vec<_>>(), ["modules/app"]);
            let parent = dirs.iter().find(|d| d.dir == "live").unwrap();
            assert!(parent.terragrunt && !parent.terragrunt_unit);
            let module = dirs.iter().find(|d| d.dir == "modules/app").unwrap();
            assert!(module.called && !module.is_root());
        }
    }

    #[test]
    fn shared_tfvars_are_not_environment_files() {
        assert!(is_tfvars("prod.tfvars"));
        assert!(is_tfvars("dev.tfvars.json"));
        assert!(!is_tfvars("terraform.tfvars"));
        assert!(!is_tfvars("common.auto.tfvars"));
    }
}
