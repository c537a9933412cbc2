//! Offline guessing of the HMAC key that signed one captured JWT (issue 15).
//!
//! The candidates, in the order they are tried: the bundled list of weak secrets that
//! deployments are known to ship (`jwt_secrets.txt`: framework and tutorial placeholders,
//! common passwords), the same words under the spellings people give them (`Secret`, `SECRET`,
//! `secret123`, `secret_key`, `my-secret`…), names derived from the target, then every
//! decimal key of one to six digits (`0` … `999999`, leading zeros included: a PIN typed at
//! installation). Nothing is sent: each candidate is an HMAC over the token's signing input
//! compared with its signature, so the only cost is CPU (`bench/jwt-crack.sh` measures it).

use crate::jwt::Jwt;
use sha2::digest::generic_array::GenericArray;
use sha2::{compress256, Digest, Sha256, Sha384, Sha512};
use std::collections::HashSet;

const WORDLIST: &str = include_str!("jwt_secrets.txt");

/// The longest decimal key tried: every key of 1 to this many digits.
pub const MAX_DIGITS: u32 = 6;

/// Suffixes and prefixes a weak secret is commonly dressed in.
const SUFFIXES: &[&str] = &[
    "1", "12", "123", "1234", "!", "!!", "@123", "2023", "2024", "2025", "2026", "_key", "-key",
    "key", "_secret", "-secret", "secret", "_jwt", "-jwt", "_token", "-token", "_dev", "-dev",
    "_prod", "-prod", "_test", "-test",
];
const PREFIXES: &[&str] = &["my", "my_", "my-", "the", "app_", "app-", "jwt_", "jwt-"];

/// Where a cracked key came from, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Wordlist,
    Derived,
    Numeric,
}

impl Source {
    pub fn describe(self) -> &'static str {
        match self {
            Source::Wordlist => "the bundled list of known weak secrets",
            Source::Derived => "names derived from the target",
            Source::Numeric => "the decimal keys of up to six digits",
        }
    }
}

/// One captured token, ready to test keys against without allocating per key.
#[derive(Debug, Clone)]
pub struct Target {
    alg: Alg,
    data: Vec<u8>,
    signature: Vec<u8>,
    /// HS256 only: the signing input already padded as the second and later blocks of the
    /// inner hash (key-independent, so built once).
    inner_tail: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
enum Alg {
    Hs256,
    Hs384,
    Hs512,
}

impl Target {
    /// `None` unless the token is HMAC-signed (HS256/384/512) and carries a signature.
    pub fn new(jwt: &Jwt) -> Option<Target> {
        let alg = match jwt.alg() {
            "HS256" => Alg::Hs256,
            "HS384" => Alg::Hs384,
            "HS512" => Alg::Hs512,
            _ => return None,
        };
        (!jwt.signature.is_empty())
            .then(|| Target::with(alg, jwt.signing_input.as_bytes(), &jwt.signature))
    }

    fn with(alg: Alg, data: &[u8], signature: &[u8]) -> Target {
        Target {
            alg,
            data: data.to_vec(),
            signature: signature.to_vec(),
            inner_tail: sha256_padded(data, 64),
        }
    }

