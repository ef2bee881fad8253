//! Staff administration, by resource: each module serves its JSON API under `/api/v1/admin`
//! and its pages under `/admin`. Both read their input into the same typed value and call the
//! same use case in `common::admin`. This module holds what the resources share: the form kit
//! (`FormReader`, `FormState`), the performance row, and the `/admin` landing page.

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
use chrono::{DateTime, Utc};
use common::validation::{self, FieldErrors};
use common::{
    auth::Permission,
    catalogue::{self, Performance, Room},
};
use uuid::Uuid;

use crate::{
    error::{ApiError, ApiResult},
    extract::FieldSource,
    pages::{self, Nav, PageResult, format_time},
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

/// A posted form read like a JSON body ([`FieldSource`]): an empty field is an absent one, a
/// number must parse, and a `datetime-local` time is wall-clock time in `TIMEZONE` (a time the
/// clocks skip is refused with the reason). A field the form does not have is refused.
pub(crate) struct FormReader<'a> {
    form: &'a FormFields,
    errors: FieldErrors,
}

impl<'a> FormReader<'a> {
    pub(crate) fn new(form: &'a FormFields, allowed: &[&str]) -> FormReader<'a> {
        let errors = form
            .iter()
            .filter(|(name, value)| {
                name.as_str() != "csrf_token"
                    && !value.trim().is_empty()
                    && !allowed.contains(&name.as_str())
            })
            .map(|(name, _)| (name.clone(), "unknown field".to_owned()))
            .collect();
        FormReader { form, errors }
    }

    /// Records a problem with a field.
    pub(crate) fn fail<T>(&mut self, name: &str, problem: &str) -> Option<T> {
        validation::fail(&mut self.errors, name, problem)
    }

    /// Ends reading with the outcome of the domain's `parse`, as [`Fields::finish_with`].
    pub(crate) fn finish_with<T>(self, parsed: Result<T, FieldErrors>) -> ApiResult<T> {
        crate::extract::with_parsed(self.errors, parsed)
    }
}

impl FieldSource for FormReader<'_> {
    fn string(&mut self, name: &str) -> Option<String> {
        let value = self.form.get(name)?.trim();
        (!value.is_empty()).then(|| value.to_owned())
    }

    fn integer(&mut self, name: &str) -> Option<i64> {
        let value = self.string(name)?;
        value
            .parse()
            .ok()
            .or_else(|| self.fail(name, "must be an integer"))
    }

    fn time(&mut self, name: &str) -> Option<DateTime<Utc>> {
        let value = self.string(name)?;
        match common::time::from_input_value(&value, crate::locale::current().tz) {
            Ok(t) => Some(t),
            Err(problem) => self.fail(name, &problem.to_string()),
        }
    }
}

/// Ends a form post: `Ok(Ok(..))` saved, `Ok(Err(fields))` to show the form again with its
/// field errors, `Err` for the error page.
fn form_outcome<T>(result: ApiResult<T>) -> PageResult<Result<T, FieldErrors>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(ApiError::Validation { fields }) => Ok(Err(fields)),
        Err(e) => Err(e.into()),
    }
}

/// Back to `to` with the "Saved" notice.
fn saved(to: &str) -> Response {
    Redirect::to(&crate::auth::saved(to)).into_response()
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
pub(crate) async fn home(State(state): State<AppState>, parts: Parts) -> PageResult {
    let principal = match crate::auth::authenticate(&parts, &state).await? {
        Some(p) if p.session.is_some() => p,
        _ => return Ok(Redirect::to("/admin/login?next=/admin").into_response()),
    };
    if !principal.role.can(Permission::ManageCatalogue) {
        return Ok(Redirect::to(pages::landing_for(principal.role)).into_response());
    }
    let csrf = crate::auth::csrf_token(&state, principal.session.as_deref().unwrap_or_default());
    let mut conn = state.db.acquire().await?;
    let list = catalogue::list_all_performances(&mut conn).await?;
    let page = HomePage {
        nav: Nav::new(principal.role, csrf),
        performances: list.iter().map(PerformanceRow::of).collect(),
    };
    Ok(pages::render(StatusCode::OK, &page))
}
