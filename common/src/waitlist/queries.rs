//! The waiting list's SQL, one function per statement; callers own the transaction.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use super::{WaitlistError, WaitlistStatus, WaitlistTokenPurpose, parse_token};
use crate::booking::NewReservation;
use crate::locale::Language;
use crate::token::RawToken;

/// Personal data goes when an entry leaves the line.
const ERASE: &str = "name = NULL, email = NULL, phone = NULL, notes = NULL,
                     personal_data_erased_at = COALESCE(personal_data_erased_at, now())";

/// Writes a pending entry.
pub(super) async fn insert_entry(
    conn: &mut PgConnection,
    performance_id: Uuid,
    new: &NewReservation,
    language: Language,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO waitlist_entries (id, performance_id, name, email, phone, notes, party_size,
                                       language)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(performance_id)
    .bind(&new.name)
    .bind(&new.email)
    .bind(&new.phone)
    .bind(&new.notes)
    .bind(new.party_size)
    .bind(language.code())
    .fetch_one(conn)
    .await
}

/// Creates a token for an entry and returns the raw value, which is never stored.
pub async fn insert_token(
    conn: &mut PgConnection,
    entry_id: Uuid,
    purpose: WaitlistTokenPurpose,
    ttl: Option<Duration>,
) -> Result<RawToken, sqlx::Error> {
    let raw = RawToken::generate();
    sqlx::query(
        "INSERT INTO waitlist_tokens (id, entry_id, purpose, token_hash, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
    )
    .bind(Uuid::new_v4())
    .bind(entry_id)
    .bind(purpose)
    .bind(raw.hash().as_bytes())
    .bind(ttl.map(|d| d.as_secs_f64()))
    .execute(conn)
    .await?;
    Ok(raw)
}

/// A presented token with what its entry's endpoints need before the lock.
#[derive(FromRow)]
pub(super) struct PresentedToken {
    pub id: Uuid,
    pub entry_id: Uuid,
    pub expired: bool,
    pub performance_id: Uuid,
    pub status: WaitlistStatus,
}

/// Finds a live (not revoked) token of `purpose`; anything else is an invalid token.
pub(super) async fn find_token(
    conn: &mut PgConnection,
    presented: &str,
    purpose: WaitlistTokenPurpose,
) -> Result<PresentedToken, WaitlistError> {
    let hash = parse_token(presented)?;
    let token: Option<PresentedToken> = sqlx::query_as(
        "SELECT t.id, t.entry_id, COALESCE(t.expires_at <= now(), false) AS expired,
                e.performance_id, e.status
           FROM waitlist_tokens t JOIN waitlist_entries e ON e.id = t.entry_id
          WHERE t.token_hash = $1 AND t.purpose = $2 AND t.revoked_at IS NULL",
    )
    .bind(hash.as_bytes())
    .bind(purpose)
    .fetch_optional(conn)
    .await?;
    token.ok_or(WaitlistError::InvalidToken)
}

/// Records that a token did its job.
pub(super) async fn mark_token_used(
    conn: &mut PgConnection,
    token_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE waitlist_tokens SET used_at = now() WHERE id = $1 AND used_at IS NULL")
        .bind(token_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A pending entry takes its place in line; false if it was not pending.
pub(super) async fn mark_waiting(
    conn: &mut PgConnection,
    entry_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE waitlist_entries SET status = 'waiting', joined_at = now()
          WHERE id = $1 AND status = 'pending'",
    )
    .bind(entry_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An entry's status and, while it waits, its position (1 is next).
pub(super) async fn entry_place(
    conn: &mut PgConnection,
    entry_id: Uuid,
) -> Result<(WaitlistStatus, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT me.status,
                (SELECT count(*) FROM waitlist_entries o
                  WHERE o.performance_id = me.performance_id AND o.status = 'waiting'
                    AND (o.joined_at, o.id) <= (me.joined_at, me.id))
           FROM waitlist_entries me WHERE me.id = $1",
    )
    .bind(entry_id)
    .fetch_one(conn)
    .await
}

/// The performance of an entry.
pub async fn entry_performance(
    conn: &mut PgConnection,
    entry_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT performance_id FROM waitlist_entries WHERE id = $1")
        .bind(entry_id)
        .fetch_optional(conn)
        .await
}

/// Locks an entry; returns its status and performance.
pub(super) async fn lock_entry(
    conn: &mut PgConnection,
    entry_id: Uuid,
) -> Result<(WaitlistStatus, Uuid), sqlx::Error> {
    sqlx::query_as("SELECT status, performance_id FROM waitlist_entries WHERE id = $1 FOR UPDATE")
        .bind(entry_id)
        .fetch_one(conn)
        .await
}

/// Takes entries out of the line as `status` (left, removed, expired), erasing their personal
/// data. Confirm and claim tokens are revoked, except an expired offer's claim token (its link
/// answers that the offer expired); leave tokens stay, so that leaving again answers `left`.
pub(super) async fn mark_finished(
    conn: &mut PgConnection,
    entry_ids: &[Uuid],
    finished: WaitlistStatus,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH revoked AS (UPDATE waitlist_tokens SET revoked_at = now()
                           WHERE entry_id = ANY($1) AND revoked_at IS NULL
                             AND (purpose = 'confirm' OR (purpose = 'claim' AND $2 <> 'expired')))
         UPDATE waitlist_entries SET status = $2, finished_at = now(), {ERASE}
          WHERE id = ANY($1)"
    )))
    .bind(entry_ids)
    .bind(finished)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// An entry as a claim sees it, locked.
