//! Security schemes (3.x `components.securitySchemes`, 2.0 `securityDefinitions`) and security
//! requirements. The scanner needs to know how to present credentials and which operations
//! declare that they need them; descriptions and UI hints are dropped.

use crate::load::{kind, string, Loader};
use crate::refs::Broken;
use indexmap::IndexMap;
use middlebrick_model::{
    Diagnostic, ParamLocation, SecurityRequirement, SecurityScheme, SecuritySchemeKind, SpecVersion,
};
use serde_json::{Map, Value};

impl Loader {
    /// Every declared scheme; a broken one is a diagnostic and left out.
    pub(crate) fn security_schemes(&mut self, root: &Value) -> IndexMap<String, SecurityScheme> {
        let declared = match self.version {
            SpecVersion::Swagger2 => root.get("securityDefinitions"),
            _ => root
                .get("components")
                .and_then(|c| c.get("securitySchemes")),
        };
        let mut out = IndexMap::new();
        let Some(Value::Object(declared)) = declared else {
            return out;
        };
        for (name, v) in declared {
            let scheme = self.deref(0, v).and_then(|r| scheme(name, r.held.get()));
            match scheme {
                Ok(s) => {
                    out.insert(name.clone(), s);
                }
                Err(b) => self.diagnostics.push(Diagnostic::warning(
                    "spec.broken-security-scheme",
                    format!("security scheme `{name}` ignored: {}", b.0),
                )),
            }
        }
        out
    }
}

fn scheme(name: &str, v: &Value) -> Result<SecurityScheme, Broken> {
    let o = v
        .as_object()
        .ok_or_else(|| Broken::new(format!("it is {}, expected a mapping", kind(v))))?;
    let ty = o
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| Broken::new("it has no `type`"))?;
    let kind = match ty {
        "http" => SecuritySchemeKind::Http {
            scheme: string(o.get("scheme"))
                .ok_or_else(|| Broken::new("an `http` scheme without `scheme`"))?
                .to_ascii_lowercase(),
        },
        "basic" => SecuritySchemeKind::Http {
            scheme: "basic".to_string(),
        },
        "apiKey" => SecuritySchemeKind::ApiKey {
            name: string(o.get("name")).ok_or_else(|| Broken::new("an `apiKey` without `name`"))?,
            location: match o.get("in").and_then(Value::as_str) {
                Some("header") => ParamLocation::Header,
                Some("query") => ParamLocation::Query,
                Some("cookie") => ParamLocation::Cookie,
                other => {
                    return Err(Broken::new(format!(
                        "an `apiKey` in `{}` (expected header, query or cookie)",
                        other.unwrap_or("?")
                    )))
                }
            },
        },
        "oauth2" => oauth2(o),
        "openIdConnect" => SecuritySchemeKind::OpenIdConnect {
            url: string(o.get("openIdConnectUrl")).unwrap_or_default(),
        },
        "mutualTLS" => SecuritySchemeKind::MutualTls,
        other => SecuritySchemeKind::Other {
            raw_type: other.to_string(),
        },
    };
    Ok(SecurityScheme {
        name: name.to_string(),
        kind,
    })
}

/// The token URL of the flows a scanner can run unattended (password, client credentials;
/// 2.0 `application` is client credentials), and every scope any flow declares.
fn oauth2(o: &Map<String, Value>) -> SecuritySchemeKind {
    let mut scopes: Vec<String> = Vec::new();
    let mut add_scopes = |declared: Option<&Value>| {
        if let Some(Value::Object(s)) = declared {
            for k in s.keys() {
                if !scopes.contains(k) {
                    scopes.push(k.clone());
                }
            }
        }
    };
    let mut token_url = None;
    if let Some(Value::Object(flows)) = o.get("flows") {
        for flow in flows.values() {
            add_scopes(flow.get("scopes"));
        }
        token_url = ["password", "clientCredentials"]
            .iter()
            .find_map(|f| string(flows.get(*f).and_then(|f| f.get("tokenUrl"))));
    } else {
        add_scopes(o.get("scopes"));
        if matches!(
            o.get("flow").and_then(Value::as_str),
            Some("password" | "application")
        ) {
            token_url = string(o.get("tokenUrl"));
        }
    }
    SecuritySchemeKind::OAuth2 { token_url, scopes }
}

