//! The e-mail phases against a real relay: Debian's Postfix on loopback (set up by
//! `tests/bench/run`, which passes its URL in `BENCH_RELAY_URL`), which queues every message
//! to disk before it answers, pipelines, and delays its ACKs like any Linux receiver. A worker
//! of its own sends to it while the benchmark's usual worker is paused; what it sent is read
//! from the database (Postfix discards the messages).

use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::{Phase, email::queue_emails, load::percentile};
use tests::process;

/// What the relay phase measured (`None` when it was skipped).
#[derive(Debug)]
pub struct Relay {
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub rate_n: usize,
    pub confirmations_per_second: f64,
    pub tickets_per_second: f64,
}

pub async fn run(phase: &mut Phase<'_>) -> anyhow::Result<Option<Relay>> {
    let Ok(url) = std::env::var("BENCH_RELAY_URL") else {
        if phase.smoke {
            eprintln!(
                "bench: !!! RELAY PHASE SKIPPED: BENCH_RELAY_URL is not set (tests/bench/run sets \
                 it up with Postfix); a full run refuses to go on without it !!!"
            );
            return Ok(None);
        }
        bail!(
            "BENCH_RELAY_URL is not set: run the benchmark through tests/bench/run, which sets up Postfix"
        );
    };
    let sys = phase.sys;
    sys.wait_for_idle_queue(phase.queue_patience).await?;
    process::signal(sys.worker.pid(), "STOP");
    let result = measure(phase, &url).await;
    process::signal(sys.worker.pid(), "CONT");
    result.map(Some)
}

async fn measure(phase: &Phase<'_>, url: &str) -> anyhow::Result<Relay> {
    let sys = phase.sys;
    let health = process::free_port();
    let worker = sys.spawn_worker(&[
        ("SMTP_URL", url.to_owned()),
        ("WORKER_BIND_ADDR", health.to_string()),
    ]);
    process::wait_for_port(health).await;
    let performance = sys.performance(100_000, chrono::Duration::days(30)).await?;
    let samples = if phase.smoke { 10 } else { 300 };
    let mut answered = Vec::new();
    for i in 0..samples {
        let email = format!("relay{i}@example.org");
        sys.http
            .post(format!(
                "{}/api/v1/performances/{performance}/reservations",
                sys.base
            ))
            .json(&json!({ "name": "Relay", "email": email, "party_size": 1 }))
            .send()
            .await?
            .error_for_status()?;
        answered.push((email, SystemTime::now()));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = wait_for_sent(sys, performance, samples, false).await?;
    let mut latencies: Vec<f64> = answered
        .iter()
        .filter_map(|(email, at)| {
            let (_, sent_at) = sent.iter().find(|(e, _)| e == email)?;
            let sent_at: SystemTime = (*sent_at).into();
            Some(
                sent_at
                    .duration_since(*at)
                    .unwrap_or_default()
                    .as_secs_f64()
                    * 1000.0,
            )
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let rate_n = if phase.smoke { 20 } else { 2000 };
    let mut rates = Vec::new();
    for ticket in [false, true] {
        let rated = sys.performance(100_000, chrono::Duration::days(30)).await?;
        queue_emails(sys, rated, rate_n, ticket).await?;
        let started = Utc::now();
        let sent = wait_for_sent(sys, rated, rate_n, ticket).await?;
        let last = sent.iter().map(|(_, at)| *at).max().unwrap_or(started);
        let seconds = ((last - started).num_microseconds().unwrap_or(0) as f64 / 1e6).max(1e-3);
        rates.push(rate_n as f64 / seconds);
    }
    worker.terminate(Duration::from_secs(10));
    Ok(Relay {
        samples,
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        rate_n,
        confirmations_per_second: rates[0],
        tickets_per_second: rates[1],
    })
}

/// Waits until `n` e-mails of a performance's reservations are recorded as sent; returns each
/// address with its send time.
async fn wait_for_sent(
    sys: &crate::system::System,
    performance: Uuid,
    n: usize,
    ticket: bool,
) -> anyhow::Result<Vec<(String, DateTime<Utc>)>> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let sent: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT email, CASE WHEN $2 THEN ticket_sent_at ELSE confirmation_sent_at END AS at
               FROM reservations
              WHERE performance_id = $1
                AND CASE WHEN $2 THEN ticket_sent_at ELSE confirmation_sent_at END IS NOT NULL",
        )
        .bind(performance)
        .bind(ticket)
        .fetch_all(&sys.db.pool)
        .await
        .context("read sent e-mails")?;
        if sent.len() >= n {
            return Ok(sent);
        }
        if Instant::now() > deadline {
            bail!(
                "only {} of {n} e-mails were sent through the relay",
                sent.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
