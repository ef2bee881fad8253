//! Check-in: door staff scan a ticket (or type its short code). One statement locks the
//! reservation row and checks the ticket in, so of any number of concurrent scans of one ticket
//! exactly one succeeds; a scanner retrying the same attempt (same nonce) gets the original
//! answer back instead of "already checked in".

use crate::booking::ReservationStatus;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::audit::AuditAction;
use crate::auth::Actor;
use crate::short_code::ShortCode;
use crate::token::{TokenHash, TokenPurpose};

/// A successful check-in: only what the door needs.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CheckedIn {
    pub result: String,
    pub party_size: i32,
    pub performance: PerformanceRef,
    pub checked_in_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PerformanceRef {
    pub id: Uuid,
    pub title: String,
    pub starts_at: DateTime<Utc>,
}

/// Why a ticket was not let in; each variant is one of the contract's answers.
#[derive(Debug, thiserror::Error)]
pub enum CheckinError {
    #[error("unknown ticket")]
    UnknownTicket,
    #[error("this ticket is for another performance")]
    WrongPerformance,
    #[error("outside the check-in window of this performance")]
    OutsideCheckinWindow,
    #[error("the reservation is cancelled or not confirmed")]
    NotValid,
    #[error("this ticket was already checked in")]
    AlreadyCheckedIn { checked_in_at: DateTime<Utc> },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A check-in request after parsing.
pub struct CheckinRequest<'a> {
    /// The raw ticket token (already cut out of a scanned URL).
    pub token: &'a str,
    pub performance_id: Option<Uuid>,
    pub nonce: Option<&'a str>,
    /// Who scans: recorded on the reservation, and the scope of nonces.
    pub actor: Actor,
}

#[derive(FromRow)]
struct CheckinRow {
    reservation_id: Uuid,
    revoked: bool,
    status: ReservationStatus,
    party_size: i32,
    checked_in_at: Option<DateTime<Utc>>,
    performance_id: Uuid,
    title: String,
    starts_at: DateTime<Utc>,
    in_window: bool,
    /// Set when this statement checked the ticket in.
    checked_in_now: Option<DateTime<Utc>>,
}

