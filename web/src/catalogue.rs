//! The public catalogue: upcoming performances with their booking status and free seats, as
//! JSON and as pages. Nothing here reveals anything about reservations but seat counts.

use askama::Template;
use axum::{Json, extract::State, http::StatusCode};
use chrono::Utc;
use std::collections::BTreeMap;

use common::booking::ReservationInput;
use common::catalogue::{self, BookingStatus, Performance};
use common::validation::FieldErrors;
use serde::Deserialize;
use serde::Serialize;
use uuid::Uuid;

use crate::{
    error::{ApiError, ApiResult},
    extract::PathId,
    locale,
    pages::{self, PageResult},
    state::AppState,
};

/// The public view of a performance.
#[derive(Serialize)]
pub(crate) struct PerformanceResponse {
    id: Uuid,
    title: String,
    starts_at: chrono::DateTime<Utc>,
    room: String,
    booking_status: &'static str,
    seats_available: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_party_size: Option<i32>,
    /// Counts only: nothing about who waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    waitlist: Option<WaitlistSummary>,
}

/// `"waitlist": {"open", "waiting"}` of the public detail.
#[derive(Serialize)]
struct WaitlistSummary {
    open: bool,
    waiting: i64,
}

impl PerformanceResponse {
    fn summary(p: &Performance) -> PerformanceResponse {
        PerformanceResponse {
            id: p.id,
            title: p.title.clone(),
            starts_at: p.starts_at,
            room: p.room_name.clone(),
            booking_status: p.booking_status(Utc::now()).as_str(),
            seats_available: p.seats_available(),
            description: None,
            max_party_size: None,
            waitlist: None,
        }
    }

    fn detail(p: &Performance) -> PerformanceResponse {
        PerformanceResponse {
            description: Some(p.description.clone()),
            max_party_size: Some(p.max_party_size),
            ..PerformanceResponse::summary(p)
        }
    }
}

pub(crate) async fn list_performances(
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<PerformanceResponse>>> {
    let mut conn = state.db.acquire().await?;
    let performances = catalogue::list_upcoming_performances(&mut conn).await?;
    Ok(Json(
        performances
            .iter()
            .map(PerformanceResponse::summary)
            .collect(),
    ))
}

pub(crate) async fn show_performance(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<Json<PerformanceResponse>> {
    let performance = load(&state, id).await?;
    let mut conn = state.db.acquire().await?;
    let counts = common::waitlist::count_entries(&mut conn, performance.id).await?;
    let mut response = PerformanceResponse::detail(&performance);
    response.waitlist = Some(WaitlistSummary {
        open: performance.booking_status(Utc::now()) == BookingStatus::Open,
        waiting: counts.waiting,
    });
    Ok(Json(response))
}

/// Loads a performance by the id in a URL; an unknown id is a 404.
pub async fn load(state: &AppState, id: Uuid) -> ApiResult<Performance> {
    let mut conn = state.db.acquire().await?;
    catalogue::find_performance(&mut conn, id)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// What a page shows of a performance.
pub struct PerformanceView {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    /// In the visitor's language and the configured zone.
    pub starts_at: String,
    /// RFC 3339 UTC, for `<time datetime>`.
    pub starts_at_iso: String,
    pub room: String,
    pub status: &'static str,
    pub seats_available: i64,
    pub max_party_size: i32,
}

impl PerformanceView {
    pub fn of(p: &Performance) -> PerformanceView {
        PerformanceView {
            id: p.id,
            title: p.title.clone(),
            description: p.description.clone(),
            starts_at: locale::date_time(p.starts_at),
            starts_at_iso: p.starts_at.to_rfc3339(),
            room: p.room_name.clone(),
            status: p.booking_status(Utc::now()).as_str(),
            seats_available: p.seats_available(),
            max_party_size: p.max_party_size,
        }
    }

    pub fn is_open(&self) -> bool {
        self.status == "open"
    }

    /// The booking status in words.
    pub fn status_label(&self) -> String {
        locale::t(&format!("status-{}", self.status))
    }

    /// Open but without a free seat: the page offers the waiting list instead.
    pub fn is_full(&self) -> bool {
        self.is_open() && self.seats_available == 0
    }
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    performances: Vec<PerformanceView>,
}

pub(crate) async fn index_page(State(state): State<AppState>) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let list = catalogue::list_upcoming_performances(&mut conn).await?;
    let page = IndexPage {
        performances: list.iter().map(PerformanceView::of).collect(),
    };
    Ok(pages::render(StatusCode::OK, &page))
}

/// The performance page with its booking form.
#[derive(Template)]
#[template(path = "performance.html")]
pub struct PerformancePage {
    pub performance: PerformanceView,
    pub form: BookingForm,
}

pub(crate) async fn performance_page(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> PageResult {
    let p = load(&state, id).await?;
    let page = PerformancePage {
        performance: PerformanceView::of(&p),
        form: BookingForm::default(),
    };
    Ok(pages::render(StatusCode::OK, &page))
}

/// The booking form's values and problems, kept so a visitor never retypes what was right.
#[derive(Debug, Default, Deserialize)]
pub struct BookingForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub party_size: String,
    #[serde(skip)]
    pub(crate) errors: FieldErrors,
    /// Names of posted fields the form does not have (`status`, `token`, …): refused, as the
    /// JSON API refuses unknown members.
    #[serde(skip)]
    pub unknown: Vec<String>,
}

impl BookingForm {
    /// The form as posted; fields it does not have are kept in `unknown`.
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> BookingForm {
        let mut form = BookingForm::default();
        for (name, value) in pairs {
            match name.as_str() {
                "name" => form.name = value,
                "email" => form.email = value,
                "phone" => form.phone = value,
                "notes" => form.notes = value,
                "party_size" => form.party_size = value,
                _ if !form.unknown.contains(&name) => form.unknown.push(name),
                _ => {}
            }
        }
        form
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty() || !self.unknown.is_empty()
    }

    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }

    pub(crate) fn input(&self) -> Result<ReservationInput, FieldErrors> {
        let party_size = match self.party_size.trim() {
            "" => None,
            n => Some(n.parse::<i64>().map_err(|_| {
                BTreeMap::from([("party_size".to_owned(), "must be a whole number".to_owned())])
            })?),
        };
        Ok(ReservationInput {
            name: Some(self.name.clone()),
            email: Some(self.email.clone()),
            phone: Some(self.phone.clone()),
            notes: Some(self.notes.clone()),
            party_size,
        })
    }
}
