//! What a GraphQL server's validation errors give away about its schema. Servers built on
//! graphql-js (Apollo, Yoga, express-graphql) quote names with `"`, those on graphql-core
//! (Strawberry, Graphene 3, Ariadne) with `'`, Hot Chocolate with backticks; the wording is
//! the same family, and older releases put the type after the field (`on field "user" of type
//! "Query"`) where newer ones join them (`on field "Query.user"`). graphql-java names unknown
//! fields without suggesting any.

use regex::Regex;
use std::sync::OnceLock;

/// One validation error, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidationHint {
    /// `Cannot query field "usr" on type "Query". Did you mean "user" or "users"?`
    UnknownField {
        field: String,
        on_type: String,
        suggestions: Vec<String>,
    },
    /// `Unknown argument "x" on field "Query.user". Did you mean "id"?`
    UnknownArgument {
        argument: String,
        field: String,
        suggestions: Vec<String>,
    },
    /// `Field "user" argument "id" of type "ID!" is required, but it was not provided.`
    MissingArgument {
        field: String,
        argument: String,
        type_ref: String,
    },
    /// `Field "user" of type "User" must have a selection of subfields.`
    NeedsSelection { field: String, type_ref: String },
}

const Q: &str = r#"["'`]"#;
const NAME: &str = r"([_A-Za-z][_0-9A-Za-z]*)";
const TYPE_REF: &str = r"([\[\]_0-9A-Za-z!]+)";

struct Patterns {
    unknown_field: Regex,
    undefined_field: Regex,
    unknown_argument: Regex,
    missing_argument: Regex,
    needs_selection: Regex,
    quoted_name: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = |s: String| Regex::new(&s).expect("GraphQL message pattern");
        Patterns {
            unknown_field: re(format!(
                r"(?:Cannot query field|The field) {Q}{NAME}{Q} (?:on|does not exist on) (?:the )?type {Q}{NAME}{Q}"
            )),
            undefined_field: re(format!(
                r"Field {Q}{NAME}{Q} in type {Q}{NAME}{Q} is undefined"
            )),
            unknown_argument: re(format!(
                r"Unknown argument {Q}{NAME}{Q} on field {Q}(?:{NAME}\.)?{NAME}{Q}"
            )),
            missing_argument: re(format!(
                r"Field {Q}{NAME}{Q} argument {Q}{NAME}{Q} of type {Q}{TYPE_REF}{Q} is required"
            )),
            needs_selection: re(format!(
                r"Field {Q}{NAME}{Q} of type {Q}{TYPE_REF}{Q} must have a selection of subfields"
            )),
            quoted_name: re(format!(r"{Q}{NAME}{Q}")),
        }
    })
}

/// The names a "Did you mean …?" sentence offers (`"a", "b", or "c"`), none when the sentence
/// offers an inline fragment on a type instead.
fn suggestions(message: &str) -> Vec<String> {
    let Some((_, tail)) = message.split_once("Did you mean") else {
        return Vec::new();
    };
    if tail.trim_start().starts_with("to use an inline fragment") {
        return Vec::new();
    }
    let tail = tail.split('?').next().unwrap_or(tail);
    patterns()
        .quoted_name
        .captures_iter(tail)
        .filter_map(|c| c.get(1).map(|m| m.as_str().to_string()))
        .collect()
}

/// Reads one validation message; `None` for messages that say nothing about the schema.
pub fn parse_validation_message(message: &str) -> Option<ValidationHint> {
    let p = patterns();
    let cap = |c: &regex::Captures, i: usize| c.get(i).map_or(String::new(), |m| m.as_str().into());
    if let Some(c) = p.needs_selection.captures(message) {
        return Some(ValidationHint::NeedsSelection {
            field: cap(&c, 1),
            type_ref: cap(&c, 2),
        });
    }
    if let Some(c) = p.missing_argument.captures(message) {
        return Some(ValidationHint::MissingArgument {
            field: cap(&c, 1),
            argument: cap(&c, 2),
            type_ref: cap(&c, 3),
        });
    }
    if let Some(c) = p.unknown_argument.captures(message) {
        return Some(ValidationHint::UnknownArgument {
            argument: cap(&c, 1),
            field: c
                .get(3)
                .map_or_else(|| cap(&c, 2), |m| m.as_str().to_string()),
            suggestions: suggestions(message),
        });
    }
    if let Some(c) = p
        .unknown_field
        .captures(message)
        .or_else(|| p.undefined_field.captures(message))
    {
        return Some(ValidationHint::UnknownField {
            field: cap(&c, 1),
            on_type: cap(&c, 2),
            suggestions: suggestions(message),
        });
    }
    None
}

/// The named type inside a rendered type reference: `User` for `[User!]!`.
pub(crate) fn named_type(type_ref: &str) -> &str {
    type_ref.trim_matches(|c| c == '[' || c == ']' || c == '!')
}
