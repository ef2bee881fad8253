//! [`run_pending_jobs`]: the queued jobs, run once in the caller's task through the same
//! handlers the worker uses, so that a test can drive the queue deterministically instead
//! of waiting for the background worker.

use anyhow::Context;
use common::jobs::{
    CONFIRMATION_QUEUE, HeldJob, QUEUES, REMINDER_QUEUE, SendConfirmationEmail, SendReminder,
    SendTicket, TICKET_QUEUE, WAITLIST_QUEUE, WaitlistJob,
};
use serde_json::json;

use crate::{JobContext, JobError, jobs};

/// The delivery-lease holder name of jobs run here.
const HOLDER: &str = "run-pending-jobs";

/// Runs every job waiting in our queues (and any they add) until none is left; returns how
/// many ran. Each ends `Done`, or `Failed` (retryable error) or `Killed` (permanent error)
/// after one attempt, with the error in `last_result`, as the worker records them. Jobs
/// scheduled for later (`run_at` in the future) stay waiting.
pub async fn run_pending_jobs(ctx: &JobContext) -> anyhow::Result<usize> {
    let mut ran = 0;
    while let Some((id, queue, payload)) = claim_next(ctx).await? {
        // Not held by a worker (`lock_by` stays empty), so a sent e-mail's record leaves the job
        // to be finished here.
        let held = HeldJob::new(HOLDER.to_owned(), id.clone(), 1);
        let result = run_one(ctx, &held, &queue, &payload).await;
        let (status, last_result) = match &result {
            Ok(()) => ("Done", json!({ "Ok": null })),
            Err(JobError::Retryable(e)) => ("Failed", json!({ "Err": format!("{e:#}") })),
            Err(JobError::Permanent(e)) => ("Killed", json!({ "Err": format!("{e:#}") })),
        };
        let _ = ctx.finish(&queue, result);
        sqlx::query(
            "UPDATE apalis.jobs SET status = $2, attempts = attempts + 1, last_result = $3, \
             done_at = now() WHERE id = $1",
        )
        .bind(&id)
        .bind(status)
        .bind(last_result)
        .execute(&ctx.db)
        .await
        .context("record a job's outcome")?;
        ran += 1;
    }
    Ok(ran)
}

/// Marks the oldest waiting job of our queues `Running` and returns its id, queue and payload.
async fn claim_next(ctx: &JobContext) -> anyhow::Result<Option<(String, String, Vec<u8>)>> {
    sqlx::query_as(
        "UPDATE apalis.jobs SET status = 'Running', lock_at = now() WHERE id = (
             SELECT id FROM apalis.jobs
             WHERE status = 'Pending' AND run_at <= now() AND job_type = ANY($1)
             ORDER BY priority DESC, run_at
             LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id, job_type, job",
    )
    .bind(QUEUES.as_slice())
    .fetch_optional(&ctx.db)
    .await
    .context("claim a waiting job")
}

/// Decodes the payload and calls the queue's handler.
async fn run_one(
    ctx: &JobContext,
    held: &HeldJob,
    queue: &str,
    payload: &[u8],
) -> Result<(), JobError> {
    let undecodable = |e: serde_json::Error| JobError::Permanent(anyhow::anyhow!("payload: {e}"));
    match queue {
        CONFIRMATION_QUEUE => {
            let job: SendConfirmationEmail =
                serde_json::from_slice(payload).map_err(undecodable)?;
            jobs::send_confirmation_email::send(ctx, job.reservation_id, held).await
        }
        TICKET_QUEUE => {
            let job: SendTicket = serde_json::from_slice(payload).map_err(undecodable)?;
            jobs::send_ticket::send(ctx, job.reservation_id, held).await
        }
        WAITLIST_QUEUE => {
            let job: WaitlistJob = serde_json::from_slice(payload).map_err(undecodable)?;
            jobs::waitlist::perform(ctx, job, held).await
        }
        REMINDER_QUEUE => {
            let job: SendReminder = serde_json::from_slice(payload).map_err(undecodable)?;
            jobs::reminders::send(ctx, job.reservation_id, held).await
        }
        other => Err(JobError::Permanent(anyhow::anyhow!(
            "unknown queue {other}"
        ))),
    }
}
