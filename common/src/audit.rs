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
