//! The admin JSON API under `/api/v1/admin`: rooms and performances for editors and admins;
//! reservation lists (personal data), ticket re-sending, staff users, API keys and the audit
//! log for admins only. Every change is written to the audit log in its own transaction.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{delete, get, patch, post},
};
use chrono::{DateTime, Utc};
use common::{
    audit,
    auth::{self, ApiKey, Role, StaffUser},
    booking::{self, Reservation},
    catalogue::{self, BookingStatus, Performance, PerformanceSettings, Room},
    tickets::{self, ResendError},
    waitlist,
};
use serde::Serialize;
use serde_json::{Value, json};
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
        .route(
            "/api/v1/admin/reservations/{id}/resend-ticket",
            post(resend_ticket),
        )
        .route("/api/v1/admin/staff", get(list_staff).post(create_staff))
        .route("/api/v1/admin/staff/{id}", patch(update_staff))
        .route(
            "/api/v1/admin/api-keys",
            get(list_api_keys).post(create_api_key),
        )
        .route("/api/v1/admin/api-keys/{id}", delete(revoke_api_key))
        .route("/api/v1/admin/audit", get(list_audit))
}

/// An id from a URL; anything that is not an id is a 404.
pub fn parse_id(id: &str) -> ApiResult<Uuid> {
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
    editor: CatalogueEditor,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Room>)> {
    let room = save_new_room(&state, &editor.principal.actor.label(), body).await?;
    Ok((StatusCode::CREATED, Json(room)))
}

/// Validates and creates a room, with its audit entry; shared with the rooms page.
pub async fn save_new_room(state: &AppState, actor: &str, body: JsonObject) -> ApiResult<Room> {
    let mut fields = Fields::new(body, &["name", "capacity"]);
    let name = room_name(&mut fields);
    let name = fields.require("name", name);
    let capacity = fields.int_in("capacity", 0..=100_000);
    let capacity = fields.require("capacity", capacity);
    fields.finish()?;
    let (Some(name), Some(capacity)) = (name, capacity) else {
        return Err(anyhow::anyhow!("required fields passed validation unset").into());
    };
    let mut tx = state.db.begin().await?;
    match catalogue::insert_room(&mut tx, &name, capacity).await {
        Ok(room) => {
            let details = json!({ "capacity": capacity });
            audit::record(&mut tx, actor, "room.create", Some(room.id), details).await?;
            tx.commit().await?;
            Ok(room)
        }
        Err(e) if common::db::is_constraint_violation(&e, "rooms_name_key") => {
            Err(ApiError::field("name", "a room with this name exists"))
        }
        Err(e) => Err(e.into()),
    }
}

