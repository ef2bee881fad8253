//! Fault figures, on a PostgreSQL server of the phase's own (so that stopping it disturbs no
//! other phase): booking latency while the database is down (every answer a quick 503), and
//! how fast a backlog of confirmation e-mails drains, before and after a database restart.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::json;
use tests::{
    pg::PrivatePostgres,
    process::{self, Running},
    smtp::SmtpServer,
};
use uuid::Uuid;

use crate::{
    Phase,
    load::{Load, wrk},
    system::app_env,
};

/// What the fault phase measured.
#[derive(Debug)]
pub struct Faults {
    /// Booking under load while PostgreSQL is stopped.
    pub outage: Load,
    pub backlog: usize,
    /// E-mails per second draining a backlog, first to last.
    pub drain_before: f64,
    pub drain_after_restart: f64,
    /// From resuming the worker after the restart to its first e-mail.
    pub first_after_restart: Duration,
}

struct Rig {
    pg: PrivatePostgres,
    pool: sqlx::PgPool,
    smtp: SmtpServer,
    base: String,
    _web: Running,
    worker: Running,
    http: reqwest::Client,
}

pub async fn run(phase: &mut Phase<'_>) -> anyhow::Result<Faults> {
    let pg = PrivatePostgres::start();
    let pool = pg.migrated_pool().await;
    let smtp = SmtpServer::start().await;
    let addr = process::free_port();
    let health = process::free_port();
    let mut env = app_env(&pg.url(), addr, &smtp.url());
    env.push(("WORKER_BIND_ADDR", health.to_string()));
    env.push(("WORKER_HEARTBEAT_SECONDS", "1".to_owned()));
    env.push(("JOB_POLL_INTERVAL_MS", "200".to_owned()));
    let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let web = Running::spawn_path_env(&phase.bin("azione-web"), &["serve"], &vars);
    let worker = Running::spawn_path_env(&phase.bin("azione-worker"), &[], &vars);
    process::wait_for_port(addr).await;
    process::wait_for_port(health).await;
    let rig = Rig {
        pg,
        pool,
        smtp,
        base: format!("http://{addr}"),
        _web: web,
        worker,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?,
    };
    let performance = performance(&rig).await?;
    let url = format!(
        "{}/api/v1/performances/{performance}/reservations",
        rig.base
    );

    rig.pg.stop();
    // Each answer may take up to 2 s (the pool's wait for a connection): long enough for many.
    let outage = wrk(
        &url,
        8,
        phase.seconds.max(5),
        &phase.script("post.lua"),
        &[],
    );
    rig.pg.start_again();
    let outage = outage?;
    phase
        .commands
        .push(format!("{} (PostgreSQL stopped)", outage.command));

    let backlog = if phase.smoke { 20 } else { 500 };
    let (drain_before, _) = drain(&rig, &url, backlog, false).await?;
    let (drain_after_restart, first_after_restart) = drain(&rig, &url, backlog, true).await?;
    Ok(Faults {
        outage,
        backlog,
        drain_before,
        drain_after_restart,
        first_after_restart,
    })
}

/// A performance open for booking, written straight to the phase's database.
async fn performance(rig: &Rig) -> anyhow::Result<Uuid> {
    let id: Uuid = sqlx::query_scalar(
        "WITH room AS (INSERT INTO rooms (id, name, capacity) VALUES (gen_random_uuid(), 'Faults', 100000) RETURNING id),
              show AS (INSERT INTO shows (id, title) VALUES (gen_random_uuid(), 'Faults') RETURNING id)
         INSERT INTO performances (id, show_id, room_id, starts_at, booking_status)
         SELECT gen_random_uuid(), show.id, room.id, now() + interval '30 days', 'open' FROM room, show
         RETURNING id",
    )
    .fetch_one(&rig.pool)
    .await?;
    Ok(id)
}

/// Books `n` seats while the worker is paused, optionally restarts the database, resumes the
/// worker and measures the drain: e-mails per second from the first to the last, and the time
/// from resuming to the first.
async fn drain(rig: &Rig, url: &str, n: usize, restart: bool) -> anyhow::Result<(f64, Duration)> {
    process::signal(rig.worker.pid(), "STOP");
    for i in 0..n {
        rig.http
            .post(url)
            .json(&json!({ "name": "Backlog", "email": format!("backlog{i}@example.org"), "party_size": 1 }))
            .send()
            .await?
            .error_for_status()?;
    }
    if restart {
        rig.pg.restart();
    }
    let before = rig.smtp.message_count();
    let resumed = Instant::now();
    process::signal(rig.worker.pid(), "CONT");
    let mut first = None;
    loop {
        let sent = rig.smtp.message_count() - before;
        if sent >= 1 && first.is_none() {
            first = Some(Instant::now());
        }
        if sent >= n {
            break;
        }
        if resumed.elapsed() > Duration::from_secs(600) {
            bail!("the backlog did not drain: {sent} of {n}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let first = first.unwrap_or(resumed);
    let rate = (n.max(2) - 1) as f64 / first.elapsed().as_secs_f64().max(1e-3);
    Ok((rate, first - resumed))
}
