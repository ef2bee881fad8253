//! `azione-worker`: apalis workers that send confirmation e-mails and QR tickets. Jobs are
//! small, carry ids only, and are idempotent: each re-checks state before acting and records
//! that it acted. Several worker processes may run at once.

pub mod jobs;
pub mod mailer;
pub mod qr;

use std::{sync::Arc, time::Duration};

use apalis::layers::retry::{
    HasherRng, RetryPolicy,
    backoff::{ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff},
};
use apalis::prelude::*;
use apalis_postgres::{Config as QueueConfig, PostgresStorage, Pubsub};
use common::{config::Config, jobs::Job};
use sqlx::PgPool;

pub use mailer::Mailer;

/// What every job can reach, built once per process.
#[derive(Clone)]
pub struct JobContext {
    pub db: PgPool,
    pub mailer: Mailer,
    pub config: Arc<Config>,
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

/// Runs every worker until `shutdown` resolves; in-flight jobs get `shutdown_timeout` to finish.
pub async fn run(
    config: Config,
    pool: PgPool,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mailer = Mailer::new(config.require_mail()?)?;
    let ctx = JobContext {
        db: pool,
        mailer,
        config: Arc::new(config),
    };
    let monitor = register_jobs(Monitor::new(), &ctx);
    monitor
        .shutdown_timeout(Duration::from_secs(30))
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await?;
    Ok(())
}

/// One apalis worker for job type `$job` on its queue, calling `$handler`.
macro_rules! job_worker {
    ($ctx:expr, $job:ty, $handler:path) => {{
        let ctx: JobContext = $ctx.clone();
        move |_: usize| {
            let jobs = &ctx.config.jobs;
            let queue = <$job as Job>::QUEUE;
            let storage = PostgresStorage::<$job>::new(&ctx.db).with_config(
                QueueConfig::default()
                    .queue(queue)
                    .batch_size(jobs.concurrency)
                    .heartbeat_interval(jobs.heartbeat_interval)
                    .missed_heartbeats(3),
            );
            // NOTIFY wakes the worker at once; the interval catches what NOTIFY misses.
            let strategy = Strategy::new()
                .stream(Pubsub::new(ctx.db.clone(), queue.to_owned()))
                .interval(jobs.poll_interval);
            WorkerBuilder::new(worker_name(queue))
                .backend(storage.poll_with_strategy(strategy))
                .concurrency(jobs.concurrency)
                .retry(
                    RetryPolicy::retries(jobs.max_attempts.saturating_sub(1))
                        .with_backoff(backoff(jobs)),
                )
                .enable_tracing()
                .data(ctx.clone())
                .build($handler)
        }
    }};
}

/// Registers one worker per queue with its handler.
pub fn register_jobs(monitor: Monitor, ctx: &JobContext) -> Monitor {
    monitor
        .register(job_worker!(
            ctx,
            common::jobs::SendConfirmationEmail,
            jobs::send_confirmation_email::run
        ))
        .register(job_worker!(
            ctx,
            common::jobs::SendTicket,
            jobs::send_ticket::run
        ))
}

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
fn worker_name(queue: &str) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let suffix: u32 = rand::random();
    format!("{queue}-{host}-{}-{suffix:08x}", std::process::id())
}
