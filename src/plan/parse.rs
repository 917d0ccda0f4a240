//! Reading `terraform show -json` / `tofu show -json` text into a normalized
//! [`ChangeSet`], with errors that name the file and the place in it.
//!
//! The steps: check the format version first (so a future major version is
//! reported as such, not as a confusing shape error), deserialize the raw
//! types of [`super::json`] with the JSON path of any error, then normalize:
//! map action lists, mask sensitive values, drop unknown ones, compute the
//! attribute diff and the digest. Sensitive raw values live only inside this
//! function; what comes out has none.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::diff::{attr_diff, DiffInput, Step};
use super::digest::{digest, DigestEntry, DigestOutput, DigestText};
use super::json::{
    ChangeValues, RawChange, RawMode, RawPlan, RawProviderConfig, RawResourceChange,
};
use super::json_text::JsonText;
use super::model::{
    ChangeSet, DiffValue, Engine, Mode, OutputChange, ResourceChange, SensitiveValues,
    SENSITIVE_MASK, UNKNOWN_MARK,
};
use super::values::{
    canonical_digest_form, canonical_json, clean_marks, collapse_under, digest_form, drop_unknown,
    is_marked, marked_strings, mask, union_marks, Masked,
};
use super::Action;

/// The format versions this build reads: every 0.x (Terraform 0.12 to 1.0) and
/// every 1.x (Terraform 1.1+, OpenTofu). Terraform promises that minor versions
/// only add fields, so an unseen 1.x minor is accepted.
pub const SUPPORTED_FORMATS: &str = "0.1 to 1.x";

/// Why a plan could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(
        "{origin}:{line}:{column}: the plan is not valid JSON: {message}. \
         Pass the output of `terraform show -json <planfile>` (or `tofu show -json`), not the binary plan file"
    )]
    Syntax {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{origin}:{line}:{column}: `{path}` is missing or of the wrong type: {message}. \
         Is this the output of `terraform show -json <planfile>`?"
    )]
    Shape {
        origin: String,
        /// The JSON path, e.g. `resource_changes[3].change.actions`.
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{origin}: the plan file is empty. Did `terraform show -json <planfile>` fail before \
         writing it?"
    )]
    Empty { origin: String },
    #[error(
        "{origin}: plan format_version \"{found}\" is not supported; phasegate reads format versions \
         {SUPPORTED_FORMATS} (Terraform 0.12 to 1.x, OpenTofu 1.x). Use a phasegate release that \
         supports it, or an engine version that writes a supported format"
    )]
    UnsupportedVersion { origin: String, found: String },
    #[error(
        "{origin}: {address}: unknown action list {actions}; phasegate knows create, update, delete, \
         delete+create, create+delete, read, no-op, forget, create+forget and forget+create. \
         The plan was probably written by a newer engine than this phasegate release supports"
    )]
    UnknownActions {
        origin: String,
        address: String,
        actions: String,
    },
}

impl From<PlanError> for crate::error::Error {
    fn from(e: PlanError) -> Self {
        crate::error::Error::Input(e.to_string())
    }
}

/// Only the version, read before anything else.
#[derive(Deserialize)]
struct VersionProbe {
    #[serde(default)]
    format_version: Option<Value>,
}

/// Parses and normalizes the JSON plan text read from `origin` (a file name,
/// used only in error messages).
pub fn parse_plan_json(text: &str, origin: &str) -> Result<ChangeSet, PlanError> {
    // A byte-order mark is what Windows shells put in front of redirected
    // output; it says nothing about the plan.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(PlanError::Empty {
            origin: origin.to_owned(),
        });
    }
    // One pass over the bytes when the plan is well formed (the usual case):
    // the version is checked on the typed result. Only a plan that fails to
    // deserialize is read again, to say why in the best order: a syntax
    // error, then an unsupported version (a future major may change shape),
    // then the JSON path of the first shape error (path tracking costs about
    // a third of the parse, so it is not paid on success).
    if let Ok(raw) = serde_json::from_str::<RawPlan>(text) {
        check_version(Some(&Value::String(raw.format_version.clone())), origin)?;
        return normalize(raw, origin);
    }
    let probe: VersionProbe = serde_json::from_str(text).map_err(|e| located(e, origin, None))?;
    check_version(probe.format_version.as_ref(), origin)?;

    let mut de = serde_json::Deserializer::from_str(text);
    let raw: RawPlan = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        located(e.into_inner(), origin, Some(path))
    })?;
    normalize(raw, origin)
}

pub(super) fn located(e: serde_json::Error, origin: &str, path: Option<String>) -> PlanError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => PlanError::Shape {
            origin: origin.to_owned(),
            // serde_path_to_error names the document root ".".
            path: path.unwrap_or_else(|| ".".to_owned()),
            line: e.line(),
            column: e.column(),
            message: strip_position(&e),
        },
        _ => PlanError::Syntax {
            origin: origin.to_owned(),
            line: e.line(),
            column: e.column(),
            message: strip_position(&e),
        },
    }
}

