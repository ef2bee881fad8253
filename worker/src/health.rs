//! The worker's health: whether it reaches the database and whether each queue is fetching
//! (watched here, shown on `/readyz` and in metrics), and its small HTTP listener for
//! orchestrators and Prometheus: `/healthz` (process up), `/readyz` (database reachable and every
//! queue fetching) and `/metrics` (bearer key of an operator or admin). The listener is meant for
//! the internal network only; the public site never routes here.

use std::{collections::BTreeMap, sync::Mutex, time::Duration};

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
    metrics::{labels, write_gauge},
};
use tokio::{net::TcpListener, sync::watch};

use crate::JobContext;

/// How often the database is checked, and how long one check may take.
const DATABASE_CHECK_EVERY: Duration = Duration::from_secs(1);

/// What `/readyz` and the health gauges report.
pub struct Health {
    database_up: watch::Sender<bool>,
    queues: Mutex<BTreeMap<&'static str, bool>>,
}

impl Default for Health {
    fn default() -> Health {
        Health {
            database_up: watch::Sender::new(false),
            queues: Mutex::default(),
        }
    }
}

impl Health {
    /// Whether the last database check succeeded.
    pub fn database_up(&self) -> bool {
        *self.database_up.borrow()
    }

    /// Resolves when the database comes back after being seen away (not while it stays up):
    /// a queue waiting out its backoff starts again at once.
    pub async fn database_back(&self) {
        let mut up = self.database_up.subscribe();
        up.borrow_and_update();
        while up.changed().await.is_ok() {
            if *up.borrow_and_update() {
                return;
            }
        }
        std::future::pending::<()>().await;
    }

    /// Records whether `queue`'s worker is fetching.
    pub fn set_queue(&self, queue: &'static str, up: bool) {
        self.queues.lock().expect("health lock").insert(queue, up);
    }

    /// Ready: the database answers and every queue is fetching.
    pub fn ready(&self) -> bool {
        let queues = self.queues.lock().expect("health lock");
        self.database_up() && !queues.is_empty() && queues.values().all(|up| *up)
    }

    /// The health gauges, in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let up = |b: bool| if b { 1.0 } else { 0.0 };
        write_gauge(
            out,
            "azione_database_up",
            "1 when this process's last database check succeeded.",
            &[(String::new(), up(self.database_up()))],
        );
        let queues: Vec<(String, f64)> = self
            .queues
            .lock()
            .expect("health lock")
            .iter()
            .map(|(q, u)| (labels(&[("queue", q)]), up(*u)))
            .collect();
        write_gauge(
            out,
            "azione_worker_queue_up",
            "1 while a queue's worker is fetching jobs.",
            &queues,
        );
    }
}

/// Checks the database every second until `shutdown` resolves; says once that it became
/// unreachable and once that it is back, not at every check.
pub async fn watch_database(ctx: JobContext, shutdown: impl Future<Output = ()> + Send + 'static) {
    let mut tick = tokio::time::interval(DATABASE_CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut first = true;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = tick.tick() => {}
        }
        let check = tokio::time::timeout(DATABASE_CHECK_EVERY, common::db::ping(&ctx.db)).await;
        let up = matches!(check, Ok(Ok(_)));
        let was = ctx.health.database_up.send_replace(up);
        match (first, was, up) {
            (_, true, false) | (true, _, false) => {
                let error = match check {
                    Ok(Err(e)) => e.to_string(),
                    _ => "no answer in time".to_owned(),
                };
                tracing::warn!(error, "database unreachable; waiting for it");
            }
            (false, false, true) => tracing::info!("database reachable again"),
            _ => {}
        }
        first = false;
    }
}

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
    for queue in QUEUES {
        ctx.metrics.declare_counter(
            "azione_worker_queue_restarts_total",
            "Restarts of a queue's worker after its backend failed.",
            &[("queue", queue)],
        );
        ctx.metrics.declare_counter(
            "azione_email_duplicate_sends_total",
            "E-mails sent again because an earlier attempt's outcome was never recorded \
             (possible duplicates).",
            &[("queue", queue)],
        );
    }
    for outcome in ["offered", "expired"] {
        ctx.metrics.declare_counter(
            crate::jobs::waitlist::OFFERS_METRIC,
            crate::jobs::waitlist::OFFERS_HELP,
            &[("outcome", outcome)],
        );
    }
    ctx.metrics.declare_counter(
        crate::jobs::reminders::SENT_METRIC,
        crate::jobs::reminders::SENT_HELP,
        &[],
    );
    for purpose in [
        "confirmation",
        "ticket",
        "reminder",
        "waitlist_confirmation",
        "waitlist_offer",
    ] {
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
    if ctx.health.ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
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
    let mut text = ctx.metrics.render();
    ctx.health.render(&mut text);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
