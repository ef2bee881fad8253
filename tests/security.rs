//! Findings of the security review, each shown against the running app: bounded metrics
//! labels, the login lockout, staff account changes, redirects after login, CSRF, password
//! hashing off the request threads, the per-address booking caps, strict forms, caching,
//! client addresses and the admin landing page.

use common::auth::Role;
use futures::StreamExt;
use reqwest::Method;
use tests::{StaffClient, TestApp};

#[tokio::test]
async fn odd_http_methods_do_not_grow_the_metrics() {
    let app = TestApp::spawn_without_worker().await;
    let methods: Vec<Method> = (0..3000)
        .map(|_| {
            let token = uuid::Uuid::new_v4().simple().to_string().repeat(6);
            Method::from_bytes(token.as_bytes()).unwrap()
        })
        .collect();

    let statuses: Vec<u16> = futures::stream::iter(methods.into_iter().enumerate())
        .map(|(n, method)| {
            let path = if n % 2 == 0 {
                "/healthz"
            } else {
                "/no/such/page"
            };
            let request = app.client.request(method, app.url(path)).send();
            async move { request.await.unwrap().status().as_u16() }
        })
        .buffer_unordered(16)
        .collect()
        .await;

    assert!(
        statuses.iter().all(|s| *s == 405 || *s == 404),
        "{statuses:?}"
    );
    let text = app
        .admin_request(Method::GET, "/metrics", None)
        .await
        .text()
        .await
        .unwrap();
    let mut labels: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("azione_http_requests_total{"))
        .filter_map(|l| l.split("method=\"").nth(1)?.split('"').next())
        .collect();
    labels.sort_unstable();
    labels.dedup();
    assert!(labels.contains(&"other"), "{labels:?}");
    for label in &labels {
        assert!(
            ["GET", "HEAD", "POST", "PATCH", "DELETE", "other"].contains(label),
            "method label {label:.40}"
        );
    }
    assert!(text.len() < 64 * 1024, "/metrics is {} bytes", text.len());
}

