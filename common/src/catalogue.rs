//! Rooms, shows and performances, and the seat arithmetic the whole product relies on:
//! available = room capacity + additional seats - manually occupied seats - confirmed party sizes
//! minus seats held by live waiting-list offers. Pending reservations hold no seats; only
//! confirmation and offers (under the performance row lock) do.

use chrono::{DateTime, Utc};
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

/// Whether a performance takes bookings, as staff set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum BookingStatus {
    /// Announced, not yet open.
    Scheduled,
    Open,
    Closed,
    Cancelled,
}

impl BookingStatus {
    /// Parses the contract's spelling.
    pub fn parse(s: &str) -> Option<BookingStatus> {
        match s {
            "scheduled" => Some(BookingStatus::Scheduled),
            "open" => Some(BookingStatus::Open),
            "closed" => Some(BookingStatus::Closed),
            "cancelled" => Some(BookingStatus::Cancelled),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Scheduled => "scheduled",
            BookingStatus::Open => "open",
            BookingStatus::Closed => "closed",
            BookingStatus::Cancelled => "cancelled",
        }
    }
}

/// A room seats people; its capacity is the base of every performance held in it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Room {
    pub id: Uuid,
    pub name: String,
    pub capacity: i32,
    pub created_at: DateTime<Utc>,
}

/// A performance with its room, show and the seat figures needed to answer "how many are left".
#[derive(Debug, Clone, FromRow)]
pub struct Performance {
    pub id: Uuid,
    pub show_id: Uuid,
    pub title: String,
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub room_id: Uuid,
    pub room_name: String,
    pub capacity: i32,
    pub additional_seats: i32,
    pub manually_occupied_seats: i32,
    /// Sum of the party sizes of confirmed reservations.
    pub confirmed_seats: i64,
    /// Seats held by live waiting-list offers (see `crate::waitlist`).
    pub offered_seats: i64,
    pub max_party_size: i32,
    /// As staff set it; see [`Performance::booking_status`] for what visitors see.
    pub stored_booking_status: BookingStatus,
    pub checkin_opens_minutes_before: i32,
    pub checkin_closes_minutes_after: i32,
}

impl Performance {
    /// Seats a new confirmation may still take; never negative, even if staff shrank the room.
    pub fn seats_available(&self) -> i64 {
        self.seats_free().max(0)
    }

    /// [`Performance::seats_available`] before clamping: negative when staff took away seats
    /// that are already confirmed or offered.
    pub fn seats_free(&self) -> i64 {
        i64::from(self.capacity) + i64::from(self.additional_seats)
            - i64::from(self.manually_occupied_seats)
            - self.confirmed_seats
            - self.offered_seats
    }

    /// The status visitors see: booking ends by itself when the performance starts.
    pub fn booking_status(&self, now: DateTime<Utc>) -> BookingStatus {
        match self.stored_booking_status {
            BookingStatus::Cancelled => BookingStatus::Cancelled,
            _ if self.starts_at <= now => BookingStatus::Closed,
            status => status,
        }
    }

    /// When door staff may start and must stop checking tickets in.
    pub fn checkin_window(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            self.starts_at - chrono::Duration::minutes(self.checkin_opens_minutes_before.into()),
            self.starts_at + chrono::Duration::minutes(self.checkin_closes_minutes_after.into()),
        )
    }
}

/// Seats a performance `p` (in room `r`) has free before clamping, in SQL: the one formula of
/// [`Performance::seats_free`] for the statements that book and confirm under the performance's
/// lock (a macro so `concat!` keeps the SQL static).
#[macro_export]
macro_rules! seats_free_sql {
    () => {
        "((r.capacity + p.additional_seats - p.manually_occupied_seats)::bigint
           - (SELECT COALESCE(sum(party_size), 0) FROM reservations
               WHERE performance_id = p.id AND status = 'confirmed')
           - (SELECT COALESCE(sum(party_size), 0) FROM waitlist_entries
               WHERE performance_id = p.id AND status = 'offered' AND offer_expires_at > now()))"
    };
}

