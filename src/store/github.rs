//! The `github` store: the repository itself, through the Git Data API.
//!
//! Each key is one ref, `refs/phasegate/<key>`, pointing at a commit whose
//! tree holds the object as one file; the key's history is that ref's commit
//! chain. A write stores a tree (the file inline when it is text) and a
//! commit (the old version as parent), then moves the ref with a non-forced
//! update: GitHub accepts it only as a fast-forward from the version the
//! writer read, which is compare-and-swap.
//! The version is the commit SHA. Refs outside `refs/heads` and `refs/tags`
//! are not branches: branch protection and rulesets do not match them, `git
//! clone` does not fetch them, and commits made with `GITHUB_TOKEN` trigger
//! no workflow anyway.
//!
//! Line logs (`.jsonl` keys, the journals) only ever grow, and a ref can be
//! reset or force-pushed where the journal's hash chain cannot tell (a
//! dropped tail still chains). So each write of one also fast-forwards a
//! second ref, the witness (`refs/<namespace>-witness/<key>`), to the commit
//! it wrote, and every read checks that the ref descends from the witness
//! and keeps its content: a reset, or a force-push that drops or changes a
//! line, is refused until a person points one of the two refs at the
//! other. Whoever rewrites both refs alike is not caught (docs/journal.md).

use std::collections::HashMap;
use std::sync::Mutex;

use super::{check_key, Object, Store, StoreError, Version};
use crate::github::{Forge, GithubError, RefWrite, RepoRef, TreeEntry};

/// The ref namespace objects live under unless configured otherwise.
pub const DEFAULT_NAMESPACE: &str = "phasegate";

/// How many commits a witness may trail its ref (writers that died between
/// moving the ref and the witness) and still be found.
const WITNESS_LAG: usize = 64;

/// Keys that hold line logs, which only grow: the journals.
fn witnessed(key: &str) -> bool {
    key.ends_with(".jsonl")
}

/// A [`Store`] over a repository's refs.
pub struct GitRefStore<F: Forge> {
    forge: F,
    repo: RepoRef,
    namespace: String,
    /// The last object read or written per key, by commit SHA: commits are
    /// immutable, so a re-read after a lost race costs one ref lookup.
    cache: Mutex<HashMap<String, (String, Vec<u8>)>>,
}

impl<F: Forge> std::fmt::Debug for GitRefStore<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitRefStore")
            .field("repo", &self.repo)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

fn remote(e: GithubError) -> StoreError {
    StoreError::Remote(e.to_string())
}

impl<F: Forge> GitRefStore<F> {
    pub fn new(forge: F, repo: RepoRef) -> GitRefStore<F> {
        GitRefStore {
            forge,
            repo,
            namespace: DEFAULT_NAMESPACE.to_owned(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps objects under `refs/<namespace>/` instead (e.g. to separate
    /// test runs); `namespace` is itself a store key, so it is checked alike.
    pub fn with_namespace(mut self, namespace: &str) -> Result<GitRefStore<F>, StoreError> {
        check_key(namespace)?;
        self.namespace = encode_key(namespace);
        Ok(self)
    }

    pub fn forge(&self) -> &F {
        &self.forge
    }

    /// The ref that holds `key`, without `refs/`: `phasegate/locks/prod/app.json`.
    pub fn ref_name(&self, key: &str) -> Result<String, StoreError> {
        check_key(key)?;
        Ok(format!("{}/{}", self.namespace, encode_key(key)))
    }

    /// The witness of `key`, without `refs/`: `phasegate-witness/changes/...`.
    pub fn witness_name(&self, key: &str) -> Result<String, StoreError> {
        check_key(key)?;
        Ok(format!("{}-witness/{}", self.namespace, encode_key(key)))
    }

    fn cached(&self, key: &str, commit: &str) -> Option<Vec<u8>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(key)
            .filter(|(c, _)| c == commit)
            .map(|(_, b)| b.clone())
    }

    fn remember(&self, key: &str, commit: &str, bytes: &[u8]) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(key.to_owned(), (commit.to_owned(), bytes.to_vec()));
    }
}

/// What a line log's ref history and witness say, for `journal verify`.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// The ref and the witness, without `refs/`.
    pub ref_name: String,
    pub witness_name: String,
    pub head: Option<String>,
    pub witness: Option<String>,
    /// Why the ref does not stand against its witness, when it does not.
    pub witness_problem: Option<String>,
    /// The ref's commits, newest first, with the content each holds.
    pub versions: Vec<(String, Vec<u8>)>,
    /// Whether `versions` reaches the first commit.
    pub complete: bool,
    /// The oldest commit of `versions` whose content does not extend its
    /// parent's, and how.
    pub rewrite: Option<String>,
}

impl<F: Forge> GitRefStore<F> {
    async fn get_ref(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.forge.get_ref(&self.repo, name).await.map_err(remote)
    }

