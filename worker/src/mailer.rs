//! Sending e-mail over SMTP: lettre builds the message and speaks SMTP on connections of
//! [`crate::relay`] (rustls, `TCP_NODELAY`, pooled). Every send is bounded by a timeout, and
//! every failure is classified: a 5xx reply for this message is permanent, everything else
//! (refused connection, timeout, 4xx) is worth retrying.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use common::{config::MailConfig, metrics::Metrics};
use lettre::{
    Message,
    message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType},
};
use secrecy::ExposeSecret;

use crate::{
    JobError,
    relay::{Relay, RelayError},
};

/// The SMTP connection pool and sender address.
#[derive(Clone)]
pub struct Mailer {
    relay: Arc<Relay>,
    from: Mailbox,
    timeout: Duration,
    metrics: Arc<Metrics>,
}

/// An e-mail to send: both a text and an HTML body, optionally an inline PNG and a calendar file.
pub struct Email {
    /// `confirmation`, `ticket`, `reminder`, `waitlist_confirmation` or `waitlist_offer`, for metrics.
    pub purpose: &'static str,
    pub to: String,
    pub subject: String,
    /// Stable per reservation and purpose, so a retried send can be recognised.
    pub message_id: String,
    pub text: String,
    pub html: String,
    pub inline_png: Option<InlinePng>,
    /// An iCalendar file, attached as `event.ics` (`text/calendar`).
    pub calendar: Option<String>,
}

/// A PNG shown in the HTML body by Content-ID and attached as a file too.
pub struct InlinePng {
    pub content_id: String,
    pub filename: String,
    pub bytes: Vec<u8>,
}

impl Mailer {
    /// Builds the transport from `SMTP_URL` (no connection is made yet).
    pub fn new(
        config: &MailConfig,
        connections: usize,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Mailer> {
        // One pooled connection per job that may run at once, so sends never queue for one.
        let relay = Relay::new(
            config.smtp_url.expose_secret(),
            connections,
            config.send_timeout,
        )?;
        let from = config
            .from
            .parse()
            .context("MAIL_FROM is not a valid mailbox")?;
        Ok(Mailer {
            relay: Arc::new(relay),
            from,
            timeout: config.send_timeout,
            metrics,
        })
    }

    /// Sends one e-mail, classifying failures for the retry policy.
    pub async fn send(&self, email: Email) -> Result<(), JobError> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|_| JobError::Permanent(anyhow::anyhow!("recipient address is invalid")))?;
        let alternative = MultiPart::alternative()
            .singlepart(SinglePart::plain(email.text))
            .singlepart(SinglePart::html(email.html));
        let mut body = match email.inline_png {
            None => MultiPart::mixed().multipart(alternative),
            Some(png) => {
                let inline = Attachment::new_inline(png.content_id).body(
                    png.bytes.clone(),
                    ContentType::parse("image/png").expect("static mime"),
                );
                let attached = Attachment::new(png.filename).body(
                    png.bytes,
                    ContentType::parse("image/png").expect("static mime"),
                );
                MultiPart::mixed()
                    .multipart(
                        MultiPart::related()
                            .multipart(alternative)
                            .singlepart(inline),
                    )
                    .singlepart(attached)
            }
        };
        if let Some(calendar) = email.calendar {
            body = body.singlepart(
                Attachment::new("event.ics".to_owned()).body(
                    calendar,
                    ContentType::parse("text/calendar; charset=utf-8; method=PUBLISH")
                        .expect("static mime"),
                ),
            );
        }
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject)
            .message_id(Some(email.message_id))
            .multipart(body)
            .map_err(|e| JobError::Permanent(anyhow::anyhow!("build e-mail: {e}")))?;
        let purpose = email.purpose;
        let started = std::time::Instant::now();
        let bytes = message.formatted();
        let sent =
            tokio::time::timeout(self.timeout, self.relay.send(message.envelope(), &bytes)).await;
        let outcome = match sent {
            Err(_) => Err(JobError::Retryable(anyhow::anyhow!(
                "SMTP send timed out after {:?}",
                self.timeout
            ))),
            Ok(Ok(())) => Ok(()),
            Ok(Err(RelayError::Connect(e))) => Err(JobError::Retryable(anyhow::anyhow!(
                "SMTP send failed (connection error: {})",
                e.kind()
            ))),
            // The server's reply can quote the recipient; keep only the class of failure.
            Ok(Err(RelayError::Smtp(e))) if e.is_permanent() => {
                Err(JobError::Permanent(anyhow::anyhow!(
                    "SMTP server refused the message permanently ({})",
                    e.status().map_or("no code".to_owned(), |c| c.to_string())
                )))
            }
            Ok(Err(RelayError::Smtp(e))) => Err(JobError::Retryable(anyhow::anyhow!(
                "SMTP send failed ({})",
                smtp_failure_kind(&e)
            ))),
        };
        let elapsed = started.elapsed();
        tracing::info!(
            duration_ms = elapsed.as_millis() as u64,
            ok = outcome.is_ok(),
            "smtp send finished"
        );
        self.metrics.observe(
            "azione_email_send_duration_seconds",
            "Time for one SMTP send, by e-mail purpose.",
            &[("purpose", purpose)],
            elapsed.as_secs_f64(),
        );
        if let Err(e) = &outcome {
            let kind = match e {
                JobError::Retryable(_) => "transient",
                JobError::Permanent(_) => "permanent",
            };
            self.metrics.inc(
                "azione_email_send_failures_total",
                "Failed SMTP sends by purpose and kind.",
                &[("purpose", purpose), ("kind", kind)],
            );
        }
        outcome
    }
}

fn smtp_failure_kind(e: &lettre::transport::smtp::Error) -> String {
    if let Some(code) = e.status() {
        format!("reply {code}")
    } else if e.is_timeout() {
        "timeout".to_owned()
    } else if e.is_tls() {
        "TLS error".to_owned()
    } else {
        "connection error".to_owned()
    }
}
