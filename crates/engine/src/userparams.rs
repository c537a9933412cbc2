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
use middlebrick_model::{Operation, ParamLocation, Schema, SchemaType, SelfKnowledge, ANONYMOUS};
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

impl<'a> Knowledge<'a> {
    pub fn new(pool: &'a IdPool, everyone: &'a [(String, SelfKnowledge)]) -> Self {
        Knowledge { pool, everyone }
    }

    /// `asked` (a check's overrides) on top of `identity`'s own values: the check's win.
    pub fn with_own_values(
        &self,
        op: &Operation,
        identity: &str,
        asked: SynthOverrides,
    ) -> SynthOverrides {
        let mut merged = self.own_overrides(op, identity);
        merged.params.extend(asked.params);
        merged.body.extend(asked.body);
        merged.salt = asked.salt;
        merged
    }

    /// Adds to `known` (values with the identities that saw them) what identity says: each
    /// identity's own value for a user parameter is that identity's, whoever saw it; a value
    /// no identity saw, or seen anonymously too, whose record names an identity as owner is
    /// that identity's.
    pub fn add_owned(&self, op: &Operation, param: &str, known: &mut Vec<(Value, Vec<String>)>) {
        for (value, owner) in self.owned_by_record(op, param) {
            match known.iter_mut().find(|(v, _)| *v == value) {
                None => known.push((value, vec![owner])),
                // Seen anonymously too: the answers that hold it are open to everyone, so no
                // identity's sighting says the object is shared with it; its record says whose
                // it is (the checks still prove the object itself is refused anonymously).
                Some((_, who)) if who.iter().any(|w| w == ANONYMOUS) => *who = vec![owner],
                Some(_) => {}
            }
        }
        for (value, owner) in self.owned_values(op, param) {
            match known.iter_mut().find(|(v, _)| *v == value) {
                Some((_, who)) => *who = vec![owner],
                None => known.push((value, vec![owner])),
            }
        }
    }

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
#[path = "userparams_tests.rs"]
mod tests;
