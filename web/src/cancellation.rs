//! Cancellation: `POST /api/v1/reservations/cancel` and the `/reservations/cancel` page, both
//! with the cancel token from the ticket e-mail.

use crate::{
    confirmation::{TokenActionPage, TokenQuery, describe_link, token_field},
    error::{ApiError, ApiResult},
    extract::JsonObject,
    locale,
    pages::{self, MessagePage, PageResult},
    rate_limit::{Cancel, Throttle},
    state::AppState,
};
use axum::{
    Form, Json,
    extract::{Query, State},
    http::StatusCode,
    response::Response,
};
use common::{cancellation, token::TokenPurpose};
use serde_json::{Value, json};

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
    match cancellation::cancel_reservation(&mut tx, token).await {
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

pub(crate) async fn cancel_page(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let what = describe_link(&state, &query.token, TokenPurpose::Cancel).await;
    pages::render(
        StatusCode::OK,
        &TokenActionPage {
            title: locale::t("cancel-title"),
            what,
            text: locale::t("cancel-text"),
            consequence: Some(locale::t("cancel-consequence")),
            action: "/reservations/cancel",
            button: locale::t("cancel-button"),
            danger: true,
            keep: Some(locale::t("cancel-keep")),
            token: query.token,
        },
    )
}

pub(crate) async fn submit_cancel_form(
    throttle: Result<Throttle<Cancel>, ApiError>,
    State(state): State<AppState>,
    Form(form): Form<TokenQuery>,
) -> PageResult {
    throttle?;
    cancel(&state, &form.token).await?;
    Ok(pages::render(
        StatusCode::OK,
        &MessagePage::ok(&locale::t("cancelled-title"), &locale::t("cancelled-text")),
    ))
}
