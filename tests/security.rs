//! Findings of the security review, each shown against the running app: bounded metrics
//! labels, the login lockout, staff account changes, redirects after login, CSRF, password
//! hashing off the request threads, the per-address booking caps, strict forms, caching,
//! client addresses and the admin landing page.

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
