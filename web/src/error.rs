//! `ApiError`: every way a JSON request can fail, the one place that maps outcomes to status
//! codes, and the contract's error body `{"error", "message", "fields"?}`.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use common::admin::{performances::PerformanceError, rooms::RoomError, staff::StaffError};
use common::validation::FieldErrors;
use common::waitlist::WaitlistError;
use common::{
    booking::BookingError, cancellation::CancelError, checkin::CheckinError,
    confirmation::ConfirmationError, tickets::ResendError,
};
use serde_json::{Map, Value, json};

/// The contract's error codes, the `error` member of every error body, each spelled here once.
/// The pages find their words by them, and metrics count outcomes by them.
pub mod codes {
    pub const UNAUTHENTICATED: &str = "unauthenticated";
    pub const FORBIDDEN: &str = "forbidden";
    pub const NOT_FOUND: &str = "not_found";
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    pub const VALIDATION_FAILED: &str = "validation_failed";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const SERVICE_UNAVAILABLE: &str = "service_unavailable";
    pub const INTERNAL_ERROR: &str = "internal_error";
    pub const BOOKING_CLOSED: &str = "booking_closed";
    pub const INSUFFICIENT_CAPACITY: &str = "insufficient_capacity";
    pub const INVALID_TOKEN: &str = "invalid_token";
    pub const TOKEN_EXPIRED: &str = "token_expired";
    pub const NOT_VALID: &str = "not_valid";
    pub const UNKNOWN_TICKET: &str = "unknown_ticket";
    pub const WRONG_PERFORMANCE: &str = "wrong_performance";
    pub const OUTSIDE_CHECKIN_WINDOW: &str = "outside_checkin_window";
    pub const ALREADY_CHECKED_IN: &str = "already_checked_in";
    pub const ALREADY_EXISTS: &str = "already_exists";
    pub const SEATS_AVAILABLE: &str = "seats_available";
    pub const OFFER_EXPIRED: &str = "offer_expired";
}

/// Result type of every JSON handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// A failed request, named by outcome.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication is required")]
    Unauthenticated,
    #[error("this account may not do that")]
    Forbidden,
    #[error("{message}")]
    NotFound {
        code: &'static str,
        message: &'static str,
    },
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: &'static str,
        /// Extra top-level members of the error body (e.g. the first `checked_in_at`).
        extra: Map<String, Value>,
    },
    #[error("{message}")]
    Gone {
        code: &'static str,
        message: &'static str,
    },
    #[error("the request is invalid")]
    Validation { fields: FieldErrors },
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: &'static str,
    },
    #[error("the request body is larger than allowed")]
    PayloadTooLarge,
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("too many requests; try again later")]
    RateLimited { retry_after_seconds: u64 },
    #[error("the service is temporarily unavailable; please try again in a moment")]
    ServiceUnavailable,
    #[error("internal error")]
    Internal(anyhow::Error),
}

/// Seconds a client is asked to wait while the database is unavailable.
const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 5;

impl From<anyhow::Error> for ApiError {
    /// A database outage anywhere in the cause chain is a 503, not a 500.
    fn from(e: anyhow::Error) -> ApiError {
        let unavailable = e
            .chain()
            .filter_map(|c| c.downcast_ref::<sqlx::Error>())
            .any(common::db::is_unavailable);
        if unavailable {
            ApiError::ServiceUnavailable
        } else {
            ApiError::Internal(e)
        }
    }
}

impl ApiError {
    /// A 422 for one field.
    pub fn field(name: &str, problem: &str) -> ApiError {
        ApiError::Validation {
            fields: FieldErrors::from([(name.to_owned(), problem.to_owned())]),
        }
    }

