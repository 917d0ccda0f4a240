//! GitHub's OpenAPI description as a request checker: finds the operation a
//! request targets and validates its query and JSON body against it.
//!
//! The 13 MB description is parsed once per process; a body validator is
//! compiled the first time its operation is used and cached after that.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use jsonschema::{Draft, Validator};
use serde_json::{json, Map, Value};

/// Where the description lives: `FAKEHUB_OPENAPI`, or the repository's
/// `.tools/openapi` install (scripts/install-test-deps.sh).
fn description_path() -> PathBuf {
    if let Some(p) = std::env::var_os("FAKEHUB_OPENAPI") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../.tools/openapi/node_modules/@octokit/openapi/generated/api.github.com.json")
}

/// One operation of the description.
pub struct Operation {
    pub method: String,
    pub template: String,
    segments: Vec<Segment>,
    query: HashSet<String>,
    body: Option<Value>,
    body_required: bool,
    validator: OnceLock<Result<Validator, String>>,
    /// JSON response schemas by status code (`200`, `201`, ...).
    responses: BTreeMap<String, Value>,
    response_validators:
        std::sync::Mutex<BTreeMap<String, std::sync::Arc<Result<Validator, String>>>>,
}

enum Segment {
    Literal(String),
    Param,
    /// A trailing `{ref}`: git ref names contain slashes.
    Rest,
}

/// The parsed description.
pub struct Spec {
    doc: Value,
    ops: Vec<Operation>,
}

/// The process-wide description, parsed on first use.
pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = description_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "fakehub: cannot read GitHub's OpenAPI description at {}: {e}; \
                 run scripts/install-test-deps.sh or set FAKEHUB_OPENAPI",
                path.display()
            )
        });
        let doc: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("fakehub: {} is not JSON: {e}", path.display()));
        Spec::new(doc)
    })
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

impl Spec {
    fn new(doc: Value) -> Spec {
        let mut ops = Vec::new();
        let paths = doc["paths"].as_object().cloned().unwrap_or_default();
        for (template, item) in &paths {
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let mut query = HashSet::new();
                let params = item["parameters"]
                    .as_array()
                    .into_iter()
                    .chain(op["parameters"].as_array())
                    .flatten();
                for p in params {
                    let p = resolve(&doc, p);
                    if p["in"] == "query" {
                        if let Some(n) = p["name"].as_str() {
                            query.insert(n.to_owned());
                        }
                    }
                }
                let rb = op.get("requestBody").map(|rb| resolve(&doc, rb).clone());
                let body = rb
                    .as_ref()
                    .and_then(|rb| rb["content"]["application/json"].get("schema").cloned());
                let body_required = rb.as_ref().is_some_and(|rb| rb["required"] == true);
                let responses = op["responses"]
                    .as_object()
                    .map(|r| {
                        r.iter()
                            .filter_map(|(status, resp)| {
                                let resp = resolve(&doc, resp);
                                let schema =
                                    resp["content"]["application/json"].get("schema")?.clone();
                                Some((status.clone(), schema))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                ops.push(Operation {
                    method: method.to_uppercase(),
                    template: template.clone(),
                    segments: parse_segments(template),
                    query,
                    body,
                    body_required,
                    validator: OnceLock::new(),
                    responses,
                    response_validators: Default::default(),
                });
            }
        }
        Spec { doc, ops }
    }

    /// The operation `method path` targets, preferring literal segments over
    /// parameters (`issues/comments` over `issues/{issue_number}`).
    pub fn find(&self, method: &str, path: &str) -> Option<&Operation> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        self.ops
            .iter()
            .filter(|op| op.method == method)
            .filter_map(|op| op.score(&parts).map(|s| (s, op)))
            .max_by_key(|(s, _)| *s)
            .map(|(_, op)| op)
    }

    /// Problems with a request to `op`: unknown query parameters and a body
    /// the request-body schema rejects.
    pub fn check(&self, op: &Operation, query: &[(String, String)], body: &[u8]) -> Vec<String> {
        let mut problems = Vec::new();
        for (k, _) in query {
            if !op.query.contains(k) {
                problems.push(format!("query parameter `{k}` is not defined"));
            }
        }
        let Some(schema) = &op.body else {
            if !body.is_empty() && op.method != "DELETE" {
                problems.push("the operation takes no request body".to_owned());
            }
            return problems;
        };
        if body.is_empty() {
            if op.body_required {
                problems.push("the request body is required".to_owned());
            }
            return problems;
        }
        let instance: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("the body is not JSON: {e}"));
                return problems;
            }
        };
        let validator = op.validator.get_or_init(|| self.compile(schema));
        match validator {
            Ok(v) => {
                for e in v.iter_errors(&instance) {
                    problems.push(format!("body {}: {e}", e.instance_path()));
                }
            }
            Err(e) => problems.push(format!("cannot compile the body schema: {e}")),
        }
        problems
    }

    /// Problems with the fake's own answer to `op`: a JSON body the
    /// description's response schema for that status rejects. Statuses the
    /// description does not list for the operation are problems too.
    pub fn check_response(&self, op: &Operation, status: u16, body: Option<&Value>) -> Vec<String> {
        let key = status.to_string();
        let Some(schema) = op.responses.get(&key) else {
            return match body {
                Some(_) if (200..300).contains(&status) && !op.responses.is_empty() => {
                    vec![format!("the description lists no JSON response {status}")]
                }
                _ => vec![],
            };
        };
        let Some(body) = body else {
            return vec![format!("response {status} must have a JSON body")];
        };
        let validator = {
            let mut cache = op
                .response_validators
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            cache
                .entry(key)
                .or_insert_with(|| std::sync::Arc::new(self.compile(schema)))
                .clone()
        };
        match validator.as_ref() {
            Ok(v) => v
                .iter_errors(body)
                .take(5)
                .map(|e| format!("response {status} {}: {e}", e.instance_path()))
                .collect(),
            Err(e) => vec![format!("cannot compile the response schema: {e}")],
        }
    }

    /// Builds a self-contained JSON Schema: the body schema plus every
    /// component it reaches, with OpenAPI's `nullable` rewritten.
    fn compile(&self, schema: &Value) -> Result<Validator, String> {
        let mut wanted = BTreeSet::new();
        let root_schema = convert(schema, &mut wanted);
        let mut done = BTreeMap::new();
        while let Some(r) = wanted.iter().find(|r| !done.contains_key(*r)).cloned() {
            let target = self
                .doc
                .pointer(r.trim_start_matches('#'))
                .ok_or_else(|| format!("dangling $ref {r}"))?;
            let converted = convert(target, &mut wanted);
            done.insert(r, converted);
        }
        let mut components = Value::Object(Map::new());
        for (r, v) in done {
            let mut at = &mut components;
            let keys: Vec<&str> = r.trim_start_matches("#/").split('/').collect();
            for (i, k) in keys.iter().enumerate() {
                let obj = at.as_object_mut().expect("components are objects");
                if i == keys.len() - 1 {
                    obj.insert((*k).to_owned(), v.clone());
                    break;
                }
                at = obj.entry(*k).or_insert_with(|| json!({}));
            }
        }
        let mut root = components;
        // `$ref` siblings are ignored in draft 7: wrap the body schema.
        root["allOf"] = json!([root_schema]);
        jsonschema::options()
            .with_draft(Draft::Draft7)
            .should_validate_formats(false)
            .build(&root)
            .map_err(|e| e.to_string())
    }
}

