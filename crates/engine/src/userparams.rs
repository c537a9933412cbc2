//! Parameters that name a user, filled from who each identity is ([`SelfKnowledge`]).
//!
//! A path or query parameter (or a JSON body's top-level property) names a user when
//! - its name says so: `username`, `login`, `uid`, or a user-like word (`user`, `owner`,
//!   `account`, `customer`, `member`, `author`, …) followed by an id word (`userId`,
//!   `owner_id`, `CustomerUUID`) or by `email`; a bare `owner` / `user` takes the id when its
//!   schema is numeric and the username otherwise; or
//! - the identity's own record names it: the sign-in answer or the current-user read has a
//!   field of the same normalised name (`"farmerId": "alice"` for `{farmerId}`); or
//! - its known values say so: the values harvested for it are the identities' usernames,
//!   e-mails or long string ids, two identities' at least (`{farmerId}` whose values are
//!   usernames). Short numeric ids never decide this way: `7` is as likely an order as a user.
//!
//! On its own requests an identity sends its own value; the engine also lists each identity's
//! value as that identity's object ([`crate::probe`]'s `known_values`), so authorization
//! checks send one identity's value as the other. Body properties are filled only by name and
//! only with the id: a body's `username` or `email` may re-point an account.

use middlebrick_model::names::{is_id_word, name_words, normalize_name};
use middlebrick_model::{Operation, ParamLocation, Schema, SchemaType, SelfKnowledge};
use middlebrick_synth::{IdPool, Overrides as SynthOverrides};
use serde_json::Value;

/// Which of an account's values a parameter takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Slot {
    Id,
    Username,
    Email,
    /// Another identifier the account's own record gives under this normalised name.
    Field(String),
}

const USER_WORDS: &[&str] = &[
    "user", "owner", "account", "customer", "member", "author", "creator", "person",
];
const USERNAME_NAMES: &[&str] = &[
    "username",
    "login",
    "loginname",
    "handle",
    "screenname",
    "userlogin",
    "userhandle",
    "ownerusername",
];
/// A string id shorter than this never decides by value (it could be anything's).
const MIN_ID_LEN: usize = 8;
const MIN_NAME_LEN: usize = 3;

fn numeric(schema: &Schema) -> bool {
    matches!(
        schema.effective_type(),
        Some(SchemaType::Integer | SchemaType::Number)
    )
}

/// The slot a parameter takes by its name (see the module header), if any.
pub(crate) fn slot_by_name(name: &str, schema: &Schema) -> Option<Slot> {
    let n = normalize_name(name);
    if USERNAME_NAMES.contains(&n.as_str()) {
        return Some(Slot::Username);
    }
    if n == "uid" {
        return Some(Slot::Id);
    }
    let words = name_words(name);
    let (last, head) = words.split_last()?;
    let head = head.concat();
    if head.is_empty() {
        return USER_WORDS.contains(&last.as_str()).then(|| {
            if numeric(schema) {
                Slot::Id
            } else {
                Slot::Username
            }
        });
    }
    if !USER_WORDS.contains(&head.as_str()) {
        return None;
    }
    if is_id_word(last) {
        Some(Slot::Id)
    } else if matches!(last.as_str(), "email" | "mail") {
        Some(Slot::Email)
    } else {
        None
    }
}

/// The slot a parameter takes because the values known for it are the identities' usernames,
/// e-mails or long string ids: those of two identities at least (of the only one when one is
/// known), so one tag that happens to equal a username decides nothing.
pub(crate) fn slot_by_value(values: &[Value], everyone: &[SelfKnowledge]) -> Option<Slot> {
    let texts: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
    let seen = |field: &dyn Fn(&SelfKnowledge) -> Option<String>, min: usize| {
        everyone
            .iter()
            .filter_map(|k| field(k).filter(|v| v.len() >= min))
            .filter(|v| texts.iter().any(|t| t.eq_ignore_ascii_case(v)))
            .count()
    };
    let needed = everyone.len().clamp(1, 2);
    let string_id = |k: &SelfKnowledge| k.id.as_ref().and_then(Value::as_str).map(str::to_string);
    [
        (Slot::Username, seen(&|k| k.username.clone(), MIN_NAME_LEN)),
        (Slot::Email, seen(&|k| k.email.clone(), MIN_NAME_LEN)),
        (Slot::Id, seen(&string_id, MIN_ID_LEN)),
    ]
    .into_iter()
    .find(|(_, n)| *n >= needed)
    .map(|(slot, _)| slot)
}

