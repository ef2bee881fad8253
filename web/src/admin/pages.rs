//! The staff pages under `/admin`: performances with their seat breakdown, rooms, reservation
//! lists (admins only, with CSV export and ticket re-sending), staff users and API keys, and the
//! audit log. Every form carries the session's CSRF token and shows errors next to its field;
//! the work itself is done by the same functions as the JSON API.

use std::collections::BTreeMap;

use askama::Template;
use axum::{
    Form, Router,
    extract::{Path, State},
    http::{StatusCode, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use chrono::Utc;
use common::{
    audit::{self, AuditEntry},
    auth::{self, ApiKey, Permission, Role, StaffUser},
    booking::{self, FieldErrors, Reservation},
    catalogue::{self, Performance, Room},
};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{
    AppState,
    admin::api,
    auth::{ManageCatalogue, StaffPage, ViewPersonalData},
    error::{ApiError, ApiResult},
    extract::JsonObject,
    pages::{self, MessagePage, format_time},
};

/// Routes of the admin pages.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(home))
        .route("/admin/", get(home))
        .route("/admin/rooms", get(rooms_page).post(create_room))
        .route("/admin/rooms/{id}", post(update_room))
        .route("/admin/performances/new", get(new_performance_page))
        .route("/admin/performances", post(create_performance))
        .route(
            "/admin/performances/{id}",
            get(performance_page).post(update_performance),
        )
        .route(
            "/admin/performances/{id}/reservations",
            get(reservations_page),
        )
        .route(
            "/admin/performances/{id}/reservations.csv",
            get(reservations_csv),
        )
        .route(
            "/admin/reservations/{id}/resend-ticket",
            post(resend_ticket),
        )
        .route("/admin/staff", get(staff_page).post(create_staff))
        .route("/admin/staff/{id}", post(update_staff))
        .route("/admin/api-keys", post(create_api_key))
        .route("/admin/api-keys/{id}/revoke", post(revoke_api_key))
        .route("/admin/audit", get(audit_page))
}

/// What the navigation shows, by role.
pub struct Nav {
    pub csrf_token: String,
    pub catalogue: bool,
    pub admin: bool,
    pub door: bool,
    pub operations: bool,
}

impl Nav {
    /// The links `role` may follow.
    pub fn new(role: Role, csrf_token: String) -> Nav {
        Nav {
            csrf_token,
            catalogue: role.can(Permission::ManageCatalogue),
            admin: role.can(Permission::ViewPersonalData),
            door: role.can(Permission::CheckIn),
            operations: role.can(Permission::WatchOperations),
        }
    }
}

impl<P: crate::auth::Requirement> From<&StaffPage<P>> for Nav {
    fn from(staff: &StaffPage<P>) -> Nav {
        Nav::new(staff.principal.role, staff.csrf_token.clone())
    }
}

/// Posted form fields, kept to refill the form, with the problems found.
#[derive(Default)]
pub struct FormState {
    values: BTreeMap<String, String>,
    errors: FieldErrors,
}

impl FormState {
    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(String::as_str)
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }
}

type FormFields = BTreeMap<String, String>;

/// A posted form as the JSON object the API functions take: empty fields are left out, numeric
/// fields become numbers when they parse, and a `datetime-local` time is read as wall-clock
/// time in `TIMEZONE` (a time the clocks skip stays as typed, and is refused as malformed).
fn form_object(form: &FormFields, numeric: &[&str]) -> JsonObject {
    let mut map = Map::new();
    for (name, value) in form {
        let value = value.trim();
        if name == "csrf_token" || value.is_empty() {
            continue;
        }
        let json = if numeric.contains(&name.as_str()) {
            value
                .parse::<i64>()
                .map_or_else(|_| Value::from(value), Value::from)
        } else if name == "starts_at" {
            common::time::from_input_value(value, crate::locale::current().tz)
                .map_or_else(|_| Value::from(value), |t| Value::from(t.to_rfc3339()))
        } else {
            Value::from(value)
        };
        map.insert(name.clone(), json);
    }
    JsonObject(map)
}

