//! Sends the QR ticket after confirmation: new ticket and cancel tokens (earlier ones are
//! revoked, so a retried or re-sent job leaves one valid ticket, in the newest e-mail), the QR
//! code as an inline PNG and as an attachment, and the cancel link.

use apalis::prelude::{Attempt, BoxDynError, Data, TaskId, WorkerContext};
use askama::Template;
use common::{
    delivery,
    jobs::{HeldJob, SendTicket},
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

const QR_CONTENT_ID: &str = "ticket-qr";

#[derive(Template)]
#[template(path = "ticket.txt")]
struct TextBody<'a> {
    lang: Language,
    name: &'a str,
    intro: &'a str,
    ticket_url: &'a str,
    short_code: &'a str,
    cancel_url: &'a str,
}

#[derive(Template)]
#[template(path = "ticket.html")]
struct HtmlBody<'a> {
    lang: Language,
    name: &'a str,
    intro: &'a str,
    ticket_url: &'a str,
    short_code: &'a str,
    cancel_url: &'a str,
    qr_content_id: &'a str,
}

/// The worker's entry point for this queue.
#[tracing::instrument(skip_all, fields(
    reservation.id = %job.reservation_id,
    request_id = %job.request_id.map(|id| id.to_string()).unwrap_or_default(),
))]
pub async fn run(
    job: SendTicket,
    ctx: Data<JobContext>,
    worker: WorkerContext,
    task: TaskId,
    attempt: Attempt,
) -> Result<(), BoxDynError> {
    run_detached(
        common::jobs::TICKET_QUEUE,
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
    let base = &ctx.config.public_base_url;
    let tz = ctx.config.locale.timezone;
    // Revokes the tokens of earlier generations: the newest e-mail holds the live ticket.
    let (ticket, cancel, issue) = tickets::ticket_tokens(true);
    deliver(
        ctx,
        reservation_id,
        delivery::Email::Ticket,
        held,
        Some(issue),
        async |_: &mut PgConnection, _generation, r: Option<Recipient>| {
            let r = leased_recipient(r)?;
            let (Some(to), Some(name)) = (r.email.clone(), r.name.clone()) else {
                return Ok(None);
            };
            let ticket_url = format!("{base}/t/{}", ticket.expose());
            let cancel_url = format!("{base}/reservations/cancel?token={}", cancel.expose());
            let short_code = ShortCode::for_ticket(ticket.expose()).grouped();
            let png = qr::png(&ticket_url).map_err(JobError::Permanent)?;
            let lang = r.language();
            let intro = about_reservation("email-ticket-intro", &r, tz);
            let text = TextBody {
                lang,
                name: &name,
                intro: &intro,
                ticket_url: &ticket_url,
                short_code: &short_code,
                cancel_url: &cancel_url,
            };
            let html = HtmlBody {
                lang,
                name: &name,
                intro: &intro,
                ticket_url: &ticket_url,
                short_code: &short_code,
                cancel_url: &cancel_url,
                qr_content_id: QR_CONTENT_ID,
            };
            Ok(Some(Email {
                purpose: "ticket",
                to,
                subject: lang.t1("email-ticket-subject", "title", r.title.as_str()),
                message_id: message_id("ticket", reservation_id, base),
                text: text.render().map_err(|e| JobError::Permanent(e.into()))?,
                html: html.render().map_err(|e| JobError::Permanent(e.into()))?,
                inline_png: Some(InlinePng {
                    content_id: QR_CONTENT_ID.to_owned(),
                    filename: "ticket.png".to_owned(),
                    bytes: png,
                }),
                calendar: Some(reminders::ics_for(reservation_id, &r, base, tz)),
            }))
        },
    )
    .await
    .map(|_| ())
}
