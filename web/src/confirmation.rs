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
use common::{
    confirmation::{self, Confirmed},
    subject,
    token::TokenPurpose,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    error::{ApiError, ApiResult},
    extract::{Fields, JsonObject, RequestId},
    locale,
    pages::{self, MessagePage, PageResult},
    rate_limit::{Confirm, Throttle},
    state::{AppState, in_transaction, on_own_task},
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
    let (state_for_task, token) = (state.clone(), token.to_owned());
    let result = on_own_task("confirmation", async move {
        let state = &state_for_task;
        in_transaction(&state.db, async |tx| {
            Ok(confirmation::confirm_reservation(
                tx,
                &token,
                state.config.jobs.max_attempts,
                state.config.booking.reminder_before,
                request_id,
            )
            .await?)
        })
        .await
    })
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

/// A page that only offers a button: a GET must never change anything. It names what the
/// button acts on, when the token is one of ours.
#[derive(Template)]
#[template(path = "token_action.html")]
pub struct TokenActionPage {
    pub title: String,
    /// The show, its local start and the seats, as `confirm-what` writes them.
    pub what: Option<String>,
    pub text: String,
    /// What pressing the button cannot undo.
    pub consequence: Option<String>,
    pub action: &'static str,
    pub button: String,
    /// A red button, for an action that cannot be undone.
    pub danger: bool,
    /// The way out without acting.
    pub keep: Option<String>,
    pub token: String,
}

async fn find_subject(
    state: &AppState,
    token: &str,
    purpose: TokenPurpose,
) -> Result<Option<subject::LinkSubject>, sqlx::Error> {
    let mut conn = state.db.acquire().await?;
    subject::find_link_subject(&mut conn, token, purpose).await
}

/// What a confirm or cancel link acts on, in words: `2 seats for "…" on …`. Nothing for a
/// token that is not ours; a failed look-up only leaves the description out.
pub async fn describe_link(state: &AppState, token: &str, purpose: TokenPurpose) -> Option<String> {
    let s = match find_subject(state, token, purpose).await {
        Ok(s) => s?,
        Err(e) => {
            tracing::warn!(error = %e, "look up what a link acts on");
            return None;
        }
    };
    Some(locale::lang().t_args(
        "confirm-what",
        [
            ("seats", locale::t1("seats", "count", s.party_size).into()),
            ("title", s.title.into()),
            ("when", locale::date_time(s.starts_at).into()),
            ("room", s.room.into()),
        ],
    ))
}

pub(crate) async fn confirm_page(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let what = describe_link(&state, &query.token, TokenPurpose::Confirm).await;
    pages::render(
        StatusCode::OK,
        &TokenActionPage {
            title: locale::t("confirm-title"),
            what,
            text: locale::t("confirm-text"),
            consequence: None,
            action: "/reservations/confirm",
            button: locale::t("confirm-button"),
            danger: false,
            keep: None,
            token: query.token,
        },
    )
}

pub(crate) async fn submit_confirm_form(
    throttle: Result<Throttle<Confirm>, ApiError>,
    request_id: RequestId,
    State(state): State<AppState>,
    Form(form): Form<TokenQuery>,
) -> PageResult {
    throttle?;
    confirm(&state, &form.token, request_id).await?;
    Ok(pages::render(
        StatusCode::OK,
        &MessagePage::ok(&locale::t("confirmed-title"), &locale::t("confirmed-text")),
    ))
}
