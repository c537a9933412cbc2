//! Redaction of the secrets a scan was given or obtained, by value, in everything it writes.
//!
//! Header-name rules miss a token echoed in a body or a password in a query string; matching
//! the values themselves does not. Every sink (report, log, evidence) goes through one
//! `Redactor`, and secrets learnt during the scan (tokens from sign-in) are added as they come.
//!
//! Redaction comes before truncation (issue 16, rule 5), but a text may already have been cut
//! before it reaches a sink: a body read up to the transport's cap, an excerpt a check took
//! around an error signature. So a cut secret is redacted too: a run of at least
//! [`MIN_FRAGMENT`] characters that is the start of a secret and ends where the text ends or
//! where a token could not go on (a space, a quote, a bracket, an ellipsis) is replaced. A value
//! that merely shares a secret's first characters and then goes on differently (another
//! token with the same JWT header) is left alone.

use base64::Engine as _;
use std::sync::RwLock;

pub const REDACTED: &str = "[REDACTED]";

/// Values shorter than this are not treated as secrets: redacting every `a` would shred
/// evidence while protecting nothing.
const MIN_SECRET_LEN: usize = 4;

/// The shortest start of a secret that is redacted when a cut left only that much of it.
pub const MIN_FRAGMENT: usize = 6;

#[derive(Debug, Default)]
pub struct Redactor {
    secrets: RwLock<Vec<String>>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a secret and the encodings it is likely to travel in (percent-encoded, and
    /// for `user:password` pairs the Basic base64 form).
    pub fn add(&self, secret: &str) {
        if secret.len() < MIN_SECRET_LEN {
            return;
        }
        let mut forms = vec![secret.to_string()];
        let encoded = percent_encode(secret);
        if encoded != secret {
            forms.push(encoded);
        }
        let mut guard = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        for form in forms {
            if !guard.contains(&form) {
                guard.push(form);
            }
        }
        // Longest first, so a secret that contains another is replaced whole.
        guard.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Registers `user:password` and its Basic-auth base64 encoding.
    pub fn add_basic(&self, user: &str, password: &str) {
        self.add(password);
        let pair = format!("{user}:{password}");
        self.add(&base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()));
    }

    pub fn is_empty(&self) -> bool {
        self.secrets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    pub fn redact(&self, text: &str) -> String {
        let guard = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        let mut out = text.to_string();
        for secret in guard.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        for secret in guard.iter() {
            out = redact_cut(&out, secret);
        }
        mask_jwt_signatures(&out)
    }

    pub fn redact_in_place(&self, text: &mut String) {
        let guard = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        if guard.iter().any(|s| text.contains(head(s))) || text.contains("eyJ") {
            drop(guard);
            *text = self.redact(text);
        }
    }

    /// Redacts every string of an exchange: URL, headers, bodies, redirect hops, error.
    pub fn redact_exchange(&self, ex: &mut crate::Exchange) {
        self.redact_in_place(&mut ex.request.url);
        for (_, v) in ex.request.headers.iter_mut() {
            self.redact_in_place(v);
        }
        if let Some(b) = ex.request.body.as_mut() {
            self.redact_in_place(&mut b.text);
        }
        if let Some(r) = ex.response.as_mut() {
            for (_, v) in r.headers.iter_mut() {
                self.redact_in_place(v);
            }
            self.redact_in_place(&mut r.body.text);
        }
        for hop in ex.redirects.iter_mut() {
            self.redact_in_place(hop);
        }
        if let Some(e) = ex.error.as_mut() {
            self.redact_in_place(e);
        }
    }
}

/// The first [`MIN_FRAGMENT`] characters of a secret (all of it when shorter).
fn head(secret: &str) -> &str {
    let end = secret
        .char_indices()
        .nth(MIN_FRAGMENT)
        .map_or(secret.len(), |(i, _)| i);
    &secret[..end]
}

/// Whether `c` can continue a token, so a run that stops before it was not cut there.
fn continues_token(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '=' | '%')
}

/// Replaces every cut-off start of `secret` in `text` (see the module header).
fn redact_cut(text: &str, secret: &str) -> String {
    let start = head(secret);
    if start.chars().count() < MIN_FRAGMENT || !text.contains(start) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(start) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let matched: usize = tail
            .chars()
            .zip(secret.chars())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a.len_utf8())
            .sum();
        let cut = tail[matched..]
            .chars()
            .next()
            .is_none_or(|c| !continues_token(c));
        if cut {
            out.push_str(REDACTED);
        } else {
            out.push_str(&tail[..matched]);
        }
        rest = &tail[matched..];
    }
    out.push_str(rest);
    out
}

