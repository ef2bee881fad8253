//! Each queue's apalis worker runs under a supervisor of ours. A backend error (the database
//! went away mid-fetch, mid-heartbeat or mid-acknowledgement) ends that worker's run and
//! nothing else: the supervisor marks the queue down, hands the jobs the ended run had taken back
//! to the queue, and starts a fresh worker (new name, new backend stream, a new wake-up subscription)
//! with capped exponential backoff, or at once when the database watch sees the database come
//! back. Only shutdown ends it.
//!
//! apalis's own `Monitor::should_restart` restarts at once, with no pause between attempts, so
//! the backoff is ours.

use std::time::{Duration, Instant};

use apalis::prelude::WorkerError;
use common::ops;
use tokio::sync::watch;

use crate::JobContext;

/// The first pause after a failed run; it doubles up to [`MAX_PAUSE`].
const MIN_PAUSE: Duration = Duration::from_millis(500);
const MAX_PAUSE: Duration = Duration::from_secs(30);
/// A run that lasts this long after a failure counts as recovered.
const RECOVERED_AFTER: Duration = Duration::from_secs(3);

/// Resolves when the process is told to stop; what a worker run ends on.
pub type StopSignal = std::pin::Pin<Box<dyn Future<Output = Result<(), WorkerError>> + Send>>;

fn stop_signal(mut stopped: watch::Receiver<bool>) -> StopSignal {
    Box::pin(async move {
        let _ = stopped.wait_for(|s| *s).await;
        Ok(())
    })
}

/// Runs `queue` until shutdown. `start(name, stop)` builds a worker named `name` and returns
/// its run, which ends with `Ok` once `stop` resolves and its in-flight jobs are done.
pub async fn supervise<F, Fut>(
    ctx: JobContext,
    queue: &'static str,
    stopped: watch::Receiver<bool>,
    start: F,
) where
    F: Fn(String, StopSignal) -> Fut,
    Fut: Future<Output = Result<(), WorkerError>>,
{
    let mut pause = MIN_PAUSE;
    let mut failing = false;
    let mut ended: Vec<String> = Vec::new();
    loop {
        if !ended.is_empty() {
            release_jobs(&ctx, queue, &mut ended).await;
        }
        let name = crate::worker_name(queue);
        let run = start(name.clone(), stop_signal(stopped.clone()));
        tokio::pin!(run);
        // Fetching, as far as anyone can tell: a run that fails again says so at once.
        ctx.health.set_queue(queue, true);
        let started = Instant::now();
        let result = loop {
            tokio::select! {
                result = &mut run => break result,
                () = tokio::time::sleep_until((started + RECOVERED_AFTER).into()), if failing => {
                    tracing::info!(job.queue = queue, "queue fetching again");
                    failing = false;
                    pause = MIN_PAUSE;
                }
            }
        };
        let error = match result {
            Ok(()) => return,
            Err(e) => e,
        };
        if *stopped.borrow() {
            return;
        }
        ctx.health.set_queue(queue, false);
        ctx.metrics.inc(
            "azione_worker_queue_restarts_total",
            "Restarts of a queue's worker after its backend failed.",
            &[("queue", queue)],
        );
        if failing {
            tracing::debug!(job.queue = queue, error = %error, "queue still failing");
        } else {
            tracing::warn!(
                job.queue = queue,
                error = %error,
                "queue stopped fetching; restarting it with backoff"
            );
            failing = true;
        }
        ended.push(name);
        let mut stop = stopped.clone();
        tokio::select! {
            () = tokio::time::sleep(pause) => pause = (pause * 2).min(MAX_PAUSE),
            () = ctx.health.database_back() => pause = MIN_PAUSE,
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Hands the jobs of ended runs back to the queue; kept for the next round if the database is
/// still away.
async fn release_jobs(ctx: &JobContext, queue: &str, ended: &mut Vec<String>) {
    let released = async {
        let mut conn = ctx.db.acquire().await?;
        ops::release_jobs_of(&mut conn, ended).await
    };
    match released.await {
        Ok(n) => {
            if n > 0 {
                tracing::info!(
                    job.queue = queue,
                    jobs = n,
                    "jobs of an ended run handed back"
                );
            }
            ended.clear();
        }
        Err(e) => tracing::debug!(job.queue = queue, error = %e, "jobs not handed back yet"),
    }
}
