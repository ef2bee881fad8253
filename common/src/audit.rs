//! The audit log: who changed what and when. Entries name ids and fields, never personal data.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// What an audit entry records, stored as its dotted name (`room.create`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    RoomCreate,
    RoomUpdate,
    PerformanceCreate,
    PerformanceUpdate,
    TicketResend,
    StaffCreate,
    StaffRole,
    StaffDisable,
    StaffEnable,
    StaffPasswordReset,
    ApiKeyCreate,
    ApiKeyRevoke,
    Checkin,
    JobRetry,
    JobKill,
    JobRetryAllFailed,
    WaitlistRemove,
}

impl AuditAction {
    /// The name stored in `audit_log.action`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::RoomCreate => "room.create",
            AuditAction::RoomUpdate => "room.update",
            AuditAction::PerformanceCreate => "performance.create",
            AuditAction::PerformanceUpdate => "performance.update",
            AuditAction::TicketResend => "ticket.resend",
            AuditAction::StaffCreate => "staff.create",
            AuditAction::StaffRole => "staff.role",
            AuditAction::StaffDisable => "staff.disable",
            AuditAction::StaffEnable => "staff.enable",
            AuditAction::StaffPasswordReset => "staff.password_reset",
            AuditAction::ApiKeyCreate => "api_key.create",
            AuditAction::ApiKeyRevoke => "api_key.revoke",
            AuditAction::Checkin => "checkin",
            AuditAction::JobRetry => "job.retry",
            AuditAction::JobKill => "job.kill",
            AuditAction::JobRetryAllFailed => "job.retry_all_failed",
            AuditAction::WaitlistRemove => "waitlist.remove",
        }
    }
}

/// Appends an entry in the caller's transaction, so it exists exactly when the change does.
pub async fn record(
    conn: &mut PgConnection,
    actor: &str,
    action: AuditAction,
    subject_id: Option<Uuid>,
    details: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (actor, action, subject_id, details) VALUES ($1, $2, $3, $4)",
    )
    .bind(actor)
    .bind(action.as_str())
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
    /// Who that is for people: the staff member's e-mail, `key: <label>`, or the actor itself
    /// (`cli`, or an account since deleted).
    pub actor_name: String,
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
        "SELECT a.id, a.at, a.actor, a.action, a.subject_id, a.details,
                COALESCE(u.email, 'key: ' || k.label, a.actor) AS actor_name
           FROM audit_log a
           LEFT JOIN staff_users u ON a.actor = 'staff:' || u.id
           LEFT JOIN api_keys k ON a.actor = 'key:' || k.id
          ORDER BY a.at DESC, a.id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}