/// Checks a ticket in, in one statement (one round trip, its own transaction; run it outside a
/// transaction of the caller's): it finds the ticket and locks its reservation (concurrent
/// scans of one ticket queue there, and each sees the one before it committed), checks it in
/// when everything allows, and writes the audit entry (by `actor`) and the nonce's saved
/// answer with it.
pub async fn check_in(
    conn: &mut PgConnection,
    req: CheckinRequest<'_>,
    actor: &str,
) -> Result<CheckedIn, CheckinError> {
    // The ticket token, or else the short code typed at the door: one lookup, same semantics.
    let (hash, purpose) = match TokenHash::parse(req.token) {
        Some(hash) => (hash, TokenPurpose::Ticket),
        None => ShortCode::parse(req.token)
            .map(|code| (code.hash(), TokenPurpose::ShortCode))
            .ok_or(CheckinError::UnknownTicket)?,
    };
    let (staff, key) = match req.actor {
        Actor::Staff(id) => (Some(id), None),
        Actor::ApiKey(id) => (None, Some(id)),
    };
    let r: CheckinRow = sqlx::query_as(
        "WITH found AS (
            SELECT t.reservation_id, t.revoked_at IS NOT NULL AS revoked, r.status, r.party_size,
                   r.checked_in_at, p.id AS performance_id, s.title, p.starts_at,
                   now() BETWEEN p.starts_at - make_interval(mins => p.checkin_opens_minutes_before)
                             AND p.starts_at + make_interval(mins => p.checkin_closes_minutes_after)
                       AS in_window
              FROM reservation_tokens t
              JOIN reservations r ON r.id = t.reservation_id
              JOIN performances p ON p.id = r.performance_id
              JOIN shows s ON s.id = p.show_id
             WHERE t.token_hash = $1 AND t.purpose = $2
               FOR UPDATE OF r),
         done AS (
            UPDATE reservations r
               SET checked_in_at = now(), checked_in_by_staff = $4, checked_in_by_api_key = $5
              FROM found f
             WHERE r.id = f.reservation_id AND r.checked_in_at IS NULL
               AND ($3::uuid IS NULL OR f.performance_id = $3)
               AND NOT f.revoked AND f.status = 'confirmed' AND f.in_window
            RETURNING r.checked_in_at),
         audit AS (
            INSERT INTO audit_log (actor, action, subject_id, details)
            SELECT $6, $9, f.performance_id, jsonb_build_object('party_size', f.party_size)
              FROM found f, done),
         saved AS (
            INSERT INTO checkin_nonces (principal, nonce, reservation_id, response)
            SELECT $7, $8, f.reservation_id,
                   jsonb_build_object('result', 'checked_in', 'party_size', f.party_size,
                       'performance', jsonb_build_object('id', f.performance_id, 'title', f.title,
                                                         'starts_at', f.starts_at),
                       'checked_in_at', d.checked_in_at)
              FROM found f, done d
             WHERE $8::text IS NOT NULL
            ON CONFLICT DO NOTHING)
         SELECT f.*, d.checked_in_at AS checked_in_now FROM found f LEFT JOIN done d ON true",
    )
    .bind(hash.as_bytes())
    .bind(purpose)
    .bind(req.performance_id)
    .bind(staff)
    .bind(key)
    .bind(actor)
    .bind(req.actor.label())
    .bind(req.nonce)
    .bind(AuditAction::Checkin.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(CheckinError::UnknownTicket)?;
    if let Some(checked_in_at) = r.checked_in_now {
        return Ok(CheckedIn {
            result: "checked_in".to_owned(),
            party_size: r.party_size,
            performance: PerformanceRef {
                id: r.performance_id,
                title: r.title,
                starts_at: r.starts_at,
            },
            checked_in_at,
        });
    }
    // A retry of an attempt that already succeeded replays its answer. Read after the
    // statement above, which waited for any concurrent attempt to commit.
    if let Some(nonce) = req.nonce
        && r.checked_in_at.is_some()
        && let Some(saved) = find_nonce(conn, req.actor, nonce, r.reservation_id).await?
    {
        return Ok(saved);
    }
    if req.performance_id.is_some_and(|id| id != r.performance_id) {
        return Err(CheckinError::WrongPerformance);
    }
    if r.revoked || r.status != ReservationStatus::Confirmed {
        return Err(CheckinError::NotValid);
    }
    if let Some(checked_in_at) = r.checked_in_at {
        return Err(CheckinError::AlreadyCheckedIn { checked_in_at });
    }
    if !r.in_window {
        return Err(CheckinError::OutsideCheckinWindow);
    }
    Err(CheckinError::NotValid)
}

async fn find_nonce(
    conn: &mut PgConnection,
    actor: Actor,
    nonce: &str,
    reservation_id: Uuid,
) -> Result<Option<CheckedIn>, sqlx::Error> {
    let saved: Option<Value> = sqlx::query_scalar(
        "SELECT response FROM checkin_nonces WHERE principal = $1 AND nonce = $2 AND reservation_id = $3",
    )
    .bind(actor.label())
    .bind(nonce)
    .bind(reservation_id)
    .fetch_optional(conn)
    .await?;
    Ok(saved.and_then(|v| serde_json::from_value(v).ok()))
}

/// Confirmed and checked-in people of a performance, for the door page.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct DoorCounts {
    pub confirmed_people: i64,
    pub checked_in_people: i64,
}

/// Counts for the door page.
pub async fn door_counts(
    conn: &mut PgConnection,
    performance_id: Uuid,
) -> Result<DoorCounts, sqlx::Error> {
    sqlx::query_as(
        "SELECT COALESCE(sum(party_size) FILTER (WHERE status = 'confirmed'), 0)::bigint AS confirmed_people,
                COALESCE(sum(party_size) FILTER (WHERE status = 'confirmed' AND checked_in_at IS NOT NULL), 0)::bigint
                    AS checked_in_people
           FROM reservations WHERE performance_id = $1",
    )
    .bind(performance_id)
    .fetch_one(conn)
    .await
}
