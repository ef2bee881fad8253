//! One module per job; each holds `run`, the handler its queue's worker calls, and builds its
//! e-mail for [`deliver`], which sends it under the reservation's delivery lease.

pub mod reminders;
pub mod send_confirmation_email;
pub mod send_ticket;
pub mod waitlist;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::anyhow;
use apalis::prelude::{Attempt, BoxDynError, Data, TaskId, WorkerContext};
use common::{
    delivery::{self, Claim},
    jobs::{self, HeldJob, JobEnd},
    tickets::Recipient,
};
use sqlx::{PgConnection, Postgres, Transaction, pool::PoolConnection};
use tracing::Instrument;
use uuid::Uuid;

use crate::{JobContext, JobError, mailer::Email};

/// The message `id` about a reservation, in its language: its seats, show, local start
/// (`tz`) and room as `$seats`, `$title`, `$when` and `$room`.
pub fn about_reservation(id: &str, r: &Recipient, tz: chrono_tz::Tz) -> String {
    let lang = r.language();
    lang.t_args(
        id,
        [
            ("seats", lang.t1("seats", "count", r.party_size).into()),
            ("title", r.title.as_str().into()),
            ("when", lang.date_time(r.starts_at, tz).into()),
            ("room", r.room.as_str().into()),
        ],
    )
}

/// `<purpose.reservation-id@host>`: the same for every attempt of one e-mail.
pub fn message_id(purpose: &str, reservation_id: Uuid, public_base_url: &str) -> String {
    let host = common::config::public_host(public_base_url);
    format!("<{purpose}.{reservation_id}@{host}>")
}

/// How long recording a sent e-mail keeps trying while the database is away: long enough to
/// ride out a restart, so that the e-mail is not sent twice.
const RECORD_PATIENCE: Duration = Duration::from_secs(60);

/// Sends one e-mail of a reservation (or waiting-list entry), at least once and at most once as
/// far as the database can tell (see `common::delivery`): waits while another live worker sends
/// it, builds it with `build` from what the lease's statement read (the [`Recipient`] of a
/// reservation's e-mail; `None` for a waiting-list entry's), sends it, and records it, which
/// finishes `job`. Returns whether this call sent it.
///
/// A reservation's e-mail passes the tokens it carries as `issue`: the lease's statement issues
/// them, and `build` needs no database. Without `issue` (a waiting-list entry's e-mail, which
/// issues its own tokens), `build` runs in the transaction that takes the lease, so that its
/// tokens and the lease commit together; it returns `None` when there is nothing to send.
pub async fn deliver(
    ctx: &JobContext,
    reservation_id: Uuid,
    kind: delivery::Email,
    job: &HeldJob,
    issue: Option<delivery::Issue>,
    build: impl AsyncFnOnce(
        &mut PgConnection,
        i32,
        Option<Recipient>,
    ) -> Result<Option<Email>, JobError>,
) -> Result<bool, JobError> {
    let queue = match kind {
        delivery::Email::Confirmation => common::jobs::CONFIRMATION_QUEUE,
        delivery::Email::Ticket => common::jobs::TICKET_QUEUE,
        delivery::Email::Reminder => common::jobs::REMINDER_QUEUE,
        delivery::Email::WaitlistConfirmation | delivery::Email::WaitlistOffer => {
            common::jobs::WAITLIST_QUEUE
        }
    };
    let holder = job.worker.as_str();
    let lease = ctx.delivery_lease();
    let waiting_since = Instant::now();
    let (email, generation, resumed) = loop {
        let mut conn = match issue {
            Some(_) => LeaseConnection::Alone(ctx.db.acquire().await?),
            None => LeaseConnection::InTransaction(ctx.db.begin().await?),
        };
        match delivery::claim(
            &mut conn,
            reservation_id,
            kind,
            holder,
            lease,
            issue.as_ref(),
        )
        .await?
        {
            Claim::NotNeeded => {
                tracing::info!("e-mail not needed any more");
                return Ok(false);
            }
            Claim::Erased => {
                tracing::info!("personal data already erased; nothing to send");
                return Ok(false);
            }
            Claim::Gone => return Err(JobError::Permanent(anyhow!("not found"))),
            Claim::Busy if waiting_since.elapsed() < lease.lease_for => {
                drop(conn);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Claim::Busy => {
                return Err(JobError::Retryable(anyhow!(
                    "another worker is still sending this e-mail"
                )));
            }
            Claim::Send {
                generation,
                resumed,
                recipient,
            } => {
                let built = build(&mut *conn, generation, recipient.map(|r| *r)).await;
                match (built, conn) {
                    (Ok(Some(email)), conn) => {
                        conn.commit().await?;
                        break (email, generation, resumed);
                    }
                    // A transaction's lease ends with it; a lease taken alone is handed back.
                    (built, LeaseConnection::Alone(mut conn)) => {
                        let _ = delivery::release(&mut conn, reservation_id, kind, holder).await;
                        return built.map(|_| false);
                    }
                    (built, LeaseConnection::InTransaction(_)) => return built.map(|_| false),
                }
            }
        }
    };
    if resumed {
        ctx.metrics.inc(
            "azione_email_duplicate_sends_total",
            "E-mails sent again because an earlier attempt's outcome was never recorded \
             (possible duplicates).",
            &[("queue", queue)],
        );
    }
    if let Err(e) = ctx.mailer.send(email).await {
        if let Ok(mut conn) = ctx.db.acquire().await {
            let _ = delivery::release(&mut conn, reservation_id, kind, holder).await;
        }
        return Err(e);
    }
    let mut patience = Patience::new();
    let current = loop {
        let attempt = async {
            let mut conn = ctx.db.acquire().await?;
            delivery::record_sent(&mut conn, reservation_id, kind, job, generation).await
        };
        match attempt.await {
            Ok(current) => break current,
            Err(e) => patience.wait(e).await?,
        }
    };
    if current {
        tracing::info!("e-mail sent");
    } else {
        tracing::info!("e-mail sent, but superseded meanwhile; the newer one follows");
    }
    Ok(true)
}

/// Where [`deliver`] takes a lease: a connection of its own (the lease's statement commits by
/// itself), or a transaction that the e-mail's own statements join.
enum LeaseConnection {
    Alone(PoolConnection<Postgres>),
    InTransaction(Transaction<'static, Postgres>),
}

impl LeaseConnection {
    async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            LeaseConnection::Alone(_) => Ok(()),
            LeaseConnection::InTransaction(tx) => tx.commit().await,
        }
    }
}

