//! The normalized change set: what every other module reads.
//!
//! Values that Terraform marks sensitive are already masked here: no code
//! downstream of normalization can see them, so none can print them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::json_text::JsonText;

/// The text that stands in for a value Terraform marks sensitive.
pub const SENSITIVE_MASK: &str = "(sensitive value)";
/// The text that stands in for a value only known after apply.
pub const UNKNOWN_MARK: &str = "(known after apply)";

/// What Terraform will do to one resource instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
    /// `["delete","create"]`: the old object goes first.
    ReplaceDestroyFirst,
    /// `["create","delete"]`: the new object comes first.
    ReplaceCreateFirst,
    Read,
    NoOp,
    /// `["forget"]`: removed from state, left alive.
    Forget,
    /// `["create","forget"]` (Terraform) or `["forget","create"]` (OpenTofu).
    CreateThenForget,
}

impl Action {
    pub fn is_replace(self) -> bool {
        matches!(
            self,
            Action::ReplaceDestroyFirst | Action::ReplaceCreateFirst
        )
    }
    /// True when the real object is destroyed (delete or either replace order).
    pub fn destroys(self) -> bool {
        matches!(self, Action::Delete) || self.is_replace()
    }
}

/// `managed` resources or `data` sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Managed,
    Data,
}

/// One side of an attribute diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum DiffValue {
    /// The attribute does not exist on this side.
    Absent,
    /// The value, masked, as compact JSON text.
    Known(JsonText),
    /// Marked sensitive: the value itself is never kept.
    Sensitive,
    /// Only known after apply.
    Unknown,
}

/// One changed leaf (or changed whole value) of a resource, by attribute path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttrDiff {
    /// Dotted path with indices, e.g. `ingress[0].cidr_blocks[1]`.
    pub path: String,
    pub before: DiffValue,
    pub after: DiffValue,
    /// The attribute is listed in `replace_paths`.
    pub forces_replacement: bool,
}

/// One resource instance change, normalized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub address: String,
    /// `module.a.module.b`, or None at the root.
    pub module: Option<String>,
    pub mode: Mode,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub name: String,
    /// `count` or `for_each` key, when there is one.
    pub index: Option<Value>,
    pub provider: String,
    pub action: Action,
    pub action_reason: Option<String>,
    /// Set when the resource moved (a `moved` block or a rename).
    pub previous_address: Option<String>,
    /// The import ID when this change imports the object.
    pub importing: Option<String>,
    /// Deposed object key, for changes to deposed objects.
    pub deposed: Option<String>,
    /// The values before, with sensitive leaves replaced by [`SENSITIVE_MASK`].
    /// Kept as compact text (as are the three below): parse one resource's
    /// with [`JsonText::value`] when it is read.
    pub before: JsonText,
    /// The values after, sensitive leaves masked and unknown leaves absent
    /// (see `after_unknown`).
    pub after: JsonText,
    /// Terraform's `after_unknown` tree: `true` marks a leaf known after apply.
    pub after_unknown: JsonText,
    /// Terraform's `after_sensitive` tree: `true` marks a sensitive leaf.
    pub after_sensitive: JsonText,
    /// The leaf-level changes, in path order.
    pub diff: Vec<AttrDiff>,
}

impl ResourceChange {
    /// True when an import or move happens, whatever the action.
    pub fn is_import(&self) -> bool {
        self.importing.is_some()
    }
    pub fn is_move(&self) -> bool {
        self.previous_address
            .as_deref()
            .is_some_and(|p| p != self.address)
    }
}

/// A change to a root module output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputChange {
    pub name: String,
    pub action: Action,
    pub before: DiffValue,
    pub after: DiffValue,
}

/// Counts in Terraform's own sense: a replace is one add plus one destroy;
/// read and no-op count as nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    pub import: usize,
    #[serde(rename = "move")]
    pub moved: usize,
    pub forget: usize,
}

/// Which engine wrote the plan JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    Terraform,
    Opentofu,
    Unknown,
}

impl ChangeSet {
    /// The plan destroys or replaces something.
    pub fn destroys(&self) -> bool {
        self.resources.iter().any(|r| {
            matches!(
                r.action,
                Action::Delete | Action::ReplaceDestroyFirst | Action::ReplaceCreateFirst
            )
        })
    }

    /// Terraform reported errors while planning (`errored: true`): the plan
    /// is partial, its lack of changes means nothing, and it must never be
    /// applied. Every view says so first, and the phase result records it.
    pub fn plan_failed(&self) -> bool {
        self.errored == Some(true)
    }
}

/// A normalized plan: everything phasegate needs from `show -json`, with
/// sensitive values masked and raw variable values dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeSet {
    pub format_version: String,
    pub engine: Engine,
    pub engine_version: Option<String>,
    /// `resource_changes`, in Terraform's order, no-ops included.
    pub resources: Vec<ResourceChange>,
    /// `resource_drift`: changes made outside Terraform.
    pub drift: Vec<ResourceChange>,
    pub outputs: Vec<OutputChange>,
    pub errored: Option<bool>,
    pub applyable: Option<bool>,
    pub complete: Option<bool>,
    /// Provider configuration expressions by provider config key
    /// (`configuration.provider_config`), for regions and the secrets rule.
    /// Sensitive expressions are masked.
    pub provider_config: Value,
    /// What each resource's expressions refer to, from `configuration`
    /// (resource config address → attribute → referenced resources). Derived
    /// for the security gate; not part of the serialized change set.
    #[serde(skip)]
    pub references: super::references::References,
    /// sha256 over the canonical normalized change set, hex encoded.
    pub digest: String,
    /// The sensitive string values the plan held in clear, for the redactor
    /// only: never serialized, never shown.
    #[serde(skip)]
    pub sensitive_values: SensitiveValues,
    /// The change groups, computed once on first use by [`ChangeSet::groups`]
    /// and shared by every surface (comment, summary, `result.json`).
    #[serde(skip)]
    pub groups: GroupCache,
}

impl ChangeSet {
    /// The change groups of [`super::group::group_changes`], computed once:
    /// the comment, the summary and `result.json` all read these. A change
    /// set is not changed once read; one that is (a test building a plan by
    /// hand) must do so before the first call, or call `group_changes`.
    pub fn groups(&self) -> &[super::group::ChangeGroup] {
        self.groups
            .0
            .get_or_init(|| super::group::group_changes(self))
    }
}

/// The cache behind [`ChangeSet::groups`]: derived data, so it never makes
/// two change sets differ, and it is never serialized.
#[derive(Debug, Clone, Default)]
pub struct GroupCache(std::sync::OnceLock<Vec<super::group::ChangeGroup>>);

impl PartialEq for GroupCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Secrets held only to be masked: `Debug` prints how many, never what.
#[derive(Clone, Default, PartialEq)]
pub struct SensitiveValues(pub Vec<String>);

impl std::fmt::Debug for SensitiveValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SensitiveValues({} hidden)", self.0.len())
    }
}
