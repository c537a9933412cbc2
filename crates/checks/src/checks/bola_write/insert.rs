//! The POST half of `authz.bola-write`: B adds an object to A's collection by sending A's own
//! request, whose path, query or body names A (`/users/{user_id}/cards`, `"user_id": 7`).
//!
//! The engine fills a parameter or required body property that names a user with the sending
//! identity's own value (this check fills optional owner-like properties the same way), so the
//! places where A's request carries A's own value and B's request carries something else are
//! exactly the owner references. With none, the operation does not say whose
//! collection it adds to and there is nothing to judge. Proof: A's own list shows B's marker,
//! and B's own list does not (a list every caller shares is nobody's).

use super::{find, Pair, META};
use crate::check::RunCtx;
use crate::ownership::{is_owner_key, nonce, plain_text_field, replayed_whole_as};
use crate::probe::{IdentityInfo, Overrides, ProbeError};
use middlebrick_model::names::{is_id_word, name_words, normalize_name};
use middlebrick_model::scalar_text;
use middlebrick_model::{
    Confidence, Evidence, Exchange, Finding, Method, Operation, ParamLocation, RequestBody,
    RequestSpec, Schema, SchemaType, Severity,
};
use serde_json::Value;

/// Whether a POST may name its owner somewhere the engine fills with the caller's own value: a
/// path parameter, or a query parameter or top-level body property with an owner-like name.
pub(super) fn may_name_owner(op: &Operation) -> bool {
    let body_owner = op
        .request_body
        .as_ref()
        .and_then(|b| b.content.values().next())
        .is_some_and(|s| s.properties.keys().any(|k| is_owner_key(None, k)));
    op.method == Method::Post
        && (op.params_in(ParamLocation::Path).next().is_some()
            || op
                .params_in(ParamLocation::Query)
                .any(|p| is_owner_key(None, &p.name))
            || body_owner)
}

/// Where `a`'s request carries one of `a_markers` (its own id, username, e-mail) and `b`'s
/// request carries something else there: path segments (named by the template's parameter),
/// query parameters and top-level JSON body properties.
pub(super) fn owner_references(
    template: &str,
    a: &RequestSpec,
    b: &RequestSpec,
    a_markers: &[String],
) -> Vec<String> {
    let mine = |v: &str| a_markers.iter().any(|m| m == v);
    let mut refs = Vec::new();
    let segments = |p: &str| p.split('/').map(str::to_string).collect::<Vec<_>>();
    let (t, pa, pb) = (segments(template), segments(&a.path), segments(&b.path));
    if t.len() == pa.len() && t.len() == pb.len() {
        for ((name, va), vb) in t.iter().zip(&pa).zip(&pb) {
            if name.starts_with('{') && va != vb && mine(va) {
                refs.push(name.trim_matches(|c| c == '{' || c == '}').to_string());
            }
        }
    }
    for (k, va) in &a.query {
        let vb = b.query.iter().find(|(kb, _)| kb == k).map(|(_, v)| v);
        if vb != Some(va) && mine(va) {
            refs.push(k.clone());
        }
    }
    if let (Some(RequestBody::Json(Value::Object(ja))), Some(RequestBody::Json(jb))) =
        (&a.body, &b.body)
    {
        for (k, va) in ja {
            let text = scalar_text(va);
            if jb.get(k) != Some(va) && text.as_deref().is_some_and(mine) {
                refs.push(k.clone());
            }
        }
    }
    refs
}

/// The identity's own value for an optional owner-like body property, which the engine leaves
/// out (it fills required ones only): an id-like name takes the id, a username-like one the
/// username, an e-mail-like one the e-mail, a bare `owner`/`user` the id when numeric.
fn own_value(name: &str, schema: &Schema, who: &IdentityInfo) -> Option<Value> {
    let n = normalize_name(name);
    let numeric = matches!(
        schema.effective_type(),
        Some(SchemaType::Integer | SchemaType::Number)
    );
    let id_like = name_words(name).last().is_some_and(|w| is_id_word(w));
    let text = if n.contains("email") {
        who.own.email.clone()?
    } else if n.contains("username") || n.contains("login") || !(id_like || numeric) {
        who.own.username.clone()?
    } else {
        scalar_text(who.own.id.as_ref()?)?
    };
    Some(match numeric {
        true => Value::from(text.parse::<i64>().ok()?),
        false => Value::String(text),
    })
}

/// Overrides that name `who` as the owner in the optional owner-like body properties.
fn owner_fields(op: &Operation, who: &IdentityInfo) -> Vec<(Vec<String>, Option<Value>)> {
    let Some(schema) = op
        .request_body
        .as_ref()
        .and_then(|b| b.content.values().next())
    else {
        return Vec::new();
    };
    schema
        .properties
        .iter()
        .filter(|(k, s)| is_owner_key(None, k) && !schema.required.contains(k) && !s.read_only)
        .filter_map(|(k, s)| Some((vec![k.clone()], Some(own_value(k, s, who)?))))
        .collect()
}

