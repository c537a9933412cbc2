//! Redirects are followed by hand, one hop at a time, so that every hop is checked against the
//! scope before a connection is made and credentials never follow the request to another
//! origin (the client's own redirect policy is off). Tsunami and ZAP both once followed a
//! redirect off scope; hurl's `execute_with_redirect` is the model for doing it hop by hop.

use middlebrick_model::Method;
use url::Url;

pub(crate) fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The method of the next hop and whether the body goes with it (RFC 9110 §15.4): 303 turns
/// everything but HEAD into a GET without body; 301 and 302 do the same to a POST, as every
/// client does in practice; 307 and 308 keep both.
pub(crate) fn next_method(status: u16, method: Method) -> (Method, bool) {
    match (status, method) {
        (303, Method::Head) => (Method::Head, false),
        (303, _) | (301 | 302, Method::Post) => (Method::Get, false),
        (_, m) => (m, true),
    }
}

/// Where `Location` points, resolved against the URL that answered; fragments are dropped
/// because they are never sent.
pub(crate) fn target(current: &Url, location: &str) -> Result<Url, String> {
    let mut next = current
        .join(location.trim())
        .map_err(|e| format!("redirect Location `{location}` does not parse: {e}"))?;
    next.set_fragment(None);
    Ok(next)
}

/// Credentials go only to the origin (scheme, host, port) they were given for. A change of
/// port is a change of server; a change of scheme could send a token in clear text.
pub(crate) fn keeps_credentials(original: &Url, hop: &Url) -> bool {
    original.scheme() == hop.scheme()
        && original.host() == hop.host()
        && original.port_or_known_default() == hop.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn redirect_statuses() {
        for s in [301, 302, 303, 307, 308] {
            assert!(is_redirect(s));
        }
        for s in [200, 300, 304, 305, 306, 400] {
            assert!(!is_redirect(s));
        }
    }

    #[test]
    fn methods_change_as_clients_do() {
        assert_eq!(next_method(303, Method::Post), (Method::Get, false));
        assert_eq!(next_method(303, Method::Delete), (Method::Get, false));
        assert_eq!(next_method(303, Method::Head), (Method::Head, false));
        assert_eq!(next_method(302, Method::Post), (Method::Get, false));
        assert_eq!(next_method(301, Method::Post), (Method::Get, false));
        assert_eq!(next_method(302, Method::Put), (Method::Put, true));
        assert_eq!(next_method(307, Method::Post), (Method::Post, true));
        assert_eq!(next_method(308, Method::Patch), (Method::Patch, true));
    }

    #[test]
    fn locations_resolve_against_the_current_url() {
        let cur = u("http://h:81/a/b?x=1");
        assert_eq!(target(&cur, "c").unwrap().as_str(), "http://h:81/a/c");
        assert_eq!(target(&cur, "/d#f").unwrap().as_str(), "http://h:81/d");
        assert_eq!(
            target(&cur, "//other.test/e").unwrap().as_str(),
            "http://other.test/e"
        );
        assert_eq!(
            target(&cur, "https://x.test/").unwrap().as_str(),
            "https://x.test/"
        );
        assert!(target(&cur, "http://[bad").is_err());
    }

    #[test]
    fn credentials_stay_with_their_origin() {
        let o = u("http://127.0.0.1:8080/a");
        assert!(keeps_credentials(&o, &u("http://127.0.0.1:8080/b?c")));
        assert!(!keeps_credentials(&o, &u("http://127.0.0.1:8081/a")));
        assert!(!keeps_credentials(&o, &u("http://localhost:8080/a")));
        assert!(!keeps_credentials(&o, &u("https://127.0.0.1:8080/a")));
        assert!(keeps_credentials(&u("https://h/"), &u("https://h:443/x")));
    }
}
