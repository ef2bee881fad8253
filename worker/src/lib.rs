//! `azione-worker`: apalis workers that send confirmation e-mails and QR tickets, run the
//! waiting list's offer rounds and e-mails, and send reminders. Jobs are
//! small, carry ids only, and are idempotent: each re-checks state before acting and records
//! that it acted. Several worker processes may run at once.

pub mod health;
pub mod housekeeping;
pub mod jobs;
pub mod mailer;
pub mod qr;
pub mod relay;
pub mod run_pending;
pub mod supervise;
pub mod wakeups;

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use apalis::layers::retry::{
    HasherRng, RetryPolicy,
    backoff::{ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff},
};
use apalis::prelude::*;
use apalis_postgres::{Config as QueueConfig, PostgresStorage};
use common::{config::Config, delivery::Lease, jobs::Job, metrics::Metrics};
use sqlx::PgPool;
use tokio::{net::TcpListener, sync::watch};

use crate::{health::Health, wakeups::Wakeups};

pub use mailer::Mailer;
pub use run_pending::run_pending_jobs;

/// What every job can reach, built once per process.
#[derive(Clone)]
pub struct JobContext {
    pub db: PgPool,
    pub mailer: Mailer,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    /// Wakes a queue's worker when a job is queued for it (see `wakeups`).
    pub wakeups: Wakeups,
}

/// Missed heartbeats after which a worker counts as dead (apalis's orphan recovery and our
/// delivery leases agree on it).
const MISSED_HEARTBEATS: u32 = 3;

impl JobContext {
    /// Builds the context from the configuration; fails if the mail settings are missing.
    pub fn new(config: Config, db: PgPool) -> anyhow::Result<JobContext> {
        let metrics = Arc::new(Metrics::default());
        // One SMTP connection for every job that may run at once, across the queues.
        let connections = common::jobs::QUEUES
            .iter()
            .map(|q| config.concurrency_of(q))
            .sum();
        let mailer = Mailer::new(config.require_mail()?, connections, metrics.clone())?;
        Ok(JobContext {
            db,
            mailer,
            config: Arc::new(config),
            metrics,
            health: Arc::default(),
            wakeups: Wakeups::default(),
        })
    }

    /// How long a worker's hold on sending one e-mail lasts (see `common::delivery`).
    pub fn delivery_lease(&self) -> Lease {
        let send_timeout = self
            .config
            .mail
            .as_ref()
            .map_or(Duration::from_secs(30), |m| m.send_timeout);
        Lease {
            stale_after: self.config.jobs.heartbeat_interval * MISSED_HEARTBEATS,
            lease_for: send_timeout + Duration::from_secs(10),
        }
    }

    /// Records a job's outcome and turns it into what apalis expects.
    pub fn finish(&self, queue: &str, result: Result<(), JobError>) -> Result<(), BoxDynError> {
        let outcome = match &result {
            Ok(()) => "ok",
            Err(JobError::Retryable(_)) => "retryable_error",
            Err(JobError::Permanent(_)) => "permanent_error",
        };
        if let Err(e) = &result {
            tracing::warn!(job.queue = queue, error = %e, "job attempt failed");
        }
        self.metrics.inc(
            "azione_jobs_total",
            "Job attempts by queue and outcome.",
            &[("queue", queue), ("outcome", outcome)],
        );
        result.map_err(JobError::into_apalis)
    }
}

/// How a job failed: worth another attempt, or not.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Network trouble, timeouts, 4xx replies, database hiccups.
    #[error("{0:#}")]
    Retryable(anyhow::Error),
    /// The row is gone, the address is refused for good: retrying cannot help.
    #[error("{0:#}")]
    Permanent(anyhow::Error),
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> JobError {
        JobError::Retryable(e.into())
    }
}

impl JobError {
    /// The error apalis understands: permanent failures end the job at once (`Killed`).
    pub fn into_apalis(self) -> BoxDynError {
        match self {
            JobError::Retryable(e) => e.into(),
            JobError::Permanent(e) => Box::new(AbortError::new(e)),
        }
    }
}

