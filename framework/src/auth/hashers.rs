//! Password hashing, as Django's `PASSWORD_HASHERS`: the first hasher of the
//! `password_hashers` setting hashes new passwords, and every one listed
//! verifies the hashes it knows. A hash made by a hasher that is not the
//! first, or by the first with other parameters, verifies and is reported as
//! outdated, so that [`authenticate`](super::authenticate) re-hashes it.
//!
//! The stored formats:
//!
//! - `argon2`: a PHC string, `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`
//!   (Django's `argon2$argon2id$…` hashes verify too);
//! - `pbkdf2_sha256`: Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`;
//! - `md5`: Django's `md5$<salt>$<hex digest>`, salted MD5: fast, hence only
//!   for tests and for importing old hashes (`check --deploy` refuses it
//!   first, `nuages.E041`);
//! - a hash starting with `!` is an unusable password: nothing verifies it.
//!
//! Hashes are compared in constant time (the RustCrypto verifier for Argon2,
//! `subtle` for the others).

use std::num::NonZeroUsize;
use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::Digest as _;
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;

use crate::conf::Settings;
use crate::error::{Error, Problem, Result};

/// What an unusable password's hash starts with (Django's
/// `UNUSABLE_PASSWORD_PREFIX`): a user with one cannot log in with a password.
pub const UNUSABLE_PASSWORD_PREFIX: &str = "!";

/// OWASP's minimum configurations for Argon2id, KiB of memory and passes,
/// which its Password Storage Cheat Sheet calls equally strong: `check
/// --deploy` accepts a cost that meets one of them in both.
pub const ARGON2_MINIMUMS: [(u32, u32); 5] = [
    (47_104, 1),
    (19_456, 2),
    (12_288, 3),
    (9_216, 4),
    (7_168, 5),
];

/// Whether `memory_cost` KiB with `time_cost` passes is at least one of
/// [`ARGON2_MINIMUMS`].
pub fn argon2_meets_owasp(memory_cost: u32, time_cost: u32) -> bool {
    ARGON2_MINIMUMS
        .iter()
        .any(|&(memory, passes)| memory_cost >= memory && time_cost >= passes)
}

/// Django's PBKDF2 iteration count (Django 5.2), the least `check --deploy`
/// accepts when `pbkdf2_sha256` hashes new passwords.
pub const PBKDF2_MIN_ITERATIONS: u32 = 1_000_000;

/// One password hasher with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hasher {
    /// Argon2id; memory in KiB.
    Argon2 {
        /// KiB of memory per hash (`argon2_memory_cost`).
        memory_cost: u32,
        /// Passes over the memory (`argon2_time_cost`).
        time_cost: u32,
        /// Lanes (`argon2_parallelism`).
        parallelism: u32,
    },
    /// PBKDF2 with HMAC-SHA256, as Django's default hasher.
    Pbkdf2Sha256 {
        /// Rounds (`pbkdf2_iterations`).
        iterations: u32,
    },
    /// Salted MD5: for tests and imports only.
    Md5,
}

