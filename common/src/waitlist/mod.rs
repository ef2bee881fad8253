//! The waiting list: when a party does not fit an open performance, the visitor joins its line
//! (double opt-in, like booking). Whenever seats may have come free (a cancellation, staff
//! raising capacity, an offer that lapsed, was declined or claimed for fewer seats), the
//! transaction that freed them queues an `OfferSeats` job; the job locks the performance row,
//! recounts, and offers the free seats to the earliest waiting entries whose party fits (a
//! larger party keeps its place while a smaller one behind it is served). An offer holds its
//! seats for `WAITLIST_OFFER_MINUTES`, never past the start; claiming it confirms a reservation
//! in one locked transaction, exactly like a confirmation. Every change of held or confirmed
//! seats happens under the performance row lock, so nothing can oversell.
//!
//! An entry that leaves the line (claimed, left, removed, expired) loses its personal data at
//! once; the rest is erased with the reservations' retention.

pub mod queries;

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::booking::{self, EmailLimits, NewReservation};
use crate::catalogue::{self, BookingStatus};
use crate::jobs::{self, SendTicket, WaitlistJob};
use crate::locale::Language;
use crate::token::TokenHash;

pub use queries::{
    Addressee, Entry, WaitlistCounts, count_entries, entry_performance, find_addressee,
    insert_token, list_entries,
};

/// Attempts of the waiting list's jobs (the offer job only touches the database).
pub const JOB_ATTEMPTS: usize = 10;

/// What a waiting-list token may be used for; a token of one purpose never matches another,
/// and no reservation token is ever found here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum WaitlistTokenPurpose {
    /// The link in the joining e-mail.
    Confirm,
    /// The leave (or decline) link in every waiting-list e-mail.
    Leave,
    /// The claim link in an offer.
    Claim,
}

/// Where a waiting-list entry stands, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum WaitlistStatus {
    /// Joined, waiting for the e-mail link.
    Pending,
    /// In line.
    Waiting,
    /// Seats are held for it until `offer_expires_at`.
    Offered,
    /// It became a reservation.
    Claimed,
    Left,
    /// Removed by staff.
    Removed,
    /// Never confirmed, or its offer lapsed.
    Expired,
}

impl WaitlistStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitlistStatus::Pending => "pending",
            WaitlistStatus::Waiting => "waiting",
            WaitlistStatus::Offered => "offered",
            WaitlistStatus::Claimed => "claimed",
            WaitlistStatus::Left => "left",
            WaitlistStatus::Removed => "removed",
            WaitlistStatus::Expired => "expired",
        }
    }

    /// Still in line (or holding an offer): staff may remove it.
    pub fn in_line(self) -> bool {
        matches!(
            self,
            WaitlistStatus::Pending | WaitlistStatus::Waiting | WaitlistStatus::Offered
        )
    }
}

impl std::fmt::Display for WaitlistStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a waiting-list request did not happen; each variant is one of the contract's answers.
#[derive(Debug, thiserror::Error)]
pub enum WaitlistError {
    #[error("performance not found")]
    NotFound,
    #[error("the performance is not open for booking")]
    BookingClosed,
    #[error("the party is larger than allowed here ({max})")]
    PartyTooLarge { max: i32 },
    #[error("the party fits now: book instead")]
    SeatsAvailable,
    #[error("unknown, malformed or revoked token")]
    InvalidToken,
    #[error("the confirmation link has expired")]
    TokenExpired,
    #[error("the offer has expired")]
    OfferExpired,
    #[error("the place was already turned into a reservation")]
    NotValid,
    #[error("not enough seats are left")]
    InsufficientCapacity,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Where a confirmed entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// In line, at this position (1 is next).
    Waiting(i64),
    /// Seats are offered to it right now.
    Offered,
    /// It became a reservation.
    Claimed,
}

/// What a claim did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    /// This call confirmed the reservation (its id).
    Now(Uuid),
    /// It was claimed before; nothing changed.
    Already(Uuid),
}

/// Writes a pending entry plus its confirmation-e-mail job, in the caller's transaction. `None`
/// when the address is over one of the booking caps: then nothing is written. `language` is
/// the one the visitor joined in: the list's e-mails and a claimed reservation use it.
pub async fn join(
    conn: &mut PgConnection,
    performance_id: Uuid,
    new: &NewReservation,
    language: Language,
    limits: EmailLimits,
) -> Result<Option<Uuid>, WaitlistError> {
    let performance = catalogue::find_performance(conn, performance_id)
        .await?
        .ok_or(WaitlistError::NotFound)?;
    if performance.booking_status(Utc::now()) != BookingStatus::Open {
        return Err(WaitlistError::BookingClosed);
    }
    if new.party_size > performance.max_party_size {
        return Err(WaitlistError::PartyTooLarge {
            max: performance.max_party_size,
        });
    }
    if i64::from(new.party_size) <= performance.seats_available() {
        return Err(WaitlistError::SeatsAvailable);
    }
    if booking::over_email_limits(conn, performance_id, &new.email, limits).await? {
        return Ok(None);
    }
    let id = queries::insert_entry(conn, performance_id, new, language).await?;
    jobs::enqueue(
        conn,
        &WaitlistJob::SendConfirmation { entry_id: id },
        JOB_ATTEMPTS,
    )
    .await?;
    Ok(Some(id))
}

