//! Rules of `selfknow.rs`: what claims, sign-in answers and current-user reads say.

use super::*;
use serde_json::json;

fn claims(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn claims_give_id_username_and_email() {
    let k = from_claims(
        &claims(json!({"sub": "42", "preferred_username": "alice", "email": "a@x.test", "exp": 1})),
        Some("alice"),
    );
    assert_eq!(k.id, Some(json!("42")));
    assert_eq!(k.username.as_deref(), Some("alice"));
    assert_eq!(k.email.as_deref(), Some("a@x.test"));
}

#[test]
fn a_subject_is_an_email_the_sign_in_name_or_an_id() {
    let k = from_claims(&claims(json!({"sub": "alice"})), Some("Alice"));
    assert_eq!((k.id, k.username.as_deref()), (None, Some("alice")));
    let k = from_claims(&claims(json!({"sub": "a@x.test"})), Some("alice"));
    assert_eq!(k.email.as_deref(), Some("a@x.test"));
    let k = from_claims(&claims(json!({"sub": 5, "user_id": 9})), None);
    assert_eq!(k.id, Some(json!(9)), "an explicit user id comes first");
    let k = from_claims(
        &claims(json!({"identity": {"id": 3, "username": "bob"}})),
        None,
    );
    assert_eq!((k.id, k.username.as_deref()), (Some(json!(3)), Some("bob")));
}

#[test]
fn sign_in_answers_are_read_inside_wrappers_and_user_objects() {
    let answer =
        json!({"user": {"email": "a@x.test", "token": "eyJ.x.y", "username": "alice", "id": 12}});
    let k = from_answer(&answer, Some("a@x.test"), false);
    assert_eq!(k.id, Some(json!(12)));
    assert_eq!(k.username.as_deref(), Some("alice"));
    let answer = json!({"status": "success", "data": {"result": {"userId": "u-77", "token": "t"}}});
    assert_eq!(from_answer(&answer, None, false).id, Some(json!("u-77")));
    let answer = json!({"status": "ok", "data": {"account": {"id": 4}}});
    assert_eq!(from_answer(&answer, None, false).id, Some(json!(4)));
}

#[test]
fn a_bare_id_is_the_accounts_only_when_the_record_is() {
    let answer = json!({"id": "sess-1", "access_token": "t", "token_type": "bearer"});
    assert_eq!(from_answer(&answer, Some("alice"), false).id, None);
    let answer = json!({"id": 8, "username": "alice", "token": "t"});
    assert_eq!(
        from_answer(&answer, Some("alice"), false).id,
        Some(json!(8))
    );
    let me = json!({"data": {"id": 8, "name": "Alice"}});
    assert_eq!(from_answer(&me, None, true).id, Some(json!(8)));
}

#[test]
fn other_identifiers_of_the_own_record_are_kept_by_name() {
    let answer = json!({"data": {"token": "t", "account": {"farmerId": "alice", "id": 3}}});
    let k = from_answer(&answer, None, false);
    assert_eq!(k.field("farmerid"), Some(&json!("alice")));
    assert_eq!(k.id, Some(json!(3)));
    assert_eq!(k.field("id"), None);
}

#[test]
fn credentials_are_never_learnt() {
    let k = from_record(
        &claims(json!({"session_id": "s", "api_key": "k", "password_hash": "h"})),
        true,
    );
    assert!(k.is_empty());
}

#[test]
fn a_read_is_the_callers_own_record_when_it_names_them_and_differs_between_identities() {
    let rec = |v: Value| v.as_object().cloned();
    let knows = |name: &str| SelfKnowledge {
        username: Some(name.into()),
        ..Default::default()
    };
    let records = vec![
        (
            "alice".to_string(),
            rec(json!({"id": 7, "username": "alice"})),
        ),
        ("bob".to_string(), rec(json!({"id": 8, "username": "bob"}))),
    ];
    let learnt = own_records(&records, &[knows("alice"), knows("bob")]);
    assert_eq!(learnt.len(), 2);
    assert_eq!(learnt[0].1.id, Some(json!(7)));

    let same = vec![
        (
            "alice".to_string(),
            rec(json!({"id": 7, "username": "alice"})),
        ),
        (
            "bob".to_string(),
            rec(json!({"id": 7, "username": "alice"})),
        ),
    ];
    assert!(
        own_records(&same, &[knows("alice"), knows("bob")]).is_empty(),
        "the same record for everyone is nobody's own"
    );
    let other = vec![
        (
            "alice".to_string(),
            rec(json!({"id": 9, "username": "carol"})),
        ),
        ("bob".to_string(), rec(json!({"id": 8, "username": "dave"}))),
    ];
    assert!(own_records(&other, &[knows("alice"), knows("bob")]).is_empty());
}
