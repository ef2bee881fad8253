//! What operators see and do: queue figures from apalis's own tables, retry and kill actions,
//! and the queue housekeeping the worker runs on a schedule (reviving jobs that failed for
//! transient reasons, deleting old finished jobs). Expiry and erasure are in `retention`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::jobs::QUEUES;

/// Figures of one queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueStats {
    pub queue: String,
    /// Jobs by apalis status (Pending, Queued, Running, Done, Failed, Killed).
    pub counts: std::collections::BTreeMap<String, i64>,
    /// Age of the oldest job waiting to run, in seconds.
    pub oldest_waiting_seconds: Option<f64>,
}

impl QueueStats {
    /// Jobs in one status.
    pub fn count(&self, status: &str) -> i64 {
        self.counts.get(status).copied().unwrap_or(0)
    }
}

/// Counts by status and the oldest waiting job, for every queue we run.
pub async fn queue_stats(conn: &mut PgConnection) -> Result<Vec<QueueStats>, sqlx::Error> {
    let counts: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT job_type, status, count(*) FROM apalis.jobs WHERE job_type = ANY($1) GROUP BY 1, 2",
    )
    .bind(QUEUES.as_slice())
    .fetch_all(&mut *conn)
    .await?;
    let oldest: Vec<(String, f64)> = sqlx::query_as(
        "SELECT job_type, EXTRACT(EPOCH FROM now() - min(run_at))::float8 FROM apalis.jobs
          WHERE job_type = ANY($1) AND status IN ('Pending', 'Queued') AND run_at <= now()
          GROUP BY 1",
    )
    .bind(QUEUES.as_slice())
    .fetch_all(&mut *conn)
    .await?;
    Ok(QUEUES
        .iter()
        .map(|queue| QueueStats {
            queue: (*queue).to_owned(),
            counts: counts
                .iter()
                .filter(|(q, _, _)| q == queue)
                .map(|(_, status, n)| (status.clone(), *n))
                .collect(),
            oldest_waiting_seconds: oldest
                .iter()
                .find(|(q, _)| q == queue)
                .map(|(_, s)| s.max(0.0)),
        })
        .collect())
}

/// Performances starting within `window` (not cancelled) that have reservations whose
/// confirmation e-mail has not gone out: per performance, the age in seconds of the oldest.
/// Visitors of those cannot confirm before the show, so operators are alerted.
pub async fn unsent_confirmations_soon(
    conn: &mut PgConnection,
    window: Duration,
) -> Result<Vec<(Uuid, f64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.id, EXTRACT(EPOCH FROM now() - min(r.created_at))::float8
           FROM performances p
           JOIN reservations r ON r.performance_id = p.id
          WHERE p.starts_at > now() AND p.starts_at <= now() + make_interval(secs => $1)
            AND p.booking_status <> 'cancelled'
            AND r.status = 'pending' AND r.confirmation_sent_at IS NULL
          GROUP BY p.id
          ORDER BY p.id",
    )
    .bind(window.as_secs_f64())
    .fetch_all(conn)
    .await
}

/// A worker process registered with the queue.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct WorkerInfo {
    pub id: String,
    pub queue: String,
    pub last_seen: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    /// Heartbeat seen within the allowed silence.
    pub live: bool,
}

/// Workers seen in the last day; `live` when their heartbeat is recent.
pub async fn list_workers(
    conn: &mut PgConnection,
    allowed_silence: Duration,
) -> Result<Vec<WorkerInfo>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, worker_type AS queue, last_seen, started_at,
                last_seen > now() - make_interval(secs => $2) AS live
           FROM apalis.workers
          WHERE worker_type = ANY($1) AND last_seen > now() - interval '1 day'
          ORDER BY last_seen DESC",
    )
    .bind(QUEUES.as_slice())
    .bind(allowed_silence.as_secs_f64())
    .fetch_all(conn)
    .await
}

/// A job that needs an operator's eye: failed for good, or killed.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct FailedJob {
    pub id: String,
    pub queue: String,
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    /// The error text apalis stored (ours never contain personal data or tokens).
    pub last_error: Option<String>,
    pub done_at: Option<DateTime<Utc>>,
    pub reservation_id: Option<Uuid>,
    pub performance_id: Option<Uuid>,
}

