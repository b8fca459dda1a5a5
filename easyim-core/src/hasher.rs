//! [`Hasher`]: password hashing and verification on a fixed set of worker threads that reuse
//! their memory, behind a bounded queue.
//!
//! argon2id with the default parameters works through 19 MiB per hash. Allocating that per
//! call (and running as many at once as requests arrive) grows a server by gigabytes under a
//! burst of logins, and the allocator keeps it. Here each worker allocates its blocks once and
//! reuses them, at most one worker per core runs, and a request that finds the queue full is
//! refused at once ([`ImError::Busy`]) instead of waiting without end.

use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::{
    rand_core::OsRng, rand_core::RngCore, Output, PasswordHash, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{mpsc, oneshot};

use crate::error::ImError;

/// How many hash requests may wait for a worker; more are refused with [`ImError::Busy`].
pub(crate) const HASH_QUEUE: usize = 64;
/// The largest argon2 memory cost (KiB) a stored hash may ask for when it is verified: a hash
/// made elsewhere with more is treated as no match rather than allocated for.
const MAX_M_COST: u32 = 64 * 1024;
/// The salt of the work done for an unknown account (its result is never compared).
const DUMMY_SALT: &[u8; 16] = b"easyim-no-user!!";

/// What a worker is asked to do.
enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<Result<String, ImError>>,
    },
    Verify {
        password: String,
        hash: Option<String>,
        reply: oneshot::Sender<bool>,
    },
}

/// The handle the accounts service holds. Cheap to clone; the workers stop when the last clone
/// is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Hasher {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Job::Hash { .. } => "Job::Hash",
            Job::Verify { .. } => "Job::Verify",
        })
    }
}

impl Default for Hasher {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Hasher::new(cores, HASH_QUEUE)
    }
}

impl Hasher {
    /// `workers` threads (each holding one hash's memory once it has worked) behind a queue of
    /// `queue` waiting requests.
    pub(crate) fn new(workers: usize, queue: usize) -> Self {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("easyim-hash-{i}"))
                .spawn(move || work(&rx));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Hasher { jobs: tx }
    }

    /// The argon2id PHC string of `password`, with a fresh random salt.
    pub(crate) async fn hash(&self, password: String) -> Result<String, ImError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password, reply })?;
        answer
            .await
            .map_err(|_| ImError::Hash("the hashing worker stopped".into()))?
    }

    /// Whether `password` matches `hash`; with no hash (an unknown account), the same work
    /// against nothing, and false, so timing does not tell which accounts exist.
    pub(crate) async fn verify(
        &self,
        password: String,
        hash: Option<String>,
    ) -> Result<bool, ImError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password,
            hash,
            reply,
        })?;
        answer
            .await
            .map_err(|_| ImError::Hash("the hashing worker stopped".into()))
    }

    fn submit(&self, job: Job) -> Result<(), ImError> {
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                ImError::Busy("too many sign-ins at once; try again in a moment")
            }
            mpsc::error::TrySendError::Closed(_) => {
                ImError::Hash("the hashing workers stopped".into())
            }
        })
    }
}

/// A worker: takes jobs until every [`Hasher`] is gone, reusing one set of memory blocks.
fn work(jobs: &Mutex<mpsc::Receiver<Job>>) {
    let mut blocks: Vec<Block> = Vec::new();
    loop {
        let job = jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .blocking_recv();
        let Some(job) = job else { return };
        match job {
            Job::Hash { password, reply } => {
                let _ = reply.send(hash(&password, &mut blocks));
            }
            Job::Verify {
                password,
                hash,
                reply,
            } => {
                let _ = reply.send(verify(&password, hash.as_deref(), &mut blocks));
            }
        }
    }
}

/// Runs argon2 over `blocks`, grown (once) to what `params` needs.
fn compute(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
    blocks: &mut Vec<Block>,
) -> Result<(), argon2::Error> {
    let need = params.block_count();
    if blocks.len() < need {
        blocks.resize(need, Block::default());
    }
    Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        out,
        &mut blocks[..need],
    )
}

fn hash(password: &str, blocks: &mut Vec<Block>) -> Result<String, ImError> {
    let mut salt = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    let mut out = [0u8; 32];
    let params = Params::default();
    compute(
        Algorithm::Argon2id,
        Version::V0x13,
        params.clone(),
        password,
        &salt,
        &mut out,
        blocks,
    )
    .map_err(|e| ImError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| ImError::Hash(e.to_string()))?;
    let output = Output::new(&out).map_err(|e| ImError::Hash(e.to_string()))?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        salt.as_str(),
        output
    ))
}

fn verify(password: &str, hash: Option<&str>, blocks: &mut Vec<Block>) -> bool {
    if let Some(legacy) = hash.filter(|h| crate::legacy::is_legacy(h)) {
        // The argon2 work too, so that a legacy account answers in the time of any other.
        let mut out = [0u8; 32];
        let _ = compute(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::default(),
            password,
            DUMMY_SALT,
            &mut out,
            blocks,
        );
        return crate::legacy::verify_legacy(password, legacy);
    }
    let Some(phc) = hash.and_then(|h| PasswordHash::new(h).ok()) else {
        // No account (or a hash we cannot read): the same work, no match.
        let mut out = [0u8; 32];
        let _ = compute(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::default(),
            password,
            DUMMY_SALT,
            &mut out,
            blocks,
        );
        return false;
    };
    let parsed = (|| {
        let algorithm = Algorithm::try_from(phc.algorithm).ok()?;
        let version = phc
            .version
            .map_or(Ok(Version::V0x13), Version::try_from)
            .ok()?;
        let params = Params::try_from(&phc).ok()?;
        let expected = phc.hash?;
        let mut salt = [0u8; 64];
        let salt = phc.salt?.decode_b64(&mut salt).ok()?.to_vec();
        Some((algorithm, version, params, expected, salt))
    })();
    let Some((algorithm, version, params, expected, salt)) = parsed else {
        return false;
    };
    if params.m_cost() > MAX_M_COST {
        tracing::warn!(
            m_cost = params.m_cost(),
            "a stored password hash asks for too much memory"
        );
        return false;
    }
    let mut out = vec![0u8; expected.len()];
    compute(
        algorithm, version, params, password, &salt, &mut out, blocks,
    )
    .is_ok()
        && Output::new(&out).is_ok_and(|o| o == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{hash_password, verify_password};

    #[tokio::test]
    async fn hashes_verify_both_ways_with_the_standard_argon2() {
        let h = Hasher::new(1, 4);
        let ours = h.hash("pw one".into()).await.unwrap();
        assert!(
            verify_password("pw one", &ours),
            "argon2's own verifier accepts ours"
        );
        assert!(!verify_password("pw two", &ours));
        let theirs = hash_password("pw three").unwrap();
        assert!(h
            .verify("pw three".into(), Some(theirs.clone()))
            .await
            .unwrap());
        assert!(!h.verify("pw four".into(), Some(theirs)).await.unwrap());
        assert!(!h.verify("pw".into(), None).await.unwrap());
        assert!(!h
            .verify("pw".into(), Some("not a hash".into()))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once() {
        // One worker, one place in the queue: of many requests at once, some are refused.
        let h = Hasher::new(1, 1);
        let calls: Vec<_> = (0..8).map(|i| h.hash(format!("pw{i}"))).collect();
        let results = futures::future::join_all(calls).await;
        let busy = results
            .iter()
            .filter(|r| matches!(r, Err(ImError::Busy(_))))
            .count();
        assert!(busy >= 6, "{busy} refused of 8");
        assert!(results.iter().filter(|r| r.is_ok()).count() >= 1);
    }
}
