//! `authz.mass-assignment` on the account: registration and the profile update, both ways.

use super::*;
use crate::fake::FakeProbe;
use crate::similarity::response;
use middlebrick_model::{RequestBody, RequestBodySpec, RequestSpec, ResponseSpec, SpecVersion};
use std::sync::Arc;

fn inventory() -> Inventory {
    let mut reg = Operation::new(Method::Post, "/api/auth/register");
    let mut body = Schema::of_type(SchemaType::Object);
    for k in ["username", "password", "email"] {
        body.properties
            .insert(k.into(), Arc::new(Schema::of_type(SchemaType::String)));
    }
    reg.request_body = Some(RequestBodySpec {
        required: true,
        content: [("application/json".to_string(), Arc::new(body))]
            .into_iter()
            .collect(),
    });
    let mut me = Operation::new(Method::Get, "/api/users/me");
    let mut profile = Schema::of_type(SchemaType::Object);
    profile.properties.insert(
        "username".into(),
        Arc::new(Schema::of_type(SchemaType::String)),
    );
    profile
        .properties
        .insert("role".into(), Arc::new(Schema::of_type(SchemaType::String)));
    me.responses.push(ResponseSpec {
        status: "200".into(),
        media_type: None,
        schema: Some(Arc::new(profile)),
    });
    let mut inv = Inventory::empty(SpecVersion::OpenApi30);
    inv.operations = vec![reg, me, Operation::new(Method::Patch, "/api/users/me")];
    inv
}

fn sets_role(r: &RequestSpec) -> bool {
    matches!(&r.body, Some(RequestBody::Json(v)) if v.get("role").is_some())
}

async fn run(p: &FakeProbe) -> Outcome {
    let inv = inventory();
    MassAssignment
        .run(&RunCtx {
            probe: p,
            inventory: &inv,
            op: None,
        })
        .await
}

