//! Cost per reservation: `n` reservations go through their whole life (booked, confirmation
//! e-mail sent, confirmed with the token from that e-mail, ticket e-mail sent), and the CPU
//! seconds web, worker and PostgreSQL used meanwhile are divided by `n`. With
//! `pg_stat_statements` loaded (the benchmark's own server loads it) the statements the
//! database executed per reservation are counted too.

use std::{sync::Arc, time::Duration};

use anyhow::{Context, bail};
use serde_json::json;
use tokio::task::JoinSet;

use crate::{Phase, cpu::Cpu};

/// What the lifecycle phase measured: its median round.
#[derive(Debug)]
pub struct Lifecycle {
    /// CPU milliseconds per reservation of every round, in the order they ran.
    pub rounds_ms: Vec<f64>,
    pub reservations: usize,
    /// CPU seconds per completed reservation.
    pub per_reservation: Cpu,
    /// Statements PostgreSQL executed per reservation (`None` without `pg_stat_statements`).
    pub statements: Option<f64>,
    /// WAL records and bytes PostgreSQL wrote per reservation (`pg_stat_wal`, the whole
    /// server's: vacuum and checkpoints included).
    pub wal: Option<(f64, f64)>,
    /// The statements that cost the database most in this phase, costliest first.
    pub top: Vec<Statement>,
    pub seconds: f64,
}

/// One statement's share of the phase, per reservation (from `pg_stat_statements`).
#[derive(Debug)]
pub struct Statement {
    /// The normalised text, on one line, cut at [`TEXT_CHARS`] characters.
    pub text: String,
    pub calls: f64,
    /// Milliseconds of execution (planning excluded).
    pub ms: f64,
}

/// How many statements the profile lists, and how much of each one's text.
const TOP: i64 = 12;
const TEXT_CHARS: usize = 110;

/// Clients driving bookings and confirmations at once.
const CLIENTS: usize = 8;
/// Rounds of a full run: one round's figure varies by a fifth between runs on an idle
/// machine, so the phase reports the median round.
const ROUNDS: usize = 3;

/// Runs [`ROUNDS`] rounds (one in a smoke run), each on a performance of its own, and returns
/// the median one, with every round's total.
pub async fn run(phase: &mut Phase<'_>) -> anyhow::Result<Lifecycle> {
    let rounds = if phase.smoke { 1 } else { ROUNDS };
    let mut done = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        done.push(round(phase).await?);
    }
    let rounds_ms: Vec<f64> = done
        .iter()
        .map(|l| l.per_reservation.total() * 1000.0)
        .collect();
    done.sort_by(|a, b| {
        a.per_reservation
            .total()
            .total_cmp(&b.per_reservation.total())
    });
    let mut median = done.swap_remove(done.len() / 2);
    median.rounds_ms = rounds_ms;
    Ok(median)
}

