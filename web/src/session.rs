//! Staff sessions: login and logout at `/admin/login`, a server-side session per login (the
//! cookie holds a random id, the database its hash), and CSRF tokens derived from the session
//! with HMAC-SHA256 under `SECRET_KEY` (see `auth`).

use askama::Template;
use axum::{
    Form,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use common::auth;
use serde::Deserialize;

use crate::{
    auth::COOKIE,
    error::{ApiError, ApiResult},
    pages::{self, PageResult},
    rate_limit::{LOGIN_FAILURE_WINDOW, LOGIN_FAILURES_ALLOWED, Login, Throttle},
    state::AppState,
};

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
pub(crate) struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Pages a login may lead to; anything else goes to the landing page.
const PAGES_AFTER_LOGIN: [&str; 4] = ["/admin", "/checkin", "/ops/", "/t/"];

/// Only a path of one of our staff pages is followed after login: one leading `/`, no
/// backslash, whitespace or control character (browsers drop a tab in `/\t/evil.example` and
/// read `//evil.example`, another site).
fn safe_next(next: &str) -> String {
    let clean = next.starts_with('/')
        && !next.starts_with("//")
        && !next
            .chars()
            .any(|c| c == '\\' || c.is_whitespace() || c.is_control());
    let ours = PAGES_AFTER_LOGIN.iter().any(|page| {
        next.strip_prefix(page).is_some_and(|rest| {
            page.ends_with('/') || rest.is_empty() || rest.starts_with(['/', '?'])
        })
    });
    if clean && ours {
        next.to_owned()
    } else {
        "/admin".to_owned()
    }
}

/// False for a request another site made the browser send. `Sec-Fetch-Site` decides where
/// the browser sends it (every current one does); otherwise an `Origin` other than ours.
/// Our pages say `Referrer-Policy: no-referrer`, which makes browsers send `Origin: null` for
/// our own forms, so `null` alone does not refuse. Requests with neither header (non-browser
/// clients) pass.
pub fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let base = &state.config.public_base_url;
    let host_at = base.find("://").map_or(0, |i| i + 3);
    let ours = &base[..base[host_at..]
        .find('/')
        .map_or(base.len(), |i| host_at + i)];
    headers
        .get(header::ORIGIN)
        .is_none_or(|origin| origin.to_str().is_ok_and(|o| o == ours || o == "null"))
}

pub(crate) async fn login_page(Query(q): Query<NextQuery>) -> Response {
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
pub(crate) struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

pub(crate) async fn log_in(
    throttle: Result<Throttle<Login>, ApiError>,
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> PageResult {
    throttle?;
    // Another site must not log the browser into an account of its choosing.
    if !same_origin(&state, &headers) {
        return Err(ApiError::Forbidden.into());
    }
    let next = safe_next(&form.next);
    match check_login(&state, &headers, &form).await? {
        Some((session, role)) => {
            let to = if next == "/admin" {
                pages::landing_for(role)
            } else {
                &next
            };
            let mut response = Redirect::to(to).into_response();
            let max_age = state.config.http.session_lifetime.as_secs();
            response
                .headers_mut()
                .insert(header::SET_COOKIE, set_cookie(&state, &session, max_age));
            Ok(response)
        }
        None => {
            tracing::info!("staff login refused");
            Ok(pages::render(
                StatusCode::UNAUTHORIZED,
                &LoginPage {
                    email: form.email.clone(),
                    next,
                    error: Some("The e-mail address or password is not right."),
                },
            ))
        }
    }
}

/// Checks a login and opens a session: its raw id and the user's role, or `None` for a wrong
/// address or password (the same answer for both).
async fn check_login(
    state: &AppState,
    headers: &HeaderMap,
    form: &LoginForm,
) -> ApiResult<Option<(String, common::auth::Role)>> {
    let email = form.email.trim();
    let mut conn = state.db.acquire().await?;
    // Counted before the password is checked: concurrent guesses cannot overtake the lock.
    let locked = auth::reserve_login_attempt(
        &mut conn,
        email,
        LOGIN_FAILURES_ALLOWED,
        LOGIN_FAILURE_WINDOW,
    )
    .await?;
    if let Some(wait) = locked {
        return Err(ApiError::RateLimited {
            retry_after_seconds: wait.as_secs() + 1,
        });
    }
    let staff = auth::find_staff_for_login(&mut conn, email).await?;
    drop(conn);
    let stored = staff.as_ref().map(|s| s.password_hash.clone());
    // An unknown account spends the same time as a wrong password.
    let verified = crate::auth::verify_password(state, &form.password, stored).await;
    let Some(staff) = staff.filter(|_| verified) else {
        return Ok(None);
    };
    let mut conn = state.db.acquire().await?;
    auth::forget_login_attempts(&mut conn, email).await?;
    // A new session id at every login: an id planted before login is worthless.
    if let Some(old) = crate::auth::cookie_value(headers) {
        auth::delete_session(&mut conn, &old).await?;
    }
    let session =
        auth::create_session(&mut conn, staff.id, state.config.http.session_lifetime).await?;
    tracing::info!(staff.id = %staff.id, "staff logged in");
    Ok(Some((session.expose().to_owned(), staff.role)))
}

pub(crate) async fn log_out(State(state): State<AppState>, parts: Parts) -> PageResult {
    // Through `authenticate`, so a logout from another site fails the CSRF check.
    let principal = crate::auth::authenticate(&parts, &state).await?;
    if let Some(session) = principal.and_then(|p| p.session) {
        let mut conn = state.db.acquire().await?;
        auth::delete_session(&mut conn, &session).await?;
    }
    let mut response = Redirect::to("/admin/login").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&state, "", 0));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_paths_of_staff_pages_are_followed_after_login() {
        for good in [
            "/admin",
            "/admin/rooms",
            "/checkin",
            "/ops/queues",
            "/t/abc",
            "/admin?x=1",
        ] {
            assert_eq!(safe_next(good), good);
        }
        for bad in [
            "/\t/evil.example",
            "/\n/evil.example",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            " /admin",
            "/admin/ x",
            "/administrator",
            "/",
            "",
        ] {
            assert_eq!(safe_next(bad), "/admin", "{bad:?}");
        }
    }
}
