//! argon2id password hashing on a pool of its own threads, which run at the lowest CPU
//! priority: a login flood gets every core the rest of the API leaves idle, and never takes a
//! core from other requests.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, oneshot};

use crate::domain::DomainError;

/// OWASP's argon2id parameters: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

type HashJob = Box<dyn FnOnce() + Send>;

/// Hashes and verifies passwords; cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::Sender<HashJob>,
    /// A hash of nothing, verified against when a username does not exist, so that a wrong
    /// username costs what a wrong password costs.
    dummy: Arc<OnceCell<String>>,
}

impl PasswordHasher {
    /// Hashes on `threads` threads at the lowest CPU priority; 0 means one per core.
    pub fn new(threads: usize) -> Self {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        let (jobs, queue) = mpsc::channel::<HashJob>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("nexus-hash-{i}"))
                .spawn(move || {
                    lowest_priority();
                    loop {
                        let job = {
                            let queue = queue.lock().unwrap_or_else(|p| p.into_inner());
                            queue.recv()
                        };
                        match job {
                            Ok(job) => job(),
                            // Every hasher handle is gone.
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Self {
            jobs,
            dummy: Arc::new(OnceCell::new()),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, DomainError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = reply.send(work());
            }))
            .map_err(|_| DomainError::Unavailable("password hashing has stopped".into()))?;
        answer
            .await
            .map_err(|_| DomainError::Internal("a password hashing thread failed".into()))
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

/// Puts the calling thread at the lowest CPU priority (nice 19), so the scheduler runs it only
/// on time other threads leave idle.
fn lowest_priority() {
    // On Linux the niceness is per thread, and PRIO_PROCESS given a thread id sets that
    // thread's only.
    let tid = rustix::thread::gettid();
    if rustix::process::setpriority_process(Some(tid), 19).is_err() {
        tracing::warn!("cannot lower the priority of a password hashing thread");
    }
}

#[cfg(test)]
mod tests {
    use super::PasswordHasher;

    #[tokio::test]
    async fn hashing_threads_run_at_the_lowest_priority() {
        let niceness = PasswordHasher::new(1)
            .run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
            .await
            .expect("the pool runs jobs")
            .expect("getpriority");
        assert_eq!(niceness, 19);
    }
}
