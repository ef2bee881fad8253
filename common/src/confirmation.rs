//! Confirmation: the visitor follows the e-mailed link and presses the button. In one
//! transaction of two statements we find the token and lock its performance's row, then
//! recount the seats and confirm or refuse; confirming spends the token and queues the ticket
//! e-mail and the reminder in that second statement.
//! Repeating a successful confirmation is harmless.

use std::time::Duration;

use crate::booking::ReservationStatus;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::jobs::{NewJob, SendReminder, SendTicket};
use crate::reminders;
use crate::token::{self, TokenHash};

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

/// Confirms the reservation a confirmation token belongs to, and queues its ticket e-mail and
/// (`remind_before` the start, when reminders are on) its reminder. Run inside a transaction:
/// the performance row stays locked until the caller commits.
pub async fn confirm_reservation(
    conn: &mut PgConnection,
    presented: &str,
    job_attempts: usize,
    remind_before: Option<Duration>,
    request_id: Option<Uuid>,
) -> Result<Confirmed, ConfirmationError> {
    let hash = TokenHash::parse(presented).ok_or(ConfirmationError::InvalidToken)?;
    // The token, its reservation, and the lock on their performance, in one statement. Once
    // the lock is granted nothing about the performance changes and no other confirmation
    // takes seats until we commit, so the performance's start read here holds. The status read
    // here is only a shortcut: the confirming statement below decides again.
    let token: Option<PresentedToken> = sqlx::query_as(
        "SELECT t.id, t.reservation_id, t.used_at IS NOT NULL AS used, t.revoked_at IS NOT NULL AS revoked,
                COALESCE(t.expires_at <= now(), false) AS expired,
                r.performance_id, r.party_size, r.status, p.starts_at
           FROM reservation_tokens t
           JOIN reservations r ON r.id = t.reservation_id
           JOIN performances p ON p.id = r.performance_id
          WHERE t.token_hash = $1 AND t.purpose = 'confirm'
            FOR NO KEY UPDATE OF p",
    )
    .bind(hash.as_bytes())
    .fetch_optional(&mut *conn)
    .await?;
    let token = token
        .filter(|t| !t.revoked)
        .ok_or(ConfirmationError::InvalidToken)?;
    match token.status {
        ReservationStatus::Confirmed => return already(conn, &token).await,
        ReservationStatus::Pending if token.expired => {
            return Err(ConfirmationError::TokenExpired);
        }
        ReservationStatus::Pending => {}
        ReservationStatus::Expired => return Err(ConfirmationError::TokenExpired),
        ReservationStatus::Cancelled => return Err(ConfirmationError::InvalidToken),
    }
    let reservation_id = token.reservation_id;
    let ticket = NewJob::of(
        &SendTicket {
            reservation_id,
            request_id,
        },
        job_attempts,
    )?;
    let reminder = remind_before
        .and_then(|before| reminders::due_at(token.starts_at, before, Utc::now()))
        .map(|at| NewJob::of(&SendReminder { reservation_id }, job_attempts).map(|j| (j, at)))
        .transpose()?;
    let (reminder, remind_at) = reminder.unzip();
    // The recount and the confirmation are one statement, separate from the lock's on purpose:
    // under READ COMMITTED a statement sees the data as of its start, so the seats must be
    // counted by a statement that starts after the lock was granted, when every earlier
    // confirmation has committed.
    let outcome: Option<ConfirmRow> = sqlx::query_as(concat!(
        "WITH p AS (
            SELECT p.booking_status = 'cancelled' OR p.starts_at <= now() AS closed, ",
        crate::seats_free_sql!(),
        " AS seats_free
              FROM performances p JOIN rooms r ON r.id = p.room_id
             WHERE p.id = $14),
         ok AS (SELECT 1 FROM p WHERE NOT p.closed AND $15 <= p.seats_free),
         spent AS (
            UPDATE reservation_tokens SET used_at = now()
             WHERE id = $2 AND used_at IS NULL AND EXISTS (SELECT 1 FROM ok)),
         confirmed AS (
            UPDATE reservations SET status = 'confirmed', confirmed_at = now()
             WHERE id = $1 AND status = 'pending' AND EXISTS (SELECT 1 FROM ok) RETURNING id),
         ticket AS (",
        crate::insert_job_columns!(),
        " SELECT $3, $4, $5, 'Pending', 0, $6, now(), 0, ''::hstore, $7 FROM confirmed),
         reminder AS (",
        crate::insert_job_columns!(),
        " SELECT $8, $9, $10, 'Pending', 0, $11, COALESCE($12, now()), 0, ''::hstore, $13
              FROM confirmed WHERE $8::text IS NOT NULL)
         SELECT p.closed, p.seats_free, (SELECT id FROM confirmed) AS confirmed FROM p"
    ))
    .bind(reservation_id)
    .bind(token.id)
    .bind(&ticket.id)
    .bind(ticket.queue)
    .bind(&ticket.payload)
    .bind(ticket.max_attempts)
    .bind(&ticket.idempotency_key)
    .bind(reminder.as_ref().map(|j| &j.id))
    .bind(reminder.as_ref().map(|j| j.queue))
    .bind(reminder.as_ref().map(|j| &j.payload))
    .bind(reminder.as_ref().map(|j| j.max_attempts))
    .bind(remind_at.and_then(crate::jobs::stored_run_at))
    .bind(reminder.as_ref().map(|j| &j.idempotency_key))
    .bind(token.performance_id)
    .bind(token.party_size)
    .fetch_optional(&mut *conn)
    .await?;
    let outcome = outcome.ok_or(ConfirmationError::InvalidToken)?;
    if outcome.closed {
        return Err(ConfirmationError::BookingClosed);
    }
    if i64::from(token.party_size) > outcome.seats_free {
        return Err(ConfirmationError::InsufficientCapacity);
    }
    if outcome.confirmed.is_none() {
        // Another request confirmed or cancelled it between our first read and the lock.
        let status: ReservationStatus =
            sqlx::query_scalar("SELECT status FROM reservations WHERE id = $1")
                .bind(token.reservation_id)
                .fetch_one(&mut *conn)
                .await?;
        return match status {
            ReservationStatus::Confirmed => already(conn, &token).await,
            ReservationStatus::Expired => Err(ConfirmationError::TokenExpired),
            ReservationStatus::Pending | ReservationStatus::Cancelled => {
                Err(ConfirmationError::InvalidToken)
            }
        };
    }
    Ok(Confirmed::Now(reservation_id))
}

/// A confirmation token with the parts of its reservation that confirmation needs.
#[derive(sqlx::FromRow)]
struct PresentedToken {
    id: Uuid,
    reservation_id: Uuid,
    used: bool,
    revoked: bool,
    expired: bool,
    performance_id: Uuid,
    party_size: i32,
    status: ReservationStatus,
    starts_at: DateTime<Utc>,
}

/// What the confirming statement found under the lock, and whether it confirmed.
#[derive(sqlx::FromRow)]
struct ConfirmRow {
    /// The performance is cancelled or has started.
    closed: bool,
    seats_free: i64,
    confirmed: Option<Uuid>,
}

/// The answer to a repeat: nothing changes but the token being marked as spent.
async fn already(
    conn: &mut PgConnection,
    token: &PresentedToken,
) -> Result<Confirmed, ConfirmationError> {
    if !token.used {
        token::mark_token_used(conn, token.id).await?;
    }
    Ok(Confirmed::Already(token.reservation_id))
}