/// The account's value for a slot, as the parameter's schema wants it (`"7"` for a string,
/// `7` for an integer); `None` when unknown or when it cannot fit.
pub(crate) fn own_value(k: &SelfKnowledge, slot: Slot, schema: &Schema) -> Option<Value> {
    let v = match slot.clone() {
        Slot::Id => k.id.clone()?,
        Slot::Username => Value::String(k.username.clone()?),
        Slot::Email => Value::String(k.email.clone()?),
        Slot::Field(name) => k.field(&name)?.clone(),
    };
    match (schema.effective_type(), &v) {
        (Some(SchemaType::Integer), Value::String(s)) => s.parse::<i64>().ok().map(Value::from),
        (Some(SchemaType::Integer | SchemaType::Number), Value::Number(_)) => Some(v),
        (Some(SchemaType::Integer | SchemaType::Number), _) => None,
        (Some(SchemaType::String), Value::Number(n)) => Some(Value::String(n.to_string())),
        (Some(SchemaType::Boolean | SchemaType::Object | SchemaType::Array), _) => None,
        _ => Some(v),
    }
}

/// A parameter or JSON-body property of `op` that names a user, with its slot.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UserParam {
    pub location: Option<ParamLocation>,
    pub name: String,
    pub schema: Schema,
    pub slot: Slot,
}

/// The user-naming parameters of `op` (path and query: by name, else by `by_value`) and
/// top-level JSON body properties (by name, id slot only). With `only_sent`, only those the
/// valid request carries anyway: every path parameter, query parameters that are required or
/// that the spec gives a value for, required body properties (an optional `user_id` filter
/// left out stays out: adding it would change what the request asks).
pub(crate) fn user_params(
    op: &Operation,
    only_sent: bool,
    by_value: impl Fn(&str) -> Option<Slot>,
) -> Vec<UserParam> {
    let mut out = Vec::new();
    for p in &op.parameters {
        let offered = p.required || p.example.is_some() || p.schema.example.is_some();
        let sent = match p.location {
            ParamLocation::Path => true,
            ParamLocation::Query => !only_sent || offered || p.schema.default.is_some(),
            _ => false,
        };
        if !sent {
            continue;
        }
        if let Some(slot) = slot_by_name(&p.name, &p.schema).or_else(|| by_value(&p.name)) {
            out.push(UserParam {
                location: Some(p.location),
                name: p.name.clone(),
                schema: (*p.schema).clone(),
                slot,
            });
        }
    }
    let body = op.request_body.as_ref().and_then(|b| {
        b.content
            .iter()
            .find(|(m, _)| m.contains("json"))
            .map(|(_, s)| s.clone())
    });
    if let Some(body) = &body {
        for (name, schema) in &body.properties {
            let required = body.required.contains(name);
            if (only_sent && !required)
                || schema.read_only
                || slot_by_name(name, schema) != Some(Slot::Id)
            {
                continue;
            }
            out.push(UserParam {
                location: None,
                name: name.clone(),
                schema: (**schema).clone(),
                slot: Slot::Id,
            });
        }
    }
    out
}

/// How the probe fills user parameters: the pool (for the by-value rule) and what every
/// identity is known to be.
pub(crate) struct Knowledge<'a> {
    pub pool: &'a IdPool,
    /// Each identity's name and what it is known to be.
    pub everyone: &'a [(String, SelfKnowledge)],
}

