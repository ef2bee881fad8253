//! Delivery of a reservation's (and a waiting-list entry's) e-mails, at least once and as nearly
//! exactly once as SMTP allows.
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
//!
//! The lease is taken in one statement, which for a reservation's e-mails also reads what the
//! e-mail shows (its [`Recipient`]) and issues the tokens it carries ([`Issue`]), so a send
//! costs one round trip before the e-mail is built, with no transaction around it.

use std::time::Duration;

use crate::jobs::HeldJob;
use crate::tickets::{RECIPIENT_COLUMNS, RECIPIENT_JOINS, Recipient};
use crate::token::{TokenHash, TokenPurpose};
use sqlx::{FromRow, PgConnection};
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
    /// True (over the row `r`) when the personal data the e-mail needs is still there.
    addressable: &'static str,
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
        // The visitor's free-text name stays out of the confirmation e-mails (anyone can book
        // in any address's name): they need the address only.
        const EMAIL: &str = "r.email IS NOT NULL";
        const EMAIL_AND_NAME: &str = "r.email IS NOT NULL AND r.name IS NOT NULL";
        let once = |table, wanted_status, send_by, started_at, addressable, sent_at| Shape {
            table,
            wanted_status,
            send_by,
            started_at,
            addressable,
            record: Record::Once(sent_at),
        };
        match self {
            Email::Confirmation => once(
                "reservations",
                "pending",
                "confirmation_send_by",
                "confirmation_send_started_at",
                EMAIL,
                "confirmation_sent_at",
            ),
            Email::Ticket => Shape {
                table: "reservations",
                wanted_status: "confirmed",
                send_by: "ticket_send_by",
                started_at: "ticket_send_started_at",
                addressable: EMAIL_AND_NAME,
                record: Record::Generations,
            },
            Email::Reminder => once(
                "reservations",
                "confirmed",
                "reminder_send_by",
                "reminder_send_started_at",
                EMAIL_AND_NAME,
                "reminder_sent_at",
            ),
            Email::WaitlistConfirmation => once(
                "waitlist_entries",
                "pending",
                "confirmation_send_by",
                "confirmation_send_started_at",
                EMAIL,
                "confirmation_sent_at",
            ),
            Email::WaitlistOffer => once(
                "waitlist_entries",
                "offered",
                "offer_send_by",
                "offer_send_started_at",
                EMAIL,
                "offer_sent_at",
            ),
        }
    }
}