    /// The contract's plain 404.
    pub fn not_found() -> ApiError {
        ApiError::NotFound {
            code: codes::NOT_FOUND,
            message: "no such resource",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Gone { .. } => StatusCode::GONE,
            ApiError::Validation { .. } | ApiError::Unprocessable { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code under `error`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => codes::UNAUTHENTICATED,
            ApiError::Forbidden => codes::FORBIDDEN,
            ApiError::NotFound { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Gone { code, .. }
            | ApiError::Unprocessable { code, .. } => code,
            ApiError::Validation { .. } => codes::VALIDATION_FAILED,
            ApiError::PayloadTooLarge => codes::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => codes::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => codes::RATE_LIMITED,
            ApiError::ServiceUnavailable => codes::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => codes::INTERNAL_ERROR,
        }
    }

    /// The `Retry-After` seconds this outcome asks for, if any.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited {
                retry_after_seconds,
            } => Some((*retry_after_seconds).max(1)),
            ApiError::ServiceUnavailable => Some(UNAVAILABLE_RETRY_AFTER_SECONDS),
            _ => None,
        }
    }

    fn conflict(code: &'static str, message: &'static str) -> ApiError {
        ApiError::Conflict {
            code,
            message,
            extra: Map::new(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            // Logged once, here; the client gets a generic message.
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let mut body = json!({ "error": self.code(), "message": self.to_string() });
        match &self {
            ApiError::Validation { fields } => body["fields"] = json!(fields),
            ApiError::Conflict { extra, .. } => {
                for (k, v) in extra {
                    body[k] = v.clone();
                }
            }
            _ => {}
        }
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(seconds) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status() == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        anyhow::Error::from(e).into()
    }
}

impl From<BookingError> for ApiError {
    fn from(e: BookingError) -> ApiError {
        match e {
            BookingError::NotFound => ApiError::not_found(),
            BookingError::BookingClosed => ApiError::conflict(
                codes::BOOKING_CLOSED,
                "this performance is not open for booking",
            ),
            BookingError::PartyTooLarge { max } => ApiError::field(
                "party_size",
                &format!("must be between 1 and {max} for this performance"),
            ),
            BookingError::InsufficientCapacity => ApiError::conflict(
                codes::INSUFFICIENT_CAPACITY,
                "not enough seats are available",
            ),
            BookingError::Db(e) => e.into(),
        }
    }
}

impl From<ConfirmationError> for ApiError {
    fn from(e: ConfirmationError) -> ApiError {
        match e {
            ConfirmationError::InvalidToken => ApiError::NotFound {
                code: codes::INVALID_TOKEN,
                message: "this link is not valid",
            },
            ConfirmationError::TokenExpired => ApiError::Gone {
                code: codes::TOKEN_EXPIRED,
                message: "this confirmation link has expired; please book again",
            },
            ConfirmationError::InsufficientCapacity => ApiError::conflict(
                codes::INSUFFICIENT_CAPACITY,
                "not enough seats are left to confirm this reservation",
            ),
            ConfirmationError::BookingClosed => ApiError::conflict(
                codes::BOOKING_CLOSED,
                "this performance is cancelled or has already started",
            ),
            ConfirmationError::Db(e) => e.into(),
        }
    }
}

impl From<CancelError> for ApiError {
    fn from(e: CancelError) -> ApiError {
        match e {
            CancelError::InvalidToken => ApiError::NotFound {
                code: codes::INVALID_TOKEN,
                message: "this link is not valid",
            },
            CancelError::NotValid => ApiError::Conflict {
                code: codes::NOT_VALID,
                message: "a reservation that was checked in cannot be cancelled",
                extra: Map::new(),
            },
            CancelError::Db(e) => e.into(),
        }
    }
}

/// The code a refused check-in answers with (also its outcome in the check-in metric).
pub fn checkin_code(e: &CheckinError) -> &'static str {
    match e {
        CheckinError::UnknownTicket => codes::UNKNOWN_TICKET,
        CheckinError::WrongPerformance => codes::WRONG_PERFORMANCE,
        CheckinError::OutsideCheckinWindow => codes::OUTSIDE_CHECKIN_WINDOW,
        CheckinError::NotValid => codes::NOT_VALID,
        CheckinError::AlreadyCheckedIn { .. } => codes::ALREADY_CHECKED_IN,
        CheckinError::Db(e) if common::db::is_unavailable(e) => codes::SERVICE_UNAVAILABLE,
        CheckinError::Db(_) => codes::INTERNAL_ERROR,
    }
}

