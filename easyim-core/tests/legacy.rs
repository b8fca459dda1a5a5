//! An account imported from the original easyim signs in with its old password, whose hash
//! (`legacy-sha256$`) is then replaced by an argon2id one.

use std::sync::Arc;

use easyim_core::{
    legacy_password_hash, AccountStore, Auth, EngineConfig, Im, ImError, JwtAuth, MemoryStorage,
    Storage, User,
};
use sha2::{Digest, Sha256};

/// What the original stored: hex SHA-256 of the hex SHA-256 of the password.
fn original_hash(password: &str) -> String {
    let once = hex::encode(Sha256::digest(password.as_bytes()));
    hex::encode(Sha256::digest(once.as_bytes()))
}

#[tokio::test]
async fn a_legacy_password_signs_in_once_and_is_replaced_by_argon2id() {
    let storage = Arc::new(MemoryStorage::new());
    let dyn_storage: Arc<dyn Storage> = storage.clone();
    let auth: Arc<dyn Auth> = Arc::new(JwtAuth::new(dyn_storage.clone(), "k", 3600, 86_400));
    let im = Im::new(dyn_storage, auth, EngineConfig::default());
    let legacy = legacy_password_hash(&original_hash("old-pw")).unwrap();
    storage
        .create_user(User {
            id: 1630381388895096832,
            account: "alice".into(),
            nickname: "Alice".into(),
            avatar: String::new(),
            password_hash: legacy.clone(),
            secret: "s".into(),
        })
        .await
        .unwrap();

    // A wrong password is refused and changes nothing.
    let e = im.accounts().login("alice", "old-pw2".into()).await;
    assert!(matches!(e, Err(ImError::Unauthorized(_))), "{e:?}");
    let hash = |s: Arc<MemoryStorage>| async move {
        s.user(1630381388895096832)
            .await
            .unwrap()
            .unwrap()
            .password_hash
    };
    assert_eq!(hash(storage.clone()).await, legacy);
    // The stored value itself is not a password.
    let e = im.accounts().login("alice", legacy.clone()).await;
    assert!(matches!(e, Err(ImError::Unauthorized(_))), "{e:?}");

    let signed = im.accounts().login("alice", "old-pw".into()).await.unwrap();
    assert_eq!(signed.profile.id, 1630381388895096832);
    let now = hash(storage.clone()).await;
    assert!(now.starts_with("$argon2id$"), "{now}");
    // The new hash takes the same password, and only it.
    im.accounts().login("alice", "old-pw".into()).await.unwrap();
    let e = im.accounts().login("alice", "old-pw2".into()).await;
    assert!(matches!(e, Err(ImError::Unauthorized(_))), "{e:?}");
}
