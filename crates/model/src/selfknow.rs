//! What the scan knows about who an identity is: its own user id, username and e-mail, learnt
//! after sign-in from the token's claims, the sign-in answer and the API's current-user read.
//! Structured, not a flat marker list, so a `{userId}` parameter gets the id and a
//! `{username}` parameter the username, and an object whose owner field holds one of them has
//! a known owner even when every identity can list it.

use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelfKnowledge {
    /// The account's own id (a number or a string, as the API spells it).
    pub id: Option<Value>,
    pub username: Option<String>,
    pub email: Option<String>,
    /// Other identifiers the account's own record gives, by normalised name
    /// (`"farmerId": "alice"` -> `farmerid`): a parameter named the same takes this value.
    pub fields: Vec<(String, Value)>,
}

/// Other identifiers kept at most.
pub const MAX_SELF_FIELDS: usize = 16;

/// A scalar as text (`7`, `"7"` -> `7`): how ids compare across path, query and JSON.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl SelfKnowledge {
    pub fn is_empty(&self) -> bool {
        self.id.is_none()
            && self.username.is_none()
            && self.email.is_none()
            && self.fields.is_empty()
    }

    /// Fills what is still unknown from `other`; what is known is kept (the first source that
    /// said it wins: claims, then the sign-in answer, then the current-user read).
    pub fn merge(&mut self, other: SelfKnowledge) {
        if self.id.is_none() {
            self.id = other.id;
        }
        if self.username.is_none() {
            self.username = other.username;
        }
        if self.email.is_none() {
            self.email = other.email;
        }
        for (name, v) in other.fields {
            if self.fields.len() < MAX_SELF_FIELDS && !self.fields.iter().any(|(n, _)| *n == name) {
                self.fields.push((name, v));
            }
        }
    }

    /// The value the account's own record gives for a (normalised) name.
    pub fn field(&self, normalized: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(n, _)| n == normalized)
            .map(|(_, v)| v)
    }

    /// The known values as text: id, username, e-mail.
    pub fn values(&self) -> Vec<String> {
        let mut out: Vec<String> = self.id.iter().filter_map(scalar_text).collect();
        out.extend(self.username.iter().cloned());
        out.extend(self.email.iter().cloned());
        out
    }

    /// Whether `v` is this account's id, username or e-mail (ids compare as text, so `7` and
    /// `"7"` are one id; usernames and e-mails ignore ASCII case).
    pub fn names(&self, v: &Value) -> bool {
        let Some(text) = scalar_text(v) else {
            return false;
        };
        self.id.as_ref().and_then(scalar_text).as_deref() == Some(text.as_str())
            || [&self.username, &self.email]
                .into_iter()
                .flatten()
                .any(|s| s.eq_ignore_ascii_case(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_keeps_what_is_known_and_names_compares_as_text() {
        let mut k = SelfKnowledge {
            id: Some(json!(7)),
            ..Default::default()
        };
        k.merge(SelfKnowledge {
            id: Some(json!(9)),
            username: Some("alice".into()),
            email: None,
            fields: vec![("farmerid".into(), json!("alice"))],
        });
        assert_eq!(k.field("farmerid"), Some(&json!("alice")));
        assert_eq!(k.id, Some(json!(7)));
        assert!(k.names(&json!("7")) && k.names(&json!(7)) && k.names(&json!("ALICE")));
        assert!(!k.names(&json!(9)) && !k.names(&json!(null)));
        assert_eq!(k.values(), vec!["7", "alice"]);
    }
}
