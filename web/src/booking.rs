//! Booking: `POST /api/v1/performances/{id}/reservations` and the form on the performance page.
//! Parse strictly, then one transaction writes the pending reservation and queues its
//! confirmation e-mail, then answer at once: SMTP is the worker's business.

use axum::{
    Form, Json,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use common::booking::{self, BookingError, EmailLimits, NewReservation, ReservationInput};
use common::validation::FieldErrors;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    catalogue::{self, BookingForm, PerformancePage, PerformanceView},
    error::{ApiError, ApiResult},
    extract::PathId,
    extract::{Fields, JsonObject, RequestId},
    pages::{self, MessagePage},
    rate_limit::{Booking, Throttle},
    state::AppState,
};

const FIELDS: [&str; 5] = ["name", "email", "phone", "notes", "party_size"];

pub(crate) async fn create_reservation(
    _: Throttle<Booking>,
    request_id: RequestId,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut fields = Fields::new(body, &FIELDS);
    let input = ReservationInput {
        name: fields.string("name"),
        email: fields.string("email"),
        phone: fields.string("phone"),
        notes: fields.string("notes"),
        party_size: fields.integer("party_size"),
    };
    let mut errors = fields.into_errors();
    let new = match NewReservation::parse(input) {
        Ok(new) if errors.is_empty() => new,
        Ok(_) => return Err(ApiError::Validation { fields: errors }),
        Err(domain) => {
            for (k, v) in domain {
                errors.entry(k).or_insert(v);
            }
            return Err(ApiError::Validation { fields: errors });
        }
    };
    let performance_id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found())?;
    book(&state, performance_id, &new, request_id).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": "pending" }))))
}

/// The one transaction of a booking. Over a per-address cap it writes nothing but answers
/// as for an accepted booking: the visitor cannot tell, so the caps reveal nothing about an
/// address.
async fn book(
    state: &AppState,
    performance_id: Uuid,
    new: &NewReservation,
    RequestId(request_id): RequestId,
) -> Result<(), BookingError> {
    let limits = &state.config.booking;
    let email_limits = if state.config.rate_limit.per_minute == 0 {
        EmailLimits {
            per_hour: 0,
            pending_per_performance: 0,
        }
    } else {
        EmailLimits {
            per_hour: limits.email_bookings_per_hour,
            pending_per_performance: limits.email_pending_per_performance,
        }
    };
    // On a task of its own: a client that hangs up must not cut the statement off halfway,
    // leaving its connection inside an open transaction that holds locks.
    let (db, new, max_attempts) = (
        state.db.clone(),
        new.clone(),
        state.config.jobs.max_attempts,
    );
    let result = tokio::spawn(async move {
        let mut conn = db.acquire().await?;
        booking::create_reservation(
            &mut conn,
            performance_id,
            &new,
            email_limits,
            max_attempts,
            request_id,
        )
        .await
    })
    .await
    .unwrap_or_else(|e| {
        Err(BookingError::Db(sqlx::Error::Protocol(format!(
            "booking task failed: {e}"
        ))))
    });
    let outcome = match &result {
        Ok(Some(id)) => {
            tracing::info!(reservation.id = %id, performance.id = %performance_id, "reservation pending");
            "accepted"
        }
        Ok(None) => {
            tracing::info!(performance.id = %performance_id, "booking over a per-address cap discarded");
            "address_cap"
        }
        Err(BookingError::NotFound) => "not_found",
        Err(BookingError::BookingClosed) => "booking_closed",
        Err(BookingError::PartyTooLarge { .. }) => "validation_failed",
        Err(BookingError::InsufficientCapacity) => "insufficient_capacity",
        Err(BookingError::Db(_)) => "error",
    };
    state.metrics.inc(
        "azione_bookings_total",
        "Booking attempts that reached the database, by outcome.",
        &[("outcome", outcome)],
    );
    result.map(|_| ())
}

pub(crate) async fn submit_booking_form(
    throttle: Result<Throttle<Booking>, ApiError>,
    request_id: RequestId,
    State(state): State<AppState>,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let mut form = BookingForm::from_pairs(pairs);
    if let Err(e) = throttle {
        return pages::error_page(e);
    }
    let performance = match catalogue::load(&state, id).await {
        Ok(p) => p,
        Err(e) => return pages::error_page(e),
    };
    let parsed = form.input().and_then(NewReservation::parse);
    let outcome = match parsed {
        _ if !form.unknown.is_empty() => Err(ApiError::Validation {
            fields: FieldErrors::new(),
        }),
        Ok(new) => book(&state, performance.id, &new, request_id)
            .await
            .map_err(ApiError::from),
        Err(fields) => Err(ApiError::Validation { fields }),
    };
    match outcome {
        Ok(_) => pages::render(
            StatusCode::ACCEPTED,
            &MessagePage::ok(
                "Check your e-mail",
                "We have sent you a link to confirm your booking. Your seats are held only once you confirm.",
            ),
        ),
        Err(ApiError::Validation { fields }) => {
            form.errors = fields;
            pages::render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &PerformancePage {
                    performance: PerformanceView::of(&performance),
                    form,
                },
            )
        }
        Err(e) => pages::error_page(e),
    }
}
