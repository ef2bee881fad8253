//! The nginx template rendered as the nginx image renders it and run in the real nginx
//! (Debian's package) in front of the real app (see `tests::nginx`).

use std::net::IpAddr;

use common::auth::Role;
use serde_json::{Value as Json, json};
use tests::{PerformanceSpec, TestApp, nginx::Nginx, process};

use super::compose::{compose, run_healthcheck, run_worker_healthcheck, strings};

/// The real nginx in front of `app`, with the capabilities compose gives it.
async fn nginx_for(app: &TestApp) -> Nginx {
    Nginx::start(
        app.addr,
        &strings(&compose()["services"]["nginx"]["cap_add"]),
    )
    .await
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn booking(n: usize) -> String {
    json!({ "name": "Mirandolina", "email": format!("guest{n}@example.org"), "party_size": 1 })
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_redirects_to_https_adds_the_security_headers_and_keeps_secrets_out_of_its_logs() {
    let app = TestApp::spawn_with(|c| {
        c.http.trusted_proxies = vec![ip("127.0.0.1")];
    })
    .await;
    let nginx = nginx_for(&app).await;
    let client = ip("127.0.0.1");

    // Plain HTTP only redirects, keeping path and query.
    let plain = app
        .client
        .get(format!(
            "http://{}/reservations/confirm?token=PLAINHTTPTOKENVALUE",
            nginx.http
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 301);
    assert_eq!(
        plain.headers()["location"],
        "https://localhost/reservations/confirm?token=PLAINHTTPTOKENVALUE"
    );

    // HTTPS: the app's page with the transport security headers, each once.
    let page = nginx.https(client, "GET", "/", &[], None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.answered_by_app());
    assert!(
        page.header("strict-transport-security")
            .is_some_and(|v| v.starts_with("max-age="))
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert!(
        page.header("content-security-policy")
            .is_some_and(|v| v.contains("frame-ancestors 'none'"))
    );
    for name in [
        "strict-transport-security",
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
    ] {
        assert_eq!(page.count(name), 1, "{name} once");
    }

    // A booking through nginx reaches the app.
    let performance = app.create_performance(PerformanceSpec::default()).await;
    let booked = nginx
        .https(
            client,
            "POST",
            &format!("/api/v1/performances/{performance}/reservations"),
            &[],
            Some(&booking(0)),
        )
        .await;
    assert_eq!(booked.status, 202, "{}", booked.body);
    assert_eq!(booked.json(), json!({ "status": "pending" }));
    let request_id = booked.header("x-request-id").expect("the app's request id");

    // /metrics is refused by nginx itself, however it is spelled and whoever asks; the app
    // itself serves it to an operator key.
    let operator_key = app.api_key(Role::Operator).await;
    let operator = format!("Bearer {operator_key}");
    let direct = app
        .client
        .get(app.url("/metrics"))
        .header("Authorization", &operator)
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 200);
    for path in ["/metrics", "/metrics/", "/metrics?name=x", "/%6detrics"] {
        let metrics = nginx
            .https(client, "GET", path, &[("Authorization", &operator)], None)
            .await;
        assert_eq!(metrics.status, 404, "{path}");
        assert!(!metrics.answered_by_app(), "{path} reached the app");
        assert!(metrics.header("strict-transport-security").is_some());
    }

    // Over 16 KiB the app answers its JSON 413; far over, nginx answers the same way.
    let padded = |bytes: usize| json!({ "name": "x".repeat(bytes) }).to_string();
    let path = format!("/api/v1/performances/{performance}/reservations");
    let too_large = nginx
        .https(client, "POST", &path, &[], Some(&padded(20 * 1024)))
        .await;
    assert_eq!(too_large.status, 413);
    assert!(too_large.answered_by_app());
    assert_eq!(too_large.json()["error"], "payload_too_large");
    let far_too_large = nginx
        .https(client, "POST", &path, &[], Some(&padded(40 * 1024)))
        .await;
    assert_eq!(far_too_large.status, 413);
    assert!(!far_too_large.answered_by_app());
    assert_eq!(far_too_large.json()["error"], "payload_too_large");

    // Tokens and credentials travel through nginx but stay out of its logs.
    let confirm = nginx
        .https(
            client,
            "GET",
            "/reservations/confirm?token=SOMESECRETTOKENVALUE",
            &[],
            None,
        )
        .await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    nginx
        .https(
            client,
            "GET",
            "/api/v1/performances",
            &[
                ("Authorization", "Bearer SECRETBEARERVALUE"),
                ("Cookie", "azione_session=SECRETCOOKIEVALUE"),
            ],
            None,
        )
        .await;
    nginx
        .https(client, "GET", "/t/SECRETTICKETVALUE", &[], None)
        .await;
    let log = nginx.access_log_with("/t/[token]").await;
    for line in log.lines() {
        serde_json::from_str::<Json>(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
    }
    assert!(log.contains(r#""path":"/reservations/confirm""#), "{log}");
    assert!(log.contains(r#""path":"/api/v1/performances""#), "{log}");
    assert!(
        log.contains(&format!(r#""request_id":"{request_id}""#)),
        "nginx and the app log the same request id"
    );
    assert!(
        log.contains(r#""method":"POST","path":"/api/v1/performances/"#)
            && log.contains(r#""status":413,"bytes""#),
        "{log}"
    );
    for secret in [
        operator_key.as_str(),
        "PLAINHTTPTOKENVALUE",
        "SOMESECRETTOKENVALUE",
        "SECRETBEARERVALUE",
        "SECRETCOOKIEVALUE",
        "SECRETTICKETVALUE",
        "Mirandolina",
        "guest0@example.org",
    ] {
        assert!(!log.contains(secret), "access log holds {secret}:\n{log}");
        assert!(
            !nginx.log("error.log").contains(secret),
            "error log holds {secret}"
        );
        assert!(!nginx.log("main-error.log").contains(secret));
    }
    assert_eq!(
        nginx.log("image-default-access.log"),
        "",
        "a request fell through to the image's default access log"
    );

    // The compose healthchecks work against the real servers.
    assert!(run_healthcheck("web", 8000, app.addr.port()));
    assert!(run_worker_healthcheck(app.worker_addr.port()));
    assert!(!run_worker_healthcheck(process::free_port().port()));
    assert!(run_healthcheck("nginx", 80, nginx.http.port()));
    assert!(!run_healthcheck("web", 8000, process::free_port().port()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_passes_each_clients_own_address_so_the_app_limits_clients_separately() {
    let app = TestApp::spawn_with(|c| {
        c.http.trusted_proxies = vec![ip("127.0.0.1")];
        c.rate_limit.per_minute = 3;
    })
    .await;
    let nginx = nginx_for(&app).await;
    let performance = app.create_performance(PerformanceSpec::default()).await;
    let path = format!("/api/v1/performances/{performance}/reservations");
    let (first, second) = (ip("127.0.0.2"), ip("127.0.0.3"));

    for n in 0..3 {
        let reply = nginx
            .https(first, "POST", &path, &[], Some(&booking(n)))
            .await;
        assert_eq!(reply.status, 202, "{}", reply.body);
    }
    // The fourth from the same client: the app's own limit, so the app saw this client.
    let limited = nginx
        .https(first, "POST", &path, &[], Some(&booking(3)))
        .await;
    assert_eq!(limited.status, 429);
    assert!(limited.answered_by_app());
    assert_eq!(limited.json()["error"], "rate_limited");
    // A forged X-Forwarded-For does not let the client escape its budget.
    let forged = nginx
        .https(
            first,
            "POST",
            &path,
            &[("X-Forwarded-For", "203.0.113.9")],
            Some(&booking(4)),
        )
        .await;
    assert_eq!(forged.status, 429);
    assert!(forged.answered_by_app());
    // Another client behind the same nginx has its own budget.
    let other = nginx
        .https(second, "POST", &path, &[], Some(&booking(5)))
        .await;
    assert_eq!(other.status, 202, "{}", other.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_cuts_a_burst_of_bookings_from_one_client_before_the_app_sees_it() {
    // The app's own limits are off: every 429 here is nginx's.
    let app = TestApp::spawn_with(|c| {
        c.http.trusted_proxies = vec![ip("127.0.0.1")];
        c.rate_limit.per_minute = 0;
    })
    .await;
    let nginx = nginx_for(&app).await;
    let performance = app.create_performance(PerformanceSpec::default()).await;
    let path = format!("/api/v1/performances/{performance}/reservations");
    let client = ip("127.0.0.4");

    let mut accepted = 0;
    let mut refused = Vec::new();
    for n in 0..40 {
        let reply = nginx
            .https(client, "POST", &path, &[], Some(&booking(n)))
            .await;
        match reply.status {
            202 => accepted += 1,
            429 => refused.push(reply),
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    assert!(accepted >= 1 && !refused.is_empty(), "{accepted} accepted");
    for reply in &refused {
        assert!(!reply.answered_by_app());
        assert_eq!(reply.json()["error"], "rate_limited");
    }
    let (reservations, _) = app.row_counts().await;
    assert_eq!(
        reservations, accepted,
        "refused requests never reached the app"
    );
    // Pages stay readable for the same client during the limit.
    let page = nginx.https(client, "GET", "/", &[], None).await;
    assert_eq!(page.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_refuses_methods_the_app_does_not_serve() {
    let app = TestApp::spawn_with(|c| c.http.trusted_proxies = vec![ip("127.0.0.1")]).await;
    let nginx = nginx_for(&app).await;
    let client = ip("127.0.0.5");

    for method in ["FOO", "PROPFIND", "PUT", "TRACE"] {
        let reply = nginx.https(client, method, "/healthz", &[], None).await;
        assert_eq!(reply.status, 405, "{method}");
        assert!(!reply.answered_by_app(), "{method} reached the app");
    }
    for method in ["GET", "HEAD"] {
        let reply = nginx.https(client, method, "/healthz", &[], None).await;
        assert_eq!(reply.status, 200, "{method}");
        assert!(reply.answered_by_app());
    }
}