impl Hasher {
    /// The names the `password_hashers` setting takes.
    pub const NAMES: &'static [&'static str] = &["argon2", "pbkdf2_sha256", "md5"];

    /// The hasher called `name` in the `password_hashers` setting, with the
    /// parameters of `settings`.
    pub fn named(name: &str, settings: &Settings) -> Option<Hasher> {
        Some(match name {
            "argon2" => Hasher::Argon2 {
                memory_cost: settings.argon2_memory_cost,
                time_cost: settings.argon2_time_cost,
                parallelism: settings.argon2_parallelism,
            },
            "pbkdf2_sha256" => Hasher::Pbkdf2Sha256 {
                iterations: settings.pbkdf2_iterations,
            },
            "md5" => Hasher::Md5,
            _ => return None,
        })
    }

    /// Its name in the `password_hashers` setting.
    pub fn name(&self) -> &'static str {
        match self {
            Hasher::Argon2 { .. } => "argon2",
            Hasher::Pbkdf2Sha256 { .. } => "pbkdf2_sha256",
            Hasher::Md5 => "md5",
        }
    }

    fn argon2_params(memory_cost: u32, time_cost: u32, parallelism: u32) -> Result<argon2::Params> {
        argon2::Params::new(memory_cost, time_cost, parallelism, None).map_err(|error| {
            Error::Config(
                Problem::new(format!(
                    "argon2_memory_cost = {memory_cost}, argon2_time_cost = {time_cost}, \
                     argon2_parallelism = {parallelism}: Argon2 refuses these parameters ({error})"
                ))
                .with_hint(
                    "use at least 1 pass, 1 lane and 8 KiB of memory per lane; the defaults \
                     (19456, 2, 1) are OWASP's recommendation",
                ),
            )
        })
    }

    /// Check that the parameters are usable (Argon2 refuses some).
    fn validate(&self) -> Result<()> {
        match *self {
            Hasher::Argon2 {
                memory_cost,
                time_cost,
                parallelism,
            } => Hasher::argon2_params(memory_cost, time_cost, parallelism).map(|_| ()),
            Hasher::Pbkdf2Sha256 { iterations: 0 } => Err(Error::Config(
                Problem::new("pbkdf2_iterations is 0: PBKDF2 needs at least one round").with_hint(
                    format!(
                        "remove pbkdf2_iterations to use Django's count, {PBKDF2_MIN_ITERATIONS}"
                    ),
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Whether `encoded` is a hash of this hasher's algorithm.
    fn recognizes(&self, encoded: &str) -> bool {
        match self {
            Hasher::Argon2 { .. } => {
                encoded.starts_with("$argon2") || encoded.starts_with("argon2$argon2")
            }
            Hasher::Pbkdf2Sha256 { .. } => encoded.starts_with("pbkdf2_sha256$"),
            Hasher::Md5 => encoded.starts_with("md5$"),
        }
    }

    /// Hash `password` with a fresh random salt.
    pub fn encode(&self, password: &str) -> String {
        match *self {
            Hasher::Argon2 {
                memory_cost,
                time_cost,
                parallelism,
            } => {
                let params = Hasher::argon2_params(memory_cost, time_cost, parallelism)
                    .expect("argon2 parameters are validated when the hashers are built");
                argon2::Argon2::from(params)
                    .hash_password(password.as_bytes())
                    .expect("argon2 hashes with a valid salt and parameters")
                    .to_string()
            }
            Hasher::Pbkdf2Sha256 { iterations } => {
                let salt = random_string(22);
                let hash = pbkdf2_sha256(password, &salt, iterations);
                format!(
                    "pbkdf2_sha256${iterations}${salt}${}",
                    STANDARD.encode(hash)
                )
            }
            Hasher::Md5 => {
                let salt = random_string(22);
                format!("md5${salt}${}", md5_hex(&salt, password))
            }
        }
    }

    /// Whether `password` matches `encoded`, a hash of this algorithm.
    fn verify(&self, password: &str, encoded: &str) -> bool {
        match self {
            Hasher::Argon2 { .. } => {
                let phc = encoded.strip_prefix("argon2").unwrap_or(encoded);
                PasswordHash::new(phc).is_ok_and(|hash| {
                    argon2::Argon2::default()
                        .verify_password(password.as_bytes(), &hash)
                        .is_ok()
                })
            }
            Hasher::Pbkdf2Sha256 { .. } => {
                let Some((iterations, salt, expected)) = split_pbkdf2(encoded) else {
                    return false;
                };
                let Ok(expected) = STANDARD.decode(expected) else {
                    return false;
                };
                let actual = pbkdf2_sha256(password, salt, iterations);
                actual.as_slice().ct_eq(expected.as_slice()).into()
            }
            Hasher::Md5 => {
                let mut parts = encoded.splitn(3, '$').skip(1);
                let (Some(salt), Some(expected)) = (parts.next(), parts.next()) else {
                    return false;
                };
                md5_hex(salt, password)
                    .as_bytes()
                    .ct_eq(expected.as_bytes())
                    .into()
            }
        }
    }

    /// Whether `encoded`, a hash of this algorithm, was made with other
    /// parameters than this hasher's (or in another format).
    fn is_outdated(&self, encoded: &str) -> bool {
        match *self {
            Hasher::Argon2 {
                memory_cost,
                time_cost,
                parallelism,
            } => {
                let Ok(hash) = PasswordHash::new(encoded) else {
                    // Django's `argon2$…` form: rewrite it as a plain PHC string.
                    return true;
                };
                let Ok(params) = argon2::Params::try_from(&hash) else {
                    return true;
                };
                hash.algorithm.as_str() != "argon2id"
                    || hash.version != Some(0x13)
                    || params.m_cost() != memory_cost
                    || params.t_cost() != time_cost
                    || params.p_cost() != parallelism
                    || params.output_len() != Some(argon2::Params::DEFAULT_OUTPUT_LEN)
            }
            Hasher::Pbkdf2Sha256 { iterations } => {
                split_pbkdf2(encoded).is_none_or(|(found, _, _)| found != iterations)
            }
            Hasher::Md5 => false,
        }
    }
}

fn split_pbkdf2(encoded: &str) -> Option<(u32, &str, &str)> {
    let mut parts = encoded.split('$');
    let (_, iterations, salt, hash) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    Some((iterations.parse().ok()?, salt, hash))
}

fn pbkdf2_sha256(password: &str, salt: &str, iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut out);
    out
}

fn md5_hex(salt: &str, password: &str) -> String {
    let digest = md5::Md5::new()
        .chain_update(salt.as_bytes())
        .chain_update(password.as_bytes())
        .finalize();
    crate::hex::encode(&digest)
}

/// `length` random letters and digits (Django's `get_random_string`).
fn random_string(length: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..length)
        .map(|_| char::from(CHARS[rand::random_range(0..CHARS.len())]))
        .collect()
}

/// An unusable password's hash: `!` and 40 random characters, as Django's
/// `make_password(None)`.
pub fn make_unusable_password() -> String {
    format!("{UNUSABLE_PASSWORD_PREFIX}{}", random_string(40))
}

/// Whether `encoded` may verify a password (it is not an unusable one).
pub fn is_password_usable(encoded: &str) -> bool {
    !encoded.starts_with(UNUSABLE_PASSWORD_PREFIX)
}

/// What [`PasswordHashers::check_password`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password does not match (or the hash is unusable, or of a hasher
    /// not listed in `password_hashers`).
    Mismatch,
    /// It matches, and the hash is made as the first hasher makes them.
    Match,
    /// It matches, and the hash should be replaced by a new one: another
    /// hasher made it, or the first with other parameters.
    MatchOutdated,
}

impl Verification {
    /// Whether the password matched.
    pub fn matches(self) -> bool {
        self != Verification::Mismatch
    }
}

/// The hashers of the `password_hashers` setting; the first one hashes new
/// passwords.
///
/// ```
/// use nuages::auth::{Hasher, PasswordHashers, Verification};
/// let hashers = PasswordHashers::new(vec![Hasher::Md5]).unwrap();
/// let encoded = hashers.make_password("correct horse");
/// assert_eq!(hashers.check_password("correct horse", &encoded), Verification::Match);
/// assert_eq!(hashers.check_password("wrong", &encoded), Verification::Mismatch);
/// ```
///
/// Clones share one gate: the `_off_the_runtime` methods run at most one
/// hash per core at a time (on tokio's blocking threads), and the others
/// wait their turn, so that logins sent all at once cost a core each in
/// turn rather than Argon2's memory each at once (19 MiB per hash).
#[derive(Debug, Clone)]
pub struct PasswordHashers {
    hashers: Vec<Hasher>,
    gate: Arc<Semaphore>,
}

impl PartialEq for PasswordHashers {
    fn eq(&self, other: &Self) -> bool {
        self.hashers == other.hashers
    }
}

impl Eq for PasswordHashers {}

impl PasswordHashers {
    /// These hashers, the first for new hashes; an error when there is
    /// none or when parameters are refused.
    pub fn new(hashers: Vec<Hasher>) -> Result<PasswordHashers> {
        if hashers.is_empty() {
            return Err(Error::Config(
                Problem::new("password_hashers is empty: new passwords could not be hashed")
                    .with_hint(
                        "set password_hashers = [\"argon2\", \"pbkdf2_sha256\"] (the default)",
                    ),
            ));
        }
        hashers.iter().try_for_each(Hasher::validate)?;
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Ok(PasswordHashers {
            hashers,
            gate: Arc::new(Semaphore::new(cores)),
        })
    }

    /// The hashers the settings name (`password_hashers` and the hashers'
    /// parameters); an unknown name is an error naming the closest known one.
    pub fn from_settings(settings: &Settings) -> Result<PasswordHashers> {
        let hashers = settings
            .password_hashers
            .iter()
            .map(|name| {
                Hasher::named(name, settings).ok_or_else(|| {
                    super::unknown_name("password_hashers", "hasher", name, Hasher::NAMES)
                })
            })
            .collect::<Result<Vec<_>>>()?;
        PasswordHashers::new(hashers)
    }

    /// The hasher of new passwords.
    pub fn preferred(&self) -> &Hasher {
        &self.hashers[0]
    }

    /// Hash `password` with the first hasher.
    pub fn make_password(&self, password: &str) -> String {
        self.preferred().encode(password)
    }

    /// [`make_password`](Self::make_password) on a blocking thread, when
    /// the gate lets it in (see [`PasswordHashers`]).
    pub async fn make_password_off_the_runtime(&self, password: &str) -> Result<String> {
        let password = password.to_string();
        self.off_the_runtime(move |hashers| hashers.make_password(&password))
            .await
    }

    /// [`check_password`](Self::check_password) on a blocking thread, when
    /// the gate lets it in; without `encoded` (no such user), a password is
    /// hashed all the same and does not match, so that the time taken does
    /// not tell whether the user exists.
    pub async fn check_password_off_the_runtime(
        &self,
        password: &str,
        encoded: Option<&str>,
    ) -> Result<Verification> {
        let (password, encoded) = (password.to_string(), encoded.map(str::to_string));
        self.off_the_runtime(move |hashers| match encoded {
            Some(encoded) => hashers.check_password(&password, &encoded),
            None => {
                hashers.make_password(&password);
                Verification::Mismatch
            }
        })
        .await
    }

    /// `work` on a blocking thread once a place at the gate is free; the
    /// place is held until `work` ends, even when the caller stopped waiting.
    async fn off_the_runtime<T: Send + 'static>(
        &self,
        work: impl FnOnce(&PasswordHashers) -> T + Send + 'static,
    ) -> Result<T> {
        let place = self
            .gate
            .clone()
            .acquire_owned()
            .await
            .map_err(Error::other)?;
        let hashers = self.clone();
        tokio::task::spawn_blocking(move || {
            let _place = place;
            work(&hashers)
        })
        .await
        .map_err(Error::other)
    }

    /// Verify `password` against `encoded` with the listed hasher that knows
    /// its format; see [`Verification`].
    ///
    /// An unusable hash, or one no listed hasher knows, never matches, yet
    /// the password is hashed all the same (as Django's `verify_password`
    /// since CVE-2024-39329): the time taken does not tell a user made
    /// without a password from one with a password, nor from no user.
    pub fn check_password(&self, password: &str, encoded: &str) -> Verification {
        let hasher = match is_password_usable(encoded) {
            true => self.hashers.iter().find(|h| h.recognizes(encoded)),
            false => None,
        };
        let Some(hasher) = hasher else {
            self.make_password(password);
            return Verification::Mismatch;
        };
        if !hasher.verify(password, encoded) {
            Verification::Mismatch
        } else if hasher != self.preferred() || hasher.is_outdated(encoded) {
            Verification::MatchOutdated
        } else {
            Verification::Match
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const PASSWORD: &str = "correct horse battery staple";

    // Made by Django 5.2 (`pip install django==5.2 argon2-cffi`), with
    // settings.configure(PASSWORD_HASHERS=[…PBKDF2, …Argon2, …MD5]):
    // make_password(PASSWORD, hasher="pbkdf2_sha256"); the same with a
    // PBKDF2PasswordHasher subclass whose iterations = 20_000 (an older
    // count, and quick to verify in a debug build); make_password(PASSWORD,
    // hasher="argon2");
    // MD5PasswordHasher().encode(PASSWORD, salt).
    pub(crate) const DJANGO_PBKDF2: &str =
        "pbkdf2_sha256$1000000$KLKp1EFVUQw8gCFUsOlIGt$1HszSqkqccy+VkxZJTDfHHExXVJe1ruxY82ZpY7L6Nw=";
    pub(crate) const DJANGO_PBKDF2_OLD: &str =
        "pbkdf2_sha256$20000$Zk3cdwCgVKibNwQXvOcDav$LWD1Fx8p7o/Xej76H8NfUXJijNF6pDyb69Ttps3jHMQ=";
    const DJANGO_ARGON2: &str = "argon2$argon2id$v=19$m=102400,t=2,p=8$ZU5wUUVST3pTNUFwVUlrVUZKU01xTg$OXheNgQpyhIKPKLAj/DXWCslWlo1kKCm+hkshuJPOIE";
    const DJANGO_MD5: &str = "md5$JinQeQOILQdVcQoJdc27ks$5dec1ed48e2f0d1e6f374a442dc0a13d";

    fn defaults() -> PasswordHashers {
        PasswordHashers::from_settings(&Settings::default()).unwrap()
    }

    /// Hashes sent all at once run a core's worth at a time, the others
    /// waiting at the gate; every one ends.
    #[tokio::test]
    async fn the_gate_lets_one_hash_per_core_run_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let hashers = PasswordHashers::new(vec![Hasher::Md5]).unwrap();
        let cores = hashers.gate.available_permits();
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..cores * 4)
            .map(|_| {
                let (hashers, running, most) = (hashers.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    hashers
                        .off_the_runtime(move |hashers| {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            running.fetch_sub(1, Ordering::SeqCst);
                            hashers.make_password(PASSWORD)
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap().starts_with("md5$"));
        }
        let most = most.load(Ordering::SeqCst);
        assert!(
            (1..=cores).contains(&most),
            "{most} at once for {cores} cores"
        );
        assert_eq!(hashers.gate.available_permits(), cores);
    }

    #[test]
    fn new_hashes_are_argon2id_phc_strings_with_the_default_parameters() {
        let hashers = defaults();
        let encoded = hashers.make_password(PASSWORD);
        assert!(
            encoded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{encoded}"
        );
        assert_eq!(
            hashers.check_password(PASSWORD, &encoded),
            Verification::Match
        );
        assert_eq!(
            hashers.check_password("Correct horse battery staple", &encoded),
            Verification::Mismatch
        );
        assert_ne!(
            encoded,
            hashers.make_password(PASSWORD),
            "a fresh salt each time"
        );
    }

    #[test]
    fn argon2_hashes_of_other_parameters_verify_and_are_outdated() {
        let weaker = Hasher::Argon2 {
            memory_cost: 4096,
            time_cost: 1,
            parallelism: 1,
        };
        let encoded = weaker.encode(PASSWORD);
        assert!(encoded.contains("m=4096,t=1,p=1"), "{encoded}");
        let hashers = defaults();
        assert_eq!(
            hashers.check_password(PASSWORD, &encoded),
            Verification::MatchOutdated
        );
        assert_eq!(
            hashers.check_password("nope", &encoded),
            Verification::Mismatch
        );
    }

    #[test]
    fn djangos_hashes_verify_and_are_outdated() {
        let hashers = defaults();
        assert_eq!(
            hashers.check_password(PASSWORD, DJANGO_PBKDF2),
            Verification::MatchOutdated
        );
        for encoded in [DJANGO_PBKDF2_OLD, DJANGO_ARGON2] {
            assert_eq!(
                hashers.check_password(PASSWORD, encoded),
                Verification::MatchOutdated,
                "{encoded}"
            );
            assert_eq!(
                hashers.check_password("correct horse battery", encoded),
                Verification::Mismatch
            );
        }
        let pbkdf2_first = PasswordHashers::new(vec![Hasher::Pbkdf2Sha256 {
            iterations: PBKDF2_MIN_ITERATIONS,
        }])
        .unwrap();
        assert_eq!(
            pbkdf2_first.check_password(PASSWORD, DJANGO_PBKDF2),
            Verification::Match
        );
        assert_eq!(
            pbkdf2_first.check_password(PASSWORD, DJANGO_PBKDF2_OLD),
            Verification::MatchOutdated
        );
        // Ours are Django's format: Django verifies them too.
        let quick = Hasher::Pbkdf2Sha256 { iterations: 20_000 };
        let ours = quick.encode(PASSWORD);
        assert!(ours.starts_with("pbkdf2_sha256$20000$"), "{ours}");
        assert_eq!(
            ours.split('$').nth(2).unwrap().len(),
            22,
            "Django's salt length"
        );
        assert!(quick.verify(PASSWORD, &ours) && !quick.verify("x", &ours));
        assert!(!quick.is_outdated(&ours) && pbkdf2_first.preferred().is_outdated(&ours));
    }

    #[test]
    fn only_listed_hashers_verify() {
        let hashers = defaults();
        assert_eq!(
            hashers.check_password(PASSWORD, DJANGO_MD5),
            Verification::Mismatch
        );
        let with_md5 = PasswordHashers::new(vec![Hasher::Md5]).unwrap();
        assert_eq!(
            with_md5.check_password(PASSWORD, DJANGO_MD5),
            Verification::Match
        );
        assert_eq!(
            with_md5.check_password(PASSWORD, DJANGO_PBKDF2),
            Verification::Mismatch
        );
    }

    #[test]
    fn unusable_and_malformed_hashes_never_verify() {
        let hashers = defaults();
        let unusable = make_unusable_password();
        assert!(unusable.starts_with('!') && unusable.len() == 41);
        assert!(!is_password_usable(&unusable));
        for encoded in [
            unusable.as_str(),
            "",
            "!",
            "$argon2id$v=19$garbage",
            "pbkdf2_sha256$x$y$z",
            "pbkdf2_sha256$1000000$salt$not base64",
        ] {
            assert_eq!(
                hashers.check_password(PASSWORD, encoded),
                Verification::Mismatch,
                "{encoded}"
            );
            assert_eq!(
                hashers.check_password("", encoded),
                Verification::Mismatch,
                "{encoded}"
            );
        }
    }

    #[test]
    fn bad_settings_are_refused_with_the_key_and_the_fix() {
        let mut settings = Settings {
            password_hashers: vec!["argon2".into(), "pbkdf2_sha265".into()],
            ..Settings::default()
        };
        let error = PasswordHashers::from_settings(&settings).unwrap_err();
        assert_eq!(
            error.to_string(),
            "password_hashers names an unknown hasher \"pbkdf2_sha265\""
        );
        let hint = error.hint().unwrap();
        assert!(
            hint.starts_with("did you mean \"pbkdf2_sha256\"?"),
            "{hint}"
        );
        settings.password_hashers = vec![];
        let error = PasswordHashers::from_settings(&settings).unwrap_err();
        assert!(error.to_string().starts_with("password_hashers is empty"));
        settings.password_hashers = vec!["argon2".into()];
        settings.argon2_parallelism = 0;
        let error = PasswordHashers::from_settings(&settings).unwrap_err();
        assert!(
            error.to_string().contains("argon2_parallelism = 0"),
            "{error}"
        );
    }

    #[test]
    fn new_hashes_use_the_cost_settings() {
        let settings = Settings {
            argon2_memory_cost: 8192,
            argon2_time_cost: 3,
            argon2_parallelism: 2,
            ..Settings::default()
        };
        let encoded = PasswordHashers::from_settings(&settings)
            .unwrap()
            .make_password(PASSWORD);
        assert!(encoded.contains("$m=8192,t=3,p=2$"), "{encoded}");
        let settings = Settings {
            password_hashers: vec!["pbkdf2_sha256".into()],
            pbkdf2_iterations: 20_000,
            ..Settings::default()
        };
        let encoded = PasswordHashers::from_settings(&settings)
            .unwrap()
            .make_password(PASSWORD);
        assert!(encoded.starts_with("pbkdf2_sha256$20000$"), "{encoded}");
    }
}
