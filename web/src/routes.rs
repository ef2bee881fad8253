//! Every URL of the web process: its method, path and handler, grouped by capability. This
//! table is the only place that names a URL for routing; start here to find a handler.

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
    admin, auth, booking, cancellation, catalogue, checkin, confirmation, error::ApiError,
    extract::MAX_BODY_BYTES, locale, ops, pages, reminders, session, state::AppState, tickets,
    waitlist,
};

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

const CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; \
                   base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Declares the route table once, as the router ([`routes`]) and as data ([`TABLE`]) that tests
/// walk (every state-changing route must refuse a session request without its CSRF token).
macro_rules! route_table {
    ($( $capability:literal { $( $method:ident $path:literal => $handler:path, )* } )*) => {
        /// Every route as `(capability, method, path)`, in table order.
        pub const TABLE: &[(&str, &str, &str)] = &[
            $( $( ($capability, stringify!($method), $path), )* )*
        ];

        /// Every route, without the layers.
        fn routes() -> Router<AppState> {
            Router::new()
                $( $( .route($path, axum::routing::$method($handler)) )* )*
        }
    };
}

route_table! {
    "catalogue" {
        get "/" => catalogue::index_page,
        get "/performances/{id}" => catalogue::performance_page,
        get "/api/v1/performances" => catalogue::list_performances,
        get "/api/v1/performances/{id}" => catalogue::show_performance,
    }
    "booking" {
        post "/performances/{id}/reservations" => booking::submit_booking_form,
        post "/api/v1/performances/{id}/reservations" => booking::create_reservation,
    }
    "confirmation" {
        get "/reservations/confirm" => confirmation::confirm_page,
        post "/reservations/confirm" => confirmation::submit_confirm_form,
        post "/api/v1/reservations/confirm" => confirmation::confirm_reservation,
    }
    "tickets" {
        get "/t/{token}" => tickets::ticket_page,
        post "/t/{token}/checkin" => tickets::check_in_from_ticket_page,
    }
    "cancellation" {
        get "/reservations/cancel" => cancellation::cancel_page,
        post "/reservations/cancel" => cancellation::submit_cancel_form,
        post "/api/v1/reservations/cancel" => cancellation::cancel_reservation,
    }
    "waitlist" {
        post "/performances/{id}/waitlist" => waitlist::submit_join_form,
        post "/api/v1/performances/{id}/waitlist" => waitlist::join_waitlist,
        get "/waitlist/confirm" => waitlist::confirm_page,
        post "/waitlist/confirm" => waitlist::submit_confirm_form,
        post "/api/v1/waitlist/confirm" => waitlist::confirm_place,
        get "/waitlist/leave" => waitlist::leave_page,
        post "/waitlist/leave" => waitlist::submit_leave_form,
        post "/api/v1/waitlist/leave" => waitlist::leave_waitlist,
        get "/waitlist/claim" => waitlist::claim_page,
        post "/waitlist/claim" => waitlist::submit_claim_form,
        post "/api/v1/waitlist/claim" => waitlist::claim_offer,
        get "/admin/performances/{id}/waitlist" => waitlist::waitlist_page,
        post "/admin/waitlist/{id}/remove" => waitlist::submit_remove_form,
        get "/api/v1/admin/performances/{id}/waitlist" => waitlist::list_waitlist,
        post "/api/v1/admin/waitlist/{id}/remove" => waitlist::remove_entry,
    }
    "reminders" {
        get "/t/{token}/calendar.ics" => reminders::download_calendar,
    }
    "checkin" {
        get "/checkin" => checkin::door_page,
        post "/api/v1/checkin" => checkin::check_in,
        get "/api/v1/checkin/performances" => checkin::door_performances,
        get "/api/v1/checkin/performances/{id}" => checkin::door_performance,
    }
    "auth" {
        get "/admin/login" => session::login_page,
        post "/admin/login" => session::log_in,
        post "/admin/logout" => session::log_out,
    }
    "admin" {
        get "/admin" => admin::home,
        get "/admin/" => admin::home,
    }
    "admin: rooms" {
        get "/admin/rooms" => admin::rooms::rooms_page,
        post "/admin/rooms" => admin::rooms::create_room_form,
        post "/admin/rooms/{id}" => admin::rooms::update_room_form,
        get "/api/v1/admin/rooms" => admin::rooms::list_rooms,
        post "/api/v1/admin/rooms" => admin::rooms::create_room,
        get "/api/v1/admin/rooms/{id}" => admin::rooms::show_room,
        patch "/api/v1/admin/rooms/{id}" => admin::rooms::update_room,
    }
    "admin: performances" {
        get "/admin/performances/new" => admin::performances::new_performance_page,
        post "/admin/performances" => admin::performances::create_performance_form,
        get "/admin/performances/{id}" => admin::performances::performance_page,
        post "/admin/performances/{id}" => admin::performances::update_performance_form,
        get "/api/v1/admin/performances" => admin::performances::list_performances,
        post "/api/v1/admin/performances" => admin::performances::create_performance,
        get "/api/v1/admin/performances/{id}" => admin::performances::show_performance,
        patch "/api/v1/admin/performances/{id}" => admin::performances::update_performance,
    }
    "admin: reservations" {
        get "/admin/performances/{id}/reservations" => admin::reservations::reservations_page,
        get "/admin/performances/{id}/reservations.csv" => admin::reservations::reservations_csv,
        post "/admin/reservations/{id}/resend-ticket" => admin::reservations::resend_ticket_form,
        get "/api/v1/admin/performances/{id}/reservations" => admin::reservations::list_reservations,
        post "/api/v1/admin/reservations/{id}/resend-ticket" => admin::reservations::resend_ticket,
    }
    "admin: staff" {
        get "/admin/staff" => admin::staff::staff_page,
        post "/admin/staff" => admin::staff::create_staff_form,
        post "/admin/staff/{id}" => admin::staff::update_staff_form,
        post "/admin/api-keys" => admin::staff::create_api_key_form,
        post "/admin/api-keys/{id}/revoke" => admin::staff::revoke_api_key_form,
        get "/api/v1/admin/staff" => admin::staff::list_staff,
        post "/api/v1/admin/staff" => admin::staff::create_staff,
        patch "/api/v1/admin/staff/{id}" => admin::staff::update_staff,
        get "/api/v1/admin/api-keys" => admin::staff::list_api_keys,
        post "/api/v1/admin/api-keys" => admin::staff::create_api_key,
        delete "/api/v1/admin/api-keys/{id}" => admin::staff::revoke_api_key,
    }
    "admin: audit" {
        get "/admin/audit" => admin::audit::audit_page,
        get "/api/v1/admin/audit" => admin::audit::list_audit,
    }
    "ops" {
        get "/healthz" => ops::healthz,
        get "/readyz" => ops::readyz,
        get "/metrics" => ops::metrics,
        get "/ops/queues" => ops::queues_page,
        post "/ops/jobs/{id}/retry" => ops::retry_job_form,
        post "/ops/jobs/{id}/kill" => ops::kill_job_form,
        post "/ops/jobs/retry-failed" => ops::retry_failed_form,
        get "/api/v1/ops/queues" => ops::queues_json,
        post "/api/v1/ops/jobs/{id}/retry" => ops::retry_job_json,
        post "/api/v1/ops/jobs/{id}/kill" => ops::kill_job_json,
        post "/api/v1/ops/jobs/retry-failed" => ops::retry_failed_json,
    }
    "locale" {
        get "/language" => locale::switch_language,
    }
    "static assets" {
        get "/static/app.css" => pages::stylesheet,
        get "/static/checkin.js" => pages::checkin_script,
        get "/static/vendor/jsQR.js" => pages::jsqr_script,
    }
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    routes()
        .fallback(|| async { ApiError::not_found() })
        .layer(axum::middleware::from_fn(pages::html_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            locale::negotiate,
        ))
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
