//! `azione-bench`: the reproducible benchmark. It starts the built `azione-web` and
//! `azione-worker` against a fresh database and an in-process SMTP server that counts what it
//! receives (and can be switched off or slowed to 2 s per message), drives load with `wrk`,
//! measures `pgbench` references on the same database, and writes a Markdown results file.
//!
//!     azione-bench [--smoke] [--profile release|debug] [--out FILE] [--seconds N]
//!
//! `--smoke` runs every phase for a moment with small data sets (CI keeps it working).

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant, SystemTime},
};

use anyhow::{Context, bail};
use common::{jobs, token::RawToken};
use serde_json::{Value, json};
use sqlx::PgPool;
use tests::{
    db::TestDatabase,
    process::{self, Running},
    smtp::{Mode, SmtpServer},
};
use uuid::Uuid;

struct Options {
    smoke: bool,
    profile: String,
    out: PathBuf,
    seconds: u64,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        smoke: false,
        profile: "release".into(),
        out: PathBuf::from("tests/bench/RESULTS.md"),
        seconds: 10,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--smoke" => {
                o.smoke = true;
                o.seconds = 1;
                o.out = PathBuf::from("target/bench-smoke.md");
            }
            "--profile" => o.profile = args.next().context("--profile needs a value")?,
            "--out" => o.out = PathBuf::from(args.next().context("--out needs a value")?),
            "--seconds" => o.seconds = args.next().context("--seconds needs a value")?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(o)
}

/// One load-generator run, reduced to what the results table shows.
#[derive(Debug, Clone, Default)]
struct Load {
    requests: u64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
    command: String,
}

fn to_ms(value: &str) -> f64 {
    let (number, unit) = value.split_at(
        value
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(value.len()),
    );
    let n: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => f64::NAN,
    }
}

