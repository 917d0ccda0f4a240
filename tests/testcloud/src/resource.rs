//! One tf-provider resource implementation serving every catalog type: it decodes Terraform's
//! values, applies the life-cycle rules and keeps the store in step with each apply.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use tf_provider::schema::Schema;
use tf_provider::value::{ValueAny, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::catalog::TypeSpec;
use crate::lifecycle;
use crate::store::{Store, StoreError};
use crate::values::{self, from_json, into_object, object_to_json, str_attr, Object};

/// The environment variable adding a delay (milliseconds) to every create, update and delete.
pub const DELAY_ENV: &str = "TESTCLOUD_DELAY_MS";

/// Settings from the provider block, shared with every resource once `configure` has run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub region: String,
}

pub type SharedSettings = Arc<RwLock<Settings>>;

pub struct CloudResource {
    spec: TypeSpec,
    settings: SharedSettings,
}

impl CloudResource {
    pub fn new(spec: TypeSpec, settings: SharedSettings) -> Self {
        Self { spec, settings }
    }

    fn type_name(&self) -> String {
        self.spec.type_name()
    }

    fn region(&self) -> String {
        self.settings
            .read()
            .map(|s| s.region.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().region.clone())
    }

    fn object(&self, diags: &mut Diagnostics, what: &str, value: ValueAny) -> Option<Object> {
        match into_object(value) {
            Ok(object) => Some(object),
            Err(e) => {
                diags.root_error(
                    format!("testcloud: bad {what} for {}", self.type_name()),
                    e.to_string(),
                );
                None
            }
        }
    }

    fn store(&self, diags: &mut Diagnostics) -> Option<Store> {
        store_or_report(diags)
    }

    fn id_of(&self, diags: &mut Diagnostics, object: &Object) -> Option<String> {
        match str_attr(object, "id") {
            Some(id) => Some(id.to_owned()),
            None => {
                diags.root_error(
                    format!("testcloud: {} has no id in its state", self.type_name()),
                    "The Terraform state lost this resource's id; remove it with `terraform state rm`.",
                );
                None
            }
        }
    }

    fn save(
        &self,
        diags: &mut Diagnostics,
        store: &Store,
        id: &str,
        object: &Object,
    ) -> Option<()> {
        let json = match object_to_json(object) {
            Ok(json) => json,
            Err(e) => {
                diags.root_error(
                    format!("testcloud: cannot store {} \"{id}\"", self.type_name()),
                    e.to_string(),
                );
                return None;
            }
        };
        match store.save(&self.type_name(), id, &json) {
            Ok(_) => Some(()),
            Err(e) => {
                report_store_error(diags, e);
                None
            }
        }
    }
}

impl CloudResource {
    /// Logs one create call in the store's `calls.log`.
    fn log_call(
        &self,
        diags: &mut Diagnostics,
        store: &Store,
        name: &str,
        outcome: &str,
    ) -> Option<()> {
        match store.record_call("create", &self.type_name(), name, outcome) {
            Ok(()) => Some(()),
            Err(e) => {
                report_store_error(diags, e);
                None
            }
        }
    }
}

pub fn store_or_report(diags: &mut Diagnostics) -> Option<Store> {
    match Store::from_env() {
        Ok(store) => Some(store),
        Err(e) => {
            report_store_error(diags, e);
            None
        }
    }
}

fn report_store_error(diags: &mut Diagnostics, e: StoreError) {
    diags.root_error("testcloud: storage failed", e.to_string());
}

/// Sleeps for `TESTCLOUD_DELAY_MS`, so tests can observe slow or interrupted applies.
async fn delay(diags: &mut Diagnostics) -> Option<()> {
    let Ok(raw) = std::env::var(DELAY_ENV) else {
        return Some(());
    };
    match raw.trim().parse::<u64>() {
        Ok(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Some(())
        }
        Err(_) => {
            diags.root_error(
                format!("testcloud: {DELAY_ENV} is not a number of milliseconds"),
                format!("It is \"{raw}\"; set it to e.g. 500, or unset it."),
            );
            None
        }
    }
}