/// A start time the form could not read as local time gets the reason (a skipped hour, a
/// malformed value) instead of the API's words about RFC 3339.
fn with_local_time_problem(form: &FormFields, mut errors: FieldErrors) -> FieldErrors {
    if let Some(value) = form.get("starts_at").filter(|v| !v.trim().is_empty())
        && let Err(problem) = common::time::from_input_value(value, crate::locale::current().tz)
    {
        errors.insert("starts_at".to_owned(), problem.to_string());
    }
    errors
}

/// Ends a form post: back to `to` on success, the page again with errors on a 422.
fn after_post(
    result: ApiResult<()>,
    to: &str,
    on_invalid: impl FnOnce(FieldErrors) -> Response,
) -> Response {
    match result {
        Ok(()) => Redirect::to(to).into_response(),
        Err(ApiError::Validation { fields }) => on_invalid(fields),
        Err(e) => pages::error_page(e),
    }
}

/// One row of the performance list with its seat breakdown.
pub struct PerformanceRow {
    pub id: Uuid,
    pub title: String,
    pub starts_at: String,
    pub room: String,
    pub status: &'static str,
    pub capacity: i32,
    pub additional_seats: i32,
    pub manually_occupied_seats: i32,
    pub confirmed_seats: i64,
    pub seats_available: i64,
}

