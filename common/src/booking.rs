//! Booking: a visitor asks for seats, we validate strictly, write a *pending* reservation and, in
//! the same transaction, queue the confirmation e-mail. Pending reservations hold no seats; the
//! capacity check here only refuses requests that could not be confirmed right now.

use chrono::{DateTime, Utc};
use email_address::{EmailAddress, Options};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::catalogue::BookingStatus;
use crate::jobs::{self, SendConfirmationEmail};
use crate::locale::Language;
use crate::validation::FieldErrors;

/// Upper bound on any party size, whatever a performance allows.
pub const MAX_PARTY_SIZE: i64 = 1000;

/// A booking request as it arrives, before validation (from JSON or an HTML form).
#[derive(Debug, Default, Clone)]
pub struct ReservationInput {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub notes: Option<String>,
    pub party_size: Option<i64>,
}

/// A booking request that passed every rule that does not depend on the performance.
#[derive(Debug, Clone)]
pub struct NewReservation {
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) phone: Option<String>,
    pub(crate) notes: Option<String>,
    pub(crate) party_size: i32,
}

impl NewReservation {
    /// Applies the contract's field rules; returns every problem at once.
    pub fn parse(input: ReservationInput) -> Result<NewReservation, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = input.name.as_deref().map(str::trim).unwrap_or_default();
        if name.is_empty() {
            errors.insert("name".into(), "is required".into());
        } else if name.chars().count() > 100 {
            errors.insert("name".into(), "must be at most 100 characters".into());
        } else if name.chars().any(char::is_control) {
            errors.insert("name".into(), "must not contain control characters".into());
        }
        let email = input.email.as_deref().map(str::trim).unwrap_or_default();
        if email.is_empty() {
            errors.insert("email".into(), "is required".into());
        } else if email.len() > 254 || !is_valid_email(email) {
            errors.insert("email".into(), "must be a valid e-mail address".into());
        }
        let phone = input
            .phone
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty());
        if let Some(phone) = phone {
            let allowed = |c: char| c.is_ascii_digit() || " +-()".contains(c);
            if phone.chars().count() > 32 || !phone.chars().all(allowed) {
                errors.insert(
                    "phone".into(),
                    "must be at most 32 digits, spaces, + - ( )".into(),
                );
            }
        }
        let notes = input
            .notes
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        if let Some(notes) = notes {
            if notes.chars().count() > 1000 {
                errors.insert("notes".into(), "must be at most 1000 characters".into());
            } else if notes
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
            {
                errors.insert("notes".into(), "must not contain control characters".into());
            }
        }
        let party_size = match input.party_size {
            None => {
                errors.insert("party_size".into(), "is required".into());
                0
            }
            Some(n) if !(1..=MAX_PARTY_SIZE).contains(&n) => {
                errors.insert(
                    "party_size".into(),
                    "must be a positive whole number within the performance's maximum".into(),
                );
                0
            }
            Some(n) => n as i32,
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(NewReservation {
            name: name.to_owned(),
            email: email.to_owned(),
            phone: phone.map(str::to_owned),
            notes: notes.map(str::to_owned),
            party_size,
        })
    }

    pub fn party_size(&self) -> i32 {
        self.party_size
    }
}

fn is_valid_email(email: &str) -> bool {
    let options = Options::default()
        .with_required_tld()
        .without_domain_literal();
    let options = Options {
        allow_display_text: false,
        ..options
    };
    EmailAddress::parse_with_options(email, options).is_ok()
}

/// Why a booking was refused; each variant is one of the contract's answers.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("performance not found")]
    NotFound,
    #[error("the performance is not open for booking")]
    BookingClosed,
    #[error("the party is larger than this performance allows ({max})")]
    PartyTooLarge { max: i32 },
    #[error("not enough seats are available")]
    InsufficientCapacity,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Per-address caps that stop the booking form from being used to flood someone's inbox. A
