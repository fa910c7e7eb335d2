//! Password policy and Argon2id hashing, and email normalisation.

use super::AccountError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest accepted password, in bytes: bounds the work one request can ask for.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Longest accepted email address (RFC 5321 path limit).
pub const MAX_EMAIL_BYTES: usize = 254;

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        include_str!("common_passwords.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Checks a new password against the policy (length, common passwords, the email itself).
pub fn check_policy(password: &str, email: &str) -> Result<(), AccountError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::WeakPassword(format!(
            "password must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AccountError::WeakPassword(format!(
            "password must be at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    let lower = password.to_lowercase();
    if common_passwords().contains(lower.as_str()) {
        return Err(AccountError::WeakPassword("password is too common".into()));
    }
    let local = email.split('@').next().unwrap_or_default();
    if lower == email || lower == local {
        return Err(AccountError::WeakPassword(
            "password must not be the email address".into(),
        ));
    }
    Ok(())
}

/// Normalises an email address (trimmed, lower-case) and checks its shape.
///
/// Lower-casing the local part is not strictly RFC 5321, but no mail provider
/// in use distinguishes case there, and it stops look-alike duplicate accounts.
pub fn normalise_email(raw: &str) -> Result<String, AccountError> {
    let email = raw.trim().to_lowercase();
    let bad = |why: &str| Err(AccountError::InvalidEmail(format!("invalid email address: {why}")));
    if email.is_empty() || email.len() > MAX_EMAIL_BYTES {
        return bad("1-254 bytes required");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("no spaces or control characters");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return bad("missing @");
    };
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return bad("expected one @ between a local part and a domain");
    }
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return bad("the domain needs a dot between labels");
    }
    Ok(email)
}

/// Argon2id hashing on the blocking pool, with bounded concurrency.
pub struct Hasher {
    params: Params,
    /// Each hash holds `memory` KiB; the semaphore bounds how many run at once.
    permits: Arc<Semaphore>,
    /// Hash of a random password, verified against when the email is unknown so
    /// that "no such user" costs the same time as "wrong password".
    dummy: OnceLock<String>,
}

impl Hasher {
    /// A hasher with the given memory (KiB) and iteration costs, parallelism 1.
    pub fn new(memory_kib: u32, iterations: u32) -> Result<Self, String> {
        let params = Params::new(memory_kib, iterations, 1, None).map_err(|e| format!("argon2 parameters: {e}"))?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(cores * 2)),
            dummy: OnceLock::new(),
        })
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    fn hash_now(params: Params, password: &str) -> Result<String, AccountError> {
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| AccountError::Internal(e.to_string()))?;
        Self::argon2(params)
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AccountError::Internal(e.to_string()))
    }

    fn verify_now(password: &str, phc: &str) -> bool {
        // The stored string carries its own parameters, so older hashes still verify.
        PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    }

    /// Hashes a password to a PHC string (`$argon2id$v=19$m=…,t=…,p=1$salt$hash`).
    pub async fn hash(&self, password: &str) -> Result<String, AccountError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        let params = self.params.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || Self::hash_now(params, &password))
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?
    }

    /// Verifies a password against a stored hash, or against a dummy hash when there is none.
    pub async fn verify(self: &Arc<Self>, password: &str, phc: Option<&str>) -> Result<bool, AccountError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        let me = self.clone();
        let stored = phc.map(str::to_owned);
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || match stored {
            Some(phc) => Ok(Self::verify_now(&password, &phc)),
            None => {
                let dummy = me.dummy_hash()?;
                let _ = Self::verify_now(&password, &dummy);
                Ok(false)
            }
        })
        .await
        .map_err(|e| AccountError::Internal(e.to_string()))?
    }

    fn dummy_hash(&self) -> Result<String, AccountError> {
        if let Some(h) = self.dummy.get() {
            return Ok(h.clone());
        }
        let mut random = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut random);
        let h = Self::hash_now(self.params.clone(), &hex::encode(random))?;
        Ok(self.dummy.get_or_init(|| h).clone())
    }

    /// Computes the dummy hash ahead of the first sign-in (it costs one hash).
    pub async fn warm_up(self: &Arc<Self>) {
        let me = self.clone();
        let _ = tokio::task::spawn_blocking(move || me.dummy_hash()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalise_email("  Alice@Example.COM ").ok().as_deref(),
            Some("alice@example.com")
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "a@b",
            "a b@c.de",
            "a@b@c.de",
            "a@.com",
            "a@b..c",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert!(check_policy("short", "a@b.co").is_err());
        assert!(check_policy("Password123", "a@b.co").is_err());
        assert!(check_policy("alice@b.co", "alice@b.co").is_err());
        assert!(check_policy(&"x".repeat(2000), "a@b.co").is_err());
        assert!(check_policy("correct horse battery", "a@b.co").is_ok());
    }

    #[test]
    fn hashes_verify_only_the_right_password() {
        let params = Params::new(256, 1, 1, None).expect("params");
        let h = Hasher::hash_now(params, "correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=256,t=1,p=1$"));
        assert!(Hasher::verify_now("correct horse", &h));
        assert!(!Hasher::verify_now("wrong horse", &h));
        assert!(!Hasher::verify_now("correct horse", "not a hash"));
    }
}
