//! Delivery of a reservation's e-mails, at least once and as nearly exactly once as SMTP allows.
//!
//! One worker at a time sends a given e-mail of a reservation: it takes a lease named after its
//! apalis worker, which lapses when that worker stops heartbeating (its process died, or its
//! queue lost the database and restarted under a new name). A send that never got recorded
//! (the worker died between SMTP's acceptance and the record) is sent again by the next holder,
//! and counted as a possible duplicate.
//!
//! A ticket e-mail carries a generation: a staff re-send bumps it, so an e-mail that was sent
//! for an older generation (with a ticket revoked meanwhile) never counts as the sent ticket,
//! and the newer job, waiting on the lease, sends after it: the newest e-mail always holds the
//! live ticket.

use std::time::Duration;

use crate::booking::ReservationStatus;
use sqlx::PgConnection;
use uuid::Uuid;

/// Which e-mail of a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Email {
    /// The link that confirms a pending reservation.
    Confirmation,
    /// The QR ticket of a confirmed reservation.
    Ticket,
}

/// What a worker may do about an e-mail now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Send it, carrying `generation`. `resumed` is true when an earlier holder started this
    /// send and never recorded its outcome: this send may be a duplicate.
    Send { generation: i32, resumed: bool },
    /// Nothing to send: already sent, or the reservation no longer needs it.
    NotNeeded,
    /// Another live worker is sending it right now.
    Busy,
}

/// How long a lease holds.
#[derive(Debug, Clone, Copy)]
pub struct Lease {
    /// A holder whose worker has not heartbeated for this long is dead.
    pub stale_after: Duration,
    /// The longest one send may take; a lease older than this has lapsed whoever holds it.
    pub lease_for: Duration,
}

#[derive(sqlx::FromRow)]
struct LeaseRow {
    status: ReservationStatus,
    sent: bool,
    generation: i32,
    holder: Option<String>,
    /// `None` when there is no holder.
    holder_alive: Option<bool>,
}

/// Takes the lease on `email` of a reservation for `holder`, in the caller's transaction (the
/// reservation row stays locked until it ends, so a token issued in the same transaction and the
/// lease go together).
pub async fn claim(
    conn: &mut PgConnection,
    reservation_id: Uuid,
    email: Email,
    holder: &str,
    lease: Lease,
) -> Result<Claim, sqlx::Error> {
    let row: Option<LeaseRow> = sqlx::query_as(
        "SELECT r.status,
                CASE WHEN $2 THEN r.ticket_sent_generation >= r.ticket_generation
                     ELSE r.confirmation_sent_at IS NOT NULL END AS sent,
                CASE WHEN $2 THEN r.ticket_generation ELSE 1 END AS generation,
                h.holder,
                h.started_at > now() - make_interval(secs => $4)
                AND EXISTS (SELECT 1 FROM apalis.workers w
                             WHERE w.id = h.holder
                               AND w.last_seen > now() - make_interval(secs => $3)) AS holder_alive
           FROM reservations r,
                LATERAL (SELECT CASE WHEN $2 THEN r.ticket_send_by
                                     ELSE r.confirmation_send_by END AS holder,
                                CASE WHEN $2 THEN r.ticket_send_started_at
                                     ELSE r.confirmation_send_started_at END AS started_at) h
          WHERE r.id = $1
          FOR UPDATE OF r",
    )
    .bind(reservation_id)
    .bind(email == Email::Ticket)
    .bind(lease.stale_after.as_secs_f64())
    .bind(lease.lease_for.as_secs_f64())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Claim::NotNeeded);
    };
    let wanted_status = match email {
        Email::Confirmation => ReservationStatus::Pending,
        Email::Ticket => ReservationStatus::Confirmed,
    };
    if row.sent || row.status != wanted_status {
        return Ok(Claim::NotNeeded);
    }
    let resumed = match row.holder.as_deref() {
        None => false,
        Some(h) if h == holder => true,
        Some(_) if row.holder_alive == Some(true) => return Ok(Claim::Busy),
        Some(_) => true,
    };
    sqlx::query(
        "UPDATE reservations
            SET confirmation_send_by = CASE WHEN $2 THEN confirmation_send_by ELSE $3 END,
                confirmation_send_started_at = CASE WHEN $2 THEN confirmation_send_started_at ELSE now() END,
                ticket_send_by = CASE WHEN $2 THEN $3 ELSE ticket_send_by END,
                ticket_send_started_at = CASE WHEN $2 THEN now() ELSE ticket_send_started_at END
          WHERE id = $1",
    )
    .bind(reservation_id)
    .bind(email == Email::Ticket)
    .bind(holder)
    .execute(&mut *conn)
    .await?;
    Ok(Claim::Send {
        generation: row.generation,
        resumed,
    })
}

/// Records that `holder` sent `email` carrying `generation`, and frees its lease. Returns false
/// when the e-mail was superseded meanwhile (a ticket re-sent by staff): it is not the sent one.
pub async fn record_sent(
    conn: &mut PgConnection,
    reservation_id: Uuid,
    email: Email,
    holder: &str,
    generation: i32,
) -> Result<bool, sqlx::Error> {
    let current: Option<bool> = match email {
        Email::Confirmation => {
            sqlx::query_scalar(
                "UPDATE reservations
                    SET confirmation_sent_at = COALESCE(confirmation_sent_at, now()),
                        confirmation_send_by = NULLIF(confirmation_send_by, $2),
                        confirmation_send_started_at = CASE WHEN confirmation_send_by = $2
                            THEN NULL ELSE confirmation_send_started_at END
                  WHERE id = $1
              RETURNING true",
            )
            .bind(reservation_id)
            .bind(holder)
            .fetch_optional(conn)
            .await?
        }
        Email::Ticket => {
            sqlx::query_scalar(
                "UPDATE reservations
                    SET ticket_sent_generation = CASE WHEN ticket_generation = $3
                            THEN $3 ELSE ticket_sent_generation END,
                        ticket_sent_at = CASE WHEN ticket_generation = $3
                            THEN now() ELSE ticket_sent_at END,
                        ticket_send_by = NULLIF(ticket_send_by, $2),
                        ticket_send_started_at = CASE WHEN ticket_send_by = $2
                            THEN NULL ELSE ticket_send_started_at END
                  WHERE id = $1
              RETURNING ticket_generation = $3",
            )
            .bind(reservation_id)
            .bind(holder)
            .bind(generation)
            .fetch_optional(conn)
            .await?
        }
    };
    Ok(current.unwrap_or(false))
}

/// Frees `holder`'s lease after a failed send, so that the retry or another worker may send.
pub async fn release(
    conn: &mut PgConnection,
    reservation_id: Uuid,
    email: Email,
    holder: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE reservations
            SET confirmation_send_by = CASE WHEN $2 THEN confirmation_send_by
                                            ELSE NULLIF(confirmation_send_by, $3) END,
                ticket_send_by = CASE WHEN $2 THEN NULLIF(ticket_send_by, $3)
                                      ELSE ticket_send_by END
          WHERE id = $1",
    )
    .bind(reservation_id)
    .bind(email == Email::Ticket)
    .bind(holder)
    .execute(conn)
    .await?;
    Ok(())
}
