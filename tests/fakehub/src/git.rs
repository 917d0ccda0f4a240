//! The fake's git object database: blobs, trees and commits, addressed by
//! their content as git addresses them, so writing the same bytes twice gives
//! the same id and a retried write creates nothing new.
//!
//! Ids are 40 hex digits like git's, but hashed with SHA-256 (truncated)
//! rather than SHA-1: clients treat them as opaque, and the fake needs no
//! extra hashing crate.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// One entry of a tree (no nested paths: the fake keeps trees flat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TreeEntry {
    pub path: String,
    pub mode: String,
    /// `blob`, `tree` or `commit`.
    pub kind: String,
    pub sha: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Commit {
    pub tree: String,
    pub parents: Vec<String>,
    pub message: String,
    pub author: String,
    pub time: u64,
}

#[derive(Debug, Clone)]
pub(crate) enum Object {
    Blob(Vec<u8>),
    Tree(Vec<TreeEntry>),
    Commit(Commit),
}

/// Every repository's objects, keyed by `(owner, repo, id)`.
#[derive(Debug, Default)]
pub(crate) struct GitDb {
    objects: HashMap<(String, String, String), Object>,
}

/// A git-style object id: the hash of `"<kind> <len>\0<body>"`.
fn object_id(kind: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(format!("{kind} {}\0", body.len()).as_bytes());
    h.update(body);
    h.finalize()
        .iter()
        .take(20)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl GitDb {
    pub fn get(&self, owner: &str, repo: &str, sha: &str) -> Option<&Object> {
        self.objects.get(&(owner.into(), repo.into(), sha.into()))
    }

    fn put(&mut self, owner: &str, repo: &str, kind: &str, body: &[u8], obj: Object) -> String {
        let id = object_id(kind, body);
        self.objects
            .entry((owner.into(), repo.into(), id.clone()))
            .or_insert(obj);
        id
    }

    pub fn put_blob(&mut self, owner: &str, repo: &str, bytes: Vec<u8>) -> String {
        let body = bytes.clone();
        self.put(owner, repo, "blob", &body, Object::Blob(bytes))
    }

    /// Stores a tree with its entries sorted by path, as git does.
    pub fn put_tree(&mut self, owner: &str, repo: &str, mut entries: Vec<TreeEntry>) -> String {
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let mut body = Vec::new();
        for e in &entries {
            body.extend_from_slice(format!("{} {}\0{}", e.mode, e.path, e.sha).as_bytes());
        }
        self.put(owner, repo, "tree", &body, Object::Tree(entries))
    }

    pub fn put_commit(&mut self, owner: &str, repo: &str, c: Commit) -> String {
        let mut body = format!("tree {}\n", c.tree);
        for p in &c.parents {
            body.push_str(&format!("parent {p}\n"));
        }
        body.push_str(&format!("author {} {}\n\n{}", c.author, c.time, c.message));
        self.put(owner, repo, "commit", body.as_bytes(), Object::Commit(c))
    }

    pub fn blob(&self, owner: &str, repo: &str, sha: &str) -> Option<&Vec<u8>> {
        match self.get(owner, repo, sha)? {
            Object::Blob(b) => Some(b),
            _ => None,
        }
    }

    pub fn tree(&self, owner: &str, repo: &str, sha: &str) -> Option<&Vec<TreeEntry>> {
        match self.get(owner, repo, sha)? {
            Object::Tree(t) => Some(t),
            _ => None,
        }
    }

    pub fn commit(&self, owner: &str, repo: &str, sha: &str) -> Option<&Commit> {
        match self.get(owner, repo, sha)? {
            Object::Commit(c) => Some(c),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_content_has_equal_ids_and_kinds_are_distinct() {
        let mut db = GitDb::default();
        let a = db.put_blob("o", "r", b"x".to_vec());
        assert_eq!(a, db.put_blob("o", "r", b"x".to_vec()));
        assert_eq!(a.len(), 40);
        assert_ne!(a, object_id("tree", b"x"));
    }
}