/// A `security` list: alternatives, each a mapping of scheme name to scopes.
pub(crate) fn requirements(v: &Value) -> Result<Vec<SecurityRequirement>, Broken> {
    let list = v
        .as_array()
        .ok_or_else(|| Broken::new(format!("`security` is {}, expected a list", kind(v))))?;
    list.iter()
        .map(|alt| {
            let alt = alt.as_object().ok_or_else(|| {
                Broken::new(format!(
                    "a `security` entry is {}, expected a mapping",
                    kind(alt)
                ))
            })?;
            Ok(SecurityRequirement {
                schemes: alt
                    .iter()
                    .map(|(name, scopes)| (name.clone(), crate::load::strings(Some(scopes))))
                    .collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind_of(v: Value) -> SecuritySchemeKind {
        scheme("s", &v).unwrap().kind
    }

    #[test]
    fn scheme_kinds() {
        assert_eq!(
            kind_of(json!({"type": "http", "scheme": "Bearer"})),
            SecuritySchemeKind::Http {
                scheme: "bearer".into()
            }
        );
        assert_eq!(
            kind_of(json!({"type": "basic"})),
            SecuritySchemeKind::Http {
                scheme: "basic".into()
            }
        );
        assert_eq!(
            kind_of(json!({"type": "apiKey", "name": "sid", "in": "cookie"})),
            SecuritySchemeKind::ApiKey {
                name: "sid".into(),
                location: ParamLocation::Cookie
            }
        );
        assert_eq!(
            kind_of(json!({"type": "openIdConnect", "openIdConnectUrl": "https://id/.well-known"})),
            SecuritySchemeKind::OpenIdConnect {
                url: "https://id/.well-known".into()
            }
        );
        assert_eq!(
            kind_of(json!({"type": "weird"})),
            SecuritySchemeKind::Other {
                raw_type: "weird".into()
            }
        );
        assert!(scheme("s", &json!({"type": "apiKey", "name": "k", "in": "body"})).is_err());
        assert!(scheme("s", &json!({"type": "http"})).is_err());
        assert!(scheme("s", &json!("nope")).is_err());
    }

    #[test]
    fn oauth2_takes_unattended_token_urls_and_all_scopes() {
        let v3 = json!({"type": "oauth2", "flows": {
            "authorizationCode": {"authorizationUrl": "a", "tokenUrl": "https://t/code", "scopes": {"read": ""}},
            "clientCredentials": {"tokenUrl": "https://t/cc", "scopes": {"read": "", "write": ""}}
        }});
        assert_eq!(
            kind_of(v3),
            SecuritySchemeKind::OAuth2 {
                token_url: Some("https://t/cc".into()),
                scopes: vec!["read".into(), "write".into()]
            }
        );
        let v2 = json!({"type": "oauth2", "flow": "password", "tokenUrl": "https://t/pw", "scopes": {"admin": ""}});
        assert_eq!(
            kind_of(v2),
            SecuritySchemeKind::OAuth2 {
                token_url: Some("https://t/pw".into()),
                scopes: vec!["admin".into()]
            }
        );
        let implicit =
            json!({"type": "oauth2", "flow": "implicit", "authorizationUrl": "a", "scopes": {}});
        assert_eq!(
            kind_of(implicit),
            SecuritySchemeKind::OAuth2 {
                token_url: None,
                scopes: vec![]
            }
        );
    }

    #[test]
    fn requirements_keep_alternatives_and_the_empty_one() {
        let reqs = requirements(&json!([{"a": ["s1"], "b": []}, {}])).unwrap();
        assert_eq!(reqs.len(), 2);
        assert_eq!(
            reqs[0].schemes,
            vec![("a".into(), vec!["s1".into()]), ("b".into(), vec![])]
        );
        assert!(reqs[1].schemes.is_empty());
        assert!(requirements(&json!({"a": []})).is_err());
        assert!(requirements(&json!(["a"])).is_err());
    }
}