fn parse_segments(template: &str) -> Vec<Segment> {
    let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let last = parts.len() - 1;
    parts
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if *s == "{ref}" && i == last {
                Segment::Rest
            } else if s.starts_with('{') {
                Segment::Param
            } else {
                Segment::Literal((*s).to_owned())
            }
        })
        .collect()
}

impl Operation {
    fn score(&self, parts: &[&str]) -> Option<usize> {
        let mut literals = 0;
        for (i, seg) in self.segments.iter().enumerate() {
            match seg {
                Segment::Rest => return (parts.len() > i).then_some(literals),
                Segment::Literal(l) => {
                    if parts.get(i) != Some(&l.as_str()) {
                        return None;
                    }
                    literals += 1;
                }
                Segment::Param => {
                    if parts.get(i).is_none_or(|p| p.is_empty()) {
                        return None;
                    }
                }
            }
        }
        (parts.len() == self.segments.len()).then_some(literals)
    }
}

fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or(&Value::Null),
        None => v,
    }
}

/// Rewrites one OpenAPI 3.0 schema into JSON Schema, collecting `$ref`s.
fn convert(v: &Value, wanted: &mut BTreeSet<String>) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(|i| convert(i, wanted)).collect()),
        Value::Object(obj) => {
            if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
                wanted.insert(r.to_owned());
            }
            let mut out = Map::new();
            for (k, val) in obj {
                match k.as_str() {
                    "nullable" | "example" | "examples" | "discriminator" | "xml"
                    | "externalDocs" => {}
                    // Property names are data, not keywords.
                    "properties" => {
                        let props = val
                            .as_object()
                            .map(|p| {
                                p.iter()
                                    .map(|(n, s)| (n.clone(), convert(s, wanted)))
                                    .collect::<Map<_, _>>()
                            })
                            .unwrap_or_default();
                        out.insert(k.clone(), Value::Object(props));
                    }
                    _ => {
                        out.insert(k.clone(), convert(val, wanted));
                    }
                }
            }
            if obj.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::Array(e)) = out.get_mut("enum") {
                    e.push(Value::Null);
                }
                match out.get("type").cloned() {
                    Some(Value::String(t)) => {
                        out.insert("type".into(), json!([t, "null"]));
                    }
                    _ => return json!({ "anyOf": [Value::Object(out), { "type": "null" }] }),
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}