/// A fake API that persists `role` from registration (when `vulnerable`) and from updates
/// (when `vulnerable`), keyed by the scanner's account names.
fn api(vulnerable: bool) -> FakeProbe {
    use std::sync::{Arc, Mutex};
    #[derive(Default)]
    struct State {
        escalated_users: Vec<String>,
        escalated_names: Vec<String>,
    }
    let state = Arc::new(Mutex::new(State::default()));
    let (s1, s2, s3, s4) = (state.clone(), state.clone(), state.clone(), state.clone());
    FakeProbe::new()
        .on(
            move |r: &RequestSpec| {
                if r.path.ends_with("register") && sets_role(r) && vulnerable {
                    if let Some(RequestBody::Json(v)) = &r.body {
                        s1.lock()
                            .unwrap()
                            .escalated_users
                            .push(v["username"].as_str().unwrap_or("").to_string());
                    }
                }
                r.path.ends_with("register")
            },
            response(201, "application/json", r#"{"id":9}"#),
        )
        .on(
            move |r: &RequestSpec| {
                if r.path == "/fake-sign-in" {
                    let mut st = s2.lock().unwrap();
                    let op = r.operation.clone().unwrap_or_default();
                    if st
                        .escalated_users
                        .iter()
                        .any(|u| !u.is_empty() && op.ends_with(u.as_str()))
                    {
                        st.escalated_names.push(r.identity.clone());
                    }
                }
                r.path == "/fake-sign-in"
            },
            response(
                200,
                "application/json",
                r#"{"access_token":"t0k3n-abcdef"}"#,
            ),
        )
        .on(
            move |r: &RequestSpec| {
                if r.method == Method::Patch && sets_role(r) && vulnerable {
                    s3.lock().unwrap().escalated_names.push(r.identity.clone());
                }
                r.method == Method::Patch
            },
            response(200, "application/json", r#"{"ok":true}"#),
        )
        .on(
            move |r: &RequestSpec| {
                r.method == Method::Get && s4.lock().unwrap().escalated_names.contains(&r.identity)
            },
            response(
                200,
                "application/json",
                r#"{"username":"x","role":"admin"}"#,
            ),
        )
        .on(
            |r: &RequestSpec| r.method == Method::Get,
            response(
                200,
                "application/json",
                r#"{"username":"x","role":"customer"}"#,
            ),
        )
}

#[tokio::test]
async fn role_persisted_from_registration_and_update_is_confirmed() {
    let out = run(&api(true)).await;
    let ops: Vec<String> = out.findings.iter().map(|f| f.location()).collect();
    assert_eq!(ops, vec!["POST /api/auth/register", "PATCH /api/users/me"]);
    assert!(out
        .findings
        .iter()
        .all(|f| f.confidence == Confidence::Confirmed));
}

#[tokio::test]
async fn ignored_properties_are_silent() {
    assert!(run(&api(false)).await.findings.is_empty());
}

#[test]
fn wrapped_profiles_are_read_inside_their_envelope() {
    let mut role = Schema::of_type(SchemaType::String);
    role.enum_values = vec![json!("customer"), json!("admin")];
    let mut record = Schema::of_type(SchemaType::Object);
    record
        .properties
        .insert("id".into(), Arc::new(Schema::of_type(SchemaType::String)));
    record.properties.insert("role".into(), Arc::new(role));
    let mut wrapper = Schema::of_type(SchemaType::Object);
    wrapper.properties.insert(
        "status".into(),
        Arc::new(Schema::of_type(SchemaType::String)),
    );
    wrapper.properties.insert("data".into(), Arc::new(record));
    let inner = record_schema(&Arc::new(wrapper));
    assert!(inner.properties.contains_key("role"));
    assert_eq!(
        escalated("role", inner.properties.get("role").map(|s| s.as_ref())),
        json!("admin")
    );
    let read = crate::fake::exchange_for(
        &middlebrick_model::RequestSpec::new(Method::Get, "/me"),
        Some(crate::similarity::response(
            200,
            "application/json",
            r#"{"status":"success","data":{"id":"u1","role":"admin"}}"#,
        )),
    );
    assert!(Seen::read(read.clone()).holds("role", &json!("admin")));
    assert!(!Seen::read(read.clone()).holds("role", &json!("customer")));
    // A lone object property of any name wraps the record too.
    let read = crate::fake::exchange_for(
        &middlebrick_model::RequestSpec::new(Method::Get, "/user"),
        Some(crate::similarity::response(
            200,
            "application/json",
            r#"{"user":{"username":"mb","admin":true}}"#,
        )),
    );
    assert!(Seen::read(read.clone()).holds("admin", &json!(true)));
    let mut lone = Schema::of_type(SchemaType::Object);
    lone.properties
        .insert("user".into(), Arc::new((*inner).clone()));
    assert!(record_schema(&Arc::new(lone))
        .properties
        .contains_key("role"));
}

#[test]
fn escalated_values_follow_the_schema() {
    let mut role = Schema::of_type(SchemaType::String);
    role.enum_values = vec![json!("customer"), json!("admin")];
    assert_eq!(escalated("role", Some(&role)), json!("admin"));
    assert_eq!(escalated("is_admin", None), json!(true));
    assert_eq!(
        escalated("balance", Some(&Schema::of_type(SchemaType::Number))),
        json!(1_000_000)
    );
    let inv = inventory();
    let fields = privileged_fields(register_op(&inv).unwrap(), self_read(&inv), None, None);
    assert_eq!(fields, vec![("role".to_string(), json!("admin"))]);
}

#[test]
fn values_differ_from_the_current_one_admin_first_then_other_members() {
    let mut role = Schema::of_type(SchemaType::String);
    role.enum_values = vec![json!("member"), json!("owner"), json!("staff")];
    // The admin identity's value wins when it differs.
    let v = differing(
        "role",
        Some(&role),
        Some(&json!("member")),
        Some(&json!("staff")),
    );
    assert_eq!(v, Some(json!("staff")));
    // Without an admin: the privileged-sounding member, never the current one.
    assert_eq!(
        differing("role", Some(&role), Some(&json!("member")), None),
        Some(json!("owner"))
    );
    assert_eq!(
        differing(
            "role",
            Some(&role),
            Some(&json!("owner")),
            Some(&json!("owner"))
        ),
        Some(json!("member"))
    );
    // Flags are raised, never lowered.
    assert_eq!(
        differing("is_admin", None, Some(&json!(false)), None),
        Some(json!(true))
    );
    assert_eq!(differing("verified", None, Some(&json!(true)), None), None);
}

#[test]
fn undocumented_privileged_keys_of_the_own_record_are_tried() {
    let inv = inventory();
    let own = json!({"username": "mb_x", "role": "customer", "is_staff": false, "plan": null});
    let admin = json!({"username": "admin", "role": "admin", "is_staff": true});
    let fields = privileged_fields(
        register_op(&inv).unwrap(),
        self_read(&inv),
        own.as_object(),
        admin.as_object(),
    );
    assert_eq!(
        fields,
        vec![
            ("role".to_string(), json!("admin")),
            ("is_staff".to_string(), json!(true)),
            ("plan".to_string(), json!("admin")),
        ]
    );
}
