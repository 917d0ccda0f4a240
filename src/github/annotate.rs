//! Locating a resource address (`module.net.aws_s3_bucket.logs[0]`) in the
//! project's `.tf` files, so findings can be annotated at the line of their
//! `resource` block. Root-module resources are found directly; module
//! resources through the module block's `source` when it is a local directory.
//! A finding whose resource cannot be found is annotated at line 1 of the
//! project's main file (`main.tf` when present, else the first `.tf` file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl_edit::structure::Body;
use hcl_edit::Span;

/// Where a resource is declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Relative to the repository root given to [`Locator::load`].
    pub path: String,
    pub line: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum AnnotateError {
    #[error("{path}: could not read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One module directory's declarations.
#[derive(Debug, Default)]
struct ModuleIndex {
    /// `type.name` or `data.type.name` -> location.
    resources: BTreeMap<String, Location>,
    /// module name -> local source directory.
    modules: BTreeMap<String, PathBuf>,
}

/// Finds resource declarations in a project's Terraform files.
#[derive(Debug)]
pub struct Locator {
    repo_root: PathBuf,
    project_dir: PathBuf,
    cache: std::cell::RefCell<BTreeMap<PathBuf, std::rc::Rc<ModuleIndex>>>,
}

impl Locator {
    /// A locator for the project in `project_dir`; paths come out relative to `repo_root`.
    pub fn load(repo_root: &Path, project_dir: &Path) -> Self {
        Locator {
            repo_root: repo_root.to_path_buf(),
            project_dir: project_dir.to_path_buf(),
            cache: Default::default(),
        }
    }

    /// The declaration of `address`, or `None` when it cannot be found.
    pub fn locate(&self, address: &str) -> Result<Option<Location>, AnnotateError> {
        let segments = split_address(address);
        let mut dir = self.project_dir.clone();
        let mut i = 0;
        // Walk `module.<name>` prefixes through local sources; depth is bounded
        // by the address itself.
        while i + 1 < segments.len() && segments[i] == "module" {
            let index = self.index(&dir)?;
            match index.modules.get(&segments[i + 1]) {
                Some(src) => dir = src.clone(),
                None => return Ok(None),
            }
            i += 2;
        }
        let key = segments[i..].join(".");
        Ok(self.index(&dir)?.resources.get(&key).cloned())
    }

    /// Where to annotate a finding: its resource, or the main file's line 1.
    pub fn locate_or_main(&self, address: &str) -> Result<Option<Location>, AnnotateError> {
        if let Some(l) = self.locate(address)? {
            return Ok(Some(l));
        }
        Ok(self.main_file()?.map(|path| Location { path, line: 1 }))
    }

    fn main_file(&self) -> Result<Option<String>, AnnotateError> {
        let main = self.project_dir.join("main.tf");
        if main.is_file() {
            return Ok(Some(self.relative(&main)));
        }
        Ok(tf_files(&self.project_dir)?
            .first()
            .map(|p| self.relative(p)))
    }

    fn relative(&self, p: &Path) -> String {
        p.strip_prefix(&self.repo_root)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/")
    }

    fn index(&self, dir: &Path) -> Result<std::rc::Rc<ModuleIndex>, AnnotateError> {
        if let Some(i) = self.cache.borrow().get(dir) {
            return Ok(i.clone());
        }
        let mut index = ModuleIndex::default();
        for file in tf_files(dir)? {
            let text = std::fs::read_to_string(&file).map_err(|source| AnnotateError::Read {
                path: file.clone(),
                source,
            })?;
            // A file that does not parse yields no locations; terraform
            // itself reports the syntax error with better context.
            let Ok(body) = hcl_edit::parser::parse_body(&text) else {
                tracing::debug!(file = %file.display(), "could not parse for annotations");
                continue;
            };
            self.index_body(&body, &text, &file, dir, &mut index);
        }
        let rc = std::rc::Rc::new(index);
        self.cache
            .borrow_mut()
            .insert(dir.to_path_buf(), rc.clone());
        Ok(rc)
    }

    fn index_body(
        &self,
        body: &Body,
        text: &str,
        file: &Path,
        dir: &Path,
        index: &mut ModuleIndex,
    ) {
        for block in body.blocks() {
            let labels: Vec<&str> = block.labels.iter().map(|l| l.as_str()).collect();
            let line = block.span().map(|s| line_of(text, s.start)).unwrap_or(1);
            let loc = Location {
                path: self.relative(file),
                line,
            };
            match (block.ident.as_str(), labels.as_slice()) {
                ("resource", [ty, name]) => {
                    index.resources.entry(format!("{ty}.{name}")).or_insert(loc);
                }
                ("data", [ty, name]) => {
                    index
                        .resources
                        .entry(format!("data.{ty}.{name}"))
                        .or_insert(loc);
                }
                ("module", [name]) => {
                    let source = block
                        .body
                        .get_attribute("source")
                        .and_then(|a| a.value.as_str().map(str::to_string));
                    if let Some(src) =
                        source.filter(|s| s.starts_with("./") || s.starts_with("../"))
                    {
                        index
                            .modules
                            .insert(name.to_string(), normalize(&dir.join(src)));
                    }
                }
                _ => {}
            }
        }
    }
}

fn tf_files(dir: &Path) -> Result<Vec<PathBuf>, AnnotateError> {
    let entries = std::fs::read_dir(dir).map_err(|source| AnnotateError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tf") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Resolves `.` and `..` lexically, so paths in annotations stay clean.
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn line_of(text: &str, byte: usize) -> u32 {
    let upto = byte.min(text.len());
    text.as_bytes()[..upto]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u32
        + 1
}

/// Splits an address into dot segments with instance keys dropped:
/// `module.a["x.y"].aws_s3_bucket.logs[0]` -> module, a, aws_s3_bucket, logs.
fn split_address(address: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut in_str = false;
    for c in address.chars() {
        match c {
            '"' if depth > 0 => in_str = !in_str,
            '[' if !in_str => depth += 1,
            ']' if !in_str => depth = depth.saturating_sub(1),
            '.' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ if depth == 0 => cur.push(c),
            _ => {}
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("infra/modules/net")).unwrap();
        std::fs::write(
            root.join("infra/main.tf"),
            "terraform {}\n\nresource \"aws_s3_bucket\" \"logs\" {\n  bucket = \"x\"\n}\n\nmodule \"net\" {\n  source = \"./modules/net\"\n}\n\ndata \"aws_caller_identity\" \"me\" {}\n",
        )
        .unwrap();
        std::fs::write(
            root.join("infra/modules/net/vpc.tf"),
            "# the network\nresource \"aws_vpc\" \"main\" {\n  cidr_block = \"10.0.0.0/16\"\n}\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn root_resources_are_found_at_their_block_line() {
        let d = project();
        let l = Locator::load(d.path(), &d.path().join("infra"));
        assert_eq!(
            l.locate("aws_s3_bucket.logs[0]").unwrap(),
            Some(Location {
                path: "infra/main.tf".into(),
                line: 3
            })
        );
        assert_eq!(
            l.locate("data.aws_caller_identity.me")
                .unwrap()
                .unwrap()
                .line,
            11
        );
    }

    #[test]
    fn module_resources_are_found_through_local_sources() {
        let d = project();
        let l = Locator::load(d.path(), &d.path().join("infra"));
        assert_eq!(
            l.locate("module.net[\"a.b\"].aws_vpc.main").unwrap(),
            Some(Location {
                path: "infra/modules/net/vpc.tf".into(),
                line: 2
            })
        );
    }

    #[test]
    fn unknown_resources_fall_back_to_the_main_file() {
        let d = project();
        let l = Locator::load(d.path(), &d.path().join("infra"));
        assert_eq!(l.locate("aws_iam_role.gone").unwrap(), None);
        assert_eq!(
            l.locate_or_main("aws_iam_role.gone").unwrap(),
            Some(Location {
                path: "infra/main.tf".into(),
                line: 1
            })
        );
    }
}