/// The SELECT every performance query starts with (a macro so `concat!` keeps the SQL static).
macro_rules! performance_select {
    () => {
        "
    SELECT p.id, p.show_id, s.title, s.description, p.starts_at, p.room_id, r.name AS room_name,
           r.capacity, p.additional_seats, p.manually_occupied_seats,
           (SELECT COALESCE(sum(party_size), 0)::bigint FROM reservations
             WHERE performance_id = p.id AND status = 'confirmed') AS confirmed_seats,
           (SELECT COALESCE(sum(party_size), 0)::bigint FROM waitlist_entries
             WHERE performance_id = p.id AND status = 'offered' AND offer_expires_at > now())
             AS offered_seats,
           p.max_party_size, p.booking_status AS stored_booking_status,
           p.checkin_opens_minutes_before, p.checkin_closes_minutes_after
      FROM performances p
      JOIN shows s ON s.id = p.show_id
      JOIN rooms r ON r.id = p.room_id"
    };
}

/// Performances that have not started yet, soonest first.
pub async fn list_upcoming_performances(
    conn: &mut PgConnection,
) -> Result<Vec<Performance>, sqlx::Error> {
    sqlx::query_as(concat!(
        performance_select!(),
        " WHERE p.starts_at > now() ORDER BY p.starts_at, p.id"
    ))
    .fetch_all(conn)
    .await
}

/// Every performance, newest first, for staff.
pub async fn list_all_performances(
    conn: &mut PgConnection,
) -> Result<Vec<Performance>, sqlx::Error> {
    sqlx::query_as(concat!(
        performance_select!(),
        " ORDER BY p.starts_at DESC, p.id"
    ))
    .fetch_all(conn)
    .await
}

/// One performance with its current seat figures.
pub async fn find_performance(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Performance>, sqlx::Error> {
    sqlx::query_as(concat!(performance_select!(), " WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Locks the performance row for the rest of the transaction, then reads its seat figures.
/// Every change to the confirmed seat count happens under this lock, so a recount inside the
/// transaction is exact. The lock is `FOR NO KEY UPDATE`: it excludes every other seat change
/// and every update of the performance, but not the foreign-key check of a booking's insert
/// (`FOR KEY SHARE`), so bookings do not queue behind confirmations.
pub async fn lock_performance(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Performance>, sqlx::Error> {
    let locked: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM performances WHERE id = $1 FOR NO KEY UPDATE")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    match locked {
        Some(id) => find_performance(conn, id).await,
        None => Ok(None),
    }
}

/// Creates a room.
pub async fn insert_room(
    conn: &mut PgConnection,
    name: &str,
    capacity: i32,
) -> Result<Room, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO rooms (id, name, capacity) VALUES ($1, $2, $3)
         RETURNING id, name, capacity, created_at",
    )
    .bind(Uuid::new_v4())
    .bind(name)
    .bind(capacity)
    .fetch_one(conn)
    .await
}

/// All rooms by name.
pub async fn list_rooms(conn: &mut PgConnection) -> Result<Vec<Room>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, capacity, created_at FROM rooms ORDER BY name")
        .fetch_all(conn)
        .await
}

/// One room.
pub async fn find_room(conn: &mut PgConnection, id: Uuid) -> Result<Option<Room>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, capacity, created_at FROM rooms WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Changes a room's name and/or capacity; `None` leaves a field as it is.
pub async fn update_room(
    conn: &mut PgConnection,
    id: Uuid,
    name: Option<&str>,
    capacity: Option<i32>,
) -> Result<Option<Room>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE rooms SET name = COALESCE($2, name), capacity = COALESCE($3, capacity)
          WHERE id = $1 RETURNING id, name, capacity, created_at",
    )
    .bind(id)
    .bind(name)
    .bind(capacity)
    .fetch_optional(conn)
    .await
}

/// The show with this title, created if it does not exist yet.
pub async fn upsert_show(conn: &mut PgConnection, title: &str) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO shows (id, title) VALUES ($1, $2)
         ON CONFLICT (title) DO UPDATE SET title = EXCLUDED.title
         RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(title)
    .fetch_one(conn)
    .await
}

/// Sets a show's description.
pub async fn update_show_description(
    conn: &mut PgConnection,
    show_id: Uuid,
    description: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE shows SET description = $2 WHERE id = $1")
        .bind(show_id)
        .bind(description)
        .execute(conn)
        .await?;
    Ok(())
}