/// Confirms a place in line (idempotent). Takes the performance row lock: positions and
/// offers are decided under it.
pub async fn confirm(conn: &mut PgConnection, presented: &str) -> Result<Place, WaitlistError> {
    let token = queries::find_token(conn, presented, WaitlistTokenPurpose::Confirm).await?;
    match token.status {
        WaitlistStatus::Pending if token.expired => return Err(WaitlistError::TokenExpired),
        WaitlistStatus::Pending => {}
        WaitlistStatus::Expired => return Err(WaitlistError::TokenExpired),
        _ => return place(conn, token.entry_id).await,
    }
    let performance = catalogue::lock_performance(conn, token.performance_id)
        .await?
        .ok_or(WaitlistError::InvalidToken)?;
    if performance.booking_status(Utc::now()) != BookingStatus::Open {
        return Err(WaitlistError::BookingClosed);
    }
    if queries::mark_waiting(conn, token.entry_id).await? {
        queries::mark_token_used(conn, token.id).await?;
        if performance.seats_available() > 0 {
            queue_offers(conn, performance.id).await?;
        }
    }
    place(conn, token.entry_id).await
}

async fn place(conn: &mut PgConnection, entry_id: Uuid) -> Result<Place, WaitlistError> {
    let (status, position) = queries::entry_place(conn, entry_id).await?;
    match status {
        WaitlistStatus::Waiting => Ok(Place::Waiting(position)),
        WaitlistStatus::Offered => Ok(Place::Offered),
        WaitlistStatus::Claimed => Ok(Place::Claimed),
        WaitlistStatus::Expired | WaitlistStatus::Pending => Err(WaitlistError::TokenExpired),
        WaitlistStatus::Left | WaitlistStatus::Removed => Err(WaitlistError::InvalidToken),
    }
}

/// Leaves the line, or declines an offer (whose seats go to the next in line at once).
/// Repeating is harmless. Returns the entry id.
pub async fn leave(conn: &mut PgConnection, presented: &str) -> Result<Uuid, WaitlistError> {
    let token = queries::find_token(conn, presented, WaitlistTokenPurpose::Leave).await?;
    catalogue::lock_performance(conn, token.performance_id).await?;
    finish(conn, token.entry_id, WaitlistStatus::Left).await?;
    Ok(token.entry_id)
}

/// Staff remove an entry; false if it was already out of the line.
pub async fn remove(conn: &mut PgConnection, entry_id: Uuid) -> Result<bool, WaitlistError> {
    let performance_id = queries::entry_performance(conn, entry_id)
        .await?
        .ok_or(WaitlistError::NotFound)?;
    catalogue::lock_performance(conn, performance_id).await?;
    Ok(finish(conn, entry_id, WaitlistStatus::Removed)
        .await?
        .is_some())
}

/// Takes an entry out of the line as `left` or `removed` (the caller holds the performance
/// lock). `Some(was)` when this call did it; a claimed entry cannot leave.
async fn finish(
    conn: &mut PgConnection,
    entry_id: Uuid,
    finished: WaitlistStatus,
) -> Result<Option<WaitlistStatus>, WaitlistError> {
    let (was, performance_id) = queries::lock_entry(conn, entry_id).await?;
    match was {
        WaitlistStatus::Claimed => Err(WaitlistError::NotValid),
        _ if was.in_line() => {
            queries::mark_finished(conn, &[entry_id], finished).await?;
            if was == WaitlistStatus::Offered {
                queue_offers(conn, performance_id).await?;
            }
            Ok(Some(was))
        }
        _ => Ok(None),
    }
}

/// Claims an offer for `party_size` seats (at most those offered; all when `None`): one locked
/// transaction confirms a reservation for the party and queues its ticket, exactly like a
/// confirmation. Seats not taken go to the next in line. Repeating is harmless.
pub async fn claim(
    conn: &mut PgConnection,
    presented: &str,
    party_size: Option<i32>,
    ticket_job_attempts: usize,
    request_id: Option<Uuid>,
) -> Result<Claimed, WaitlistError> {
    let token = queries::find_token(conn, presented, WaitlistTokenPurpose::Claim).await?;
    let performance = catalogue::lock_performance(conn, token.performance_id)
        .await?
        .ok_or(WaitlistError::InvalidToken)?;
    let offer = queries::lock_offer(conn, token.entry_id).await?;
    match (offer.status, offer.reservation_id) {
        (WaitlistStatus::Claimed, Some(id)) => return Ok(Claimed::Already(id)),
        (WaitlistStatus::Offered, _) if !offer.lapsed => {}
        (WaitlistStatus::Offered | WaitlistStatus::Expired, _) => {
            return Err(WaitlistError::OfferExpired);
        }
        _ => return Err(WaitlistError::InvalidToken),
    }
    let seats = party_size.unwrap_or(offer.party_size);
    if !(1..=offer.party_size).contains(&seats) {
        return Err(WaitlistError::PartyTooLarge {
            max: offer.party_size,
        });
    }
    if performance.booking_status(Utc::now()) == BookingStatus::Cancelled
        || performance.starts_at <= Utc::now()
    {
        return Err(WaitlistError::BookingClosed);
    }
    // The offer's seats are already held (counted in `offered_seats`); only staff taking
    // seats away since can make them short.
    if performance.seats_free() < 0 {
        return Err(WaitlistError::InsufficientCapacity);
    }
    let reservation_id = queries::insert_claimed_reservation(conn, token.entry_id, seats).await?;
    queries::mark_claimed(conn, token.entry_id, reservation_id).await?;
    queries::mark_token_used(conn, token.id).await?;
    jobs::enqueue(
        conn,
        &SendTicket {
            reservation_id,
            request_id,
        },
        ticket_job_attempts,
    )
    .await?;
    if seats < offer.party_size {
        queue_offers(conn, performance.id).await?;
    }
    Ok(Claimed::Now(reservation_id))
}