/// Failed (out of attempts) and killed jobs, newest first.
pub async fn list_failed_jobs(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<FailedJob>, sqlx::Error> {
    sqlx::query_as(
        "SELECT j.id, j.job_type AS queue, j.status, j.attempts, j.max_attempts,
                COALESCE(j.last_result->>'Err', j.last_result::text) AS last_error, j.done_at,
                r.id AS reservation_id, r.performance_id
           FROM apalis.jobs j
           LEFT JOIN reservations r ON r.id = (convert_from(j.job, 'UTF8')::jsonb->>'reservation_id')::uuid
          WHERE j.job_type = ANY($1)
            AND (j.status = 'Killed' OR (j.status = 'Failed' AND j.attempts >= j.max_attempts))
          ORDER BY j.done_at DESC NULLS LAST
          LIMIT $2",
    )
    .bind(QUEUES.as_slice())
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Puts a failed or killed job back in the queue with fresh attempts; false if there is no such job.
pub async fn retry_job(conn: &mut PgConnection, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE apalis.jobs
            SET status = 'Pending', attempts = 0, run_at = now(), lock_by = NULL, lock_at = NULL, done_at = NULL
          WHERE id = $1 AND job_type = ANY($2) AND status IN ('Failed', 'Killed')",
    )
    .bind(id)
    .bind(QUEUES.as_slice())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Retries every job that failed for good (not the killed ones); returns how many.
pub async fn retry_all_failed(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE apalis.jobs
            SET status = 'Pending', attempts = 0, run_at = now(), lock_by = NULL, lock_at = NULL, done_at = NULL
          WHERE job_type = ANY($1) AND status = 'Failed' AND attempts >= max_attempts",
    )
    .bind(QUEUES.as_slice())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Hands the jobs that workers named `workers` had taken (queued or running) back to their
/// queue at once: those workers' runs ended when their queue lost the database, and their jobs
/// need not wait for the heartbeat timeout. Returns how many.
pub async fn release_jobs_of(
    conn: &mut PgConnection,
    workers: &[String],
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE apalis.jobs SET status = 'Pending', lock_by = NULL, lock_at = NULL
          WHERE lock_by = ANY($1) AND status IN ('Queued', 'Running')",
    )
    .bind(workers)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Stops a job that has not succeeded from ever running again; false if there is no such job.
pub async fn kill_job(conn: &mut PgConnection, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE apalis.jobs SET status = 'Killed', done_at = now(), lock_by = NULL,
                last_result = jsonb_build_object('Err', 'Killed by an operator')
          WHERE id = $1 AND job_type = ANY($2) AND status IN ('Pending', 'Failed')",
    )
    .bind(id)
    .bind(QUEUES.as_slice())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Re-queues jobs that ran out of attempts for a transient reason (not killed) once they have
/// rested `rest`, as long as their reservation is younger than `window`: a long SMTP outage
/// then costs delay, not e-mails. Returns how many were revived.
pub async fn revive_transient_failures(
    conn: &mut PgConnection,
    rest: Duration,
    window: Duration,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE apalis.jobs j
            SET status = 'Pending', attempts = 0, run_at = now(), lock_by = NULL, lock_at = NULL, done_at = NULL
           FROM reservations r
          WHERE j.job_type = ANY($1) AND j.status = 'Failed' AND j.attempts >= j.max_attempts
            AND j.done_at < now() - make_interval(secs => $2)
            AND r.id = (convert_from(j.job, 'UTF8')::jsonb->>'reservation_id')::uuid
            AND GREATEST(r.created_at, r.confirmed_at) > now() - make_interval(secs => $3)",
    )
    .bind(QUEUES.as_slice())
    .bind(rest.as_secs_f64())
    .bind(window.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes finished jobs older than `age` (apalis keeps them forever otherwise).
pub async fn delete_old_jobs(conn: &mut PgConnection, age: Duration) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM apalis.jobs WHERE job_type = ANY($1) AND status = 'Done'
            AND done_at < now() - make_interval(secs => $2)",
    )
    .bind(QUEUES.as_slice())
    .bind(age.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Takes the housekeeping lock for the current transaction; false if another worker has it.
pub async fn try_lock_housekeeping(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(727275)")
        .fetch_one(conn)
        .await
}
