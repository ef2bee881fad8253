//! Performances with their settings and seat breakdown, for editors and admins:
//! `/api/v1/admin/performances` and the `/admin/performances` pages.

use std::collections::BTreeMap;

use askama::Template;
use axum::{
    Form, Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use chrono::{DateTime, Utc};
use common::validation::FieldErrors;
use common::{
    audit::AuditAction,
    audit::{self},
    catalogue::{self, BookingStatus, Performance, PerformanceSettings, Room},
};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{FormFields, FormState, PerformanceRow, form_object, with_local_time_problem};
use crate::{
    auth::{CatalogueEditor, ManageCatalogue, StaffPage},
    error::{ApiError, ApiResult},
    extract::PathId,
    extract::{Fields, JsonObject},
    pages::{self, Nav},
    state::AppState,
};

/// A performance as staff see it: every setting and the seat breakdown.
#[derive(Serialize)]
pub(crate) struct AdminPerformance {
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

pub(crate) async fn list_performances(
    _: CatalogueEditor,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<AdminPerformance>>> {
    let mut conn = state.db.acquire().await?;
    let all = catalogue::list_all_performances(&mut conn).await?;
    Ok(Json(all.iter().map(AdminPerformance::from).collect()))
}

pub(crate) async fn show_performance(
    _: CatalogueEditor,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<Json<AdminPerformance>> {
    let mut conn = state.db.acquire().await?;
    let performance = catalogue::find_performance(&mut conn, id)
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
            additional_seats: fields.int_in("additional_seats", PerformanceSettings::SEATS),
            manually_occupied_seats: fields
                .int_in("manually_occupied_seats", PerformanceSettings::SEATS),
            max_party_size: fields.int_in("max_party_size", PerformanceSettings::PARTY_SIZE),
            booking_status,
            checkin_opens_minutes_before: fields.int_in(
                "checkin_opens_minutes_before",
                PerformanceSettings::CHECKIN_MINUTES,
            ),
            checkin_closes_minutes_after: fields.int_in(
                "checkin_closes_minutes_after",
                PerformanceSettings::CHECKIN_MINUTES,
            ),
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
fn changes(
    before: &PerformanceSettings,
    after: &PerformanceSettings,
) -> serde_json::Map<String, Value> {
    let (Value::Object(old), Value::Object(new)) = (settings_json(before), settings_json(after))
    else {
        return serde_json::Map::new();
    };
    new.into_iter()
        .filter(|(k, v)| old.get(k) != Some(v))
        .map(|(k, v)| {
            let was = old.get(&k).cloned().unwrap_or(Value::Null);
            (k, json!([was, v]))
        })
        .collect()
}

async fn check_room(conn: &mut sqlx::PgConnection, room_id: Option<Uuid>) -> ApiResult<()> {
    if let Some(room_id) = room_id
        && catalogue::find_room(conn, room_id).await?.is_none()
    {
        return Err(ApiError::field("room_id", "no such room"));
    }
    Ok(())
}

pub(crate) async fn create_performance(
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
    let defaults = PerformanceSettings::with_defaults(show_id, room_id, starts_at);
    let settings = patch.apply(show_id, defaults);
    let id = catalogue::insert_performance(&mut tx, &settings).await?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::PerformanceCreate,
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

pub(crate) async fn update_performance(
    editor: CatalogueEditor,
    State(state): State<AppState>,
    PathId(id): PathId,
    body: JsonObject,
) -> ApiResult<Json<AdminPerformance>> {
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
    // Only what really changed is recorded, and a save that changed nothing is not.
    let mut changed = serde_json::Map::new();
    if show_id != current.show_id {
        changed.insert("title".to_owned(), json!([current.title, patch.title]));
    }
    if patch
        .description
        .as_ref()
        .is_some_and(|d| *d != current.description)
    {
        changed.insert("description".to_owned(), json!("changed"));
    }
    let before = current.settings();
    let after = patch.apply(show_id, before.clone());
    catalogue::update_performance(&mut tx, id, &after).await?;
    common::waitlist::queue_offers(&mut tx, id).await?;
    changed.extend(changes(&before, &after));
    if !changed.is_empty() {
        audit::record(
            &mut tx,
            actor,
            AuditAction::PerformanceUpdate,
            Some(id),
            Value::Object(changed),
        )
        .await?;
    }
    let updated = catalogue::find_performance(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    tracing::info!(performance.id = %id, "performance updated");
    Ok(updated)
}

#[derive(Template)]
#[template(path = "admin/performance.html")]
struct PerformanceFormPage {
    nav: Nav,
    /// `None` for a new performance.
    performance: Option<PerformanceRow>,
    rooms: Vec<Room>,
    form: FormState,
    statuses: [&'static str; 4],
}

const NUMERIC: [&str; 5] = [
    "additional_seats",
    "manually_occupied_seats",
    "max_party_size",
    "checkin_opens_minutes_before",
    "checkin_closes_minutes_after",
];

/// The form's values for an existing performance.
fn values_of(p: &Performance) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("title".to_owned(), p.title.clone()),
        ("description".to_owned(), p.description.clone()),
        ("room_id".to_owned(), p.room_id.to_string()),
        (
            "starts_at".to_owned(),
            common::time::to_input_value(p.starts_at, crate::locale::current().tz),
        ),
        (
            "additional_seats".to_owned(),
            p.additional_seats.to_string(),
        ),
        (
            "manually_occupied_seats".to_owned(),
            p.manually_occupied_seats.to_string(),
        ),
        ("max_party_size".to_owned(), p.max_party_size.to_string()),
        (
            "booking_status".to_owned(),
            p.stored_booking_status.as_str().to_owned(),
        ),
        (
            "checkin_opens_minutes_before".to_owned(),
            p.checkin_opens_minutes_before.to_string(),
        ),
        (
            "checkin_closes_minutes_after".to_owned(),
            p.checkin_closes_minutes_after.to_string(),
        ),
    ])
}

async fn render_performance_form(
    state: &AppState,
    nav: Nav,
    performance: Option<&Performance>,
    form: FormState,
    status: StatusCode,
) -> Response {
    let rooms = match super::list_rooms(state).await {
        Ok(rooms) => rooms,
        Err(e) => return pages::error_page(e),
    };
    pages::render(
        status,
        &PerformanceFormPage {
            nav,
            performance: performance.map(PerformanceRow::of),
            rooms,
            form,
            statuses: ["scheduled", "open", "closed", "cancelled"],
        },
    )
}

pub(crate) async fn new_performance_page(
    staff: StaffPage<ManageCatalogue>,
    State(state): State<AppState>,
) -> Response {
    let defaults = FormState {
        values: BTreeMap::from([
            ("additional_seats".to_owned(), "0".to_owned()),
            ("manually_occupied_seats".to_owned(), "0".to_owned()),
            (
                "max_party_size".to_owned(),
                PerformanceSettings::DEFAULT_MAX_PARTY_SIZE.to_string(),
            ),
            ("booking_status".to_owned(), "scheduled".to_owned()),
            (
                "checkin_opens_minutes_before".to_owned(),
                PerformanceSettings::DEFAULT_CHECKIN_OPENS_MINUTES_BEFORE.to_string(),
            ),
            (
                "checkin_closes_minutes_after".to_owned(),
                PerformanceSettings::DEFAULT_CHECKIN_CLOSES_MINUTES_AFTER.to_string(),
            ),
        ]),
        errors: FieldErrors::new(),
    };
    render_performance_form(&state, Nav::from(&staff), None, defaults, StatusCode::OK).await
}

pub(crate) async fn create_performance_form(
    staff: StaffPage<ManageCatalogue>,
    State(state): State<AppState>,
    Form(form): Form<FormFields>,
) -> Response {
    let actor = staff.principal.actor.label();
    match save_new_performance(&state, &actor, form_object(&form, &NUMERIC)).await {
        Ok(p) => Redirect::to(&crate::auth::saved(&format!(
            "/admin/performances/{}",
            p.id
        )))
        .into_response(),
        Err(ApiError::Validation { fields }) => {
            let form = FormState {
                errors: with_local_time_problem(&form, fields),
                values: form,
            };
            render_performance_form(
                &state,
                Nav::from(&staff),
                None,
                form,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => pages::error_page(e),
    }
}

pub(crate) async fn performance_page(
    staff: StaffPage<ManageCatalogue>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Response {
    match crate::catalogue::load(&state, id).await {
        Ok(p) => {
            let form = FormState {
                values: values_of(&p),
                errors: FieldErrors::new(),
            };
            render_performance_form(&state, Nav::from(&staff), Some(&p), form, StatusCode::OK).await
        }
        Err(e) => pages::error_page(e),
    }
}

pub(crate) async fn update_performance_form(
    staff: StaffPage<ManageCatalogue>,
    State(state): State<AppState>,
    PathId(id): PathId,
    Form(form): Form<FormFields>,
) -> Response {
    let current = match crate::catalogue::load(&state, id).await {
        Ok(p) => p,
        Err(e) => return pages::error_page(e),
    };
    let actor = staff.principal.actor.label();
    // A required field cleared on the form is an error, not "leave it as it was".
    let cleared: FieldErrors = ["title", "room_id", "starts_at"]
        .into_iter()
        .filter(|name| form.get(*name).is_some_and(|v| v.trim().is_empty()))
        .map(|name| (name.to_owned(), "is required".to_owned()))
        .collect();
    let result = if cleared.is_empty() {
        save_performance_changes(&state, &actor, current.id, form_object(&form, &NUMERIC)).await
    } else {
        Err(ApiError::Validation { fields: cleared })
    };
    match result {
        Ok(p) => Redirect::to(&crate::auth::saved(&format!(
            "/admin/performances/{}",
            p.id
        )))
        .into_response(),
        Err(ApiError::Validation { fields }) => {
            let form = FormState {
                errors: with_local_time_problem(&form, fields),
                values: form,
            };
            let nav = Nav::from(&staff);
            render_performance_form(
                &state,
                nav,
                Some(&current),
                form,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => pages::error_page(e),
    }
}
