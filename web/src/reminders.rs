//! Reminders on the web side: a claimed offer schedules the reservation's reminder in its own
//! transaction (a confirmation queues it in its own statement, see
//! `common::confirmation`), and the ticket page offers the calendar file that the ticket and
//! reminder e-mails carry (`/t/{token}/calendar.ics`).

use axum::{
    extract::{Path, State},
    http::{StatusCode, header},
    response::IntoResponse,
};
use common::{booking::ReservationStatus, checkin::CheckinError, reminders, tickets};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{pages::PageResult, state::AppState};

/// Schedules the reminder of a reservation created by a claimed offer in the caller's
/// transaction.
pub async fn schedule(
    state: &AppState,
    conn: &mut PgConnection,
    reservation_id: Uuid,
) -> Result<(), sqlx::Error> {
    reminders::schedule(
        conn,
        reservation_id,
        state.config.booking.reminder_before,
        state.config.jobs.max_attempts,
    )
    .await
}

pub(crate) async fn download_calendar(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let ticket = tickets::find_ticket(&mut conn, &token)
        .await?
        .filter(|t| !t.revoked && t.status == ReservationStatus::Confirmed)
        .ok_or(CheckinError::UnknownTicket)?;
    let base = &state.config.public_base_url;
    let ics = reminders::ics(
        &reminders::CalendarEvent {
            reservation_id: ticket.reservation_id,
            title: &ticket.title,
            starts_at: ticket.starts_at,
            room: &ticket.room,
            seats: crate::locale::t1("seats", "count", ticket.party_size),
            url: &format!("{base}/performances/{}", ticket.performance_id),
            tz: state.config.locale.timezone,
        },
        base,
    );
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"event.ics\"",
            ),
        ],
        ics,
    )
        .into_response())
}