    /// The object `commit` holds under the ref `name`, and its parents.
    async fn fetch(&self, name: &str, commit: &str) -> Result<(Vec<u8>, Vec<String>), StoreError> {
        let c = self
            .forge
            .get_commit(&self.repo, commit)
            .await
            .map_err(remote)?;
        let tree = self
            .forge
            .get_tree(&self.repo, &c.tree)
            .await
            .map_err(remote)?;
        let file = leaf(name);
        let entry = tree
            .iter()
            .find(|e| e.path == file && e.kind == "blob")
            .ok_or_else(|| {
                StoreError::Remote(format!(
                    "refs/{name} points at commit {commit}, which has no file `{file}`: \
                     the ref was not written by phasegate; move it aside or delete it"
                ))
            })?;
        let bytes = self
            .forge
            .get_blob(&self.repo, &entry.sha)
            .await
            .map_err(remote)?;
        Ok((bytes, c.parents))
    }

    /// The object `commit` holds under the ref `name`, in one request
    /// (`read` needs no parents). A commit without the file is not
    /// phasegate's; [`Self::fetch`] says so.
    async fn fetch_file(&self, name: &str, commit: &str) -> Result<Vec<u8>, StoreError> {
        match self.forge.get_file_at(&self.repo, leaf(name), commit).await {
            Ok(bytes) => Ok(bytes),
            Err(GithubError::Api { status: 404, .. }) => {
                self.fetch(name, commit).await.map(|f| f.0)
            }
            Err(e) => Err(remote(e)),
        }
    }

    /// A tree of one file holding `bytes`: sent inline when they are text
    /// (one request), else as a blob first (two).
    async fn store_tree(&self, name: &str, bytes: &[u8]) -> Result<String, StoreError> {
        let file = leaf(name);
        if let Ok(text) = std::str::from_utf8(bytes) {
            return self
                .forge
                .create_text_tree(&self.repo, file, text)
                .await
                .map_err(remote);
        }
        let blob = self
            .forge
            .create_blob(&self.repo, bytes)
            .await
            .map_err(remote)?;
        let entry = TreeEntry {
            path: file.to_owned(),
            mode: "100644".to_owned(),
            kind: "blob".to_owned(),
            sha: blob,
        };
        self.forge
            .create_tree(&self.repo, &[entry])
            .await
            .map_err(remote)
    }

    fn rewritten(&self, key: &str, head: Option<&str>, witness: &str, why: &str) -> StoreError {
        let name = self.ref_name(key).unwrap_or_default();
        let witness_ref = self.witness_name(key).unwrap_or_default();
        let now = match head {
            Some(h) => format!("refs/{name} points at {h}"),
            None => format!("refs/{name} does not exist"),
        };
        let deliberate = match head {
            Some(h) => {
                format!("if the rewrite was deliberate, point refs/{witness_ref} at {h} instead")
            }
            None => format!("if the removal was deliberate, delete refs/{witness_ref} too"),
        };
        StoreError::Rewritten(format!(
            "{key} was rewritten outside phasegate: {now}, but phasegate last wrote commit \
             {witness} (its witness, refs/{witness_ref}), and {why}. Nothing is read from it \
             until a person decides: to restore what phasegate wrote, point refs/{name} back \
             at {witness} (`git push --force origin {witness}:refs/{name}`); {deliberate}"
        ))
    }

    /// `head` (holding `bytes`) must descend from `witness` within
    /// [`WITNESS_LAG`] first parents and keep every line it held.
    async fn check_witness(
        &self,
        key: &str,
        head: &str,
        bytes: &[u8],
        witness: &str,
    ) -> Result<(), StoreError> {
        let name = self.ref_name(key)?;
        let mut at = head.to_owned();
        for _ in 0..WITNESS_LAG {
            let c = self
                .forge
                .get_commit(&self.repo, &at)
                .await
                .map_err(remote)?;
            match c.parents.into_iter().next() {
                Some(p) if p == witness => {
                    let (older, _) = self.fetch(&name, witness).await?;
                    return match first_dropped_line(&older, bytes) {
                        None => Ok(()),
                        Some(line) => Err(self.rewritten(
                            key,
                            Some(head),
                            witness,
                            &format!("line {line} of what it wrote is missing or changed"),
                        )),
                    };
                }
                Some(p) => at = p,
                None => break,
            }
        }
        Err(self.rewritten(
            key,
            Some(head),
            witness,
            &format!(
                "that commit is not among the ref's last {WITNESS_LAG} ancestors: the ref was \
                 reset or force-pushed"
            ),
        ))
    }

