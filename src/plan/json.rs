//! The raw shape of `terraform show -json` / `tofu show -json` plan output, as
//! serde reads it, before normalization.
//!
//! One set of types covers every format version from 0.1 to 1.x: fields that
//! later versions added are optional here, and fields phasegate never needs
//! are not declared at all so serde skips them. In particular `variables`,
//! `planned_values` (except output sensitivity flags), `prior_state` (likewise)
//! and the `configuration` tree (except `provider_config`) are never held in
//! memory as values: `variables` carries sensitive variable values in clear text.
//!
//! A change's values and mark trees are kept as borrowed raw JSON text
//! ([`RawValue`]) and parsed one change at a time during normalization
//! ([`RawChange::values`]): a large plan then never holds every resource's
//! value trees at once, only the normalized result.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// The top-level plan document.
#[derive(Debug, Deserialize)]
pub struct RawPlan<'a> {
    pub format_version: String,
    /// The engine version; OpenTofu keeps Terraform's key name.
    #[serde(default)]
    pub terraform_version: Option<String>,
    #[serde(default, borrow)]
    pub resource_changes: Option<Vec<RawResourceChange<'a>>>,
    /// Format 1.0+ (Terraform 1.1+): changes made outside Terraform.
    #[serde(default, borrow)]
    pub resource_drift: Option<Vec<RawResourceChange<'a>>>,
    #[serde(default, borrow)]
    pub output_changes: Option<BTreeMap<String, RawChange<'a>>>,
    /// Only read for the `sensitive` flag of outputs (format 0.1 has no
    /// per-change sensitivity).
    #[serde(default)]
    pub planned_values: Option<RawValues>,
    /// Only read for the `sensitive` flag of outputs before the change.
    #[serde(default)]
    pub prior_state: Option<RawPriorState>,
    #[serde(default)]
    pub configuration: Option<RawConfiguration>,
    /// Terraform 1.5+ / OpenTofu: the plan stopped on an error.
    #[serde(default)]
    pub errored: Option<bool>,
    /// Terraform 1.8+: the plan can be applied.
    #[serde(default)]
    pub applyable: Option<bool>,
    /// Terraform 1.8+: no changes were deferred to a later plan.
    #[serde(default)]
    pub complete: Option<bool>,
}

/// One element of `resource_changes` or `resource_drift`.
#[derive(Debug, Deserialize)]
pub struct RawResourceChange<'a> {
    pub address: String,
    /// Format 1.1+: the address before a `moved` block or rename.
    #[serde(default)]
    pub previous_address: Option<String>,
    #[serde(default)]
    pub module_address: Option<String>,
    pub mode: RawMode,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub name: String,
    #[serde(default)]
    pub index: Option<Value>,
    #[serde(default)]
    pub provider_name: Option<String>,
    /// Set when the change is to a deposed object (create_before_destroy leftovers).
    #[serde(default)]
    pub deposed: Option<String>,
    #[serde(borrow)]
    pub change: RawChange<'a>,
    /// Format 1.0+: why the action was chosen (`replace_because_tainted`, ...).
    #[serde(default)]
    pub action_reason: Option<String>,
}

/// `managed` or `data`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawMode {
    Managed,
    Data,
}

/// A change object, for a resource or an output. The values and mark trees
/// stay raw text until [`RawChange::values`] parses them.
#[derive(Debug, Deserialize)]
pub struct RawChange<'a> {
    pub actions: Vec<String>,
    #[serde(default, borrow)]
    pub before: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub after: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub after_unknown: Option<&'a RawValue>,
    /// Format 0.2+: a tree of `true` marks (or one bool, for outputs).
    #[serde(default, borrow)]
    pub before_sensitive: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub after_sensitive: Option<&'a RawValue>,
    /// Format 1.1+: attribute paths whose change forces a replacement.
    #[serde(default)]
    pub replace_paths: Option<Vec<Vec<Value>>>,
    /// Format 1.2+ (Terraform 1.5+, OpenTofu 1.6+): the change imports the object.
    #[serde(default)]
    pub importing: Option<RawImporting>,
}

/// A change's values and mark trees, parsed (absent or `null`: `Value::Null`).
#[derive(Debug)]
pub struct ChangeValues {
    pub before: Value,
    pub after: Value,
    pub after_unknown: Value,
    pub before_sensitive: Value,
    pub after_sensitive: Value,
}

impl RawChange<'_> {
    /// Parses the values and mark trees. The text was already checked to be
    /// JSON while the plan was read, so this fails only past serde_json's
    /// nesting limit.
    pub fn values(&self) -> Result<ChangeValues, serde_json::Error> {
        let parse = |raw: Option<&RawValue>| match raw {
            Some(raw) => serde_json::from_str(raw.get()),
            None => Ok(Value::Null),
        };
        Ok(ChangeValues {
            before: parse(self.before)?,
            after: parse(self.after)?,
            after_unknown: parse(self.after_unknown)?,
            before_sensitive: parse(self.before_sensitive)?,
            after_sensitive: parse(self.after_sensitive)?,
        })
    }
}

/// `change.importing`: by ID, or (Terraform 1.12+) by resource identity.
#[derive(Debug, Deserialize)]
pub struct RawImporting {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub identity: Option<Value>,
    /// Terraform 1.9+: the import ID is only known after apply.
    #[serde(default)]
    pub unknown: bool,
}

/// `planned_values`, reduced to output sensitivity.
#[derive(Debug, Deserialize)]
pub struct RawValues {
    #[serde(default)]
    pub outputs: Option<BTreeMap<String, RawOutputValue>>,
}

/// `prior_state`, reduced to output sensitivity.
#[derive(Debug, Deserialize)]
pub struct RawPriorState {
    #[serde(default)]
    pub values: Option<RawValues>,
}

/// An output in `planned_values` or `prior_state`: only its flag is read.
#[derive(Debug, Deserialize)]
pub struct RawOutputValue {
    #[serde(default)]
    pub sensitive: bool,
}

/// `configuration`, reduced to the provider configurations.
#[derive(Debug, Deserialize)]
pub struct RawConfiguration {
    #[serde(default)]
    pub provider_config: Option<BTreeMap<String, RawProviderConfig>>,
    /// Read for expression `references` only (see `plan::references`).
    #[serde(default)]
    pub root_module: Option<super::references::RawModule>,
}

/// One provider configuration block.
#[derive(Debug, Deserialize)]
pub struct RawProviderConfig {
    pub name: String,
    /// Terraform 0.13+: `registry.terraform.io/hashicorp/aws`.
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub module_address: Option<String>,
    #[serde(default)]
    pub expressions: Option<serde_json::Map<String, Value>>,
}