impl PerformanceRow {
    fn of(p: &Performance) -> PerformanceRow {
        PerformanceRow {
            id: p.id,
            title: p.title.clone(),
            starts_at: format_time(p.starts_at),
            room: p.room_name.clone(),
            status: p.booking_status(Utc::now()).as_str(),
            capacity: p.capacity,
            additional_seats: p.additional_seats,
            manually_occupied_seats: p.manually_occupied_seats,
            confirmed_seats: p.confirmed_seats,
            seats_available: p.seats_available(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/home.html")]
struct HomePage {
    nav: Nav,
    performances: Vec<PerformanceRow>,
}

/// `/admin`: the performance list for editors and admins; door staff and operators are sent
/// to their own page.
async fn home(State(state): State<AppState>, parts: Parts) -> Response {
    let principal = match crate::auth::authenticate(&parts, &state).await {
        Ok(Some(p)) if p.session.is_some() => p,
        Ok(_) => return Redirect::to("/admin/login?next=/admin").into_response(),
        Err(e) => return pages::error_page(e),
    };
    if !principal.role.can(Permission::ManageCatalogue) {
        return Redirect::to(landing_for(principal.role)).into_response();
    }
    let csrf = crate::session::csrf_token(&state, principal.session.as_deref().unwrap_or_default());
    let nav = Nav::new(principal.role, csrf);
    let list: ApiResult<Vec<Performance>> = async {
        let mut conn = state.db.acquire().await?;
        Ok(catalogue::list_all_performances(&mut conn).await?)
    }
    .await;
    match list {
        Ok(list) => pages::render(
            StatusCode::OK,
            &HomePage {
                nav,
                performances: list.iter().map(PerformanceRow::of).collect(),
            },
        ),
        Err(e) => pages::error_page(e),
    }
}

#[derive(Template)]
#[template(path = "admin/rooms.html")]
struct RoomsPage {
    nav: Nav,
    rooms: Vec<Room>,
    form: FormState,
}

async fn render_rooms(state: &AppState, nav: Nav, form: FormState, status: StatusCode) -> Response {
    let rooms: ApiResult<Vec<Room>> = async {
        let mut conn = state.db.acquire().await?;
        Ok(catalogue::list_rooms(&mut conn).await?)
    }
    .await;
    match rooms {
        Ok(rooms) => pages::render(status, &RoomsPage { nav, rooms, form }),
        Err(e) => pages::error_page(e),
    }
}

async fn rooms_page(staff: StaffPage<ManageCatalogue>, State(state): State<AppState>) -> Response {
    render_rooms(
        &state,
        Nav::from(&staff),
        FormState::default(),
        StatusCode::OK,
    )
    .await
}

async fn create_room(
    staff: StaffPage<ManageCatalogue>,
    State(state): State<AppState>,
    Form(form): Form<FormFields>,
) -> Response {
    let actor = staff.principal.actor.label();
    let result = api::save_new_room(&state, &actor, form_object(&form, &["capacity"])).await;
    match result {
        Ok(_) => Redirect::to("/admin/rooms").into_response(),
        Err(ApiError::Validation { fields }) => {
            let state_form = FormState {
                values: form,
                errors: fields,
            };
            render_rooms(
                &state,
                Nav::from(&staff),
                state_form,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => pages::error_page(e),
    }
}

async fn update_room(
    staff: StaffPage<ManageCatalogue>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<FormFields>,
) -> Response {
    let result = async {
        let id = api::parse_id(&id)?;
        api::save_room_changes(
            &state,
            &staff.principal.actor.label(),
            id,
            form_object(&form, &["capacity"]),
        )
        .await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/admin/rooms").into_response(),
        Err(ApiError::Validation { fields }) => pages::render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &MessagePage::staff_error("Room not saved", &fields),
        ),
        Err(e) => pages::error_page(e),
    }
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
    let rooms: ApiResult<Vec<Room>> = async {
        let mut conn = state.db.acquire().await?;
        Ok(catalogue::list_rooms(&mut conn).await?)
    }
    .await;
    match rooms {
        Ok(rooms) => pages::render(
            status,
            &PerformanceFormPage {
                nav,
                performance: performance.map(PerformanceRow::of),
                rooms,
                form,
                statuses: ["scheduled", "open", "closed", "cancelled"],
            },
        ),
        Err(e) => pages::error_page(e),
    }
}

async fn new_performance_page(
    staff: StaffPage<ManageCatalogue>,
    State(state): State<AppState>,
) -> Response {
    let defaults = FormState {
        values: BTreeMap::from([
            ("additional_seats".to_owned(), "0".to_owned()),
            ("manually_occupied_seats".to_owned(), "0".to_owned()),
            ("max_party_size".to_owned(), "10".to_owned()),
            ("booking_status".to_owned(), "scheduled".to_owned()),
            ("checkin_opens_minutes_before".to_owned(), "120".to_owned()),
            ("checkin_closes_minutes_after".to_owned(), "180".to_owned()),
        ]),
        errors: FieldErrors::new(),
    };
    render_performance_form(&state, Nav::from(&staff), None, defaults, StatusCode::OK).await
}

async fn create_performance(
    staff: StaffPage<ManageCatalogue>,
    State(state): State<AppState>,
    Form(form): Form<FormFields>,
) -> Response {
    let actor = staff.principal.actor.label();
    match api::save_new_performance(&state, &actor, form_object(&form, &NUMERIC)).await {
        Ok(p) => Redirect::to(&format!("/admin/performances/{}", p.id)).into_response(),
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

async fn performance_page(
    staff: StaffPage<ManageCatalogue>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    match crate::catalogue::load(&state, &id).await {
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

async fn update_performance(
    staff: StaffPage<ManageCatalogue>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<FormFields>,
) -> Response {
    let current = match crate::catalogue::load(&state, &id).await {
        Ok(p) => p,
        Err(e) => return pages::error_page(e),
    };
    let actor = staff.principal.actor.label();
    let result =
        api::save_performance_changes(&state, &actor, current.id, form_object(&form, &NUMERIC))
            .await;
    match result {
        Ok(p) => Redirect::to(&format!("/admin/performances/{}", p.id)).into_response(),
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

#[derive(Template)]
#[template(path = "admin/reservations.html")]
struct ReservationsPage {
    nav: Nav,
    performance: PerformanceRow,
    reservations: Vec<Reservation>,
}

async fn load_reservations(
    state: &AppState,
    id: &str,
) -> ApiResult<(Performance, Vec<Reservation>)> {
    let performance = crate::catalogue::load(state, id).await?;
    let mut conn = state.db.acquire().await?;
    let reservations = booking::list_reservations(&mut conn, performance.id).await?;
    Ok((performance, reservations))
}

async fn reservations_page(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    match load_reservations(&state, &id).await {
        Ok((performance, reservations)) => pages::render(
            StatusCode::OK,
            &ReservationsPage {
                nav: Nav::from(&staff),
                performance: PerformanceRow::of(&performance),
                reservations,
            },
        ),
        Err(e) => pages::error_page(e),
    }
}

/// A CSV cell: quoted, and a leading `= + - @` defused so spreadsheets do not run it.
fn csv_cell(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

async fn reservations_csv(
    _: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let (performance, reservations) = match load_reservations(&state, &id).await {
        Ok(found) => found,
        Err(e) => return pages::error_page(e),
    };
    let mut csv = String::from(
        "id,status,party_size,name,email,phone,notes,created_at,confirmed_at,checked_in_at\r\n",
    );
    // Local wall-clock time with its offset: readable, and still exact across clock changes.
    let tz = crate::locale::current().tz;
    let local = |t: chrono::DateTime<Utc>| t.with_timezone(&tz).to_rfc3339();
    let time = |t: Option<chrono::DateTime<Utc>>| t.map(local).unwrap_or_default();
    for r in &reservations {
        let cells = [
            r.id.to_string(),
            r.status.clone(),
            r.party_size.to_string(),
            r.name.clone().unwrap_or_default(),
            r.email.clone().unwrap_or_default(),
            r.phone.clone().unwrap_or_default(),
            r.notes.clone().unwrap_or_default(),
            local(r.created_at),
            time(r.confirmed_at),
            time(r.checked_in_at),
        ];
        csv.push_str(
            &cells
                .iter()
                .map(|c| csv_cell(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        csv.push_str("\r\n");
    }
    let filename = format!("reservations-{}.csv", performance.id);
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        csv,
    )
        .into_response()
}

async fn resend_ticket(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let result: ApiResult<Uuid> = async {
        let id = api::parse_id(&id)?;
        let mut conn = state.db.acquire().await?;
        let reservation = booking::find_reservation(&mut conn, id)
            .await?
            .ok_or_else(ApiError::not_found)?;
        drop(conn);
        api::resend_ticket_for(&state, &staff.principal.actor.label(), id).await?;
        Ok(reservation.performance_id)
    }
    .await;
    match result {
        Ok(performance_id) => Redirect::to(&format!(
            "/admin/performances/{performance_id}/reservations"
        ))
        .into_response(),
        Err(e) => pages::error_page(e),
    }
}

#[derive(Template)]
#[template(path = "admin/staff.html")]
struct StaffListPage {
    nav: Nav,
    staff: Vec<StaffUser>,
    keys: Vec<ApiKey>,
    staff_form: FormState,
    key_form: FormState,
    roles: [&'static str; 4],
    /// A key just created, shown this once.
    new_key: Option<String>,
}

async fn render_staff(
    state: &AppState,
    nav: Nav,
    staff_form: FormState,
    key_form: FormState,
    new_key: Option<String>,
    status: StatusCode,
) -> Response {
    let lists: ApiResult<(Vec<StaffUser>, Vec<ApiKey>)> = async {
        let mut conn = state.db.acquire().await?;
        Ok((
            auth::list_staff_users(&mut conn).await?,
            auth::list_api_keys(&mut conn).await?,
        ))
    }
    .await;
    match lists {
        Ok((staff, keys)) => {
            let page = StaffListPage {
                nav,
                staff,
                keys,
                staff_form,
                key_form,
                roles: ["admin", "editor", "door", "operator"],
                new_key,
            };
            let mut response = pages::render(status, &page);
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                "no-store".parse().expect("static header"),
            );
            response
        }
        Err(e) => pages::error_page(e),
    }
}

async fn staff_page(staff: StaffPage<ViewPersonalData>, State(state): State<AppState>) -> Response {
    render_staff(
        &state,
        Nav::from(&staff),
        FormState::default(),
        FormState::default(),
        None,
        StatusCode::OK,
    )
    .await
}

fn role_of(form: &FormFields) -> Result<Role, FieldErrors> {
    form.get("role")
        .and_then(|r| Role::parse(r))
        .ok_or_else(|| {
            FieldErrors::from([(
                "role".to_owned(),
                "must be admin, editor, door or operator".to_owned(),
            )])
        })
}

async fn create_staff(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    Form(form): Form<FormFields>,
) -> Response {
    let result = async {
        let role = role_of(&form).map_err(|fields| ApiError::Validation { fields })?;
        let email = form.get("email").map_or("", |e| e.trim());
        let password = form.get("password").map_or("", String::as_str);
        api::save_staff_user(
            &state,
            &staff.principal.actor.label(),
            email,
            role,
            password,
        )
        .await?;
        Ok(())
    }
    .await;
    let nav = Nav::from(&staff);
    let mut kept = form.clone();
    kept.remove("password");
    match result {
        Ok(()) => Redirect::to("/admin/staff").into_response(),
        Err(e @ (ApiError::Validation { .. } | ApiError::Conflict { .. })) => {
            let status = e.status();
            let errors = match e {
                ApiError::Validation { fields } => fields,
                _ => FieldErrors::from([(
                    "email".to_owned(),
                    "belongs to a staff user already".to_owned(),
                )]),
            };
            let staff_form = FormState {
                values: kept,
                errors,
            };
            render_staff(&state, nav, staff_form, FormState::default(), None, status).await
        }
        Err(e) => pages::error_page(e),
    }
}

async fn update_staff(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<FormFields>,
) -> Response {
    let result = async {
        let id = api::parse_id(&id)?;
        let change = match form.get("action").map(String::as_str) {
            Some("disable") => api::StaffChange {
                disabled: Some(true),
                ..Default::default()
            },
            Some("enable") => api::StaffChange {
                disabled: Some(false),
                ..Default::default()
            },
            Some("reset_password") => api::StaffChange {
                password: Some(form.get("password").cloned().unwrap_or_default()),
                ..Default::default()
            },
            _ => api::StaffChange {
                role: Some(role_of(&form).map_err(|fields| ApiError::Validation { fields })?),
                ..Default::default()
            },
        };
        api::change_staff_user(&state, &staff.principal.actor.label(), id, change).await
    }
    .await;
    after_post(result, "/admin/staff", |fields| {
        pages::render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &MessagePage::staff_error("Not saved", &fields),
        )
    })
}

async fn create_api_key(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    Form(form): Form<FormFields>,
) -> Response {
    let result = async {
        let role = role_of(&form).map_err(|fields| ApiError::Validation { fields })?;
        let label = form.get("label").map_or("", String::as_str);
        api::issue_api_key(&state, &staff.principal.actor.label(), role, label).await
    }
    .await;
    let nav = Nav::from(&staff);
    match result {
        Ok((_, key)) => {
            render_staff(
                &state,
                nav,
                FormState::default(),
                FormState::default(),
                Some(key),
                StatusCode::CREATED,
            )
            .await
        }
        Err(ApiError::Validation { fields }) => {
            let key_form = FormState {
                values: form,
                errors: fields,
            };
            render_staff(
                &state,
                nav,
                FormState::default(),
                key_form,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => pages::error_page(e),
    }
}

async fn revoke_api_key(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let id = api::parse_id(&id)?;
        api::withdraw_api_key(&state, &staff.principal.actor.label(), id).await
    }
    .await;
    after_post(result, "/admin/staff", |_| {
        pages::error_page(ApiError::not_found())
    })
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    nav: Nav,
    entries: Vec<AuditEntry>,
}

async fn audit_page(staff: StaffPage<ViewPersonalData>, State(state): State<AppState>) -> Response {
    let entries: ApiResult<Vec<AuditEntry>> = async {
        let mut conn = state.db.acquire().await?;
        Ok(audit::list_recent(&mut conn, 500).await?)
    }
    .await;
    match entries {
        Ok(entries) => pages::render(
            StatusCode::OK,
            &AuditPage {
                nav: Nav::from(&staff),
                entries,
            },
        ),
        Err(e) => pages::error_page(e),
    }
}

/// Where staff land after login when no other page was asked for.
pub fn landing_for(role: Role) -> &'static str {
    if role.can(Permission::ManageCatalogue) {
        "/admin"
    } else if role.can(Permission::CheckIn) {
        "/checkin"
    } else {
        "/ops/queues"
    }
}
