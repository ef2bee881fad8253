//! Fault tests: the real `azione-web` and `azione-worker` binaries against a private PostgreSQL
//! server that the test restarts, stops and starts under load, with a worker killed again and
//! again, a web process killed mid-load, and an SMTP server that comes and goes. Each ends by
//! showing the processes alive and nothing lost: every accepted booking has exactly one
//! reservation, its job and at least one confirmation e-mail, and no performance is oversold.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use common::auth::Role;
use serde_json::{Value, json};
use sqlx::PgPool;
use tests::{
    pg::PrivatePostgres,
    process::{self, Running},
    smtp::SmtpServer,
};
use uuid::Uuid;

/// Every request made while the database is away must answer within this.
const OUTAGE_ANSWER_WITHIN: Duration = Duration::from_secs(2);
/// How long the tests wait for a backlog to reach the mailbox.
const PATIENCE: Duration = Duration::from_secs(90);

/// The private server, the two real processes and a loopback SMTP server.
struct Rig {
    pg: Arc<PrivatePostgres>,
    db: PgPool,
    smtp: SmtpServer,
    web: Option<Running>,
    web_addr: SocketAddr,
    worker: Option<Running>,
    worker_addr: SocketAddr,
    key: String,
    client: reqwest::Client,
    extra_env: Vec<(&'static str, String)>,
}

impl Rig {
    async fn start(with_worker: bool, extra_env: &[(&'static str, &str)]) -> Rig {
        let pg = Arc::new(PrivatePostgres::start());
        let db = pg.migrated_pool().await;
        let mut conn = db.acquire().await.expect("connection");
        let (_, key) = common::auth::create_api_key(&mut conn, Role::Admin, "fault tests")
            .await
            .expect("admin key");
        drop(conn);
        let mut rig = Rig {
            pg,
            db,
            smtp: SmtpServer::start().await,
            web: None,
            web_addr: process::free_port(),
            worker: None,
            worker_addr: process::free_port(),
            key: key.expose().to_owned(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
            extra_env: extra_env.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        };
        rig.start_web().await;
        if with_worker {
            rig.start_worker().await;
        }
        rig
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("DATABASE_URL", self.pg.url()),
            (
                "SECRET_KEY",
                "a-secret-key-for-tests-that-is-long-enough".to_owned(),
            ),
            ("PUBLIC_BASE_URL", format!("http://{}", self.web_addr)),
            ("BIND_ADDR", self.web_addr.to_string()),
            ("SMTP_URL", self.smtp.url()),
            ("MAIL_FROM", "tickets@example.org".to_owned()),
            ("WORKER_BIND_ADDR", self.worker_addr.to_string()),
            ("WORKER_HEARTBEAT_SECONDS", "1".to_owned()),
            ("JOB_POLL_INTERVAL_MS", "200".to_owned()),
            ("JOB_RETRY_MIN_DELAY_MS", "100".to_owned()),
            ("JOB_RETRY_MAX_DELAY_MS", "1000".to_owned()),
            ("SMTP_TIMEOUT_SECONDS", "5".to_owned()),
            ("RATE_LIMIT_PER_MINUTE", "0".to_owned()),
            ("DATABASE_MAX_CONNECTIONS", "20".to_owned()),
        ];
        for (k, v) in &self.extra_env {
            env.retain(|(name, _)| name != k);
            env.push((k, v.clone()));
        }
        env
    }

    fn spawn(&self, binary: &str) -> Running {
        let env = self.env();
        let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Running::spawn(binary, &[], &vars)
    }

    async fn start_web(&mut self) {
        self.web = Some(self.spawn("azione-web"));
        process::wait_for_port(self.web_addr).await;
    }

    async fn start_worker(&mut self) {
        self.worker = Some(self.spawn("azione-worker"));
        process::wait_for_port(self.worker_addr).await;
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.web_addr, path)
    }

    async fn admin_post(&self, path: &str, body: Value) -> Value {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .expect("admin request");
        assert_eq!(response.status(), 201, "{path}");
        response.json().await.expect("json")
    }

    async fn create_performance(&self, capacity: i32) -> Uuid {
        let room = self
            .admin_post(
                "/api/v1/admin/rooms",
                json!({ "name": "Sala prove", "capacity": capacity }),
            )
            .await;
        let performance = self
            .admin_post(
                "/api/v1/admin/performances",
                json!({
                    "title": "Il servitore di due padroni",
                    "room_id": room["id"],
                    "starts_at": (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339(),
                    "booking_status": "open",
                    "max_party_size": 10,
                }),
            )
            .await;
        performance["id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid")
    }

    async fn book(
        &self,
        performance: Uuid,
        email: &str,
    ) -> Result<reqwest::Response, reqwest::Error> {
        self.client
            .post(self.url(&format!("/api/v1/performances/{performance}/reservations")))
            .json(&json!({ "name": "Arlecchino", "email": email, "party_size": 1 }))
            .send()
            .await
    }

    /// Waits until every address has at least one e-mail.
    async fn wait_for_mail_to_all(&self, emails: &[String]) {
        let what = format!(
            "an e-mail to each of the {} accepted bookings",
            emails.len()
        );
        tests::eventually_within(PATIENCE, &what, || async {
            let mailed: std::collections::HashSet<String> = self
                .smtp
                .messages()
                .into_iter()
                .flat_map(|m| m.to)
                .map(|t| t.to_lowercase())
                .collect();
            emails.iter().all(|e| mailed.contains(e)).then_some(())
        })
        .await;
    }

    /// Nothing lost: one reservation per accepted booking, no reservation without its job, no
    /// performance oversold.
    async fn assert_nothing_lost(&self, accepted: &[String]) {
        let counts: Vec<(String, i64)> = sqlx::query_as(
            "SELECT email, count(*) FROM reservations WHERE email = ANY($1) GROUP BY email",
        )
        .bind(accepted)
        .fetch_all(&self.db)
        .await
        .expect("reservations of accepted bookings");
        let counts: BTreeMap<String, i64> = counts.into_iter().collect();
        for email in accepted {
            assert_eq!(counts.get(email), Some(&1), "reservations for {email}");
        }
        let orphans: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM reservations r
              WHERE NOT EXISTS (
                    SELECT 1 FROM apalis.jobs j
                     WHERE j.job_type = $1
                       AND convert_from(j.job, 'UTF8')::jsonb ->> 'reservation_id' = r.id::text)",
        )
        .bind(common::jobs::CONFIRMATION_QUEUE)
        .fetch_one(&self.db)
        .await
        .expect("reservations without a job");
        assert_eq!(orphans, 0, "reservations without their confirmation job");
        let oversold: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM performances p JOIN rooms rm ON rm.id = p.room_id
              WHERE (SELECT COALESCE(sum(party_size), 0) FROM reservations r
                      WHERE r.performance_id = p.id AND r.status = 'confirmed')
                    > rm.capacity + p.additional_seats - p.manually_occupied_seats",
        )
        .fetch_one(&self.db)
        .await
        .expect("oversold performances");
        assert_eq!(oversold, 0, "oversold performances");
    }