impl std::ops::Deref for LeaseConnection {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        match self {
            LeaseConnection::Alone(c) => c,
            LeaseConnection::InTransaction(tx) => tx,
        }
    }
}

impl std::ops::DerefMut for LeaseConnection {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            LeaseConnection::Alone(c) => c,
            LeaseConnection::InTransaction(tx) => tx,
        }
    }
}

/// The [`Recipient`] that [`deliver`] read for a reservation's e-mail.
pub fn leased_recipient(read: Option<Recipient>) -> Result<Recipient, JobError> {
    read.ok_or_else(|| JobError::Permanent(anyhow!("the lease read no recipient")))
}

/// The body of every queue's `run`: `work` (given the context and the job as its worker holds
/// it: the worker's name holds delivery leases) runs in the job's span on a task of its own, so
/// that a worker whose queue loses the database mid-job does not cut a send off between SMTP's
/// acceptance and its record. Then the job's end is recorded (unless the work's own statement
/// did), its outcome is counted for `queue` and answered to apalis, which retries in process.
pub async fn run_detached<Work>(
    queue: &'static str,
    ctx: Data<JobContext>,
    worker: WorkerContext,
    task: TaskId,
    attempt: Attempt,
    work: impl FnOnce(JobContext, Arc<HeldJob>) -> Work,
) -> Result<(), BoxDynError>
where
    Work: Future<Output = Result<(), JobError>> + Send + 'static,
{
    let ctx = ctx.0;
    let attempt = attempt.current();
    let job = Arc::new(HeldJob::new(
        worker.name().to_owned(),
        task.to_string(),
        i32::try_from(attempt).unwrap_or(i32::MAX),
    ));
    let work = work(ctx.clone(), job.clone()).in_current_span();
    let outcome = tokio::spawn(work)
        .await
        .unwrap_or_else(|e| Err(JobError::Permanent(anyhow!("job task failed: {e}"))));
    // apalis retries a retryable error in this process while attempts remain (the job stays
    // held meanwhile); every other outcome ends the job here.
    let end = match &outcome {
        Ok(()) => Some(JobEnd::Done),
        Err(e @ JobError::Permanent(_)) => Some(JobEnd::Killed(format!("{e:#}"))),
        Err(e) if attempt >= ctx.config.jobs.max_attempts => Some(JobEnd::Failed(format!("{e:#}"))),
        Err(_) => None,
    };
    if let Some(end) = end.filter(|_| !job.has_ended()) {
        let mut patience = Patience::new();
        loop {
            let attempt = async {
                let mut conn = ctx.db.acquire().await?;
                jobs::end_job(&mut conn, &job, &end).await
            };
            match attempt.await {
                Ok(_) => break,
                Err(e) => patience.wait(e).await.map_err(JobError::into_apalis)?,
            }
        }
    }
    ctx.finish(queue, outcome)
}

/// Tries again while the database is unavailable, for up to [`RECORD_PATIENCE`] in all: what
/// a sent e-mail left to record must not be lost to a restart.
struct Patience {
    started: Instant,
    pause: Duration,
}

impl Patience {
    fn new() -> Patience {
        Patience {
            started: Instant::now(),
            pause: Duration::from_millis(100),
        }
    }

    /// Waits before the next try if `e` means the database is away and patience remains;
    /// otherwise gives the error back.
    async fn wait(&mut self, e: sqlx::Error) -> Result<(), JobError> {
        if common::db::is_unavailable(&e) && self.started.elapsed() < RECORD_PATIENCE {
            tokio::time::sleep(self.pause).await;
            self.pause = (self.pause * 2).min(Duration::from_secs(5));
            Ok(())
        } else {
            Err(e.into())
        }
    }
}
