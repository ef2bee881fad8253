//! The e-mail pipeline: from a booking's commit to the SMTP server's acceptance, and how many
//! confirmation and ticket e-mails one worker sends per second.

use std::time::{Duration, SystemTime};

use common::jobs;
use serde_json::json;
use uuid::Uuid;

use crate::{
    Phase,
    cpu::Usage,
    load::percentile,
    system::{System, seed_tokens},
};

/// What the e-mail phase measured.
#[derive(Debug)]
pub struct Email {
    /// Bookings sampled for the commit-to-e-mail latency.
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// E-mails queued at once for each rate.
    pub rate_n: usize,
    pub confirmations_per_second: f64,
    pub tickets_per_second: f64,
    /// Where the CPU went, per e-mail, while each rate was measured.
    pub confirmation_usage: Usage,
    pub ticket_usage: Usage,
}

pub async fn run(phase: &mut Phase<'_>) -> anyhow::Result<Email> {
    let sys = phase.sys;
    // Measured on an idle worker, like the relay phase: a backlog left by an earlier phase
    // would be measured instead.
    sys.wait_for_idle_queue(phase.queue_patience).await?;
    sys.smtp.clear();
    let pipeline = sys.performance(100_000, chrono::Duration::days(30)).await?;
    let samples = if phase.smoke { 10 } else { 300 };
    let mut sent_at = Vec::new();
    for i in 0..samples {
        let response = sys
            .http
            .post(format!("{}/api/v1/performances/{pipeline}/reservations", sys.base))
            .json(&json!({ "name": "Latency", "email": format!("lat{i}@example.org"), "party_size": 1 }))
            .send()
            .await?;
        sent_at.push((
            format!("lat{i}@example.org"),
            SystemTime::now(),
            response.status().as_u16(),
        ));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sys.wait_for_messages(samples, Duration::from_secs(120))
        .await?;
    let messages = sys.smtp.messages();
    let mut latencies: Vec<f64> = sent_at
        .iter()
        .filter_map(|(to, at, _)| {
            let m = messages.iter().find(|m| m.to.iter().any(|t| t == to))?;
            Some(
                m.received_at
                    .duration_since(*at)
                    .unwrap_or_default()
                    .as_secs_f64()
                    * 1000.0,
            )
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let rate_n = if phase.smoke { 20 } else { 2000 };
    let (confirmations_per_second, confirmation_usage) =
        email_rate(phase, pipeline, rate_n, false).await?;
    let (tickets_per_second, ticket_usage) = email_rate(phase, pipeline, rate_n, true).await?;
    Ok(Email {
        samples,
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        rate_n,
        confirmations_per_second,
        tickets_per_second,
        confirmation_usage,
        ticket_usage,
    })
}

/// Queues `n` e-mail jobs of one kind for fresh reservations and measures the delivery rate,
/// and where the CPU went per e-mail.
async fn email_rate(
    phase: &Phase<'_>,
    performance: Uuid,
    n: usize,
    ticket: bool,
) -> anyhow::Result<(f64, Usage)> {
    let sys = phase.sys;
    sys.smtp.clear();
    let queued = queue_emails(sys, performance, n, ticket).await?;
    let before = phase.processes.snapshot();
    let started = SystemTime::now();
    sys.wait_for_messages(queued, Duration::from_secs(600))
        .await?;
    let last = sys
        .smtp
        .messages()
        .iter()
        .map(|m| m.received_at)
        .max()
        .unwrap_or(started);
    let seconds = last
        .duration_since(started)
        .unwrap_or_default()
        .as_secs_f64()
        .max(1e-3);
    let usage = before.usage(&phase.processes.snapshot(), queued as f64);
    Ok((queued as f64 / seconds, usage))
}

/// Queues `n` e-mail jobs of one kind (confirmations, or tickets) for fresh reservations of
/// `performance`, in one transaction; returns how many.
pub async fn queue_emails(
    sys: &System,
    performance: Uuid,
    n: usize,
    ticket: bool,
) -> anyhow::Result<usize> {
    let status = if ticket { "confirmed" } else { "pending" };
    seed_tokens(&sys.db.pool, performance, n, status, "confirm").await?;
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM reservations WHERE performance_id = $1 AND status = $2 AND confirmation_sent_at IS NULL AND ticket_sent_at IS NULL",
    )
    .bind(performance)
    .bind(status)
    .fetch_all(&sys.db.pool)
    .await?;
    let mut tx = sys.db.pool.begin().await?;
    for id in &ids {
        if ticket {
            jobs::enqueue(
                &mut tx,
                &jobs::SendTicket {
                    reservation_id: *id,
                    request_id: None,
                },
                5,
            )
            .await?;
        } else {
            jobs::enqueue(
                &mut tx,
                &jobs::SendConfirmationEmail {
                    reservation_id: *id,
                    request_id: None,
                },
                5,
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(ids.len())
}
