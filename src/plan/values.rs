//! Walking a value together with Terraform's mark trees (`*_sensitive`,
//! `after_unknown`): masking sensitive leaves, dropping unknown ones, and the
//! digest's stand-in for a sensitive leaf.
//!
//! A mark tree mirrors the value: `true` marks the node (and everything under
//! it), an object or array holds marks for children, anything else means
//! "not marked". When a mark tree and its value disagree in shape, the code
//! fails closed: a node whose marks contain any `true` is masked whole.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::model::SENSITIVE_MASK;

/// The mark for a node that has none.
pub(crate) static NO_MARK: Value = Value::Null;

pub(crate) fn is_marked(marks: &Value) -> bool {
    matches!(marks, Value::Bool(true))
}

/// True when `marks` holds a `true` anywhere.
pub(crate) fn any_marked(marks: &Value) -> bool {
    match marks {
        Value::Bool(b) => *b,
        Value::Object(m) => m.values().any(any_marked),
        Value::Array(a) => a.iter().any(any_marked),
        _ => false,
    }
}

/// The marks for an object member.
pub(crate) fn member<'a>(marks: &'a Value, key: &str) -> &'a Value {
    match marks {
        Value::Object(m) => m.get(key).unwrap_or(&NO_MARK),
        _ => &NO_MARK,
    }
}

/// The marks for an array element.
pub(crate) fn element(marks: &Value, index: usize) -> &Value {
    match marks {
        Value::Array(a) => a.get(index).unwrap_or(&NO_MARK),
        _ => &NO_MARK,
    }
}

/// Keeps only the structure and the `true` leaves of a mark tree, so that a
/// malformed plan cannot smuggle values through a field meant for booleans.
pub(crate) fn clean_marks(marks: &Value) -> Value {
    match marks {
        Value::Bool(true) => Value::Bool(true),
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| any_marked(v))
                .map(|(k, v)| (k.clone(), clean_marks(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(clean_marks).collect()),
        _ => Value::Bool(false),
    }
}

/// The marks of either tree: a node is marked when either marks it.
pub(crate) fn union_marks(a: &Value, b: &Value) -> Value {
    if is_marked(a) || is_marked(b) {
        return Value::Bool(true);
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut merged = x.clone();
            for (k, v) in y {
                let joined = union_marks(member(a, k), v);
                merged.insert(k.clone(), joined);
            }
            Value::Object(merged)
        }
        (Value::Array(x), Value::Array(y)) => Value::Array(
            (0..x.len().max(y.len()))
                .map(|i| union_marks(element(a, i), element(b, i)))
                .collect(),
        ),
        (Value::Object(_) | Value::Array(_), _) => a.clone(),
        _ => b.clone(),
    }
}

/// The mark tree `inner` with every subtree under a node `outer` flags
/// collapsed to one `true` (when it held any) or removed: its structure
/// cannot then reveal the keys inside a sensitive value.
pub(crate) fn collapse_under(inner: &Value, outer: &Value) -> Value {
    if is_marked(outer) {
        return Value::Bool(any_marked(inner));
    }
    match (inner, outer) {
        (Value::Object(m), Value::Object(_)) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), collapse_under(v, member(outer, k))))
                .filter(|(_, v)| *v != Value::Bool(false))
                .collect(),
        ),
        (Value::Array(a), Value::Array(_)) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, v)| collapse_under(v, element(outer, i)))
                .collect(),
        ),
        _ => inner.clone(),
    }
}

/// `value` with every node `marks` flags replaced by [`SENSITIVE_MASK`].
pub(crate) fn mask(value: &Value, marks: &Value) -> Value {
    replace_marked(value, marks, &|_| Value::String(SENSITIVE_MASK.to_owned()))
}

/// Appends every string under a node `marks` flags to `out`: the values
/// Terraform calls sensitive, for the caller to hand to the redactor so that
/// an engine message quoting one (a failed apply) is masked too. Walks the
/// value as [`mask`] does, without copying it.
pub(crate) fn marked_strings(value: &Value, marks: &Value, out: &mut Vec<String>) {
    if value.is_null() {
        return;
    }
    if is_marked(marks) {
        return strings_in(value, out);
    }
    match (value, marks) {
        (Value::Object(v), Value::Object(_)) => {
            for (k, x) in v {
                marked_strings(x, member(marks, k), out);
            }
        }
        (Value::Array(v), Value::Array(_)) => {
            for (i, x) in v.iter().enumerate() {
                marked_strings(x, element(marks, i), out);
            }
        }
        // Shape mismatch: fail closed.
        _ if any_marked(marks) => strings_in(value, out),
        _ => {}
    }
}

