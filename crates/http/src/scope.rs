//! Which URLs the scan may touch: the target's host and port, plus hosts the user allowed.
//!
//! Scope is decided on the parsed host (lower-cased, IDNA-normalised, IPv4/IPv6 canonical, as
//! the `url` crate gives it), never on strings, so `EXAMPLE.test`, `example.test` and
//! `http://example.test:80` are one host while `127.0.0.1:8080` and `127.0.0.1:8081` are two.
//! Every redirect hop is checked here before a connection is made.

use crate::error::HttpError;
use url::{Host, Url};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port {
    Exact(u16),
    /// `host` written without a port: 80 for http, 443 for https.
    SchemeDefault,
}

#[derive(Debug, Clone)]
pub(crate) struct Scope {
    entries: Vec<(Host<String>, Port)>,
}

impl Scope {
    pub(crate) fn new(base: &Url, allowed_hosts: &[String]) -> Result<Scope, HttpError> {
        let mut entries = Vec::with_capacity(1 + allowed_hosts.len());
        let (Some(host), Some(port)) = (base.host(), base.port_or_known_default()) else {
            return Err(HttpError::InvalidRequest(format!(
                "the target {base} has no host and port"
            )));
        };
        entries.push((host.to_owned(), Port::Exact(port)));
        for entry in allowed_hosts {
            let parsed = parse_allowed(entry).map_err(|why| {
                HttpError::InvalidRequest(format!("allowed host `{entry}`: {why}"))
            })?;
            entries.push(parsed);
        }
        Ok(Scope { entries })
    }

    pub(crate) fn contains(&self, url: &Url) -> bool {
        if !matches!(url.scheme(), "http" | "https") {
            return false;
        }
        let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
            return false;
        };
        self.entries.iter().any(|(h, rule)| {
            host_eq(h, &host)
                && match rule {
                    Port::Exact(p) => *p == port,
                    Port::SchemeDefault => url.port().is_none(),
                }
        })
    }
}

fn host_eq(owned: &Host<String>, borrowed: &Host<&str>) -> bool {
    match (owned, borrowed) {
        (Host::Domain(a), Host::Domain(b)) => a == b,
        (Host::Ipv4(a), Host::Ipv4(b)) => a == b,
        (Host::Ipv6(a), Host::Ipv6(b)) => a == b,
        _ => false,
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`, or a whole `scheme://host[:port]` URL.
fn parse_allowed(entry: &str) -> Result<(Host<String>, Port), String> {
    let entry = entry.trim();
    if entry.contains("://") {
        let url = Url::parse(entry).map_err(|e| e.to_string())?;
        return match (url.host(), url.port_or_known_default()) {
            (Some(h), Some(p)) => Ok((h.to_owned(), Port::Exact(p))),
            _ => Err("no host and port in that URL".into()),
        };
    }
    let (host, port) = if entry.starts_with('[') {
        let end = entry.find(']').ok_or("unclosed `[`")?;
        let rest = &entry[end + 1..];
        let port = match rest {
            "" => None,
            _ => Some(rest.strip_prefix(':').ok_or("expected `:port` after `]`")?),
        };
        (&entry[..=end], port)
    } else {
        match entry.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (entry, None),
        }
    };
    if host.is_empty() || host.contains(['/', '@', '?', '#']) {
        return Err("expected a host name, `host:port` or a URL".into());
    }
    let host = Host::parse(host).map_err(|e| e.to_string())?;
    let port = match port {
        None => Port::SchemeDefault,
        Some(p) => Port::Exact(p.parse().map_err(|_| format!("`{p}` is not a port"))?),
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(base: &str, allowed: &[&str]) -> Scope {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        Scope::new(&Url::parse(base).unwrap(), &allowed).unwrap()
    }

    fn has(s: &Scope, url: &str) -> bool {
        s.contains(&Url::parse(url).unwrap())
    }

    #[test]
    fn the_target_origin_is_in_scope_by_host_and_port() {
        let s = scope("http://API.example.test:8080/v1/", &[]);
        assert!(has(&s, "http://api.example.test:8080/anything?x=1"));
        assert!(has(&s, "https://api.example.test:8080/"));
        assert!(!has(&s, "http://api.example.test:8081/"));
        assert!(!has(&s, "http://api.example.test/"));
        assert!(!has(&s, "http://evil.example.test:8080/"));
        assert!(!has(&s, "http://api.example.test.evil.test:8080/"));
        assert!(!has(&s, "ftp://api.example.test:8080/"));
        assert!(!has(&s, "http://user@evil.test:8080/"));
    }

    #[test]
    fn default_ports_are_implied() {
        let s = scope("https://api.example.test/", &[]);
        assert!(has(&s, "https://api.example.test:443/x"));
        assert!(
            !has(&s, "http://api.example.test/x"),
            "port 80 is another origin"
        );
    }

    #[test]
    fn allowed_hosts_without_port_mean_the_default_port() {
        let s = scope(
            "http://127.0.0.1:9/",
            &["Api2.Example.test", "127.0.0.1:9001"],
        );
        assert!(has(&s, "https://api2.example.test/"));
        assert!(has(&s, "http://api2.example.test:80/"));
        assert!(!has(&s, "http://api2.example.test:8080/"));
        assert!(has(&s, "http://127.0.0.1:9001/"));
        assert!(!has(&s, "http://127.0.0.1:9002/"));
    }

    #[test]
    fn ipv6_and_url_entries_parse() {
        let s = scope(
            "http://127.0.0.1:9/",
            &["[::1]:8080", "https://other.test:8443/x"],
        );
        assert!(has(&s, "http://[::1]:8080/"));
        assert!(!has(&s, "http://[::1]:8081/"));
        assert!(has(&s, "https://other.test:8443/"));
    }

    #[test]
    fn malformed_allowed_hosts_are_refused() {
        let base = Url::parse("http://127.0.0.1:9/").unwrap();
        for bad in ["", "a/b", "host:port", "[::1", "[::1]x", "u@host"] {
            assert!(
                Scope::new(&base, &[bad.to_string()]).is_err(),
                "{bad} should be refused"
            );
        }
    }
}