#[async_trait]
impl Resource for CloudResource {
    type State<'a> = ValueAny;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(Schema {
            version: 1,
            block: (self.spec.block)(),
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: ValueAny) -> Option<()> {
        let config = self.object(diags, "configuration", config)?;
        if self.spec.short_name == "iam_policy" {
            if let Some(policy) = str_attr(&config, "policy") {
                if let Err(e) = serde_json::from_str::<serde_json::Value>(policy) {
                    diags.error(
                        "testcloud: the policy is not valid JSON",
                        format!("{e}; write it with jsonencode() or a heredoc"),
                        AttributePath::new("policy"),
                    );
                }
            }
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: ValueAny,
        private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(ValueAny, ValueEmpty)> {
        let prior = self.object(diags, "state", state)?;
        let id = self.id_of(diags, &prior)?;
        let store = self.store(diags)?;
        let stored = match store.load(&self.type_name(), &id) {
            Ok(Some(stored)) => stored,
            // Deleted out of band: Terraform then plans to create it again.
            Ok(None) => return None,
            Err(e) => {
                report_store_error(diags, e);
                return Some((ValueAny::Map(prior), private_state));
            }
        };
        let mut fresh = Object::new();
        for (k, v) in &stored {
            match from_json(k, v) {
                Ok(v) => {
                    fresh.insert(k.clone(), v);
                }
                Err(e) => diags.root_error(
                    format!(
                        "testcloud: {} \"{id}\" has a bad stored value",
                        self.type_name()
                    ),
                    format!("{e} (in {})", store.path(&self.type_name(), &id).display()),
                ),
            }
        }
        Some((
            ValueAny::Map(lifecycle::overlay(&prior, fresh)),
            private_state,
        ))
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed: ValueAny,
        _config: ValueAny,
        _meta: ValueEmpty,
    ) -> Option<(ValueAny, ValueEmpty)> {
        let proposed = self.object(diags, "proposed state", proposed)?;
        let planned = lifecycle::plan_create(&self.spec, proposed);
        Some((ValueAny::Map(planned), ValueEmpty::Null))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: ValueAny,
        proposed: ValueAny,
        _config: ValueAny,
        private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(ValueAny, ValueEmpty, Vec<AttributePath>)> {
        let prior = self.object(diags, "prior state", prior)?;
        let proposed = self.object(diags, "proposed state", proposed)?;
        let (planned, replace) = lifecycle::plan_update(&self.spec, &prior, proposed);
        let replace = replace.into_iter().map(AttributePath::new).collect();
        Some((ValueAny::Map(planned), private_state, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: ValueAny,
        private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<ValueEmpty> {
        Some(private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: ValueAny,
        _config: ValueAny,
        private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(ValueAny, ValueEmpty)> {
        let mut planned = self.object(diags, "planned state", planned)?;
        let store = self.store(diags)?;
        delay(diags).await?;
        let type_name = self.type_name();
        let name = lifecycle::display_name(&self.spec, &planned).unwrap_or_default();
        if let Some(marked) = lifecycle::transient_name(&self.spec, &planned) {
            match store.first_mark("throttled", &marked) {
                Ok(true) => {
                    self.log_call(diags, &store, &name, "throttled")?;
                    let (summary, detail) = lifecycle::throttled(&type_name, &marked);
                    diags.root_error(summary, detail);
                    return None;
                }
                Ok(false) => {}
                Err(e) => {
                    report_store_error(diags, e);
                    return None;
                }
            }
        }
        if let Some(detail) = lifecycle::injected_failure(&self.spec, &planned) {
            self.log_call(diags, &store, &name, "failed")?;
            diags.root_error(
                format!(
                    "testcloud: creating {} \"{}\" failed (injected failure)",
                    self.type_name(),
                    lifecycle::display_name(&self.spec, &planned).unwrap_or_default()
                ),
                detail,
            );
            return None;
        }
        let region = self.region();
        let id = match lifecycle::assign_identity(&self.spec, &region, &mut planned, |id| {
            store.exists(&type_name, id)
        }) {
            Ok(id) => id,
            Err(detail) => {
                diags.root_error(format!("testcloud: cannot create {type_name}"), detail);
                return None;
            }
        };
        self.save(diags, &store, &id, &planned)?;
        if lifecycle::loses_answer(&self.spec, &planned) {
            self.log_call(diags, &store, &name, "lost")?;
            diags.root_error(
                "Request cancelled",
                format!(
                    "testcloud created {type_name} {id} and dropped its answer: names containing \"{}\" \
                     do so on purpose, as a provider whose answer is lost after the cloud acted.",
                    lifecycle::LOST_ANSWER_MARKER
                ),
            );
            return None;
        }
        self.log_call(diags, &store, &name, "ok")?;
        Some((ValueAny::Map(planned), private_state))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: ValueAny,
        planned: ValueAny,
        _config: ValueAny,
        private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(ValueAny, ValueEmpty)> {
        let prior = self.object(diags, "prior state", prior)?;
        let planned = self.object(diags, "planned state", planned)?;
        let id = self.id_of(diags, &prior)?;
        let store = self.store(diags)?;
        delay(diags).await?;
        if !store.exists(&self.type_name(), &id) {
            diags.root_error(
                format!("testcloud: {} \"{id}\" no longer exists", self.type_name()),
                "It was deleted outside Terraform; run a new plan to create it again.",
            );
            return None;
        }
        self.save(diags, &store, &id, &planned)?;
        Some((ValueAny::Map(planned), private_state))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: ValueAny,
        _private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<()> {
        let prior = self.object(diags, "prior state", prior)?;
        let id = self.id_of(diags, &prior)?;
        let store = self.store(diags)?;
        delay(diags).await?;
        match store.remove(&self.type_name(), &id) {
            Ok(()) => Some(()),
            Err(e) => {
                report_store_error(diags, e);
                None
            }
        }
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(ValueAny, ValueEmpty)> {
        let store = self.store(diags)?;
        match store.load(&self.type_name(), &id) {
            Ok(Some(stored)) => match values::from_json("", &serde_json::Value::Object(stored)) {
                Ok(value) => Some((value, ValueEmpty::Null)),
                Err(e) => {
                    diags.root_error(
                        format!("testcloud: cannot import {} \"{id}\"", self.type_name()),
                        e.to_string(),
                    );
                    None
                }
            },
            Ok(None) => {
                diags.root_error(
                    format!("testcloud: cannot import {} \"{id}\"", self.type_name()),
                    format!(
                        "No such resource at {}",
                        store.path(&self.type_name(), &id).display()
                    ),
                );
                None
            }
            Err(e) => {
                report_store_error(diags, e);
                None
            }
        }
    }
}
