//! Tickets as visitors and door staff meet them: `/t/{token}` (what the QR code opens), its
//! check-in button for logged-in staff. Cancelling with the cancel link is in `cancellation`.

use askama::Template;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};

use common::{
    booking::ReservationStatus,
    checkin::CheckedIn,
    tickets::{self, TicketView},
};

use crate::{
    auth::{self, StaffPage},
    error::{ApiError, ApiResult},
    pages::{self, format_time},
    state::AppState,
};

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