fn shows(ex: &Exchange, marker: &str) -> bool {
    ex.response
        .as_ref()
        .is_some_and(|r| r.is_success() && r.body.text.contains(marker))
}

pub(super) async fn judge(
    ctx: &RunCtx<'_>,
    op: &Operation,
    pair: &Pair,
) -> Result<Option<Finding>, ProbeError> {
    let (a, b) = (&pair.a.name, &pair.b.name);
    let Some(list) = find(ctx.inventory, Method::Get, &op.path) else {
        return Ok(None);
    };
    let Some(field) = op
        .request_body
        .as_ref()
        .and_then(|b| b.content.values().next())
        .and_then(|s| plain_text_field(s))
    else {
        return Ok(None);
    };
    let marker = format!("mb-bola-{}", nonce());
    let asked = |who: &IdentityInfo| {
        let mut o = Overrides::body_field(vec![field.clone()], Value::String(marker.clone()));
        o.body.extend(owner_fields(op, who));
        o
    };
    let as_a = ctx.probe.request(op, a, &asked(&pair.a));
    let b_own = ctx.probe.request(op, b, &asked(&pair.b));
    let refs = owner_references(&op.path, &as_a, &b_own, &pair.a.markers);
    if refs.is_empty() {
        return Ok(None);
    }
    let attack = ctx
        .probe
        .send(replayed_whole_as(ctx.probe, op, b, &as_a))
        .await?;
    let a_read = ctx
        .probe
        .send(ctx.probe.request(list, a, &Overrides::none()))
        .await?;
    if !shows(&a_read, &marker) {
        return Ok(None);
    }
    let b_read = ctx
        .probe
        .send(ctx.probe.request(list, b, &Overrides::none()))
        .await?;
    if shows(&b_read, &marker) {
        return Ok(None);
    }
    let refs_text = refs
        .iter()
        .map(|r| format!("`{r}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let description = format!(
        "Identity `{b}` sent `{}` with identity `{a}`'s own reference ({refs_text}) and `{field}` \
         set to a marker (HTTP {}); `{a}`'s own list afterwards holds the new object and `{b}`'s \
         list does not. Any user can add objects to other users' accounts.",
        op.key(),
        attack.status().unwrap_or(0),
    );
    let evidence = Evidence::new(vec![attack, a_read, b_read]).note(
        "first: B sends A's request (A's reference) with a marker; second: A's list shows it; \
         third: B's own list does not",
    );
    Ok(Some(META.finding(
        Some(op),
        &refs.join(","),
        Severity::Critical,
        Confidence::Confirmed,
        description,
        evidence,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str, body: Value) -> RequestSpec {
        let mut r = RequestSpec::new(Method::Post, path);
        r.body = Some(RequestBody::Json(body));
        r
    }

    #[test]
    fn owner_references_are_where_each_identity_sends_its_own_value() {
        let a = req(
            "/users/7/cards",
            serde_json::json!({"owner_id": 7, "label": "x", "qty": 1}),
        );
        let b = req(
            "/users/9/cards",
            serde_json::json!({"owner_id": 9, "label": "x", "qty": 1}),
        );
        let refs = owner_references("/users/{user_id}/cards", &a, &b, &["7".into()]);
        assert_eq!(refs, vec!["user_id", "owner_id"]);
    }

    #[test]
    fn optional_owner_properties_take_the_identitys_own_value() {
        let mut who = IdentityInfo {
            name: "alice".into(),
            session_cookies: Vec::new(),
            cookie_same_site: Vec::new(),
            token_header: None,
            markers: Vec::new(),
            own: Default::default(),
            admin: false,
        };
        who.own.id = Some(serde_json::json!(7));
        who.own.username = Some("alice".into());
        let int = Schema::of_type(SchemaType::Integer);
        let text = Schema::of_type(SchemaType::String);
        assert_eq!(own_value("ownerId", &int, &who), Some(serde_json::json!(7)));
        assert_eq!(
            own_value("user_id", &text, &who),
            Some(serde_json::json!("7"))
        );
        assert_eq!(
            own_value("username", &text, &who),
            Some(serde_json::json!("alice"))
        );
        assert_eq!(
            own_value("owner", &text, &who),
            Some(serde_json::json!("alice"))
        );
        assert_eq!(
            own_value("customer_email", &text, &who),
            None,
            "no e-mail known"
        );
    }

    #[test]
    fn values_that_differ_but_are_not_the_owners_are_no_references() {
        // A random value the synthesiser picked differs between the two requests, but it is not
        // A's own: nothing names the owner.
        let a = req("/cards", serde_json::json!({"nonce": "q1", "qty": 1}));
        let b = req("/cards", serde_json::json!({"nonce": "z9", "qty": 1}));
        assert!(owner_references("/cards", &a, &b, &["7".into(), "alice".into()]).is_empty());
    }
}
