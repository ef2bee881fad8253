//! Staff administration, by resource: each module serves its JSON API under `/api/v1/admin`
//! and its pages under `/admin`, both through the same use case. This module holds what the
//! resources share: the form kit and the performance row, and the `/admin` landing page.

pub mod audit;
pub mod performances;
pub mod reservations;
pub mod rooms;
pub mod staff;

use std::collections::BTreeMap;

use askama::Template;
use axum::{
    extract::State,
    http::{StatusCode, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use chrono::Utc;
use common::validation::FieldErrors;
use common::{
    auth::Permission,
    catalogue::{self, Performance, Room},
};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{
    error::{ApiError, ApiResult},
    extract::JsonObject,
    pages::{self, Nav, format_time},
    state::AppState,
};

/// Every room, for the rooms page and the performance form.
async fn list_rooms(state: &AppState) -> ApiResult<Vec<Room>> {
    let mut conn = state.db.acquire().await?;
    Ok(catalogue::list_rooms(&mut conn).await?)
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
        Ok(()) => Redirect::to(&crate::auth::saved(to)).into_response(),
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
pub(crate) async fn home(State(state): State<AppState>, parts: Parts) -> Response {
    let principal = match crate::auth::authenticate(&parts, &state).await {
        Ok(Some(p)) if p.session.is_some() => p,
        Ok(_) => return Redirect::to("/admin/login?next=/admin").into_response(),
        Err(e) => return pages::error_page(e),
    };
    if !principal.role.can(Permission::ManageCatalogue) {
        return Redirect::to(pages::landing_for(principal.role)).into_response();
    }
    let csrf = crate::auth::csrf_token(&state, principal.session.as_deref().unwrap_or_default());
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
