//! Writing results: every file of one command is rendered in memory first,
//! then written all together (each via a temporary file and a rename), so a
//! failure never leaves a half-written output directory. Every byte passes
//! through the redactor on its way out.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::redact;

/// Files to write, relative to one output directory.
#[derive(Debug, Default)]
pub struct OutputSet {
    files: Vec<(PathBuf, String)>,
}

impl OutputSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, relative: impl Into<PathBuf>, contents: impl Into<String>) {
        self.files.push((relative.into(), contents.into()));
    }

    pub fn files(&self) -> impl Iterator<Item = (&Path, &str)> {
        self.files.iter().map(|(p, c)| (p.as_path(), c.as_str()))
    }

    /// Writes every file under `dir`. Temporary files are written first and
    /// renamed only once all of them were written.
    pub fn write_all(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut staged = Vec::with_capacity(self.files.len());
        for (relative, contents) in &self.files {
            let target = dir.join(relative);
            let parent = target.parent().unwrap_or(dir).to_path_buf();
            std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
            let tmp = parent.join(format!(
                ".{}.tmp-{}",
                target
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                std::process::id()
            ));
            let write = || -> std::io::Result<()> {
                let mut f = std::fs::File::create(&tmp)?;
                f.write_all(redact::global().apply_cow(contents).as_bytes())?;
                f.sync_all()
            };
            if let Err(e) = write() {
                for (tmp, _) in &staged {
                    let _ = std::fs::remove_file(tmp);
                }
                let _ = std::fs::remove_file(&tmp);
                return Err(Error::io(&tmp, e));
            }
            staged.push((tmp, target));
        }
        let mut written = Vec::with_capacity(staged.len());
        for (tmp, target) in staged {
            std::fs::rename(&tmp, &target).map_err(|e| Error::io(&target, e))?;
            written.push(target);
        }
        Ok(written)
    }
}

/// Prints `value` as one JSON object on stdout (`--format json`), through
/// the redactor like every other output.
pub fn print_json(value: &serde_json::Value) {
    print_stdout(&serde_json::to_string_pretty(value).expect("a JSON value serializes"));
}

/// Prints to stdout through the redactor.
pub fn print_stdout(text: &str) {
    let text = redact::global().apply_cow(text);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_file_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let mut set = OutputSet::new();
        set.add("comment.md", "hello");
        set.add("plans/app-dev.json", "{}");
        let written = set.write_all(dir.path()).unwrap();
        assert_eq!(written.len(), 2);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("comment.md")).unwrap(),
            "hello"
        );
        let leftovers: Vec<_> = walk(dir.path())
            .into_iter()
            .filter(|p| p.to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn registered_secrets_never_reach_a_file() {
        redact::global().add("canary-Wr1te-secret");
        let dir = tempfile::tempdir().unwrap();
        let mut set = OutputSet::new();
        set.add("summary.md", "value: canary-Wr1te-secret");
        set.write_all(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
        assert!(!text.contains("canary-Wr1te-secret"), "{text}");
    }

    #[test]
    fn a_failed_write_renames_nothing_into_place() {
        let dir = tempfile::tempdir().unwrap();
        // A file where a directory must go makes the second write fail.
        std::fs::write(dir.path().join("blocker"), "x").unwrap();
        let mut set = OutputSet::new();
        set.add("comment.md", "first");
        set.add("blocker/inner.json", "second");
        assert!(set.write_all(dir.path()).is_err());
        assert!(!dir.path().join("comment.md").exists());
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = vec![];
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }
}