/// Seats of an open performance may have come free: queues an offer job if anyone waits. The
/// caller holds the performance row lock, so the job's recount sees the caller's change.
pub async fn queue_offers(
    conn: &mut PgConnection,
    performance_id: Uuid,
) -> Result<(), sqlx::Error> {
    if queries::anyone_waiting(conn, performance_id).await? {
        jobs::enqueue(
            conn,
            &WaitlistJob::OfferSeats { performance_id },
            JOB_ATTEMPTS,
        )
        .await?;
    }
    Ok(())
}

/// A room's capacity changed: [`queue_offers`] for each of its performances that has a
/// waiting list, each under its row lock (taken in id order).
pub async fn queue_offers_in_room(
    conn: &mut PgConnection,
    room_id: Uuid,
) -> Result<(), sqlx::Error> {
    for performance_id in queries::performances_waiting_in_room(conn, room_id).await? {
        catalogue::lock_performance(conn, performance_id).await?;
        queue_offers(conn, performance_id).await?;
    }
    Ok(())
}

/// What one offer round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OfferRound {
    /// Entries offered seats now.
    pub offered: Vec<Uuid>,
    /// Lapsed offers ended now.
    pub expired: u64,
}

/// The offer job's transaction: locks the performance, ends lapsed offers, and offers the free
/// seats in order of joining to every waiting entry whose party fits. Each offer's e-mail is
/// queued, and so is a round at the offers' expiry.
pub async fn offer_seats(
    conn: &mut PgConnection,
    performance_id: Uuid,
    hold: Duration,
) -> Result<OfferRound, sqlx::Error> {
    let Some(performance) = catalogue::lock_performance(conn, performance_id).await? else {
        return Ok(OfferRound::default());
    };
    // The recount after the lock already leaves lapsed offers out; they end here.
    let expired = queries::expire_lapsed_offers(conn, performance_id).await?;
    if performance.booking_status(Utc::now()) != BookingStatus::Open {
        return Ok(OfferRound {
            offered: Vec::new(),
            expired,
        });
    }
    let mut free = performance.seats_available();
    let mut offered = Vec::new();
    for (entry_id, party_size) in queries::waiting_line(conn, performance_id).await? {
        if free == 0 {
            break;
        }
        if i64::from(party_size) <= free {
            free -= i64::from(party_size);
            offered.push(entry_id);
        }
    }
    if let Some(expires_at) = queries::mark_offered(conn, &offered, hold).await? {
        for entry_id in &offered {
            jobs::enqueue(
                conn,
                &WaitlistJob::SendOffer {
                    entry_id: *entry_id,
                },
                JOB_ATTEMPTS,
            )
            .await?;
        }
        schedule_expiry_round(conn, performance_id, expires_at).await?;
    }
    Ok(OfferRound { offered, expired })
}

/// An offer round just after `at`, when offers made now lapse: their seats go on at once,
/// whatever happened to the worker meanwhile (the job waits in the database).
async fn schedule_expiry_round(
    conn: &mut PgConnection,
    performance_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let job = WaitlistJob::OfferSeats { performance_id };
    let key = jobs::Job::idempotency_key(&job);
    jobs::enqueue_at(
        conn,
        &job,
        JOB_ATTEMPTS,
        at + chrono::Duration::seconds(1),
        key,
    )
    .await
}

/// Housekeeping's safety net: queues an offer round for every performance with a lapsed offer
/// (normally the round scheduled at the expiry has ended it already). Returns how many.
pub async fn queue_rounds_for_lapsed_offers(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    let performances = queries::performances_with_lapsed_offers(conn).await?;
    for performance_id in &performances {
        jobs::enqueue(
            conn,
            &WaitlistJob::OfferSeats {
                performance_id: *performance_id,
            },
            JOB_ATTEMPTS,
        )
        .await?;
    }
    Ok(performances.len() as u64)
}

/// Checks that a presented string could be one of our tokens before any query.
fn parse_token(presented: &str) -> Result<TokenHash, WaitlistError> {
    TokenHash::parse(presented).ok_or(WaitlistError::InvalidToken)
}
