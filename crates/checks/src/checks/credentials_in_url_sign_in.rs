//! The sign-in half of `auth.credentials-in-url`: an operation that takes the password in the
//! query string and signs the caller in with it. Query strings are written to access logs,
//! proxy logs and browser history, so every sign-in leaves a reusable password there.
//!
//! Evidence by difference, never by the declaration alone: a configured identity signs in
//! through the operation with its own password (sent where the spec puts it, the query), and the
//! same operation refuses a wrong password; the right password's URL carries the password
//! parameter. Budget: two requests per such operation (one fresh sign-in, one wrong password),
//! at most [`MAX_SIGN_INS`] operations.

use super::credentials_in_url::META;
use crate::authflow::{
    is_sign_in, nonexistent_username, query_credentials, signed_in, wrong_password,
};
use crate::probe::{Probe, ProbeError};
use middlebrick_model::{Confidence, Evidence, Finding, Inventory, Severity};

/// Sign-in operations with query credentials that are tried.
pub const MAX_SIGN_INS: usize = 2;

pub(super) async fn password_in_query(
    probe: &dyn Probe,
    inv: &Inventory,
) -> Result<Vec<Finding>, ProbeError> {
    let Some(identity) = probe
        .identities()
        .into_iter()
        .find(|i| probe.username_of(&i.name).is_some())
    else {
        return Ok(Vec::new());
    };
    let ops = inv
        .operations
        .iter()
        .filter(|o| is_sign_in(o))
        .filter_map(|o| query_credentials(o).map(|(_, password)| (o, password)))
        .take(MAX_SIGN_INS);
    let mut out = Vec::new();
    for (op, password_param) in ops {
        let right = probe.sign_in_fresh(Some(op), &identity.name, &[]).await?;
        let in_url = right.request.url.split_once('?').is_some_and(|(_, q)| {
            q.split('&')
                .any(|kv| kv.starts_with(&format!("{password_param}=")))
        });
        if !in_url {
            continue;
        }
        let wrong = probe
            .sign_in_attempt(
                Some(op),
                &nonexistent_username(Some(op)),
                &wrong_password(),
                &[],
            )
            .await?;
        if !signed_in(&right, Some(&wrong)) {
            continue;
        }
        let description = format!(
            "`{}` signs a caller in with the password in the query string (`?{password_param}=`): \
             identity `{}` signed in that way (HTTP {}), and a wrong password is refused (HTTP \
             {}). Every sign-in writes a reusable password into access logs, proxy logs and \
             browser history.",
            op.key(),
            identity.name,
            right.status().unwrap_or(0),
            wrong.status().unwrap_or(0),
        );
        let evidence = Evidence::new(vec![right, wrong]).note(
            "first: the identity's own sign-in, password in the query (redacted); second: a wrong \
             password",
        );
        out.push(META.finding(
            Some(op),
            &password_param,
            Severity::Medium,
            Confidence::Confirmed,
            description,
            evidence,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{
        Method, Operation, ParamLocation, Parameter, Schema, SchemaType, SpecVersion,
    };
    use std::sync::Arc;

    const JSON: &str = "application/json";

    fn session(query: bool) -> Inventory {
        let mut op = Operation::new(Method::Post, "/session");
        if query {
            for name in ["username", "password"] {
                op.parameters.push(Parameter {
                    name: name.into(),
                    location: ParamLocation::Query,
                    required: true,
                    schema: Arc::new(Schema::of_type(SchemaType::String)),
                    example: None,
                });
            }
        }
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations = vec![op];
        inv
    }

    /// `{"status":"success", token}` for alice's own password, a failure envelope otherwise.
    fn api(accepts: bool) -> FakeProbe {
        let mut p = FakeProbe::new()
            .identity("alice", &["alice"])
            .on_dynamic(move |r| {
                let fresh = r
                    .query
                    .iter()
                    .any(|(k, v)| k == "password" && v == "<fresh>");
                Some(if fresh && accepts {
                    response(
                        200,
                        JSON,
                        r#"{"status":"success","data":{"token":"tok-0123456789"}}"#,
                    )
                } else {
                    response(
                        200,
                        JSON,
                        r#"{"status":"fail","message":"invalid credentials"}"#,
                    )
                })
            });
        p.usernames.push(("alice".into(), "alice".into()));
        p
    }

    #[tokio::test]
    async fn a_sign_in_that_takes_the_password_in_the_query_is_reported() {
        let inv = session(true);
        let out = password_in_query(&api(true), &inv).await.unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].path.as_deref(), Some("/session"));
        assert_eq!(out[0].parameter.as_deref(), Some("password"));
    }

    #[tokio::test]
    async fn a_closed_query_sign_in_or_body_credentials_are_silent() {
        // Every call refused alike: nothing signs in through the URL.
        assert!(password_in_query(&api(false), &session(true))
            .await
            .unwrap()
            .is_empty());
        // Credentials in the body: not this check's business.
        let probe = api(true);
        assert!(password_in_query(&probe, &session(false))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(probe.sent_count(), 0);
    }
}
