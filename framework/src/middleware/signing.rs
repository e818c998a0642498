//! Signing with `secret_key`: HMAC-SHA256 under a key derived for one
//! purpose with HKDF-SHA256, so a signature made for sessions is worthless
//! anywhere else, and the raw secret never keys a MAC directly. Verification
//! also accepts `secret_key_fallbacks` (key rotation); signing always uses
//! the current key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::conf::Settings;
use crate::error::Result;

type HmacSha256 = Hmac<Sha256>;

/// The HKDF salt: fixed, and public, as salts may be; it separates Nuages'
/// keys from any other use of the same secret.
const SALT: &[u8] = b"nuages.signing.v1";

/// Keys for one purpose: the current one first, then the fallbacks.
#[derive(Clone)]
pub(crate) struct Signer {
    keys: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Signer")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Signer {
    /// The keys for `purpose`, from `secret_key` (required) and
    /// `secret_key_fallbacks`.
    pub(crate) fn new(settings: &Settings, purpose: &str) -> Result<Signer> {
        let current = settings.require_secret_key()?;
        let keys = std::iter::once(current)
            .chain(
                settings
                    .secret_key_fallbacks
                    .iter()
                    .map(String::as_str)
                    .filter(|k| !k.trim().is_empty()),
            )
            .map(|secret| derive(secret.as_bytes(), purpose))
            .collect();
        Ok(Signer { keys })
    }

    /// Signer from raw secrets, current first (tests).
    #[cfg(test)]
    pub(crate) fn from_secrets(secrets: &[&str], purpose: &str) -> Signer {
        Signer {
            keys: secrets
                .iter()
                .map(|s| derive(s.as_bytes(), purpose))
                .collect(),
        }
    }

    /// The signature of `message` with the current key, base64url.
    pub(crate) fn sign(&self, message: &[u8]) -> String {
        let mut mac = mac(&self.keys[0]);
        mac.update(message);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Which key signed `message` (0 is the current one), if any did.
    /// Each comparison is constant-time (`Mac::verify_slice`).
    pub(crate) fn verify(&self, message: &[u8], signature: &str) -> Option<usize> {
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        self.keys.iter().position(|key| {
            let mut mac = mac(key);
            mac.update(message);
            mac.verify_slice(&signature).is_ok()
        })
    }
}

fn derive(secret: &[u8], purpose: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(Some(SALT), secret)
        .expand(purpose.as_bytes(), &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    key
}

fn mac(key: &[u8; 32]) -> HmacSha256 {
    <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_with_the_key_that_made_them() {
        let signer = Signer::from_secrets(&["new", "old"], "session");
        let old = Signer::from_secrets(&["old"], "session");
        let signature = signer.sign(b"hello");
        assert_eq!(signer.verify(b"hello", &signature), Some(0));
        assert_eq!(signer.verify(b"hellO", &signature), None);
        assert_eq!(signer.verify(b"hello", &old.sign(b"hello")), Some(1));
        assert_eq!(old.verify(b"hello", &signature), None);
        assert_eq!(signer.verify(b"hello", "not base64!"), None);
        assert_eq!(signer.verify(b"hello", ""), None);
    }

    #[test]
    fn purposes_have_different_keys() {
        let session = Signer::from_secrets(&["k"], "session");
        let other = Signer::from_secrets(&["k"], "other");
        assert_eq!(other.verify(b"m", &session.sign(b"m")), None);
    }

    #[test]
    fn a_missing_secret_key_is_refused() {
        let error = Signer::new(&Settings::default(), "session").unwrap_err();
        assert!(error.to_string().contains("secret_key"), "{error}");
    }

    #[test]
    fn debug_does_not_print_keys() {
        let signer = Signer::from_secrets(&["k"], "session");
        assert_eq!(format!("{signer:?}"), "Signer { keys: 1 }");
    }
}
