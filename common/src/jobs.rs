//! Job payloads and the enqueue helper. `web` pushes jobs inside its own transactions;
//! `worker` consumes the same queues. Payloads hold ids only: no personal data, no tokens,
//! because the queue tables are shown to operators verbatim.

use apalis_core::task::builder::TaskBuilder;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

/// Queue of [`SendConfirmationEmail`] jobs (`apalis.jobs.job_type`).
pub const CONFIRMATION_QUEUE: &str = "email.confirmation";
/// Queue of [`SendTicket`] jobs.
pub const TICKET_QUEUE: &str = "email.ticket";

/// Queue of [`WaitlistJob`]s: offering freed seats and the waiting list's e-mails.
pub const WAITLIST_QUEUE: &str = "waitlist";
/// Queue of [`SendReminder`] jobs, each scheduled for its reminder time.
pub const REMINDER_QUEUE: &str = "email.reminder";

/// Every queue the worker consumes, for the operator views.
pub const QUEUES: [&str; 4] = [
    CONFIRMATION_QUEUE,
    TICKET_QUEUE,
    WAITLIST_QUEUE,
    REMINDER_QUEUE,
];

/// Attempts a job gets before it stays `Failed` (the worker retries in process with backoff).
pub const DEFAULT_MAX_ATTEMPTS: usize = 25;

/// E-mail the visitor a link to confirm a pending reservation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendConfirmationEmail {
    pub reservation_id: Uuid,
    /// The booking request's id, so the job's log lines can be tied to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Uuid>,
}

/// E-mail the visitor their QR ticket and cancel link after confirmation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendTicket {
    pub reservation_id: Uuid,
    /// The confirming request's id, for the logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Uuid>,
}

/// Work of the waiting list (see `common::waitlist`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitlistJob {
    /// Lock the performance, expire lapsed offers and offer the free seats to the earliest
    /// waiting entries whose party fits.
    OfferSeats { performance_id: Uuid },
    /// E-mail the link that confirms a place in line.
    SendConfirmation { entry_id: Uuid },
    /// E-mail an offer with its claim link.
    SendOffer { entry_id: Uuid },
}

/// E-mail a confirmed reservation's reminder shortly before its performance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendReminder {
    pub reservation_id: Uuid,
}

/// A job as the worker running it holds it: `worker` is the apalis worker's name (the job's
/// `lock_by`, and the holder of its e-mail's delivery lease), `id` the job's and `attempt` the
/// one running.
///
/// The worker records how each job ends itself ([`end_job`]; apalis's acknowledgement is off),
/// and an e-mail's job ends in the statement that records the e-mail as sent
/// ([`crate::delivery::record_sent`]), which notes it here so that nothing is written twice.
#[derive(Debug)]
pub struct HeldJob {
    pub worker: String,
    pub id: String,
    pub attempt: i32,
    ended: AtomicBool,
}

impl HeldJob {
    pub fn new(worker: String, id: String, attempt: i32) -> HeldJob {
        HeldJob {
            worker,
            id,
            attempt,
            ended: AtomicBool::new(false),
        }
    }

    /// Whether this job's end has been recorded.
    pub fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Notes that a statement recorded this job's end.
    pub fn note_ended(&self) {
        self.ended.store(true, Ordering::Release);
    }
}

/// How a job ended, in apalis's terms.
#[derive(Debug, Clone)]
pub enum JobEnd {
    Done,
    /// A retryable error at its last attempt: it stays failed until an operator retries it.
    Failed(String),
    /// A permanent error: no more attempts.
    Killed(String),
}

/// Records how `job` ended, as apalis's acknowledgement would (status, attempts, result), while
/// its worker still holds it: a job that an operator killed meanwhile, or that was handed to
/// another worker, is left alone. Returns whether it was recorded.
///
/// apalis acknowledges in a transaction of its own that first looks up every job by its
/// worker (stepping over the index entries of all the jobs that worker finished since the last
/// vacuum); this is one statement by the job's id.
pub async fn end_job(
    conn: &mut PgConnection,
    job: &HeldJob,
    end: &JobEnd,
) -> Result<bool, sqlx::Error> {
    let (status, result) = match end {
        JobEnd::Done => ("Done", serde_json::json!({ "Ok": null })),
        JobEnd::Failed(e) => ("Failed", serde_json::json!({ "Err": e })),
        JobEnd::Killed(e) => ("Killed", serde_json::json!({ "Err": e })),
    };
    let ended = sqlx::query(
        "UPDATE apalis.jobs SET status = $3, attempts = $4, last_result = $5, done_at = now()
          WHERE id = $1 AND lock_by = $2 AND status IN ('Queued', 'Running')",
    )
    .bind(&job.id)
    .bind(&job.worker)
    .bind(status)
    .bind(job.attempt)
    .bind(result)
    .execute(conn)
    .await?
    .rows_affected()
        > 0;
    if ended {
        job.note_ended();
    }
    Ok(ended)
}

/// A payload type and the queue it travels on.
pub trait Job: Serialize {
    const QUEUE: &'static str;
    /// Keeps one job per purpose and reservation even if a caller enqueues twice.
    fn idempotency_key(&self) -> String;
}

impl Job for SendConfirmationEmail {
    const QUEUE: &'static str = CONFIRMATION_QUEUE;
    fn idempotency_key(&self) -> String {
        format!("confirm:{}", self.reservation_id)
    }
}

impl Job for SendTicket {
    const QUEUE: &'static str = TICKET_QUEUE;
    fn idempotency_key(&self) -> String {
        format!("ticket:{}", self.reservation_id)
    }
}

