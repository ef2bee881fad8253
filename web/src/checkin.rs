//! Check-in at the door: `POST /api/v1/checkin` for scanners and the door page, and `/checkin`,
//! the page door staff use on a phone. The locked transaction lives in `common::checkin`.

use askama::Template;

use axum::{Json, extract::State, http::StatusCode};

use chrono::Utc;

use common::{
    auth::Actor,
    catalogue::{self, Performance},
    checkin::{self, CheckedIn, CheckinError, CheckinRequest, DoorCounts},
    short_code::ShortCode,
    token::TokenHash,
};

use serde::Serialize;

use uuid::Uuid;

use crate::{
    auth::{self, CheckinStaff, StaffPage},
    error::{ApiResult, checkin_code},
    extract::PathId,
    extract::{Fields, JsonObject},
    pages::{self, PageResult, format_time},
    state::{AppState, on_own_task},
};

/// The ticket token in what a scanner read: the raw token or `{PUBLIC_BASE_URL}/t/{token}`.
pub fn ticket_token<'a>(state: &AppState, scanned: &'a str) -> &'a str {
    let scanned = scanned.trim();
    let prefix = format!("{}/t/", state.config.public_base_url);
    scanned
        .strip_prefix(&prefix)
        .map(|rest| rest.trim_end_matches('/'))
        .unwrap_or(scanned)
}

pub(crate) async fn check_in(
    staff: CheckinStaff,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<Json<CheckedIn>> {
    let mut fields = Fields::new(body, &["token", "performance_id", "nonce"]);
    let token = fields.string("token");
    let token = fields.require("token", token);
    let performance_id =
        fields
            .string("performance_id")
            .and_then(|id| match Uuid::parse_str(&id) {
                Ok(id) => Some(id),
                Err(_) => fields.fail("performance_id", "must be a performance id"),
            });
    let nonce = fields.string("nonce").and_then(|n| {
        if n.is_empty() || n.chars().count() > 64 {
            fields.fail("nonce", "must be 1 to 64 characters")
        } else {
            Some(n)
        }
    });
    fields.finish()?;
    let token = token.unwrap_or_default();
    let outcome = record_check_in(
        &state,
        staff.principal.actor,
        ticket_token(&state, &token),
        performance_id,
        nonce.as_deref(),
    )
    .await??;
    Ok(Json(outcome))
}

/// The check-in (one statement, see `common::checkin`), shared by the API and the ticket page's
/// button. The outer error refuses the request (too many wrong short codes); the inner one is
/// the ticket's outcome, typed, so that callers can tell it apart before it becomes an answer.
pub async fn record_check_in(
    state: &AppState,
    actor: Actor,
    token: &str,
    performance_id: Option<Uuid>,
    nonce: Option<&str>,
) -> ApiResult<Result<CheckedIn, CheckinError>> {
    // A typed short code has only 50 bits: each credential gets few wrong guesses.
    let short_code = TokenHash::parse(token).is_none() && ShortCode::parse(token).is_some();
    let credential = actor.label();
    if short_code {
        state.rate_limits.check_short_code(&credential)?;
    }
    let db = state.db.clone();
    let (token, nonce) = (token.to_owned(), nonce.map(str::to_owned));
    let label = credential.clone();
    let result: Result<CheckedIn, CheckinError> = on_own_task("check-in", async move {
        let mut conn = db.acquire().await?;
        let request = CheckinRequest {
            token: &token,
            performance_id,
            nonce: nonce.as_deref(),
            actor,
        };
        let outcome = checkin::check_in(&mut conn, request, &label).await?;
        tracing::info!(performance.id = %outcome.performance.id, "ticket checked in");
        Ok(outcome)
    })
    .await;
    if short_code && matches!(result, Err(CheckinError::UnknownTicket)) {
        state.rate_limits.short_code_failed(&credential);
    }
    let outcome = match &result {
        Ok(_) => "checked_in",
        Err(e) => checkin_code(e),
    };
    if result.is_err() {
        tracing::info!(outcome, "check-in refused");
    }
    state.metrics.inc(
        "azione_checkins_total",
        "Check-in attempts by outcome.",
        &[("outcome", outcome)],
    );
    Ok(result)
}

/// A performance as the door sees it.
#[derive(Serialize)]
pub(crate) struct DoorPerformance {
    id: Uuid,
    title: String,
    starts_at: chrono::DateTime<Utc>,
    room: String,
    checkin_open: bool,
    #[serde(flatten)]
    counts: DoorCounts,
}

async fn door_view(state: &AppState, p: &Performance) -> ApiResult<DoorPerformance> {
    let mut conn = state.db.acquire().await?;
    let (opens, closes) = p.checkin_window();
    let now = Utc::now();
    Ok(DoorPerformance {
        id: p.id,
        title: p.title.clone(),
        starts_at: p.starts_at,
        room: p.room_name.clone(),
        checkin_open: opens <= now && now <= closes,
        counts: checkin::door_counts(&mut conn, p.id).await?,
    })
}

/// Performances whose check-in window is open now or opens within the next 24 hours.
async fn todays_performances(state: &AppState) -> ApiResult<Vec<Performance>> {
    let mut conn = state.db.acquire().await?;
    let now = Utc::now();
    let all = catalogue::list_all_performances(&mut conn).await?;
    Ok(all
        .into_iter()
        .filter(|p| {
            let (opens, closes) = p.checkin_window();
            closes >= now && opens <= now + chrono::Duration::hours(24)
        })
        .rev()
        .collect())
}

pub(crate) async fn door_performances(
    _: CheckinStaff,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<DoorPerformance>>> {
    let mut views = Vec::new();
    for p in todays_performances(&state).await? {
        views.push(door_view(&state, &p).await?);
    }
    Ok(Json(views))
}

pub(crate) async fn door_performance(
    _: CheckinStaff,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<Json<DoorPerformance>> {
    let performance = crate::catalogue::load(&state, id).await?;
    Ok(Json(door_view(&state, &performance).await?))
}

/// One option of the performance picker.
struct DoorOption {
    id: Uuid,
    label: String,
}

#[derive(Template)]
#[template(path = "checkin.html")]
struct DoorPage {
    csrf_token: String,
    performances: Vec<DoorOption>,
    base_url: String,
    /// `TIMEZONE`, so the page shows check-in times as the theatre's clock, not the device's.
    time_zone: &'static str,
}

pub(crate) async fn door_page(
    staff: StaffPage<auth::CheckIn>,
    State(state): State<AppState>,
) -> PageResult {
    let list = todays_performances(&state).await?;
    let page = DoorPage {
        csrf_token: staff.csrf_token,
        performances: list
            .iter()
            .map(|p| DoorOption {
                id: p.id,
                label: format!(
                    "{} · {} · {}",
                    format_time(p.starts_at),
                    p.title,
                    p.room_name
                ),
            })
            .collect(),
        base_url: state.config.public_base_url.clone(),
        time_zone: state.config.locale.timezone.name(),
    };
    Ok(pages::render(StatusCode::OK, &page))
}