async fn log_in(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/admin/login"))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_locked_account_stays_locked_under_any_spelling_of_its_address() {
    let app = TestApp::spawn_with(|c| c.rate_limit.per_minute = 0).await;
    let (email, password) = app.create_staff(Role::Admin).await;
    assert!(email.starts_with("admin-"));
    for _ in 0..5 {
        assert_eq!(log_in(&app, &email, "wrong password").await.status(), 401);
    }

    // PostgreSQL's lower() folds 'İ' to 'i', so this spelling finds the same account.
    let dotted = email.replacen("admin", "admİn", 1);
    let response = log_in(&app, &dotted, &password).await;

    assert_eq!(response.status(), 429, "locked under the dotted spelling");
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(
        log_in(&app, &email.to_uppercase(), &password)
            .await
            .status(),
        429
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_passwords_get_no_more_guesses_than_the_limit() {
    let app = TestApp::spawn_with(|c| c.rate_limit.per_minute = 0).await;
    let (email, password) = app.create_staff(Role::Editor).await;

    let statuses: Vec<u16> = futures::future::join_all((0..40).map(|n| {
        let guess = format!("wrong guess {n}");
        let email = email.clone();
        let app = &app;
        async move { log_in(app, &email, &guess).await.status().as_u16() }
    }))
    .await;

    let evaluated = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        evaluated <= 5,
        "{evaluated} guesses evaluated: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert_eq!(log_in(&app, &email, &password).await.status(), 429);
}

#[tokio::test]
async fn the_lockout_holds_in_another_web_process_on_the_same_database() {
    let app = TestApp::spawn_with(|c| c.rate_limit.per_minute = 0).await;
    let (email, password) = app.create_staff(Role::Editor).await;
    for _ in 0..5 {
        assert_eq!(log_in(&app, &email, "wrong password").await.status(), 401);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = format!("http://{}", listener.local_addr().unwrap());
    let state = web::AppState::new(app.db.clone(), app.config.clone());
    tokio::spawn(web::serve(listener, state, std::future::pending()));

    let response = app
        .client
        .post(format!("{other}/admin/login"))
        .form(&[("email", email.as_str()), ("password", password.as_str())])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 429);
}

#[tokio::test]
async fn healthz_answers_while_48_logins_are_hashing_passwords() {
    // One runtime thread serves the app and the test: a password hash computed on it would
    // hold up every other request until it is done.
    let app = TestApp::spawn_with(|c| c.rate_limit.per_minute = 0).await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let logins: Vec<_> = (0..48)
        .map(|n| {
            let request = app
                .client
                .post(app.url("/admin/login"))
                .form(&[
                    ("email", format!("nobody-{n}@staff.test")),
                    ("password", "a guess".to_owned()),
                ])
                .send();
            let done = done.clone();
            tokio::spawn(async move {
                let status = request.await.unwrap().status();
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                status
            })
        })
        .collect();
    // Every login has been counted, so each is at its password check or past it.
    tests::eventually("all 48 logins counted", || async {
        let counted: i64 = sqlx::query_scalar("SELECT count(*) FROM login_failures")
            .fetch_one(&app.db)
            .await
            .unwrap();
        (counted == 48).then_some(())
    })
    .await;

    let health = app.get("/healthz").await;
    let finished_logins = done.load(std::sync::atomic::Ordering::SeqCst);

    assert_eq!(health.status(), 200);
    assert_eq!(finished_logins, 0, "/healthz waited for password hashing");
    for login in logins {
        assert_eq!(login.await.unwrap(), 401);
    }
}

async fn staff_id(app: &TestApp, email: &str) -> uuid::Uuid {
    sqlx::query_scalar("SELECT id FROM staff_users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id")
        .fetch_all(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn creating_staff_never_changes_an_existing_account() {
    let app = TestApp::spawn_without_worker().await;
    let (email, password) = app.create_staff(Role::Door).await;
    let id = staff_id(&app, &email).await;
    let door = StaffClient::log_in(&app.url(""), Role::Door, &email, &password).await;
    sqlx::query("UPDATE staff_users SET disabled_at = now() WHERE id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();

    let again = app
        .admin_request(
            Method::POST,
            "/api/v1/admin/staff",
            Some(&serde_json::json!({
                "email": email.to_uppercase(),
                "role": "admin",
                "password": "a brand new password",
            })),
        )
        .await;

    assert_eq!(again.status(), 409);
    let body: serde_json::Value = again.json().await.unwrap();
    assert_eq!(body["error"], "already_exists");
    let (role, disabled): (String, bool) =
        sqlx::query_as("SELECT role, disabled_at IS NOT NULL FROM staff_users WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((role.as_str(), disabled), ("door", true));
    assert_eq!(
        log_in(&app, &email, "a brand new password").await.status(),
        401
    );
    assert_eq!(
        door.get("/checkin").await.status(),
        303,
        "disabled, so logged out"
    );

    let admin = app.log_in(Role::Admin).await;
    let form = admin
        .post_form(
            "/admin/staff",
            &[
                ("email", email.as_str()),
                ("password", "a brand new password"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(form.status(), 409);
    assert!(form.text().await.unwrap().contains(r#"id="f-email-error""#));
}

#[tokio::test]
async fn a_password_reset_ends_the_users_sessions_and_is_audited() {
    let app = TestApp::spawn_without_worker().await;
    let (email, _) = app.create_staff(Role::Editor).await;
    let admin = app.log_in(Role::Admin).await;
    // The editor logs in (a second staff user of the same role is fine: log_in makes its own).
    let editor = app.log_in(Role::Editor).await;
    assert_ne!(editor.email, email);
    let editor_email = editor.email.clone();
    let editor_id = staff_id(&app, &editor_email).await;
    assert_eq!(editor.get("/admin/rooms").await.status(), 200);

    let reset = app
        .admin_request(
            Method::PATCH,
            &format!("/api/v1/admin/staff/{editor_id}"),
            Some(&serde_json::json!({ "password": "the new password" })),
        )
        .await;

    assert_eq!(reset.status(), 200);
    assert_eq!(
        editor.get("/admin/rooms").await.status(),
        303,
        "the old session ended"
    );
    assert_eq!(
        log_in(&app, &editor_email, "a long enough password")
            .await
            .status(),
        401
    );
    assert_eq!(
        log_in(&app, &editor_email, "the new password")
            .await
            .status(),
        303
    );
    assert!(
        audit_actions(&app)
            .await
            .contains(&"staff.password_reset".to_owned())
    );

    // Disable and enable from the page: separate, audited, each ending sessions.
    let second = StaffClient::log_in(
        &app.url(""),
        Role::Editor,
        &editor_email,
        "the new password",
    )
    .await;
    assert_eq!(second.get("/admin/rooms").await.status(), 200);
    for action in ["disable", "enable"] {
        let done = admin
            .post_form(&format!("/admin/staff/{editor_id}"), &[("action", action)])
            .await;
        assert_eq!(done.status(), 303, "{action}");
    }
    assert_eq!(
        second.get("/admin/rooms").await.status(),
        303,
        "disabling ended the session"
    );
    assert_eq!(
        log_in(&app, &editor_email, "the new password")
            .await
            .status(),
        303
    );
    let actions = audit_actions(&app).await;
    assert!(
        actions.contains(&"staff.disable".to_owned())
            && actions.contains(&"staff.enable".to_owned())
    );
}

#[tokio::test]
async fn create_staff_on_the_command_line_creates_only_and_update_resets_the_password() {
    let db = tests::db::TestDatabase::create().await;
    let run = |args: &[&str], password: &str| {
        tests::process::run(
            "azione-web",
            args,
            &[
                ("DATABASE_URL", db.url.as_str()),
                ("AZIONE_STAFF_PASSWORD", password),
            ],
        )
    };
    let create = [
        "create-staff",
        "--email",
        "usher@example.org",
        "--role",
        "door",
    ];
    let created = run(&create, "first password");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let mut conn = db.pool.acquire().await.unwrap();
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM staff_users")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let session = common::auth::create_session(&mut conn, id, std::time::Duration::from_secs(600))
        .await
        .unwrap();

    let recreated = run(
        &[
            "create-staff",
            "--email",
            "USHER@example.org",
            "--role",
            "admin",
        ],
        "second password",
    );
    assert!(!recreated.status.success());
    let stderr = String::from_utf8_lossy(&recreated.stderr);
    assert!(stderr.contains("use --update"), "{stderr}");
    let role: String = sqlx::query_scalar("SELECT role FROM staff_users")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(role, "door");

    let updated = run(
        &["create-staff", "--update", "--email", "usher@example.org"],
        "second password",
    );
    assert!(
        updated.status.success(),
        "{}",
        String::from_utf8_lossy(&updated.stderr)
    );
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM staff_users")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert!(common::auth::verify_password("second password", &hash));
    let live = common::auth::find_session(
        &mut conn,
        session.expose(),
        std::time::Duration::from_secs(600),
    )
    .await
    .unwrap();
    assert!(live.is_none(), "the reset ended the session");
}

#[tokio::test]
async fn every_redirect_trick_after_login_lands_on_the_site() {
    let app = TestApp::spawn_with(|c| c.rate_limit.per_minute = 0).await;
    let (email, password) = app.create_staff(Role::Editor).await;
    let tricks = [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "//evil.example",
        "/\\evil.example",
        "/ /evil.example",
        "https://evil.example",
        "/\u{7f}/evil.example",
    ];
    for next in tricks {
        let response = app
            .client
            .post(app.url("/admin/login"))
            .form(&[
                ("email", email.as_str()),
                ("password", password.as_str()),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{next:?}");
        assert_eq!(response.headers()["location"], "/admin", "{next:?}");
    }
    let kept = app
        .client
        .post(app.url("/admin/login"))
        .form(&[
            ("email", email.as_str()),
            ("password", password.as_str()),
            ("next", "/admin/rooms"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["location"], "/admin/rooms");
}

#[tokio::test]
async fn a_login_posted_from_another_site_is_refused() {
    let app = TestApp::spawn_without_worker().await;
    let (email, password) = app.create_staff(Role::Editor).await;
    let attempt = |headers: &[(&'static str, String)]| {
        let mut request = app
            .client
            .post(app.url("/admin/login"))
            .form(&[("email", email.as_str()), ("password", password.as_str())]);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send()
    };

    let foreign = attempt(&[("Origin", "https://evil.example".to_owned())])
        .await
        .unwrap();
    let cross = attempt(&[("Sec-Fetch-Site", "cross-site".to_owned())])
        .await
        .unwrap();
    let foreign_despite_null = attempt(&[
        ("Origin", "null".to_owned()),
        ("Sec-Fetch-Site", "cross-site".to_owned()),
    ])
    .await
    .unwrap();
    // What a browser sends for our own form (no-referrer makes the Origin null).
    let ours = attempt(&[
        ("Origin", "null".to_owned()),
        ("Sec-Fetch-Site", "same-origin".to_owned()),
    ])
    .await
    .unwrap();

    assert_eq!(foreign.status(), 403);
    assert!(!foreign.headers().contains_key("set-cookie"));
    assert_eq!(cross.status(), 403);
    assert!(!cross.headers().contains_key("set-cookie"));
    assert_eq!(foreign_despite_null.status(), 403);
    assert_eq!(ours.status(), 303);
}

/// Every state-changing route of the router, read from its route table (`web::routes::TABLE`),
/// with `{…}` segments filled in.
fn state_changing_routes() -> Vec<(Method, String)> {
    web::routes::TABLE
        .iter()
        .filter(|(_, method, _)| !matches!(*method, "get" | "head" | "options"))
        .map(|(_, method, template)| {
            let filled = template
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        uuid::Uuid::new_v4().to_string()
                    } else {
                        segment.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            (method, filled)
        })
        .collect()
}

/// Routes that anyone may use without logging in; they change nothing of a session's.
const ANONYMOUS_POSTS: [&str; 15] = [
    "/admin/login",
    "/api/v1/performances/{}/reservations",
    "/performances/{}/reservations",
    "/api/v1/reservations/confirm",
    "/reservations/confirm",
    "/api/v1/reservations/cancel",
    "/reservations/cancel",
    "/api/v1/performances/{}/waitlist",
    "/performances/{}/waitlist",
    "/api/v1/waitlist/confirm",
    "/waitlist/confirm",
    "/api/v1/waitlist/leave",
    "/waitlist/leave",
    "/api/v1/waitlist/claim",
    "/waitlist/claim",
];

fn is_anonymous(path: &str) -> bool {
    ANONYMOUS_POSTS.iter().any(|pattern| {
        let (want, got): (Vec<_>, Vec<_>) =
            (pattern.split('/').collect(), path.split('/').collect());
        want.len() == got.len() && want.iter().zip(&got).all(|(w, g)| *w == "{}" || w == g)
    })
}

#[tokio::test]
async fn every_state_changing_route_refuses_a_session_without_its_csrf_token() {
    let app = TestApp::spawn_without_worker().await;
    let admin = app.log_in(Role::Admin).await;
    let routes = state_changing_routes();
    assert!(routes.len() >= 20, "found only {routes:?}");
    for pattern in ANONYMOUS_POSTS {
        let listed = ANONYMOUS_POSTS.iter().filter(|p| **p == pattern).count();
        let found = routes.iter().filter(|(_, path)| is_anonymous(path)).count();
        assert!(
            listed == 1 && found >= ANONYMOUS_POSTS.len(),
            "{pattern}: update ANONYMOUS_POSTS"
        );
    }

    let mut checked = 0;
    for (method, path) in routes.iter().filter(|(_, path)| !is_anonymous(path)) {
        let as_form = admin
            .client
            .request(method.clone(), app.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("name=x&csrf_token=forged")
            .send()
            .await
            .unwrap();
        let as_json = admin
            .client
            .request(method.clone(), app.url(path))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(as_form.status(), 403, "form {method} {path}");
        assert_eq!(as_json.status(), 403, "JSON {method} {path}");
        checked += 1;
    }
    assert!(checked >= 15, "{checked} routes checked");

    // The session itself still works, with its token.
    let with_token = admin
        .post_form("/admin/rooms", &[("name", "Sala"), ("capacity", "10")])
        .await;
    assert_eq!(with_token.status(), 303);
}

#[tokio::test]
async fn the_confirmation_email_does_not_carry_the_name_a_visitor_typed() {
    let app = TestApp::spawn_without_worker().await;
    let id = app
        .create_performance(tests::PerformanceSpec::default())
        .await;
    let name = "Win a prize at evil.example";

    let booked = app
        .post_reservation(
            id,
            &serde_json::json!({ "name": name, "email": "someone@example.org", "party_size": 1 }),
        )
        .await;

    assert_eq!(booked.status(), 202);
    let mail = app.wait_for_mail("someone@example.org", 1).await.remove(0);
    assert!(mail.token_after("/reservations/confirm?token=").is_some());
    assert!(
        !mail.unfolded().contains("evil.example"),
        "{}",
        mail.unfolded()
    );
}

#[tokio::test]
async fn the_booking_form_refuses_fields_it_does_not_have() {
    let app = TestApp::spawn_without_worker().await;
    let id = app
        .create_performance(tests::PerformanceSpec::default())
        .await;
    let before = app.row_counts().await;

    let response = app
        .client
        .post(app.url(&format!("/performances/{id}/reservations")))
        .form(&[
            ("name", "Mirandolina"),
            ("email", "mirandolina@example.org"),
            ("party_size", "2"),
            ("status", "confirmed"),
            ("checked_in", "true"),
            ("token", "x"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"id="unknown-fields-error""#), "{html}");
    assert!(html.contains("status, checked_in, token"), "{html}");
    assert!(
        html.contains(r#"value="Mirandolina""#),
        "the form keeps what was typed"
    );
    assert_eq!(app.row_counts().await, before, "nothing stored");
}

#[tokio::test]
async fn staff_pages_personal_data_and_tokens_are_never_cached() {
    let app = TestApp::spawn_without_worker().await;
    let id = app
        .create_performance(tests::PerformanceSpec::default())
        .await;
    let ticket = app.ticket_for(id, "cached@example.org", 1).await;
    let admin = app.log_in(Role::Admin).await.client;
    let pages = [
        "/admin".to_owned(),
        "/admin/rooms".to_owned(),
        "/admin/performances/new".to_owned(),
        format!("/admin/performances/{id}"),
        format!("/admin/performances/{id}/reservations"),
        format!("/admin/performances/{id}/reservations.csv"),
        "/admin/staff".to_owned(),
        "/admin/audit".to_owned(),
        "/checkin".to_owned(),
        "/ops/queues".to_owned(),
        format!("/api/v1/admin/performances/{id}/reservations"),
        "/api/v1/admin/staff".to_owned(),
        "/api/v1/admin/audit".to_owned(),
        format!("/t/{}", ticket.ticket),
        format!("/reservations/confirm?token={}", ticket.confirmation),
        format!("/reservations/cancel?token={}", ticket.cancel),
    ];
    for path in &pages {
        let response = admin.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{path}"
        );
    }
    let stylesheet = app.get("/static/app.css").await;
    assert!(
        stylesheet.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
}

#[test]
fn the_worker_refuses_smtp_credentials_over_a_clear_connection() {
    let vars = |smtp_url| {
        [
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none"),
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("PUBLIC_BASE_URL", "https://tickets.example.org"),
            ("SMTP_URL", smtp_url),
            ("MAIL_FROM", "tickets@example.org"),
        ]
    };

    let output = tests::process::run(
        "azione-worker",
        &[],
        &vars("smtp://user:secret-pass@mail.example.org:587"),
    );

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("SMTP_URL"), "{stderr}");
    assert!(
        !stderr.contains("secret-pass"),
        "the password is not repeated"
    );
}

#[tokio::test]
async fn ipv6_clients_share_one_budget_per_64_prefix() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit.per_minute = 2;
        c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let id = app
        .create_performance(tests::PerformanceSpec::default())
        .await;
    let book_from = |client: &'static str, n: usize| {
        app.client
            .post(app.url(&format!("/api/v1/performances/{id}/reservations")))
            .header("X-Forwarded-For", client)
            .json(&serde_json::json!({
                "name": "Mirandolina",
                "email": format!("guest{n}@example.org"),
                "party_size": 1,
            }))
            .send()
    };

    assert_eq!(book_from("2001:db8:0:1::1", 1).await.unwrap().status(), 202);
    assert_eq!(book_from("2001:db8:0:1::2", 2).await.unwrap().status(), 202);
    let rotated = book_from("2001:db8:0:1:ffff:1234:5678:9abc", 3)
        .await
        .unwrap();
    let neighbour = book_from("2001:db8:0:2::1", 4).await.unwrap();

    assert_eq!(rotated.status(), 429, "another address of the same /64");
    assert_eq!(neighbour.status(), 202, "another /64 has its own budget");
}

#[tokio::test]
async fn admin_with_a_trailing_slash_is_the_admin_landing_page() {
    let app = TestApp::spawn_without_worker().await;
    let editor = app.log_in(Role::Editor).await.client;
    let door = app.log_in(Role::Door).await.client;

    let anonymous = app.get("/admin/").await;
    let as_editor = editor.get(app.url("/admin/")).send().await.unwrap();
    let as_door = door.get(app.url("/admin/")).send().await.unwrap();

    assert_eq!(anonymous.status(), 303);
    assert!(
        anonymous.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/admin/login")
    );
    assert_eq!(as_editor.status(), 200);
    let page = tests::Page::parse(&as_editor.text().await.unwrap());
    assert!(!page.csrf_token().is_empty());
    assert_eq!(as_door.headers()["location"], "/checkin");
}
