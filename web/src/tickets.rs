//! Tickets as visitors and door staff meet them: `/t/{token}` (what the QR code opens), its
//! check-in button for logged-in staff. Cancelling with the cancel link is in `cancellation`.

use askama::Template;

use axum::{
    extract::{Path, State},
    http::StatusCode,
};

use base64::{Engine, engine::general_purpose::STANDARD};

use fast_qr::{
    ECL, QRBuilder,
    convert::{Builder, svg::SvgBuilder},
};

use common::{
    booking::ReservationStatus,
    checkin::{CheckedIn, CheckinError},
    short_code::ShortCode,
    tickets::{self, TicketView},
};

use crate::{
    auth::{self, StaffPage},
    error::{ApiError, ApiResult},
    locale,
    pages::{self, PageResult},
    state::AppState,
};

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    title: String,
    starts_at: String,
    starts_at_iso: String,
    room: String,
    party_size: i32,
    state: String,
    /// Present for logged-in door staff: the form to check the ticket in.
    checkin_csrf: Option<String>,
    token: String,
    /// The QR code (an SVG data URL) and the short code, while the ticket can still be used.
    codes: Option<(String, String)>,
    outcome: Option<(&'static str, String)>,
}

/// Whether door staff could still check this ticket in (time window aside).
fn can_check_in(ticket: &TicketView) -> bool {
    !ticket.revoked
        && ticket.status == ReservationStatus::Confirmed
        && ticket.checked_in_at.is_none()
}

/// The QR code of the ticket URL as an `<img>` source, the same code the e-mail carries.
fn qr_data_url(text: &str) -> Option<String> {
    let code = QRBuilder::new(text.as_bytes()).ecl(ECL::M).build().ok()?;
    // A quiet zone of four modules; the page's <img> sets the size.
    let svg = SvgBuilder::default().margin(4).to_str(&code);
    Some(format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(svg)
    ))
}

fn ticket_state(ticket: &TicketView) -> String {
    let id = if ticket.revoked || ticket.status == ReservationStatus::Cancelled {
        "ticket-not-valid"
    } else if ticket.status != ReservationStatus::Confirmed {
        "ticket-not-confirmed"
    } else if ticket.checked_in_at.is_some() {
        "ticket-used"
    } else {
        "ticket-valid"
    };
    locale::t(id)
}

async fn load_ticket(state: &AppState, token: &str) -> ApiResult<TicketView> {
    let mut conn = state.db.acquire().await?;
    let ticket = tickets::find_ticket(&mut conn, token).await?;
    ticket.ok_or_else(|| CheckinError::UnknownTicket.into())
}

fn page_for(
    state: &AppState,
    ticket: &TicketView,
    token: &str,
    checkin_csrf: Option<String>,
) -> TicketPage {
    let usable = can_check_in(ticket);
    let url = format!("{}/t/{token}", state.config.public_base_url);
    TicketPage {
        title: ticket.title.clone(),
        starts_at: locale::date_time(ticket.starts_at),
        starts_at_iso: ticket.starts_at.to_rfc3339(),
        room: ticket.room.clone(),
        party_size: ticket.party_size,
        state: ticket_state(ticket),
        checkin_csrf: checkin_csrf.filter(|_| usable),
        token: token.to_owned(),
        codes: usable
            .then(|| qr_data_url(&url))
            .flatten()
            .map(|qr| (qr, ShortCode::for_ticket(token).grouped())),
        outcome: None,
    }
}

pub(crate) async fn ticket_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    parts: axum::http::request::Parts,
) -> PageResult {
    let ticket = load_ticket(&state, &token).await?;
    // Door staff see a check-in button; everyone else a neutral page.
    let staff = auth::authenticate(&parts, &state).await.ok().flatten();
    let checkin_csrf = staff
        .filter(|p| p.role.can(common::auth::Permission::CheckIn))
        .and_then(|p| p.session)
        .map(|s| crate::auth::csrf_token(&state, &s));
    Ok(pages::render(
        StatusCode::OK,
        &page_for(&state, &ticket, &token, checkin_csrf),
    ))
}

pub(crate) async fn check_in_from_ticket_page(
    staff: StaffPage<auth::CheckIn>,
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> PageResult {
    let outcome =
        crate::checkin::record_check_in(&state, staff.principal.actor, &token, None, None).await;
    let ticket = load_ticket(&state, &token).await?;
    let (status, result) = match outcome {
        Ok(Ok(CheckedIn { party_size, .. })) => (
            StatusCode::OK,
            (
                "ok",
                locale::t1(
                    "checkin-done",
                    "people",
                    locale::t1("people", "count", party_size),
                ),
            ),
        ),
        Ok(Err(refused)) => {
            let words = checkin_words(&refused);
            let error = ApiError::from(refused);
            let words = words.unwrap_or_else(|| error_words(error.code()));
            (error.status(), ("error", words))
        }
        Err(error) => (error.status(), ("error", error_words(error.code()))),
    };
    let mut page = page_for(&state, &ticket, &token, Some(staff.csrf_token));
    page.outcome = Some(result);
    Ok(pages::render(status, &page))
}

/// A refused check-in in plain words, for the ticket page (`None`: the database failed).
fn checkin_words(refused: &CheckinError) -> Option<String> {
    Some(match refused {
        CheckinError::AlreadyCheckedIn { checked_in_at } => {
            locale::t1("checkin-already", "time", locale::clock(*checked_in_at))
        }
        CheckinError::UnknownTicket => locale::t("checkin-unknown"),
        CheckinError::NotValid => locale::t("checkin-cancelled"),
        CheckinError::WrongPerformance => locale::t("checkin-wrong-performance"),
        CheckinError::OutsideCheckinWindow => locale::t("checkin-outside-window"),
        CheckinError::Db(_) => return None,
    })
}

/// The title the error pages give `code`.
fn error_words(code: &str) -> String {
    let lang = locale::lang();
    let id = format!("error-{}-title", code.replace('_', "-"));
    if lang.has(&id) {
        lang.t(&id)
    } else {
        lang.t("error-internal-error-title")
    }
}