    fn assert_alive(&mut self) {
        for (name, process) in [("web", &mut self.web), ("worker", &mut self.worker)] {
            if let Some(p) = process {
                assert!(p.is_alive(), "the {name} process exited:\n{}", p.output());
            }
        }
    }

    async fn restart_database(&self) {
        let pg = self.pg.clone();
        tokio::task::spawn_blocking(move || pg.restart())
            .await
            .expect("restart");
    }
}

/// Books one seat per request from `clients` tasks until `stop` is set; returns the addresses
/// whose booking was accepted, and checks every answer: 202, or 503 with `Retry-After`, each
/// within [`OUTAGE_ANSWER_WITHIN`] (`tolerate_refused`: the web process itself may be away).
struct Load {
    accepted: Arc<Mutex<Vec<String>>>,
    unavailable: Arc<Mutex<usize>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    tasks: tokio::task::JoinSet<()>,
}

impl Load {
    fn start(rig: &Rig, performance: Uuid, clients: usize, tolerate_refused: bool) -> Load {
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let unavailable = Arc::new(Mutex::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        for client in 0..clients {
            let (accepted, unavailable, stop) =
                (accepted.clone(), unavailable.clone(), stop.clone());
            let url = rig.url(&format!("/api/v1/performances/{performance}/reservations"));
            let http = rig.client.clone();
            tasks.spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let email =
                        format!("load-{client}-{n}-{}@example.org", Uuid::new_v4().simple());
                    let started = Instant::now();
                    let sent = http
                        .post(&url)
                        .json(&json!({ "name": "Pantalone", "email": email, "party_size": 1 }))
                        .send()
                        .await;
                    let took = started.elapsed();
                    match sent {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            assert!(
                                took < OUTAGE_ANSWER_WITHIN,
                                "a booking took {took:?} ({status})"
                            );
                            match status {
                                202 => accepted.lock().unwrap().push(email),
                                503 => {
                                    assert!(
                                        response.headers().contains_key("retry-after"),
                                        "503 without Retry-After"
                                    );
                                    let body: Value = response.json().await.expect("error body");
                                    assert_eq!(body["error"], "service_unavailable");
                                    *unavailable.lock().unwrap() += 1;
                                }
                                other => panic!("a booking answered {other}"),
                            }
                        }
                        Err(e) => assert!(tolerate_refused, "booking request failed: {e}"),
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        }
        Load {
            accepted,
            unavailable,
            stop,
            tasks,
        }
    }

    /// Stops the clients; returns the accepted addresses and how many answers were 503.
    async fn finish(mut self) -> (Vec<String>, usize) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        while let Some(done) = self.tasks.join_next().await {
            done.expect("a load client failed");
        }
        let accepted = self.accepted.lock().unwrap().clone();
        let unavailable = *self.unavailable.lock().unwrap();
        (accepted, unavailable)
    }
}

/// The backlog whose drain rates are compared before and after a restart.
const BACKLOG: usize = 600;

/// Books `n` seats while the worker is paused (SIGSTOP), optionally restarts the database,
/// resumes the worker and measures how fast it drains: e-mails per second from the first to
/// the last, and the time from resuming to the first.
async fn drain_backlog(rig: &Rig, performance: Uuid, n: usize, restart: bool) -> (f64, Duration) {
    let worker = rig.worker.as_ref().expect("worker").pid();
    process::signal(worker, "STOP");
    let mut emails = Vec::new();
    for i in 0..n {
        let email = format!("backlog-{i}-{}@example.org", Uuid::new_v4().simple());
        let response = rig.book(performance, &email).await.expect("book");
        assert_eq!(response.status(), 202);
        emails.push(email);
    }
    if restart {
        rig.restart_database().await;
    }
    let before = rig.smtp.message_count();
    let resumed = Instant::now();
    process::signal(worker, "CONT");
    let mut first = None;
    let deadline = resumed + PATIENCE;
    loop {
        let sent = rig.smtp.message_count() - before;
        if sent >= 1 && first.is_none() {
            first = Some(Instant::now());
        }
        if sent >= n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the backlog did not drain: {sent} of {n}; the worker said:\n{}",
            rig.worker.as_ref().map(|w| w.output()).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let first = first.expect("first e-mail");
    rig.wait_for_mail_to_all(&emails).await;
    let rate = (n - 1) as f64 / first.elapsed().as_secs_f64();
    (rate, first - resumed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_under_booking_load_loses_nothing_and_the_backlog_drains_as_fast_as_before()
 {
    let mut rig = Rig::start(true, &[]).await;
    let performance = rig.create_performance(100_000).await;

    let load = Load::start(&rig, performance, 4, false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    rig.restart_database().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (accepted, _) = load.finish().await;
    assert!(!accepted.is_empty());
    rig.wait_for_mail_to_all(&accepted).await;

    // A backlog that takes over a second to drain: after a restart every pooled connection is
    // new and prepares its statements again (about 0.1–0.2 s in all), which over 150 e-mails
    // (0.4 s) weighed as much as the rate itself; over 600 the rates compare steady states.
    let (normal_rate, _) = drain_backlog(&rig, performance, BACKLOG, false).await;
    let (after_restart_rate, to_first) = drain_backlog(&rig, performance, BACKLOG, true).await;
    assert!(
        to_first < Duration::from_secs(5),
        "the worker took {to_first:?} to deliver after the restart"
    );
    assert!(
        after_restart_rate >= 0.5 * normal_rate,
        "drain rate after a restart {after_restart_rate:.0}/s against {normal_rate:.0}/s before"
    );
    rig.assert_alive();
    rig.assert_nothing_lost(&accepted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_is_stopped_every_request_answers_503_quickly_and_the_worker_waits_it_out()
 {
    let mut rig = Rig::start(true, &[]).await;
    let performance = rig.create_performance(100_000).await;
    let load = Load::start(&rig, performance, 4, false);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let pg = rig.pg.clone();
    tokio::task::spawn_blocking(move || pg.stop())
        .await
        .expect("stop");
    let outage = Instant::now();
    // Let the processes notice, then look at every kind of answer.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let timed = |path: &'static str, accept_html: bool| {
        let request = rig.client.get(rig.url(path));
        let request = if accept_html {
            request
                .header("accept", "text/html")
                .header("accept-language", "en")
        } else {
            request
        };
        async move {
            let started = Instant::now();
            let response = request.send().await.expect(path);
            let took = started.elapsed();
            assert!(took < OUTAGE_ANSWER_WITHIN, "{path} took {took:?}");
            response
        }
    };
    assert_eq!(timed("/healthz", false).await.status(), 200);
    assert_eq!(timed("/readyz", false).await.status(), 503);
    let catalogue = timed("/api/v1/performances", false).await;
    assert_eq!(catalogue.status(), 503);
    assert!(catalogue.headers().contains_key("retry-after"));
    let page = timed("/", true).await;
    assert_eq!(page.status(), 503);
    assert!(page.headers().contains_key("retry-after"));
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "an HTML page for browsers"
    );
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Temporarily unavailable")
    );
    let worker_ready = reqwest::get(format!("http://{}/readyz", rig.worker_addr))
        .await
        .expect("worker readyz");
    assert_eq!(worker_ready.status(), 503);

    // The rest of a 10 s outage under load, then the database comes back.
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(outage.elapsed())).await;
    rig.assert_alive();
    let pg = rig.pg.clone();
    tokio::task::spawn_blocking(move || pg.start_again())
        .await
        .expect("start");
    let back = Instant::now();
    let email = format!("after-{}@example.org", Uuid::new_v4().simple());
    loop {
        let response = rig.book(performance, &email).await.expect("book");
        if response.status() == 202 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "the web did not recover"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    while rig.smtp.messages_to(&email).is_empty() {
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "no e-mail within 5 s of the database coming back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (mut accepted, unavailable) = load.finish().await;
    assert!(unavailable > 0, "the load saw the outage");
    accepted.push(email);
    rig.wait_for_mail_to_all(&accepted).await;
    let worker_ready = reqwest::get(format!("http://{}/readyz", rig.worker_addr))
        .await
        .expect("worker readyz");
    assert_eq!(
        worker_ready.status(),
        200,
        "{}",
        rig.worker.as_ref().expect("worker").output()
    );
    rig.assert_alive();
    rig.assert_nothing_lost(&accepted).await;

    // The worker said once that the database was away and once that it was back.
    let log = rig
        .worker
        .take()
        .expect("worker")
        .terminate(Duration::from_secs(40))
        .1;
    assert_eq!(log.matches("database unreachable").count(), 1, "{log}");
    assert_eq!(log.matches("database reachable again").count(), 1, "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_five_times_while_a_backlog_drains_loses_no_email() {
    let mut rig = Rig::start(false, &[("JOB_MAX_ATTEMPTS", "20")]).await;
    let performance = rig.create_performance(100_000).await;
    let mut accepted = Vec::new();
    for i in 0..200 {
        let email = format!("kill-{i}@example.org");
        assert_eq!(
            rig.book(performance, &email).await.expect("book").status(),
            202
        );
        accepted.push(email);
    }
    for _ in 0..5 {
        rig.start_worker().await;
        let before = rig.smtp.message_count();
        tests::eventually_within(PATIENCE, "the worker to send ten e-mails", || async {
            let sent = rig.smtp.message_count();
            (sent >= before + 10 || sent >= 200).then_some(())
        })
        .await;
        let worker = rig.worker.take().expect("worker");
        process::signal(worker.pid(), "KILL");
        drop(worker);
    }
    rig.start_worker().await;
    rig.wait_for_mail_to_all(&accepted).await;
    let sent = rig.smtp.message_count();
    assert!(
        sent <= 200 + 5 * 16,
        "{sent} e-mails for 200 bookings: more duplicates than jobs in flight at the kills"
    );
    rig.assert_alive();
    rig.assert_nothing_lost(&accepted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_process_killed_under_load_leaves_no_booking_half_written() {
    let mut rig = Rig::start(true, &[]).await;
    let performance = rig.create_performance(100_000).await;
    let load = Load::start(&rig, performance, 4, true);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let web = rig.web.take().expect("web");
    process::signal(web.pid(), "KILL");
    drop(web);
    tokio::time::sleep(Duration::from_millis(500)).await;
    rig.start_web().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (accepted, _) = load.finish().await;
    // Every reservation, acknowledged or not, has its job and gets its e-mail.
    let all: Vec<String> = sqlx::query_scalar("SELECT email FROM reservations")
        .fetch_all(&rig.db)
        .await
        .expect("reservations");
    rig.wait_for_mail_to_all(&all).await;
    rig.assert_alive();
    rig.assert_nothing_lost(&accepted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_server_that_comes_and_goes_every_second_and_a_half_loses_no_email() {
    let mut rig = Rig::start(true, &[("JOB_MAX_ATTEMPTS", "30")]).await;
    let performance = rig.create_performance(100_000).await;
    let load = Load::start(&rig, performance, 2, false);
    for round in 0..6 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        if round % 2 == 0 {
            rig.smtp.stop();
        } else {
            rig.smtp.restart().await;
        }
    }
    // The last round left it up.
    let (accepted, _) = load.finish().await;
    rig.wait_for_mail_to_all(&accepted).await;
    rig.assert_alive();
    rig.assert_nothing_lost(&accepted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_confirmations_for_forty_seats_across_a_database_restart_confirm_exactly_forty() {
    let mut rig = Rig::start(true, &[]).await;
    let performance = rig.create_performance(40).await;
    let mut emails = Vec::new();
    for i in 0..100 {
        let email = format!("race-{i}@example.org");
        assert_eq!(
            rig.book(performance, &email).await.expect("book").status(),
            202
        );
        emails.push(email);
    }
    rig.wait_for_mail_to_all(&emails).await;
    let tokens: Vec<String> = emails
        .iter()
        .map(|e| {
            rig.smtp.messages_to(e)[0]
                .token_after("/reservations/confirm?token=")
                .expect("confirmation link")
        })
        .collect();

    let mut confirmations = tokio::task::JoinSet::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let http = rig.client.clone();
        let url = rig.url("/api/v1/reservations/confirm");
        confirmations.spawn(async move {
            // Spread over two seconds, so that some meet the restart.
            tokio::time::sleep(Duration::from_millis(20 * i as u64)).await;
            let sent = Instant::now();
            let deadline = sent + Duration::from_secs(60);
            loop {
                assert!(Instant::now() < deadline, "no final answer");
                match http
                    .post(&url)
                    .json(&json!({ "token": token }))
                    .send()
                    .await
                {
                    // Unavailable (a 503, or the connection refused): asked again.
                    Ok(r) if r.status() == 503 => {}
                    Ok(r) => return (r.status().as_u16(), sent, Instant::now()),
                    Err(_) => {}
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let down = Instant::now();
    rig.restart_database().await;
    let up = Instant::now();
    let mut outcomes: BTreeMap<u16, usize> = BTreeMap::new();
    let mut met_the_restart = 0;
    while let Some(done) = confirmations.join_next().await {
        let (status, sent, answered) = done.expect("confirmation task");
        *outcomes.entry(status).or_default() += 1;
        // Asked before the database was back and answered after it went down. (Whether such a
        // client saw a 503 depends on how long the restart took against the pool's wait, so
        // the overlap, not a 503, shows that the test exercised the restart.)
        met_the_restart += usize::from(sent < up && answered > down);
    }
    assert!(met_the_restart > 0, "no confirmation met the restart");
    assert_eq!(outcomes, BTreeMap::from([(200, 40), (409, 60)]));
    let confirmed: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(party_size), 0)::bigint FROM reservations
          WHERE performance_id = $1 AND status = 'confirmed'",
    )
    .bind(performance)
    .fetch_one(&rig.db)
    .await
    .expect("confirmed seats");
    assert_eq!(confirmed, 40);
    let public: Value = rig
        .client
        .get(rig.url(&format!("/api/v1/performances/{performance}")))
        .send()
        .await
        .expect("performance")
        .json()
        .await
        .expect("json");
    assert_eq!(public["seats_available"], 0);
    rig.assert_alive();
    rig.assert_nothing_lost(&emails).await;
}