/// serde_json appends " at line L column C"; the error already leads with it.
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

pub(super) fn check_version(found: Option<&Value>, origin: &str) -> Result<(), PlanError> {
    let Some(found) = found else {
        return Err(PlanError::Shape {
            origin: origin.to_owned(),
            path: "format_version".to_owned(),
            line: 1,
            column: 1,
            message: "the field is missing".to_owned(),
        });
    };
    let text = match found {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let unsupported = || PlanError::UnsupportedVersion {
        origin: origin.to_owned(),
        found: text.clone(),
    };
    let Value::String(s) = found else {
        return Err(unsupported());
    };
    let mut parts = s.split('.');
    let major = parts.next().and_then(|p| p.parse::<u32>().ok());
    let minor_ok = parts.next().is_some_and(|p| p.parse::<u32>().is_ok());
    match major {
        Some(0 | 1) if minor_ok && parts.next().is_none() => Ok(()),
        _ => Err(unsupported()),
    }
}

/// Maps an action list onto an [`Action`].
pub fn action_from_list(actions: &[String]) -> Option<Action> {
    let list: Vec<&str> = actions.iter().map(String::as_str).collect();
    Some(match list.as_slice() {
        ["create"] => Action::Create,
        ["update"] => Action::Update,
        ["delete"] => Action::Delete,
        ["delete", "create"] => Action::ReplaceDestroyFirst,
        ["create", "delete"] => Action::ReplaceCreateFirst,
        ["read"] => Action::Read,
        ["no-op"] => Action::NoOp,
        ["forget"] => Action::Forget,
        ["create", "forget"] | ["forget", "create"] => Action::CreateThenForget,
        _ => return None,
    })
}

/// The parsed values of one change; an error names the change.
fn values_of(change: &RawChange, origin: &str, address: &str) -> Result<ChangeValues, PlanError> {
    change.values().map_err(|e| PlanError::Shape {
        origin: origin.to_owned(),
        path: format!("{address} (change)"),
        line: 0,
        column: 0,
        message: strip_position(&e),
    })
}

fn action(change: &RawChange, origin: &str, address: &str) -> Result<Action, PlanError> {
    action_from_list(&change.actions).ok_or_else(|| PlanError::UnknownActions {
        origin: origin.to_owned(),
        address: address.to_owned(),
        actions: Value::from(change.actions.clone()).to_string(),
    })
}

fn normalize(raw: RawPlan, origin: &str) -> Result<ChangeSet, PlanError> {
    // Only OpenTofu spells this action forget-first.
    let tofu_action = raw
        .resource_changes
        .iter()
        .flatten()
        .any(|rc| rc.change.actions == ["forget", "create"]);
    let mut digest_resources = Vec::new();
    let mut resources = Vec::new();
    let mut secrets = Vec::new();
    for rc in raw.resource_changes.unwrap_or_default() {
        let (change, digest_form) = resource_change(rc, origin, &mut secrets)?;
        resources.push(change);
        digest_resources.push(digest_form);
    }
    let mut drift = Vec::new();
    for rc in raw.resource_drift.unwrap_or_default() {
        drift.push(resource_change(rc, origin, &mut secrets)?.0);
    }

    let sensitive_outputs = |values: Option<&super::json::RawValues>, name: &str| {
        values
            .and_then(|v| v.outputs.as_ref())
            .and_then(|o| o.get(name))
            .is_some_and(|o| o.sensitive)
    };
    let mut outputs = Vec::new();
    let mut digest_outputs = Vec::new();
    for (name, raw_change) in raw.output_changes.unwrap_or_default() {
        let action = action(&raw_change, origin, &format!("output.{name}"))?;
        let change = values_of(&raw_change, origin, &format!("output.{name}"))?;
        // Format 0.1 has no per-change marks: the output's own flag in
        // planned_values / prior_state then decides, for both sides.
        let declared = sensitive_outputs(raw.planned_values.as_ref(), &name)
            || sensitive_outputs(
                raw.prior_state.as_ref().and_then(|s| s.values.as_ref()),
                &name,
            );
        // As for resources, a mark on either side masks both.
        let marks = if declared {
            Value::Bool(true)
        } else {
            union_marks(
                &clean_marks(&change.before_sensitive),
                &clean_marks(&change.after_sensitive),
            )
        };
        let unknown = is_marked(&change.after_unknown);
        let after_known = drop_unknown(&change.after, &clean_marks(&change.after_unknown));
        marked_strings(&change.before, &marks, &mut secrets);
        marked_strings(&after_known, &marks, &mut secrets);
        outputs.push(OutputChange {
            name: name.clone(),
            action,
            before: output_side(&change.before, &marks, false),
            after: output_side(&after_known, &marks, unknown),
        });
        digest_outputs.push(DigestOutput {
            name,
            action,
            before: digest_form(&change.before, &marks),
            after: if unknown {
                json!({"unknown": true})
            } else {
                digest_form(&after_known, &marks)
            },
        });
    }

    let (provider_configs, root_module) = raw
        .configuration
        .map(|c| (c.provider_config, c.root_module))
        .unwrap_or_default();
    let references = super::references::collect(root_module);
    let provider_config = provider_configs
        .map(|configs| {
            Value::Object(
                configs
                    .into_iter()
                    .map(|(key, config)| (key, provider_config(config)))
                    .collect(),
            )
        })
        .unwrap_or_else(|| Value::Object(Map::new()));

    let engine = if tofu_action {
        Engine::Opentofu
    } else {
        detect_engine(
            raw.terraform_version.as_deref(),
            &resources,
            &provider_config,
        )
    };
    let digest = digest(digest_resources, digest_outputs);
    Ok(ChangeSet {
        format_version: raw.format_version,
        engine,
        engine_version: raw.terraform_version,
        resources,
        drift,
        outputs,
        errored: raw.errored,
        applyable: raw.applyable,
        complete: raw.complete,
        provider_config,
        references,
        digest,
        sensitive_values: SensitiveValues(secrets),
        groups: Default::default(),
    })
}

fn output_side(value: &Value, marks: &Value, unknown: bool) -> DiffValue {
    if unknown {
        DiffValue::Unknown
    } else if value.is_null() {
        DiffValue::Absent
    } else if is_marked(marks) {
        DiffValue::Sensitive
    } else {
        DiffValue::Known(JsonText::new(&mask(value, marks)))
    }
}

fn resource_change(
    rc: RawResourceChange,
    origin: &str,
    secrets: &mut Vec<String>,
) -> Result<(ResourceChange, DigestEntry), PlanError> {
    let action = action(&rc.change, origin, &rc.address)?;
    let c = values_of(&rc.change, origin, &rc.address)?;
    let (replace_paths, importing) = (rc.change.replace_paths, rc.change.importing);
    let after_sensitive = clean_marks(&c.after_sensitive);
    // A value sensitive on one side is masked on both: a value that only now
    // became sensitive (a variable newly marked) was the same secret before,
    // and one that stops being sensitive is still judged by its old mark.
    let sensitive = union_marks(&clean_marks(&c.before_sensitive), &after_sensitive);
    let after_unknown = clean_marks(&c.after_unknown);
    let replace_paths: Vec<Vec<Step>> = replace_paths
        .unwrap_or_default()
        .iter()
        .map(|p| p.iter().filter_map(Step::from_json).collect())
        .collect();
    let diff = attr_diff(&DiffInput {
        before: &c.before,
        before_sensitive: &sensitive,
        after: &c.after,
        after_sensitive: &sensitive,
        after_unknown: &after_unknown,
        replace_paths: &replace_paths,
    });
    let after_known = drop_unknown(&c.after, &after_unknown);
    marked_strings(&c.before, &sensitive, secrets);
    marked_strings(&after_known, &sensitive, secrets);
    // The unknown marks inside a sensitive node would name its map keys.
    let kept_unknown = collapse_under(&after_unknown, &sensitive);
    // Terraform 1.12+ may import by identity instead of ID, or with an ID
    // only known after apply.
    let importing = importing.map(|i| match (i.id, i.identity) {
        (Some(id), _) if !id.is_empty() => id,
        (_, Some(identity)) if !identity.is_null() => super::values::canonical_json(&identity),
        _ if i.unknown => UNKNOWN_MARK.to_owned(),
        _ => String::new(),
    });

    let unknown_text = JsonText::new(&kept_unknown);
    let digest = DigestText {
        address: rc.address.clone(),
        action,
        importing: importing.clone(),
        previous_address: rc.previous_address.clone(),
        deposed: rc.deposed.clone(),
        before: canonical_digest_form(&c.before, &sensitive),
        after: canonical_digest_form(&after_known, &sensitive),
        after_unknown: canonical_json(&kept_unknown),
    };
    let change = ResourceChange {
        module: rc.module_address,
        mode: match rc.mode {
            RawMode::Managed => Mode::Managed,
            RawMode::Data => Mode::Data,
        },
        resource_type: rc.resource_type,
        name: rc.name,
        index: rc.index,
        provider: rc.provider_name.unwrap_or_default(),
        action,
        action_reason: rc.action_reason,
        previous_address: rc.previous_address,
        importing,
        deposed: rc.deposed,
        before: JsonText::of(&Masked {
            value: &c.before,
            marks: &sensitive,
        }),
        after: JsonText::of(&Masked {
            value: &after_known,
            marks: &sensitive,
        }),
        after_unknown: unknown_text,
        after_sensitive: JsonText::new(&after_sensitive),
        diff,
        address: rc.address,
    };
    Ok((change, digest.entry()))
}

/// Keeps `name`, `full_name`, `alias`, `module_address` and the expressions.
fn provider_config(config: RawProviderConfig) -> Value {
    let mut out = Map::new();
    out.insert("name".to_owned(), Value::String(config.name));
    for (key, value) in [
        ("full_name", config.full_name),
        ("alias", config.alias),
        ("module_address", config.module_address),
    ] {
        if let Some(v) = value {
            out.insert(key.to_owned(), Value::String(v));
        }
    }
    out.insert(
        "expressions".to_owned(),
        Value::Object(
            config
                .expressions
                .as_ref()
                .map(block_expressions)
                .unwrap_or_default(),
        ),
    );
    Value::Object(out)
}

/// The expressions of one block, as `configuration` writes them: an
/// attribute is an expression object (`constant_value` and/or `references`);
/// a nested block is an object of the same kind (single), a list of them
/// (list, set) or an object of them by key (map).
///
/// Terraform writes a provider's `constant_value` in clear even for
/// attributes its schema calls sensitive (it has no marks in this part of the
/// document), so constants of credential-like attributes are replaced by
/// [`SENSITIVE_MASK`]: the secrets rule can still see that a credential is
/// hard-coded, and nothing can print it.
fn block_expressions(block: &Map<String, Value>) -> Map<String, Value> {
    block
        .iter()
        .filter_map(|(name, item)| {
            let kept = match item {
                Value::Object(e) if is_expression(e) => expression(name, e),
                Value::Object(nested) if nested.values().all(Value::is_object) => {
                    // A single nested block, or a map of blocks: both are
                    // objects whose members are expressions or blocks.
                    Value::Object(block_expressions(nested))
                }
                Value::Array(blocks) => Value::Array(
                    blocks
                        .iter()
                        .filter_map(Value::as_object)
                        .map(|b| Value::Object(block_expressions(b)))
                        .collect(),
                ),
                _ => return None,
            };
            Some((name.clone(), kept))
        })
        .collect()
}

fn is_expression(e: &Map<String, Value>) -> bool {
    e.keys().all(|k| k == "constant_value" || k == "references")
}

fn expression(name: &str, e: &Map<String, Value>) -> Value {
    let mut kept = Map::new();
    if let Some(constant) = e.get("constant_value") {
        let masked = if looks_like_credential(name) && !constant.is_null() {
            Value::String(SENSITIVE_MASK.to_owned())
        } else {
            constant.clone()
        };
        kept.insert("constant_value".to_owned(), masked);
    }
    if let Some(references) = e.get("references") {
        // References are addresses (`var.token`), never values.
        kept.insert("references".to_owned(), references.clone());
    }
    Value::Object(kept)
}

/// Attribute names that providers use for secrets.
fn looks_like_credential(name: &str) -> bool {
    const WORDS: [&str; 10] = [
        "secret",
        "password",
        "passphrase",
        "token",
        "private_key",
        "access_key",
        "api_key",
        "credentials",
        "client_certificate",
        "client_key",
    ];
    let name = name.to_ascii_lowercase();
    WORDS.iter().any(|w| name.contains(w))
}

/// OpenTofu writes the same document as Terraform, under the same key
/// (`terraform_version`) and the same format version. It is told apart by its
/// registry host in provider addresses (or its `["forget","create"]` action);
/// Terraform versions before 1.6 predate the fork.
pub(super) fn detect_engine(
    version: Option<&str>,
    resources: &[ResourceChange],
    providers: &Value,
) -> Engine {
    const TOFU_REGISTRY: &str = "registry.opentofu.org/";
    const TERRAFORM_REGISTRY: &str = "registry.terraform.io/";
    let mut names = resources.iter().map(|r| r.provider.as_str()).chain(
        providers
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
            .filter_map(|p| p.get("full_name").and_then(Value::as_str)),
    );
    let mut saw_terraform_registry = false;
    for name in names.by_ref() {
        if name.starts_with(TOFU_REGISTRY) {
            return Engine::Opentofu;
        }
        saw_terraform_registry |= name.starts_with(TERRAFORM_REGISTRY);
    }
    let predates_fork = version.is_some_and(|v| {
        let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(u32::MAX));
        matches!(
            (parts.next(), parts.next()),
            (Some(0), _) | (Some(1), Some(0..=5))
        )
    });
    if saw_terraform_registry || predates_fork {
        Engine::Terraform
    } else {
        Engine::Unknown
    }
}
