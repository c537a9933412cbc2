//! Property-style test: for thousands of random satisfiable schemas, what `value_for_schema`
//! and `value_for_property` produce validates against the schema. The validator here is
//! written apart from `fits.rs` on purpose, so the two cannot share a misunderstanding.

use crate::{value_for_property, value_for_schema};
use middlebrick_model::{Schema, SchemaType};
use serde_json::{json, Value};
use std::sync::Arc;

/// xorshift64*: deterministic, so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const NAMES: &[&str] = &[
    "id",
    "name",
    "email",
    "username",
    "password",
    "quantity",
    "price",
    "phone",
    "zip",
    "url",
    "created_at",
    "start_date",
    "title",
    "tags",
    "count",
    "age",
    "website",
    "limit",
    "uuid",
    "country",
    "latitude",
    "description",
    "owner_id",
    "slug",
    "role",
    "is_admin",
    "x_field",
];
const FORMATS: &[&str] = &[
    "date",
    "date-time",
    "email",
    "uuid",
    "uri",
    "hostname",
    "ipv4",
    "ipv6",
    "password",
    "byte",
    "weird-format",
];
const PATTERNS: &[&str] = &[
    r"^[a-z]{3,8}$",
    r"^\d{5}$",
    r"^[A-Z][a-z]+-\d+$",
    r"^(red|green|blue)$",
    r"^[a-zA-Z0-9_.-]+@example\.com$",
];

fn random_schema(rng: &mut Rng, depth: usize) -> Schema {
    let leaf_only = depth >= 3;
    let kind = if leaf_only {
        rng.below(5)
    } else {
        rng.below(8)
    };
    let mut s = match kind {
        0 => random_string(rng),
        1 => random_number(rng, SchemaType::Integer),
        2 => random_number(rng, SchemaType::Number),
        3 => Schema::of_type(SchemaType::Boolean),
        4 => Schema::default(),
        5 => {
            let mut a = Schema::of_type(SchemaType::Array);
            a.items = Some(Arc::new(random_schema(rng, depth + 1)));
            if rng.chance(40) {
                let min = rng.below(4);
                a.min_items = Some(min);
                a.max_items = Some(min + rng.below(3));
            }
            a
        }
        6 => {
            let mut o = Schema::of_type(SchemaType::Object);
            for _ in 0..rng.below(6) {
                let name = rng.pick(NAMES).to_string();
                let mut prop = random_schema(rng, depth + 1);
                prop.read_only = rng.chance(10);
                if rng.chance(50) && !o.required.contains(&name) {
                    o.required.push(name.clone());
                }
                o.properties.insert(name, Arc::new(prop));
            }
            if rng.chance(10) {
                o.properties.insert(
                    "self".into(),
                    Arc::new(Schema {
                        recursive_ref: Some("Node".into()),
                        ..Schema::default()
                    }),
                );
            }
            o
        }
        _ => Schema {
            one_of: vec![
                Arc::new(random_schema(rng, depth + 1)),
                Arc::new(random_schema(rng, depth + 1)),
            ],
            ..Schema::default()
        },
    };
    s.nullable = rng.chance(5);
    s
}

fn random_string(rng: &mut Rng) -> Schema {
    let mut s = Schema::of_type(SchemaType::String);
    match rng.below(5) {
        0 => s.format = Some(rng.pick(FORMATS).to_string()),
        1 => s.pattern = Some(rng.pick(PATTERNS).to_string()),
        2 => {
            let min = rng.below(30);
            s.min_length = Some(min);
            s.max_length = Some(min + rng.below(20));
        }
        3 => s.enum_values = vec![json!("admin"), json!("member"), json!("guest")],
        _ => {}
    }
    s
}

fn random_number(rng: &mut Rng, ty: SchemaType) -> Schema {
    let mut s = Schema::of_type(ty);
    if rng.chance(60) {
        let lo = rng.below(2000) as f64 - 1000.0;
        s.minimum = Some(lo);
        s.maximum =
            Some(lo + rng.below(50) as f64 + if ty == SchemaType::Number { 0.25 } else { 0.0 });
    } else if rng.chance(30) {
        s.maximum = Some(rng.below(100) as f64 - 50.0);
    }
    s
}

