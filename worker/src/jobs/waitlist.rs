//! The waiting list's queue: offer rounds (lock the performance, end lapsed offers, offer the
//! free seats in order) and the list's two e-mails, the link that confirms a place in line and
//! an offer with its claim link. Tokens are created in the transaction that takes the e-mail's
//! delivery lease, so their raw values exist only in the e-mail. Every e-mail carries a leave
//! link, which also declines an offer.

use anyhow::anyhow;
use apalis::prelude::{Attempt, BoxDynError, Data, TaskId, WorkerContext};
use askama::Template;
use common::{
    delivery,
    jobs::{HeldJob, WAITLIST_QUEUE, WaitlistJob},
    locale::Language,
    waitlist::{self, Addressee, WaitlistStatus, WaitlistTokenPurpose},
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    JobContext, JobError,
    jobs::{deliver, message_id, run_detached, send_confirmation_email::describe_duration},
    mailer::Email,
};

/// Offers made and ended by the offer rounds (claims are counted by the web process).
pub const OFFERS_METRIC: &str = "azione_waitlist_offers_total";
pub const OFFERS_HELP: &str =
    "Waiting-list offers by outcome (offered, expired here; claimed on the web).";

/// What both waiting-list e-mails show, in the language the visitor joined in.
struct WaitlistMail {
    /// The seats, show, local start and room, in a sentence.
    intro: String,
    /// Confirm (joining) or claim (offer).
    action_link: String,
    leave_link: String,
    /// Until when to confirm (joining) or claim (offer), in a sentence.
    deadline: String,
}

#[derive(Template)]
#[template(path = "waitlist_confirmation.txt")]
struct ConfirmationText<'a> {
    lang: Language,
    m: &'a WaitlistMail,
}

#[derive(Template)]
#[template(path = "waitlist_confirmation.html")]
struct ConfirmationHtml<'a> {
    lang: Language,
    m: &'a WaitlistMail,
}

#[derive(Template)]
#[template(path = "waitlist_offer.txt")]
struct OfferText<'a> {
    lang: Language,
    m: &'a WaitlistMail,
}

#[derive(Template)]
#[template(path = "waitlist_offer.html")]
struct OfferHtml<'a> {
    lang: Language,
    m: &'a WaitlistMail,
}

/// The worker's entry point for this queue.
#[tracing::instrument(skip_all, fields(job.queue = WAITLIST_QUEUE))]
pub async fn run(
    job: WaitlistJob,
    ctx: Data<JobContext>,
    worker: WorkerContext,
    task: TaskId,
    attempt: Attempt,
) -> Result<(), BoxDynError> {
    run_detached(
        WAITLIST_QUEUE,
        ctx,
        worker,
        task,
        attempt,
        move |ctx, held| async move { perform(&ctx, job, &held).await },
    )
    .await
}

/// Does one job of this queue, as `held` by its worker (whose name holds delivery leases).
pub(crate) async fn perform(
    ctx: &JobContext,
    job: WaitlistJob,
    held: &HeldJob,
) -> Result<(), JobError> {
    match job {
        WaitlistJob::OfferSeats { performance_id } => offer_seats(ctx, performance_id).await,
        WaitlistJob::SendConfirmation { entry_id } => {
            send(ctx, entry_id, delivery::Email::WaitlistConfirmation, held).await
        }
        WaitlistJob::SendOffer { entry_id } => {
            send(ctx, entry_id, delivery::Email::WaitlistOffer, held).await
        }
    }
}

