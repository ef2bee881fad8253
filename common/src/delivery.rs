//! Delivery of a reservation's (and a waiting-list entry's) e-mails, at least once and as nearly exactly once as SMTP allows.
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

use sqlx::PgConnection;
use uuid::Uuid;

/// Which e-mail of a reservation or of a waiting-list entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Email {
    /// The link that confirms a pending reservation.
    Confirmation,
    /// The QR ticket of a confirmed reservation.
    Ticket,
    /// The reminder of a confirmed reservation, shortly before its performance.
    Reminder,
    /// The link that confirms a place on the waiting list.
    WaitlistConfirmation,
    /// A waiting-list offer with its claim link.
    WaitlistOffer,
}

/// Where an e-mail's lease and record live: static table and column names, never input.
struct Shape {
    table: &'static str,
    /// The status the row must have for the e-mail to be needed.
    wanted_status: &'static str,
    send_by: &'static str,
    started_at: &'static str,
    record: Record,
}

/// How a send is recorded.
enum Record {
    /// Once: a timestamp column.
    Once(&'static str),
    /// The ticket's generations (see the module's documentation).
    Generations,
}

impl Email {
    fn shape(self) -> Shape {
        let once = |table, wanted_status, send_by, started_at, sent_at| Shape {
            table,
            wanted_status,
            send_by,
            started_at,
            record: Record::Once(sent_at),
        };
        match self {
            Email::Confirmation => once(
                "reservations",
                "pending",
                "confirmation_send_by",
                "confirmation_send_started_at",
                "confirmation_sent_at",
            ),
            Email::Ticket => Shape {
                table: "reservations",
                wanted_status: "confirmed",
                send_by: "ticket_send_by",
                started_at: "ticket_send_started_at",
                record: Record::Generations,
            },
            Email::Reminder => once(
                "reservations",
                "confirmed",
                "reminder_send_by",
                "reminder_send_started_at",
                "reminder_sent_at",
            ),
            Email::WaitlistConfirmation => once(
                "waitlist_entries",
                "pending",
                "confirmation_send_by",
                "confirmation_send_started_at",
                "confirmation_sent_at",
            ),
            Email::WaitlistOffer => once(
                "waitlist_entries",
                "offered",
                "offer_send_by",
                "offer_send_started_at",
                "offer_sent_at",
            ),
        }
    }
}

impl Record {
    /// `(sent, generation)` as expressions over the row `r`.
    fn state(&self) -> (String, &'static str) {
        match self {
            Record::Once(sent_at) => (format!("r.{sent_at} IS NOT NULL"), "1"),
            Record::Generations => (
                "r.ticket_sent_generation >= r.ticket_generation".to_owned(),
                "r.ticket_generation",
            ),
        }
    }

    /// `(SET items, RETURNING expression)` that record a send of generation `$3`.
    fn update(&self) -> (String, &'static str) {
        match self {
            Record::Once(sent_at) => (
                format!("{sent_at} = COALESCE({sent_at}, now())"),
                "$3::integer IS NOT NULL",
            ),
            Record::Generations => (
                "ticket_sent_generation = CASE WHEN ticket_generation = $3
                     THEN $3 ELSE ticket_sent_generation END,
                 ticket_sent_at = CASE WHEN ticket_generation = $3
                     THEN now() ELSE ticket_sent_at END"
                    .to_owned(),
                "ticket_generation = $3",
            ),
        }
    }
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
    /// Whether the row has the status its e-mail needs.
    wanted: bool,
    sent: bool,
    generation: i32,
    holder: Option<String>,
    /// `None` when there is no holder.
    holder_alive: Option<bool>,
}

/// Takes the lease on `email` of a reservation (or waiting-list entry) for `holder`, in the
/// caller's transaction (the row stays locked until it ends, so a token issued in the same
/// transaction and the lease go together).
pub async fn claim(
    conn: &mut PgConnection,
    id: Uuid,
    email: Email,
    holder: &str,
    lease: Lease,
) -> Result<Claim, sqlx::Error> {
    let Shape {
        table,
        wanted_status,
        send_by,
        started_at,
        record,
    } = email.shape();
    let (sent, generation) = record.state();
    let row: Option<LeaseRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.status = '{wanted_status}' AS wanted, {sent} AS sent, {generation} AS generation, r.{send_by} AS holder,
                r.{started_at} > now() - make_interval(secs => $3)
                AND EXISTS (SELECT 1 FROM apalis.workers w
                             WHERE w.id = r.{send_by}
                               AND w.last_seen > now() - make_interval(secs => $2)) AS holder_alive
           FROM {table} r
          WHERE r.id = $1
          FOR UPDATE OF r"
    )))
    .bind(id)
    .bind(lease.stale_after.as_secs_f64())
    .bind(lease.lease_for.as_secs_f64())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Claim::NotNeeded);
    };
    if row.sent || !row.wanted {
        return Ok(Claim::NotNeeded);
    }
    let resumed = match row.holder.as_deref() {
        None => false,
        Some(h) if h == holder => true,
        Some(_) if row.holder_alive == Some(true) => return Ok(Claim::Busy),
        Some(_) => true,
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {table} SET {send_by} = $2, {started_at} = now() WHERE id = $1"
    )))
    .bind(id)
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
    id: Uuid,
    email: Email,
    holder: &str,
    generation: i32,
) -> Result<bool, sqlx::Error> {
    let Shape {
        table,
        send_by,
        started_at,
        record,
        ..
    } = email.shape();
    let (record, current) = record.update();
    let current: Option<bool> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "UPDATE {table}
            SET {record},
                {send_by} = NULLIF({send_by}, $2),
                {started_at} = CASE WHEN {send_by} = $2 THEN NULL ELSE {started_at} END
          WHERE id = $1
      RETURNING {current}"
    )))
    .bind(id)
    .bind(holder)
    .bind(generation)
    .fetch_optional(conn)
    .await?;
    Ok(current.unwrap_or(false))
}

/// Frees `holder`'s lease after a failed send, so that the retry or another worker may send.
pub async fn release(
    conn: &mut PgConnection,
    id: Uuid,
    email: Email,
    holder: &str,
) -> Result<(), sqlx::Error> {
    let Shape { table, send_by, .. } = email.shape();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {table} SET {send_by} = NULLIF({send_by}, $2) WHERE id = $1"
    )))
    .bind(id)
    .bind(holder)
    .execute(conn)
    .await?;
    Ok(())
}
