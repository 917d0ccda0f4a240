//! Conversions between Terraform's dynamic values (as tf-provider decodes them) and the plain
//! JSON the cloud stores, plus the small accessors the life-cycle rules need.

use std::collections::BTreeMap;

use serde_json::Value;
use tf_provider::value::ValueAny;

/// A resource object: attribute name to value.
pub type Object = BTreeMap<String, ValueAny>;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ValueError {
    #[error("`{0}` is still unknown; the cloud can only store known values")]
    Unknown(String),
    #[error("`{0}` holds {1}, but testcloud only stores whole numbers")]
    NotAnInteger(String, String),
    #[error("expected an object, found {0}")]
    NotAnObject(&'static str),
}

/// Turns a stored JSON value back into a Terraform value. `at` names the attribute for errors.
pub fn from_json(at: &str, value: &Value) -> Result<ValueAny, ValueError> {
    Ok(match value {
        Value::Null => ValueAny::Null,
        Value::Bool(b) => ValueAny::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => ValueAny::Number(i),
            None => return Err(ValueError::NotAnInteger(at.to_owned(), n.to_string())),
        },
        Value::String(s) => ValueAny::String(s.clone()),
        Value::Array(items) => ValueAny::List(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| from_json(&format!("{at}[{i}]"), v))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => ValueAny::Map(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), from_json(&format!("{at}.{k}"), v)?)))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Turns a fully known Terraform value into JSON. `at` names the attribute for errors.
pub fn to_json(at: &str, value: &ValueAny) -> Result<Value, ValueError> {
    Ok(match value {
        ValueAny::Null => Value::Null,
        ValueAny::Unknown => return Err(ValueError::Unknown(at.to_owned())),
        ValueAny::Bool(b) => Value::Bool(*b),
        ValueAny::Number(n) => Value::from(*n),
        ValueAny::String(s) => Value::String(s.clone()),
        ValueAny::List(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| to_json(&format!("{at}[{i}]"), v))
                .collect::<Result<_, _>>()?,
        ),
        ValueAny::Map(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), to_json(&join(at, k), v)?)))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// The JSON object stored for a resource.
pub fn object_to_json(object: &Object) -> Result<serde_json::Map<String, Value>, ValueError> {
    object
        .iter()
        .map(|(k, v)| Ok((k.clone(), to_json(k, v)?)))
        .collect()
}

/// The top-level object of a resource value.
pub fn into_object(value: ValueAny) -> Result<Object, ValueError> {
    match value {
        ValueAny::Map(map) => Ok(map),
        ValueAny::Null => Err(ValueError::NotAnObject("null")),
        ValueAny::Unknown => Err(ValueError::NotAnObject("an unknown value")),
        ValueAny::List(_) => Err(ValueError::NotAnObject("a list")),
        ValueAny::String(_) | ValueAny::Number(_) | ValueAny::Bool(_) => {
            Err(ValueError::NotAnObject("a primitive value"))
        }
    }
}

/// The attribute as a string, when it is a known string.
pub fn str_attr<'o>(object: &'o Object, name: &str) -> Option<&'o str> {
    match object.get(name) {
        Some(ValueAny::String(s)) => Some(s),
        _ => None,
    }
}

/// The attribute's value, absent attributes reading as null.
pub fn attr<'o>(object: &'o Object, name: &str) -> &'o ValueAny {
    const NULL: &ValueAny = &ValueAny::Null;
    object.get(name).unwrap_or(NULL)
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trip_keeps_nested_blocks_and_maps() {
        let stored = json!({
            "bucket": "logs",
            "versioning": [{"enabled": true, "mfa_delete": null}],
            "tags": {"env": "dev"},
            "size": 20,
        });
        let value = from_json("", &stored).unwrap();
        assert_eq!(to_json("", &value).unwrap(), stored);
    }

    #[test]
    fn unknown_values_cannot_be_stored() {
        let mut object = Object::new();
        object.insert("id".into(), ValueAny::Unknown);
        assert_eq!(
            object_to_json(&object).unwrap_err(),
            ValueError::Unknown("id".into())
        );
    }

    #[test]
    fn fractional_numbers_are_refused_with_their_path() {
        let err = from_json("root_block_device", &json!([{"volume_size": 1.5}])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`root_block_device[0].volume_size` holds 1.5, but testcloud only stores whole numbers"
        );
    }
}