fn wrk(
    url: &str,
    connections: u32,
    seconds: u64,
    script: &Path,
    args: &[&str],
) -> anyhow::Result<Load> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t2",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
        "-s",
    ])
    .arg(script)
    .arg(url);
    if !args.is_empty() {
        cmd.arg("--").args(args);
    }
    let shown = format!(
        "wrk -t2 -c{connections} -d{seconds}s --latency -s {} {url}{}",
        Path::new("tests/bench")
            .join(script.file_name().unwrap_or_default())
            .display(),
        if args.is_empty() {
            String::new()
        } else {
            " -- <file/key>".into()
        }
    );
    let output = cmd.output().context("run wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut load = Load {
        command: shown,
        ..Load::default()
    };
    for line in text.lines().map(str::trim) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["50%", v] => load.p50_ms = to_ms(v),
            ["99%", v] => load.p99_ms = to_ms(v),
            ["Requests/sec:", v] => load.per_second = v.parse().unwrap_or(0.0),
            ["Non-2xx", "or", "3xx", "responses:", n] => load.non_2xx = n.parse().unwrap_or(0),
            [n, "requests", "in", ..] => load.requests = n.parse().unwrap_or(0),
            _ => {}
        }
    }
    if load.requests == 0 {
        bail!(
            "wrk made no requests: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(load)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn pgbench(
    url: &str,
    clients: u32,
    seconds: u64,
    script: &str,
    dir: &Path,
    name: &str,
) -> anyhow::Result<Load> {
    let script_path = dir.join(format!("{name}.sql"));
    std::fs::write(&script_path, script)?;
    let prefix = dir.join(format!("{name}-log"));
    let output = Command::new("pgbench")
        .args([
            "-n",
            "-M",
            "prepared",
            &format!("-c{clients}"),
            "-j2",
            &format!("-T{seconds}"),
            "-l",
        ])
        .arg(format!("--log-prefix={}", prefix.display()))
        .arg("-f")
        .arg(&script_path)
        .arg(url)
        .output()
        .context("run pgbench")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{name}-log")))
        {
            for line in std::fs::read_to_string(&path)?.lines() {
                if let Some(us) = line
                    .split_whitespace()
                    .nth(2)
                    .and_then(|v| v.parse::<f64>().ok())
                {
                    latencies.push(us / 1000.0);
                }
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let per_second = text
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    Ok(Load {
        requests: latencies.len() as u64,
        per_second,
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        non_2xx: 0,
        command: format!("pgbench -n -M prepared -c{clients} -j2 -T{seconds} -l -f {name}.sql"),
    })
}

fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

struct System {
    db: TestDatabase,
    smtp: SmtpServer,
    web: Running,
    worker: Running,
    base: String,
    key: String,
    http: reqwest::Client,
}

impl System {
    async fn start(o: &Options) -> anyhow::Result<System> {
        let db = TestDatabase::create().await;
        let smtp = SmtpServer::start().await;
        let addr = process::free_port();
        let base = format!("http://{addr}");
        let bin = |name: &str| format!("target/{}/{name}", o.profile);
        let env: Vec<(&str, String)> = vec![
            ("DATABASE_URL", db.url.clone()),
            (
                "SECRET_KEY",
                "benchmark-secret-key-that-is-long-enough".into(),
            ),
            ("PUBLIC_BASE_URL", base.clone()),
            ("BIND_ADDR", addr.to_string()),
            ("WORKER_BIND_ADDR", process::free_port().to_string()),
            ("SMTP_URL", smtp.url()),
            ("MAIL_FROM", "tickets@bench.test".into()),
            ("RATE_LIMIT_PER_MINUTE", "0".into()),
            ("DATABASE_MAX_CONNECTIONS", "20".into()),
            ("JOB_RETRY_MIN_DELAY_MS", "200".into()),
            ("JOB_RETRY_MAX_DELAY_MS", "2000".into()),
            ("JOB_MAX_ATTEMPTS", "5".into()),
            ("JOB_REVIVE_AFTER_SECONDS", "2".into()),
            ("HOUSEKEEPING_INTERVAL_SECONDS", "10".into()),
            ("SMTP_TIMEOUT_SECONDS", "10".into()),
            ("RUST_LOG", "warn".into()),
            (
                "WORKER_CONCURRENCY",
                std::env::var("WORKER_CONCURRENCY").unwrap_or_else(|_| "16".into()),
            ),
        ];
        let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let output = Command::new(bin("azione-web"))
            .args(["create-api-key", "--role", "admin", "--label", "bench"])
            .env_clear()
            .envs(vars.iter().copied())
            .output()?;
        let key = String::from_utf8(output.stdout)?.trim().to_owned();
        let web = Running::spawn_path_env(&bin("azione-web"), &["serve"], &vars);
        let worker = Running::spawn_path_env(&bin("azione-worker"), &[], &vars);
        process::wait_for_port(addr).await;
        Ok(System {
            db,
            smtp,
            web,
            worker,
            base,
            key,
            http: reqwest::Client::new(),
        })
    }

    async fn admin(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("{path}: {}", response.text().await?);
        }
        Ok(response.json().await?)
    }

    async fn performance(
        &self,
        capacity: i64,
        starts_in: chrono::Duration,
    ) -> anyhow::Result<Uuid> {
        let room = self
            .admin(
                "/api/v1/admin/rooms",
                json!({ "name": Uuid::new_v4().to_string(), "capacity": capacity }),
            )
            .await?;
        let p = self
            .admin(
                "/api/v1/admin/performances",
                json!({ "title": "Bench", "room_id": room["id"], "booking_status": "open",
                        "starts_at": (chrono::Utc::now() + starts_in).to_rfc3339() }),
            )
            .await?;
        Ok(p["id"].as_str().context("id")?.parse()?)
    }

    async fn wait_for_messages(&self, count: usize, patience: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + patience;
        while self.smtp.message_count() < count {
            if Instant::now() > deadline {
                bail!(
                    "only {} of {count} e-mails arrived",
                    self.smtp.message_count()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    async fn wait_for_idle_queue(&self, patience: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + patience;
        loop {
            let busy: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM apalis.jobs WHERE job_type = ANY($1) AND status IN ('Pending','Queued','Running')",
            )
            .bind(jobs::QUEUES.as_slice())
            .fetch_one(&self.db.pool)
            .await?;
            if busy == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{busy} jobs still busy");
            }
            // Counting a large queue costs the database: ask once a second.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Inserts `n` reservations of one performance in `status`, each with a token of `purpose`;
/// returns the raw tokens.
async fn seed_tokens(
    pool: &PgPool,
    performance: Uuid,
    n: usize,
    status: &str,
    purpose: &str,
) -> anyhow::Result<Vec<String>> {
    let mut raw = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let ids: Vec<Uuid> = chunk.iter().map(|_| Uuid::new_v4()).collect();
        let tokens: Vec<RawToken> = chunk.iter().map(|_| RawToken::generate()).collect();
        let hashes: Vec<Vec<u8>> = tokens
            .iter()
            .map(|t| t.hash().as_bytes().to_vec())
            .collect();
        sqlx::query(
            "INSERT INTO reservations (id, performance_id, name, email, party_size, status, confirmed_at)
             SELECT id, $2, 'Bench', 'bench@example.org', 1, $3, CASE WHEN $3 = 'confirmed' THEN now() END
               FROM unnest($1::uuid[]) AS id",
        )
        .bind(&ids)
        .bind(performance)
        .bind(status)
        .execute(pool)
        .await?;
        sqlx::query(
            "INSERT INTO reservation_tokens (id, reservation_id, purpose, token_hash, expires_at)
             SELECT gen_random_uuid(), r, $3, h, now() + interval '1 day'
               FROM unnest($1::uuid[], $2::bytea[]) AS t(r, h)",
        )
        .bind(&ids)
        .bind(&hashes)
        .bind(purpose)
        .execute(pool)
        .await?;
        raw.extend(tokens.iter().map(|t| t.expose().to_owned()));
    }
    Ok(raw)
}

/// Queues `n` e-mail jobs of one kind for fresh reservations and measures the delivery rate.
async fn email_rate(
    sys: &System,
    performance: Uuid,
    n: usize,
    ticket: bool,
) -> anyhow::Result<f64> {
    sys.smtp.clear();
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
    let started = SystemTime::now();
    sys.wait_for_messages(ids.len(), Duration::from_secs(600))
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
    Ok(ids.len() as f64 / seconds)
}

fn row(name: &str, load: &Load, reference: Option<&Load>) -> String {
    let mut line = format!(
        "| {name} | {:.0} | {:.2} | {:.2} | {} |",
        load.per_second, load.p50_ms, load.p99_ms, load.non_2xx
    );
    match reference {
        Some(r) => line.push_str(&format!(
            " {:.0} / {:.2} / {:.2} | {:.2} |",
            r.per_second,
            r.p50_ms,
            r.p99_ms,
            load.per_second / r.per_second
        )),
        None => line.push_str(" – | – |"),
    }
    line
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let o = options()?;
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let sys = System::start(&o).await?;
    let scratch = std::env::temp_dir().join(format!("azione-bench-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&scratch)?;
    let secs = o.seconds;
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench");
    let mut commands = Vec::new();
    let mut rows = Vec::new();

    eprintln!("bench: Booking");
    // Booking: SMTP healthy, down, slow; each beside the pgbench reference at its concurrency.
    let booking = sys.performance(100_000, chrono::Duration::days(30)).await?;
    // The reference writes to a performance of its own, so its rows (which queue nothing)
    // do not blur the "no e-mail lost" count below.
    let reference_performance = sys.performance(100_000, chrono::Duration::days(30)).await?;
    let url = format!("{}/api/v1/performances/{booking}/reservations", sys.base);
    let reference_sql = format!(
        "BEGIN;\n\
         INSERT INTO reservations (id, performance_id, name, email, party_size) VALUES (gen_random_uuid(), '{reference_performance}', 'Bench Visitor', 'bench@example.org', 1);\n\
         INSERT INTO apalis.jobs (job, id, job_type, max_attempts, run_at, idempotency_key) VALUES ('\\x7b7d', gen_random_uuid()::text, 'bench.reference', 10, now(), gen_random_uuid()::text);\n\
         END;\n"
    );
    let mut booking_p99 = Vec::new();
    let mut booking32_ratio = f64::NAN;
    for connections in [8, 32] {
        let reference = pgbench(
            &sys.db.url,
            connections,
            secs,
            &reference_sql,
            &scratch,
            &format!("booking{connections}"),
        )?;
        commands.push(reference.command.clone());
        for (label, mode) in [
            ("SMTP healthy", None),
            ("SMTP down", Some(Mode::Unavailable)),
            (
                "SMTP 2 s per message",
                Some(Mode::Slow(Duration::from_secs(2))),
            ),
        ] {
            sys.smtp.set_mode(mode.unwrap_or(Mode::Accept));
            let load = wrk(&url, connections, secs, &scripts.join("post.lua"), &[])?;
            commands.push(load.command.clone());
            booking_p99.push((connections, label, load.p99_ms));
            if connections == 32 && mode.is_none() {
                booking32_ratio = load.per_second / reference.per_second;
            }
            rows.push(row(
                &format!("booking, c={connections}, {label}"),
                &load,
                Some(&reference),
            ));
        }
        sys.smtp.set_mode(Mode::Accept);
    }
    eprintln!("bench: No e-mail lost");
    // No e-mail lost: once SMTP is back, every booking's confirmation arrives.
    sys.wait_for_idle_queue(Duration::from_secs(if o.smoke { 120 } else { 1800 }))
        .await?;
    let (booked, sent): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(confirmation_sent_at) FROM reservations WHERE performance_id = $1",
    )
    .bind(booking)
    .fetch_one(&sys.db.pool)
    .await?;
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE job_type = ANY($1) AND status IN ('Failed','Killed')")
        .bind(jobs::QUEUES.as_slice())
        .fetch_one(&sys.db.pool)
        .await?;

    eprintln!("bench: Confirmations contending");
    // Confirmations contending for one performance row.
    let contended = sys.performance(100_000, chrono::Duration::days(30)).await?;
    let n = if o.smoke { 100 } else { 20_000 };
    let tokens = seed_tokens(&sys.db.pool, contended, n, "pending", "confirm").await?;
    let (first_half, second_half) = tokens.split_at(tokens.len() / 2);
    let confirm_url = format!("{}/api/v1/reservations/confirm", sys.base);
    let token_file = scratch.join("confirm.txt");
    std::fs::write(&token_file, first_half.join("\n"))?;
    let confirm = wrk(
        &confirm_url,
        32,
        secs,
        &scripts.join("tokens.lua"),
        &[token_file.to_str().context("path")?],
    )?;
    commands.push(confirm.command.clone());
    // The same with the worker stopped (SIGSTOP), to show what its ticket e-mails, sent
    // meanwhile on the same two cores, cost the confirmations.
    sys.wait_for_idle_queue(Duration::from_secs(if o.smoke { 120 } else { 1800 }))
        .await?;
    let paused_file = scratch.join("confirm-paused.txt");
    std::fs::write(&paused_file, second_half.join("\n"))?;
    process::signal(sys.worker.pid(), "STOP");
    let confirm_paused = wrk(
        &confirm_url,
        32,
        secs,
        &scripts.join("tokens.lua"),
        &[paused_file.to_str().context("path")?],
    );
    process::signal(sys.worker.pid(), "CONT");
    let confirm_paused = confirm_paused?;
    sqlx::query("CREATE TABLE bench_ref (n int PRIMARY KEY, touched int NOT NULL DEFAULT 0)")
        .execute(&sys.db.pool)
        .await?;
    sqlx::query("INSERT INTO bench_ref (n) SELECT generate_series(1, 10000)")
        .execute(&sys.db.pool)
        .await?;
    let lock_sql = format!(
        "\\set r random(1, 10000)\nBEGIN;\n\
         SELECT id FROM performances WHERE id = '{contended}' FOR UPDATE;\n\
         SELECT COALESCE(sum(party_size), 0) FROM reservations WHERE performance_id = '{contended}' AND status = 'confirmed';\n\
         UPDATE bench_ref SET touched = touched + 1 WHERE n = :r;\nEND;\n"
    );
    let lock_reference = pgbench(&sys.db.url, 32, secs, &lock_sql, &scratch, "confirm32")?;
    commands.push(lock_reference.command.clone());
    rows.push(row(
        "confirmation, one hot performance, c=32",
        &confirm,
        Some(&lock_reference),
    ));
    rows.push(row(
        "confirmation, one hot performance, c=32, worker paused",
        &confirm_paused,
        Some(&lock_reference),
    ));

    eprintln!("bench: Check-in");
    // Check-in: distinct tickets, then one ticket scanned over and over.
    sys.wait_for_idle_queue(Duration::from_secs(if o.smoke { 120 } else { 1800 }))
        .await?;
    let door = sys
        .performance(100_000, chrono::Duration::minutes(30))
        .await?;
    let tickets = seed_tokens(
        &sys.db.pool,
        door,
        if o.smoke { 100 } else { 20_000 },
        "confirmed",
        "ticket",
    )
    .await?;
    let ticket_file = scratch.join("tickets.txt");
    std::fs::write(&ticket_file, tickets.join("\n"))?;
    let checkin_url = format!("{}/api/v1/checkin", sys.base);
    let checkin = wrk(
        &checkin_url,
        8,
        secs,
        &scripts.join("tokens.lua"),
        &[ticket_file.to_str().context("path")?, &sys.key],
    )?;
    commands.push(checkin.command.clone());
    // Reference: the database alone doing what a check-in does (lock the reservation found by
    // its ticket, mark it, write the audit entry) for tickets not yet used.
    sqlx::query(
        "CREATE TABLE bench_tickets AS
         SELECT row_number() OVER () AS n, t.token_hash FROM reservation_tokens t
           JOIN reservations r ON r.id = t.reservation_id
          WHERE r.performance_id = $1 AND t.purpose = 'ticket' AND r.checked_in_at IS NULL",
    )
    .bind(door)
    .execute(&sys.db.pool)
    .await?;
    sqlx::query("CREATE UNIQUE INDEX ON bench_tickets (n)")
        .execute(&sys.db.pool)
        .await?;
    let unused: i64 = sqlx::query_scalar("SELECT count(*) FROM bench_tickets")
        .fetch_one(&sys.db.pool)
        .await?;
    let checkin_sql = format!(
        "\\set n random(1, {})\nBEGIN;\n\
         SELECT r.id FROM reservation_tokens t JOIN reservations r ON r.id = t.reservation_id \
          WHERE t.token_hash = (SELECT token_hash FROM bench_tickets WHERE n = :n) AND t.purpose = 'ticket' FOR UPDATE OF r;\n\
         UPDATE reservations SET checked_in_at = now() WHERE id = (SELECT reservation_id FROM reservation_tokens \
          WHERE token_hash = (SELECT token_hash FROM bench_tickets WHERE n = :n));\n\
         INSERT INTO audit_log (actor, action, details) VALUES ('bench', 'checkin', '{{}}');\nEND;\n",
        unused.max(1)
    );
    let checkin_reference = pgbench(&sys.db.url, 8, secs, &checkin_sql, &scratch, "checkin8")?;
    commands.push(checkin_reference.command.clone());
    rows.push(row(
        "check-in, distinct tickets, c=8",
        &checkin,
        Some(&checkin_reference),
    ));
    let duplicate_file = scratch.join("duplicate.txt");
    std::fs::write(&duplicate_file, &tickets[0])?;
    let duplicates = wrk(
        &checkin_url,
        8,
        secs,
        &scripts.join("tokens.lua"),
        &[duplicate_file.to_str().context("path")?, &sys.key],
    )?;
    rows.push(row(
        "check-in, one ticket scanned again (409), c=8",
        &duplicates,
        None,
    ));

    eprintln!("bench: The e-mail pipeline");
    // The e-mail pipeline: from a booking's commit to the SMTP server's acceptance.
    sys.smtp.clear();
    let pipeline = sys.performance(100_000, chrono::Duration::days(30)).await?;
    let samples = if o.smoke { 10 } else { 300 };
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
    let rate_n = if o.smoke { 20 } else { 2000 };
    let confirmation_rate = email_rate(&sys, pipeline, rate_n, false).await?;
    let ticket_rate = email_rate(&sys, pipeline, rate_n, true).await?;

    let web_rss = peak_rss_mib(sys.web.pid());
    let worker_rss = peak_rss_mib(sys.worker.pid());
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let mut out = String::new();
    out.push_str(&format!(
        "# Benchmark results\n\n{}\n\n- machine: {} cores ({}), load average before `{}` after `{}`\n- binaries: `target/{}`; web and worker with `RUST_LOG=warn`, `DATABASE_MAX_CONNECTIONS=20`, `WORKER_CONCURRENCY={}`\n- each load phase: {} s, wrk 2 threads; references: pgbench on the same database and machine, same concurrency\n- command: `cargo run --release -p tests --bin azione-bench{}`\n\n",
        if o.smoke { "Smoke run (a moment per phase): the figures only show the benchmark works." } else { "Full run." },
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())).unwrap_or_default(),
        load_before.trim(),
        load_after.trim(),
        o.profile,
        std::env::var("WORKER_CONCURRENCY").unwrap_or_else(|_| "16".into()),
        secs,
        if o.smoke { " -- --smoke" } else { "" },
    ));
    out.push_str("| figure | req/s | p50 ms | p99 ms | non-2xx | reference req/s / p50 / p99 | ratio |\n|---|---|---|---|---|---|---|\n");
    for r in &rows {
        out.push_str(r);
        out.push('\n');
    }
    out.push_str(&format!(
        "\n## E-mail pipeline\n\n- booking commit (the 202 answer) to confirmation e-mail accepted by SMTP, {} bookings 20 ms apart: p50 {:.1} ms, p99 {:.1} ms\n- confirmation e-mails per second, one worker: {:.0} ({} queued at once)\n- QR ticket e-mails per second, one worker: {:.0} ({} queued at once)\n- after the SMTP outage and slow phases: {} bookings accepted, {} confirmation e-mails sent, {} jobs failed or killed\n\n## Memory\n\n- peak resident memory (VmHWM): web {:.1} MiB, worker {:.1} MiB\n\n## Commands\n\n",
        samples,
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        confirmation_rate,
        rate_n,
        ticket_rate,
        rate_n,
        booked,
        sent,
        failed,
        web_rss,
        worker_rss,
    ));
    for c in &commands {
        out.push_str(&format!("    {c}\n"));
    }
    let healthy32 = booking_p99
        .iter()
        .find(|(c, l, _)| *c == 32 && *l == "SMTP healthy")
        .map_or(f64::NAN, |b| b.2);
    let worst32 = booking_p99
        .iter()
        .filter(|(c, l, _)| *c == 32 && *l != "SMTP healthy")
        .map(|b| b.2)
        .fold(f64::NAN, f64::max);
    let verdict = |ok: bool| if ok { "met" } else { "missed" };
    out.push_str(&format!(
        "\n## Targets\n\n| target | measured | verdict |\n|---|---|---|\n\
         | booking throughput ≥ 0.7 × pgbench at c=32 | {:.2} × | {} |\n\
         | booking p99 with SMTP down or slow ≤ 1.1 × healthy (c=32) | {:.2} × | {} |\n\
         | hot-performance confirmations ≥ 0.7 × pgbench (worker paused: {:.2} ×) | {:.2} × | {} |\n\
         | check-in p99 ≤ 5 ms at c=8 | {:.2} ms | {} |\n\
         | commit-to-e-mail p50 ≤ 50 ms | {:.1} ms | {} |\n\
         | ≥ 300 QR ticket e-mails/s per worker | {:.0}/s | {} |\n\
         | web resident memory ≤ 64 MiB | {:.1} MiB | {} |\n",
        booking32_ratio,
        verdict(booking32_ratio >= 0.7),
        worst32 / healthy32,
        verdict(worst32 <= 1.1 * healthy32),
        confirm_paused.per_second / lock_reference.per_second,
        confirm.per_second / lock_reference.per_second,
        verdict(confirm.per_second >= 0.7 * lock_reference.per_second),
        checkin.p99_ms,
        verdict(checkin.p99_ms <= 5.0),
        percentile(&latencies, 50.0),
        verdict(percentile(&latencies, 50.0) <= 50.0),
        ticket_rate,
        verdict(ticket_rate >= 300.0),
        web_rss,
        verdict(web_rss <= 64.0),
    ));
    out.push_str("\nBooking p99 by SMTP state (ms):\n\n");
    for (c, label, p99) in &booking_p99 {
        out.push_str(&format!("- c={c}, {label}: {p99:.2}\n"));
    }
    if let Some(dir) = o.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&o.out, &out)?;
    println!("{out}");
    let _ = std::fs::remove_dir_all(&scratch);
    if booked != sent || failed != 0 {
        bail!(
            "e-mails were lost: {booked} bookings, {sent} confirmations sent, {failed} failed jobs"
        );
    }
    Ok(())
}
