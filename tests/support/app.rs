//! `TestApp`: the real web server and worker, in process, against a fresh database and a
//! loopback SMTP server, with request helpers named after the calls tests make.

use std::{net::SocketAddr, time::Duration};

use common::{auth::Role, config::Config, jobs::QUEUES};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::{net::TcpListener, sync::watch};
use uuid::Uuid;

use crate::{db::TestDatabase, eventually::eventually, smtp::SmtpServer, staff::StaffClient};

pub use crate::eventually::PATIENCE;

/// Who runs the queued jobs of a `TestApp`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Jobs {
    /// The real worker, in the background.
    Worker,
    /// The test, through `run_pending_jobs`; the mail helpers call it before they look.
    Test,
    /// Nobody until the test starts a worker.
    Waiting,
}

/// A running application.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub db: PgPool,
    pub smtp: SmtpServer,
    pub config: Config,
    admin_key: String,
    /// The web process's metrics registry.
    pub web_metrics: std::sync::Arc<common::metrics::Metrics>,
    /// The worker's metrics registry and health listener.
    pub worker_metrics: std::sync::Arc<common::metrics::Metrics>,
    pub worker_addr: SocketAddr,
    jobs: worker::JobContext,
    runs_jobs: Jobs,
    stop: watch::Sender<bool>,
    _database: TestDatabase,
}

/// A minimal performance to create; the rest takes the contract's defaults.
pub struct PerformanceSpec {
    pub capacity: i32,
    pub booking_status: &'static str,
    pub starts_in: chrono::Duration,
    pub extra: Value,
}

impl Default for PerformanceSpec {
    fn default() -> Self {
        PerformanceSpec {
            capacity: 50,
            booking_status: "open",
            starts_in: chrono::Duration::days(7),
            extra: json!({}),
        }
    }
}

/// What a visitor holds after confirming: the tokens from the e-mails.
pub struct Ticket {
    pub ticket: String,
    pub cancel: String,
    pub confirmation: String,
    pub mail: crate::smtp::ReceivedMail,
}

