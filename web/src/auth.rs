//! Who is calling: bearer API keys (scanning clients, automation) or staff sessions (browser).
//! Permission checks happen in the extractors below (`AdminUser`, `StaffPage`, …); a handler
//! that takes `AdminUser` cannot be reached by anyone without the right to see personal data.
//! The few handlers that serve several roles (the admin landing page, logout, the ticket page)
//! call [`authenticate`] themselves and check the role they need.
//! A session-authenticated request that changes state must carry the session's CSRF token:
//! [`authenticate`] refuses it otherwise, so every extractor (and any handler that resolves
//! the caller another way) enforces CSRF, and a new handler cannot forget it.

use std::marker::PhantomData;

use axum::{
    Form,
    body::Body,
    extract::{FromRequest, FromRequestParts, Request},
    http::{HeaderMap, Method, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{
    auth::{self, Actor, Permission, Role},
    token::TokenHash,
};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;

use crate::{
    error::ApiError,
    extract::MAX_BODY_BYTES,
    pages::{self, PageError},
    state::AppState,
};

/// True when `password` matches `stored`; with no stored hash (an unknown account) it checks
/// against a dummy hash, so that unknown accounts take as long as wrong passwords.
pub async fn verify_password(state: &AppState, password: &str, stored: Option<String>) -> bool {
    let password = password.to_owned();
    on_hashing_pool(state, move || {
        let stored = stored.as_deref().unwrap_or(&DUMMY_HASH);
        auth::verify_password(&password, stored)
    })
    .await
    .unwrap_or(false)
}

/// Hashes a new password (argon2id) on the blocking pool.
pub async fn hash_password(state: &AppState, password: &str) -> anyhow::Result<String> {
    let password = password.to_owned();
    on_hashing_pool(state, move || auth::hash_password(&password)).await?
}

async fn on_hashing_pool<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let _slot = state
        .password_hashing
        .acquire()
        .await
        .map_err(|e| anyhow::anyhow!("password hashing slots closed: {e}"))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| anyhow::anyhow!("password hashing task failed: {e}"))
}

/// A real argon2id hash, verified against when the account does not exist.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    auth::hash_password("no such account").expect("hash a constant password")
});

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub role: Role,
    pub actor: Actor,
    /// The raw session id when authenticated by cookie (to derive the CSRF token).
    pub session: Option<String>,
}

/// A permission an extractor demands, as a type.
pub trait Requirement {
    const PERMISSION: Permission;
}

/// Demands `P` of the caller: 401 without valid credentials, 403 without the permission or,
/// for a session, without the CSRF header on a state-changing request.
pub struct Authorized<P: Requirement> {
    pub principal: Principal,
    _permission: PhantomData<P>,
}

macro_rules! requirement {
    ($marker:ident) => {
        #[doc = concat!("Marker for [`Permission::", stringify!($marker), "`].")]
        pub struct $marker;
        impl Requirement for $marker {
            const PERMISSION: Permission = Permission::$marker;
        }
    };
}
requirement!(ManageCatalogue);
requirement!(ViewPersonalData);
requirement!(CheckIn);
requirement!(WatchOperations);

/// May manage rooms, shows and performances (`editor`, `admin`).
pub type CatalogueEditor = Authorized<ManageCatalogue>;
/// May see personal data and manage staff (`admin`).
pub type AdminUser = Authorized<ViewPersonalData>;
/// May check tickets in (`door`, `admin`).
pub type CheckinStaff = Authorized<CheckIn>;
/// May watch the job queue and metrics (`operator`, `admin`).
pub type Operator = Authorized<WatchOperations>;

impl<P: Requirement> FromRequestParts<AppState> for Authorized<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = authenticate(parts, state)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        if !principal.role.can(P::PERMISSION) {
            return Err(ApiError::Forbidden);
        }
        Ok(Authorized {
            principal,
            _permission: PhantomData,
        })
    }
}

/// The `csrf_token` field of a form post, lifted out of the body by [`lift_form_csrf_token`]
/// so that [`authenticate`] can check it without the body.
#[derive(Clone)]
pub struct FormCsrfToken(pub String);

