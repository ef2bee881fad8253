//! The state every handler can reach: the database pool, the configuration, the rate limits,
//! the password-hashing slots and the metrics.

use std::sync::Arc;

use common::config::Config;
use sqlx::PgPool;

use crate::rate_limit;

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
        }
    }
}
