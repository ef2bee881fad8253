//! Sends the link that confirms a pending reservation. The token is created here, so its raw
//! value exists only in the e-mail; the database keeps its SHA-256.

use apalis::prelude::{Attempt, BoxDynError, Data, TaskId, WorkerContext};
use askama::Template;
use common::{
    delivery,
    jobs::{HeldJob, SendConfirmationEmail},
    locale::Language,
    tickets::Recipient,
    token::{RawToken, TokenPurpose},
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    JobContext, JobError,
    jobs::{about_reservation, deliver, leased_recipient, message_id, run_detached},
    mailer::Email,
};

#[derive(Template)]
#[template(path = "confirmation.txt")]
struct TextBody<'a> {
    lang: Language,
    intro: &'a str,
    pending: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "confirmation.html")]
struct HtmlBody<'a> {
    lang: Language,
    intro: &'a str,
    pending: &'a str,
    link: &'a str,
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
    task: TaskId,
    attempt: Attempt,
) -> Result<(), BoxDynError> {
    run_detached(
        common::jobs::CONFIRMATION_QUEUE,
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
    let ttl = ctx.config.booking.confirmation_ttl;
    let base = &ctx.config.public_base_url;
    let tz = ctx.config.locale.timezone;
    let raw = RawToken::generate();
    let issue = delivery::Issue {
        revoke: Vec::new(),
        tokens: vec![delivery::NewToken {
            purpose: TokenPurpose::Confirm,
            hash: raw.hash(),
            expires: delivery::Expires::After(ttl),
        }],
    };
    deliver(
        ctx,
        reservation_id,
        delivery::Email::Confirmation,
        held,
        Some(issue),
        async |_: &mut PgConnection, _generation, r: Option<Recipient>| {
            let r = leased_recipient(r)?;
            // The visitor's free-text name stays out: anyone can book in any address's name.
            let Some(to) = r.email.clone() else {
                return Ok(None);
            };
            let link = format!("{base}/reservations/confirm?token={}", raw.expose());
            let lang = r.language();
            let intro = about_reservation("email-confirm-intro", &r, tz);
            let pending = lang.t1(
                "email-confirm-pending",
                "valid_for",
                describe_duration(lang, ttl),
            );
            let text = TextBody {
                lang,
                intro: &intro,
                pending: &pending,
                link: &link,
            };
            let html = HtmlBody {
                lang,
                intro: &intro,
                pending: &pending,
                link: &link,
            };
            Ok(Some(Email {
                purpose: "confirmation",
                to,
                subject: lang.t1("email-confirm-subject", "title", r.title.as_str()),
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

/// How long a link stays valid, in words of the e-mail's language.
pub(crate) fn describe_duration(lang: Language, d: std::time::Duration) -> String {
    let minutes = d.as_secs() / 60;
    match minutes {
        0 => lang.t("duration-moment"),
        m if m % 1440 == 0 => lang.t1("duration-days", "count", m / 1440),
        m if m % 60 == 0 => lang.t1("duration-hours", "count", m / 60),
        m => lang.t1("duration-minutes", "count", m),
    }
}
