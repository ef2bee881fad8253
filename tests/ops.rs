//! Operators: the queue page and its actions, metrics, health, worker resilience and retention.

use std::time::Duration;

use common::auth::Role;
use common::jobs::{CONFIRMATION_QUEUE, TICKET_QUEUE};
use reqwest::Method;
use serde_json::{Value, json};
use tests::{
    PerformanceSpec, TestApp, eventually, eventually_within,
    process::{self, Running},
    smtp::Mode,
};

async fn queue_report(app: &TestApp, key: &str) -> Value {
    let response = app
        .client
        .get(app.url("/api/v1/ops/queues"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn wait_for_job_status(app: &TestApp, status: &str) -> String {
    eventually(&format!("a job in status {status}"), || async {
        sqlx::query_scalar("SELECT id FROM apalis.jobs WHERE status = $1 LIMIT 1")
            .bind(status)
            .fetch_optional(&app.db)
            .await
            .unwrap()
    })
    .await
}

#[tokio::test]
async fn a_5xx_reply_ends_the_job_at_once_visibly_and_a_retry_from_the_queue_page_delivers_it() {
    let app = TestApp::spawn().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    app.smtp.set_mode(Mode::RejectRecipients);
    app.book(id, "refused@example.org", 1).await;

    let job = wait_for_job_status(&app, "Killed").await;

    let operator = app.api_key(Role::Operator).await;
    let report = queue_report(&app, &operator).await;
    let failed = &report["failed_jobs"][0];
    assert_eq!(failed["id"], job);
    assert_eq!(failed["queue"], CONFIRMATION_QUEUE);
    assert_eq!(failed["attempts"], 1, "no retries for a permanent failure");
    let error = failed["last_error"].as_str().unwrap();
    assert!(error.contains("550"), "{error}");
    assert!(
        !error.contains("refused@example.org"),
        "no personal data in stored errors"
    );
    assert!(failed["reservation_id"].is_string());
    let operator_session = app.log_in(Role::Operator).await;
    let page = operator_session
        .get("/ops/queues")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&job) && page.contains("550"));

    app.smtp.set_mode(Mode::Accept);
    let retried = operator_session
        .post_form(&format!("/ops/jobs/{job}/retry"), &[])
        .await;
    assert_eq!(retried.status(), 303);
    app.wait_for_mail("refused@example.org", 1).await;
    let counts = app.wait_for_jobs().await;
    assert_eq!(counts.get("Done"), Some(&1), "{counts:?}");
    let audit: Vec<Value> = app
        .admin_request(Method::GET, "/api/v1/admin/audit", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "job.retry" && e["details"]["job_id"] == job)
    );
}

