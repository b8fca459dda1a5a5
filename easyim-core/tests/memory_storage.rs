//! `MemoryStorage` against the storage conformance kit.

use std::sync::Arc;

use easyim_core::{MemoryStorage, Storage};

#[tokio::test]
async fn memory_storage_passes_the_conformance_kit() {
    easyim_core::testkit::run_all(|| async { Arc::new(MemoryStorage::new()) as Arc<dyn Storage> })
        .await;
}