/// `start(name, stop)` for [`supervise::supervise`]: builds an apalis worker named `name` for
/// job type `$job` on its queue, calling `$handler`, and runs it until `stop`.
macro_rules! job_worker {
    ($ctx:expr, $job:ty, $handler:path) => {{
        let ctx: JobContext = $ctx.clone();
        move |name: String, stop: supervise::StopSignal| {
            let jobs = &ctx.config.jobs;
            let queue = <$job as Job>::QUEUE;
            let storage = PostgresStorage::<$job>::new(&ctx.db).with_config(
                QueueConfig::default()
                    .queue(queue)
                    .batch_size(ctx.config.concurrency_of(queue))
                    .heartbeat_interval(jobs.heartbeat_interval)
                    .missed_heartbeats(MISSED_HEARTBEATS as usize)
                    // A fetched job is already ours (`Queued`, `lock_by` set, and handed back
                    // if this worker dies): marking it `Running` too would write its row once
                    // more, with every index entry, for no reader that needs it.
                    .lock_tasks(false)
                    // Each job's end is recorded by its handler (`jobs::run_detached`), by the
                    // job's id: apalis's acknowledgement looked the job up by its worker first.
                    .persist_results(false),
            );
            // NOTIFY wakes the worker at once; the interval catches what NOTIFY misses.
            let strategy = Strategy::new()
                .stream(ctx.wakeups.subscribe(queue))
                .interval(jobs.poll_interval);
            WorkerBuilder::new(name)
                .backend(storage.poll_with_strategy(strategy))
                .concurrency(ctx.config.concurrency_of(queue))
                .retry(
                    RetryPolicy::retries(jobs.max_attempts.saturating_sub(1))
                        .with_backoff(backoff(jobs)),
                )
                .enable_tracing()
                .data(ctx.clone())
                .build($handler)
                .run_until(stop)
        }
    }};
}

/// Runs the workers, the housekeeping schedule and, when `WORKER_BIND_ADDR` is set, the health
/// listener, until `shutdown` resolves; in-flight jobs then get 30 seconds to finish.
pub async fn run(
    config: Config,
    pool: PgPool,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = match config.jobs.worker_bind_addr {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("bind WORKER_BIND_ADDR {addr}"))?,
        ),
        None => None,
    };
    run_on(JobContext::new(config, pool)?, listener, shutdown).await
}

/// [`run`] with a context and listener made by the caller (tests keep the metrics handle).
pub async fn run_on(
    ctx: JobContext,
    listener: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let until = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    if let Some(listener) = listener {
        tokio::spawn(health::serve(listener, ctx.clone(), until(stopped.clone())));
    }
    tokio::spawn(health::watch_database(ctx.clone(), until(stopped.clone())));
    tokio::spawn(housekeeping::run(ctx.clone(), until(stopped.clone())));
    tokio::spawn(
        ctx.wakeups
            .clone()
            .listen(ctx.db.clone(), until(stopped.clone())),
    );
    // Each queue on a task of its own: apalis fetches whenever its worker is polled with an
    // empty buffer, so queues polled together (one task) woke each other with every fetch's
    // answer and fetched in a loop, idle or not.
    let queues = [
        tokio::spawn(supervise::supervise(
            ctx.clone(),
            common::jobs::CONFIRMATION_QUEUE,
            stopped.clone(),
            job_worker!(
                ctx,
                common::jobs::SendConfirmationEmail,
                jobs::send_confirmation_email::run
            ),
        )),
        tokio::spawn(supervise::supervise(
            ctx.clone(),
            common::jobs::TICKET_QUEUE,
            stopped.clone(),
            job_worker!(ctx, common::jobs::SendTicket, jobs::send_ticket::run),
        )),
        tokio::spawn(supervise::supervise(
            ctx.clone(),
            common::jobs::WAITLIST_QUEUE,
            stopped.clone(),
            job_worker!(ctx, common::jobs::WaitlistJob, jobs::waitlist::run),
        )),
        tokio::spawn(supervise::supervise(
            ctx.clone(),
            common::jobs::REMINDER_QUEUE,
            stopped.clone(),
            job_worker!(ctx, common::jobs::SendReminder, jobs::reminders::run),
        )),
    ];
    let aborts: Vec<_> = queues.iter().map(|q| q.abort_handle()).collect();
    let queues = futures::future::join_all(queues);
    tokio::pin!(queues);
    // In-flight jobs get this long to finish once shutdown starts.
    let grace = async {
        until(stopped).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        _ = &mut queues => {}
        () = grace => {
            tracing::warn!("in-flight jobs did not finish in time; stopping anyway");
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
        }
    }
    Ok(())
}

/// How long in-flight jobs may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

fn backoff(jobs: &common::config::JobsConfig) -> ExponentialBackoff {
    ExponentialBackoffMaker::new(
        jobs.retry_min_delay,
        jobs.retry_max_delay,
        0.5,
        HasherRng::default(),
    )
    .expect("retry delays are valid (min <= max)")
    .make_backoff()
}

/// A unique name per process and queue: a restarted worker under an old name would strand
/// the jobs its predecessor held.
pub(crate) fn worker_name(queue: &str) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let suffix: u32 = rand::random();
    format!("{queue}-{host}-{}-{suffix:08x}", std::process::id())
}