impl Knowledge<'_> {
    /// A parameter no user-like name marks: named like another identifier of some identity's
    /// own record (`farmerId`), or its known values are the identities' names or ids.
    fn by_value(&self, op: &Operation, name: &str) -> Option<Slot> {
        let n = normalize_name(name);
        if self.everyone.iter().any(|(_, k)| k.field(&n).is_some()) {
            return Some(Slot::Field(n));
        }
        let values: Vec<Value> = self
            .pool
            .candidates(op, name, "")
            .into_iter()
            .map(|(v, _)| v)
            .collect();
        let all: Vec<SelfKnowledge> = self.everyone.iter().map(|(_, k)| k.clone()).collect();
        slot_by_value(&values, &all)
    }

    fn of(&self, identity: &str) -> Option<&SelfKnowledge> {
        self.everyone
            .iter()
            .find(|(n, _)| n == identity)
            .map(|(_, k)| k)
    }

    /// Overrides that give `identity`'s own value to every user parameter of `op`; a check's
    /// own overrides go after these and win.
    pub fn own_overrides(&self, op: &Operation, identity: &str) -> SynthOverrides {
        let mut o = SynthOverrides::default();
        let Some(own) = self.of(identity).filter(|k| !k.is_empty()) else {
            return o;
        };
        for p in user_params(op, true, |n| self.by_value(op, n)) {
            let Some(v) = own_value(own, p.slot, &p.schema) else {
                continue;
            };
            match p.location {
                Some(loc) => o.set_param(loc, &p.name, v),
                None => o.set_body([p.name], v),
            }
        }
        o
    }

    /// Known values for `param` whose record names an identity as its owner (`"user_id": 7`
    /// where 7 is that identity's id), each with that identity. Values an identity saw in its
    /// own answers are left to their sightings: an object every identity sees in its own
    /// lists may be shared by design. What this adds are objects no identity sighted, such as
    /// those only an admin listing shows.
    pub fn owned_by_record(&self, op: &Operation, param: &str) -> Vec<(Value, String)> {
        let mut out = Vec::new();
        for (value, _, owner) in self.pool.candidates_with_owner(op, param, "") {
            let Some(owner) = owner.map(Value::String) else {
                continue;
            };
            let mut named = self.everyone.iter().filter(|(_, k)| k.names(&owner));
            if let (Some((name, _)), None) = (named.next(), named.next()) {
                out.push((value, name.clone()));
            }
        }
        out
    }

    /// Each identity's own value for a path or query parameter `param` of `op` that names a
    /// user: that identity's object, whoever else has seen it.
    pub fn owned_values(&self, op: &Operation, param: &str) -> Vec<(Value, String)> {
        let Some(p) = user_params(op, false, |n| self.by_value(op, n))
            .into_iter()
            .find(|p| p.location.is_some() && p.name == param)
        else {
            return Vec::new();
        };
        self.everyone
            .iter()
            .filter_map(|(name, k)| Some((own_value(k, p.slot.clone(), &p.schema)?, name.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn string() -> Schema {
        Schema::of_type(SchemaType::String)
    }

    #[test]
    fn user_naming_names_in_any_convention() {
        let s = string();
        for n in [
            "userId",
            "user_id",
            "owner-id",
            "CustomerUUID",
            "accountID",
            "uid",
        ] {
            assert_eq!(slot_by_name(n, &s), Some(Slot::Id), "{n}");
        }
        for n in ["username", "user_name", "login", "userName"] {
            assert_eq!(slot_by_name(n, &s), Some(Slot::Username), "{n}");
        }
        assert_eq!(slot_by_name("user_email", &s), Some(Slot::Email));
        assert_eq!(slot_by_name("owner", &s), Some(Slot::Username));
        let int = Schema::of_type(SchemaType::Integer);
        assert_eq!(slot_by_name("owner", &int), Some(Slot::Id));
        for n in ["orderId", "id", "farmerId", "user_role", "name", "email"] {
            assert_eq!(slot_by_name(n, &s), None, "{n}");
        }
    }

    #[test]
    fn known_values_decide_only_on_long_or_named_values() {
        let alice = SelfKnowledge {
            id: Some(json!(7)),
            username: Some("alice".into()),
            email: Some("a@x.test".into()),
            fields: Vec::new(),
        };
        let bob = SelfKnowledge {
            id: Some(json!(8)),
            username: Some("bob".into()),
            email: Some("b@x.test".into()),
            fields: Vec::new(),
        };
        let everyone = [alice.clone()];
        assert_eq!(
            slot_by_value(&[json!("ALICE")], &everyone),
            Some(Slot::Username)
        );
        let both = [alice, bob];
        assert_eq!(
            slot_by_value(&[json!("alice"), json!("travel")], &both),
            None,
            "one value equal to one identity's name is a coincidence"
        );
        assert_eq!(
            slot_by_value(&[json!("alice"), json!("bob")], &both),
            Some(Slot::Username)
        );
        assert_eq!(
            slot_by_value(&[json!("a@x.test")], &everyone),
            Some(Slot::Email)
        );
        assert_eq!(slot_by_value(&[json!(7), json!("7")], &everyone), None);
        let uuid = SelfKnowledge {
            id: Some(json!("6e1f5d3a-8b2c")),
            ..Default::default()
        };
        assert_eq!(
            slot_by_value(&[json!("6e1f5d3a-8b2c")], &[uuid]),
            Some(Slot::Id)
        );
    }

    #[test]
    fn own_values_fit_the_schema() {
        let k = SelfKnowledge {
            id: Some(json!("12")),
            username: Some("alice".into()),
            email: None,
            fields: Vec::new(),
        };
        let int = Schema::of_type(SchemaType::Integer);
        assert_eq!(own_value(&k, Slot::Id, &int), Some(json!(12)));
        assert_eq!(own_value(&k, Slot::Username, &int), None);
        assert_eq!(own_value(&k, Slot::Email, &string()), None);
        let k = SelfKnowledge {
            id: Some(json!(12)),
            ..Default::default()
        };
        assert_eq!(own_value(&k, Slot::Id, &string()), Some(json!("12")));
    }

    #[test]
    fn path_query_and_body_user_params_are_found() {
        use middlebrick_model::{Method, Parameter, RequestBodySpec};
        use std::sync::Arc;
        let mut op = Operation::new(Method::Put, "/farmers/{farmerId}/things/{userId}");
        for (name, loc) in [
            ("farmerId", ParamLocation::Path),
            ("userId", ParamLocation::Path),
            ("owner_id", ParamLocation::Query),
            ("X-User-Id", ParamLocation::Header),
            ("user_uuid", ParamLocation::Query),
        ] {
            op.parameters.push(Parameter {
                name: name.into(),
                location: loc,
                required: name != "user_uuid",
                schema: Arc::new(string()),
                example: None,
            });
        }
        let mut body = Schema::of_type(SchemaType::Object);
        body.properties.insert(
            "user_id".into(),
            Arc::new(Schema::of_type(SchemaType::Integer)),
        );
        body.properties.insert(
            "owner_id".into(),
            Arc::new(Schema::of_type(SchemaType::Integer)),
        );
        body.required.push("user_id".into());
        body.properties
            .insert("username".into(), Arc::new(string()));
        op.request_body = Some(RequestBodySpec {
            required: true,
            content: [("application/json".to_string(), Arc::new(body))]
                .into_iter()
                .collect(),
        });
        let found: Vec<(String, Slot)> =
            user_params(&op, true, |n| (n == "farmerId").then_some(Slot::Username))
                .into_iter()
                .map(|p| (p.name, p.slot))
                .collect();
        assert_eq!(
            found,
            vec![
                ("farmerId".to_string(), Slot::Username),
                ("userId".to_string(), Slot::Id),
                ("owner_id".to_string(), Slot::Id),
                ("user_id".to_string(), Slot::Id),
            ]
        );
        let all = user_params(&op, false, |_| None);
        assert!(
            all.iter().any(|p| p.name == "user_uuid") && all.iter().any(|p| p.name == "owner_id")
        );
    }

    fn get(path: &str, ty: SchemaType) -> Operation {
        use middlebrick_model::{Method, Parameter};
        let mut op = Operation::new(Method::Get, path);
        let names: Vec<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_string)
            .collect();
        for name in names {
            op.parameters.push(Parameter {
                name,
                location: ParamLocation::Path,
                required: true,
                schema: std::sync::Arc::new(Schema::of_type(ty)),
                example: None,
            });
        }
        op
    }

    fn everyone() -> Vec<(String, SelfKnowledge)> {
        let k = |id: i64, name: &str| SelfKnowledge {
            id: Some(json!(id)),
            username: Some(name.into()),
            email: None,
            fields: Vec::new(),
        };
        vec![
            ("alice".into(), k(7, "alice1")),
            ("bob".into(), k(8, "bobby")),
        ]
    }

    #[test]
    fn each_identity_sends_its_own_user_id_and_owns_it() {
        let pool = IdPool::new();
        let everyone = everyone();
        let kn = Knowledge {
            pool: &pool,
            everyone: &everyone,
        };
        let op = get("/users/{userId}/cards", SchemaType::Integer);
        let o = kn.own_overrides(&op, "alice");
        assert_eq!(
            o.params,
            vec![(ParamLocation::Path, "userId".to_string(), Some(json!(7)))]
        );
        assert!(kn.own_overrides(&op, "anonymous").params.is_empty());
        assert_eq!(
            kn.owned_values(&op, "userId"),
            vec![
                (json!(7), "alice".to_string()),
                (json!(8), "bob".to_string())
            ]
        );
    }

    #[test]
    fn a_parameter_whose_known_values_are_usernames_takes_the_username() {
        let mut pool = IdPool::new();
        pool.harvest(
            &get("/farmers", SchemaType::String),
            "alice",
            &json!([{"farmerId": "alice1"}, {"farmerId": "bobby"}]),
        );
        let everyone = everyone();
        let kn = Knowledge {
            pool: &pool,
            everyone: &everyone,
        };
        let op = get("/farmers/{farmerId}/sheep", SchemaType::String);
        let o = kn.own_overrides(&op, "bob");
        assert_eq!(
            o.params,
            vec![(
                ParamLocation::Path,
                "farmerId".to_string(),
                Some(json!("bobby"))
            )]
        );
    }

    #[test]
    fn objects_only_an_admin_listed_are_owned_by_the_identity_their_record_names() {
        let mut pool = IdPool::new();
        pool.harvest(
            &get("/things", SchemaType::Integer),
            "*privileged",
            &json!({"items": [{"id": 1, "owner_id": 7}, {"id": 2, "owner_id": 99}]}),
        );
        let everyone = everyone();
        let kn = Knowledge {
            pool: &pool,
            everyone: &everyone,
        };
        let op = get("/things/{thingId}", SchemaType::Integer);
        assert_eq!(
            kn.owned_by_record(&op, "thingId"),
            vec![(json!(1), "alice".to_string())]
        );
    }

    #[test]
    fn a_parameter_named_like_an_identifier_of_the_own_record_takes_it() {
        let pool = IdPool::new();
        let mut everyone = everyone();
        for (name, k) in everyone.iter_mut() {
            k.fields
                .push(("farmerid".into(), json!(format!("f-{name}"))));
        }
        let kn = Knowledge {
            pool: &pool,
            everyone: &everyone,
        };
        let op = get("/farmers/{farmerId}/sheep", SchemaType::String);
        assert_eq!(
            kn.own_overrides(&op, "bob").params,
            vec![(
                ParamLocation::Path,
                "farmerId".to_string(),
                Some(json!("f-bob"))
            )]
        );
        assert_eq!(kn.owned_values(&op, "farmerId").len(), 2);
    }
}
