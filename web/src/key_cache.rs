//! API keys recently authenticated, so that a scanner's every check-in does not look its key
//! up again. An entry lives a minute at most; a revocation anywhere empties the cache of every
//! web process at once (`NOTIFY api_keys`, sent in the revoking transaction), and while this
//! process is not listening (its listener connection is down) the cache is not used.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use common::{
    auth::{ApiKey, KEY_CHANGES_CHANNEL},
    token::TokenHash,
};
use sqlx::{PgPool, postgres::PgListener};

/// How long an authenticated key is believed without asking the database again.
const KEEP_FOR: Duration = Duration::from_secs(60);

/// Keys authenticated within the last minute, by the hash of their secret.
#[derive(Default)]
pub struct ApiKeyCache {
    keys: Mutex<HashMap<[u8; 32], (ApiKey, Instant)>>,
    listening: AtomicBool,
}

impl ApiKeyCache {
    /// The key with this hash, if it was authenticated within the last minute.
    pub fn get(&self, hash: &TokenHash) -> Option<ApiKey> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        let keys = self.keys.lock().ok()?;
        keys.get(&hash.0)
            .filter(|(_, at)| at.elapsed() < KEEP_FOR)
            .map(|(key, _)| key.clone())
    }

    /// Remembers a key the database just authenticated.
    pub fn put(&self, hash: &TokenHash, key: &ApiKey) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.retain(|_, (_, at)| at.elapsed() < KEEP_FOR);
            keys.insert(hash.0, (key.clone(), Instant::now()));
        }
    }

    /// Forgets every key (after a revocation in this process, before the `NOTIFY` arrives).
    pub fn clear(&self) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.clear();
        }
    }

    /// Listens for key changes until the process ends: any change empties the cache; a lost
    /// connection turns the cache off until listening again.
    pub async fn listen(&self, db: PgPool) {
        loop {
            match PgListener::connect_with(&db).await {
                Ok(mut listener) => {
                    if listener.listen(KEY_CHANGES_CHANNEL).await.is_ok() {
                        self.clear();
                        self.listening.store(true, Ordering::Release);
                        while listener.try_recv().await.is_ok_and(|n| n.is_some()) {
                            self.clear();
                        }
                    }
                    self.listening.store(false, Ordering::Release);
                    self.clear();
                }
                Err(e) => tracing::warn!(error = %e, "cannot listen for API key changes"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