    /// Fast-forwards the witness to `commit`, just written. A failure is
    /// only logged: the object is written, and the witness catches up with
    /// the next write (a lagging witness still finds its ref).
    async fn advance_witness(&self, key: &str, commit: &str, first: bool) {
        let Ok(name) = self.witness_name(key) else {
            return;
        };
        let moved = match first {
            true => self.forge.create_ref(&self.repo, &name, commit).await,
            false => match self.forge.update_ref(&self.repo, &name, commit).await {
                // Not there yet (its ref was written before witnesses were),
                // or a later writer moved it on: creating settles which.
                Ok(RefWrite::Lost) => self.forge.create_ref(&self.repo, &name, commit).await,
                other => other,
            },
        };
        if let Err(e) = moved {
            tracing::warn!(
                "refs/{name} not moved to {commit} ({e}); it catches up with the next write"
            );
        }
    }

    /// The ref's last `depth` versions of the line log `key`, whether each
    /// extends its parent, and whether the ref stands against its witness.
    /// Reads three objects per commit: for `journal verify`, not every read.
    pub async fn history(&self, key: &str, depth: usize) -> Result<History, StoreError> {
        let depth = depth.max(1);
        let name = self.ref_name(key)?;
        let witness_name = self.witness_name(key)?;
        let witness = self.get_ref(&witness_name).await?;
        let head = self.get_ref(&name).await?;
        let mut h = History {
            ref_name: name.clone(),
            witness_name,
            head: head.clone(),
            witness: witness.clone(),
            ..History::default()
        };
        let Some(head) = head else {
            h.complete = true;
            if let Some(w) = &witness {
                h.witness_problem =
                    Some(self.rewritten(key, None, w, "the ref is gone").to_string());
            }
            return Ok(h);
        };
        let mut next = Some(head.clone());
        while let Some(commit) = next.take() {
            if h.versions.len() == depth {
                next = Some(commit);
                break;
            }
            let (bytes, parents) = self.fetch(&name, &commit).await?;
            h.versions.push((commit, bytes));
            next = parents.into_iter().next();
        }
        h.complete = next.is_none();
        h.rewrite = h.versions.windows(2).rev().find_map(|pair| {
            let ((child, newer), (parent, older)) = (&pair[0], &pair[1]);
            first_dropped_line(older, newer).map(|line| {
                format!("commit {child} does not extend its parent {parent}: line {line} of the parent is missing or changed")
            })
        });
        if let Some(w) = witness.filter(|w| *w != head) {
            let bytes = &h.versions[0].1;
            if let Err(e) = self.check_witness(key, &head, bytes, &w).await {
                h.witness_problem = Some(e.to_string());
            }
        }
        Ok(h)
    }
}

/// The first line of `older` that `newer` does not keep byte for byte, if
/// any: a line log only grows. Bytes after `older`'s last newline (a torn
/// line, which an append sets aside) need not be kept.
fn first_dropped_line(older: &[u8], newer: &[u8]) -> Option<usize> {
    let complete = older.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let kept = older[..complete]
        .iter()
        .zip(newer)
        .take_while(|(a, b)| a == b)
        .count();
    (kept < complete).then(|| older[..kept].iter().filter(|&&b| b == b'\n').count() + 1)
}

impl<F: Forge> Store for GitRefStore<F> {
    async fn read(&self, key: &str) -> Result<Option<Object>, StoreError> {
        let name = self.ref_name(key)?;
        // The witness first: a writer moves the ref before the witness, so a
        // witness read before the ref is never ahead of it.
        let witness = match witnessed(key) {
            true => self.get_ref(&self.witness_name(key)?).await?,
            false => None,
        };
        let Some(commit) = self.get_ref(&name).await? else {
            return match witness {
                Some(w) => Err(self.rewritten(key, None, &w, "the ref is gone")),
                None => Ok(None),
            };
        };
        let bytes = match self.cached(key, &commit) {
            Some(bytes) => bytes,
            None => {
                let bytes = self.fetch_file(&name, &commit).await?;
                self.remember(key, &commit, &bytes);
                bytes
            }
        };
        if let Some(w) = witness.filter(|w| *w != commit) {
            self.check_witness(key, &commit, &bytes, &w).await?;
        }
        Ok(Some(Object {
            bytes,
            version: Version(commit),
        }))
    }

