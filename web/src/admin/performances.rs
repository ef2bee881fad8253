//! Performances with their settings and seat breakdown, for editors and admins:
//! `/api/v1/admin/performances` and the `/admin/performances` pages.

use std::collections::BTreeMap;

use askama::Template;
use axum::{Form, Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use common::admin::performances::{self, NewPerformance, PerformanceInput, PerformancePatch};
use common::catalogue::{self, BookingStatus, Performance, PerformanceSettings, Room};
use common::validation::FieldErrors;
use serde::Serialize;
use uuid::Uuid;

use super::{FormFields, FormReader, FormState, PerformanceRow, form_outcome, saved};
use crate::{
    auth::{CatalogueEditor, ManageCatalogue, StaffPage},
    error::{ApiError, ApiResult},
    extract::{FieldSource, Fields, JsonObject, PathId},
    pages::{self, Nav, PageResult},
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

const FIELDS: [&str; 10] = [
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
];

/// A performance body's members, from JSON or a form.
fn performance_input(source: &mut impl FieldSource) -> PerformanceInput {
    PerformanceInput {
        title: source.string("title"),
        description: source.string("description"),
        room_id: source.string("room_id"),
        starts_at: source.time("starts_at"),
        additional_seats: source.integer("additional_seats"),
        manually_occupied_seats: source.integer("manually_occupied_seats"),
        max_party_size: source.integer("max_party_size"),
        booking_status_text: source.string("booking_status"),
        checkin_opens_minutes_before: source.integer("checkin_opens_minutes_before"),
        checkin_closes_minutes_after: source.integer("checkin_closes_minutes_after"),
    }
}

/// Reads a JSON performance body; `show_id` is named, since a performance is filed under its
/// show by `title`.
fn json_input(body: JsonObject) -> (Fields, PerformanceInput) {
    let mut allowed = FIELDS.to_vec();
    allowed.push("show_id");
    let mut fields = Fields::new(body, &allowed);
    if fields.has("show_id") {
        fields.fail::<()>("show_id", "is set through title");
    }
    let input = performance_input(&mut fields);
    (fields, input)
}

pub(crate) async fn create_performance(
    editor: CatalogueEditor,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<AdminPerformance>)> {
    let (fields, input) = json_input(body);
    let new = fields.finish_with(NewPerformance::parse(input))?;
    let actor = editor.principal.actor;
    let performance = performances::save_new_performance(&state.db, actor, &new).await?;
    Ok((
        StatusCode::CREATED,
        Json(AdminPerformance::from(&performance)),
    ))
}

pub(crate) async fn update_performance(
    editor: CatalogueEditor,
    State(state): State<AppState>,
    PathId(id): PathId,
    body: JsonObject,
) -> ApiResult<Json<AdminPerformance>> {
    let (fields, input) = json_input(body);
    let patch = fields.finish_with(PerformancePatch::parse(input))?;
    let actor = editor.principal.actor;
    let updated = performances::save_performance_changes(&state.db, actor, id, &patch).await?;
    Ok(Json(AdminPerformance::from(&updated)))
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
) -> PageResult {
    let rooms = super::list_rooms(state).await?;
    Ok(pages::render(
        status,
        &PerformanceFormPage {
            nav,
            performance: performance.map(PerformanceRow::of),
            rooms,
            form,
            statuses: ["scheduled", "open", "closed", "cancelled"],
        },
    ))
}

pub(crate) async fn new_performance_page(
    staff: StaffPage<ManageCatalogue>,
    State(state): State<AppState>,
) -> PageResult {
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

/// The answer to a performance form: the saved performance with the "Saved" notice, or the
/// form again with what was typed and each error next to its field.
async fn answer_performance_form(
    state: &AppState,
    staff: &StaffPage<ManageCatalogue>,
    current: Option<&Performance>,
    form: FormFields,
    result: ApiResult<Performance>,
) -> PageResult {
    match form_outcome(result)? {
        Ok(p) => Ok(saved(&format!("/admin/performances/{}", p.id))),
        Err(errors) => {
            let form = FormState {
                values: form,
                errors,
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_performance_form(state, Nav::from(staff), current, form, status).await
        }
    }
}

pub(crate) async fn create_performance_form(
    staff: StaffPage<ManageCatalogue>,
    State(state): State<AppState>,
    Form(form): Form<FormFields>,
) -> PageResult {
    let mut reader = FormReader::new(&form, &FIELDS);
    let input = performance_input(&mut reader);
    let result = match reader.finish_with(NewPerformance::parse(input)) {
        Ok(new) => performances::save_new_performance(&state.db, staff.principal.actor, &new)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    answer_performance_form(&state, &staff, None, form, result).await
}

pub(crate) async fn performance_page(
    staff: StaffPage<ManageCatalogue>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> PageResult {
    let p = crate::catalogue::load(&state, id).await?;
    let form = FormState {
        values: values_of(&p),
        errors: FieldErrors::new(),
    };
    render_performance_form(&state, Nav::from(&staff), Some(&p), form, StatusCode::OK).await
}

pub(crate) async fn update_performance_form(
    staff: StaffPage<ManageCatalogue>,
    State(state): State<AppState>,
    PathId(id): PathId,
    Form(form): Form<FormFields>,
) -> PageResult {
    let current = crate::catalogue::load(&state, id).await?;
    let mut reader = FormReader::new(&form, &FIELDS);
    // A required field cleared on the form is an error, not "leave it as it was".
    for name in ["title", "room_id", "starts_at"] {
        if form.get(name).is_some_and(|v| v.trim().is_empty()) {
            reader.fail::<()>(name, "is required");
        }
    }
    let input = performance_input(&mut reader);
    let result = match reader.finish_with(PerformancePatch::parse(input)) {
        Ok(patch) => {
            let actor = staff.principal.actor;
            performances::save_performance_changes(&state.db, actor, current.id, &patch)
                .await
                .map_err(ApiError::from)
        }
        Err(e) => Err(e),
    };
    answer_performance_form(&state, &staff, Some(&current), form, result).await
}