/// [`mask`] as a serializable view: serializing it writes the bytes
/// serializing `mask(value, marks)` writes, without building that tree.
pub(crate) struct Masked<'a> {
    pub value: &'a Value,
    pub marks: &'a Value,
}

impl serde::Serialize for Masked<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        let (value, marks) = (self.value, self.marks);
        if value.is_null() {
            return s.serialize_unit();
        }
        if is_marked(marks) {
            return s.serialize_str(SENSITIVE_MASK);
        }
        match (value, marks) {
            (Value::Object(v), Value::Object(_)) => {
                let mut map = s.serialize_map(Some(v.len()))?;
                for (k, x) in v {
                    let marks = member(marks, k);
                    map.serialize_entry(k, &Masked { value: x, marks })?;
                }
                map.end()
            }
            (Value::Array(v), Value::Array(_)) => {
                let mut seq = s.serialize_seq(Some(v.len()))?;
                for (i, x) in v.iter().enumerate() {
                    let marks = element(marks, i);
                    seq.serialize_element(&Masked { value: x, marks })?;
                }
                seq.end()
            }
            _ if any_marked(marks) => s.serialize_str(SENSITIVE_MASK),
            _ => value.serialize(s),
        }
    }
}

fn strings_in(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings_in(v, out)),
        // Keys stay: in a wholly sensitive block they are the schema's
        // attribute names, and masking `name` everywhere would hide nothing.
        Value::Object(m) => m.values().for_each(|v| strings_in(v, out)),
        _ => {}
    }
}

/// `value` with every node `marks` flags replaced by an object naming the
/// sha256 of its canonical JSON: changes when the secret changes, and carries
/// no part of it. Only the digest ever sees this form.
pub(crate) fn digest_form(value: &Value, marks: &Value) -> Value {
    replace_marked(value, marks, &|secret| {
        let hash = hex::encode(Sha256::digest(canonical_json(secret).as_bytes()));
        let mut stand_in = Map::new();
        stand_in.insert("sensitive_sha256".to_owned(), Value::String(hash));
        Value::Object(stand_in)
    })
}

/// The canonical JSON text ([`canonical_json`]) of `digest_form(value,
/// marks)`, written straight from the value and its marks without building
/// the digest form's tree.
pub(crate) fn canonical_digest_form(value: &Value, marks: &Value) -> String {
    let mut out = Vec::new();
    write_digest_form(value, marks, &mut out);
    String::from_utf8(out).expect("canonical JSON is UTF-8")
}

fn write_digest_form(value: &Value, marks: &Value, out: &mut Vec<u8>) {
    // As `replace_marked`: null stays null, a marked node becomes its stand-in.
    if value.is_null() {
        out.extend_from_slice(b"null");
        return;
    }
    if is_marked(marks) {
        return write_sensitive_stand_in(value, out);
    }
    match (value, marks) {
        (Value::Object(v), Value::Object(_)) => write_sorted_object(v, out, |k, x, out| {
            write_digest_form(x, member(marks, k), out)
        }),
        (Value::Array(v), Value::Array(_)) => write_array(v, out, |i, x, out| {
            write_digest_form(x, element(marks, i), out)
        }),
        _ if any_marked(marks) => write_sensitive_stand_in(value, out),
        _ => write_canonical(value, out),
    }
}

/// `{"sensitive_sha256":"<hex>"}`, canonical, for a sensitive node.
fn write_sensitive_stand_in(secret: &Value, out: &mut Vec<u8>) {
    let hash = hex::encode(Sha256::digest(canonical_json(secret).as_bytes()));
    out.extend_from_slice(b"{\"sensitive_sha256\":\"");
    out.extend_from_slice(hash.as_bytes());
    out.extend_from_slice(b"\"}");
}

