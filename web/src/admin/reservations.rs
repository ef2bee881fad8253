//! Reservation lists (personal data, admins only) as JSON, a page and CSV, and ticket
//! re-sending.

use askama::Template;
use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Redirect},
};
use chrono::Utc;
use common::{
    admin,
    booking::{self, Reservation, ReservationStatus},
    catalogue::{self, Performance},
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::PerformanceRow;
use crate::{
    auth::{AdminUser, StaffPage, ViewPersonalData},
    error::{ApiError, ApiResult},
    extract::PathId,
    pages::{self, Nav, PageResult},
    state::AppState,
};

pub(crate) async fn list_reservations(
    _: AdminUser,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<Json<Vec<Reservation>>> {
    let mut conn = state.db.acquire().await?;
    catalogue::find_performance(&mut conn, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(booking::list_reservations(&mut conn, id).await?))
}

pub(crate) async fn resend_ticket(
    admin: AdminUser,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let max_attempts = state.config.jobs.max_attempts;
    admin::reservations::resend_ticket(&state.db, admin.principal.actor, id, max_attempts).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": "queued" }))))
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
    id: Uuid,
) -> ApiResult<(Performance, Vec<Reservation>)> {
    let performance = crate::catalogue::load(state, id).await?;
    let mut conn = state.db.acquire().await?;
    let reservations = booking::list_reservations(&mut conn, performance.id).await?;
    Ok((performance, reservations))
}

pub(crate) async fn reservations_page(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> PageResult {
    let (performance, reservations) = load_reservations(&state, id).await?;
    let page = ReservationsPage {
        nav: Nav::from(&staff),
        performance: PerformanceRow::of(&performance),
        reservations,
    };
    Ok(pages::render(StatusCode::OK, &page))
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

pub(crate) async fn reservations_csv(
    _: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> PageResult {
    let (performance, reservations) = load_reservations(&state, id).await?;
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
            r.status.to_string(),
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
    Ok((
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
        .into_response())
}

pub(crate) async fn resend_ticket_form(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let reservation = booking::find_reservation(&mut conn, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    drop(conn);
    let max_attempts = state.config.jobs.max_attempts;
    admin::reservations::resend_ticket(&state.db, staff.principal.actor, id, max_attempts).await?;
    let to = format!(
        "/admin/performances/{}/reservations",
        reservation.performance_id
    );
    Ok(Redirect::to(&crate::auth::saved(&to)).into_response())
}
