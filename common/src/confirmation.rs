//! Confirmation: the visitor follows the e-mailed link and presses the button. In one
//! transaction we lock the performance row, recount confirmed seats, confirm or refuse, spend
//! the token and queue the ticket e-mail. Repeating a successful confirmation is harmless.

use chrono::Utc;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::catalogue::{self, BookingStatus};
use crate::jobs::{self, SendTicket};
use crate::token::{self, TokenHash, TokenPurpose};

/// Why a confirmation did not happen; each variant is one of the contract's answers.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmationError {
    #[error("unknown, malformed or revoked token")]
    InvalidToken,
    #[error("the confirmation link has expired")]
    TokenExpired,
    #[error("not enough seats are left")]
    InsufficientCapacity,
    #[error("the performance is cancelled or has started")]
    BookingClosed,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// What a successful call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// This call confirmed the reservation.
    Now(Uuid),
    /// It was confirmed before; nothing changed.
    Already(Uuid),
}

/// Confirms the reservation a confirmation token belongs to. Run inside a transaction:
/// the performance row stays locked until the caller commits.
pub async fn confirm_reservation(
    conn: &mut PgConnection,
    presented: &str,
    ticket_job_attempts: usize,
    request_id: Option<Uuid>,
) -> Result<Confirmed, ConfirmationError> {
    let hash = TokenHash::parse(presented).ok_or(ConfirmationError::InvalidToken)?;
    let token = token::find_token(conn, hash, TokenPurpose::Confirm)
        .await?
        .filter(|t| !t.revoked)
        .ok_or(ConfirmationError::InvalidToken)?;
    let performance_id: Uuid =
        sqlx::query_scalar("SELECT performance_id FROM reservations WHERE id = $1")
            .bind(token.reservation_id)
            .fetch_one(&mut *conn)
            .await?;
    let performance = catalogue::lock_performance(conn, performance_id)
        .await?
        .ok_or(ConfirmationError::InvalidToken)?;
    // Read the status only now, under the lock: a concurrent confirmation of the same
    // reservation has either committed or not started.
    let (status, party_size): (String, i32) =
        sqlx::query_as("SELECT status, party_size FROM reservations WHERE id = $1")
            .bind(token.reservation_id)
            .fetch_one(&mut *conn)
            .await?;
    match status.as_str() {
        "confirmed" => {
            token::mark_token_used(conn, token.id).await?;
            return Ok(Confirmed::Already(token.reservation_id));
        }
        "pending" => {}
        "expired" => return Err(ConfirmationError::TokenExpired),
        _ => return Err(ConfirmationError::InvalidToken),
    }
    if token.expired {
        return Err(ConfirmationError::TokenExpired);
    }
    if performance.booking_status(Utc::now()) == BookingStatus::Cancelled
        || performance.starts_at <= Utc::now()
    {
        return Err(ConfirmationError::BookingClosed);
    }
    if i64::from(party_size) > performance.seats_available() {
        return Err(ConfirmationError::InsufficientCapacity);
    }
    sqlx::query("UPDATE reservations SET status = 'confirmed', confirmed_at = now() WHERE id = $1")
        .bind(token.reservation_id)
        .execute(&mut *conn)
        .await?;
    token::mark_token_used(conn, token.id).await?;
    jobs::enqueue(
        conn,
        &SendTicket {
            reservation_id: token.reservation_id,
            request_id,
        },
        ticket_job_attempts,
    )
    .await?;
    Ok(Confirmed::Now(token.reservation_id))
}