fn replace_marked(value: &Value, marks: &Value, stand_in: &dyn Fn(&Value) -> Value) -> Value {
    // Null holds nothing to hide, and stays null so that "no value" (the
    // before of a create, the after of a delete) keeps its meaning.
    if value.is_null() {
        return Value::Null;
    }
    if is_marked(marks) {
        return stand_in(value);
    }
    match (value, marks) {
        (Value::Object(v), Value::Object(_)) => Value::Object(
            v.iter()
                .map(|(k, x)| (k.clone(), replace_marked(x, member(marks, k), stand_in)))
                .collect(),
        ),
        (Value::Array(v), Value::Array(_)) => Value::Array(
            v.iter()
                .enumerate()
                .map(|(i, x)| replace_marked(x, element(marks, i), stand_in))
                .collect(),
        ),
        // Shape mismatch: fail closed.
        _ if any_marked(marks) => stand_in(value),
        _ => value.clone(),
    }
}

/// `value` without the nodes `unknown` flags: object members are removed,
/// array elements become null so that later indices keep their meaning.
pub(crate) fn drop_unknown(value: &Value, unknown: &Value) -> Value {
    if is_marked(unknown) {
        return Value::Null;
    }
    match (value, unknown) {
        (Value::Object(v), Value::Object(_)) => Value::Object(
            v.iter()
                .filter(|(k, _)| !is_marked(member(unknown, k)))
                .map(|(k, x)| (k.clone(), drop_unknown(x, member(unknown, k))))
                .collect(),
        ),
        (Value::Array(v), Value::Array(_)) => Value::Array(
            v.iter()
                .enumerate()
                .map(|(i, x)| drop_unknown(x, element(unknown, i)))
                .collect(),
        ),
        _ => value.clone(),
    }
}

/// JSON with object keys sorted at every level and no whitespace: the same
/// text for the same value, whatever the key order of the input.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    // serde_json writes only valid UTF-8.
    String::from_utf8(out).expect("canonical JSON is UTF-8")
}

/// Strings and scalars are written by serde_json's own serializer (the same
/// escapes as `Value::to_string`), straight into `out`, without a temporary
/// string per key and leaf.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(m) => write_sorted_object(m, out, |_, v, out| write_canonical(v, out)),
        Value::Array(a) => write_array(a, out, |_, x, out| write_canonical(x, out)),
        scalar => serde_json::to_writer(&mut *out, scalar).expect("writing to memory"),
    }
}

/// `{...}` with the keys sorted and no whitespace, each member's value
/// written by `value`.
fn write_sorted_object(
    m: &Map<String, Value>,
    out: &mut Vec<u8>,
    mut value: impl FnMut(&str, &Value, &mut Vec<u8>),
) {
    let mut entries: Vec<(&String, &Value)> = m.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, k).expect("writing to memory");
        out.push(b':');
        value(k, v, out);
    }
    out.push(b'}');
}

