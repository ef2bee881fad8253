//! Booking: `POST /api/v1/performances/{id}/reservations` and the form on the performance page.
//! Parse strictly, then one transaction writes the pending reservation and queues its
//! confirmation e-mail, then answer at once: SMTP is the worker's business.

use axum::{Form, Json, extract::State, http::StatusCode};
use common::booking::{self, BookingError, EmailLimits, NewReservation, ReservationInput};
use common::catalogue::Performance;
use common::locale::Language;
use common::validation::FieldErrors;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    catalogue::{self, BookingForm, PerformancePage, PerformanceView},
    error::{ApiError, ApiResult, codes},
    extract::PathId,
    extract::{Fields, JsonObject, RequestId},
    locale,
    pages::{self, MessagePage, PageResult},
    rate_limit::{Booking, Throttle},
    state::{AppState, on_own_task},
};

const FIELDS: [&str; 5] = ["name", "email", "phone", "notes", "party_size"];

pub(crate) async fn create_reservation(
    _: Throttle<Booking>,
    request_id: RequestId,
    State(state): State<AppState>,
    PathId(performance_id): PathId,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let new = parse_body(body)?;
    book(&state, performance_id, &new, locale::lang(), request_id).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": "pending" }))))
}

/// The booking body (also the waiting list's), validated: every problem at once.
pub fn parse_body(body: JsonObject) -> ApiResult<NewReservation> {
    let mut fields = Fields::new(body, &FIELDS);
    let input = ReservationInput {
        name: fields.string("name"),
        email: fields.string("email"),
        phone: fields.string("phone"),
        notes: fields.string("notes"),
        party_size: fields.integer("party_size"),
    };
    fields.finish_with(NewReservation::parse(input))
}

/// The per-address caps in force (none when rate limits are off).
pub fn email_limits(state: &AppState) -> EmailLimits {
    let limits = &state.config.booking;
    if state.config.rate_limit.per_minute == 0 {
        EmailLimits {
            per_hour: 0,
            pending_per_performance: 0,
        }
    } else {
        EmailLimits {
            per_hour: limits.email_bookings_per_hour,
            pending_per_performance: limits.email_pending_per_performance,
        }
    }
}

/// The one statement of a booking. Over a per-address cap it writes nothing but answers
/// as for an accepted booking: the visitor cannot tell, so the caps reveal nothing about an
/// address.
async fn book(
    state: &AppState,
    performance_id: Uuid,
    new: &NewReservation,
    language: Language,
    RequestId(request_id): RequestId,
) -> Result<(), BookingError> {
    let email_limits = email_limits(state);
    let (db, new, max_attempts) = (
        state.db.clone(),
        new.clone(),
        state.config.jobs.max_attempts,
    );
    let result = on_own_task("booking", async move {
        let mut conn = db.acquire().await?;
        booking::create_reservation(
            &mut conn,
            performance_id,
            &new,
            language,
            email_limits,
            max_attempts,
            request_id,
        )
        .await
    })
    .await;
    let outcome = match &result {
        Ok(Some(id)) => {
            tracing::info!(reservation.id = %id, performance.id = %performance_id, "reservation pending");
            "accepted"
        }
        Ok(None) => {
            tracing::info!(performance.id = %performance_id, "booking over a per-address cap discarded");
            "address_cap"
        }
        Err(BookingError::NotFound) => codes::NOT_FOUND,
        Err(BookingError::BookingClosed) => codes::BOOKING_CLOSED,
        Err(BookingError::PartyTooLarge { .. }) => codes::VALIDATION_FAILED,
        Err(BookingError::InsufficientCapacity) => codes::INSUFFICIENT_CAPACITY,
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
) -> PageResult {
    let submit = async |state: &AppState, performance_id, new: &NewReservation| {
        book(state, performance_id, new, locale::lang(), request_id)
            .await
            .map_err(ApiError::from)
    };
    let done = |performance: &Performance, seats: i32| {
        let mut page = MessagePage::ok(
            &locale::t("booking-sent-title"),
            &locale::lang().t_args(
                "booking-sent-text",
                [
                    ("seats", locale::t1("seats", "count", seats).into()),
                    ("title", performance.title.as_str().into()),
                    ("when", locale::date_time(performance.starts_at).into()),
                ],
            ),
        );
        page.details.push(locale::t("booking-sent-nothing"));
        page
    };
    handle_form(&state, throttle.map(|_| ()), id, pairs, submit, done).await
}

/// A posted booking-style form (the booking form, the waiting list's): validates it, hands it to
/// `submit`, and answers with the page `done` makes for the performance and the seats asked, the form again with its problems, or an error page.
pub(crate) async fn handle_form(
    state: &AppState,
    throttle: ApiResult<()>,
    id: Uuid,
    pairs: Vec<(String, String)>,
    submit: impl AsyncFnOnce(&AppState, Uuid, &NewReservation) -> ApiResult<()>,
    done: impl FnOnce(&Performance, i32) -> MessagePage,
) -> PageResult {
    let mut form = BookingForm::from_pairs(pairs);
    throttle?;
    let performance = catalogue::load(state, id).await?;
    let parsed = form.input().and_then(NewReservation::parse);
    let mut seats = 0;
    let outcome = match parsed {
        _ if !form.unknown.is_empty() => Err(ApiError::Validation {
            fields: FieldErrors::new(),
        }),
        Ok(new) => {
            seats = new.party_size();
            submit(state, performance.id, &new).await
        }
        Err(fields) => Err(ApiError::Validation { fields }),
    };
    match outcome {
        Ok(()) => Ok(pages::render(
            StatusCode::ACCEPTED,
            &done(&performance, seats),
        )),
        Err(ApiError::Validation { fields }) => {
            form.errors = fields
                .into_iter()
                .map(|(field, problem)| {
                    let words = field_error_words(&field, &problem, performance.max_party_size);
                    (field, words)
                })
                .collect();
            Ok(pages::render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &PerformancePage {
                    performance: PerformanceView::of(&performance),
                    form,
                },
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// A field problem as the booking form tells it, in the visitor's language: the catalogue's
/// `error-FIELD-KIND`, where KIND is read from the API's problem text.
fn field_error_words(field: &str, problem: &str, max_party_size: i32) -> String {
    let kind = match problem {
        "is required" => "required",
        p if p.contains("control characters") => "control",
        p if p.starts_with("must be at most 100") || p.starts_with("must be at most 1000") => {
            "too-long"
        }
        p if p.starts_with("must be at most 32 digits") => "invalid",
        "must be a valid e-mail address" | "must be a whole number" => "invalid",
        _ if field == "party_size" => "range",
        _ => "invalid",
    };
    let lang = locale::lang();
    let id = format!("error-{}-{kind}", field.replace('_', "-"));
    if lang.has(&id) {
        lang.t1(&id, "max", max_party_size)
    } else {
        lang.t("error-field-invalid")
    }
}
