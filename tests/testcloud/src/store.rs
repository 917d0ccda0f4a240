//! The emulated cloud's storage: one JSON file per resource at `<TESTCLOUD_DIR>/<type>/<id>.json`.
//! Tests read and edit these files to observe applies and to fake out-of-band changes (drift).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The environment variable naming the directory that holds the cloud's resources.
pub const DIR_ENV: &str = "TESTCLOUD_DIR";

/// The file under the store's root that logs every create call, one line each.
pub const CALLS_LOG: &str = "calls.log";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{DIR_ENV} is not set: testcloud keeps its resources under that directory; set it to a writable folder")]
    DirUnset,
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{} is not a JSON object ({detail}); fix or delete the file", path.display())]
    Corrupt { path: PathBuf, detail: String },
}

/// A handle on the cloud's directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The store named by `TESTCLOUD_DIR`.
    pub fn from_env() -> Result<Self, StoreError> {
        match std::env::var_os(DIR_ENV) {
            Some(dir) if !dir.is_empty() => Ok(Self::new(dir)),
            _ => Err(StoreError::DirUnset),
        }
    }

    /// Where the resource of `type_name` with `id` is stored. Ids such as ARNs hold `/` and `:`,
    /// which are replaced so that every id maps to one flat file name.
    pub fn path(&self, type_name: &str, id: &str) -> PathBuf {
        let file: String = id
            .chars()
            .map(|c| match c {
                '/' | ':' | '\\' => '_',
                c => c,
            })
            .collect();
        self.root.join(type_name).join(format!("{file}.json"))
    }

    pub fn exists(&self, type_name: &str, id: &str) -> bool {
        self.path(type_name, id).is_file()
    }

    /// The stored object, or `None` when the resource does not exist (any more).
    pub fn load(
        &self,
        type_name: &str,
        id: &str,
    ) -> Result<Option<serde_json::Map<String, Value>>, StoreError> {
        let path = self.path(type_name, id);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io {
                    action: "read",
                    path,
                    source,
                })
            }
        };
        match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => Ok(Some(map)),
            Ok(other) => Err(StoreError::Corrupt {
                path,
                detail: format!("found {}", kind(&other)),
            }),
            Err(e) => Err(StoreError::Corrupt {
                path,
                detail: e.to_string(),
            }),
        }
    }

    /// Writes the object through a temporary file so a reader never sees half a resource.
    pub fn save(
        &self,
        type_name: &str,
        id: &str,
        object: &serde_json::Map<String, Value>,
    ) -> Result<PathBuf, StoreError> {
        let path = self.path(type_name, id);
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            action: "create directory",
            path: dir.to_path_buf(),
            source,
        })?;
        let tmp = path.with_extension("json.tmp");
        let mut text = serde_json::to_string_pretty(object).expect("a JSON map always serializes");
        text.push('\n');
        fs::write(&tmp, text).map_err(|source| StoreError::Io {
            action: "write",
            path: tmp.clone(),
            source,
        })?;
        fs::rename(&tmp, &path).map_err(|source| StoreError::Io {
            action: "rename into place",
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// Appends one line `<op>\t<type>\t<name>\t<outcome>` to `calls.log`, so tests count how
    /// often the cloud was asked to create a resource (a crashed apply must never create twice).
    pub fn record_call(
        &self,
        op: &str,
        type_name: &str,
        name: &str,
        outcome: &str,
    ) -> Result<(), StoreError> {
        use std::io::Write;
        let path = self.root.join(CALLS_LOG);
        let io = |action, source| StoreError::Io {
            action,
            path: path.clone(),
            source,
        };
        fs::create_dir_all(&self.root).map_err(|e| io("create directory", e))?;
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io("open", e))?;
        // One write per line: concurrent provider processes never interleave a line.
        file.write_all(format!("{op}\t{type_name}\t{name}\t{outcome}\n").as_bytes())
            .map_err(|e| io("append to", e))
    }

    /// Whether this is the first time `name` is marked; marks it. Remembered in a file because
    /// every Terraform command starts a fresh provider process.
    pub fn first_mark(&self, kind: &str, name: &str) -> Result<bool, StoreError> {
        let dir = self.root.join("marks");
        fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
            action: "create directory",
            path: dir.clone(),
            source,
        })?;
        let file = self.path("marks", &format!("{kind}-{name}"));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&file)
        {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(source) => Err(StoreError::Io {
                action: "create",
                path: file,
                source,
            }),
        }
    }

    /// Deletes the resource; deleting one that is already gone is not an error (as in AWS).
    pub fn remove(&self, type_name: &str, id: &str) -> Result<(), StoreError> {
        let path = self.path(type_name, id);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Io {
                action: "delete",
                path,
                source,
            }),
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> serde_json::Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test objects are objects"),
        }
    }

    #[test]
    fn saved_resource_loads_back_and_is_gone_after_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let obj = object(json!({"id": "sg-1", "name": "web"}));
        let path = store.save("aws_security_group", "sg-1", &obj).unwrap();
        assert_eq!(path, dir.path().join("aws_security_group/sg-1.json"));
        assert_eq!(store.load("aws_security_group", "sg-1").unwrap(), Some(obj));
        store.remove("aws_security_group", "sg-1").unwrap();
        assert_eq!(store.load("aws_security_group", "sg-1").unwrap(), None);
        store.remove("aws_security_group", "sg-1").unwrap();
    }

    #[test]
    fn calls_are_logged_one_line_each_and_marks_are_first_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store
            .record_call("create", "aws_s3_bucket", "a", "ok")
            .unwrap();
        store
            .record_call("create", "aws_s3_bucket", "b", "failed")
            .unwrap();
        let log = fs::read_to_string(dir.path().join(CALLS_LOG)).unwrap();
        assert_eq!(
            log,
            "create\taws_s3_bucket\ta\tok\ncreate\taws_s3_bucket\tb\tfailed\n"
        );
        assert!(store.first_mark("throttled", "x").unwrap());
        assert!(!store.first_mark("throttled", "x").unwrap());
    }

    #[test]
    fn arn_ids_map_to_flat_file_names() {
        let store = Store::new("/cloud");
        assert_eq!(
            store.path("aws_iam_policy", "arn:aws:iam::1:policy/p"),
            PathBuf::from("/cloud/aws_iam_policy/arn_aws_iam__1_policy_p.json")
        );
    }

    #[test]
    fn a_file_that_is_not_an_object_is_reported_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        fs::create_dir_all(dir.path().join("aws_s3_bucket")).unwrap();
        fs::write(dir.path().join("aws_s3_bucket/b.json"), "[1]").unwrap();
        let err = store.load("aws_s3_bucket", "b").unwrap_err();
        assert!(err.to_string().contains("found an array"), "{err}");
    }
}
