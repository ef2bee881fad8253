//! Tickets as visitors and door staff meet them: `/t/{token}` (what the QR code opens), its
//! check-in button for logged-in staff, and cancellation through the e-mailed cancel link.

use askama::Template;
use axum::{
    Form, Json,
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};
use common::{
    booking::ReservationStatus,
    checkin::CheckedIn,
    tickets::{self, CancelError, TicketView},
};
use serde_json::{Map, Value, json};

use crate::{
    auth::{self, StaffPage},
    confirmation::{TokenActionPage, TokenQuery, token_field},
    error::{ApiError, ApiResult},
    extract::JsonObject,
    pages::{self, MessagePage, format_time},
    rate_limit::{Cancel, Throttle},
    state::AppState,
};

impl From<CancelError> for ApiError {
    fn from(e: CancelError) -> ApiError {
        match e {
            CancelError::InvalidToken => ApiError::NotFound {
                code: "invalid_token",
                message: "this link is not valid",
            },
            CancelError::NotValid => ApiError::Conflict {
                code: "not_valid",
                message: "a reservation that was checked in cannot be cancelled",
                extra: Map::new(),
            },
            CancelError::Db(e) => e.into(),
        }
    }
}

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    title: String,
    starts_at: String,
    room: String,
    party_size: i32,
    state: &'static str,
    /// Present for logged-in door staff: the form to check the ticket in.
    checkin_csrf: Option<String>,
    token: String,
    outcome: Option<(&'static str, String)>,
}

fn ticket_state(ticket: &TicketView) -> &'static str {
    if ticket.revoked || ticket.status == ReservationStatus::Cancelled {
        "This ticket is not valid."
    } else if ticket.status != ReservationStatus::Confirmed {
        "This reservation is not confirmed."
    } else if ticket.checked_in_at.is_some() {
        "This ticket has been used."
    } else {
        "Show this ticket at the door."
    }
}

async fn load_ticket(state: &AppState, token: &str) -> ApiResult<TicketView> {
    let mut conn = state.db.acquire().await?;
    tickets::find_ticket(&mut conn, token)
        .await?
        .ok_or(ApiError::NotFound {
            code: "unknown_ticket",
            message: "no ticket with this code",
        })
}

fn page_for(ticket: &TicketView, token: &str, checkin_csrf: Option<String>) -> TicketPage {
    TicketPage {
        title: ticket.title.clone(),
        starts_at: format_time(ticket.starts_at),
        room: ticket.room.clone(),
        party_size: ticket.party_size,
        state: ticket_state(ticket),
        checkin_csrf,
        token: token.to_owned(),
        outcome: None,
    }
}

pub(crate) async fn ticket_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    parts: axum::http::request::Parts,
) -> Response {
    let ticket = match load_ticket(&state, &token).await {
        Ok(t) => t,
        Err(e) => return pages::error_page(e),
    };
    // Door staff see a check-in button; everyone else a neutral page.
    let staff = auth::authenticate(&parts, &state).await.ok().flatten();
    let checkin_csrf = staff
        .filter(|p| p.role.can(common::auth::Permission::CheckIn))
        .and_then(|p| p.session)
        .map(|s| crate::auth::csrf_token(&state, &s));
    pages::render(StatusCode::OK, &page_for(&ticket, &token, checkin_csrf))
}

pub(crate) async fn check_in_from_ticket_page(
    staff: StaffPage<auth::CheckIn>,
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Response {
    let outcome =
        crate::checkin::record_check_in(&state, staff.principal.actor, &token, None, None).await;
    let ticket = match load_ticket(&state, &token).await {
        Ok(t) => t,
        Err(e) => return pages::error_page(e),
    };
    let (status, result) = match outcome {
        Ok(CheckedIn { party_size, .. }) => (
            StatusCode::OK,
            ("ok", format!("Checked in: {party_size} people.")),
        ),
        Err(ApiError::Conflict { extra, .. }) if extra.contains_key("checked_in_at") => {
            let at = extra["checked_in_at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.format("%H:%M").to_string())
                .unwrap_or_default();
            (
                StatusCode::CONFLICT,
                ("error", format!("Already checked in at {at} UTC.")),
            )
        }
        Err(e) => (e.status(), ("error", e.to_string())),
    };
    let mut page = page_for(&ticket, &token, Some(staff.csrf_token));
    page.outcome = Some(result);
    pages::render(status, &page)
}

pub(crate) async fn cancel_reservation(
    _: Throttle<Cancel>,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    let token = token_field(body)?;
    cancel(&state, &token).await?;
    Ok(Json(json!({ "status": "cancelled" })))
}

async fn cancel(state: &AppState, token: &str) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    match tickets::cancel_reservation(&mut tx, token).await {
        Ok((id, now)) => {
            tx.commit().await?;
            if now {
                tracing::info!(reservation.id = %id, "reservation cancelled");
            }
            Ok(())
        }
        Err(e) => {
            tx.rollback().await?;
            Err(e.into())
        }
    }
}

pub(crate) async fn cancel_page(Query(query): Query<TokenQuery>) -> Response {
    pages::render(
        StatusCode::OK,
        &TokenActionPage {
            title: "Cancel your reservation",
            text: "Press the button to cancel your reservation and give your seats back. This cannot be undone.",
            action: "/reservations/cancel",
            button: "Cancel my reservation",
            token: query.token,
        },
    )
}

pub(crate) async fn submit_cancel_form(
    throttle: Result<Throttle<Cancel>, ApiError>,
    State(state): State<AppState>,
    Form(form): Form<TokenQuery>,
) -> Response {
    let outcome = match throttle {
        Ok(_) => cancel(&state, &form.token).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => pages::render(
            StatusCode::OK,
            &MessagePage::ok(
                "Reservation cancelled",
                "Your seats are free again. Thank you for letting us know.",
            ),
        ),
        Err(e) => pages::error_page(e),
    }
}