#[tracing::instrument(skip_all, fields(performance.id = %performance_id))]
async fn offer_seats(ctx: &JobContext, performance_id: Uuid) -> Result<(), JobError> {
    let mut tx = ctx.db.begin().await?;
    let round = waitlist::offer_seats(
        &mut tx,
        performance_id,
        ctx.config.booking.waitlist_offer_hold,
    )
    .await?;
    tx.commit().await?;
    for (outcome, n) in [
        ("offered", round.offered.len() as u64),
        ("expired", round.expired),
    ] {
        for _ in 0..n {
            ctx.metrics
                .inc(OFFERS_METRIC, OFFERS_HELP, &[("outcome", outcome)]);
        }
    }
    if !round.offered.is_empty() || round.expired > 0 {
        tracing::info!(
            offered = round.offered.len(),
            expired = round.expired,
            "offer round done"
        );
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(waitlist_entry.id = %entry_id))]
async fn send(
    ctx: &JobContext,
    entry_id: Uuid,
    kind: delivery::Email,
    held: &HeldJob,
) -> Result<(), JobError> {
    let mut conn = ctx.db.acquire().await?;
    let addressee = waitlist::find_addressee(&mut conn, entry_id).await?;
    drop(conn);
    let Some(a) = addressee else {
        return Err(JobError::Permanent(anyhow!("waiting-list entry not found")));
    };
    let wanted = match kind {
        delivery::Email::WaitlistOffer => a.status == WaitlistStatus::Offered && a.offer_live,
        _ => a.status == WaitlistStatus::Pending,
    };
    if !wanted {
        tracing::info!("waiting-list e-mail not needed any more");
        return Ok(());
    }
    let Some(to) = a.email.clone() else {
        tracing::info!("personal data already erased; nothing to send");
        return Ok(());
    };
    let base = &ctx.config.public_base_url;
    let ttl = ctx.config.booking.confirmation_ttl;
    let tz = ctx.config.locale.timezone;
    let lang = a.language();
    deliver(
        ctx,
        entry_id,
        kind,
        held,
        None,
        async |conn: &mut PgConnection, _generation, _recipient| {
            let leave =
                waitlist::insert_token(conn, entry_id, WaitlistTokenPurpose::Leave, None).await?;
            let leave_link = format!("{base}/waitlist/leave?token={}", leave.expose());
            let (action_link, deadline) = match kind {
                delivery::Email::WaitlistOffer => {
                    // Claims are decided under the lock; the claim token needs no expiry.
                    let claim =
                        waitlist::insert_token(conn, entry_id, WaitlistTokenPurpose::Claim, None)
                            .await?;
                    let until = a
                        .offer_expires_at
                        .map(|t| lang.t1("email-offer-until", "until", lang.date_time(t, tz)))
                        .unwrap_or_default();
                    (
                        format!("{base}/waitlist/claim?token={}", claim.expose()),
                        until,
                    )
                }
                _ => {
                    let confirm = waitlist::insert_token(
                        conn,
                        entry_id,
                        WaitlistTokenPurpose::Confirm,
                        Some(ttl),
                    )
                    .await?;
                    (
                        format!("{base}/waitlist/confirm?token={}", confirm.expose()),
                        lang.t1(
                            "email-waitlist-pending",
                            "valid_for",
                            describe_duration(lang, ttl),
                        ),
                    )
                }
            };
            let intro = match kind {
                delivery::Email::WaitlistOffer => "email-offer-intro",
                _ => "email-waitlist-intro",
            };
            let m = WaitlistMail {
                intro: about_entry(intro, &a, tz),
                action_link,
                leave_link,
                deadline,
            };
            let render =
                |r: Result<String, askama::Error>| r.map_err(|e| JobError::Permanent(e.into()));
            let (purpose, subject, text, html) = match kind {
                delivery::Email::WaitlistOffer => (
                    "waitlist_offer",
                    lang.t1("email-offer-subject", "title", a.title.as_str()),
                    render(OfferText { lang, m: &m }.render())?,
                    render(OfferHtml { lang, m: &m }.render())?,
                ),
                _ => (
                    "waitlist_confirmation",
                    lang.t1("email-waitlist-subject", "title", a.title.as_str()),
                    render(ConfirmationText { lang, m: &m }.render())?,
                    render(ConfirmationHtml { lang, m: &m }.render())?,
                ),
            };
            Ok(Some(Email {
                purpose,
                to,
                subject,
                message_id: message_id(purpose, entry_id, base),
                text,
                html,
                inline_png: None,
                calendar: None,
            }))
        },
    )
    .await
    .map(|_| ())
}

/// The message `id` about a waiting-list entry, in its language: its seats, show, local start
/// (`tz`) and room as `$seats`, `$title`, `$when` and `$room`.
fn about_entry(id: &str, a: &Addressee, tz: chrono_tz::Tz) -> String {
    let lang = a.language();
    lang.t_args(
        id,
        [
            ("seats", lang.t1("seats", "count", a.party_size).into()),
            ("title", a.title.as_str().into()),
            ("when", lang.date_time(a.starts_at, tz).into()),
            ("room", a.room.as_str().into()),
        ],
    )
}