impl Shape {
    /// `(columns, joins)` that read the [`Recipient`] along with the lease: a reservation's
    /// e-mails only (a waiting-list entry's job reads its addressee itself).
    fn recipient(&self) -> Option<(&'static str, &'static str)> {
        (self.table == "reservations").then_some((RECIPIENT_COLUMNS, RECIPIENT_JOINS))
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
#[derive(Debug, Clone)]
pub enum Claim {
    /// Send it, carrying `generation`. `resumed` is true when an earlier holder started this
    /// send and never recorded its outcome: this send may be a duplicate. `recipient` is what a
    /// reservation's e-mail shows, read under the lease (`None` for a waiting-list entry's).
    Send {
        generation: i32,
        resumed: bool,
        recipient: Option<Box<Recipient>>,
    },
    /// Nothing to send: already sent, or the reservation (entry) no longer needs it.
    NotNeeded,
    /// The personal data has been erased: there is no one to send it to.
    Erased,
    /// No such reservation (entry).
    Gone,
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

#[derive(FromRow)]
struct LeaseRow {
    /// Whether the row has the status its e-mail needs.
    wanted: bool,
    sent: bool,
    /// Whether the personal data the e-mail needs is still there.
    addressable: bool,
    generation: i32,
    holder: Option<String>,
    /// `None` when there is no holder.
    holder_alive: Option<bool>,
}

/// Tokens that the lease's statement issues for a reservation's e-mail, only when it takes the
/// lease: the tokens and the lease commit together, under the reservation's row lock (a
/// cancellation that follows revokes them too), in the one round trip.
#[derive(Default)]
pub struct Issue {
    /// The reservation's live tokens of these purposes are revoked first (a new ticket).
    pub revoke: Vec<TokenPurpose>,
    pub tokens: Vec<NewToken>,
}

/// One token to issue: what it is for, its hash (the raw token goes in the e-mail) and when it
/// expires.
pub struct NewToken {
    pub purpose: TokenPurpose,
    pub hash: TokenHash,
    pub expires: Expires,
}

/// When an issued token expires.
#[derive(Debug, Clone, Copy)]
pub enum Expires {
    Never,
    After(Duration),
    /// When the performance's check-in window closes: a ticket's life.
    WhenCheckinCloses,
}

/// Takes the lease on `email` of a reservation (or waiting-list entry) for `holder`, and for a
/// reservation's e-mail reads what it shows and issues `issue`'s tokens, in one statement. Run
/// it in a transaction of the caller's when the e-mail's own statements must commit with the
/// lease (the row stays locked until it ends).
pub async fn claim(
    conn: &mut PgConnection,
    id: Uuid,
    email: Email,
    holder: &str,
    lease: Lease,
    issue: Option<&Issue>,
) -> Result<Claim, sqlx::Error> {
    let shape = email.shape();
    let reads_recipient = shape.recipient();
    // The tokens' expiry reads the recipient's `checkin_closes_at`: reservations only (a
    // waiting-list entry's e-mail issues its own tokens in the caller's transaction).
    if issue.is_some() && reads_recipient.is_none() {
        return Err(sqlx::Error::InvalidArgument(format!(
            "{email:?}: only a reservation's e-mail issues tokens with its lease"
        )));
    }
    let issued = if issue.is_some() {
        ",
         revoked AS (
            UPDATE reservation_tokens SET revoked_at = now()
             WHERE reservation_id IN (SELECT id FROM taken) AND purpose = ANY($5)
               AND revoked_at IS NULL),
         issued AS (
            INSERT INTO reservation_tokens (id, reservation_id, purpose, token_hash, expires_at)
            SELECT gen_random_uuid(), taken.id, n.purpose, n.token_hash,
                   CASE WHEN n.until_checkin_closes THEN cur.checkin_closes_at
                        ELSE now() + make_interval(secs => n.valid_secs) END
              FROM taken, cur,
                   unnest($6::text[], $7::bytea[], $8::bool[], $9::float8[])
                       AS n(purpose, token_hash, until_checkin_closes, valid_secs))"
    } else {
        ""
    };
    let (recipient_columns, recipient_joins) = reads_recipient
        .map(|(columns, joins)| (format!(", {columns}"), joins))
        .unwrap_or_default();
    let Shape {
        table,
        wanted_status,
        send_by,
        started_at,
        addressable,
        record,
    } = shape;
    let (sent, generation) = record.state();
    // `taken` takes the lease exactly when the checks below end in `Claim::Send`.
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH cur AS (
            SELECT r.id, r.status = '{wanted_status}' AS wanted, {sent} AS sent,
                   {addressable} AS addressable, {generation} AS generation,
                   r.{send_by} AS holder,
                   r.{started_at} > now() - make_interval(secs => $3)
                   AND EXISTS (SELECT 1 FROM apalis.workers w
                                WHERE w.id = r.{send_by}
                                  AND w.last_seen > now() - make_interval(secs => $2)) AS holder_alive
                   {recipient_columns}
              FROM {table} r
                   {recipient_joins}
             WHERE r.id = $1
               FOR UPDATE OF r),
         taken AS (
            UPDATE {table} t SET {send_by} = $4, {started_at} = now()
              FROM cur
             WHERE t.id = cur.id AND cur.wanted AND NOT cur.sent AND cur.addressable
               AND (cur.holder IS NULL OR cur.holder = $4 OR cur.holder_alive IS NOT TRUE)
            RETURNING t.id){issued}
         SELECT * FROM cur"
    )))
    .bind(id)
    .bind(lease.stale_after.as_secs_f64())
    .bind(lease.lease_for.as_secs_f64())
    .bind(holder);
    let row = match issue {
        Some(issue) => {
            let tokens = &issue.tokens;
            row.bind(&issue.revoke)
                .bind(tokens.iter().map(|t| t.purpose).collect::<Vec<_>>())
                .bind(
                    tokens
                        .iter()
                        .map(|t| t.hash.as_bytes().to_vec())
                        .collect::<Vec<_>>(),
                )
                .bind(
                    tokens
                        .iter()
                        .map(|t| matches!(t.expires, Expires::WhenCheckinCloses))
                        .collect::<Vec<_>>(),
                )
                .bind(
                    tokens
                        .iter()
                        .map(|t| match t.expires {
                            Expires::After(d) => Some(d.as_secs_f64()),
                            Expires::Never | Expires::WhenCheckinCloses => None,
                        })
                        .collect::<Vec<_>>(),
                )
        }
        None => row,
    }
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Claim::Gone);
    };
    let lease_row = LeaseRow::from_row(&row)?;
    if lease_row.sent || !lease_row.wanted {
        return Ok(Claim::NotNeeded);
    }
    if !lease_row.addressable {
        return Ok(Claim::Erased);
    }
    let resumed = match lease_row.holder.as_deref() {
        None => false,
        Some(h) if h == holder => true,
        Some(_) if lease_row.holder_alive == Some(true) => return Ok(Claim::Busy),
        Some(_) => true,
    };
    let recipient = match reads_recipient {
        Some(_) => Some(Box::new(Recipient::from_row(&row)?)),
        None => None,
    };
    Ok(Claim::Send {
        generation: lease_row.generation,
        resumed,
        recipient,
    })
}

/// Records that `job`'s worker sent `email` carrying `generation`, frees its lease and ends the
/// job (`Done`, as [`crate::jobs::end_job`] records it), in one statement. Returns false when
/// the e-mail was superseded meanwhile (a ticket re-sent by staff): it is not the sent one.
///
/// The job ends only while its worker still holds it, and is then noted as ended (`job`), so
/// that the worker writes nothing more: the e-mail's record and its job's end commit together,
/// one transaction per e-mail instead of two.
pub async fn record_sent(
    conn: &mut PgConnection,
    id: Uuid,
    email: Email,
    job: &HeldJob,
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
    let recorded: Option<(bool, bool)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH sent AS (
            UPDATE {table}
               SET {record},
                   {send_by} = NULLIF({send_by}, $2),
                   {started_at} = CASE WHEN {send_by} = $2 THEN NULL ELSE {started_at} END
             WHERE id = $1
         RETURNING {current} AS current),
         finished AS (
            UPDATE apalis.jobs
               SET status = 'Done', attempts = $5, last_result = '{{\"Ok\": null}}',
                   done_at = now()
             WHERE id = $4 AND lock_by = $2 AND status IN ('Queued', 'Running')
         RETURNING id)
         SELECT current, EXISTS (SELECT 1 FROM finished) AS ended FROM sent"
    )))
    .bind(id)
    .bind(&job.worker)
    .bind(generation)
    .bind(&job.id)
    .bind(job.attempt)
    .fetch_optional(conn)
    .await?;
    let (current, ended) = recorded.unwrap_or((false, false));
    if ended {
        job.note_ended();
    }
    Ok(current)
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
