//! What must not rest in the database in clear but must be read back: a
//! queued email's link and body, second-factor seeds, webhook secrets, kept
//! idempotent answers. They are sealed with ChaCha20-Poly1305 under a key
//! derived (HKDF-SHA256) from the server's secret, which never rests in the
//! database (`server_secret`), so a copy of the database alone opens nothing.
//! While a secret is rotated, what the previous ones sealed still opens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Marks sealed text, so it is never mistaken for clear text.
const PREFIX: &str = "sealed:v1:";
const NONCE_LEN: usize = 12;

/// Seals and opens text under one key, and fingerprints what must only be
/// compared (keyed, so a copy of the database cannot test guesses against it).
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
    /// Keys of the previous secrets, newest first: they only open, and
    /// their fingerprints still match.
    previous: Vec<(ChaCha20Poly1305, [u8; 32])>,
    fingerprint_key: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(…)")
    }
}

impl Sealer {
    /// The sealer for `purpose`, keyed from the server's secret.
    pub fn new(secret: &[u8], purpose: &str) -> Sealer {
        Sealer::rotating(secret, &[], purpose)
    }

    /// The sealer for `purpose` under `secret`, which also opens what the
    /// `previous` secrets sealed.
    pub fn rotating(secret: &[u8], previous: &[Vec<u8>], purpose: &str) -> Sealer {
        let (cipher, fingerprint_key) = derive(secret, purpose);
        Sealer {
            cipher,
            previous: previous.iter().map(|old| derive(old, purpose)).collect(),
            fingerprint_key,
        }
    }

    /// `text`, sealed with a fresh random nonce.
    pub fn seal(&self, text: &str) -> String {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        match self.cipher.encrypt(&nonce, text.as_bytes()) {
            Ok(sealed) => {
                let mut bytes = nonce.to_vec();
                bytes.extend_from_slice(&sealed);
                format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
            }
            // Encryption fails only for inputs of gigabytes; keep nothing.
            Err(_) => String::new(),
        }
    }

    /// HMAC-SHA256 of `parts` (each length-prefixed), as hex.
    pub fn fingerprint(&self, parts: &[&[u8]]) -> String {
        fingerprint_with(&self.fingerprint_key, parts)
    }

    /// The fingerprint of `parts` under the current key, then under each
    /// previous one: what was fingerprinted before a rotation still matches
    /// one of them.
    pub fn fingerprints(&self, parts: &[&[u8]]) -> Vec<String> {
        std::iter::once(&self.fingerprint_key)
            .chain(self.previous.iter().map(|(_, key)| key))
            .map(|key| fingerprint_with(key, parts))
            .collect()
    }

    /// The text sealed in `sealed`, or `None` when it was sealed under
    /// another key or altered.
    pub fn open(&self, sealed: &str) -> Option<String> {
        std::iter::once(&self.cipher)
            .chain(self.previous.iter().map(|(cipher, _)| cipher))
            .find_map(|cipher| open_with(cipher, sealed))
    }

    /// `sealed` sealed again under the current key, when a previous one
    /// sealed it; `None` when it is current already or opens under no key.
    pub fn reseal(&self, sealed: &str) -> Option<String> {
        if open_with(&self.cipher, sealed).is_some() {
            return None;
        }
        let text = self
            .previous
            .iter()
            .find_map(|(cipher, _)| open_with(cipher, sealed))?;
        Some(self.seal(&text))
    }
}

/// The cipher and fingerprint key of `purpose` under `secret`.
fn derive(secret: &[u8], purpose: &str) -> (ChaCha20Poly1305, [u8; 32]) {
    let mut key = [0u8; 32];
    let mut fingerprint_key = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's limit of 255 × 32, so these
    // cannot fail.
    let hkdf = Hkdf::<Sha256>::new(Some(b"collabd"), secret);
    let _ = hkdf.expand(purpose.as_bytes(), &mut key);
    let _ = hkdf.expand(
        format!("{purpose} fingerprint").as_bytes(),
        &mut fingerprint_key,
    );
    (
        ChaCha20Poly1305::new(Key::from_slice(&key)),
        fingerprint_key,
    )
}

fn fingerprint_with(key: &[u8; 32], parts: &[&[u8]]) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return String::new();
    };
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn open_with(cipher: &ChaCha20Poly1305, sealed: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed.strip_prefix(PREFIX)?).ok()?;
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let (nonce, body) = bytes.split_at(NONCE_LEN);
    let plain = cipher.decrypt(Nonce::from_slice(nonce), body).ok()?;
    String::from_utf8(plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_under_its_key() {
        let sealer = Sealer::new(b"0123456789abcdef0123456789abcdef", "outbox");
        let sealed = sealer.seal("http://x/invite/SECRET");
        assert!(!sealed.contains("SECRET"));
        assert_ne!(
            sealed,
            sealer.seal("http://x/invite/SECRET"),
            "fresh nonce each time"
        );
        assert_eq!(
            sealer.open(&sealed).as_deref(),
            Some("http://x/invite/SECRET")
        );
        let other = Sealer::new(b"another secret, another key.....", "outbox");
        assert_eq!(other.open(&sealed), None);
        let purpose = Sealer::new(b"0123456789abcdef0123456789abcdef", "webhooks");
        assert_eq!(purpose.open(&sealed), None);
        assert_eq!(
            sealer.fingerprint(&[b"a", b"bc"]),
            sealer.fingerprint(&[b"a", b"bc"])
        );
        assert_ne!(
            sealer.fingerprint(&[b"a", b"bc"]),
            sealer.fingerprint(&[b"ab", b"c"])
        );
        assert_ne!(sealer.fingerprint(&[b"a"]), other.fingerprint(&[b"a"]));
        let mut altered = sealed.clone();
        altered.pop();
        assert_eq!(sealer.open(&altered), None);
    }

    #[test]
    fn a_rotated_sealer_opens_the_old_and_reseals_it_under_the_new() {
        let old_secret = b"the secret before the rotation....".to_vec();
        let old = Sealer::new(&old_secret, "totp");
        let sealed = old.seal("JBSWY3DPEHPK3PXP");
        let rotated =
            Sealer::rotating(b"the secret after the rotation.....", &[old_secret], "totp");
        assert_eq!(rotated.open(&sealed).as_deref(), Some("JBSWY3DPEHPK3PXP"));
        let resealed = rotated.reseal(&sealed).expect("sealed under the old key");
        assert_eq!(old.open(&resealed), None, "the old key no longer opens it");
        let current = Sealer::new(b"the secret after the rotation.....", "totp");
        assert_eq!(current.open(&resealed).as_deref(), Some("JBSWY3DPEHPK3PXP"));
        assert_eq!(rotated.reseal(&resealed), None, "current already");
        assert_eq!(rotated.reseal("sealed:v1:garbage"), None);
        let before = old.fingerprint(&[b"code"]);
        let now = rotated.fingerprints(&[b"code"]);
        assert_eq!(now.len(), 2);
        assert_eq!(now[0], current.fingerprint(&[b"code"]));
        assert_eq!(now[1], before, "an old fingerprint still matches");
    }
}
