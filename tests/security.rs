//! Findings of the security review, each shown against the running app: bounded metrics
//! labels, the login lockout, staff account changes, redirects after login, CSRF, password
//! hashing off the request threads, the per-address booking caps, strict forms, caching,
//! client addresses and the admin landing page.

use common::auth::Role;
use futures::StreamExt;
use reqwest::Method;
use tests::TestApp;

#[tokio::test]
async fn odd_http_methods_do_not_grow_the_metrics() {
    let app = TestApp::spawn().await;
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
    let app = TestApp::spawn_with(|c| c.booking.rate_limit_per_minute = 0).await;
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
    let app = TestApp::spawn_with(|c| c.booking.rate_limit_per_minute = 0).await;
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
    let app = TestApp::spawn_with(|c| c.booking.rate_limit_per_minute = 0).await;
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
    let app = TestApp::spawn_with(|c| c.booking.rate_limit_per_minute = 0).await;
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
    let deadline = tokio::time::Instant::now() + tests::app::PATIENCE;
    loop {
        let counted: i64 = sqlx::query_scalar("SELECT count(*) FROM login_failures")
            .fetch_one(&app.db)
            .await
            .unwrap();
        if counted == 48 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{counted} logins counted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }

    let health = app.get("/healthz").await;
    let finished_logins = done.load(std::sync::atomic::Ordering::SeqCst);

    assert_eq!(health.status(), 200);
    assert_eq!(finished_logins, 0, "/healthz waited for password hashing");
    for login in logins {
        assert_eq!(login.await.unwrap(), 401);
    }
}
