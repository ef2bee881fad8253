//! The state every handler can reach: the database pool, the configuration, the rate limits,
//! the password-hashing slots and the metrics.

use std::sync::Arc;

use common::config::Config;
use sqlx::{PgConnection, PgPool};

use crate::{error::ApiResult, rate_limit};

/// Password hashes computed at once. Argon2 takes tens of milliseconds of CPU each: it runs on
/// the blocking pool, never on the threads that serve requests, and logins beyond this many
/// wait their turn while everything else stays fast.
pub const PASSWORD_HASHING_SLOTS: usize = 2;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub config: Arc<Config>,
    pub rate_limits: Arc<rate_limit::RateLimits>,
    /// Bounds how many password hashes run at once on the blocking pool.
    pub password_hashing: Arc<tokio::sync::Semaphore>,
    pub metrics: Arc<common::metrics::Metrics>,
    /// API keys recently authenticated (a scanner's key is not looked up on every check-in).
    pub api_keys: Arc<crate::key_cache::ApiKeyCache>,
}

impl AppState {
    pub fn new(db: PgPool, config: Config) -> AppState {
        let rate_limits = Arc::new(rate_limit::RateLimits::new(config.rate_limit.per_minute));
        AppState {
            db,
            config: Arc::new(config),
            rate_limits,
            password_hashing: Arc::new(tokio::sync::Semaphore::new(PASSWORD_HASHING_SLOTS)),
            metrics: Arc::default(),
            api_keys: Arc::default(),
        }
    }
}

/// Runs `work` (a statement or a transaction) on a task of its own, so that a client that hangs
/// up cannot cut it off halfway, leaving its connection inside an open transaction that holds
/// locks. `what` names the work in the error should its task fail.
pub async fn on_own_task<T, E>(
    what: &str,
    work: impl Future<Output = Result<T, E>> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<sqlx::Error> + Send + 'static,
{
    tokio::spawn(work)
        .await
        .unwrap_or_else(|e| Err(sqlx::Error::Protocol(format!("{what} task failed: {e}")).into()))
}

/// Runs `work` in one transaction: committed when it succeeds, rolled back otherwise.
pub async fn in_transaction<T>(
    db: &PgPool,
    work: impl AsyncFnOnce(&mut PgConnection) -> ApiResult<T>,
) -> ApiResult<T> {
    let mut tx = db.begin().await?;
    match work(&mut tx).await {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(e) => {
            tx.rollback().await?;
            Err(e)
        }
    }
}
