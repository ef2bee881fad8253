//! Confirmation: `POST /api/v1/reservations/confirm`, and the page behind the e-mailed link.
//! A GET only shows a button (mail scanners prefetch links); the POST runs the locked
//! transaction in `common::confirmation`.

use askama::Template;
use axum::{
    Form, Json,
    extract::{Query, State},
    http::StatusCode,
    response::Response,
};
use common::confirmation::{self, Confirmed};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    error::{ApiError, ApiResult},
    extract::{Fields, JsonObject, RequestId},
    pages::{self, MessagePage},
    rate_limit::{Confirm, Throttle},
    state::AppState,
};

/// Reads `{"token": "..."}`, the body of every token endpoint.
pub fn token_field(body: JsonObject) -> ApiResult<String> {
    let mut fields = Fields::new(body, &["token"]);
    let token = fields.string("token");
    let token = fields.require("token", token);
    fields.finish()?;
    Ok(token.unwrap_or_default())
}

pub(crate) async fn confirm_reservation(
    _: Throttle<Confirm>,
    request_id: RequestId,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    let token = token_field(body)?;
    confirm(&state, &token, request_id).await?;
    Ok(Json(json!({ "status": "confirmed" })))
}

async fn confirm(
    state: &AppState,
    token: &str,
    RequestId(request_id): RequestId,
) -> ApiResult<Confirmed> {
    let result: ApiResult<Confirmed> = async {
        let mut tx = state.db.begin().await?;
        let outcome = confirmation::confirm_reservation(
            &mut tx,
            token,
            state.config.jobs.max_attempts,
            request_id,
        )
        .await;
        match outcome {
            Ok(confirmed) => {
                if let Confirmed::Now(id) = confirmed {
                    crate::reminders::schedule(state, &mut tx, id).await?;
                }
                tx.commit().await?;
                Ok(confirmed)
            }
            Err(e) => {
                tx.rollback().await?;
                Err(e.into())
            }
        }
    }
    .await;
    let outcome = match &result {
        Ok(Confirmed::Now(id)) => {
            tracing::info!(reservation.id = %id, "reservation confirmed");
            "confirmed"
        }
        Ok(Confirmed::Already(_)) => "already_confirmed",
        Err(e) => e.code(),
    };
    state.metrics.inc(
        "azione_confirmations_total",
        "Confirmation attempts by outcome (insufficient_capacity: refused for lack of seats).",
        &[("outcome", outcome)],
    );
    result
}

/// `?token=` of the e-mailed links.
#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    pub token: String,
}

/// A page that only offers a button: a GET must never change anything.
#[derive(Template)]
#[template(path = "token_action.html")]
pub struct TokenActionPage {
    pub title: &'static str,
    pub text: &'static str,
    pub action: &'static str,
    pub button: &'static str,
    pub token: String,
}

pub(crate) async fn confirm_page(Query(query): Query<TokenQuery>) -> Response {
    pages::render(
        StatusCode::OK,
        &TokenActionPage {
            title: "Confirm your booking",
            text: "Press the button to confirm your reservation. We will then e-mail your ticket.",
            action: "/reservations/confirm",
            button: "Confirm my booking",
            token: query.token,
        },
    )
}

pub(crate) async fn submit_confirm_form(
    throttle: Result<Throttle<Confirm>, ApiError>,
    request_id: RequestId,
    State(state): State<AppState>,
    Form(form): Form<TokenQuery>,
) -> Response {
    let outcome = match throttle {
        Ok(_) => confirm(&state, &form.token, request_id).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => pages::render(
            StatusCode::OK,
            &MessagePage::ok(
                "Booking confirmed",
                "Your seats are reserved. Your ticket with its QR code is on its way by e-mail.",
            ),
        ),
        Err(e) => pages::error_page(e),
    }
}
