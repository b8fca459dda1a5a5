//! [`Hasher`]: password hashing and verification off the async threads, a bounded number at a
//! time.

use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

use crate::auth::{hash_password, verify_password};
use crate::error::ImError;

/// Runs argon2id hashing and verification on blocking threads, at most one per core at a time:
/// each takes tens of milliseconds of a core and its memory, so running more at once only piles
/// up memory without finishing sooner.
#[derive(Debug, Clone)]
pub(crate) struct Hasher {
    slots: Arc<Semaphore>,
    /// A hash to verify against when an account does not exist, so that a login for an unknown
    /// account takes as long as one with a wrong password.
    dummy: Arc<OnceLock<String>>,
}

impl Default for Hasher {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Hasher {
            slots: Arc::new(Semaphore::new(cores)),
            dummy: Arc::default(),
        }
    }
}

impl Hasher {
    /// The argon2id PHC string of `password`.
    pub(crate) async fn hash(&self, password: String) -> Result<String, ImError> {
        Ok(self.run(move || hash_password(&password)).await??)
    }

    /// Whether `password` matches `hash`; with no hash (an unknown account), the same work
    /// against a dummy hash, and false.
    pub(crate) async fn verify(
        &self,
        password: String,
        hash: Option<String>,
    ) -> Result<bool, ImError> {
        let dummy = self.dummy.clone();
        self.run(move || match hash {
            Some(hash) => verify_password(&password, &hash),
            None => {
                let dummy =
                    dummy.get_or_init(|| hash_password("not a password").unwrap_or_default());
                verify_password(&password, dummy);
                false
            }
        })
        .await
    }

    async fn run<T, F>(&self, f: F) -> Result<T, ImError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|e| ImError::Hash(format!("hash slots: {e}")))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| ImError::Hash(format!("hash task: {e}")))
    }
}