/// request over a cap is answered like an accepted booking but stores and sends nothing, so
/// that the answer tells nobody whether an address has booked.
#[derive(Debug, Clone, Copy)]
pub struct EmailLimits {
    /// 0 disables.
    pub per_hour: u32,
    /// 0 disables.
    pub pending_per_performance: u32,
}

/// What the booking statement saw of the performance, and whether it wrote the reservation.
#[derive(FromRow)]
struct BookingRow {
    stored_booking_status: BookingStatus,
    starts_at: DateTime<Utc>,
    max_party_size: i32,
    seats_available: i64,
    over_cap: bool,
    booked: bool,
}

/// Checks the performance and writes a pending reservation plus its confirmation-email job, in
/// one statement (one round trip; the statement is its own transaction, so both rows commit
/// together or not at all). `None` when the address is over one of its caps (counted as
/// [`over_email_limits`] counts them): then nothing is written. `language` is the one the
/// visitor booked in; the reservation's e-mails are written in it.
pub async fn create_reservation(
    conn: &mut PgConnection,
    performance_id: Uuid,
    new: &NewReservation,
    language: Language,
    limits: EmailLimits,
    max_attempts: usize,
    request_id: Option<Uuid>,
) -> Result<Option<Uuid>, BookingError> {
    let id = Uuid::new_v4();
    let job = jobs::NewJob::of(
        &SendConfirmationEmail {
            reservation_id: id,
            request_id,
        },
        max_attempts,
    )?;
    let row: Option<BookingRow> = sqlx::query_as(concat!(
        "WITH p AS (
            SELECT p.booking_status AS stored_booking_status, p.starts_at, p.max_party_size, ",
        crate::seats_free_sql!(),
        " AS seats_available
              FROM performances p JOIN rooms r ON r.id = p.room_id
             WHERE p.id = $1),
         cap AS (
            SELECT CASE WHEN $8 > 0 THEN (SELECT count(*) FROM reservations
                                           WHERE lower(email) = lower($4)
                                             AND created_at > now() - interval '1 hour')
                                       + (SELECT count(*) FROM waitlist_entries
                                           WHERE lower(email) = lower($4)
                                             AND created_at > now() - interval '1 hour') >= $8
                        ELSE false END
                OR CASE WHEN $9 > 0 THEN (SELECT count(*) FROM reservations
                                           WHERE performance_id = $1 AND lower(email) = lower($4)
                                             AND status = 'pending')
                                       + (SELECT count(*) FROM waitlist_entries
                                           WHERE performance_id = $1 AND lower(email) = lower($4)
                                             AND status = 'pending') >= $9
                        ELSE false END AS over_cap),
         booked AS (
            INSERT INTO reservations (id, performance_id, name, email, phone, notes, party_size,
                                      language)
            SELECT $2, $1, $3, $4, $5, $6, $7, $15 FROM p, cap
             WHERE p.stored_booking_status = 'open' AND p.starts_at > now()
               AND $7 <= p.max_party_size AND $7 <= p.seats_available AND NOT cap.over_cap
            RETURNING id),
         queued AS (",
        crate::insert_job_columns!(),
        " SELECT $10, $11, $12, 'Pending', 0, $13, now(), 0, ''::hstore, $14 FROM booked)
         SELECT p.*, cap.over_cap, EXISTS (SELECT 1 FROM booked) AS booked FROM p, cap"
    ))
    .bind(performance_id)
    .bind(id)
    .bind(&new.name)
    .bind(&new.email)
    .bind(&new.phone)
    .bind(&new.notes)
    .bind(new.party_size)
    .bind(i64::from(limits.per_hour))
    .bind(i64::from(limits.pending_per_performance))
    .bind(&job.id)
    .bind(job.queue)
    .bind(&job.payload)
    .bind(job.max_attempts)
    .bind(&job.idempotency_key)
    .bind(language.code())
    .fetch_optional(&mut *conn)
    .await?;
    let p = row.ok_or(BookingError::NotFound)?;
    if p.booked {
        return Ok(Some(id));
    }
    let status = match p.stored_booking_status {
        BookingStatus::Cancelled => BookingStatus::Cancelled,
        _ if p.starts_at <= Utc::now() => BookingStatus::Closed,
        s => s,
    };
    if status != BookingStatus::Open {
        return Err(BookingError::BookingClosed);
    }
    if new.party_size > p.max_party_size {
        return Err(BookingError::PartyTooLarge {
            max: p.max_party_size,
        });
    }
    if i64::from(new.party_size) > p.seats_available {
        return Err(BookingError::InsufficientCapacity);
    }
    if p.over_cap {
        return Ok(None);
    }
    // Open when read, but started between the statement's clock and ours.
    Err(BookingError::BookingClosed)
}