async fn round(phase: &mut Phase<'_>) -> anyhow::Result<Lifecycle> {
    let processes = &phase.processes;
    let sys = phase.sys;
    sys.wait_for_idle_queue(phase.queue_patience).await?;
    sys.smtp.clear();
    let n = if phase.smoke { 40 } else { 2000 };
    let performance = sys.performance(100_000, chrono::Duration::days(30)).await?;
    let statements = statement_counter(&sys.db.pool).await;
    let wal_before = wal_so_far(&sys.db.pool).await;
    let started = std::time::Instant::now();
    let before = processes.cpu();

    let booking_url = format!(
        "{}/api/v1/performances/{performance}/reservations",
        sys.base
    );
    let bodies: Vec<String> = (0..n)
        .map(|i| {
            json!({ "name": "Lifecycle", "email": format!("life{i}@example.org"), "party_size": 1 })
                .to_string()
        })
        .collect();
    post_all(&sys.http, &booking_url, bodies, 202).await?;
    sys.wait_for_messages(n, Duration::from_secs(600)).await?;
    let tokens: Vec<String> = sys
        .smtp
        .messages()
        .iter()
        .filter_map(|m| {
            let text = m.unfolded();
            let at = text.find("confirm?token=")? + "confirm?token=".len();
            text.get(at..at + common::token::TOKEN_LEN)
                .map(str::to_owned)
        })
        .collect();
    if tokens.len() != n {
        bail!("{} confirmation links found in {n} e-mails", tokens.len());
    }
    sys.smtp.clear();
    let confirm_url = format!("{}/api/v1/reservations/confirm", sys.base);
    let bodies = tokens
        .iter()
        .map(|t| json!({ "token": t }).to_string())
        .collect();
    post_all(&sys.http, &confirm_url, bodies, 200).await?;
    sys.wait_for_messages(n, Duration::from_secs(600)).await?;

    let used = processes.cpu().since(&before);
    let wal = match (wal_before, wal_so_far(&sys.db.pool).await) {
        (Some(b), Some(a)) => Some(((a.0 - b.0) / n as f64, (a.1 - b.1) / n as f64)),
        _ => None,
    };
    let executed = match statements {
        Some(before) => statements_so_far(&sys.db.pool)
            .await
            .map(|after| (after - before) as f64 / n as f64),
        None => None,
    };
    let top = match statements {
        Some(_) => costliest(&sys.db.pool, n as f64).await?,
        None => Vec::new(),
    };
    Ok(Lifecycle {
        rounds_ms: Vec::new(),
        reservations: n,
        per_reservation: used.per(n as f64),
        statements: executed,
        wal,
        top,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// POSTs every body from [`CLIENTS`] clients at once; each answer must have `status`.
async fn post_all(
    http: &reqwest::Client,
    url: &str,
    bodies: Vec<String>,
    status: u16,
) -> anyhow::Result<()> {
    let queue = Arc::new(std::sync::Mutex::new(bodies));
    let mut clients = JoinSet::new();
    for _ in 0..CLIENTS {
        let (http, url, queue) = (http.clone(), url.to_owned(), queue.clone());
        clients.spawn(async move {
            loop {
                let Some(body) = queue.lock().ok().and_then(|mut q| q.pop()) else {
                    return anyhow::Ok(());
                };
                let answer = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                if answer.status().as_u16() != status {
                    bail!("{url}: {} {}", answer.status(), answer.text().await?);
                }
            }
        });
    }
    while let Some(done) = clients.join_next().await {
        done.context("client task")??;
    }
    Ok(())
}

/// Starts counting statements afresh, if `pg_stat_statements` is loaded; returns the count so
/// far.
async fn statement_counter(pool: &sqlx::PgPool) -> Option<i64> {
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(pool)
        .await
        .ok()?;
    sqlx::query("SELECT pg_stat_statements_reset()")
        .execute(pool)
        .await
        .ok()?;
    statements_so_far(pool).await
}

/// The [`TOP`] statements by execution time since the counter started, per reservation.
async fn costliest(pool: &sqlx::PgPool, n: f64) -> anyhow::Result<Vec<Statement>> {
    let rows: Vec<(String, i64, f64)> = sqlx::query_as(
        "SELECT query, calls, total_exec_time FROM pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          ORDER BY total_exec_time DESC LIMIT $1",
    )
    .bind(TOP)
    .fetch_all(pool)
    .await
    .context("reading pg_stat_statements")?;
    Ok(rows
        .into_iter()
        .map(|(text, calls, ms)| Statement {
            text: text
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(TEXT_CHARS)
                .collect(),
            calls: calls as f64 / n,
            ms: ms / n,
        })
        .collect())
}

/// WAL records and bytes the server has written so far.
async fn wal_so_far(pool: &sqlx::PgPool) -> Option<(f64, f64)> {
    sqlx::query_as("SELECT wal_records::float8, wal_bytes::float8 FROM pg_stat_wal")
        .fetch_one(pool)
        .await
        .ok()
}

async fn statements_so_far(pool: &sqlx::PgPool) -> Option<i64> {
    sqlx::query_scalar(
        "SELECT COALESCE(sum(calls), 0)::bigint FROM pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(pool)
    .await
    .ok()
}
/// CPU milliseconds per reservation measured before this round's changes (the binaries of main
/// at 6f7cdaf, with this phase, on the same machine): the figure to halve.
pub const FIRST_MS_PER_RESERVATION: f64 = 10.09;
