//! Whether a scalar value satisfies a schema: type, enum, bounds, length, known formats and
//! pattern. Used to accept a harvested id or a name-based guess only when the API would accept
//! it (an integer parameter never gets a uuid string).

use middlebrick_model::{Schema, SchemaType};
use serde_json::Value;

/// True when `value` satisfies the schema's scalar constraints. Objects and arrays are only
/// checked for their type.
pub(crate) fn fits(schema: &Schema, value: &Value) -> bool {
    if value.is_null() {
        return schema.nullable || schema.effective_type() == Some(SchemaType::Null);
    }
    if !schema.enum_values.is_empty() && !schema.enum_values.contains(value) {
        return false;
    }
    match schema.effective_type() {
        None => match value {
            Value::String(s) => string_fits(schema, s),
            Value::Number(n) => n.as_f64().is_some_and(|n| in_bounds(schema, n)),
            _ => true,
        },
        Some(SchemaType::Null) => false,
        Some(SchemaType::Boolean) => value.is_boolean(),
        Some(SchemaType::Object) => value.is_object(),
        Some(SchemaType::Array) => value.is_array(),
        Some(SchemaType::Integer) => as_integer(value).is_some_and(|n| in_bounds(schema, n)),
        Some(SchemaType::Number) => value.as_f64().is_some_and(|n| in_bounds(schema, n)),
        Some(SchemaType::String) => value.as_str().is_some_and(|s| string_fits(schema, s)),
    }
}

fn as_integer(value: &Value) -> Option<f64> {
    if value.is_i64() || value.is_u64() {
        return value.as_f64();
    }
    value.as_f64().filter(|n| n.fract() == 0.0)
}

fn in_bounds(schema: &Schema, n: f64) -> bool {
    schema.minimum.is_none_or(|m| n >= m) && schema.maximum.is_none_or(|m| n <= m)
}

fn string_fits(schema: &Schema, s: &str) -> bool {
    let len = s.chars().count() as u64;
    schema.min_length.is_none_or(|m| len >= m)
        && schema.max_length.is_none_or(|m| len <= m)
        && schema.format.as_deref().is_none_or(|f| format_fits(f, s))
        && schema
            .pattern
            .as_deref()
            .is_none_or(|p| matches_pattern(p, s).unwrap_or(true))
}

/// `Some(matches)` when the pattern compiles, `None` when it is beyond the regex engine
/// (look-around, back-references): then the caller cannot know and decides.
pub(crate) fn matches_pattern(pattern: &str, s: &str) -> Option<bool> {
    let re = regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .ok()?;
    Some(re.is_match(s))
}

/// Shape checks for the formats synthesis produces; unknown formats accept anything.
pub(crate) fn format_fits(format: &str, s: &str) -> bool {
    match format {
        "uuid" | "guid" => is_uuid(s),
        "date" => is_date(s),
        "date-time" => {
            s.len() >= 20 && is_date(&s[..10]) && s.as_bytes()[10].eq_ignore_ascii_case(&b'T')
        }
        "email" | "idn-email" => s
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@')),
        "uri" | "url" | "iri" => s.split_once("://").is_some_and(|(scheme, rest)| {
            !scheme.is_empty()
                && scheme.chars().all(|c| c.is_ascii_alphanumeric())
                && !rest.is_empty()
        }),
        "hostname" | "idn-hostname" => {
            !s.is_empty()
                && s.split('.')
                    .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        }
        "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok(),
        "int32" | "int64" => s.parse::<i64>().is_ok(),
        _ => true,
    }
}

pub(crate) fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ty(t: SchemaType) -> Schema {
        Schema::of_type(t)
    }

    #[test]
    fn types_bounds_and_enums() {
        let mut int = ty(SchemaType::Integer);
        assert!(fits(&int, &json!(5)) && !fits(&int, &json!("5")) && !fits(&int, &json!(1.5)));
        int.minimum = Some(1.0);
        int.maximum = Some(10.0);
        assert!(!fits(&int, &json!(0)) && !fits(&int, &json!(11)) && fits(&int, &json!(10)));
        let mut s = ty(SchemaType::String);
        s.enum_values = vec![json!("a"), json!("b")];
        assert!(fits(&s, &json!("b")) && !fits(&s, &json!("c")));
        assert!(!fits(&ty(SchemaType::Boolean), &json!(0)));
        assert!(fits(&Schema::default(), &json!({"any": 1})));
        assert!(!fits(&ty(SchemaType::String), &Value::Null));
    }

    #[test]
    fn strings_formats_and_patterns() {
        let mut s = ty(SchemaType::String);
        s.format = Some("uuid".into());
        assert!(fits(&s, &json!("123e4567-e89b-12d3-a456-426614174000")));
        assert!(!fits(&s, &json!("42")));
        s.format = None;
        s.pattern = Some("^[a-z]+$".into());
        assert!(fits(&s, &json!("abc")) && !fits(&s, &json!("ab1")));
        s.pattern = Some("(?=x)".into()); // beyond the engine: cannot tell, accept
        assert!(fits(&s, &json!("abc")));
        s.pattern = None;
        s.max_length = Some(3);
        assert!(!fits(&s, &json!("abcd")) && fits(&s, &json!("é€a")));
        for (f, good, bad) in [
            ("date", "2024-01-15", "15/01/2024"),
            ("date-time", "2024-01-15T10:00:00Z", "2024-01-15"),
            ("email", "a@b.test", "a.b.test"),
            ("uri", "https://x.test/", "x.test"),
            ("ipv4", "192.0.2.1", "192.0.2"),
            ("ipv6", "2001:db8::1", "2001:zz::1"),
            ("hostname", "a-b.example.test", "a b"),
        ] {
            assert!(format_fits(f, good) && !format_fits(f, bad), "{f}");
        }
    }
}