/// An independent JSON-Schema subset validator.
fn validate(s: &Schema, v: &Value, at: &str) -> Result<(), String> {
    if s.recursive_ref.is_some() {
        return Ok(());
    }
    if v.is_null() && s.nullable {
        return Ok(());
    }
    if !s.one_of.is_empty() && s.ty.is_none() && s.properties.is_empty() {
        return s
            .one_of
            .iter()
            .find_map(|alt| validate(alt, v, at).ok())
            .ok_or_else(|| format!("{at}: {v} matches no alternative"));
    }
    if !s.enum_values.is_empty() && !s.enum_values.contains(v) {
        return Err(format!("{at}: {v} not in enum"));
    }
    let bad = |why: &str| Err(format!("{at}: {v} {why}"));
    match s.effective_type() {
        None => Ok(()),
        Some(SchemaType::Null) => {
            if v.is_null() {
                Ok(())
            } else {
                bad("not null")
            }
        }
        Some(SchemaType::Boolean) => {
            if v.is_boolean() {
                Ok(())
            } else {
                bad("not boolean")
            }
        }
        Some(SchemaType::Integer) if !(v.is_i64() || v.is_u64()) => bad("not an integer"),
        Some(SchemaType::Integer | SchemaType::Number) => {
            let Some(n) = v.as_f64() else {
                return bad("not a number");
            };
            if s.minimum.is_some_and(|m| n < m) || s.maximum.is_some_and(|m| n > m) {
                return bad("out of bounds");
            }
            Ok(())
        }
        Some(SchemaType::String) => {
            let Some(text) = v.as_str() else {
                return bad("not a string");
            };
            let len = text.chars().count() as u64;
            if s.min_length.is_some_and(|m| len < m) || s.max_length.is_some_and(|m| len > m) {
                return bad("has the wrong length");
            }
            if let Some(p) = &s.pattern {
                if !regex::Regex::new(p).unwrap().is_match(text) {
                    return bad("does not match the pattern");
                }
            }
            let format_ok = match s.format.as_deref() {
                Some("uuid") => text.len() == 36 && text.split('-').count() == 5,
                Some("date") => text.len() == 10 && text.chars().filter(|c| *c == '-').count() == 2,
                Some("date-time") => text.contains('T') && text.len() > 10,
                Some("email") => text.contains('@'),
                Some("uri") => text.starts_with("https://") || text.starts_with("http://"),
                Some("ipv4") => text.parse::<std::net::Ipv4Addr>().is_ok(),
                Some("ipv6") => text.parse::<std::net::Ipv6Addr>().is_ok(),
                _ => true,
            };
            if format_ok {
                Ok(())
            } else {
                bad("breaks its format")
            }
        }
        Some(SchemaType::Array) => {
            let Some(items) = v.as_array() else {
                return bad("not an array");
            };
            let n = items.len() as u64;
            if s.min_items.is_some_and(|m| n < m) || s.max_items.is_some_and(|m| n > m) {
                return bad("has the wrong number of items");
            }
            match &s.items {
                Some(item) => items
                    .iter()
                    .try_for_each(|i| validate(item, i, &format!("{at}[]"))),
                None => Ok(()),
            }
        }
        Some(SchemaType::Object) => {
            let Some(map) = v.as_object() else {
                return bad("not an object");
            };
            for r in &s.required {
                let read_only = s.properties.get(r).is_some_and(|p| p.read_only);
                if !read_only && !map.contains_key(r) {
                    return bad(&format!("lacks required `{r}`"));
                }
            }
            for (k, p) in &s.properties {
                if let Some(x) = map.get(k) {
                    if p.read_only {
                        return bad(&format!("sets read-only `{k}`"));
                    }
                    validate(p, x, &format!("{at}.{k}"))?;
                }
            }
            Ok(())
        }
    }
}

#[test]
fn synthesised_values_validate_against_random_schemas() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..3000 {
        let schema = random_schema(&mut rng, 0);
        let v = value_for_schema(&schema);
        if let Err(e) = validate(&schema, &v, "$") {
            panic!(
                "case {case}: {e}\nschema: {}",
                serde_json::to_string(&schema).unwrap()
            );
        }
        let name = *rng.pick(NAMES);
        let v = value_for_property(name, &schema, case);
        if let Err(e) = validate(&schema, &v, name) {
            panic!(
                "case {case} ({name}): {e}\nschema: {}",
                serde_json::to_string(&schema).unwrap()
            );
        }
    }
}

#[test]
fn the_validator_rejects_what_it_should() {
    let mut s = Schema::of_type(SchemaType::Integer);
    s.maximum = Some(3.0);
    assert!(validate(&s, &json!(4), "$").is_err());
    assert!(validate(&s, &json!("1"), "$").is_err());
    let mut o = Schema::of_type(SchemaType::Object);
    o.required = vec!["a".into()];
    assert!(validate(&o, &json!({}), "$").is_err());
}
