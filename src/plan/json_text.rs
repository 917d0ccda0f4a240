//! A JSON value kept as its compact text, parsed only when read.
//!
//! A change set holds every resource's masked `before` and `after` and its
//! mark trees. As `serde_json::Value` trees they took about twice the plan
//! file; as compact text they take about as much as the values themselves.
//! A reader (a gate rule, the cost gate) parses one resource's value when it
//! needs it and drops it after, so the trees of all resources are never
//! alive together.
//!
//! Serialized by serde_json's compact writer the text is copied as it is:
//! the same bytes serializing the `Value` it was made from writes (keys keep
//! their order). Any other serializer (pretty JSON, `to_value`, YAML, a
//! template's values, snapshots) is given the parsed value, so it sees a
//! plain JSON value, never serde_json's raw-value token.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

/// Compact JSON text of one value, always valid JSON.
#[derive(Clone)]
pub struct JsonText(Box<RawValue>);

impl JsonText {
    /// The compact text of `value`.
    pub fn new(value: &Value) -> JsonText {
        JsonText(serde_json::value::to_raw_value(value).expect("a JSON value serializes"))
    }

    /// The compact text of any serializable view of a value (such as the
    /// masked view of `plan::values::Masked`), written without a tree.
    pub(crate) fn of<T: Serialize>(view: &T) -> JsonText {
        JsonText(serde_json::value::to_raw_value(view).expect("a JSON view serializes"))
    }

    /// `null`.
    pub fn null() -> JsonText {
        JsonText::new(&Value::Null)
    }

    /// The value, parsed from the text (a new tree on every call: keep it
    /// only as long as it is read).
    pub fn value(&self) -> Value {
        serde_json::from_str(self.0.get()).expect("JsonText holds valid JSON")
    }

    /// The compact text.
    pub fn text(&self) -> &str {
        self.0.get()
    }

    pub fn is_null(&self) -> bool {
        self.0.get() == "null"
    }
}

impl From<Value> for JsonText {
    fn from(value: Value) -> JsonText {
        JsonText::new(&value)
    }
}

impl Default for JsonText {
    fn default() -> JsonText {
        JsonText::null()
    }
}

impl PartialEq for JsonText {
    /// Equal values: equal texts, or texts whose values are equal (an
    /// object's keys may be written in another order).
    fn eq(&self, other: &JsonText) -> bool {
        self.text() == other.text() || self.value() == other.value()
    }
}

impl PartialEq<Value> for JsonText {
    fn eq(&self, other: &Value) -> bool {
        self.value() == *other
    }
}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl Serialize for JsonText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if writes_compact_json::<S>() {
            self.0.serialize(s)
        } else {
            self.value().serialize(s)
        }
    }
}

/// True for serde_json's writer with its compact formatter, the one
/// serializer for which copying the text is what serializing the value
/// writes. Told by type name: a name this does not recognize only takes
/// the slower path through the parsed value, which is right for every
/// serializer.
fn writes_compact_json<S>() -> bool {
    // `&mut serde_json::ser::Serializer<W>` (the formatter left out when it
    // is the default, compact one) or `...Serializer<W, ...CompactFormatter>`.
    const WRITER: &str = "&mut serde_json::ser::Serializer<";
    let Some(args) = std::any::type_name::<S>()
        .strip_prefix(WRITER)
        .and_then(|rest| rest.strip_suffix('>'))
    else {
        return false;
    };
    let mut depth = 0usize;
    let mut last_arg = args;
    for (i, c) in args.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => last_arg = &args[i + 1..],
            _ => {}
        }
    }
    std::ptr::eq(last_arg, args) || last_arg.trim() == "serde_json::ser::CompactFormatter"
}

impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<JsonText, D::Error> {
        Value::deserialize(d).map(|v| JsonText::new(&v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_to_the_bytes_its_value_serializes_to() {
        let v = json!({"z": 1, "a": [true, null, 1.5, "x\"y"], "m": {"b": {}, "a": []}});
        let t = JsonText::new(&v);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            serde_json::to_string(&v).unwrap()
        );
        assert!(writes_compact_json::<&mut serde_json::Serializer<Vec<u8>>>());
        assert!(writes_compact_json::<
            &mut serde_json::Serializer<&mut Vec<u8>, serde_json::ser::CompactFormatter>,
        >());
        assert!(!writes_compact_json::<
            &mut serde_json::Serializer<Vec<u8>, serde_json::ser::PrettyFormatter<'static>>,
        >());
        assert!(!writes_compact_json::<serde_json::value::Serializer>());
        let mut pretty = serde_json::Serializer::pretty(Vec::new());
        t.serialize(&mut pretty).unwrap();
        assert_eq!(
            String::from_utf8(pretty.into_inner()).unwrap(),
            serde_json::to_string_pretty(&v).unwrap()
        );
        assert_eq!(
            serde_json::to_string_pretty(&vec![&t]).unwrap(),
            serde_json::to_string_pretty(&vec![&v]).unwrap()
        );
        assert_eq!(serde_json::to_value(&t).unwrap(), v);
        assert_eq!(
            serde_json::to_vec(&vec![&t]).unwrap(),
            serde_json::to_vec(&vec![&v]).unwrap()
        );
        assert_eq!(t.value(), v);
        let back: JsonText = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        assert!(JsonText::null().is_null() && !t.is_null());
    }
}
