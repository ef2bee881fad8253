//! The language and time zone of a request. `negotiate` picks the language once per request
//! (the `lang` cookie set by the switch on every public page, else `Accept-Language`, else
//! `DEFAULT_LANGUAGE`) and runs the handler inside that choice, so templates and error pages
//! can write `crate::locale::t("id")` without every handler passing a language along. The
//! messages themselves live in `common/locales/` (see `common::locale`).

use axum::{
    extract::{Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use common::locale::{Arg, Language};
use serde::Deserialize;

use crate::AppState;

/// The cookie that holds a visitor's explicit choice.
pub const COOKIE: &str = "lang";

/// How pages address the current request.
#[derive(Debug, Clone)]
pub struct PageLocale {
    pub lang: Language,
    pub tz: Tz,
    /// Path and query of the request, where the language switch comes back to.
    pub path: String,
}

tokio::task_local! {
    static CURRENT: PageLocale;
}

/// The visitor's language: the `lang` cookie, else `Accept-Language`, else the default.
pub fn choose(headers: &HeaderMap, default: Language) -> Language {
    let cookie = crate::auth::named_cookie(headers, COOKIE).and_then(|v| Language::parse(&v));
    cookie
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Language::from_accept_language)
        })
        .unwrap_or(default)
}

/// Middleware: runs the rest of the request in its language and the configured zone, and says
/// which language the response is in.
pub async fn negotiate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let locale = PageLocale {
        lang: choose(req.headers(), state.config.locale.default_language),
        tz: state.config.locale.timezone,
        path: req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned(),
    };
    let lang = locale.lang;
    let mut response = CURRENT.scope(locale, next.run(req)).await;
    response.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.code()),
    );
    let vary = HeaderValue::from_static("Accept-Language, Cookie");
    response.headers_mut().append(header::VARY, vary);
    response
}

/// The current request's locale; outside a request, the contract's defaults.
pub fn current() -> PageLocale {
    CURRENT.try_with(Clone::clone).unwrap_or(PageLocale {
        lang: Language::It,
        tz: common::time::DEFAULT_TIMEZONE,
        path: "/".to_owned(),
    })
}

/// The language of the current request.
pub fn lang() -> Language {
    CURRENT.try_with(|l| l.lang).unwrap_or(Language::It)
}

/// The message `id` in the current language.
pub fn t(id: &str) -> String {
    lang().t(id)
}

/// The message `id` with one argument, in the current language.
pub fn t1(id: &str, name: &str, value: impl Into<Arg>) -> String {
    lang().t1(id, name, value)
}

/// The message `id` with two arguments, in the current language.
pub fn t2(id: &str, n1: &str, v1: impl Into<Arg>, n2: &str, v2: impl Into<Arg>) -> String {
    lang().t2(id, n1, v1, n2, v2)
}

/// A start time as the current language writes it, in the configured zone.
pub fn date_time(t: DateTime<Utc>) -> String {
    let locale = current();
    locale.lang.date_time(t, locale.tz)
}

/// `19:30` in the configured zone.
pub fn clock(t: DateTime<Utc>) -> String {
    common::time::clock(t, current().tz)
}

/// The configured zone's IANA name (`Europe/Rome`), for labels of time fields.
pub fn zone_name() -> &'static str {
    current().tz.name()
}

/// One entry of the language switch.
pub struct SwitchOption {
    pub code: &'static str,
    pub name: &'static str,
    pub current: bool,
}

/// The entries of the language switch, the current language marked.
pub fn switch_options() -> Vec<SwitchOption> {
    let now = lang();
    Language::ALL
        .iter()
        .map(|&l| SwitchOption {
            code: l.code(),
            name: l.name(),
            current: l == now,
        })
        .collect()
}

/// Where the language switch returns to.
pub fn back_path() -> String {
    current().path
}

#[derive(Deserialize)]
pub(crate) struct SwitchQuery {
    #[serde(default)]
    lang: String,
    #[serde(default)]
    back: String,
}

/// `GET /language?lang=en&back=/performances/…`: remembers the choice for a year and returns
/// to the page. A preference, not a state change of anything shared, so a plain link or GET
/// form works without JavaScript.
pub(crate) async fn switch_language(
    State(state): State<AppState>,
    Query(q): Query<SwitchQuery>,
) -> Response {
    let Some(lang) = Language::parse(&q.lang) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    // Only a path of this site, never `//host` or `/\host`, which browsers treat as another site.
    let back = if q.back.starts_with('/') && !q.back.starts_with("//") && !q.back.starts_with("/\\")
    {
        q.back
    } else {
        "/".to_owned()
    };
    let secure = if state.config.is_https() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax{secure}",
        lang.code()
    );
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_cookie_beats_the_browser_which_beats_the_default() {
        let both = headers(&[
            (header::COOKIE, "session=x; lang=en"),
            (header::ACCEPT_LANGUAGE, "it-IT"),
        ]);
        assert_eq!(choose(&both, Language::It), Language::En);
        let browser = headers(&[(header::ACCEPT_LANGUAGE, "en-US,en;q=0.9")]);
        assert_eq!(choose(&browser, Language::It), Language::En);
        let neither = headers(&[(header::ACCEPT_LANGUAGE, "de"), (header::COOKIE, "lang=fr")]);
        assert_eq!(choose(&neither, Language::It), Language::It);
        assert_eq!(choose(&HeaderMap::new(), Language::En), Language::En);
    }
}
