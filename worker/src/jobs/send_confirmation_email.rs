//! Sends the link that confirms a pending reservation. The token is created here, so its raw
//! value exists only in the e-mail; the database keeps its SHA-256.

use anyhow::anyhow;
use apalis::prelude::{BoxDynError, Data, WorkerContext};
use askama::Template;
use common::{
    booking::ReservationStatus,
    delivery,
    jobs::SendConfirmationEmail,
    tickets,
    token::{self, TokenPurpose},
};
use sqlx::PgConnection;
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    JobContext, JobError,
    jobs::{deliver, detached, message_id},
    mailer::Email,
};

#[derive(Template)]
#[template(path = "confirmation.txt")]
struct TextBody<'a> {
    title: &'a str,
    when: String,
    room: &'a str,
    party_size: i32,
    link: &'a str,
    valid_for: String,
}

#[derive(Template)]
#[template(path = "confirmation.html")]
struct HtmlBody<'a> {
    title: &'a str,
    when: String,
    room: &'a str,
    party_size: i32,
    link: &'a str,
    valid_for: String,
}

/// The worker's entry point for this queue.
#[tracing::instrument(skip_all, fields(
    reservation.id = %job.reservation_id,
    request_id = %job.request_id.map(|id| id.to_string()).unwrap_or_default(),
))]
pub async fn run(
    job: SendConfirmationEmail,
    ctx: Data<JobContext>,
    worker: WorkerContext,
) -> Result<(), BoxDynError> {
    let ctx = ctx.0;
    let holder = worker.name().to_owned();
    let work = {
        let ctx = ctx.clone();
        async move { send(&ctx, job.reservation_id, &holder).await }.in_current_span()
    };
    ctx.finish(common::jobs::CONFIRMATION_QUEUE, detached(work).await)
}

pub(crate) async fn send(
    ctx: &JobContext,
    reservation_id: Uuid,
    holder: &str,
) -> Result<(), JobError> {
    let mut conn = ctx.db.acquire().await?;
    let recipient = tickets::find_recipient(&mut conn, reservation_id).await?;
    drop(conn);
    let Some(r) = recipient else {
        return Err(JobError::Permanent(anyhow!("reservation not found")));
    };
    if r.confirmation_sent || r.status != ReservationStatus::Pending {
        tracing::info!("confirmation e-mail not needed any more");
        return Ok(());
    }
    // The visitor's free-text name stays out: anyone can book in any address's name.
    let Some(to) = r.email.clone() else {
        tracing::info!("personal data already erased; nothing to send");
        return Ok(());
    };
    let ttl = ctx.config.booking.confirmation_ttl;
    let base = &ctx.config.public_base_url;
    deliver(
        ctx,
        reservation_id,
        delivery::Email::Confirmation,
        holder,
        async |conn: &mut PgConnection, _generation| {
            let raw =
                token::insert_token(conn, reservation_id, TokenPurpose::Confirm, Some(ttl)).await?;
            let link = format!("{base}/reservations/confirm?token={}", raw.expose());
            let when = r.starts_at.format("%A %-d %B %Y, %H:%M UTC").to_string();
            let valid_for = describe_duration(ttl);
            let text = TextBody {
                title: &r.title,
                when: when.clone(),
                room: &r.room,
                party_size: r.party_size,
                link: &link,
                valid_for: valid_for.clone(),
            };
            let html = HtmlBody {
                title: &r.title,
                when,
                room: &r.room,
                party_size: r.party_size,
                link: &link,
                valid_for,
            };
            Ok(Some(Email {
                purpose: "confirmation",
                to,
                subject: format!("Please confirm your booking: {}", r.title),
                message_id: message_id("confirm", reservation_id, base),
                text: text.render().map_err(|e| JobError::Permanent(e.into()))?,
                html: html.render().map_err(|e| JobError::Permanent(e.into()))?,
                inline_png: None,
                calendar: None,
            }))
        },
    )
    .await
    .map(|_| ())
}

pub(crate) fn describe_duration(d: std::time::Duration) -> String {
    let minutes = d.as_secs() / 60;
    match minutes {
        0 => "a moment".to_owned(),
        m if m % 1440 == 0 => plural(m / 1440, "day"),
        m if m % 60 == 0 => plural(m / 60, "hour"),
        m => plural(m, "minute"),
    }
}

fn plural(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}
