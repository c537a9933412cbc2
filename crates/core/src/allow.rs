//! Which hosts a front end that scans for others (the MCP server, the monitoring service) may
//! send to. An assistant can be steered by text it reads (a README, an issue, a web page), and
//! a service that scans any URL a client posts is an SSRF proxy, so the server, not the
//! request, decides: loopback and private addresses (the dev server the assistant works on)
//! plus what the user allowed with `--allow-host` when starting it. Names other than `localhost` are refused unless allowed:
//! resolving them here would not bind what the transport later connects to.

use middlebrick_engine::{ScanConfig, SpecSource};
use std::net::IpAddr;

#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    /// Extra hosts, `host` or `host:port`, from `--allow-host`.
    pub hosts: Vec<String>,
}

impl Allowlist {
    /// Every host the scan could send to: the target, a spec URL, and the config's extra hosts.
    pub fn check(&self, cfg: &ScanConfig) -> Result<(), String> {
        let mut hosts = vec![authority(&cfg.target)];
        if let SpecSource::Url(u) = &cfg.spec {
            hosts.push(authority(u));
        }
        hosts.extend(
            cfg.transport
                .allowed_hosts
                .iter()
                .map(|h| (h.clone(), split_host(h))),
        );
        for (authority, host) in hosts {
            if !self.allows(&authority, &host) {
                return Err(format!(
                    "refused: {host} is not a loopback or private address and the server was \
                     not started with --allow-host {host}; nothing was sent"
                ));
            }
        }
        Ok(())
    }

    fn allows(&self, authority: &str, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if self
            .hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host) || h.eq_ignore_ascii_case(authority))
        {
            return true;
        }
        if host.eq_ignore_ascii_case("localhost")
            || host.to_ascii_lowercase().ends_with(".localhost")
        {
            return true;
        }
        match host.parse::<IpAddr>() {
            Ok(ip) => is_local(ip),
            Err(_) => false,
        }
    }
}

fn authority(u: &url::Url) -> (String, String) {
    let host = u.host_str().unwrap_or_default().to_string();
    let auth = match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    (auth, host)
}

/// `host` from `host`, `host:port` or `[v6]:port`.
fn split_host(h: &str) -> String {
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default().to_string();
    }
    match h.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) && !host.contains(':') => {
            host.to_string()
        }
        _ => h.to_string(),
    }
}

/// Loopback, RFC 1918 private, link-local, and IPv6 unique-local addresses.
fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_local(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use middlebrick_http::TransportConfig;

    fn cfg(target: &str) -> ScanConfig {
        let url: url::Url = target.parse().unwrap();
        ScanConfig::new(url.clone(), TransportConfig::new(url))
    }

    #[test]
    fn loopback_and_private_pass_public_hosts_do_not() {
        let a = Allowlist::default();
        for ok in [
            "http://127.0.0.1:5000",
            "http://localhost:8000",
            "http://api.localhost",
            "http://10.1.2.3",
            "http://172.16.0.9",
            "http://192.168.1.1:8080",
            "http://[::1]:3000",
            "http://[fd00::1]",
        ] {
            assert!(a.check(&cfg(ok)).is_ok(), "{ok}");
        }
        for refused in [
            "http://8.8.8.8",
            "http://172.32.0.1",
            "https://example.com",
            "http://[2001:db8::1]",
            "http://127.0.0.1.nip.io",
        ] {
            assert!(a.check(&cfg(refused)).is_err(), "{refused}");
        }
    }

    #[test]
    fn allow_host_adds_a_host_and_every_host_of_the_scan_is_checked() {
        let a = Allowlist {
            hosts: vec!["api.example.com".into()],
        };
        assert!(a.check(&cfg("https://api.example.com")).is_ok());
        let mut c = cfg("http://127.0.0.1:5000");
        c.spec = SpecSource::Url("https://evil.example.net/openapi.json".parse().unwrap());
        assert!(Allowlist::default().check(&c).is_err());
        let mut c = cfg("http://127.0.0.1:5000");
        c.transport.allowed_hosts.push("8.8.8.8:80".into());
        assert!(Allowlist::default().check(&c).is_err());
    }
}
