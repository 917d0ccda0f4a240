//! The store a command runs against, chosen at run time from the config and
//! the environment: a local directory or the repository's refs. An enum, not
//! a trait object, because [`Store`] has native `async fn`s.

use super::github::GitRefStore;
use super::local::LocalStore;
use super::{Object, Store, StoreError, Version};
use crate::github::OctoForge;

/// One of the two backends.
#[derive(Debug)]
pub enum AnyStore {
    Local(LocalStore),
    // Boxed: the client is large, and one store is made per command.
    Github(Box<GitRefStore<OctoForge>>),
}

impl Store for AnyStore {
    async fn read(&self, key: &str) -> Result<Option<Object>, StoreError> {
        match self {
            AnyStore::Local(s) => s.read(key).await,
            AnyStore::Github(s) => s.read(key).await,
        }
    }

    async fn write(
        &self,
        key: &str,
        expected: Option<&Version>,
        bytes: &[u8],
    ) -> Result<Version, StoreError> {
        match self {
            AnyStore::Local(s) => s.write(key, expected, bytes).await,
            AnyStore::Github(s) => s.write(key, expected, bytes).await,
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        match self {
            AnyStore::Local(s) => s.list(prefix).await,
            AnyStore::Github(s) => s.list(prefix).await,
        }
    }
}
