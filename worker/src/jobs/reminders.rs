//! Sends a confirmed reservation's reminder, scheduled for `REMINDER_HOURS_BEFORE` before the
//! start: the QR code again (an additional ticket token; the first stays valid), a prominent
//! link that releases the seats (a cancel token), and the calendar file. Never after the start;
//! a performance moved later gets its reminder at the new time, and a reminder never arrives
//! before its ticket.

use anyhow::anyhow;
use apalis::prelude::{Attempt, BoxDynError, Data, TaskId, WorkerContext};
use askama::Template;
use chrono::Utc;
use common::{
    booking::ReservationStatus,
    delivery,
    jobs::{HeldJob, REMINDER_QUEUE, SendReminder},
    locale::Language,
    reminders,
    short_code::ShortCode,
    tickets::{self, Recipient},
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    JobContext, JobError,
    jobs::{about_reservation, deliver, leased_recipient, message_id, run_detached},
    mailer::{Email, InlinePng},
    qr,
};

const QR_CONTENT_ID: &str = "reminder-qr";

/// Reminders sent.
pub const SENT_METRIC: &str = "azione_reminders_sent_total";
pub const SENT_HELP: &str = "Reminder e-mails sent.";

/// A reminder that finds its due time this far ahead waits for it again (the performance moved).
const EARLY_TOLERANCE: chrono::Duration = chrono::Duration::seconds(60);

/// How long a reminder waits for the ticket e-mail to go out first.
const TICKET_FIRST_DELAY: chrono::Duration = chrono::Duration::seconds(2);

struct ReminderMail<'a> {
    name: &'a str,
    /// The show, local start, room and seats, in a sentence of the reservation's language.
    intro: String,
    ticket_url: String,
    /// The ticket's short code, grouped (`K7QM-2XRD-9F`), for the door to type.
    short_code: String,
    cancel_url: String,
    qr_content_id: &'a str,
}

#[derive(Template)]
#[template(path = "reminder.txt")]
struct TextBody<'a> {
    lang: Language,
    m: &'a ReminderMail<'a>,
}

#[derive(Template)]
#[template(path = "reminder.html")]
struct HtmlBody<'a> {
    lang: Language,
    m: &'a ReminderMail<'a>,
}

/// The worker's entry point for this queue.
#[tracing::instrument(skip_all, fields(reservation.id = %job.reservation_id))]
pub async fn run(
    job: SendReminder,
    ctx: Data<JobContext>,
    worker: WorkerContext,
    task: TaskId,
    attempt: Attempt,
) -> Result<(), BoxDynError> {
    run_detached(
        REMINDER_QUEUE,
        ctx,
        worker,
        task,
        attempt,
        move |ctx, held| async move { send(&ctx, job.reservation_id, &held).await },
    )
    .await
}

pub(crate) async fn send(
    ctx: &JobContext,
    reservation_id: Uuid,
    held: &HeldJob,
) -> Result<(), JobError> {
    let mut conn = ctx.db.acquire().await?;
    let recipient = tickets::find_recipient(&mut conn, reservation_id).await?;
    drop(conn);
    let Some(r) = recipient else {
        return Err(JobError::Permanent(anyhow!("reservation not found")));
    };
    let Some(before) = ctx.config.booking.reminder_before else {
        return Ok(());
    };
    if r.status != ReservationStatus::Confirmed {
        tracing::info!("reminder not needed any more");
        return Ok(());
    }
    let now = Utc::now();
    let Some(due) = reminders::due_at(r.starts_at, before, now) else {
        tracing::info!("the performance has started; no reminder");
        return Ok(());
    };
    // A performance moved later waits for its new time; a reminder due before the ticket
    // went out (confirmed shortly before the show) follows the ticket.
    let later = if due > now + EARLY_TOLERANCE {
        Some(due)
    } else if !r.ticket_sent {
        Some(now + TICKET_FIRST_DELAY)
    } else {
        None
    };
    if let Some(at) = later {
        let mut tx = ctx.db.begin().await?;
        reminders::reschedule(&mut tx, reservation_id, at, ctx.config.jobs.max_attempts).await?;
        tx.commit().await?;
        tracing::info!("reminder rescheduled");
        return Ok(());
    }
    let base = &ctx.config.public_base_url;
    let tz = ctx.config.locale.timezone;
    // An additional ticket: the first one stays valid.
    let (ticket, cancel, issue) = tickets::ticket_tokens(false);
    let sent = deliver(
        ctx,
        reservation_id,
        delivery::Email::Reminder,
        held,
        Some(issue),
        async |_: &mut PgConnection, _generation, r: Option<Recipient>| {
            // What the e-mail shows, read again under the lease.
            let r = leased_recipient(r)?;
            let (Some(to), Some(name)) = (r.email.clone(), r.name.clone()) else {
                return Ok(None);
            };
            let lang = r.language();
            let ticket_url = format!("{base}/t/{}", ticket.expose());
            let png = qr::png(&ticket_url).map_err(JobError::Permanent)?;
            let m = ReminderMail {
                name: &name,
                intro: about_reservation("email-reminder-intro", &r, tz),
                short_code: ShortCode::for_ticket(ticket.expose()).grouped(),
                ticket_url,
                cancel_url: format!("{base}/reservations/cancel?token={}", cancel.expose()),
                qr_content_id: QR_CONTENT_ID,
            };
            let render =
                |r: Result<String, askama::Error>| r.map_err(|e| JobError::Permanent(e.into()));
            Ok(Some(Email {
                purpose: "reminder",
                to,
                subject: lang.t1("email-reminder-subject", "title", r.title.as_str()),
                message_id: message_id("reminder", reservation_id, base),
                text: render(TextBody { lang, m: &m }.render())?,
                html: render(HtmlBody { lang, m: &m }.render())?,
                inline_png: Some(InlinePng {
                    content_id: QR_CONTENT_ID.to_owned(),
                    filename: "ticket.png".to_owned(),
                    bytes: png,
                }),
                calendar: Some(reminders::ics_for(reservation_id, &r, base, tz)),
            }))
        },
    )
    .await?;
    if sent {
        ctx.metrics
            .inc("azione_reminders_sent_total", "Reminder e-mails sent.", &[]);
    }
    Ok(())
}
