//! Server-rendered HTML: askama templates (auto-escaped), the stylesheet, and a generic
//! message page for outcomes of form posts.

use askama::Template;
use axum::{
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use common::auth::{Permission, Role};

use crate::error::ApiError;

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
}

impl MessagePage {
    pub fn ok(title: &str, text: &str) -> MessagePage {
        MessagePage {
            title: title.to_owned(),
            text: text.to_owned(),
            tone: "ok",
        }
    }

    pub fn error(title: &str, text: &str) -> MessagePage {
        MessagePage {
            title: title.to_owned(),
            text: text.to_owned(),
            tone: "error",
        }
    }
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

/// Shows an API error to a browser: the same status, a readable page.
pub fn error_page(error: ApiError) -> Response {
    let status = error.status();
    if let ApiError::Internal(cause) = &error {
        tracing::error!(error = format!("{cause:#}"), "page request failed");
    }
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::TOO_MANY_REQUESTS => "Too many requests",
        StatusCode::SERVICE_UNAVAILABLE => "Temporarily unavailable",
        StatusCode::INTERNAL_SERVER_ERROR => "Something went wrong",
        _ => "Sorry",
    };
    let text = match &error {
        ApiError::Internal(_) => "Please try again in a moment.".to_owned(),
        other => other.to_string(),
    };
    let mut response = render(status, &MessagePage::error(title, &text));
    if let Some(seconds) = error.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
    }
    response
}

/// How times are shown on pages.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.format("%a %-d %b %Y, %H:%M UTC").to_string()
}

/// What the navigation shows, by role.
pub struct Nav {
    pub csrf_token: String,
    pub catalogue: bool,
    pub admin: bool,
    pub door: bool,
    pub operations: bool,
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
