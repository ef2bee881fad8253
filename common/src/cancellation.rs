//! Cancellation: a visitor cancels with the link from their e-mail (a purpose-bound token);
//! the seats return to sale at once (to the waiting list first, if anyone waits) and the ticket
//! and links stop working.

use crate::booking::ReservationStatus;
use crate::catalogue;
use crate::token::{self, TokenHash, TokenPurpose};
use sqlx::PgConnection;
use uuid::Uuid;

/// Why a cancellation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("unknown, malformed or revoked token")]
    InvalidToken,
    #[error("the reservation was already checked in")]
    NotValid,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Cancels the reservation a cancel token belongs to, freeing its seats; repeating is harmless.
/// Returns the reservation id and whether this call cancelled it.
pub async fn cancel_reservation(
    conn: &mut PgConnection,
    presented: &str,
) -> Result<(Uuid, bool), CancelError> {
    let hash = TokenHash::parse(presented).ok_or(CancelError::InvalidToken)?;
    let token = token::find_token(conn, hash, TokenPurpose::Cancel)
        .await?
        .filter(|t| !t.revoked)
        .ok_or(CancelError::InvalidToken)?;
    let performance_id: Uuid =
        sqlx::query_scalar("SELECT performance_id FROM reservations WHERE id = $1")
            .bind(token.reservation_id)
            .fetch_one(&mut *conn)
            .await?;
    // The confirmed seat count changes: take the same lock confirmation takes.
    catalogue::lock_performance(conn, performance_id).await?;
    let (status, checked_in): (ReservationStatus, bool) = sqlx::query_as(
        "SELECT status, checked_in_at IS NOT NULL FROM reservations WHERE id = $1 FOR UPDATE",
    )
    .bind(token.reservation_id)
    .fetch_one(&mut *conn)
    .await?;
    if status == ReservationStatus::Cancelled {
        return Ok((token.reservation_id, false));
    }
    if checked_in {
        return Err(CancelError::NotValid);
    }
    sqlx::query("UPDATE reservations SET status = 'cancelled', cancelled_at = now() WHERE id = $1")
        .bind(token.reservation_id)
        .execute(&mut *conn)
        .await?;
    token::revoke_tokens(
        conn,
        token.reservation_id,
        &[
            TokenPurpose::Ticket,
            TokenPurpose::ShortCode,
            TokenPurpose::Confirm,
        ],
    )
    .await?;
    token::mark_token_used(conn, token.id).await?;
    crate::waitlist::queue_offers(conn, performance_id).await?;
    Ok((token.reservation_id, true))
}