async fn update_room(
    editor: CatalogueEditor,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<Json<Room>> {
    let id = parse_id(&id)?;
    let room = save_room_changes(&state, &editor.principal.actor.label(), id, body).await?;
    Ok(Json(room))
}

/// Validates and applies changes to a room, with its audit entry; shared with the rooms page.
pub async fn save_room_changes(
    state: &AppState,
    actor: &str,
    id: Uuid,
    body: JsonObject,
) -> ApiResult<Room> {
    let mut fields = Fields::new(body, &["name", "capacity"]);
    let name = room_name(&mut fields);
    let capacity = fields.int_in("capacity", 0..=100_000);
    fields.finish()?;
    let mut tx = state.db.begin().await?;
    match catalogue::update_room(&mut tx, id, name.as_deref(), capacity).await {
        Ok(Some(room)) => {
            let details = json!({ "name_changed": name.is_some(), "capacity": capacity });
            audit::record(&mut tx, actor, "room.update", Some(id), details).await?;
            waitlist::queue_offers_in_room(&mut tx, id).await?;
            tx.commit().await?;
            Ok(room)
        }
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

/// The audited settings of a performance (no personal data exists here).
fn settings_json(s: &PerformanceSettings) -> Value {
    json!({
        "room_id": s.room_id,
        "starts_at": s.starts_at,
        "additional_seats": s.additional_seats,
        "manually_occupied_seats": s.manually_occupied_seats,
        "max_party_size": s.max_party_size,
        "booking_status": s.booking_status,
        "checkin_opens_minutes_before": s.checkin_opens_minutes_before,
        "checkin_closes_minutes_after": s.checkin_closes_minutes_after,
    })
}

/// `{field: [before, after]}` for every setting that changed.
fn changes(before: &PerformanceSettings, after: &PerformanceSettings) -> Value {
    let (Value::Object(old), Value::Object(new)) = (settings_json(before), settings_json(after))
    else {
        return Value::Null;
    };
    let changed: serde_json::Map<String, Value> = new
        .into_iter()
        .filter(|(k, v)| old.get(k) != Some(v))
        .map(|(k, v)| {
            let was = old.get(&k).cloned().unwrap_or(Value::Null);
            (k, json!([was, v]))
        })
        .collect();
    Value::Object(changed)
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
    editor: CatalogueEditor,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<AdminPerformance>)> {
    let performance = save_new_performance(&state, &editor.principal.actor.label(), body).await?;
    Ok((
        StatusCode::CREATED,
        Json(AdminPerformance::from(&performance)),
    ))
}

/// Validates and creates a performance (contract defaults for what is absent), with its audit
/// entry; shared with the performance page.
pub async fn save_new_performance(
    state: &AppState,
    actor: &str,
    body: JsonObject,
) -> ApiResult<Performance> {
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
    let settings = patch.apply(show_id, defaults);
    let id = catalogue::insert_performance(&mut tx, &settings).await?;
    audit::record(
        &mut tx,
        actor,
        "performance.create",
        Some(id),
        settings_json(&settings),
    )
    .await?;
    let performance = catalogue::find_performance(&mut tx, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("read back new performance"))?;
    tx.commit().await?;
    tracing::info!(performance.id = %id, "performance created");
    Ok(performance)
}

async fn update_performance(
    editor: CatalogueEditor,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<Json<AdminPerformance>> {
    let id = parse_id(&id)?;
    let updated =
        save_performance_changes(&state, &editor.principal.actor.label(), id, body).await?;
    Ok(Json(AdminPerformance::from(&updated)))
}

/// Validates and applies a patch to a performance under its row lock, with an audit entry of
/// what changed; shared with the performance page.
pub async fn save_performance_changes(
    state: &AppState,
    actor: &str,
    id: Uuid,
    body: JsonObject,
) -> ApiResult<Performance> {
    let mut fields = Fields::new(body, &PERFORMANCE_FIELDS);
    let patch = PerformancePatch::read(&mut fields);
    fields.finish()?;
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
    let before = current.settings();
    let after = patch.apply(show_id, before.clone());
    catalogue::update_performance(&mut tx, id, &after).await?;
    waitlist::queue_offers(&mut tx, id).await?;
    audit::record(
        &mut tx,
        actor,
        "performance.update",
        Some(id),
        changes(&before, &after),
    )
    .await?;
    let updated = catalogue::find_performance(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    tracing::info!(performance.id = %id, "performance updated");
    Ok(updated)
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

async fn resend_ticket(
    admin: AdminUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    resend_ticket_for(&state, &admin.principal.actor.label(), parse_id(&id)?).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": "queued" }))))
}

/// Replaces a reservation's ticket and queues the e-mail, with its audit entry; shared with the
/// reservations page.
pub async fn resend_ticket_for(state: &AppState, actor: &str, id: Uuid) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    match tickets::resend_ticket(&mut tx, id, state.config.jobs.max_attempts).await {
        Ok(()) => {}
        Err(ResendError::NotFound) => return Err(ApiError::not_found()),
        Err(ResendError::NotConfirmed) => {
            return Err(ApiError::Conflict {
                code: "not_valid",
                message: "only confirmed reservations have tickets",
                extra: serde_json::Map::new(),
            });
        }
        Err(ResendError::Db(e)) => return Err(e.into()),
    }
    audit::record(&mut tx, actor, "ticket.resend", Some(id), json!({})).await?;
    tx.commit().await?;
    tracing::info!(reservation.id = %id, "ticket re-sent");
    Ok(())
}

async fn list_staff(
    _: AdminUser,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<StaffUser>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(auth::list_staff_users(&mut conn).await?))
}

/// Reads a `role` member.
fn role_field(fields: &mut Fields) -> Option<Role> {
    let role = fields.string("role")?;
    Role::parse(&role).or_else(|| fields.fail("role", "must be admin, editor, door or operator"))
}

/// The password rule for staff users.
fn check_password(password: &str, errors: &mut common::booking::FieldErrors) {
    if password.chars().count() < 8 || password.chars().count() > 1000 {
        errors.insert("password".into(), "must be 8 to 1000 characters".into());
    }
}

/// Creates a staff user; an address already in use (in any letter case) is a 409
/// `already_exists`, never a change to that account. Shared with the staff page.
pub async fn save_staff_user(
    state: &AppState,
    actor: &str,
    email: &str,
    role: Role,
    password: &str,
) -> ApiResult<uuid::Uuid> {
    let mut errors = common::booking::FieldErrors::new();
    if !email_address::EmailAddress::is_valid(email) || email.len() > 254 {
        errors.insert("email".into(), "must be a valid e-mail address".into());
    }
    check_password(password, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation { fields: errors });
    }
    let hash = crate::auth::hash_password(state, password).await?;
    let mut tx = state.db.begin().await?;
    let Some(id) = auth::insert_staff_user(&mut tx, email, role, &hash).await? else {
        return Err(ApiError::Conflict {
            code: "already_exists",
            message: "a staff user with this e-mail address exists",
            extra: serde_json::Map::new(),
        });
    };
    audit::record(
        &mut tx,
        actor,
        "staff.create",
        Some(id),
        json!({ "role": role }),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

async fn create_staff(
    admin: AdminUser,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut fields = Fields::new(body, &["email", "role", "password"]);
    let email = fields.string("email");
    let email = fields.require("email", email);
    let role = role_field(&mut fields);
    let role = fields.require("role", role);
    let password = fields.string("password");
    let password = fields.require("password", password);
    fields.finish()?;
    let (Some(email), Some(role), Some(password)) = (email, role, password) else {
        return Err(anyhow::anyhow!("required fields passed validation unset").into());
    };
    let id = save_staff_user(
        &state,
        &admin.principal.actor.label(),
        email.trim(),
        role,
        &password,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "email": email.trim(), "role": role })),
    ))
}

/// Changes to one staff user, each a separate audited action that ends all their sessions.
#[derive(Default)]
pub struct StaffChange {
    pub role: Option<Role>,
    /// `Some(true)` disables, `Some(false)` enables.
    pub disabled: Option<bool>,
    /// A new password (a reset).
    pub password: Option<String>,
}

/// Applies a [`StaffChange`] in one transaction; shared with the staff page.
pub async fn change_staff_user(
    state: &AppState,
    actor: &str,
    id: uuid::Uuid,
    change: StaffChange,
) -> ApiResult<()> {
    if let Some(password) = &change.password {
        let mut errors = common::booking::FieldErrors::new();
        check_password(password, &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::Validation { fields: errors });
        }
    }
    let hash = match &change.password {
        Some(password) => Some(crate::auth::hash_password(state, password).await?),
        None => None,
    };
    let mut tx = state.db.begin().await?;
    if auth::find_staff_user(&mut tx, id).await?.is_none() {
        return Err(ApiError::not_found());
    }
    if let Some(role) = change.role {
        auth::update_staff_role(&mut tx, id, role).await?;
        let details = json!({ "role": role });
        audit::record(&mut tx, actor, "staff.role", Some(id), details).await?;
    }
    if let Some(disabled) = change.disabled {
        auth::set_staff_disabled(&mut tx, id, disabled).await?;
        let action = if disabled {
            "staff.disable"
        } else {
            "staff.enable"
        };
        audit::record(&mut tx, actor, action, Some(id), json!({})).await?;
    }
    if let Some(hash) = hash {
        auth::reset_staff_password(&mut tx, id, &hash).await?;
        audit::record(&mut tx, actor, "staff.password_reset", Some(id), json!({})).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn update_staff(
    admin: AdminUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    let mut fields = Fields::new(body, &["role", "disabled", "password"]);
    let change = StaffChange {
        role: role_field(&mut fields),
        disabled: fields.bool("disabled"),
        password: fields.string("password"),
    };
    fields.finish()?;
    let id = parse_id(&id)?;
    change_staff_user(&state, &admin.principal.actor.label(), id, change).await?;
    Ok(Json(json!({ "id": id, "status": "updated" })))
}

async fn list_api_keys(
    _: AdminUser,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<ApiKey>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(auth::list_api_keys(&mut conn).await?))
}

/// Creates an API key and returns its id and raw value (shown once); shared with the staff page.
pub async fn issue_api_key(
    state: &AppState,
    actor: &str,
    role: Role,
    label: &str,
) -> ApiResult<(uuid::Uuid, String)> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        return Err(ApiError::field("label", "must be 1 to 100 characters"));
    }
    let mut tx = state.db.begin().await?;
    let (id, raw) = auth::create_api_key(&mut tx, role, label).await?;
    audit::record(
        &mut tx,
        actor,
        "api_key.create",
        Some(id),
        json!({ "role": role }),
    )
    .await?;
    tx.commit().await?;
    Ok((id, raw.expose().to_owned()))
}

async fn create_api_key(
    admin: AdminUser,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut fields = Fields::new(body, &["role", "label"]);
    let role = role_field(&mut fields);
    let role = fields.require("role", role);
    let label = fields.string("label");
    let label = fields.require("label", label);
    fields.finish()?;
    let (Some(role), Some(label)) = (role, label) else {
        return Err(anyhow::anyhow!("required fields passed validation unset").into());
    };
    let (id, key) = issue_api_key(&state, &admin.principal.actor.label(), role, &label).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "role": role, "label": label.trim(), "key": key })),
    ))
}

/// Revokes an API key; shared with the staff page.
pub async fn withdraw_api_key(state: &AppState, actor: &str, id: uuid::Uuid) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    if !auth::revoke_api_key(&mut tx, id).await? {
        return Err(ApiError::not_found());
    }
    audit::record(&mut tx, actor, "api_key.revoke", Some(id), json!({})).await?;
    tx.commit().await?;
    Ok(())
}

async fn revoke_api_key(
    admin: AdminUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    withdraw_api_key(&state, &admin.principal.actor.label(), parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_audit(
    _: AdminUser,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<audit::AuditEntry>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(audit::list_recent(&mut conn, 500).await?))
}
