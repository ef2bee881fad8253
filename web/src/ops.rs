//! Operations: health endpoints for orchestrators (`/healthz`, `/readyz`, anonymous and
//! without detail), Prometheus metrics (`/metrics`), and the job queue for operators
//! (`/ops/queues` and `/api/v1/ops/…`): figures, workers, failed jobs, retry and kill.

use std::time::Instant;

use askama::Template;
use axum::{
    Json,
    extract::{MatchedPath, Path, Request, State},
    http::{Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use common::{
    audit,
    audit::AuditAction,
    auth::Actor,
    metrics::{labels, write_gauge},
    ops::{self, FailedJob, QueueStats, WorkerInfo},
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    auth::{Operator, StaffPage, WatchOperations},
    error::{ApiError, ApiResult, codes},
    pages::{self, Nav, PageResult},
    state::AppState,
};

pub(crate) async fn healthz() -> &'static str {
    "ok"
}

pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match common::db::ping(&state.db).await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "not ready"),
    }
}

/// Counts every request by route template and status, with its latency (middleware).
pub async fn record_request(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let m = &state.metrics;
    m.inc(
        "azione_http_requests_total",
        "HTTP requests by method, route template and status.",
        &[("method", method), ("route", &route), ("status", &status)],
    );
    m.observe(
        "azione_http_request_duration_seconds",
        "HTTP request latency by method and route template.",
        &[("method", method), ("route", &route)],
        started.elapsed().as_secs_f64(),
    );
    response
}

/// The method as a metrics label: one of those the application serves, else `other`. Any token
/// is a valid method to hyper, so labels taken from requests as sent would grow without bound.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "other",
    }
}

/// Everything operators need to judge the queue.
#[derive(Serialize)]
pub(crate) struct QueueReport {
    queues: Vec<QueueStats>,
    workers: Vec<WorkerInfo>,
    failed_jobs: Vec<FailedJob>,
    /// Human-readable warnings: no live worker, a queue waiting too long.
    alerts: Vec<String>,
}

async fn report(state: &AppState) -> ApiResult<QueueReport> {
    let mut conn = state.db.acquire().await?;
    let jobs = &state.config.jobs;
    let queues = ops::queue_stats(&mut conn).await?;
    let workers = ops::list_workers(&mut conn, jobs.heartbeat_interval * 3).await?;
    let failed_jobs = ops::list_failed_jobs(&mut conn, 200).await?;
    let mut alerts = Vec::new();
    for q in &queues {
        if !workers.iter().any(|w| w.live && w.queue == q.queue) {
            alerts.push(format!("No live worker for {}.", q.queue));
        }
        if q.oldest_waiting_seconds
            .is_some_and(|s| s > jobs.alert_oldest_waiting.as_secs_f64())
        {
            alerts.push(format!(
                "The oldest waiting job of {} is older than {} s.",
                q.queue,
                jobs.alert_oldest_waiting.as_secs()
            ));
        }
    }
    Ok(QueueReport {
        queues,
        workers,
        failed_jobs,
        alerts,
    })
}

pub(crate) async fn queues_json(
    _: Operator,
    State(state): State<AppState>,
) -> ApiResult<Json<QueueReport>> {
    Ok(Json(report(&state).await?))
}

/// What an operator may do to a job.
#[derive(Clone, Copy)]
enum JobAction {
    Retry,
    Kill,
}

async fn act_on_job(state: &AppState, actor: Actor, id: &str, action: JobAction) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    let (done, name) = match action {
        JobAction::Retry => (ops::retry_job(&mut tx, id).await?, AuditAction::JobRetry),
        JobAction::Kill => (ops::kill_job(&mut tx, id).await?, AuditAction::JobKill),
    };
    if !done {
        return Err(ApiError::NotFound {
            code: codes::NOT_FOUND,
            message: "no such job in a state that allows this",
        });
    }
    audit::record(&mut tx, &actor.label(), name, None, json!({ "job_id": id })).await?;
    tx.commit().await?;
    tracing::info!(job.id = id, action = name.as_str(), "operator action");
    Ok(())
}

async fn retry_all(state: &AppState, actor: Actor) -> ApiResult<u64> {
    let mut tx = state.db.begin().await?;
    let count = ops::retry_all_failed(&mut tx).await?;
    audit::record(
        &mut tx,
        &actor.label(),
        AuditAction::JobRetryAllFailed,
        None,
        json!({ "count": count }),
    )
    .await?;
    tx.commit().await?;
    Ok(count)
}

