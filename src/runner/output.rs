//! Writing results: every file of one command goes to a temporary file as
//! it is produced (large ones streamed, never held whole), and all of them
//! are renamed into place only once every one was written, so a failure
//! never leaves a half-written output directory. Every byte passes through
//! the redactor on its way out.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::redact;

/// Files to write, relative to one output directory, held in memory until
/// [`OutputSet::write_all`] (small files; large ones go through [`Staged`]).
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

    /// Writes every file under `dir`. Temporary files are written first and
    /// renamed only once all of them were written.
    pub fn write_all(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut staged = Staged::new(dir);
        for (relative, contents) in &self.files {
            staged.text(relative, contents)?;
        }
        staged.commit()
    }
}

/// Files of one command being written under one directory: each is written
/// to a temporary file beside its target as soon as it is produced;
/// [`Staged::commit`] renames them all into place. Dropped uncommitted (an
/// error on the way), it removes its temporary files: nothing is written
/// half-way.
#[derive(Debug)]
pub struct Staged {
    dir: PathBuf,
    /// Temporary file and target, in the order written.
    files: Vec<(PathBuf, PathBuf)>,
}

impl Staged {
    pub fn new(dir: &Path) -> Self {
        Staged {
            dir: dir.to_path_buf(),
            files: Vec::new(),
        }
    }

    /// Writes `text` as the file `relative`.
    pub fn text(&mut self, relative: impl AsRef<Path>, text: &str) -> Result<()> {
        self.stream(relative, |out| {
            out.write_all(text.as_bytes())
                .map_err(|e| Error::External(format!("writing: {e}")))
        })
    }

    /// Writes the file `relative` as `produce` writes it, through the
    /// redactor, in chunks: the file's text is never held whole. An error of
    /// `produce` is returned as it is; a failed write as an I/O error on the
    /// temporary file.
    pub fn stream(
        &mut self,
        relative: impl AsRef<Path>,
        produce: impl FnOnce(&mut OutputWriter) -> Result<()>,
    ) -> Result<()> {
        let target = self.dir.join(relative);
        let parent = target.parent().unwrap_or(&self.dir).to_path_buf();
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let tmp = parent.join(format!(
            ".{}.tmp-{}",
            target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        // Registered before anything is written, so an error removes it.
        self.files.push((tmp.clone(), target));
        let mut out = OutputWriter {
            inner: redact::global().writer(file),
            error: None,
        };
        if let Err(e) = produce(&mut out) {
            return Err(match out.error.take() {
                Some(io) => Error::io(&tmp, io),
                None => e,
            });
        }
        if let Some(io) = out.error.take() {
            return Err(Error::io(&tmp, io));
        }
        let file = out.inner.finish().map_err(|e| Error::io(&tmp, e))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))
    }

    /// Renames every file into place and returns their paths.
    pub fn commit(mut self) -> Result<Vec<PathBuf>> {
        let files = std::mem::take(&mut self.files);
        let mut written = Vec::with_capacity(files.len());
        let mut pending = files.into_iter();
        for (tmp, target) in pending.by_ref() {
            if let Err(e) = std::fs::rename(&tmp, &target) {
                let _ = std::fs::remove_file(&tmp);
                for (tmp, _) in pending {
                    let _ = std::fs::remove_file(&tmp);
                }
                return Err(Error::io(&target, e));
            }
            written.push(target);
        }
        Ok(written)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (tmp, _) in &self.files {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Where [`Staged::stream`] has a file written: the redactor, then the
/// temporary file. It remembers its first I/O error, so that an error a
/// serializer reports as its own is still told as the I/O error it was.
pub struct OutputWriter {
    inner: redact::RedactingWriter<std::fs::File>,
    error: Option<std::io::Error>,
}

impl Write for OutputWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).inspect_err(|e| {
            self.error
                .get_or_insert_with(|| std::io::Error::new(e.kind(), e.to_string()));
        })
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().inspect_err(|e| {
            self.error
                .get_or_insert_with(|| std::io::Error::new(e.kind(), e.to_string()));
        })
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

    #[test]
    fn a_streamed_file_is_masked_like_a_whole_text_across_chunk_boundaries() {
        let secret = "canary-Str3amed-secret";
        redact::global().add(secret);
        // Secrets at and around every multiple of the writer's chunks.
        let mut text = String::new();
        for i in 0..40_000 {
            text.push_str(&format!("{{\"n\":{i},\"v\":\"x{secret}y\"}},"));
        }
        let dir = tempfile::tempdir().unwrap();
        let mut staged = Staged::new(dir.path());
        staged
            .stream("plans/big.json", |out| {
                // Pieces of odd sizes, as a serializer writes them.
                for piece in text.as_bytes().chunks(13) {
                    out.write_all(piece).unwrap();
                }
                Ok(())
            })
            .unwrap();
        assert!(
            !dir.path().join("plans/big.json").exists(),
            "not before commit"
        );
        staged.commit().unwrap();
        let written = std::fs::read_to_string(dir.path().join("plans/big.json")).unwrap();
        assert!(!written.contains(secret));
        assert_eq!(written, redact::global().apply(&text));
        assert_eq!(written.matches(redact::REDACTED).count(), 40_000);
    }

    #[test]
    fn a_failed_stream_removes_every_temporary_file_and_renames_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut staged = Staged::new(dir.path());
        staged.text("comment.md", "first").unwrap();
        let failed = staged.stream("plans/p.json", |out| {
            out.write_all(&[b'x'; 200_000]).unwrap();
            Err(Error::External("serializing failed".into()))
        });
        assert!(matches!(failed, Err(Error::External(_))), "{failed:?}");
        drop(staged);
        assert!(!dir.path().join("comment.md").exists());
        assert!(!dir.path().join("plans/p.json").exists());
        let leftovers: Vec<_> = walk(dir.path());
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_write_error_is_told_as_the_io_error_on_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut staged = Staged::new(dir.path());
        // /dev/full fails every write; staging a file there cannot succeed.
        let mut out = OutputWriter {
            inner: redact::global().writer(std::fs::File::create("/dev/full").unwrap()),
            error: None,
        };
        let data = vec![b'y'; 300_000];
        assert!(out.write_all(&data).is_err());
        assert!(out.error.is_some());
        staged.text("ok.md", "ok").unwrap();
        drop(staged);
        assert!(walk(dir.path()).is_empty());
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
