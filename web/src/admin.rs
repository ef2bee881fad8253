//! Staff management of the catalogue as JSON under `/api/v1/admin`: rooms and performances for
//! editors and admins, reservation lists (personal data) for admins only.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::get,
};
use chrono::{DateTime, Utc};
use common::{
    booking::{self, Reservation},
    catalogue::{self, BookingStatus, Performance, PerformanceSettings, Room},
};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    AppState,
    auth::{AdminUser, CatalogueEditor},
    error::{ApiError, ApiResult},
    extract::{Fields, JsonObject},
};

/// Routes of this capability.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/rooms", get(list_rooms).post(create_room))
        .route(
            "/api/v1/admin/rooms/{id}",
            get(show_room).patch(update_room),
        )
        .route(
            "/api/v1/admin/performances",
            get(list_performances).post(create_performance),
        )
        .route(
            "/api/v1/admin/performances/{id}",
            get(show_performance).patch(update_performance),
        )
        .route(
            "/api/v1/admin/performances/{id}/reservations",
            get(list_reservations),
        )
}

fn parse_id(id: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found())
}

async fn list_rooms(
    _: CatalogueEditor,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<Room>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(catalogue::list_rooms(&mut conn).await?))
}

async fn show_room(
    _: CatalogueEditor,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Room>> {
    let mut conn = state.db.acquire().await?;
    let room = catalogue::find_room(&mut conn, parse_id(&id)?).await?;
    room.map(Json).ok_or_else(ApiError::not_found)
}

fn room_name(fields: &mut Fields) -> Option<String> {
    let name = fields.string("name")?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return fields.fail("name", "must be 1 to 100 characters");
    }
    Some(name.to_owned())
}

async fn create_room(
    _: CatalogueEditor,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Room>)> {
    let mut fields = Fields::new(body, &["name", "capacity"]);
    let name = room_name(&mut fields);
    let name = fields.require("name", name);
    let capacity = fields.int_in("capacity", 0..=100_000);
    let capacity = fields.require("capacity", capacity);
    fields.finish()?;
    let (Some(name), Some(capacity)) = (name, capacity) else {
        return Err(anyhow::anyhow!("required fields passed validation unset").into());
    };
    let mut conn = state.db.acquire().await?;
    match catalogue::insert_room(&mut conn, &name, capacity).await {
        Ok(room) => Ok((StatusCode::CREATED, Json(room))),
        Err(e) if common::db::is_constraint_violation(&e, "rooms_name_key") => {
            Err(ApiError::field("name", "a room with this name exists"))
        }
        Err(e) => Err(e.into()),
    }
}