pub(crate) async fn retry_job_json(
    op: Operator,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    act_on_job(&state, op.principal.actor, &id, JobAction::Retry).await?;
    Ok(Json(json!({ "id": id, "status": "Pending" })))
}

pub(crate) async fn kill_job_json(
    op: Operator,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    act_on_job(&state, op.principal.actor, &id, JobAction::Kill).await?;
    Ok(Json(json!({ "id": id, "status": "Killed" })))
}

pub(crate) async fn retry_failed_json(
    op: Operator,
    State(state): State<AppState>,
) -> ApiResult<Json<Value>> {
    let count = retry_all(&state, op.principal.actor).await?;
    Ok(Json(json!({ "retried": count })))
}

#[derive(Template)]
#[template(path = "ops/queues.html")]
struct QueuesPage {
    nav: Nav,
    report: QueueReport,
}

pub(crate) async fn queues_page(
    staff: StaffPage<WatchOperations>,
    State(state): State<AppState>,
) -> PageResult {
    let page = QueuesPage {
        nav: Nav::from(&staff),
        report: report(&state).await?,
    };
    Ok(pages::render(StatusCode::OK, &page))
}

async fn job_form(
    staff: StaffPage<WatchOperations>,
    state: AppState,
    id: &str,
    action: JobAction,
) -> PageResult {
    act_on_job(&state, staff.principal.actor, id, action).await?;
    Ok(Redirect::to("/ops/queues").into_response())
}

pub(crate) async fn retry_job_form(
    staff: StaffPage<WatchOperations>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    job_form(staff, state, &id, JobAction::Retry).await
}

pub(crate) async fn kill_job_form(
    staff: StaffPage<WatchOperations>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    job_form(staff, state, &id, JobAction::Kill).await
}

pub(crate) async fn retry_failed_form(
    staff: StaffPage<WatchOperations>,
    State(state): State<AppState>,
) -> PageResult {
    retry_all(&state, staff.principal.actor).await?;
    Ok(Redirect::to("/ops/queues").into_response())
}

/// How far ahead `azione_unsent_confirmation_age_seconds` looks for performances.
const UNSENT_CONFIRMATIONS_WINDOW: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// `/metrics`: this process's counters and histograms, plus the queue's state from the database.
pub(crate) async fn metrics(_: Operator, State(state): State<AppState>) -> ApiResult<Response> {
    let report = report(&state).await?;
    let unsent = {
        let mut conn = state.db.acquire().await?;
        ops::unsent_confirmations_soon(&mut conn, UNSENT_CONFIRMATIONS_WINDOW).await?
    };
    let mut text = state.metrics.render();
    let mut depth = Vec::new();
    let mut oldest = Vec::new();
    let mut live = Vec::new();
    for q in &report.queues {
        for (status, n) in &q.counts {
            depth.push((
                labels(&[("queue", &q.queue), ("status", status)]),
                *n as f64,
            ));
        }
        oldest.push((
            labels(&[("queue", &q.queue)]),
            q.oldest_waiting_seconds.unwrap_or(0.0),
        ));
        let workers = report
            .workers
            .iter()
            .filter(|w| w.live && w.queue == q.queue)
            .count();
        live.push((labels(&[("queue", &q.queue)]), workers as f64));
    }
    write_gauge(
        &mut text,
        "azione_queue_jobs",
        "Jobs by queue and status.",
        &depth,
    );
    write_gauge(
        &mut text,
        "azione_queue_oldest_waiting_seconds",
        "Age of the oldest job waiting to run.",
        &oldest,
    );
    write_gauge(
        &mut text,
        "azione_workers_live",
        "Workers with a recent heartbeat, by queue.",
        &live,
    );
    write_gauge(
        &mut text,
        "azione_queue_alerts",
        "Open queue alerts (no live worker, waiting too long).",
        &[(String::new(), report.alerts.len() as f64)],
    );
    // The alert rules compare the oldest waiting job with this, so that Prometheus and the
    // queue page raise the alert at the same age.
    write_gauge(
        &mut text,
        "azione_queue_oldest_waiting_threshold_seconds",
        "ALERT_OLDEST_WAITING_SECONDS: a waiting job older than this raises an alert.",
        &[(
            String::new(),
            state.config.jobs.alert_oldest_waiting.as_secs_f64(),
        )],
    );
    let unsent: Vec<(String, f64)> = unsent
        .iter()
        .map(|(id, age)| (labels(&[("performance_id", &id.to_string())]), *age))
        .collect();
    write_gauge(
        &mut text,
        "azione_unsent_confirmation_age_seconds",
        "Per performance starting within 24 h: age of its oldest reservation whose confirmation e-mail has not been sent.",
        &unsent,
    );
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