/// The settings of a performance that staff choose; every field has a contract default.
#[derive(Debug, Clone)]
pub struct PerformanceSettings {
    pub show_id: Uuid,
    pub room_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub additional_seats: i32,
    pub manually_occupied_seats: i32,
    pub max_party_size: i32,
    pub booking_status: BookingStatus,
    pub checkin_opens_minutes_before: i32,
    pub checkin_closes_minutes_after: i32,
}

impl PerformanceSettings {
    /// Seats staff may add to a room's capacity, or mark as occupied.
    pub const SEATS: RangeInclusive<i32> = 0..=100_000;
    /// The largest party one reservation may book.
    pub const PARTY_SIZE: RangeInclusive<i32> = 1..=1000;
    /// Minutes before the start check-in opens, or after it closes (a week at most).
    pub const CHECKIN_MINUTES: RangeInclusive<i32> = 0..=10_080;
    /// Default party-size limit (as the migration's column default).
    pub const DEFAULT_MAX_PARTY_SIZE: i32 = 10;
    /// Default minutes before the start that check-in opens.
    pub const DEFAULT_CHECKIN_OPENS_MINUTES_BEFORE: i32 = 120;
    /// Default minutes after the start that check-in closes.
    pub const DEFAULT_CHECKIN_CLOSES_MINUTES_AFTER: i32 = 180;

    /// A new performance with the contract's defaults for everything staff did not set.
    pub fn with_defaults(
        show_id: Uuid,
        room_id: Uuid,
        starts_at: DateTime<Utc>,
    ) -> PerformanceSettings {
        PerformanceSettings {
            show_id,
            room_id,
            starts_at,
            additional_seats: 0,
            manually_occupied_seats: 0,
            max_party_size: Self::DEFAULT_MAX_PARTY_SIZE,
            booking_status: BookingStatus::Scheduled,
            checkin_opens_minutes_before: Self::DEFAULT_CHECKIN_OPENS_MINUTES_BEFORE,
            checkin_closes_minutes_after: Self::DEFAULT_CHECKIN_CLOSES_MINUTES_AFTER,
        }
    }
}

/// Rooms seat at most this many.
pub const ROOM_CAPACITY: RangeInclusive<i32> = 0..=100_000;

/// Creates a performance and returns its id.
pub async fn insert_performance(
    conn: &mut PgConnection,
    s: &PerformanceSettings,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO performances (id, show_id, room_id, starts_at, additional_seats,
                manually_occupied_seats, max_party_size, booking_status,
                checkin_opens_minutes_before, checkin_closes_minutes_after)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(s.show_id)
    .bind(s.room_id)
    .bind(s.starts_at)
    .bind(s.additional_seats)
    .bind(s.manually_occupied_seats)
    .bind(s.max_party_size)
    .bind(s.booking_status)
    .bind(s.checkin_opens_minutes_before)
    .bind(s.checkin_closes_minutes_after)
    .fetch_one(conn)
    .await
}

/// Writes all settings of an existing performance (callers merge a patch into the current row).
/// Callers hold the performance row lock, so seat figures cannot change underneath them.
pub async fn update_performance(
    conn: &mut PgConnection,
    id: Uuid,
    s: &PerformanceSettings,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE performances SET show_id = $2, room_id = $3, starts_at = $4, additional_seats = $5,
                manually_occupied_seats = $6, max_party_size = $7, booking_status = $8,
                checkin_opens_minutes_before = $9, checkin_closes_minutes_after = $10,
                updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(s.show_id)
    .bind(s.room_id)
    .bind(s.starts_at)
    .bind(s.additional_seats)
    .bind(s.manually_occupied_seats)
    .bind(s.max_party_size)
    .bind(s.booking_status)
    .bind(s.checkin_opens_minutes_before)
    .bind(s.checkin_closes_minutes_after)
    .execute(conn)
    .await?;
    Ok(())
}

impl Performance {
    /// The current settings, as the starting point of a patch.
    pub fn settings(&self) -> PerformanceSettings {
        PerformanceSettings {
            show_id: self.show_id,
            room_id: self.room_id,
            starts_at: self.starts_at,
            additional_seats: self.additional_seats,
            manually_occupied_seats: self.manually_occupied_seats,
            max_party_size: self.max_party_size,
            booking_status: self.stored_booking_status,
            checkin_opens_minutes_before: self.checkin_opens_minutes_before,
            checkin_closes_minutes_after: self.checkin_closes_minutes_after,
        }
    }
}