/// `[...]` without whitespace, each element written by `element`.
fn write_array(
    a: &[Value],
    out: &mut Vec<u8>,
    mut element: impl FnMut(usize, &Value, &mut Vec<u8>),
) {
    out.push(b'[');
    for (i, x) in a.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        element(i, x, out);
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masked_view_writes_the_text_of_the_masked_tree_and_secrets_are_found_without_it() {
        let value = json!({"a": "x", "b": {"c": "secret", "d": null}, "e": ["s1", "ok", null],
            "f": {"g": [1, "deep"]}, "h": "mismatch", "n": null});
        for marks in [
            json!({"b": {"c": true, "d": true}, "e": [true, false, true], "f": true, "h": {"x": true}, "n": true}),
            json!(true),
            json!(false),
            json!({"e": {"0": true}}),
            json!([true]),
        ] {
            let view = serde_json::to_string(&Masked {
                value: &value,
                marks: &marks,
            })
            .unwrap();
            assert_eq!(view, mask(&value, &marks).to_string(), "marks {marks}");
            let mut walked = Vec::new();
            marked_strings(&value, &marks, &mut walked);
            let found = std::cell::RefCell::new(Vec::new());
            replace_marked(&value, &marks, &|secret| {
                strings_in(secret, &mut found.borrow_mut());
                Value::Null
            });
            assert_eq!(walked, found.into_inner(), "marks {marks}");
        }
    }

    #[test]
    fn canonical_digest_form_is_the_canonical_text_of_the_digest_form() {
        let value = json!({"z": "x", "b": {"c": "secret", "d": null, "a": 1.5}, "e": ["s1", "ok", null],
            "f": {"g": [1, "deep"]}, "h": "mismatch", "n": null, "é\"": {"y": true, "x": []}});
        for marks in [
            json!({"b": {"c": true, "d": true}, "e": [true, false, true], "f": true, "h": {"x": true}, "n": true}),
            json!(true),
            json!(false),
            json!({"e": {"0": true}}),
            json!([true]),
        ] {
            assert_eq!(
                canonical_digest_form(&value, &marks),
                canonical_json(&digest_form(&value, &marks)),
                "marks {marks}"
            );
        }
        assert_eq!(canonical_digest_form(&Value::Null, &json!(true)), "null");
    }

    #[test]
    fn mask_replaces_marked_leaves_and_whole_marked_containers() {
        let value =
            json!({"a": "x", "b": {"c": "secret", "d": "ok"}, "e": ["s1", "ok"], "f": {"g": 1}});
        let marks = json!({"b": {"c": true}, "e": [true, false], "f": true});
        assert_eq!(
            mask(&value, &marks),
            json!({"a": "x", "b": {"c": SENSITIVE_MASK, "d": "ok"}, "e": [SENSITIVE_MASK, "ok"], "f": SENSITIVE_MASK})
        );
    }

    #[test]
    fn mask_fails_closed_when_marks_and_value_disagree_in_shape() {
        let value = json!({"a": "secret-as-string"});
        let marks = json!({"a": {"nested": true}});
        assert_eq!(mask(&value, &marks), json!({"a": SENSITIVE_MASK}));
    }

    #[test]
    fn digest_form_hides_the_secret_but_follows_it() {
        let one = digest_form(&json!({"p": "hunter2"}), &json!({"p": true}));
        let two = digest_form(&json!({"p": "hunter3"}), &json!({"p": true}));
        assert!(!canonical_json(&one).contains("hunter2"));
        assert_ne!(one, two);
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a: Value =
            serde_json::from_str(r#"{"b": {"y": 1, "x": [2, {"q": 1, "p": 2}]}, "a": "s"}"#)
                .unwrap();
        assert_eq!(
            canonical_json(&a),
            r#"{"a":"s","b":{"x":[2,{"p":2,"q":1}],"y":1}}"#
        );
    }

    #[test]
    fn clean_marks_keeps_only_true_leaves() {
        let marks = json!({"a": true, "b": "leaked value", "c": {"d": false, "e": true}, "f": [false, true]});
        assert_eq!(
            clean_marks(&marks),
            json!({"a": true, "c": {"e": true}, "f": [false, true]})
        );
    }

    #[test]
    fn union_marks_marks_what_either_side_marks() {
        let before = json!({"a": true, "b": {"c": true}, "l": [false, true]});
        let after = json!({"b": {"d": true}, "e": true, "l": [true]});
        assert_eq!(
            union_marks(&before, &after),
            json!({"a": true, "b": {"c": true, "d": true}, "l": [true, true], "e": true})
        );
        assert_eq!(
            union_marks(&json!(false), &json!({"x": true})),
            json!({"x": true})
        );
    }

    #[test]
    fn collapse_under_hides_keys_inside_sensitive_nodes() {
        let unknown = json!({"id": true, "secret_map": {"CANARY-key": true}, "plain": {"k": true}});
        let sensitive = json!({"secret_map": true});
        assert_eq!(
            collapse_under(&unknown, &sensitive),
            json!({"id": true, "secret_map": true, "plain": {"k": true}})
        );
    }

    #[test]
    fn drop_unknown_removes_members_and_nulls_elements() {
        let value = json!({"id": null, "tags": {"a": "1"}, "list": ["x", "y"]});
        let unknown = json!({"id": true, "list": [false, true]});
        assert_eq!(
            drop_unknown(&value, &unknown),
            json!({"tags": {"a": "1"}, "list": ["x", null]})
        );
    }
}
