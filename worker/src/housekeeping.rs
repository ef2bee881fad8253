//! Housekeeping on a schedule (every `HOUSEKEEPING_INTERVAL_SECONDS`, one worker at a time by an
//! advisory lock): revive jobs that ran out of attempts for a transient reason, expire
//! reservations and waiting-list entries that can no longer be confirmed, erase personal data
//! `RETENTION_DAYS` after the performance, queue an offer round wherever an offer lapsed
//! unnoticed (the round scheduled at its expiry normally ends it), and delete finished jobs
//! after 30 days.

use std::time::Duration;

use common::{ops, retention, waitlist};

use crate::JobContext;

/// Finished jobs are kept this long for operators, then deleted.
const KEEP_DONE_JOBS: Duration = Duration::from_secs(30 * 86_400);

/// Runs the schedule until `shutdown` resolves.
pub async fn run(ctx: JobContext, shutdown: impl Future<Output = ()> + Send + 'static) {
    let mut tick = tokio::time::interval(ctx.config.jobs.housekeeping_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = tick.tick() => {
                // The database watch already says it is away; no line per round.
                if !ctx.health.database_up() {
                    continue;
                }
                if let Err(e) = run_once(&ctx).await {
                    tracing::warn!(error = %e, "housekeeping failed; will try again");
                }
            }
        }
    }
}

/// One round of housekeeping, in one transaction; skipped if another worker is at it.
pub async fn run_once(ctx: &JobContext) -> Result<(), sqlx::Error> {
    let jobs = &ctx.config.jobs;
    let mut tx = ctx.db.begin().await?;
    if !ops::try_lock_housekeeping(&mut tx).await? {
        return Ok(());
    }
    let revived =
        ops::revive_transient_failures(&mut tx, jobs.revive_after, jobs.revive_window).await?;
    let expired = retention::expire_pending_reservations(
        &mut tx,
        ctx.config.booking.confirmation_ttl,
        jobs.revive_window,
    )
    .await?;
    let erased = retention::erase_personal_data(&mut tx, jobs.retention).await?
        + waitlist::queries::erase_personal_data(&mut tx, jobs.retention).await?;
    let expired = expired
        + waitlist::queries::expire_pending_entries(
            &mut tx,
            ctx.config.booking.confirmation_ttl,
            jobs.revive_window,
        )
        .await?;
    let offer_rounds = waitlist::queue_rounds_for_lapsed_offers(&mut tx).await?;
    let deleted = ops::delete_old_jobs(&mut tx, KEEP_DONE_JOBS).await?;
    tx.commit().await?;
    if revived + expired + erased + deleted + offer_rounds > 0 {
        tracing::info!(
            revived,
            expired,
            erased,
            deleted,
            offer_rounds,
            "housekeeping done"
        );
    }
    Ok(())
}
