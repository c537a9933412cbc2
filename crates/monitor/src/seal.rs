//! The request headers of a contract scan (`POST /api/scan` `headers`) are credentials the
//! service must keep until a worker runs the scan, possibly on another machine. They are
//! stored sealed with ChaCha20-Poly1305 under the service key, never in clear, and the
//! sealed copy is erased when the scan ends. Targets made through our own API never hold a
//! credential: they name environment variables instead (`env:NAME`).

use base64::{engine::general_purpose::STANDARD, Engine};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use std::path::Path;

/// The service key: `MIDDLEBRICK_SERVICE_KEY` (64 hex characters), else the key file,
/// created with fresh random bytes (mode 0600) when `create` and it is missing.
#[derive(Clone)]
pub struct Sealer {
    cipher: Option<ChaCha20Poly1305>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.cipher.is_some() {
            "Sealer(key loaded)"
        } else {
            "Sealer(no key)"
        })
    }
}

const DAMAGED: &str = "the sealed value is damaged";

pub const KEY_ENV: &str = "MIDDLEBRICK_SERVICE_KEY";

impl Sealer {
    pub fn load(file: Option<&Path>, create: bool) -> Result<Sealer, String> {
        let hex = match std::env::var(KEY_ENV) {
            Ok(v) => Some(v),
            Err(_) => match file {
                Some(p) if p.exists() => Some(
                    std::fs::read_to_string(p)
                        .map_err(|e| format!("reading the service key {}: {e}", p.display()))?,
                ),
                Some(p) if create => Some(write_new_key(p)?),
                _ => None,
            },
        };
        let cipher = match hex {
            Some(h) => Some(ChaCha20Poly1305::new(&Key::from(decode_key(h.trim())?))),
            None => None,
        };
        Ok(Sealer { cipher })
    }

    #[cfg(test)]
    pub fn with_key(key: [u8; 32]) -> Sealer {
        Sealer {
            cipher: Some(ChaCha20Poly1305::new(&Key::from(key))),
        }
    }

    pub fn seal(&self, headers: &[(String, String)]) -> Result<String, String> {
        self.seal_bytes(&serde_json::to_vec(headers).map_err(|e| e.to_string())?)
    }

    pub fn open(&self, sealed: &str) -> Result<Vec<(String, String)>, String> {
        serde_json::from_slice(&self.open_bytes(sealed)?).map_err(|e| e.to_string())
    }

    /// Whether this process can seal and open (it has the service key).
    pub fn has_key(&self) -> bool {
        self.cipher.is_some()
    }

    /// Seals a webhook's signing secret (or any text) the same way as headers.
    pub fn seal_text(&self, text: &str) -> Result<String, String> {
        self.seal_bytes(text.as_bytes())
    }

    pub fn open_text(&self, sealed: &str) -> Result<String, String> {
        String::from_utf8(self.open_bytes(sealed)?).map_err(|_| DAMAGED.to_string())
    }

    fn seal_bytes(&self, plain: &[u8]) -> Result<String, String> {
        let cipher = self.cipher.as_ref().ok_or(NO_KEY)?;
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| e.to_string())?;
        let mut out = nonce.to_vec();
        out.extend(
            cipher
                .encrypt(Nonce::from_slice(&nonce), plain)
                .map_err(|_| "sealing failed".to_string())?,
        );
        Ok(STANDARD.encode(out))
    }

    fn open_bytes(&self, sealed: &str) -> Result<Vec<u8>, String> {
        let cipher = self.cipher.as_ref().ok_or(NO_KEY)?;
        let bytes = STANDARD.decode(sealed).map_err(|_| DAMAGED.to_string())?;
        if bytes.len() < 12 {
            return Err(DAMAGED.into());
        }
        cipher
            .decrypt(Nonce::from_slice(&bytes[..12]), &bytes[12..])
            .map_err(|_| {
                "the sealed value was sealed under another service key (give every \
                 worker the serve process's MIDDLEBRICK_SERVICE_KEY)"
                    .to_string()
            })
    }
}

const NO_KEY: &str = "this process has no service key (set MIDDLEBRICK_SERVICE_KEY to the \
                      serve process's key) and the scan carries request headers";

fn decode_key(h: &str) -> Result<[u8; 32], String> {
    let bad = || format!("the service key must be 64 hex characters ({KEY_ENV} or the key file)");
    if h.len() != 64 {
        return Err(bad());
    }
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(k)
}

fn write_new_key(p: &Path) -> Result<String, String> {
    let mut k = [0u8; 32];
    getrandom::fill(&mut k).map_err(|e| e.to_string())?;
    let hex: String = k.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    use std::io::Write;
    o.open(p)
        .and_then(|mut f| f.write_all(hex.as_bytes()))
        .map_err(|e| format!("writing the service key {}: {e}", p.display()))?;
    Ok(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_headers_open_with_the_same_key_only() {
        let a = Sealer::with_key([7; 32]);
        let h = vec![(
            "Authorization".to_string(),
            "Bearer canary-token".to_string(),
        )];
        let sealed = a.seal(&h).unwrap();
        assert!(!sealed.contains("canary"));
        assert_eq!(a.open(&sealed).unwrap(), h);
        assert!(Sealer::with_key([8; 32]).open(&sealed).is_err());
        assert!(Sealer { cipher: None }.seal(&h).is_err());
        let secret = a.seal_text("whsec_canary").unwrap();
        assert!(!secret.contains("canary"));
        assert_eq!(a.open_text(&secret).unwrap(), "whsec_canary");
        assert!(Sealer::with_key([8; 32]).open_text(&secret).is_err());
    }

    #[test]
    fn a_key_file_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k/service.key");
        let a = Sealer::load(Some(&p), true).unwrap();
        let b = Sealer::load(Some(&p), false).unwrap();
        let sealed = a.seal(&[("x".into(), "y".into())]).unwrap();
        assert_eq!(b.open(&sealed).unwrap().len(), 1);
        assert!(Sealer::load(Some(&dir.path().join("none")), false)
            .unwrap()
            .cipher
            .is_none());
    }
}
