//! The local store: one file per key under a root directory. Compare-and-swap
//! holds an exclusive OS file lock beside the object while it compares and
//! renames, so concurrent processes on one machine never lose a write.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{check_key, Object, Store, StoreError, Version};

#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    fn read_now(&self, path: &Path) -> Result<Option<Object>, StoreError> {
        match fs::read(path) {
            Ok(bytes) => {
                let version = version_of(&bytes);
                Ok(Some(Object { bytes, version }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(io(path, source)),
        }
    }
}

/// The version of local content is its hash: equal bytes, equal version.
fn version_of(bytes: &[u8]) -> Version {
    Version(hex::encode(Sha256::digest(bytes)))
}

fn io(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Store for LocalStore {
    async fn read(&self, key: &str) -> Result<Option<Object>, StoreError> {
        let path = self.path(key)?;
        self.read_now(&path)
    }

    async fn write(
        &self,
        key: &str,
        expected: Option<&Version>,
        bytes: &[u8],
    ) -> Result<Version, StoreError> {
        let path = self.path(key)?;
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let lock_path = dir.join(format!(".{name}.lock"));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io(&lock_path, e))?;
        lock.lock().map_err(|e| io(&lock_path, e))?;
        let current = self.read_now(&path)?;
        if current.as_ref().map(|o| &o.version) != expected {
            return Err(StoreError::Conflict {
                key: key.to_string(),
            });
        }
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let mut file = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        file.write_all(bytes).map_err(|e| io(&tmp, e))?;
        file.sync_all().map_err(|e| io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        drop(lock);
        Ok(version_of(bytes))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = vec![];
        walk(&self.root, &self.root, &mut keys)?;
        keys.retain(|k| k.starts_with(prefix));
        keys.sort();
        Ok(keys)
    }
}

/// Every object file below `dir`, as keys relative to `root`; lock and
/// temporary files (hidden, `.name.lock`) are not objects.
fn walk(root: &Path, dir: &Path, keys: &mut Vec<String>) -> Result<(), StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io(dir, e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            walk(root, &path, keys)?;
        } else if !name.starts_with('.') {
            if let Ok(rel) = path.strip_prefix(root) {
                keys.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{update, Contention};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_stale_version_is_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        rt().block_on(async {
            let v1 = store.write("a/b.json", None, b"1").await.unwrap();
            assert!(matches!(
                store.write("a/b.json", None, b"2").await,
                Err(StoreError::Conflict { .. })
            ));
            let v2 = store.write("a/b.json", Some(&v1), b"2").await.unwrap();
            assert!(matches!(
                store.write("a/b.json", Some(&v1), b"3").await,
                Err(StoreError::Conflict { .. })
            ));
            assert_eq!(store.read("a/b.json").await.unwrap().unwrap().version, v2);
            assert_eq!(store.list("a/").await.unwrap(), vec!["a/b.json"]);
        });
    }

    #[test]
    fn concurrent_appenders_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = LocalStore::new(root.clone());
                std::thread::spawn(move || {
                    rt().block_on(async {
                        for i in 0..10 {
                            update(&store, "j.jsonl", Contention::default(), |cur| {
                                let mut next = cur.unwrap_or_default().to_vec();
                                next.extend_from_slice(format!("{t}-{i}\n").as_bytes());
                                Ok::<_, ()>(next)
                            })
                            .await
                            .unwrap()
                            .unwrap();
                        }
                    })
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let bytes = std::fs::read(root.join("j.jsonl")).unwrap();
        let lines: std::collections::BTreeSet<_> = String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        assert_eq!(lines.len(), 80);
    }
}
