//! Public keys an API publishes (a JWKS, a PEM in an answer) turned into the exact bytes a
//! careless verifier would use as an HMAC secret: the PEM text of the key (issue 15,
//! `auth.jwt-alg-confusion`).
//!
//! The DER is written here rather than through the RustCrypto `der`/`spki`/`pkcs1` crates:
//! four fixed structures (an RSA key as PKCS#1 and as SubjectPublicKeyInfo, an EC point as
//! SubjectPublicKeyInfo) are a few lines each, and the tests below hold them byte for byte to
//! what Python's `cryptography` (the library behind PyJWT's RS256) writes for the same keys.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::Value;

/// One published public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: Option<String>,
    pub material: Material,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Material {
    /// An RSA modulus and exponent (big-endian).
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An EC point on a named curve.
    Ec {
        curve_oid: &'static [u8],
        x: Vec<u8>,
        y: Vec<u8>,
    },
    /// A PEM block as it was served: used as it is.
    Pem(String),
}

const OID_RSA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
const OID_EC: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];

/// The signing keys of a JWKS document (`{"keys": [...]}`), RSA and EC; others are skipped.
pub fn from_jwks(doc: &Value) -> Vec<PublicKey> {
    let Some(keys) = doc.get("keys").and_then(Value::as_array) else {
        return Vec::new();
    };
    keys.iter().filter_map(from_jwk).collect()
}