impl Job for WaitlistJob {
    const QUEUE: &'static str = WAITLIST_QUEUE;
    fn idempotency_key(&self) -> String {
        match self {
            // Seats may come free any number of times: every occasion is its own job.
            WaitlistJob::OfferSeats { performance_id } => {
                format!("offer-seats:{performance_id}:{}", Uuid::new_v4())
            }
            WaitlistJob::SendConfirmation { entry_id } => format!("waitlist-confirm:{entry_id}"),
            WaitlistJob::SendOffer { entry_id } => format!("waitlist-offer:{entry_id}"),
        }
    }
}

impl Job for SendReminder {
    const QUEUE: &'static str = REMINDER_QUEUE;
    fn idempotency_key(&self) -> String {
        format!("reminder:{}", self.reservation_id)
    }
}

/// Like [`enqueue`], but the job waits until `run_at` (a scheduled reminder, an offer's expiry).
pub async fn enqueue_at<J: Job>(
    conn: &mut PgConnection,
    job: &J,
    max_attempts: usize,
    run_at: chrono::DateTime<chrono::Utc>,
    idempotency_key: String,
) -> Result<(), sqlx::Error> {
    push(conn, job, max_attempts, idempotency_key, Some(run_at)).await
}

/// The `run_at` stored for a job scheduled for `at`, as apalis stores it: whole seconds, rounded
/// up (a job never runs before its time). `None` for a time already reached: the job keeps the
/// default, now, so that it is due at once rather than at the next whole second.
pub fn stored_run_at(at: chrono::DateTime<chrono::Utc>) -> Option<chrono::DateTime<chrono::Utc>> {
    if at <= chrono::Utc::now() {
        return None;
    }
    let seconds = at.timestamp() + i64::from(at.timestamp_subsec_nanos() > 0);
    chrono::DateTime::from_timestamp(seconds, 0)
}

/// Pushes `job` on the caller's connection, so it commits or rolls back with the caller's writes.
pub async fn enqueue<J: Job>(
    conn: &mut PgConnection,
    job: &J,
    max_attempts: usize,
) -> Result<(), sqlx::Error> {
    enqueue_keyed(conn, job, max_attempts, job.idempotency_key()).await
}

/// Like [`enqueue`], for a deliberate repeat (an admin re-sending a ticket): the idempotency
/// key of the first job is permanent, so a repeat needs a key of its own.
pub async fn enqueue_again<J: Job>(
    conn: &mut PgConnection,
    job: &J,
    max_attempts: usize,
) -> Result<(), sqlx::Error> {
    let key = format!("{}:again:{}", job.idempotency_key(), uuid::Uuid::new_v4());
    enqueue_keyed(conn, job, max_attempts, key).await
}

async fn enqueue_keyed<J: Job>(
    conn: &mut PgConnection,
    job: &J,
    max_attempts: usize,
    idempotency_key: String,
) -> Result<(), sqlx::Error> {
    push(conn, job, max_attempts, idempotency_key, None).await
}

async fn push<J: Job>(
    conn: &mut PgConnection,
    job: &J,
    max_attempts: usize,
    idempotency_key: String,
    run_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), sqlx::Error> {
    let args = serde_json::to_vec(job).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let mut task = TaskBuilder::new(args)
        .max_attempts(max_attempts)
        .idempotency_key(idempotency_key);
    if let Some(run_at) = run_at.and_then(stored_run_at) {
        task = task.run_at_timestamp(u64::try_from(run_at.timestamp()).unwrap_or(0));
    }
    apalis_postgres::queries::push_tasks(conn, J::QUEUE, vec![task.build()])
        .await
        .map_err(|e| match e {
            apalis_postgres::Error::Database(e) => e,
            other => sqlx::Error::Protocol(other.to_string()),
        })
}

/// The column list of a statement that writes one job row, as `apalis_postgres`'s
/// `push_tasks` writes it, for a caller that queues its job in the same statement as its own
/// write; the values come from a [`NewJob`] (`id, queue, payload, 'Pending', 0, max_attempts,
/// now(), 0, ''::hstore, idempotency_key`).
#[macro_export]
macro_rules! insert_job_columns {
    () => {
        "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at,
                                  priority, metadata, idempotency_key)"
    };
}

/// A job ready to be written by a statement of the caller's (see [`insert_job_columns!`]).
pub struct NewJob {
    /// A ULID, as apalis names its jobs.
    pub id: String,
    pub queue: &'static str,
    pub payload: Vec<u8>,
    pub max_attempts: i32,
    pub idempotency_key: String,
}

impl NewJob {
    /// The row of `job`.
    pub fn of<J: Job>(job: &J, max_attempts: usize) -> Result<NewJob, sqlx::Error> {
        Ok(NewJob {
            id: ulid::Ulid::generate().to_string(),
            queue: J::QUEUE,
            payload: serde_json::to_vec(job).map_err(|e| sqlx::Error::Encode(Box::new(e)))?,
            max_attempts: i32::try_from(max_attempts).unwrap_or(i32::MAX),
            idempotency_key: job.idempotency_key(),
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use super::stored_run_at;

    #[test]
    fn a_scheduled_time_is_stored_in_whole_seconds_never_early_and_a_past_one_as_now() {
        let later = Utc::now() + Duration::hours(1);
        let stored = stored_run_at(later).unwrap();
        assert_eq!(stored.timestamp_subsec_nanos(), 0);
        assert!(stored >= later && stored - later < Duration::seconds(1));
        let whole = stored + Duration::hours(1);
        assert_eq!(stored_run_at(whole), Some(whole));
        assert_eq!(stored_run_at(Utc::now() - Duration::seconds(1)), None);
    }
}