    async fn write(
        &self,
        key: &str,
        expected: Option<&Version>,
        bytes: &[u8],
    ) -> Result<Version, StoreError> {
        let name = self.ref_name(key)?;
        let tree = self.store_tree(&name, bytes).await?;
        let parents: Vec<String> = expected.map(|v| v.0.clone()).into_iter().collect();
        // The nonce makes every write a distinct commit, so "the ref points
        // at my commit" proves this writer moved it (see `update_ref`).
        let message = format!(
            "phasegate store: {key}\n\nwrite {:016x}",
            rand::random::<u64>()
        );
        let commit = self
            .forge
            .create_commit(&self.repo, &message, &tree, &parents)
            .await
            .map_err(remote)?;
        let outcome = match expected {
            None => self.forge.create_ref(&self.repo, &name, &commit).await,
            Some(_) => self.forge.update_ref(&self.repo, &name, &commit).await,
        }
        .map_err(remote)?;
        match outcome {
            RefWrite::Moved => {
                self.remember(key, &commit, bytes);
                if witnessed(key) {
                    self.advance_witness(key, &commit, expected.is_none()).await;
                }
                Ok(Version(commit))
            }
            RefWrite::Lost => Err(StoreError::Conflict {
                key: key.to_owned(),
            }),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        // Refs are matched on whole encoded folders, then filtered exactly:
        // the encoding of a partial name is not a prefix of the full one.
        let folder = prefix.rfind('/').map_or("", |i| &prefix[..=i]);
        let mut ref_prefix = format!("{}/", self.namespace);
        for part in folder.split('/').filter(|p| !p.is_empty()) {
            ref_prefix.push_str(&encode_part(part));
            ref_prefix.push('/');
        }
        let full = format!("refs/{}/", self.namespace);
        let mut keys: Vec<String> = self
            .forge
            .matching_refs(&self.repo, &ref_prefix)
            .await
            .map_err(remote)?
            .into_iter()
            .filter_map(|r| decode_key(r.name.strip_prefix(&full)?))
            .filter(|k| k.starts_with(prefix))
            .collect();
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

/// The last segment of a ref name: the file name inside the commit's tree.
fn leaf(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn plain(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

/// One key segment as a ref segment git accepts: letters, digits and `-`
/// stay; a `.` stays between two of those (so `journal.jsonl` reads as
/// itself); every other byte, `_` included, becomes `_XX`. No segment starts
/// or ends with `.`, holds `..`, `@{`, `~^:?*[\` or ends in `.lock`, and
/// decoding is unambiguous.
fn encode_part(part: &str) -> String {
    let b = part.as_bytes();
    let mut out = String::with_capacity(b.len());
    for (i, &c) in b.iter().enumerate() {
        let keep = plain(c)
            || (c == b'.' && i > 0 && i + 1 < b.len() && plain(b[i - 1]) && plain(b[i + 1]));
        if keep {
            out.push(c as char);
        } else {
            out.push_str(&format!("_{c:02X}"));
        }
    }
    if out.ends_with(".lock") {
        let dot = out.len() - 5;
        out.replace_range(dot..=dot, "_2E");
    }
    out
}

fn encode_key(key: &str) -> String {
    key.split('/')
        .map(encode_part)
        .collect::<Vec<_>>()
        .join("/")
}

/// The key a ref segment path names; `None` for names no key encodes to.
fn decode_key(name: &str) -> Option<String> {
    let b = name.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'_' {
            let hex = name.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    let key = String::from_utf8(out).ok()?;
    (check_key(&key).is_ok() && encode_key(&key) == name).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// git's rules for a ref name segment (git-check-ref-format).
    fn git_accepts(segment: &str) -> bool {
        !segment.is_empty()
            && !segment.starts_with('.')
            && !segment.ends_with('.')
            && !segment.ends_with(".lock")
            && !segment.contains("..")
            && !segment.contains("@{")
            && segment != "@"
            && !segment
                .bytes()
                .any(|c| c < 0x20 || c == 0x7f || b" ~^:?*[\\".contains(&c))
    }

    #[test]
    fn ordinary_keys_read_as_themselves() {
        assert_eq!(
            encode_key("changes/CHG-1/journal.jsonl"),
            "changes/CHG-1/journal.jsonl"
        );
        assert_eq!(
            encode_key("locks/prod eu/app_1.json"),
            "locks/prod_20eu/app_5F1.json"
        );
    }

    #[test]
    fn every_encoded_segment_is_a_valid_ref_and_decodes_back() {
        for key in [
            ".hidden/x",
            "a..b/c.",
            "x.lock",
            "a/b.lock.json",
            "we@{ird}/~^:?*[",
            "ünï/código",
            "_/__2E",
            "a.-b/-.-",
        ] {
            let enc = encode_key(key);
            for seg in enc.split('/') {
                assert!(
                    git_accepts(seg),
                    "{key:?} -> {enc:?}: `{seg}` is not a valid ref segment"
                );
            }
            assert_eq!(decode_key(&enc).as_deref(), Some(key), "{enc}");
        }
    }

    #[test]
    fn names_no_key_encodes_to_are_not_keys() {
        assert_eq!(decode_key("a_2"), None);
        assert_eq!(decode_key("a_2Eb"), None, "a.b encodes with a plain dot");
        assert_eq!(decode_key("x/../y"), None);
    }
}
