//! Staff sessions: login and logout at `/admin/login`, a server-side session per login (the
//! cookie holds a random id, the database its hash), and CSRF tokens derived from the session
//! with HMAC-SHA256 under `SECRET_KEY`.

use askama::Template;
use axum::{
    Form, Router,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::auth;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::Sha256;

use crate::{
    AppState,
    error::ApiError,
    pages,
    rate_limit::{Login, Throttle},
};

/// Name of the session cookie.
pub const COOKIE: &str = "azione_session";

/// Routes of this capability.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/login", get(login_page).post(log_in))
        .route("/admin/logout", post(log_out))
}

/// The session cookie's value, if the request carries one.
pub fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The CSRF token of a session: forms carry it in `csrf_token`, JSON calls in `X-CSRF-Token`.
pub fn csrf_token(state: &AppState, session_id: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(state.config.secret_key.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length");
    mac.update(b"csrf:");
    mac.update(session_id.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Compares a presented CSRF token with the session's in constant time.
pub fn csrf_matches(state: &AppState, session_id: &str, presented: &str) -> bool {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(presented) else {
        return false;
    };
    let mut mac =
        Hmac::<Sha256>::new_from_slice(state.config.secret_key.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length");
    mac.update(b"csrf:");
    mac.update(session_id.as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

fn set_cookie(state: &AppState, value: &str, max_age_seconds: u64) -> HeaderValue {
    let secure = if state.config.is_https() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}{secure}"
    ))
    .expect("cookie value is ASCII")
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    email: String,
    next: String,
    error: Option<&'static str>,
}

#[derive(Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Only same-site paths are followed after login.
fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_owned()
    } else {
        "/admin".to_owned()
    }
}

async fn login_page(Query(q): Query<NextQuery>) -> Response {
    pages::render(
        StatusCode::OK,
        &LoginPage {
            email: String::new(),
            next: safe_next(&q.next),
            error: None,
        },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

async fn log_in(
    throttle: Result<Throttle<Login>, ApiError>,
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if let Err(e) = throttle {
        return pages::error_page(e);
    }
    let next = safe_next(&form.next);
    let refused = |error| {
        pages::render(
            StatusCode::UNAUTHORIZED,
            &LoginPage {
                email: form.email.clone(),
                next: next.clone(),
                error: Some(error),
            },
        )
    };
    if let Err(e) = state.login_throttle.check(&form.email) {
        return pages::error_page(e);
    }
    let outcome: Result<Option<(String, common::auth::Role)>, ApiError> = async {
        let mut conn = state.db.acquire().await?;
        let Some(staff) = auth::find_staff_for_login(&mut conn, form.email.trim()).await? else {
            // Spend the same time as a wrong password, so unknown accounts cannot be told apart.
            let _ = auth::verify_password(&form.password, &DUMMY_HASH);
            return Ok(None);
        };
        if !auth::verify_password(&form.password, &staff.password_hash) {
            return Ok(None);
        }
        // A new session id at every login: an id planted before login is worthless.
        if let Some(old) = cookie_value(&headers) {
            auth::delete_session(&mut conn, &old).await?;
        }
        let session =
            auth::create_session(&mut conn, staff.id, state.config.http.session_lifetime).await?;
        tracing::info!(staff.id = %staff.id, "staff logged in");
        Ok(Some((session.expose().to_owned(), staff.role)))
    }
    .await;
    match outcome {
        Ok(Some((session, role))) => {
            state.login_throttle.forget(&form.email);
            let to = if next == "/admin" {
                crate::admin::pages::landing_for(role)
            } else {
                &next
            };
            let mut response = Redirect::to(to).into_response();
            let max_age = state.config.http.session_lifetime.as_secs();
            response
                .headers_mut()
                .insert(header::SET_COOKIE, set_cookie(&state, &session, max_age));
            response
        }
        Ok(None) => {
            state.login_throttle.record_failure(&form.email);
            tracing::info!("staff login refused");
            refused("The e-mail address or password is not right.")
        }
        Err(e) => pages::error_page(e),
    }
}

/// A real argon2id hash, verified against when the account does not exist.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    auth::hash_password("no such account").expect("hash a constant password")
});

#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf_token: String,
}

async fn log_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    let Some(session) = cookie_value(&headers) else {
        return Redirect::to("/admin/login").into_response();
    };
    if !csrf_matches(&state, &session, &form.csrf_token) {
        return pages::error_page(ApiError::Forbidden);
    }
    let deleted: Result<(), ApiError> = async {
        let mut conn = state.db.acquire().await?;
        auth::delete_session(&mut conn, &session).await?;
        Ok(())
    }
    .await;
    if let Err(e) = deleted {
        return pages::error_page(e);
    }
    let mut response = Redirect::to("/admin/login").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&state, "", 0));
    response
}
