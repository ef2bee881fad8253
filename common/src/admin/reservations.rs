//! Reservations as admins handle them: re-sending a ticket.

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::audit::{self, AuditAction};
use crate::auth::Actor;
use crate::tickets::{self, ResendError};

/// Replaces a reservation's ticket and queues its e-mail, audited.
pub async fn resend_ticket(
    db: &PgPool,
    actor: Actor,
    id: Uuid,
    max_attempts: usize,
) -> Result<(), ResendError> {
    let mut tx = db.begin().await?;
    tickets::resend_ticket(&mut tx, id, max_attempts).await?;
    let action = AuditAction::TicketResend;
    audit::record(&mut tx, &actor.label(), action, Some(id), json!({})).await?;
    tx.commit().await?;
    tracing::info!(reservation.id = %id, "ticket re-sent");
    Ok(())
}
