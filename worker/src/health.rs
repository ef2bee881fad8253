//! The worker's small HTTP listener, for orchestrators and Prometheus: `/healthz` (process up),
//! `/readyz` (database reachable) and `/metrics` (bearer key of an operator or admin). It is
//! meant for the internal network only; the public site never routes here.

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use common::{
    auth::{self, Permission},
    jobs::QUEUES,
};
use tokio::net::TcpListener;

use crate::JobContext;

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    ctx: JobContext,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    declare_alerted_counters(&ctx);
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(ctx);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "worker health listener failed");
    }
}

/// The counters the alert rules take `increase()` of exist from the start (at zero), so the
/// first killed job or failed send of this process is seen. The names, help texts and labels
/// are those of `JobContext::finish` and `Mailer::send`.
fn declare_alerted_counters(ctx: &JobContext) {
    for queue in QUEUES {
        for outcome in ["ok", "retryable_error", "permanent_error"] {
            ctx.metrics.declare_counter(
                "azione_jobs_total",
                "Job attempts by queue and outcome.",
                &[("queue", queue), ("outcome", outcome)],
            );
        }
    }
    for purpose in ["confirmation", "ticket"] {
        for kind in ["transient", "permanent"] {
            ctx.metrics.declare_counter(
                "azione_email_send_failures_total",
                "Failed SMTP sends by purpose and kind.",
                &[("purpose", purpose), ("kind", kind)],
            );
        }
    }
}

async fn readyz(State(ctx): State<JobContext>) -> (StatusCode, &'static str) {
    match sqlx::query("SELECT 1").execute(&ctx.db).await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "not ready"),
    }
}

async fn metrics(State(ctx): State<JobContext>, headers: HeaderMap) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let allowed = match ctx.db.acquire().await {
        Ok(mut conn) => auth::authenticate_api_key(&mut conn, presented)
            .await
            .ok()
            .flatten()
            .is_some_and(|key| key.role.can(Permission::WatchOperations)),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    if !allowed {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        ctx.metrics.render(),
    )
        .into_response()
}
