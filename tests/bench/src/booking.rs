//! Booking: SMTP healthy, down and slow, at 8 and 32 connections, each beside the pgbench
//! reference at its concurrency; then no e-mail lost once SMTP is back.

use std::time::Duration;

use common::jobs;
use tests::smtp::Mode;
use uuid::Uuid;

use crate::{
    Phase,
    load::{Load, pgbench, row, wrk},
};

/// What the booking phase measured.
#[derive(Debug)]
pub struct Booking {
    /// The performance booked (its reservations are counted afterwards).
    pub performance: Uuid,
    /// p99 latency by connections and SMTP state.
    pub p99: Vec<(u32, &'static str, f64)>,
    /// Booking throughput over the reference at 32 connections, SMTP healthy.
    pub ratio32: f64,
    /// 8 connections, SMTP healthy, and its reference.
    pub healthy8: Load,
    pub reference8: Load,
    /// The best booking throughput with SMTP healthy, at either concurrency.
    pub best_healthy: f64,
    /// pgbench's best run of the booking transaction over 1 to 64 clients (the machine's peak
    /// for it), with its client count.
    pub best_reference: (u32, Load),
}

pub async fn run(phase: &mut Phase<'_>) -> anyhow::Result<Booking> {
    let sys = phase.sys;
    let secs = phase.seconds;
    let performance = sys.performance(100_000, chrono::Duration::days(30)).await?;
    // The reference writes to a performance of its own, so its rows (which queue nothing)
    // do not blur the "no e-mail lost" count.
    let reference_performance = sys.performance(100_000, chrono::Duration::days(30)).await?;
    let url = format!(
        "{}/api/v1/performances/{performance}/reservations",
        sys.base
    );
    let reference_sql = format!(
        "BEGIN;\n\
         INSERT INTO reservations (id, performance_id, name, email, party_size) VALUES (gen_random_uuid(), '{reference_performance}', 'Bench Visitor', 'bench@example.org', 1);\n\
         INSERT INTO apalis.jobs (job, id, job_type, max_attempts, run_at, idempotency_key) VALUES ('\\x7b7d', gen_random_uuid()::text, 'bench.reference', 10, now(), gen_random_uuid()::text);\n\
         END;\n"
    );
    let mut p99 = Vec::new();
    let mut ratio32 = f64::NAN;
    let (mut healthy8, mut reference8) = (Load::default(), Load::default());
    let mut best_healthy: f64 = 0.0;
    for connections in [8, 32] {
        let reference = phase
            .measured(|| {
                pgbench(
                    &sys.db.url,
                    connections,
                    secs,
                    &reference_sql,
                    phase.scratch,
                    &format!("booking{connections}"),
                )
            })
            .await?;
        phase.commands.push(reference.command.clone());
        remove_reference_jobs(&sys.db.pool).await?;
        for (label, mode) in [
            ("SMTP healthy", None),
            ("SMTP down", Some(Mode::Unavailable)),
            (
                "SMTP 2 s per message",
                Some(Mode::Slow(Duration::from_secs(2))),
            ),
        ] {
            sys.smtp.set_mode(mode.unwrap_or(Mode::Accept));
            let load = phase
                .measured(|| wrk(&url, connections, secs, &phase.script("post.lua"), &[]))
                .await?;
            phase.commands.push(load.command.clone());
            p99.push((connections, label, load.p99_ms));
            if connections == 32 && mode.is_none() {
                ratio32 = load.per_second / reference.per_second;
            }
            if mode.is_none() {
                best_healthy = best_healthy.max(load.per_second);
                if connections == 8 {
                    healthy8 = load.clone();
                    reference8 = reference.clone();
                }
            }
            phase.rows.push(row(
                &format!("booking, c={connections}, {label}"),
                &load,
                Some(&reference),
            ));
        }
        sys.smtp.set_mode(Mode::Accept);
    }
    // The machine's peak for this transaction: pgbench at every client count.
    let mut best_reference = (0, Load::default());
    let sweep_seconds = if phase.smoke { 1 } else { secs.min(5) };
    for clients in [1, 2, 4, 8, 16, 32, 64] {
        let run = phase
            .measured(|| {
                pgbench(
                    &sys.db.url,
                    clients,
                    sweep_seconds,
                    &reference_sql,
                    phase.scratch,
                    &format!("booking-sweep{clients}"),
                )
            })
            .await?;
        phase.commands.push(run.command.clone());
        remove_reference_jobs(&sys.db.pool).await?;
        if run.per_second > best_reference.1.per_second {
            best_reference = (clients, run);
        }
    }
    remove_reference_jobs(&sys.db.pool).await?;
    sqlx::query("VACUUM ANALYZE apalis.jobs")
        .execute(&sys.db.pool)
        .await?;
    Ok(Booking {
        performance,
        p99,
        ratio32,
        healthy8,
        reference8,
        best_healthy,
        best_reference,
    })
}

/// Bookings accepted, confirmation e-mails sent, jobs failed or killed.
pub struct Delivery {
    pub booked: i64,
    pub sent: i64,
    pub failed: i64,
}

/// No e-mail lost: once SMTP is back, every booking's confirmation arrives.
pub async fn no_email_lost(phase: &mut Phase<'_>, booking: &Booking) -> anyhow::Result<Delivery> {
    let sys = phase.sys;
    sys.wait_for_idle_queue(phase.queue_patience).await?;
    let (booked, sent): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(confirmation_sent_at) FROM reservations WHERE performance_id = $1",
    )
    .bind(booking.performance)
    .fetch_one(&sys.db.pool)
    .await?;
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE job_type = ANY($1) AND status IN ('Failed','Killed')")
        .bind(jobs::QUEUES.as_slice())
        .fetch_one(&sys.db.pool)
        .await?;
    Ok(Delivery {
        booked,
        sent,
        failed,
    })
}

/// The references' job rows stay pending for ever (no worker serves `bench.reference`), and
/// left in the queue's table they made every later run's job fetch dearer (measured: the
/// lifecycle phase's CPU per reservation 27.7 ms with them, 19.0 ms without): they are removed
/// after each reference, as a worker would have taken them.
async fn remove_reference_jobs(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM apalis.jobs WHERE job_type = 'bench.reference'")
        .execute(pool)
        .await?;
    Ok(())
}