#[derive(FromRow)]
pub(super) struct Offer {
    pub status: WaitlistStatus,
    pub party_size: i32,
    pub lapsed: bool,
    pub reservation_id: Option<Uuid>,
}

pub(super) async fn lock_offer(
    conn: &mut PgConnection,
    entry_id: Uuid,
) -> Result<Offer, sqlx::Error> {
    sqlx::query_as(
        "SELECT status, party_size, COALESCE(offer_expires_at <= now(), false) AS lapsed,
                reservation_id
           FROM waitlist_entries WHERE id = $1 FOR UPDATE",
    )
    .bind(entry_id)
    .fetch_one(conn)
    .await
}

/// A confirmed reservation for a claimed offer, with the entry's personal data.
pub(super) async fn insert_claimed_reservation(
    conn: &mut PgConnection,
    entry_id: Uuid,
    party_size: i32,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO reservations (id, performance_id, name, email, phone, notes, party_size,
                                   status, confirmed_at, language)
         SELECT $2, performance_id, name, email, phone, notes, $3, 'confirmed', now(), language
           FROM waitlist_entries WHERE id = $1
      RETURNING id",
    )
    .bind(entry_id)
    .bind(Uuid::new_v4())
    .bind(party_size)
    .fetch_one(conn)
    .await
}

/// The entry became `reservation_id`: out of the line, its personal data now lives there.
pub(super) async fn mark_claimed(
    conn: &mut PgConnection,
    entry_id: Uuid,
    reservation_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE waitlist_entries
            SET status = 'claimed', finished_at = now(), reservation_id = $2, {ERASE}
          WHERE id = $1"
    )))
    .bind(entry_id)
    .bind(reservation_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether any confirmed entry waits for this performance.
pub(super) async fn anyone_waiting(
    conn: &mut PgConnection,
    performance_id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM waitlist_entries
                         WHERE performance_id = $1 AND status = 'waiting')",
    )
    .bind(performance_id)
    .fetch_one(conn)
    .await
}

/// Performances in a room that have someone waiting, in id order.
pub(super) async fn performances_waiting_in_room(
    conn: &mut PgConnection,
    room_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT p.id FROM performances p JOIN waitlist_entries e ON e.performance_id = p.id
          WHERE p.room_id = $1 AND e.status = 'waiting' ORDER BY p.id",
    )
    .bind(room_id)
    .fetch_all(conn)
    .await
}

/// Waiting entries in order of joining: `(id, party_size)`.
pub(super) async fn waiting_line(
    conn: &mut PgConnection,
    performance_id: Uuid,
) -> Result<Vec<(Uuid, i32)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, party_size FROM waitlist_entries
          WHERE performance_id = $1 AND status = 'waiting'
          ORDER BY joined_at, id",
    )
    .bind(performance_id)
    .fetch_all(conn)
    .await
}

/// Offers seats to `entry_ids` until now + `hold`, never past the start; returns that expiry
/// (`None` when there was nobody to offer to).
pub(super) async fn mark_offered(
    conn: &mut PgConnection,
    entry_ids: &[Uuid],
    hold: Duration,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    if entry_ids.is_empty() {
        return Ok(None);
    }
    sqlx::query_scalar(
        "UPDATE waitlist_entries e
            SET status = 'offered', offered_at = now(),
                offer_expires_at = LEAST(now() + make_interval(secs => $2), p.starts_at)
           FROM performances p
          WHERE p.id = e.performance_id AND e.id = ANY($1) AND e.status = 'waiting'
      RETURNING e.offer_expires_at",
    )
    .bind(entry_ids)
    .bind(hold.as_secs_f64())
    .fetch_all(conn)
    .await
    .map(|expiries| expiries.into_iter().max())
}

/// Ends the lapsed offers of a performance; returns how many.
pub(super) async fn expire_lapsed_offers(
    conn: &mut PgConnection,
    performance_id: Uuid,
) -> Result<u64, sqlx::Error> {
    let lapsed: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM waitlist_entries
          WHERE performance_id = $1 AND status = 'offered' AND offer_expires_at <= now()
          FOR UPDATE",
    )
    .bind(performance_id)
    .fetch_all(&mut *conn)
    .await?;
    mark_finished(conn, &lapsed, WaitlistStatus::Expired).await
}

