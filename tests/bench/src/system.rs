//! The system under test: the built `azione-web` and `azione-worker` against a fresh database
//! and an in-process SMTP server, with the admin calls and seeding the phases need.

use std::{
    net::SocketAddr,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use common::{jobs, token::RawToken};
use serde_json::{Value, json};
use sqlx::PgPool;
use tests::{
    db::TestDatabase,
    process::{self, Running},
    smtp::SmtpServer,
};
use uuid::Uuid;

pub struct System {
    pub db: TestDatabase,
    pub smtp: SmtpServer,
    pub web: Running,
    pub worker: Running,
    pub base: String,
    pub key: String,
    pub http: reqwest::Client,
    /// Where the binaries are (`target/release`, or another build's folder).
    pub bin_dir: String,
    env: Vec<(&'static str, String)>,
}

/// The environment web and worker run with in the benchmark.
pub fn app_env(
    database_url: &str,
    addr: SocketAddr,
    smtp_url: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", database_url.to_owned()),
        (
            "SECRET_KEY",
            "benchmark-secret-key-that-is-long-enough".into(),
        ),
        ("PUBLIC_BASE_URL", format!("http://{addr}")),
        ("BIND_ADDR", addr.to_string()),
        ("WORKER_BIND_ADDR", process::free_port().to_string()),
        ("SMTP_URL", smtp_url.to_owned()),
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
    ]
}

impl System {
    pub async fn start(bin_dir: &str) -> anyhow::Result<System> {
        let db = TestDatabase::create().await;
        let smtp = SmtpServer::start().await;
        let addr = process::free_port();
        let base = format!("http://{addr}");
        let bin = |name: &str| format!("{bin_dir}/{name}");
        let env = app_env(&db.url, addr, &smtp.url());
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
            bin_dir: bin_dir.to_owned(),
            env,
        })
    }

    /// Another process of `binary` on the same database, with some variables changed.
    fn spawn(&self, binary: &str, args: &[&str], changed: &[(&str, String)]) -> Running {
        let mut env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for (name, value) in changed {
            env.retain(|(k, _)| k != name);
            env.push((name, value.as_str()));
        }
        Running::spawn_path_env(&format!("{}/{binary}", self.bin_dir), args, &env)
    }

    /// Another web process (give it its own `BIND_ADDR`).
    pub fn spawn_web(&self, changed: &[(&str, String)]) -> Running {
        self.spawn("azione-web", &["serve"], changed)
    }

    /// Another worker (give it its own `WORKER_BIND_ADDR`).
    pub fn spawn_worker(&self, changed: &[(&str, String)]) -> Running {
        self.spawn("azione-worker", &[], changed)
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

    pub async fn performance(
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

    pub async fn wait_for_messages(&self, count: usize, patience: Duration) -> anyhow::Result<()> {
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

    /// Waits until no job is waiting or running; jobs scheduled for later (reminders, offer
    /// expiries) are not counted until they are due.
    pub async fn wait_for_idle_queue(&self, patience: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + patience;
        loop {
            let busy: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM apalis.jobs WHERE job_type = ANY($1) AND status IN ('Pending','Queued','Running')
                    AND NOT (status = 'Pending' AND run_at > now())",
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

/// Inserts `n` reservations of one performance in `status`, each with a token of `purpose`,
/// and vacuums their tables; returns the raw tokens.
pub async fn seed_tokens(
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
    // Vacuumed and analysed now, not by autovacuum during the measured run that follows: tens
    // of thousands of new rows start it, and it then ran (and was counted) beside wrk but no
    // longer beside the pgbench reference after it (a check-in phase measured PostgreSQL at
    // 0.46 ms per check-in against the reference's 0.24 ms).
    sqlx::query("VACUUM ANALYZE reservations, reservation_tokens")
        .execute(pool)
        .await?;
    Ok(raw)
}