/// Middleware: for a state-changing form post, reads the body's `csrf_token` field into the
/// request's extensions (the body is passed on unchanged).
pub async fn lift_form_csrf_token(request: Request, next: Next) -> Response {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form || is_safe(request.method()) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return ApiError::PayloadTooLarge.into_response();
    };
    #[derive(serde::Deserialize)]
    struct CsrfField {
        #[serde(default)]
        csrf_token: String,
    }
    let copy = Request::from_parts(parts.clone(), Body::from(bytes.clone()));
    if let Ok(Form(field)) = Form::<CsrfField>::from_request(copy, &()).await {
        parts.extensions.insert(FormCsrfToken(field.csrf_token));
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// For a state-changing request: the CSRF token it presents (the `X-CSRF-Token` header or a
/// form's `csrf_token`) must be the session's.
fn check_csrf(parts: &Parts, state: &AppState, session: &str) -> Result<(), ApiError> {
    if is_safe(&parts.method) {
        return Ok(());
    }
    let presented = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            parts
                .extensions
                .get::<FormCsrfToken>()
                .map(|t| t.0.as_str())
        })
        .unwrap_or_default();
    if csrf_matches(state, session, presented) {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// Resolves the credentials of a request, if any are valid: a bearer key first, then the
/// session cookie. A session on a state-changing request without its CSRF token is a 403.
pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Principal>, ApiError> {
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if let Some(presented) = bearer {
        let Some(hash) = TokenHash::parse(presented) else {
            return Ok(None);
        };
        let key = match state.api_keys.get(&hash) {
            Some(key) => Some(key),
            None => {
                let mut conn = state.db.acquire().await?;
                let key = auth::authenticate_api_key(&mut conn, presented).await?;
                if let Some(key) = &key {
                    state.api_keys.put(&hash, key);
                }
                key
            }
        };
        return Ok(key.map(|key| Principal {
            role: key.role,
            actor: Actor::ApiKey(key.id),
            session: None,
        }));
    }
    let Some(cookie) = cookie_value(&parts.headers) else {
        return Ok(None);
    };
    let mut conn = state.db.acquire().await?;
    let found =
        auth::find_session(&mut conn, &cookie, state.config.http.session_idle_timeout).await?;
    if found.is_some() {
        check_csrf(parts, state, &cookie)?;
    }
    Ok(found.map(|s| Principal {
        role: s.role,
        actor: Actor::Staff(s.staff_user_id),
        session: Some(cookie),
    }))
}

/// A staff page: logged-in staff with permission `P`. Anonymous visitors are sent to the
/// login form; forms on the page carry [`StaffPage::csrf_token`].
pub struct StaffPage<P: Requirement> {
    pub principal: Principal,
    pub csrf_token: String,
    /// The page was reached right after a save (`?saved=1`): it says "Saved".
    pub saved: bool,
    _permission: PhantomData<P>,
}

impl<P: Requirement> FromRequestParts<AppState> for StaffPage<P> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        // Bearer keys may read pages too (a key is not sent by browsers on their own).
        let principal = authenticate(parts, state)
            .await
            .map_err(|e| PageError(e).into_response())?;
        let Some(principal) = principal else {
            let next = parts.uri.path();
            return Err(Redirect::to(&format!("/admin/login?next={next}")).into_response());
        };
        if !principal.role.can(P::PERMISSION) {
            return Err(PageError(ApiError::Forbidden).into_response());
        }
        let csrf_token = csrf_token(state, principal.session.as_deref().unwrap_or_default());
        let saved = parts
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|pair| pair == SAVED_QUERY));
        Ok(StaffPage {
            principal,
            csrf_token,
            saved,
            _permission: PhantomData,
        })
    }
}

impl<P: Requirement> From<&StaffPage<P>> for pages::Nav {
    fn from(staff: &StaffPage<P>) -> pages::Nav {
        pages::Nav {
            saved: staff.saved,
            ..pages::Nav::new(staff.principal.role, staff.csrf_token.clone())
        }
    }
}

/// What a staff form's redirect adds to the page it returns to, so that page says "Saved".
pub const SAVED_QUERY: &str = "saved=1";

/// `path` with [`SAVED_QUERY`].
pub fn saved(path: &str) -> String {
    format!("{path}?{SAVED_QUERY}")
}

/// Name of the session cookie.
pub const COOKIE: &str = "azione_session";

/// The session cookie's value, if the request carries one.
pub fn cookie_value(headers: &HeaderMap) -> Option<String> {
    named_cookie(headers, COOKIE)
}

/// The value of the cookie `name`, if the request carries it.
pub fn named_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
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