impl TestApp {
    /// Web and worker with the test configuration.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// Web and worker with a configuration adjusted by the test.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::start(adjust, Jobs::Worker).await
    }

    /// The web server, with no background worker: queued jobs run when the test calls
    /// [`TestApp::run_pending_jobs`] (the mail helpers call it themselves).
    pub async fn spawn_without_worker() -> TestApp {
        TestApp::start(|_| {}, Jobs::Test).await
    }

    /// The web server only: jobs wait in the queue until a worker the test starts takes them.
    pub async fn spawn_web_only(adjust: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::start(adjust, Jobs::Waiting).await
    }

    async fn start(adjust: impl FnOnce(&mut Config), runs_jobs: Jobs) -> TestApp {
        let database = TestDatabase::create().await;
        let smtp = SmtpServer::start().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind web");
        let addr = listener.local_addr().expect("web address");
        let mut config = Config::for_tests(&database.url, &format!("http://{addr}"));
        config.mail = Some(common::config::MailConfig {
            smtp_url: smtp.url().into(),
            from: "AzioneLab <tickets@azionelab.test>".to_owned(),
            send_timeout: Duration::from_secs(5),
        });
        adjust(&mut config);
        let (stop, stopped) = watch::channel(false);
        let until_stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let state = web::AppState::new(database.pool.clone(), config.clone());
        let web_metrics = state.metrics.clone();
        tokio::spawn(web::serve(listener, state, until_stopped(stopped.clone())));
        let jobs =
            worker::JobContext::new(config.clone(), database.pool.clone()).expect("job context");
        let worker_metrics = jobs.metrics.clone();
        let worker_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind worker");
        let worker_addr = worker_listener.local_addr().expect("worker address");
        if runs_jobs == Jobs::Worker {
            let stopped = stopped.clone();
            let jobs = jobs.clone();
            tokio::spawn(async move {
                if let Err(e) =
                    worker::run_on(jobs, Some(worker_listener), until_stopped(stopped)).await
                {
                    eprintln!("worker stopped with an error: {e:#}");
                }
            });
        }
        let mut conn = database.pool.acquire().await.expect("connection");
        let (_, key) = common::auth::create_api_key(&mut conn, Role::Admin, "tests")
            .await
            .expect("admin key");
        TestApp {
            addr,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            db: database.pool.clone(),
            smtp,
            config,
            admin_key: key.expose().to_owned(),
            web_metrics,
            worker_metrics,
            worker_addr,
            jobs,
            runs_jobs,
            stop,
            _database: database,
        }
    }

    /// Starts one more worker (its own name, same database), as a second process would.
    pub fn spawn_extra_worker(&self) {
        let config = self.config.clone();
        let pool = self.db.clone();
        let mut stopped = self.stop.subscribe();
        tokio::spawn(async move {
            let until_stopped = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = worker::run(config, pool, until_stopped).await {
                eprintln!("extra worker stopped with an error: {e:#}");
            }
        });
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A new API key with this role.
    pub async fn api_key(&self, role: Role) -> String {
        let mut conn = self.db.acquire().await.expect("connection");
        let (_, key) = common::auth::create_api_key(&mut conn, role, "test key")
            .await
            .expect("api key");
        key.expose().to_owned()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// The text of the ticket page, `/t/{ticket}`.
    pub async fn ticket_page(&self, ticket: &str) -> String {
        self.get(&format!("/t/{ticket}"))
            .await
            .text()
            .await
            .expect("the ticket page")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    /// A JSON request authenticated with the admin key.
    pub async fn admin_request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.admin_key);
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send().await.expect("admin request")
    }

    /// Creates a room and a performance through the admin API; returns the performance id.
    pub async fn create_performance(&self, spec: PerformanceSpec) -> Uuid {
        let room = self
            .admin_request(
                reqwest::Method::POST,
                "/api/v1/admin/rooms",
                Some(&json!({ "name": format!("Room {}", Uuid::new_v4()), "capacity": spec.capacity })),
            )
            .await;
        assert_eq!(room.status(), 201, "create room");
        let room: Value = room.json().await.expect("room json");
        let mut body = json!({
            "title": "La locandiera",
            "room_id": room["id"],
            "starts_at": (chrono::Utc::now() + spec.starts_in).to_rfc3339(),
            "booking_status": spec.booking_status,
        });
        if let Value::Object(extra) = spec.extra {
            body.as_object_mut().expect("object").extend(extra);
        }
        let performance = self
            .admin_request(
                reqwest::Method::POST,
                "/api/v1/admin/performances",
                Some(&body),
            )
            .await;
        assert_eq!(performance.status(), 201, "create performance");
        let performance: Value = performance.json().await.expect("performance json");
        performance["id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid")
    }

    /// `POST /api/v1/performances/{id}/reservations`.
    pub async fn post_reservation(&self, performance: Uuid, body: &Value) -> reqwest::Response {
        self.post_json(
            &format!("/api/v1/performances/{performance}/reservations"),
            body,
        )
        .await
    }

    /// Books `party_size` seats for `email` and asserts the booking was accepted.
    pub async fn book(&self, performance: Uuid, email: &str, party_size: i64) {
        let response = self
            .post_reservation(
                performance,
                &json!({ "name": "Mirandolina", "email": email, "party_size": party_size }),
            )
            .await;
        assert_eq!(response.status(), 202, "booking for {email} accepted");
    }

    /// `POST /api/v1/reservations/confirm`.
    pub async fn confirm(&self, token: &str) -> reqwest::Response {
        self.post_json("/api/v1/reservations/confirm", &json!({ "token": token }))
            .await
    }

    /// Waits for the confirmation e-mail to `email` and returns the token in its link.
    pub async fn confirmation_token(&self, email: &str) -> String {
        let mail = self.wait_for_mail(email, 1).await.remove(0);
        mail.token_after("/reservations/confirm?token=")
            .expect("confirmation link in the e-mail")
    }

    /// Books, confirms, and waits for the ticket e-mail; returns it with its ticket and cancel tokens.
    pub async fn ticket_for(&self, performance: Uuid, email: &str, party_size: i64) -> Ticket {
        self.book(performance, email, party_size).await;
        let token = self.confirmation_token(email).await;
        assert_eq!(self.confirm(&token).await.status(), 200, "confirm {email}");
        let mail = self.wait_for_mail(email, 2).await.remove(1);
        Ticket {
            ticket: mail.token_after("/t/").expect("ticket link"),
            cancel: mail
                .token_after("/reservations/cancel?token=")
                .expect("cancel link"),
            confirmation: token,
            mail,
        }
    }

    /// `POST /api/v1/checkin` with a bearer key.
    pub async fn check_in(&self, key: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/checkin"))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("check-in")
    }

    /// Creates a staff user with this role; returns their e-mail and password.
    pub async fn create_staff(&self, role: Role) -> (String, String) {
        let email = format!("{}-{}@staff.test", role.as_str(), Uuid::new_v4().simple());
        let password = "a long enough password".to_owned();
        let hash = common::auth::hash_password(&password).expect("hash");
        let mut conn = self.db.acquire().await.expect("connection");
        common::auth::insert_staff_user(&mut conn, &email, role, &hash)
            .await
            .expect("staff user")
            .expect("a new address");
        (email, password)
    }

    /// Creates a staff user with this role and logs them in through the form.
    pub async fn log_in(&self, role: Role) -> StaffClient {
        let (email, password) = self.create_staff(role).await;
        StaffClient::log_in(&self.url(""), role, &email, &password).await
    }

    /// Runs the queued jobs to completion through the worker's handlers, in this task, then
    /// asserts that none failed and none is left waiting. Needs an app without a background
    /// worker ([`TestApp::spawn_without_worker`] or [`TestApp::spawn_web_only`]).
    pub async fn run_pending_jobs(&self) {
        assert!(
            self.runs_jobs != Jobs::Worker,
            "run_pending_jobs races the background worker: spawn the app without one"
        );
        worker::run_pending_jobs(&self.jobs)
            .await
            .expect("run pending jobs");
        let counts = self.job_counts().await;
        let unfinished: Vec<_> = counts.iter().filter(|(s, _)| *s != "Done").collect();
        assert!(
            unfinished.is_empty(),
            "jobs failed or left in the queue: {unfinished:?}"
        );
    }

    /// Waits until `count` messages have arrived for `email`.
    /// With an app that runs jobs in the test, runs them first.
    pub async fn wait_for_mail(&self, email: &str, count: usize) -> Vec<crate::smtp::ReceivedMail> {
        if self.runs_jobs == Jobs::Test {
            self.run_pending_jobs().await;
        }
        eventually(&format!("{count} e-mail(s) to {email}"), || async move {
            Some(self.smtp.messages_to(email)).filter(|m| m.len() >= count)
        })
        .await
    }

    /// Waits until no job is waiting or running, then returns the count of jobs by status.
    /// With an app that runs jobs in the test, runs them first.
    pub async fn wait_for_jobs(&self) -> std::collections::BTreeMap<String, i64> {
        if self.runs_jobs == Jobs::Test {
            self.run_pending_jobs().await;
        }
        eventually("no job waiting or running", || async move {
            let counts = self.job_counts().await;
            let busy: i64 = ["Pending", "Queued", "Running"]
                .iter()
                .filter_map(|s| counts.get(*s))
                .sum();
            (busy == 0).then_some(counts)
        })
        .await
    }

    /// Jobs of our queues by status; jobs scheduled for later (reminders, offer expiries) are
    /// not counted until they are due.
    pub async fn job_counts(&self) -> std::collections::BTreeMap<String, i64> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, count(*) FROM apalis.jobs
              WHERE job_type = ANY($1) AND NOT (status = 'Pending' AND run_at > now())
              GROUP BY status",
        )
        .bind(QUEUES.as_slice())
        .fetch_all(&self.db)
        .await
        .expect("job counts");
        rows.into_iter().collect()
    }

    /// Number of reservations and jobs, to show a refused request changed nothing.
    pub async fn row_counts(&self) -> (i64, i64) {
        sqlx::query_as(
            "SELECT (SELECT count(*) FROM reservations), (SELECT count(*) FROM apalis.jobs)",
        )
        .fetch_one(&self.db)
        .await
        .expect("row counts")
    }

    /// The public seat count of a performance.
    pub async fn seats_available(&self, performance: Uuid) -> i64 {
        let body: Value = self
            .get(&format!("/api/v1/performances/{performance}"))
            .await
            .json()
            .await
            .expect("performance json");
        body["seats_available"].as_i64().expect("seats_available")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