impl From<CheckinError> for ApiError {
    fn from(e: CheckinError) -> ApiError {
        let code = checkin_code(&e);
        match e {
            CheckinError::UnknownTicket => ApiError::NotFound {
                code,
                message: "no ticket with this code",
            },
            CheckinError::WrongPerformance => ApiError::Unprocessable {
                code,
                message: "this ticket is for another performance",
            },
            CheckinError::OutsideCheckinWindow => ApiError::Unprocessable {
                code,
                message: "check-in is not open for this performance now",
            },
            CheckinError::NotValid => {
                ApiError::conflict(code, "the reservation is cancelled or not confirmed")
            }
            CheckinError::AlreadyCheckedIn { checked_in_at } => ApiError::Conflict {
                code,
                message: "this ticket was already checked in",
                extra: Map::from_iter([("checked_in_at".to_owned(), json!(checked_in_at))]),
            },
            CheckinError::Db(e) => e.into(),
        }
    }
}

impl From<RoomError> for ApiError {
    fn from(e: RoomError) -> ApiError {
        match e {
            RoomError::NotFound => ApiError::not_found(),
            RoomError::NameTaken => ApiError::field("name", "a room with this name exists"),
            RoomError::Db(e) => e.into(),
        }
    }
}

impl From<PerformanceError> for ApiError {
    fn from(e: PerformanceError) -> ApiError {
        match e {
            PerformanceError::NotFound => ApiError::not_found(),
            PerformanceError::NoSuchRoom => ApiError::field("room_id", "no such room"),
            PerformanceError::Db(e) => e.into(),
        }
    }
}

impl From<StaffError> for ApiError {
    fn from(e: StaffError) -> ApiError {
        match e {
            StaffError::NotFound => ApiError::not_found(),
            StaffError::AlreadyExists => ApiError::conflict(
                codes::ALREADY_EXISTS,
                "a staff user with this e-mail address exists",
            ),
            StaffError::Db(e) => e.into(),
        }
    }
}

impl From<ResendError> for ApiError {
    fn from(e: ResendError) -> ApiError {
        match e {
            ResendError::NotFound => ApiError::not_found(),
            ResendError::NotConfirmed => ApiError::Conflict {
                code: codes::NOT_VALID,
                message: "only confirmed reservations have tickets",
                extra: Map::new(),
            },
            ResendError::Db(e) => e.into(),
        }
    }
}

impl From<WaitlistError> for ApiError {
    fn from(e: WaitlistError) -> ApiError {
        let conflict = |code, message| ApiError::Conflict {
            code,
            message,
            extra: Map::new(),
        };
        match e {
            WaitlistError::NotFound => ApiError::not_found(),
            WaitlistError::BookingClosed => conflict(
                codes::BOOKING_CLOSED,
                "this performance is not open for booking",
            ),
            WaitlistError::PartyTooLarge { max } => {
                ApiError::field("party_size", &format!("must be between 1 and {max} here"))
            }
            WaitlistError::SeatsAvailable => conflict(
                codes::SEATS_AVAILABLE,
                "enough seats are available now: please book instead",
            ),
            WaitlistError::InvalidToken => ApiError::NotFound {
                code: codes::INVALID_TOKEN,
                message: "this link is not valid",
            },
            WaitlistError::TokenExpired => ApiError::Gone {
                code: codes::TOKEN_EXPIRED,
                message: "this confirmation link has expired; please join again",
            },
            WaitlistError::OfferExpired => ApiError::Gone {
                code: codes::OFFER_EXPIRED,
                message: "this offer has expired; the seats went to the next in line",
            },
            WaitlistError::NotValid => conflict(
                codes::NOT_VALID,
                "this place became a reservation; use the ticket e-mail's link to cancel it",
            ),
            WaitlistError::InsufficientCapacity => conflict(
                codes::INSUFFICIENT_CAPACITY,
                "not enough seats are left to confirm this offer",
            ),
            WaitlistError::Db(e) => e.into(),
        }
    }
}