/// True when the address has used up one of its caps. Waiting-list entries count as bookings:
/// both send e-mail to the address.
pub(crate) async fn over_email_limits(
    conn: &mut PgConnection,
    performance_id: Uuid,
    email: &str,
    limits: EmailLimits,
) -> Result<bool, sqlx::Error> {
    if limits.per_hour > 0 {
        let count: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM reservations
                      WHERE lower(email) = lower($1) AND created_at > now() - interval '1 hour')
                  + (SELECT count(*) FROM waitlist_entries
                      WHERE lower(email) = lower($1) AND created_at > now() - interval '1 hour')",
        )
        .bind(email)
        .fetch_one(&mut *conn)
        .await?;
        if count >= i64::from(limits.per_hour) {
            return Ok(true);
        }
    }
    if limits.pending_per_performance > 0 {
        let pending: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM reservations
                      WHERE performance_id = $1 AND lower(email) = lower($2) AND status = 'pending')
                  + (SELECT count(*) FROM waitlist_entries
                      WHERE performance_id = $1 AND lower(email) = lower($2) AND status = 'pending')",
        )
        .bind(performance_id)
        .bind(email)
        .fetch_one(&mut *conn)
        .await?;
        if pending >= i64::from(limits.pending_per_performance) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What staff with access to personal data see of a reservation.
/// Where a reservation is in its life, as stored in `reservations.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ReservationStatus {
    /// Booked, waiting for the e-mail link; holds no seats.
    Pending,
    /// Confirmed: holds its seats and has a ticket.
    Confirmed,
    Cancelled,
    /// Left unconfirmed too long.
    Expired,
}

impl ReservationStatus {
    /// The stored and contract spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Pending => "pending",
            ReservationStatus::Confirmed => "confirmed",
            ReservationStatus::Cancelled => "cancelled",
            ReservationStatus::Expired => "expired",
        }
    }
}

impl std::fmt::Display for ReservationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Reservation {
    pub id: Uuid,
    pub performance_id: Uuid,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub notes: Option<String>,
    pub party_size: i32,
    pub status: ReservationStatus,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub checked_in_at: Option<DateTime<Utc>>,
}

/// The SELECT every reservation query starts with.
macro_rules! reservation_select {
    () => {
        "SELECT id, performance_id, name, email, phone, notes, party_size,
        status, created_at, confirmed_at, cancelled_at, checked_in_at FROM reservations"
    };
}

/// One reservation with its personal data.
pub async fn find_reservation(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Reservation>, sqlx::Error> {
    sqlx::query_as(concat!(reservation_select!(), " WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The reservations of a performance, oldest first.
pub async fn list_reservations(
    conn: &mut PgConnection,
    performance_id: Uuid,
) -> Result<Vec<Reservation>, sqlx::Error> {
    sqlx::query_as(concat!(
        reservation_select!(),
        " WHERE performance_id = $1 ORDER BY created_at, id"
    ))
    .bind(performance_id)
    .fetch_all(conn)
    .await
}
