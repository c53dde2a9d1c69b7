//! argon2id password hashing on the blocking pool, with a cap on hashes computed at once so a
//! login flood cannot take every core from other requests.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, Semaphore};

use crate::domain::DomainError;

/// OWASP's argon2id parameters: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes and verifies passwords; cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// A hash of nothing, verified against when a username does not exist, so that a wrong
    /// username costs what a wrong password costs.
    dummy: Arc<OnceCell<String>>,
}

impl PasswordHasher {
    /// At most `max_concurrent` hashes at once; 0 means one core fewer than the machine has
    /// (at least one), so a login flood always leaves a core for other requests.
    pub fn new(max_concurrent: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let permits = if max_concurrent == 0 {
            cores.saturating_sub(1).max(1)
        } else {
            max_concurrent
        };
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            dummy: Arc::new(OnceCell::new()),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, DomainError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| DomainError::Unavailable("shutting down".into()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| DomainError::Internal(format!("hashing task failed: {e}")))
    }

    /// A new argon2id PHC string for `password`.
    pub async fn hash(&self, password: &str) -> Result<String, DomainError> {
        let password = password.to_owned();
        self.run(move || {
            argon2()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| DomainError::Internal(format!("hashing failed: {e}")))
        })
        .await?
    }

    /// Whether `password` matches `hash`; a malformed hash never matches.
    pub async fn verify(&self, hash: &str, password: &str) -> Result<bool, DomainError> {
        let (hash, password) = (hash.to_owned(), password.to_owned());
        self.run(move || match PasswordHash::new(&hash) {
            Ok(parsed) => argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        })
        .await
    }

    /// Spends the time a real verification would, for a username that does not exist.
    pub async fn verify_nothing(&self, password: &str) -> Result<(), DomainError> {
        let dummy = self
            .dummy
            .get_or_try_init(|| self.hash("nexus-timing-equaliser"))
            .await?
            .clone();
        self.verify(&dummy, password).await.map(|_| ())
    }
}