/// Performances with an offer that lapsed a few seconds ago and is still open.
pub(super) async fn performances_with_lapsed_offers(
    conn: &mut PgConnection,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT performance_id FROM waitlist_entries
          WHERE status = 'offered' AND offer_expires_at <= now() - interval '5 seconds'",
    )
    .fetch_all(conn)
    .await
}

/// Counts by status, for the public page (`waiting`) and staff.
#[derive(Debug, Clone, Copy, Default, Serialize, FromRow)]
pub struct WaitlistCounts {
    pub pending: i64,
    pub waiting: i64,
    pub offered: i64,
}

pub async fn count_entries(
    conn: &mut PgConnection,
    performance_id: Uuid,
) -> Result<WaitlistCounts, sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
                count(*) FILTER (WHERE status = 'waiting') AS waiting,
                count(*) FILTER (WHERE status = 'offered' AND offer_expires_at > now()) AS offered
           FROM waitlist_entries WHERE performance_id = $1",
    )
    .bind(performance_id)
    .fetch_one(conn)
    .await
}

/// An entry as staff allowed to see personal data see it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Entry {
    pub id: Uuid,
    /// Place in line while waiting (1 is next).
    pub position: Option<i64>,
    pub party_size: i32,
    pub status: WaitlistStatus,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub joined_at: Option<DateTime<Utc>>,
    pub offer_expires_at: Option<DateTime<Utc>>,
    pub reservation_id: Option<Uuid>,
}

/// A performance's entries: the line first (offered, then waiting in order), then the rest.
pub async fn list_entries(
    conn: &mut PgConnection,
    performance_id: Uuid,
) -> Result<Vec<Entry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id,
                CASE WHEN status = 'waiting' THEN
                    row_number() OVER (PARTITION BY status = 'waiting' ORDER BY joined_at, id)
                END AS position,
                party_size, status, name, email, phone, notes, created_at, joined_at,
                offer_expires_at, reservation_id
           FROM waitlist_entries WHERE performance_id = $1
          ORDER BY CASE status WHEN 'offered' THEN 0 WHEN 'waiting' THEN 1 WHEN 'pending' THEN 2
                   ELSE 3 END, joined_at, created_at, id",
    )
    .bind(performance_id)
    .fetch_all(conn)
    .await
}

/// What a waiting-list e-mail needs to know of its entry.
#[derive(Debug, Clone, FromRow)]
pub struct Addressee {
    /// `None` once personal data has been erased.
    pub email: Option<String>,
    pub party_size: i32,
    pub status: WaitlistStatus,
    pub offer_expires_at: Option<DateTime<Utc>>,
    pub offer_live: bool,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub room: String,
    language: String,
}

impl Addressee {
    /// The language the visitor joined in.
    pub fn language(&self) -> Language {
        Language::parse(&self.language).unwrap_or(Language::It)
    }
}

pub async fn find_addressee(
    conn: &mut PgConnection,
    entry_id: Uuid,
) -> Result<Option<Addressee>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.email, e.party_size, e.status, e.offer_expires_at,
                COALESCE(e.offer_expires_at > now(), false) AS offer_live,
                s.title, p.starts_at, rm.name AS room, e.language
           FROM waitlist_entries e
           JOIN performances p ON p.id = e.performance_id
           JOIN shows s ON s.id = p.show_id
           JOIN rooms rm ON rm.id = p.room_id
          WHERE e.id = $1",
    )
    .bind(entry_id)
    .fetch_optional(conn)
    .await
}

/// Housekeeping: expires pending entries whose confirmation link has lapsed (or whose e-mail
/// could not be sent for `give_up`), erasing their personal data. Returns how many.
pub async fn expire_pending_entries(
    conn: &mut PgConnection,
    confirmation_ttl: Duration,
    give_up: Duration,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE waitlist_entries e SET status = 'expired', finished_at = now(), {ERASE}
          WHERE e.status = 'pending' AND e.created_at < now() - make_interval(secs => $1)
            AND (e.confirmation_sent_at IS NOT NULL OR e.created_at < now() - make_interval(secs => $2))
            AND NOT EXISTS (SELECT 1 FROM waitlist_tokens t
                             WHERE t.entry_id = e.id AND t.purpose = 'confirm' AND t.revoked_at IS NULL
                               AND (t.expires_at IS NULL OR t.expires_at > now()))"
    )))
    .bind(confirmation_ttl.as_secs_f64())
    .bind(give_up.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Housekeeping: erases personal data of entries whose performance was more than `retention`
/// ago, as for reservations.
pub async fn erase_personal_data(
    conn: &mut PgConnection,
    retention: Duration,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE waitlist_entries e SET {ERASE}
           FROM performances p
          WHERE p.id = e.performance_id AND e.personal_data_erased_at IS NULL
            AND p.starts_at < now() - make_interval(secs => $1)"
    )))
    .bind(retention.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
