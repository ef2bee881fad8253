//! Server-rendered HTML: askama templates (auto-escaped), the stylesheet, and a generic
//! message page for outcomes of form posts.

use askama::Template;
use axum::{
    extract::Request,
    http::{StatusCode, header},
    middleware::Next,
    response::{Html, IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use common::auth::{Permission, Role};

use common::validation::FieldErrors;

use crate::{
    error::{ApiError, codes},
    locale,
};

pub(crate) async fn checkin_script() -> impl IntoResponse {
    javascript(include_str!("../static/checkin.js"))
}

/// jsQR 1.4.0 (Apache-2.0, `static/vendor/jsQR.LICENSE`): the fallback where the browser has no
/// `BarcodeDetector`.
pub(crate) async fn jsqr_script() -> impl IntoResponse {
    javascript(include_str!("../static/vendor/jsQR.js"))
}

fn javascript(source: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        source,
    )
}

pub(crate) async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/app.css"),
    )
}

/// Renders a template with a status; a rendering failure becomes a 500 page.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "render template");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<h1>Something went wrong</h1>"),
            )
                .into_response()
        }
    }
}

/// A page with a heading and one paragraph: the answer to a form post or an error.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub title: String,
    pub text: String,
    /// `ok` or `error`, for colour.
    pub tone: &'static str,
    /// Further paragraphs.
    pub details: Vec<String>,
    /// `Some("en")` on staff pages, which are in English whatever the visitor's language.
    pub fixed_lang: Option<&'static str>,
}

impl MessagePage {
    pub fn ok(title: &str, text: &str) -> MessagePage {
        MessagePage {
            title: title.to_owned(),
            text: text.to_owned(),
            tone: "ok",
            details: Vec::new(),
            fixed_lang: None,
        }
    }

    pub fn error(title: &str, text: &str) -> MessagePage {
        MessagePage {
            title: title.to_owned(),
            text: text.to_owned(),
            tone: "error",
            details: Vec::new(),
            fixed_lang: None,
        }
    }

    /// A staff page's refusal (English): each field problem as a sentence.
    pub fn staff_error(title: &str, fields: &FieldErrors) -> MessagePage {
        let text = fields
            .iter()
            .map(|(field, problem)| field_sentence(field, problem))
            .collect::<Vec<_>>()
            .join(" ");
        MessagePage {
            fixed_lang: Some("en"),
            ..MessagePage::error(title, &text)
        }
    }
}

/// `name must be 1 to 100 characters` as a sentence: `Name must be 1 to 100 characters.`
pub fn field_sentence(field: &str, problem: &str) -> String {
    let field = field.replace('_', " ");
    let mut chars = field.chars();
    let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
    format!("{}{} {problem}.", first.unwrap_or_default(), chars.as_str())
}

/// What an HTML handler returns: its page, or an error that renders as the error page, so
/// handlers use `?` like JSON handlers do.
pub type PageResult<T = Response> = Result<T, PageError>;

/// An error on the way to a page; it answers with [`error_page`].
#[derive(Debug)]
pub struct PageError(pub ApiError);

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(error: E) -> PageError {
        PageError(error.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        error_page(self.0)
    }
}

/// Shows an API error to a browser: the same status, a page in plain words. The words for
/// error code `CODE` are the catalogue's `error-CODE-title` and `error-CODE-text` (dashes for
/// underscores); a code without its own words gets those of its status.
fn error_page(error: ApiError) -> Response {
    let status = error.status();
    if let ApiError::Internal(cause) = &error {
        tracing::error!(error = format!("{cause:#}"), "page request failed");
    }
    let mut response = status_page(status, error.code());
    if let Some(seconds) = error.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
    }
    response
}

/// The error page for `status`, in words for `code` when the catalogue has them.
fn status_page(status: StatusCode, code: &str) -> Response {
    let lang = locale::lang();
    let by_status = match status {
        StatusCode::NOT_FOUND => codes::NOT_FOUND,
        StatusCode::METHOD_NOT_ALLOWED => codes::METHOD_NOT_ALLOWED,
        StatusCode::TOO_MANY_REQUESTS => codes::RATE_LIMITED,
        StatusCode::SERVICE_UNAVAILABLE => codes::SERVICE_UNAVAILABLE,
        StatusCode::FORBIDDEN => codes::FORBIDDEN,
        StatusCode::UNAUTHORIZED => codes::UNAUTHENTICATED,
        StatusCode::UNPROCESSABLE_ENTITY => codes::VALIDATION_FAILED,
        _ => codes::INTERNAL_ERROR,
    };
    let key = |code: &str| format!("error-{}", code.replace('_', "-"));
    let id = [code, by_status]
        .into_iter()
        .map(key)
        .find(|id| lang.has(&format!("{id}-title")))
        .unwrap_or_else(|| key(codes::INTERNAL_ERROR));
    render(
        status,
        &MessagePage::error(
            &lang.t(&format!("{id}-title")),
            &lang.t(&format!("{id}-text")),
        ),
    )
}

/// Middleware: a browser (asking for `text/html`) that meets a 404, 405 or 500 outside the
/// JSON API gets a page in its language instead of a JSON body or an empty one.
pub async fn html_errors(req: Request, next: Next) -> Response {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let api = req.uri().path().starts_with("/api/");
    let response = next.run(req).await;
    let status = response.status();
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    let replace = matches!(
        status,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED | StatusCode::INTERNAL_SERVER_ERROR
    );
    if !wants_html || api || is_html || !replace {
        return response;
    }
    let mut page = status_page(status, "");
    if let Some(allow) = response.headers().get(header::ALLOW) {
        page.headers_mut().insert(header::ALLOW, allow.clone());
    }
    page
}

/// How times are shown on staff pages: `Sat 5 Dec 2026, 19:30` in the configured zone.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&locale::current().tz)
        .format("%a %-d %b %Y, %H:%M")
        .to_string()
}

/// A moment on staff lists (audit log, workers): `2026-12-05 19:30:12` in the configured zone.
pub fn format_stamp(t: &DateTime<Utc>) -> String {
    t.with_timezone(&locale::current().tz)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// What the navigation shows, by role.
pub struct Nav {
    pub csrf_token: String,
    pub catalogue: bool,
    pub admin: bool,
    pub door: bool,
    pub operations: bool,
    /// Show a "Saved" notice (the page follows a successful save).
    pub saved: bool,
}

impl Nav {
    /// The links `role` may follow.
    pub fn new(role: Role, csrf_token: String) -> Nav {
        Nav {
            csrf_token,
            catalogue: role.can(Permission::ManageCatalogue),
            admin: role.can(Permission::ViewPersonalData),
            door: role.can(Permission::CheckIn),
            operations: role.can(Permission::WatchOperations),
            saved: false,
        }
    }
}

/// Where staff land after login when no other page was asked for.
pub fn landing_for(role: Role) -> &'static str {
    if role.can(Permission::ManageCatalogue) {
        "/admin"
    } else if role.can(Permission::CheckIn) {
        "/checkin"
    } else {
        "/ops/queues"
    }
}
