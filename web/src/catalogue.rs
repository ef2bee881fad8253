//! The public catalogue: upcoming performances with their booking status and free seats, as
//! JSON and as pages. Nothing here reveals anything about reservations but seat counts.

use askama::Template;
use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
    routing::get,
};
use chrono::Utc;
use common::catalogue::{self, BookingStatus, Performance};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    AppState,
    booking::BookingForm,
    error::{ApiError, ApiResult},
    pages::{self, format_time},
};

/// Routes of this capability.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/performances", get(list_performances))
        .route("/api/v1/performances/{id}", get(show_performance))
        .route("/", get(index_page))
        .route("/performances/{id}", get(performance_page))
}

/// The public view of a performance.
#[derive(Serialize)]
struct PerformanceResponse {
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

async fn list_performances(
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

async fn show_performance(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<PerformanceResponse>> {
    let performance = load(&state, &id).await?;
    let mut conn = state.db.acquire().await?;
    let counts = common::waitlist::count_entries(&mut conn, performance.id).await?;
    let mut response = PerformanceResponse::detail(&performance);
    response.waitlist = Some(WaitlistSummary {
        open: performance.booking_status(Utc::now()) == BookingStatus::Open,
        waiting: counts.waiting,
    });
    Ok(Json(response))
}

/// Loads a performance by the id in a URL; anything that is not a known id is a 404.
pub async fn load(state: &AppState, id: &str) -> ApiResult<Performance> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::not_found())?;
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
    pub starts_at: String,
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
            starts_at: format_time(p.starts_at),
            room: p.room_name.clone(),
            status: p.booking_status(Utc::now()).as_str(),
            seats_available: p.seats_available(),
            max_party_size: p.max_party_size,
        }
    }

    pub fn is_open(&self) -> bool {
        self.status == "open"
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

async fn index_page(State(state): State<AppState>) -> Response {
    let result: ApiResult<Vec<Performance>> = async {
        let mut conn = state.db.acquire().await?;
        Ok(catalogue::list_upcoming_performances(&mut conn).await?)
    }
    .await;
    match result {
        Ok(list) => pages::render(
            StatusCode::OK,
            &IndexPage {
                performances: list.iter().map(PerformanceView::of).collect(),
            },
        ),
        Err(e) => pages::error_page(e),
    }
}

/// The performance page with its booking form.
#[derive(Template)]
#[template(path = "performance.html")]
pub struct PerformancePage {
    pub performance: PerformanceView,
    pub form: BookingForm,
}

async fn performance_page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match load(&state, &id).await {
        Ok(p) => pages::render(
            StatusCode::OK,
            &PerformancePage {
                performance: PerformanceView::of(&p),
                form: BookingForm::default(),
            },
        ),
        Err(e) => pages::error_page(e),
    }
}