async fn update_room(
    _: CatalogueEditor,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<Json<Room>> {
    let mut fields = Fields::new(body, &["name", "capacity"]);
    let name = room_name(&mut fields);
    let capacity = fields.int_in("capacity", 0..=100_000);
    fields.finish()?;
    let id = parse_id(&id)?;
    let mut conn = state.db.acquire().await?;
    match catalogue::update_room(&mut conn, id, name.as_deref(), capacity).await {
        Ok(Some(room)) => Ok(Json(room)),
        Ok(None) => Err(ApiError::not_found()),
        Err(e) if common::db::is_constraint_violation(&e, "rooms_name_key") => {
            Err(ApiError::field("name", "a room with this name exists"))
        }
        Err(e) => Err(e.into()),
    }
}

/// A performance as staff see it: every setting and the seat breakdown.
#[derive(Serialize)]
struct AdminPerformance {
    id: Uuid,
    show_id: Uuid,
    title: String,
    description: String,
    room_id: Uuid,
    room: String,
    starts_at: DateTime<Utc>,
    capacity: i32,
    additional_seats: i32,
    manually_occupied_seats: i32,
    confirmed_seats: i64,
    seats_available: i64,
    max_party_size: i32,
    /// As set by staff.
    booking_status: BookingStatus,
    /// As visitors see it now (closed once the performance has started).
    effective_booking_status: BookingStatus,
    checkin_opens_minutes_before: i32,
    checkin_closes_minutes_after: i32,
}

impl From<&Performance> for AdminPerformance {
    fn from(p: &Performance) -> AdminPerformance {
        AdminPerformance {
            id: p.id,
            show_id: p.show_id,
            title: p.title.clone(),
            description: p.description.clone(),
            room_id: p.room_id,
            room: p.room_name.clone(),
            starts_at: p.starts_at,
            capacity: p.capacity,
            additional_seats: p.additional_seats,
            manually_occupied_seats: p.manually_occupied_seats,
            confirmed_seats: p.confirmed_seats,
            seats_available: p.seats_available(),
            max_party_size: p.max_party_size,
            booking_status: p.stored_booking_status,
            effective_booking_status: p.booking_status(Utc::now()),
            checkin_opens_minutes_before: p.checkin_opens_minutes_before,
            checkin_closes_minutes_after: p.checkin_closes_minutes_after,
        }
    }
}

async fn list_performances(
    _: CatalogueEditor,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<AdminPerformance>>> {
    let mut conn = state.db.acquire().await?;
    let all = catalogue::list_all_performances(&mut conn).await?;
    Ok(Json(all.iter().map(AdminPerformance::from).collect()))
}

async fn show_performance(
    _: CatalogueEditor,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<AdminPerformance>> {
    let mut conn = state.db.acquire().await?;
    let performance = catalogue::find_performance(&mut conn, parse_id(&id)?)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(AdminPerformance::from(&performance)))
}

const PERFORMANCE_FIELDS: [&str; 11] = [
    "title",
    "description",
    "room_id",
    "starts_at",
    "additional_seats",
    "manually_occupied_seats",
    "max_party_size",
    "booking_status",
    "checkin_opens_minutes_before",
    "checkin_closes_minutes_after",
    "show_id",
];

/// The members of a create or patch body, each `None` when absent.
struct PerformancePatch {
    title: Option<String>,
    description: Option<String>,
    room_id: Option<Uuid>,
    starts_at: Option<DateTime<Utc>>,
    additional_seats: Option<i32>,
    manually_occupied_seats: Option<i32>,
    max_party_size: Option<i32>,
    booking_status: Option<BookingStatus>,
    checkin_opens_minutes_before: Option<i32>,
    checkin_closes_minutes_after: Option<i32>,
}

impl PerformancePatch {
    fn read(fields: &mut Fields) -> PerformancePatch {
        let title = fields.string("title").and_then(|t| {
            let t = t.trim().to_owned();
            if t.is_empty() || t.chars().count() > 200 {
                fields.fail("title", "must be 1 to 200 characters")
            } else {
                Some(t)
            }
        });
        let description = fields.string("description").and_then(|d| {
            if d.chars().count() > 5000 {
                fields.fail("description", "must be at most 5000 characters")
            } else {
                Some(d)
            }
        });
        let room_id = fields
            .string("room_id")
            .and_then(|r| match Uuid::parse_str(&r) {
                Ok(id) => Some(id),
                Err(_) => fields.fail("room_id", "must be a room id"),
            });
        let starts_at =
            fields
                .string("starts_at")
                .and_then(|s| match DateTime::parse_from_rfc3339(&s) {
                    Ok(t) => Some(t.with_timezone(&Utc)),
                    Err(_) => fields.fail("starts_at", "must be an RFC 3339 time"),
                });
        let booking_status = fields.string("booking_status").and_then(|s| {
            BookingStatus::parse(&s).or_else(|| {
                fields.fail(
                    "booking_status",
                    "must be scheduled, open, closed or cancelled",
                )
            })
        });
        if fields.has("show_id") {
            fields.fail::<()>("show_id", "is set through title");
        }
        PerformancePatch {
            title,
            description,
            room_id,
            starts_at,
            additional_seats: fields.int_in("additional_seats", 0..=100_000),
            manually_occupied_seats: fields.int_in("manually_occupied_seats", 0..=100_000),
            max_party_size: fields.int_in("max_party_size", 1..=1000),
            booking_status,
            checkin_opens_minutes_before: fields.int_in("checkin_opens_minutes_before", 0..=10_080),
            checkin_closes_minutes_after: fields.int_in("checkin_closes_minutes_after", 0..=10_080),
        }
    }

    fn apply(self, show_id: Uuid, base: PerformanceSettings) -> PerformanceSettings {
        PerformanceSettings {
            show_id,
            room_id: self.room_id.unwrap_or(base.room_id),
            starts_at: self.starts_at.unwrap_or(base.starts_at),
            additional_seats: self.additional_seats.unwrap_or(base.additional_seats),
            manually_occupied_seats: self
                .manually_occupied_seats
                .unwrap_or(base.manually_occupied_seats),
            max_party_size: self.max_party_size.unwrap_or(base.max_party_size),
            booking_status: self.booking_status.unwrap_or(base.booking_status),
            checkin_opens_minutes_before: self
                .checkin_opens_minutes_before
                .unwrap_or(base.checkin_opens_minutes_before),
            checkin_closes_minutes_after: self
                .checkin_closes_minutes_after
                .unwrap_or(base.checkin_closes_minutes_after),
        }
    }
}

async fn check_room(conn: &mut sqlx::PgConnection, room_id: Option<Uuid>) -> ApiResult<()> {
    if let Some(room_id) = room_id
        && catalogue::find_room(conn, room_id).await?.is_none()
    {
        return Err(ApiError::field("room_id", "no such room"));
    }
    Ok(())
}

async fn create_performance(
    _: CatalogueEditor,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<AdminPerformance>)> {
    let mut fields = Fields::new(body, &PERFORMANCE_FIELDS);
    let patch = PerformancePatch::read(&mut fields);
    fields.require("title", patch.title.as_ref());
    fields.require("room_id", patch.room_id);
    fields.require("starts_at", patch.starts_at);
    fields.finish()?;
    let (Some(title), Some(room_id), Some(starts_at)) =
        (patch.title.clone(), patch.room_id, patch.starts_at)
    else {
        return Err(anyhow::anyhow!("required fields passed validation unset").into());
    };
    let mut tx = state.db.begin().await?;
    check_room(&mut tx, Some(room_id)).await?;
    let show_id = catalogue::upsert_show(&mut tx, &title).await?;
    if let Some(description) = &patch.description {
        catalogue::update_show_description(&mut tx, show_id, description).await?;
    }
    let defaults = PerformanceSettings {
        show_id,
        room_id,
        starts_at,
        additional_seats: 0,
        manually_occupied_seats: 0,
        max_party_size: 10,
        booking_status: BookingStatus::Scheduled,
        checkin_opens_minutes_before: 120,
        checkin_closes_minutes_after: 180,
    };
    let id = catalogue::insert_performance(&mut tx, &patch.apply(show_id, defaults)).await?;
    let performance = catalogue::find_performance(&mut tx, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("read back new performance"))?;
    tx.commit().await?;
    tracing::info!(performance.id = %id, "performance created");
    Ok((
        StatusCode::CREATED,
        Json(AdminPerformance::from(&performance)),
    ))
}

async fn update_performance(
    _: CatalogueEditor,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<Json<AdminPerformance>> {
    let mut fields = Fields::new(body, &PERFORMANCE_FIELDS);
    let patch = PerformancePatch::read(&mut fields);
    fields.finish()?;
    let id = parse_id(&id)?;
    let mut tx = state.db.begin().await?;
    // Seat figures change under the same lock confirmation takes.
    let current = catalogue::lock_performance(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    check_room(&mut tx, patch.room_id).await?;
    let show_id = match &patch.title {
        Some(title) => catalogue::upsert_show(&mut tx, title).await?,
        None => current.show_id,
    };
    if let Some(description) = &patch.description {
        catalogue::update_show_description(&mut tx, show_id, description).await?;
    }
    catalogue::update_performance(&mut tx, id, &patch.apply(show_id, current.settings())).await?;
    let updated = catalogue::find_performance(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    tracing::info!(performance.id = %id, "performance updated");
    Ok(Json(AdminPerformance::from(&updated)))
}

async fn list_reservations(
    _: AdminUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Reservation>>> {
    let id = parse_id(&id)?;
    let mut conn = state.db.acquire().await?;
    catalogue::find_performance(&mut conn, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(booking::list_reservations(&mut conn, id).await?))
}
