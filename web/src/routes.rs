//! Every URL of the web process, by capability. Start here to find a handler.

use std::time::Duration;

use axum::{
    Router,
    extract::{DefaultBodyLimit, MatchedPath, Request},
    http::{HeaderName, HeaderValue, header},
    response::Response,
};
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};
use tracing::Span;

use crate::{
    AppState, admin, auth, booking, catalogue, checkin, confirmation, error::ApiError,
    extract::MAX_BODY_BYTES, ops, pages, reminders, session, tickets, waitlist,
};

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

const CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; \
                   base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The whole application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(catalogue::router())
        .merge(booking::router())
        .merge(confirmation::router())
        .merge(tickets::router())
        .merge(waitlist::router())
        .merge(reminders::router())
        .merge(checkin::router())
        .merge(admin::router())
        .merge(ops::router())
        .merge(session::router())
        .merge(pages::router())
        .fallback(|| async { ApiError::not_found() })
        .layer(axum::middleware::from_fn(auth::lift_form_csrf_token))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::record_request,
        ))
        // Staff pages, personal data and tokens must not stay in any cache; only the static
        // assets, which say so themselves, may be cached.
        .layer(header_if_missing(header::CACHE_CONTROL, "no-store"))
        .layer(header_if_missing(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header_if_missing(header::X_FRAME_OPTIONS, "DENY"))
        // Confirm and cancel links carry tokens in the query string: never pass them on.
        .layer(header_if_missing(header::REFERRER_POLICY, "no-referrer"))
        .layer(header_if_missing(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        // One line per request: method, route template, status, latency and request id; never
        // the query string, headers or body, which may carry tokens and personal data.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str)
                        .to_owned();
                    let request_id = req
                        .headers()
                        .get(X_REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_owned();
                    tracing::info_span!("request", method = %req.method(), route, request_id)
                })
                .on_request(())
                .on_response(|res: &Response, latency: Duration, _: &Span| {
                    tracing::info!(
                        status = res.status().as_u16(),
                        duration_ms = latency.as_millis() as u64,
                        "request finished"
                    );
                })
                .on_body_chunk(())
                .on_eos(())
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

fn header_if_missing(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}