/// Transactions committed in the test's database so far (the server's statistics).
async fn transactions(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(&app.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn an_idle_worker_waits_for_a_notification_instead_of_fetching_in_a_loop() {
    // No polling to speak of: a queued job can only be found through its NOTIFY.
    let app = TestApp::spawn_with(|c| c.jobs.poll_interval = Duration::from_secs(60)).await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = transactions(&app).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = transactions(&app).await - before;
    // Heartbeats and the database watch make a few a second; queues that woke each other
    // with every fetch made hundreds.
    assert!(idle < 100, "{idle} transactions in 5 idle seconds");
    app.book(id, "woken@example.org", 1).await;
    eventually_within(
        Duration::from_secs(20),
        "the confirmation e-mail, sent on the job's notification",
        || async { (!app.smtp.messages_to("woken@example.org").is_empty()).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn taking_a_job_does_not_lock_its_workers_row() {
    let app = TestApp::spawn().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    eventually("the worker's queues registered", || async {
        let workers: i64 = sqlx::query_scalar("SELECT count(*) FROM apalis.workers")
            .fetch_one(&app.db)
            .await
            .unwrap();
        (workers > 0).then_some(())
    })
    .await;
    // Another transaction holds every worker's row, as a heartbeat stuck on a slow disk does.
    let mut held = app.db.begin().await.unwrap();
    sqlx::query("SELECT id FROM apalis.workers FOR UPDATE")
        .fetch_all(&mut *held)
        .await
        .unwrap();
    app.book(id, "unlocked@example.org", 1).await;
    // apalis's foreign key from a job's lock_by to its worker made every fetch lock that row
    // (FOR KEY SHARE), so no job could be taken until the holder ended.
    eventually_within(
        Duration::from_secs(20),
        "the confirmation e-mail, while the worker's row was held",
        || async { (!app.smtp.messages_to("unlocked@example.org").is_empty()).then_some(()) },
    )
    .await;
    held.rollback().await.unwrap();
}

#[tokio::test]
async fn a_job_is_written_when_taken_and_when_done_with_its_email_then_held_by_no_worker() {
    let app = TestApp::spawn().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    // Every write of a job row after its insert, in order, as it lands.
    sqlx::raw_sql(
        "CREATE TABLE job_writes (n serial, id text, status text, lock_by text, xid text);
         CREATE FUNCTION record_job_write() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             INSERT INTO job_writes (id, status, lock_by, xid)
             VALUES (NEW.id, NEW.status, NEW.lock_by,
                     (pg_current_xact_id()::text::bigint % 4294967296)::text);
             RETURN NULL;
         END $$;
         CREATE TRIGGER record_job_write AFTER UPDATE ON apalis.jobs
             FOR EACH ROW EXECUTE FUNCTION record_job_write();",
    )
    .execute(&app.db)
    .await
    .unwrap();
    app.book(id, "twice@example.org", 1).await;
    app.wait_for_mail("twice@example.org", 1).await;
    let counts = app.wait_for_jobs().await;
    assert_eq!(counts.get("Done"), Some(&1), "{counts:?}");
    let writes: Vec<(String, Option<String>, String)> =
        sqlx::query_as("SELECT status, lock_by, xid FROM job_writes ORDER BY n")
            .fetch_all(&app.db)
            .await
            .unwrap();
    // No job update can be HOT, so each write costs the row and every index an entry: taken
    // (by a worker) and done are all a job needs, not a third write marking it running.
    let statuses: Vec<&str> = writes.iter().map(|(s, ..)| s.as_str()).collect();
    assert_eq!(statuses, ["Queued", "Done"], "{writes:?}");
    assert!(writes[0].1.is_some(), "a taken job names its worker");
    // Orphan recovery (and apalis's acknowledgement, off in our workers) find jobs by their
    // `lock_by`: left set on finished jobs, those reads grew with every job a worker had done.
    assert_eq!(writes[1].1, None, "a finished job is held by no worker");
    // The job is done in the transaction that records its e-mail as sent (the reservation's
    // last write), not in a transaction of its own after it.
    let recorded_by: String = sqlx::query_scalar(
        "SELECT xmin::text FROM reservations WHERE confirmation_sent_at IS NOT NULL",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(writes[1].2, recorded_by, "{writes:?}");
    // ... and reads as apalis records a job done at its first attempt.
    let (attempts, result): (i32, serde_json::Value) =
        sqlx::query_as("SELECT attempts, last_result FROM apalis.jobs")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((attempts, result), (1, serde_json::json!({ "Ok": null })));
    let still_held: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM apalis.jobs WHERE lock_by IS NOT NULL AND status NOT IN ('Queued', 'Running')",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(still_held, 0);
    // Only a held job is indexed by its worker: one entry in that index for the job's whole
    // life (when it was taken), not one per write.
    let by_worker: i64 = sqlx::raw_sql(
        "CREATE EXTENSION IF NOT EXISTS pageinspect;
         SELECT count(*) FROM bt_page_items('apalis.idx_apalis_jobs_lock_by', 1);",
    )
    .fetch_all(&app.db)
    .await
    .unwrap()
    .last()
    .map(|row| sqlx::Row::get(row, 0))
    .unwrap();
    assert_eq!(by_worker, 1);
}

#[tokio::test]
async fn the_job_table_has_no_index_twice_and_its_fetch_keeps_its_plan() {
    let app = TestApp::spawn_without_worker().await;
    // A job row is written up to four times and none of its updates is HOT: every index costs
    // an entry per write, so a copy of another index is pure cost.
    let twice: Vec<String> = sqlx::query_scalar(
        "SELECT string_agg(indexrelid::regclass::text, ' = ')
           FROM pg_index
          WHERE indrelid = 'apalis.jobs'::regclass
          GROUP BY indkey::text, indclass::text, coalesce(pg_get_expr(indexprs, indrelid), ''),
                   coalesce(pg_get_expr(indpred, indrelid), '')
         HAVING count(*) > 1",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert!(twice.is_empty(), "indexes that repeat another: {twice:?}");
    // A LANGUAGE sql function that updates is planned again at every call; PL/pgSQL keeps
    // the plan for the connection.
    let language: String = sqlx::query_scalar(
        "SELECT l.lanname::text FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
          WHERE p.oid = 'apalis.get_jobs(text, text, integer)'::regprocedure",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(language, "plpgsql");
}

#[tokio::test]
async fn a_killed_job_stays_killed() {
    let app = TestApp::spawn_with(|c| {
        c.jobs.max_attempts = 2;
        c.jobs.retry_min_delay = Duration::from_millis(10);
        c.jobs.retry_max_delay = Duration::from_millis(20);
    })
    .await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    app.smtp.set_mode(Mode::Unavailable);
    app.book(id, "never@example.org", 1).await;
    let job = wait_for_job_status(&app, "Failed").await;
    let operator = app.api_key(Role::Operator).await;

    let killed = app
        .client
        .post(app.url(&format!("/api/v1/ops/jobs/{job}/kill")))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap();

    assert_eq!(killed.status(), 200);
    app.smtp.set_mode(Mode::Accept);
    let mut conn = app.db.acquire().await.unwrap();
    let revived = common::ops::revive_transient_failures(
        &mut conn,
        Duration::ZERO,
        Duration::from_secs(86_400),
    )
    .await
    .unwrap();
    assert_eq!(revived, 0, "housekeeping leaves killed jobs alone");
    // Absence can only be observed over a while: ten poll intervals of the worker.
    tokio::time::sleep(app.config.jobs.poll_interval * 10).await;
    let status: String = sqlx::query_scalar("SELECT status FROM apalis.jobs WHERE id = $1")
        .bind(&job)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(status, "Killed");
    assert!(app.smtp.messages().is_empty());
    let again = app
        .client
        .post(app.url(&format!("/api/v1/ops/jobs/{job}/kill")))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404, "nothing left to kill");
}

#[tokio::test]
async fn an_smtp_outage_longer_than_a_jobs_retry_budget_loses_no_email() {
    let app = TestApp::spawn_with(|c| {
        c.jobs.max_attempts = 2;
        c.jobs.retry_min_delay = Duration::from_millis(10);
        c.jobs.retry_max_delay = Duration::from_millis(20);
        c.jobs.housekeeping_interval = Duration::from_millis(200);
        c.jobs.revive_after = Duration::from_millis(100);
    })
    .await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    app.smtp.stop();
    for n in 0..3 {
        app.book(id, &format!("patient{n}@example.org"), 1).await;
    }
    // Every job has spent its attempts, rested, been revived and failed again.
    eventually(
        "the worker to keep trying (12 retryable attempts)",
        || async {
            let attempts = app.worker_metrics.counter(
                "azione_jobs_total",
                &[
                    ("queue", CONFIRMATION_QUEUE),
                    ("outcome", "retryable_error"),
                ],
            );
            (attempts >= 3 * 2 * 2).then_some(())
        },
    )
    .await;
    assert!(app.smtp.messages().is_empty());

    app.smtp.restart().await;

    for n in 0..3 {
        app.wait_for_mail(&format!("patient{n}@example.org"), 1)
            .await;
    }
    let counts = app.wait_for_jobs().await;
    assert_eq!(counts.get("Done"), Some(&3), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_hands_the_job_to_another_worker() {
    let app = TestApp::spawn_web_only(|_| {}).await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    app.smtp.set_mode(Mode::Slow(Duration::from_secs(60)));
    app.book(id, "survivor@example.org", 1).await;
    let worker_env = |port: std::net::SocketAddr| -> Vec<(&'static str, String)> {
        vec![
            ("DATABASE_URL", app.config.database.url().to_owned()),
            (
                "SECRET_KEY",
                "a-secret-key-for-tests-that-is-long-enough".to_owned(),
            ),
            ("PUBLIC_BASE_URL", app.config.public_base_url.clone()),
            ("SMTP_URL", app.smtp.url()),
            ("MAIL_FROM", "tickets@example.org".to_owned()),
            ("WORKER_HEARTBEAT_SECONDS", "1".to_owned()),
            ("JOB_POLL_INTERVAL_MS", "100".to_owned()),
            ("WORKER_BIND_ADDR", port.to_string()),
        ]
    };
    let env_a = worker_env(process::free_port());
    let refs = |env: &[(&'static str, String)]| {
        env.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>()
    };
    let a_vars = refs(&env_a);
    let a_refs: Vec<(&str, &str)> = a_vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = Running::spawn("azione-worker", &[], &a_refs);
    wait_for_job_status(&app, "Queued").await;
    eventually("the first worker to reach SMTP", || async {
        (app.smtp.connection_count() > 0).then_some(())
    })
    .await;

    process::signal(first.pid(), "KILL");
    drop(first);
    app.smtp.set_mode(Mode::Accept);
    let env_b = worker_env(process::free_port());
    let b_vars = refs(&env_b);
    let b_refs: Vec<(&str, &str)> = b_vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let second = Running::spawn("azione-worker", &[], &b_refs);

    app.wait_for_mail("survivor@example.org", 1).await;
    let counts = app.wait_for_jobs().await;
    assert_eq!(counts.get("Done"), Some(&1), "{counts:?}");
    let (status, log) = second.terminate(Duration::from_secs(40));
    assert_eq!(status, Some(0), "the second worker stops cleanly:\n{log}");
}

fn counter(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn metrics_move_as_bookings_confirmations_and_check_ins_happen() {
    let app = TestApp::spawn().await;
    let id = app
        .create_performance(PerformanceSpec {
            starts_in: chrono::Duration::minutes(30),
            ..Default::default()
        })
        .await;
    let operator = app.api_key(Role::Operator).await;
    let scrape = || async {
        app.client
            .get(app.url("/metrics"))
            .bearer_auth(&operator)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let before = scrape().await;

    let t = app.ticket_for(id, "counted@example.org", 2).await;
    let door = app.api_key(Role::Door).await;
    app.check_in(&door, &json!({ "token": t.ticket })).await;
    app.check_in(&door, &json!({ "token": t.ticket })).await;
    app.wait_for_jobs().await;
    let after = scrape().await;

    for (line, delta) in [
        (r#"azione_bookings_total{outcome="accepted"}"#, 1),
        (r#"azione_confirmations_total{outcome="confirmed"}"#, 1),
        (r#"azione_checkins_total{outcome="checked_in"}"#, 1),
        (r#"azione_checkins_total{outcome="already_checked_in"}"#, 1),
        (
            r#"azione_http_requests_total{method="POST",route="/api/v1/checkin",status="200"}"#,
            1,
        ),
    ] {
        assert_eq!(
            counter(&after, line) - counter(&before, line),
            delta,
            "{line}"
        );
    }
    assert!(after.contains("# TYPE azione_http_request_duration_seconds histogram"));
    assert!(after.contains(&format!(
        r#"azione_queue_jobs{{queue="{CONFIRMATION_QUEUE}",status="Done"}} 1"#
    )));
    assert!(after.contains(&format!(
        r#"azione_queue_oldest_waiting_seconds{{queue="{TICKET_QUEUE}"}}"#
    )));
    assert!(after.contains(&format!(
        r#"azione_workers_live{{queue="{TICKET_QUEUE}"}} 1"#
    )));

    let worker_url = |path: &str| format!("http://{}{path}", app.worker_addr);
    let worker_metrics = app
        .client
        .get(worker_url("/metrics"))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        worker_metrics
            .contains(r#"azione_email_send_duration_seconds_count{purpose="confirmation"} 1"#),
        "{worker_metrics}"
    );
    assert!(worker_metrics.contains(&format!(
        r#"azione_jobs_total{{queue="{TICKET_QUEUE}",outcome="ok"}} 1"#
    )));
    assert_eq!(
        app.client
            .get(worker_url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        app.client
            .get(worker_url("/metrics"))
            .bearer_auth(&door)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        app.client
            .get(worker_url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.client
            .get(worker_url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn a_missing_worker_does_not_go_unnoticed() {
    let app = TestApp::spawn_web_only(|_| {}).await;
    let operator = app.api_key(Role::Operator).await;

    let report = queue_report(&app, &operator).await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    let alerts: Vec<&str> = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        alerts
            .iter()
            .any(|a| a.contains(&format!("No live worker for {CONFIRMATION_QUEUE}"))),
        "{alerts:?}"
    );
    assert!(metrics.contains(&format!(
        r#"azione_workers_live{{queue="{CONFIRMATION_QUEUE}"}} 0"#
    )));
    assert!(!metrics.contains("azione_queue_alerts 0"));

    let healthy = TestApp::spawn().await;
    let operator = healthy.api_key(Role::Operator).await;
    let report = eventually("the healthy app's alerts to clear", || async {
        let report = queue_report(&healthy, &operator).await;
        report["alerts"]
            .as_array()
            .unwrap()
            .is_empty()
            .then_some(report)
    })
    .await;
    assert!(
        report["workers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["live"] == true)
    );
}

/// id, status, name, email, phone, notes, party size.
type Row = (
    uuid::Uuid,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i32,
);

#[tokio::test]
async fn retention_erases_exactly_the_personal_data_that_is_due() {
    let app = TestApp::spawn().await;
    let long_ago = app
        .create_performance(PerformanceSpec {
            starts_in: chrono::Duration::days(-40),
            ..Default::default()
        })
        .await;
    let recently = app
        .create_performance(PerformanceSpec {
            starts_in: chrono::Duration::days(-10),
            ..Default::default()
        })
        .await;
    let upcoming = app.create_performance(PerformanceSpec::default()).await;
    let insert = |performance: uuid::Uuid,
                  email: &'static str,
                  status: &'static str,
                  age_hours: i32,
                  sent: bool| {
        let db = app.db.clone();
        async move {
            let id = uuid::Uuid::new_v4();
            sqlx::query(
                "INSERT INTO reservations (id, performance_id, name, email, phone, notes, party_size, status,
                        created_at, confirmed_at, confirmation_sent_at)
                 VALUES ($1, $2, 'Someone', $3, '+39 1', 'a note', 2, $4, now() - make_interval(hours => $5),
                        CASE WHEN $4 = 'confirmed' THEN now() - make_interval(hours => $5) END,
                        CASE WHEN $6 THEN now() - make_interval(hours => $5) END)",
            )
            .bind(id)
            .bind(performance)
            .bind(email)
            .bind(status)
            .bind(age_hours)
            .bind(sent)
            .execute(&db)
            .await
            .unwrap();
            id
        }
    };
    let due = insert(long_ago, "old@example.org", "confirmed", 24 * 50, true).await;
    let due_cancelled = insert(long_ago, "old2@example.org", "cancelled", 24 * 50, true).await;
    let kept = insert(recently, "recent@example.org", "confirmed", 24 * 12, true).await;
    let stale_pending = insert(upcoming, "stale@example.org", "pending", 48, true).await;
    let fresh_pending = insert(upcoming, "fresh@example.org", "pending", 0, false).await;
    let mut conn = app.db.acquire().await.unwrap();
    sqlx::query(
        "INSERT INTO reservation_tokens (id, reservation_id, purpose, token_hash, expires_at)
                 VALUES ($1, $2, 'confirm', $3, now() - interval '24 hours')",
    )
    .bind(uuid::Uuid::new_v4())
    .bind(stale_pending)
    .bind(common::token::RawToken::generate().hash().as_bytes())
    .execute(&mut *conn)
    .await
    .unwrap();
    let ctx = worker::JobContext::new(app.config.clone(), app.db.clone()).unwrap();

    worker::housekeeping::run_once(&ctx).await.unwrap();

    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, status, name, email, phone, notes, party_size FROM reservations",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    for (id, status, name, email, phone, notes, party_size) in rows {
        let erased = name.is_none() && email.is_none() && phone.is_none() && notes.is_none();
        let untouched = name.is_some() && email.is_some() && phone.is_some() && notes.is_some();
        assert_eq!(party_size, 2, "counts stay");
        if [due, due_cancelled, stale_pending].contains(&id) {
            assert!(erased, "{id} is due");
        } else {
            assert!([kept, fresh_pending].contains(&id));
            assert!(untouched, "{id} is not due");
        }
        if id == stale_pending {
            assert_eq!(status, "expired");
        }
        if id == fresh_pending {
            assert_eq!(status, "pending");
        }
    }
    let confirmed_seats: i64 = sqlx::query_scalar(
        "SELECT sum(party_size)::bigint FROM reservations WHERE status = 'confirmed'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(confirmed_seats, 4, "anonymous counts are kept");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let output = process::run(
        "azione-web",
        &["create-api-key", "--role", "admin", "--label", "x"],
        &[
            ("LOG_FORMAT", "json"),
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none"),
            ("SECRET_KEY", "a-secret-key-for-tests-that-is-long-enough"),
            ("PUBLIC_BASE_URL", "http://x.test"),
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let log_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with('{')).collect();
    assert!(!log_lines.is_empty(), "{stderr}");
    for line in log_lines {
        let value: Value = serde_json::from_str(line).expect("a JSON object per line");
        assert!(value["timestamp"].is_string() && value["level"].is_string());
    }
}

#[tokio::test]
async fn run_pending_jobs_sends_each_queued_e_mail_once_through_the_workers_handlers() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    for n in 0..3 {
        app.book(id, &format!("queued{n}@example.org"), 1).await;
    }
    assert_eq!(
        app.job_counts().await.get("Pending"),
        Some(&3),
        "no job runs by itself"
    );

    app.run_pending_jobs().await;
    app.run_pending_jobs().await;

    assert_eq!(app.smtp.messages().len(), 3, "each e-mail once");
    let counts = app.job_counts().await;
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        [("Done".to_owned(), 3)]
    );
    let ok = [("queue", CONFIRMATION_QUEUE), ("outcome", "ok")];
    assert_eq!(app.worker_metrics.counter("azione_jobs_total", &ok), 3);
}

#[tokio::test]
#[should_panic(expected = "jobs failed or left in the queue")]
async fn run_pending_jobs_fails_the_test_when_a_job_fails() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    app.smtp.set_mode(Mode::RejectRecipients);
    app.book(id, "refused@example.org", 1).await;

    app.run_pending_jobs().await;
}