fn field(jwk: &Value, name: &str) -> Option<Vec<u8>> {
    let s = jwk.get(name)?.as_str()?;
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

fn from_jwk(jwk: &Value) -> Option<PublicKey> {
    if jwk.get("use").and_then(Value::as_str) == Some("enc") {
        return None;
    }
    let material = match jwk.get("kty")?.as_str()? {
        "RSA" => Material::Rsa {
            n: field(jwk, "n")?,
            e: field(jwk, "e")?,
        },
        "EC" => Material::Ec {
            curve_oid: match jwk.get("crv")?.as_str()? {
                "P-256" => OID_P256,
                "P-384" => OID_P384,
                "P-521" => OID_P521,
                _ => return None,
            },
            x: field(jwk, "x")?,
            y: field(jwk, "y")?,
        },
        _ => return None,
    };
    Some(PublicKey {
        kid: jwk.get("kid").and_then(Value::as_str).map(str::to_string),
        material,
    })
}

/// Public-key PEM blocks inside a text (an answer that serves the key as PEM or in a field).
pub fn pem_blocks(text: &str) -> Vec<PublicKey> {
    let text = text.replace("\\n", "\n");
    let mut out = Vec::new();
    for label in ["PUBLIC KEY", "RSA PUBLIC KEY"] {
        let (begin, end) = (
            format!("-----BEGIN {label}-----"),
            format!("-----END {label}-----"),
        );
        let mut rest = text.as_str();
        while let Some(start) = rest.find(&begin) {
            let Some(len) = rest[start..].find(&end) else {
                break;
            };
            let block = &rest[start..start + len + end.len()];
            out.push(PublicKey {
                kid: None,
                material: Material::Pem(format!("{block}\n")),
            });
            rest = &rest[start + len + end.len()..];
        }
    }
    out
}

impl PublicKey {
    /// The byte strings a verifier that takes "the key" for an HS* token could be holding, most
    /// likely first: the SubjectPublicKeyInfo PEM (what `cryptography` and OpenSSL write), then
    /// PKCS#1 for RSA, each with and without the final newline.
    pub fn hmac_secrets(&self) -> Vec<Vec<u8>> {
        let pems = match &self.material {
            Material::Pem(p) => vec![p.clone()],
            Material::Rsa { n, e } => vec![
                pem("PUBLIC KEY", &spki(OID_RSA, &[0x05, 0x00], &pkcs1(n, e))),
                pem("RSA PUBLIC KEY", &pkcs1(n, e)),
            ],
            Material::Ec { curve_oid, x, y } => {
                let point = [&[0x04][..], x, y].concat();
                vec![pem("PUBLIC KEY", &spki(OID_EC, curve_oid, &point))]
            }
        };
        let mut out = Vec::new();
        for p in pems {
            out.push(p.clone().into_bytes());
            out.push(p.trim_end().as_bytes().to_vec());
        }
        out
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn uint(bytes: &[u8]) -> Vec<u8> {
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let mut v = bytes[skip.min(bytes.len().saturating_sub(1))..].to_vec();
    if v.first().is_some_and(|b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    tlv(0x02, &v)
}

fn pkcs1(n: &[u8], e: &[u8]) -> Vec<u8> {
    tlv(0x30, &[uint(n), uint(e)].concat())
}

fn spki(algorithm: &[u8], parameters: &[u8], key: &[u8]) -> Vec<u8> {
    let alg = tlv(0x30, &[algorithm, parameters].concat());
    let bits = tlv(0x03, &[&[0u8][..], key].concat());
    tlv(0x30, &[alg, bits].concat())
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // A 1024-bit RSA key and a P-256 key made with Python's `cryptography`, with the PEM it
    // writes for them (SubjectPublicKeyInfo and PKCS#1).
    const N: &str = "zxHxc4wZTgmfLgxPaVIdBLn0b7QK0ZOzwEIg3SmdsaTK7W9T-ojVBMXtcNEtz6Ne980HLOIKZOzhVSvmTroGX2kv19qoDoWws4_ePKRIUPEZjmgPXhYeFoXBD3x6086Zwoe30GQZz_b4MEgaFvAKMS7ckP9OEg3LZc0efqDNk-k";
    const SPKI_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDPEfFzjBlOCZ8uDE9pUh0EufRv\ntArRk7PAQiDdKZ2xpMrtb1P6iNUExe1w0S3Po173zQcs4gpk7OFVK+ZOugZfaS/X\n2qgOhbCzj948pEhQ8RmOaA9eFh4WhcEPfHrTzpnCh7fQZBnP9vgwSBoW8AoxLtyQ\n/04SDctlzR5+oM2T6QIDAQAB\n-----END PUBLIC KEY-----\n";
    const PKCS1_PEM: &str = "-----BEGIN RSA PUBLIC KEY-----\nMIGJAoGBAM8R8XOMGU4Jny4MT2lSHQS59G+0CtGTs8BCIN0pnbGkyu1vU/qI1QTF\n7XDRLc+jXvfNByziCmTs4VUr5k66Bl9pL9faqA6FsLOP3jykSFDxGY5oD14WHhaF\nwQ98etPOmcKHt9BkGc/2+DBIGhbwCjEu3JD/ThINy2XNHn6gzZPpAgMBAAE=\n-----END RSA PUBLIC KEY-----\n";
    const EC_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEwgf1SjYryPwm3wnviMntHOWgflIR\ni8MHaAbn4jY2pO5njE9O911KUWkDdTsWlOaSLP3THKymTkLiHYGWIePayQ==\n-----END PUBLIC KEY-----\n";

    #[test]
    fn an_rsa_jwk_gives_the_pem_cryptography_writes() {
        let keys = from_jwks(&json!({"keys": [{"kty": "RSA", "kid": "k1", "n": N, "e": "AQAB"}]}));
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("k1"));
        let secrets = keys[0].hmac_secrets();
        assert_eq!(secrets[0], SPKI_PEM.as_bytes());
        assert_eq!(secrets[1], SPKI_PEM.trim_end().as_bytes());
        assert_eq!(secrets[2], PKCS1_PEM.as_bytes());
        assert_eq!(secrets.len(), 4);
    }

    #[test]
    fn an_ec_jwk_gives_the_pem_cryptography_writes() {
        let keys = from_jwks(&json!({"keys": [{"kty": "EC", "crv": "P-256",
            "x": "wgf1SjYryPwm3wnviMntHOWgflIRi8MHaAbn4jY2pO4",
            "y": "Z4xPTvddSlFpA3U7FpTmkiz90xyspk5C4h2BliHj2sk"}]}));
        assert_eq!(keys[0].hmac_secrets()[0], EC_PEM.as_bytes());
    }

    #[test]
    fn encryption_keys_unknown_types_and_non_jwks_are_skipped() {
        let doc = json!({"keys": [{"kty": "RSA", "use": "enc", "n": N, "e": "AQAB"},
            {"kty": "oct", "k": "c2VjcmV0"}, {"kty": "OKP", "crv": "Ed25519", "x": "AA"}]});
        assert!(from_jwks(&doc).is_empty());
        assert!(from_jwks(&json!({"keys": "none"})).is_empty());
        assert!(from_jwks(&json!([1, 2])).is_empty());
    }

    #[test]
    fn pem_blocks_are_found_in_text_and_in_json_strings() {
        let escaped = serde_json::to_string(&json!({"publicKey": SPKI_PEM})).unwrap();
        let found = pem_blocks(&escaped);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].hmac_secrets()[0], SPKI_PEM.as_bytes());
        assert_eq!(pem_blocks(&format!("key:\n{PKCS1_PEM}")).len(), 1);
        assert!(pem_blocks("-----BEGIN PUBLIC KEY----- truncated").is_empty());
    }

    #[test]
    fn der_lengths_and_integers_follow_the_encoding_rules() {
        assert_eq!(tlv(0x04, &[0; 3])[..2], [0x04, 3]);
        assert_eq!(tlv(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(tlv(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(uint(&[0x00, 0x00, 0x7f]), vec![0x02, 1, 0x7f]);
        assert_eq!(uint(&[0x80]), vec![0x02, 2, 0x00, 0x80]);
        assert_eq!(uint(&[0x00]), vec![0x02, 1, 0x00]);
    }
}
