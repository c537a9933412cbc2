//! Values of the wrong type or shape, for malformed-input probes: an API that validates its
//! input answers them with a 4xx; one that does not reaches a parser, a cast or a query with
//! something it never expected, and often says so in a 500.

use middlebrick_model::{ParamLocation, Schema, SchemaType};
use serde_json::{json, Value};

/// The marker every wrong value carries, so a check can find it echoed in an answer.
pub const WRONG_MARKER: &str = "mb-x1";

/// Where a value goes: a parameter (whose value travels as text) or a JSON body (which can
/// carry any JSON type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Param(ParamLocation),
    Body,
}

impl From<ParamLocation> for Slot {
    fn from(location: ParamLocation) -> Self {
        Slot::Param(location)
    }
}

/// A value of the wrong type or shape for a schema: a non-numeric string for numbers and
/// booleans; for strings with a strict format (uuid, date, email, …) or an enum, a string
/// that is none of them; for a plain string, a JSON object in a body, and in a parameter a
/// string longer than `maxLength`, else (path, query) one with a NUL byte, which text columns
/// and C-backed parsers cannot hold, or (header, cookie) JSON object text; for objects and
/// arrays, a string.
pub fn wrong_type_value(schema: &Schema, slot: impl Into<Slot>) -> Value {
    let marker = || Value::String(WRONG_MARKER.to_string());
    match schema.effective_type() {
        Some(SchemaType::String) => {
            if !schema.enum_values.is_empty() || has_strict_format(schema) {
                return marker();
            }
            match slot.into() {
                Slot::Body => json!({ "mb": WRONG_MARKER }),
                Slot::Param(location) => match (schema.max_length, location) {
                    (Some(max), _) if max < 4096 => {
                        Value::String(format!("{WRONG_MARKER}{}", "x".repeat(max as usize)))
                    }
                    // Header values cannot carry control bytes at all: the request would
                    // never leave the client.
                    (_, ParamLocation::Header | ParamLocation::Cookie) => {
                        Value::String(format!("{{\"mb\":\"{WRONG_MARKER}\"}}"))
                    }
                    _ => Value::String(format!("{WRONG_MARKER}\u{0}")),
                },
            }
        }
        _ => marker(),
    }
}

fn has_strict_format(schema: &Schema) -> bool {
    matches!(
        schema.format.as_deref(),
        Some(
            "uuid"
                | "guid"
                | "date"
                | "date-time"
                | "time"
                | "email"
                | "uri"
                | "url"
                | "ipv4"
                | "ipv6"
                | "hostname"
                | "byte"
                | "int32"
                | "int64"
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fits::fits;

    fn of(t: SchemaType) -> Schema {
        Schema::of_type(t)
    }

    #[test]
    fn each_type_gets_a_value_it_cannot_hold() {
        let q = ParamLocation::Query;
        for t in [
            SchemaType::Integer,
            SchemaType::Number,
            SchemaType::Boolean,
            SchemaType::Object,
            SchemaType::Array,
        ] {
            let s = of(t);
            for slot in [Slot::Param(q), Slot::Body] {
                let v = wrong_type_value(&s, slot);
                assert_eq!(v, json!(WRONG_MARKER), "{t:?}");
                assert!(!fits(&s, &v), "{t:?}");
            }
        }
    }

    #[test]
    fn strings_with_formats_or_enums_get_the_marker() {
        for f in ["uuid", "date", "date-time", "email"] {
            let mut s = of(SchemaType::String);
            s.format = Some(f.into());
            let v = wrong_type_value(&s, Slot::Body);
            assert_eq!(v, json!(WRONG_MARKER));
            assert!(!fits(&s, &v), "{f}");
        }
        let mut e = of(SchemaType::String);
        e.enum_values = vec![json!("a")];
        assert!(!fits(&e, &wrong_type_value(&e, ParamLocation::Path)));
    }

    #[test]
    fn plain_strings_get_an_object_in_bodies_and_odd_text_in_params() {
        let s = of(SchemaType::String);
        assert!(wrong_type_value(&s, Slot::Body).is_object());
        let v = wrong_type_value(&s, ParamLocation::Query);
        assert!(v.as_str().unwrap().contains('\u{0}'));
        let v = wrong_type_value(&s, ParamLocation::Header);
        assert!(v
            .as_str()
            .unwrap()
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b)));
        let mut short = of(SchemaType::String);
        short.max_length = Some(8);
        let v = wrong_type_value(&short, ParamLocation::Query);
        assert!(!fits(&short, &v));
    }
}
