//! Passwords: argon2id with SPEC §4.10's parameters, run on the blocking pool behind a
//! semaphore so a burst of sign-ins can never take every core from page loads.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 128;

fn argon2() -> Argon2<'static> {
    // m = 19456 KiB, t = 2, p = 1: OWASP's argon2id baseline.
    let params = Params::new(19_456, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes on the current thread: for the command line and seeding, never an async worker.
pub fn hash_blocking(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("password hashing failed: {e}"))
}

fn verify_blocking(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// The bounded hashing service shared by every request.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// Verified against when an address is unknown, so the answer takes the same time.
    dummy_hash: Arc<String>,
}

impl Passwords {
    pub fn new(concurrency: usize) -> Self {
        let dummy_hash = hash_blocking("a dummy password nobody has").unwrap_or_default();
        Passwords {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: Arc::new(dummy_hash),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        Ok(actix_web::web::block(work).await?)
    }

    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.run(move || hash_blocking(&password))
            .await?
            .map_err(AppError::Internal)
    }

    /// Checks a password against a stored hash; with no hash (unknown account, or an
    /// account without a password) it does the same work and answers false.
    pub async fn verify(&self, stored: Option<String>, password: String) -> AppResult<bool> {
        let dummy = Arc::clone(&self.dummy_hash);
        self.run(move || match stored {
            Some(hash) => verify_blocking(&hash, &password),
            None => {
                verify_blocking(&dummy, &password);
                false
            }
        })
        .await
    }
}

fn common_passwords() -> &'static HashSet<String> {
    static LIST: OnceLock<HashSet<String>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("../../data/common-passwords.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.to_lowercase())
            .collect()
    })
}

/// The rules for a new password; the message is shown next to the field.
pub fn check_new_password(password: &str) -> Result<(), &'static str> {
    if crate::text::single_line(password).is_err() {
        return Err("A password can't contain control or invisible characters");
    }
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err("Use at least 12 characters");
    }
    if length > MAX_LENGTH {
        return Err("Use at most 128 characters");
    }
    let lower = password.to_lowercase();
    let mut chars = lower.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) || common_passwords().contains(&lower) {
        return Err("This password is too common; choose another");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_password_rules() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password(&"x".repeat(129)).is_err());
        assert!(check_new_password("aaaaaaaaaaaaaa").is_err());
        assert!(check_new_password("1qaz2wsx3edc").is_err());
        assert!(check_new_password("correct horse battery").is_ok());
    }

    #[test]
    fn hashes_verify_and_use_argon2id() {
        let hash = hash_blocking("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_blocking(&hash, "correct horse battery"));
        assert!(!verify_blocking(&hash, "wrong horse battery"));
    }
}
