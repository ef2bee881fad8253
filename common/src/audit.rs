//! The audit log: who changed what and when. Entries name ids and fields, never personal data.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// Appends an entry in the caller's transaction, so it exists exactly when the change does.
pub async fn record(
    conn: &mut PgConnection,
    actor: &str,
    action: &str,
    subject_id: Option<Uuid>,
    details: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (actor, action, subject_id, details) VALUES ($1, $2, $3, $4)",
    )
    .bind(actor)
    .bind(action)
    .bind(subject_id)
    .bind(details)
    .execute(conn)
    .await?;
    Ok(())
}

/// One audit entry.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub action: String,
    pub subject_id: Option<Uuid>,
    pub details: Value,
}

/// The newest entries first.
pub async fn list_recent(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, actor, action, subject_id, details FROM audit_log ORDER BY at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}
