//! The connection pool, the migration runner and small helpers for database errors.

use std::time::Duration;

use sqlx::{PgPool, postgres::PgPoolOptions};

use crate::config::DatabaseConfig;

/// How long a request waits for a connection before it is told the database is unavailable:
/// short, so that during an outage every request answers within two seconds.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1500);

/// A pooled connection idle for longer than this is pinged before it is handed out. One idle
/// for less was in use, and answered, a moment ago; under load no connection idles that long,
/// so requests skip the round trip (sqlx already pings every connection when it is released).
/// A database restart takes longer than this, so a connection left from before one is tested,
/// found dead and replaced.
pub const PING_IF_IDLE_FOR: Duration = Duration::from_millis(250);

fn pool_options(config: &DatabaseConfig) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_IF_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// Opens the pool and checks the database answers now (for one-shot commands).
pub async fn connect(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    let pool = pool_options(config)
        .connect(config.url())
        .await
        .map_err(|e| anyhow::anyhow!("connect to DATABASE_URL: {e}"))?;
    Ok(pool)
}

/// The pool the long-running processes use: it opens connections when they are needed, so a
/// process starts, and keeps running, while the database is away.
pub fn connect_lazy(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    pool_options(config)
        .connect_lazy(config.url())
        .map_err(|e| anyhow::anyhow!("DATABASE_URL: {e}"))
}

/// Asks the database for the simplest answer: whether it is reachable now.
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

/// True when `err` means the database cannot be reached or is going away (connection refused or
/// lost, no free connection in time, server shutting down or starting): worth a 503 and a retry,
/// not a 500.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        // Class 57 (operator intervention: admin shutdown, crash shutdown, cannot connect now)
        // and class 08 (connection exception).
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")),
        _ => false,
    }
}

/// Applies the job queue's migrations (schema `apalis`) and then ours (schema `public`).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    apalis_postgres::PostgresStorage::<()>::setup(pool)
        .await
        .map_err(|e| anyhow::anyhow!("apply job queue migrations: {e}"))?;
    sqlx::migrate!("../migrations")
        .run(pool)
        .await
        .map_err(|e| anyhow::anyhow!("apply application migrations: {e}"))?;
    Ok(())
}

/// True when `err` is a violation of the named unique or check constraint.
pub fn is_constraint_violation(err: &sqlx::Error, constraint: &str) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.constraint() == Some(constraint))
}