    /// True when `key` signed the token.
    pub fn signed_with(&self, key: &[u8]) -> bool {
        match self.alg {
            Alg::Hs256 if key.len() <= 64 => self.hs256_equals(key),
            Alg::Hs256 => mac_equals::<Sha256>(64, key, &self.data, &self.signature),
            Alg::Hs384 => mac_equals::<Sha384>(128, key, &self.data, &self.signature),
            Alg::Hs512 => mac_equals::<Sha512>(128, key, &self.data, &self.signature),
        }
    }
}

impl Target {
    /// HMAC-SHA-256 straight on the compression function: the padding of the signing input is
    /// built once, so a key costs two pad blocks, the data blocks and one outer block, and
    /// nothing else (the generic path below spends most of its time in buffering).
    fn hs256_equals(&self, key: &[u8]) -> bool {
        let mut pad = [0u8; 64];
        pad[..key.len()].copy_from_slice(key);
        pad.iter_mut().for_each(|b| *b ^= 0x36);
        let mut inner = H256;
        compress256(&mut inner, &[*GenericArray::from_slice(&pad)]);
        for block in self.inner_tail.chunks_exact(64) {
            compress256(&mut inner, &[*GenericArray::from_slice(block)]);
        }
        pad.iter_mut().for_each(|b| *b ^= 0x36 ^ 0x5c);
        let mut outer = H256;
        compress256(&mut outer, &[*GenericArray::from_slice(&pad)]);
        let mut last = [0u8; 64];
        for (chunk, word) in last.chunks_exact_mut(4).zip(inner) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        last[32] = 0x80;
        last[56..].copy_from_slice(&((64u64 + 32) * 8).to_be_bytes());
        compress256(&mut outer, &[*GenericArray::from_slice(&last)]);
        self.signature.len() == 32
            && outer
                .iter()
                .zip(self.signature.chunks_exact(4))
                .all(|(w, c)| w.to_be_bytes() == c)
    }
}

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const H256: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// `data` followed by SHA-256's padding for a message of `prefix + data.len()` bytes.
fn sha256_padded(data: &[u8], prefix: usize) -> Vec<u8> {
    let mut out = data.to_vec();
    out.push(0x80);
    while out.len() % 64 != 56 {
        out.push(0);
    }
    out.extend_from_slice(&(((prefix + data.len()) as u64) * 8).to_be_bytes());
    out
}

/// HMAC (RFC 2104) of `data` under `key`, compared with `want`; no heap allocation.
fn mac_equals<D: Digest>(block: usize, key: &[u8], data: &[u8], want: &[u8]) -> bool {
    let mut k = [0u8; 128];
    if key.len() > block {
        let h = D::digest(key);
        k[..h.len()].copy_from_slice(&h);
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut pad = [0u8; 128];
    for (p, b) in pad.iter_mut().zip(&k).take(block) {
        *p = b ^ 0x36;
    }
    let mut inner = D::new();
    inner.update(&pad[..block]);
    inner.update(data);
    let inner = inner.finalize();
    for (p, b) in pad.iter_mut().zip(&k).take(block) {
        *p = b ^ 0x5c;
    }
    let mut outer = D::new();
    outer.update(&pad[..block]);
    outer.update(inner);
    outer.finalize().as_slice() == want
}

/// The bundled words and their usual spellings, each once, words first.
pub fn dictionary() -> Vec<String> {
    let words: Vec<&str> = WORDLIST.lines().filter(|l| !l.is_empty()).collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut push = |s: String| {
        if seen.insert(s.clone()) {
            out.push(s);
        }
    };
    for w in &words {
        push((*w).to_string());
    }
    for w in &words {
        let mut forms = vec![w.to_string(), w.to_ascii_uppercase(), capitalised(w)];
        forms.dedup();
        for f in &forms[1..] {
            push(f.clone());
        }
        for s in SUFFIXES {
            push(format!("{w}{s}"));
        }
        for p in PREFIXES {
            push(format!("{p}{w}"));
        }
    }
    out
}

fn capitalised(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// How many decimal keys [`crack`] tries: 10 + 100 + … + 10^MAX_DIGITS.
pub fn numeric_count() -> u64 {
    (1..=MAX_DIGITS).map(|d| 10u64.pow(d)).sum()
}

/// The first decimal key of one to [`MAX_DIGITS`] digits that signed the token.
pub fn crack_numeric(target: &Target) -> Option<String> {
    let mut buf = [b'0'; MAX_DIGITS as usize];
    for digits in 1..=MAX_DIGITS as usize {
        for n in 0..10u32.pow(digits as u32) {
            let mut v = n;
            for slot in buf[..digits].iter_mut().rev() {
                *slot = b'0' + (v % 10) as u8;
                v /= 10;
            }
            if target.signed_with(&buf[..digits]) {
                return Some(String::from_utf8_lossy(&buf[..digits]).into_owned());
            }
        }
    }
    None
}

/// The key that signed the token among the dictionary, `derived` and the decimal keys.
pub fn crack(target: &Target, derived: &[String]) -> Option<(String, Source)> {
    let dictionary = dictionary();
    let words = dictionary.iter().map(|w| (w, Source::Wordlist));
    let derived = derived.iter().map(|w| (w, Source::Derived));
    words
        .chain(derived)
        .find(|(k, _)| target.signed_with(k.as_bytes()))
        .map(|(k, s)| (k.clone(), s))
        .or_else(|| crack_numeric(target).map(|k| (k, Source::Numeric)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::{encode, hmac};
    use serde_json::{json, Map, Value};

    fn token(alg: &str, key: &[u8]) -> Jwt {
        let h: Map<String, Value> = json!({"alg": alg, "typ": "JWT"})
            .as_object()
            .unwrap()
            .clone();
        let c = json!({"sub": "1", "exp": 10}).as_object().unwrap().clone();
        Jwt::parse(&encode(&h, &c, Some(key))).unwrap()
    }

    #[test]
    fn the_fast_mac_agrees_with_the_reference_hmac_for_every_alg_and_key_length() {
        for alg in ["HS256", "HS384", "HS512"] {
            for len in [0usize, 1, 32, 64, 65, 128, 129, 300] {
                let key: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let t = Target::new(&token(alg, &key)).unwrap();
                assert!(t.signed_with(&key), "{alg} {len}");
                let mut other = key.clone();
                other.push(1);
                assert!(!t.signed_with(&other), "{alg} {len}");
                let reference = hmac(alg, &key, b"abc").unwrap();
                let fast = Target::with(t.alg, b"abc", &reference);
                assert!(fast.signed_with(&key));
            }
        }
    }

    #[test]
    fn asymmetric_and_unsigned_tokens_are_not_targets() {
        let mut jwt = token("HS256", b"k");
        jwt.header.insert("alg".into(), json!("RS256"));
        assert!(Target::new(&jwt).is_none());
        let mut unsigned = token("HS256", b"k");
        unsigned.signature.clear();
        assert!(Target::new(&unsigned).is_none());
    }

    #[test]
    fn the_dictionary_holds_thousands_of_distinct_candidates_words_first() {
        let d = dictionary();
        assert!(d.len() > 10_000, "{}", d.len());
        assert_eq!(d[0], "secret");
        let unique: HashSet<_> = d.iter().collect();
        assert_eq!(unique.len(), d.len());
        for spelled in [
            "SECRET_KEY",
            "Changeme",
            "secret123",
            "my-secret",
            "keyboard cat",
        ] {
            assert!(d.iter().any(|w| w == spelled), "{spelled}");
        }
    }

    #[test]
    fn six_digit_and_short_numeric_keys_with_leading_zeros_are_found() {
        for key in ["7", "042", "000123", "999999", "271828"] {
            let t = Target::new(&token("HS256", key.as_bytes())).unwrap();
            assert_eq!(crack_numeric(&t).as_deref(), Some(key));
        }
        assert_eq!(numeric_count(), 1_111_110);
    }

    #[test]
    fn crack_names_the_source_and_misses_a_random_key() {
        let t = Target::new(&token("HS384", b"changeme2024")).unwrap();
        assert_eq!(crack(&t, &[]).unwrap().1, Source::Wordlist);
        let t = Target::new(&token("HS256", b"acme-orders-secret")).unwrap();
        let found = crack(&t, &["acme-orders-secret".to_string()]).unwrap();
        assert_eq!(found.1, Source::Derived);
        let t = Target::new(&token("HS256", b"k8Qz1w9V3nT7yR2pL5sX0cF4hJ6mB8dA")).unwrap();
        assert!(crack(&t, &[]).is_none());
    }
}