/// Masks the signature of every JWT-shaped value (`eyJ….….<signature>`), keeping header and
/// claims readable. A signed token in evidence may be a working credential: one the target
/// issued and the scanner did not know to be secret, or one a check forged with a cracked key.
/// Unsigned tokens (`alg: none`, empty signature) stay whole: they are the proof of that flaw.
fn mask_jwt_signatures(text: &str) -> String {
    if !text.contains("eyJ") {
        return text.to_string();
    }
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("eyJ") {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let len = tail
            .find(|c: char| !(is_b64(c) || c == '.'))
            .unwrap_or(tail.len());
        let token = &tail[..len];
        let parts: Vec<&str> = token.splitn(3, '.').collect();
        if parts.len() == 3
            && parts[1].len() >= 2
            && !parts[2].is_empty()
            && !parts[2].contains('.')
        {
            out.push_str(parts[0]);
            out.push('.');
            out.push_str(parts[1]);
            out.push('.');
            out.push_str(REDACTED);
        } else {
            out.push_str(token);
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_by_value_in_every_encoding() {
        let r = Redactor::new();
        r.add("s3cret pass!");
        r.add("abc"); // too short to be a secret
        assert_eq!(r.redact("pw=s3cret pass! ok"), format!("pw={REDACTED} ok"));
        assert_eq!(
            r.redact("pw=s3cret%20pass%21&x=abc"),
            format!("pw={REDACTED}&x=abc")
        );
    }

    #[test]
    fn basic_auth_pairs_are_redacted_in_base64() {
        let r = Redactor::new();
        r.add_basic("alice", "Wonderland-42");
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:Wonderland-42")
        );
        assert_eq!(r.redact(&header), format!("Basic {REDACTED}"));
    }

    #[test]
    fn jwt_signatures_are_masked_and_unsigned_tokens_kept() {
        let r = Redactor::new();
        let signed = "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl!";
        assert_eq!(
            r.redact(signed),
            format!("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.{REDACTED}!")
        );
        let unsigned = "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.";
        assert_eq!(r.redact(unsigned), unsigned);
        let mut s = String::from("no token eyJ here");
        r.redact_in_place(&mut s);
        assert_eq!(s, "no token eyJ here");
    }

    #[test]
    fn a_secret_cut_short_is_redacted_down_to_six_characters() {
        let r = Redactor::new();
        r.add("tok-0123456789abcdef");
        for cut in ["tok-01", "tok-0123", "tok-0123456789abcde"] {
            for text in [
                format!("...{cut}"),
                format!("token={cut}…"),
                format!("\"{cut}\""),
                format!("{cut} more"),
            ] {
                let out = r.redact(&text);
                assert!(!out.contains("tok-01"), "{text} -> {out}");
                let mut in_place = text.clone();
                r.redact_in_place(&mut in_place);
                assert_eq!(in_place, out);
            }
        }
        // Shorter than six characters says nothing; a value that goes on differently is
        // another value.
        assert_eq!(r.redact("tok-0 end"), "tok-0 end");
        assert_eq!(r.redact("tok-0123ZZZZ"), "tok-0123ZZZZ");
    }

    #[test]
    fn another_token_with_the_same_jwt_header_is_kept() {
        let r = Redactor::new();
        let issued = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        r.add(issued);
        let forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.";
        assert_eq!(r.redact(forged), forged);
        let cut = &issued[..30];
        assert_eq!(
            r.redact(&format!("Bearer {cut}")),
            format!("Bearer {REDACTED}")
        );
    }

    #[test]
    fn longer_secrets_win_over_their_substrings() {
        let r = Redactor::new();
        r.add("token");
        r.add("token-extended");
        assert_eq!(r.redact("a token-extended b"), format!("a {REDACTED} b"));
    }
}
