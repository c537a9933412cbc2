//! Rules of `userparams.rs`: which parameters name a user, and what each identity sends and owns.

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
    assert!(all.iter().any(|p| p.name == "user_uuid") && all.iter().any(|p| p.name == "owner_id"));
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
fn a_record_everyone_saw_anonymously_is_its_owners_and_one_members_saw_is_shared() {
    let list = get("/things", SchemaType::Integer);
    let body = json!({"items": [{"id": 1, "owner_id": 7}, {"id": 2, "owner_id": 8}]});
    let item = get("/things/{thingId}", SchemaType::Integer);
    let everyone = everyone();
    let known_after = |readers: &[&str]| {
        let mut pool = IdPool::new();
        let mut known: Vec<(Value, Vec<String>)> = Vec::new();
        for who in readers {
            pool.harvest(&list, who, &body);
            for v in [json!(1), json!(2)] {
                match known.iter_mut().find(|(x, _)| *x == v) {
                    Some((_, w)) => w.push(who.to_string()),
                    None => known.push((v, vec![who.to_string()])),
                }
            }
        }
        Knowledge::new(&pool, &everyone).add_owned(&item, "thingId", &mut known);
        known
    };
    // The listing answers anonymous callers too: its records say whose each object is.
    assert_eq!(
        known_after(&["alice", "bob", ANONYMOUS]),
        vec![
            (json!(1), vec!["alice".to_string()]),
            (json!(2), vec!["bob".to_string()])
        ]
    );
    // Only the members see it: both saw both, as objects shared between them by design.
    let shared = known_after(&["alice", "bob"]);
    assert!(shared.iter().all(|(_, who)| who.len() == 2), "{shared:?}");
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

#[test]
fn a_checks_own_override_wins_over_the_identitys_value() {
    let pool = IdPool::new();
    let everyone = everyone();
    let kn = Knowledge::new(&pool, &everyone);
    let op = get("/users/{userId}/cards", SchemaType::Integer);
    let mut asked = SynthOverrides::default();
    asked.set_param(ParamLocation::Path, "userId", json!(8));
    let merged = kn.with_own_values(&op, "alice", asked);
    let req = middlebrick_synth::synthesize(&op, &pool, "alice", &merged);
    assert_eq!(req.path, "/users/8/cards", "bola sends bob's id as alice");
    let own = kn.with_own_values(&op, "alice", SynthOverrides::default());
    let req = middlebrick_synth::synthesize(&op, &pool, "alice", &own);
    assert_eq!(req.path, "/users/7/cards");
}
