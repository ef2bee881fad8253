//! The connection pool, the migration runner and small helpers for database errors.

use std::time::Duration;

use sqlx::{PgPool, postgres::PgPoolOptions};

use crate::config::DatabaseConfig;

/// Opens the pool both processes use for everything, jobs included.
pub async fn connect(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(config.url())
        .await
        .map_err(|e| anyhow::anyhow!("connect to DATABASE_URL: {e}"))?;
    Ok(pool)
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
