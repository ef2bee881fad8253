//! Tickets: after confirmation the worker issues a ticket token (the QR code) and a cancel
//! token (the cancel link), both random, hashed at rest and bound to their purpose. The ticket
//! is valid for its performance until the end of the check-in window. Cancelling (which frees
//! the seats and revokes the ticket) is in `cancellation`.

use crate::booking::ReservationStatus;

use chrono::{DateTime, Utc};

use sqlx::{FromRow, PgConnection};

use uuid::Uuid;

use crate::delivery::{Expires, Issue, NewToken};
use crate::short_code::ShortCode;
use crate::token::{self, RawToken, TokenHash, TokenPurpose};

/// What the e-mails about a reservation need to know of it (read by `delivery::claim`, which
/// takes the lease to send one).
#[derive(Debug, Clone, FromRow)]
pub struct Recipient {
    /// `None` once personal data has been erased.
    pub email: Option<String>,
    pub name: Option<String>,
    pub party_size: i32,
    pub status: ReservationStatus,
    pub confirmation_sent: bool,
    pub ticket_sent: bool,
    pub performance_id: Uuid,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub room: String,
    /// End of the check-in window: the ticket expires then.
    pub checkin_closes_at: DateTime<Utc>,
    /// `it` or `en`: the language the reservation was booked in (see `language()`).
    pub language: String,
}

impl Recipient {
    /// The language of this reservation's e-mails.
    pub fn language(&self) -> crate::locale::Language {
        crate::locale::Language::parse(&self.language).unwrap_or(crate::locale::Language::It)
    }
}

/// The columns of a [`Recipient`] over the reservation `r`, with [`RECIPIENT_JOINS`].
pub(crate) const RECIPIENT_COLUMNS: &str = "r.email, r.name, r.party_size, r.status,
    r.confirmation_sent_at IS NOT NULL AS confirmation_sent,
    r.ticket_sent_at IS NOT NULL AS ticket_sent, r.language,
    r.performance_id, s.title, p.starts_at, rm.name AS room,
    p.starts_at + make_interval(mins => p.checkin_closes_minutes_after) AS checkin_closes_at";

/// What [`RECIPIENT_COLUMNS`] read besides the reservation `r`.
pub(crate) const RECIPIENT_JOINS: &str = "JOIN performances p ON p.id = r.performance_id
    JOIN shows s ON s.id = p.show_id
    JOIN rooms rm ON rm.id = p.room_id";

/// Loads what the e-mails about a reservation show, without a lease (the reminder reads it to
/// decide whether it is due).
pub async fn find_recipient(
    conn: &mut PgConnection,
    reservation_id: Uuid,
) -> Result<Option<Recipient>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {RECIPIENT_COLUMNS} FROM reservations r {RECIPIENT_JOINS} WHERE r.id = $1"
    )))
    .bind(reservation_id)
    .fetch_optional(conn)
    .await
}

/// Fresh ticket and cancel tokens and the ticket's short code ([`ShortCode::for_ticket`] of
/// the ticket token), for the e-mail's lease statement to issue (`delivery::Issue`): the
/// ticket and its short code expire when the check-in window closes. With `replace`, the
/// reservation's earlier ones are revoked, so a retried job or a re-sent ticket leaves exactly
/// one valid ticket; without it (the reminder's), they stay valid beside it.
pub fn ticket_tokens(replace: bool) -> (RawToken, RawToken, Issue) {
    let ticket = RawToken::generate();
    let cancel = RawToken::generate();
    let token = |purpose, hash, expires| NewToken {
        purpose,
        hash,
        expires,
    };
    let issue = Issue {
        revoke: if replace {
            vec![
                TokenPurpose::Ticket,
                TokenPurpose::Cancel,
                TokenPurpose::ShortCode,
            ]
        } else {
            Vec::new()
        },
        tokens: vec![
            token(
                TokenPurpose::Ticket,
                ticket.hash(),
                Expires::WhenCheckinCloses,
            ),
            token(TokenPurpose::Cancel, cancel.hash(), Expires::Never),
            token(
                TokenPurpose::ShortCode,
                ShortCode::for_ticket(ticket.expose()).hash(),
                Expires::WhenCheckinCloses,
            ),
        ],
    };
    (ticket, cancel, issue)
}

/// Starts a new ticket generation (an admin re-sending a ticket): the ticket job runs again,
/// and an e-mail still under way for the old generation never counts as the sent ticket.
pub async fn supersede_ticket(
    conn: &mut PgConnection,
    reservation_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE reservations SET ticket_sent_at = NULL, ticket_generation = ticket_generation + 1
          WHERE id = $1",
    )
    .bind(reservation_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// What anyone holding a ticket may learn from it: no personal data.
#[derive(Debug, Clone, FromRow)]
pub struct TicketView {
    pub reservation_id: Uuid,
    pub performance_id: Uuid,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub room: String,
    pub party_size: i32,
    pub status: ReservationStatus,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

/// Resolves a ticket token for the page a phone camera opens.
pub async fn find_ticket(
    conn: &mut PgConnection,
    presented: &str,
) -> Result<Option<TicketView>, sqlx::Error> {
    let Some(hash) = TokenHash::parse(presented) else {
        return Ok(None);
    };
    sqlx::query_as(
        "SELECT r.id AS reservation_id, p.id AS performance_id, s.title, p.starts_at,
                rm.name AS room, r.party_size, r.status, r.checked_in_at,
                t.revoked_at IS NOT NULL AS revoked
           FROM reservation_tokens t
           JOIN reservations r ON r.id = t.reservation_id
           JOIN performances p ON p.id = r.performance_id
           JOIN shows s ON s.id = p.show_id
           JOIN rooms rm ON rm.id = p.room_id
          WHERE t.token_hash = $1 AND t.purpose = 'ticket'",
    )
    .bind(hash.as_bytes())
    .fetch_optional(conn)
    .await
}

/// Why a ticket could not be re-sent.
#[derive(Debug, thiserror::Error)]
pub enum ResendError {
    #[error("reservation not found")]
    NotFound,
    #[error("only confirmed reservations have tickets")]
    NotConfirmed,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Replaces a reservation's ticket: the current ticket and cancel links stop working at once,
/// and a new ticket e-mail is queued (in the caller's transaction).
pub async fn resend_ticket(
    conn: &mut PgConnection,
    reservation_id: Uuid,
    max_attempts: usize,
) -> Result<(), ResendError> {
    let status: Option<ReservationStatus> =
        sqlx::query_scalar("SELECT status FROM reservations WHERE id = $1 FOR UPDATE")
            .bind(reservation_id)
            .fetch_optional(&mut *conn)
            .await?;
    match status {
        None => return Err(ResendError::NotFound),
        Some(ReservationStatus::Confirmed) => {}
        Some(_) => return Err(ResendError::NotConfirmed),
    }
    token::revoke_tokens(
        conn,
        reservation_id,
        &[
            TokenPurpose::Ticket,
            TokenPurpose::Cancel,
            TokenPurpose::ShortCode,
        ],
    )
    .await?;
    supersede_ticket(conn, reservation_id).await?;
    crate::jobs::enqueue_again(
        conn,
        &crate::jobs::SendTicket {
            reservation_id,
            request_id: None,
        },
        max_attempts,
    )
    .await?;
    Ok(())
}
