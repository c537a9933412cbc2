//! Which inputs of an operation take a URL or a host: by the schema (`format: uri`,
//! `hostname`), by an example or default that is an absolute http(s) URL, by the name's words
//! (`url`, `webhook`, `callback`, `host`, …), and by what the scan saw: values harvested for
//! the parameter, or properties of the same name that hold URLs in answers already received.

use crate::probe::Probe;
use middlebrick_model::names::{name_words, normalize_name};
use middlebrick_model::{Exchange, Method, Mode, Operation, ParamLocation, Schema, SchemaType};
use serde_json::Value;
use std::collections::HashSet;

/// Candidates tested per operation, so a wide schema does not multiply the budget.
pub(super) const MAX_CANDIDATES: usize = 6;

/// What the input holds: a whole URL (it can carry a token in its path) or a host (`h:port`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Takes {
    Url,
    Host,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Place {
    Param(ParamLocation),
    /// A JSON or form body property, by path from the root (`["source", "url"]`).
    Body(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Candidate {
    pub place: Place,
    pub name: String,
    pub takes: Takes,
    /// Why it was taken for a URL or host input, for the finding's text.
    pub why: String,
}

impl Candidate {
    pub fn label(&self) -> String {
        let where_ = match &self.place {
            Place::Param(ParamLocation::Path) => "path parameter",
            Place::Param(ParamLocation::Query) => "query parameter",
            Place::Param(ParamLocation::Header) => "header",
            Place::Param(ParamLocation::Cookie) => "cookie",
            Place::Body(_) => "body property",
        };
        format!("{where_} `{}`", self.name)
    }
}

/// Whether the check sends anything to `op` in `mode`: reads from safe mode on, writes
/// (POST/PUT/PATCH, which may store what they are given) from active mode on; DELETE never.
pub(super) fn testable(op: &Operation, mode: Mode) -> bool {
    match mode {
        Mode::Passive => false,
        Mode::Safe => op.method == Method::Get,
        Mode::Active | Mode::Disposable => matches!(
            op.method,
            Method::Get | Method::Post | Method::Put | Method::Patch
        ),
    }
}

/// Absolute http or https URLs only: a relative reference or `mailto:` is not fetched.
pub(super) fn is_http_url(s: &str) -> bool {
    url::Url::parse(s.trim())
        .map(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .unwrap_or(false)
}

const URL_WORDS: &[&str] = &[
    "url", "uri", "urls", "uris", "link", "href", "webhook", "callback", "endpoint", "feed",
];
const HOST_WORDS: &[&str] = &["host", "hostname", "domain", "server", "proxy"];

/// What the schema, an example and the name say, before anything the scan saw.
fn declared(name: &str, schema: &Schema, example: Option<&Value>) -> Option<(Takes, String)> {
    let ty = schema.effective_type();
    if !matches!(ty, Some(SchemaType::String) | None) {
        return None;
    }
    match schema.format.as_deref() {
        Some("uri" | "url" | "iri") => return Some((Takes::Url, "`format: uri`".into())),
        Some("hostname" | "idn-hostname") => {
            return Some((Takes::Host, "`format: hostname`".into()))
        }
        _ => {}
    }
    let examples = [example, schema.example.as_ref(), schema.default.as_ref()];
    if examples
        .iter()
        .flatten()
        .any(|v| v.as_str().is_some_and(is_http_url))
    {
        return Some((Takes::Url, "its example is a URL".into()));
    }
    let words = name_words(name);
    if words.iter().any(|w| URL_WORDS.contains(&w.as_str())) {
        return Some((Takes::Url, "its name".into()));
    }
    if words.iter().any(|w| HOST_WORDS.contains(&w.as_str())) {
        return Some((Takes::Host, "its name".into()));
    }
    None
}

/// Normalised names of properties that hold an absolute http(s) URL in answers the scan has
/// received (`avatar: "https://…"` makes an `avatar` input a URL input).
pub(super) fn url_keys_in(observed: &[Exchange]) -> HashSet<String> {
    let mut keys = HashSet::new();
    for ex in observed {
        let Some(v) = ex.response.as_ref().and_then(|r| r.json()) else {
            continue;
        };
        let mut budget = 2_000;
        crate::json_walk::walk(&v, "", 20, &mut budget, &mut |_, value, prop| {
            if let (Some((key, _)), Some(s)) = (prop, value.as_str()) {
                if is_http_url(s) {
                    keys.insert(normalize_name(key));
                }
            }
            true
        });
    }
    keys
}

fn seen(name: &str, harvested: bool, url_keys: &HashSet<String>) -> Option<(Takes, String)> {
    if harvested {
        return Some((Takes::Url, "values harvested for it are URLs".into()));
    }
    url_keys
        .contains(&normalize_name(name))
        .then(|| (Takes::Url, "answers carry URLs under that name".into()))
}

/// The URL and host inputs of `op`, parameters first, then body properties (one level of
/// nesting), at most [`MAX_CANDIDATES`].
pub(super) fn candidates(
    op: &Operation,
    probe: &dyn Probe,
    url_keys: &HashSet<String>,
    session_cookies: &[String],
) -> Vec<Candidate> {
    let mut out = Vec::new();
    for p in &op.parameters {
        if p.location == ParamLocation::Cookie && session_cookies.contains(&p.name) {
            continue;
        }
        let harvested = probe
            .known_values(op, &p.name)
            .iter()
            .any(|(v, _)| v.as_str().is_some_and(is_http_url));
        let found = declared(&p.name, &p.schema, p.example.as_ref())
            .or_else(|| seen(&p.name, harvested, url_keys));
        if let Some((takes, why)) = found {
            out.push(Candidate {
                place: Place::Param(p.location),
                name: p.name.clone(),
                takes,
                why,
            });
        }
    }
    if op.method != Method::Get {
        if let Some(schema) = op
            .request_body
            .as_ref()
            .and_then(|b| b.content.values().next())
        {
            body_candidates(schema, &mut Vec::new(), url_keys, &mut out);
        }
    }
    out.truncate(MAX_CANDIDATES);
    out
}

fn body_candidates(
    schema: &Schema,
    path: &mut Vec<String>,
    url_keys: &HashSet<String>,
    out: &mut Vec<Candidate>,
) {
    for (key, prop) in &schema.properties {
        if prop.read_only {
            continue;
        }
        path.push(key.clone());
        if prop.effective_type() == Some(SchemaType::Object) && path.len() < 2 {
            body_candidates(prop, path, url_keys, out);
        } else if let Some((takes, why)) =
            declared(key, prop, None).or_else(|| seen(key, false, url_keys))
        {
            out.push(Candidate {
                place: Place::Body(path.clone()),
                name: path.join("."),
                takes,
                why,
            });
        }
        path.pop();
    }
}

/// How many inputs the schema alone names, for the plan (what answers show is known later).
pub(super) fn declared_count(op: &Operation) -> usize {
    let params = op
        .parameters
        .iter()
        .filter(|p| declared(&p.name, &p.schema, p.example.as_ref()).is_some())
        .count();
    let mut body = Vec::new();
    if op.method != Method::Get {
        if let Some(schema) = op
            .request_body
            .as_ref()
            .and_then(|b| b.content.values().next())
        {
            body_candidates(schema, &mut Vec::new(), &HashSet::new(), &mut body);
        }
    }
    (params + body.len()).min(MAX_CANDIDATES)
}

/// Whether `op` has any input a URL could be put in (a string or untyped parameter or body
/// property), for the plan of operations the schema names no URL input in.
pub(super) fn has_text_input(op: &Operation) -> bool {
    let text = |s: &Schema| matches!(s.effective_type(), Some(SchemaType::String) | None);
    op.parameters.iter().any(|p| text(&p.schema))
        || (op.method != Method::Get
            && op
                .request_body
                .as_ref()
                .and_then(|b| b.content.values().next())
                .is_some_and(|s| s.properties.values().any(|p| text(p))))
}
