use std::time::Duration;

use serde_json::{Value, json};
use tests::{PerformanceSpec, TestApp};

async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn reservation_status(app: &TestApp) -> String {
    sqlx::query_scalar("SELECT status FROM reservations")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn book_receive_email_and_confirm_over_real_smtp() {
    let app = TestApp::spawn_without_worker().await;
    let id = app
        .create_performance(PerformanceSpec {
            capacity: 20,
            ..Default::default()
        })
        .await;
    app.book(id, "visitor@example.org", 3).await;

    let mail = app.wait_for_mail("visitor@example.org", 1).await.remove(0);
    assert_eq!(mail.from, "tickets@azionelab.test");
    assert!(mail.header("Subject").unwrap().contains("La locandiera"));
    let message_id = mail.header("Message-ID").unwrap();
    assert!(message_id.starts_with("<confirm."), "{message_id}");
    let link_prefix = format!("{}/reservations/confirm?token=", app.config.public_base_url);
    assert!(
        mail.unfolded().contains(&link_prefix),
        "link uses PUBLIC_BASE_URL"
    );
    assert!(mail.data.contains("text/plain") && mail.data.contains("text/html"));
    let token = app.confirmation_token("visitor@example.org").await;

    // A GET (what a mail scanner does) shows a button and changes nothing.
    let page = app
        .get(&format!("/reservations/confirm?token={token}"))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"method="post""#) && html.contains(&token));
    assert_eq!(reservation_status(&app).await, "pending");
    assert_eq!(app.seats_available(id).await, 20);

    let (status, body) = status_and_body(app.confirm(&token).await).await;
    assert_eq!((status, body), (200, json!({ "status": "confirmed" })));
    assert_eq!(reservation_status(&app).await, "confirmed");
    assert_eq!(app.seats_available(id).await, 17);

    let (status, body) = status_and_body(app.confirm(&token).await).await;
    assert_eq!(
        (status, body),
        (200, json!({ "status": "confirmed" })),
        "repeat is idempotent"
    );
    assert_eq!(app.seats_available(id).await, 17, "seats taken once");

    let ticket_jobs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE job_type = $1")
            .bind(common::jobs::TICKET_QUEUE)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(ticket_jobs, 1, "one ticket job queued by the confirmation");
}

#[tokio::test]
async fn the_confirm_page_form_confirms_in_a_browser_without_javascript() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    app.book(id, "form@example.org", 1).await;
    let token = app.confirmation_token("form@example.org").await;

    let response = app
        .client
        .post(app.url("/reservations/confirm"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("Booking confirmed"));
    assert_eq!(reservation_status(&app).await, "confirmed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_concurrent_confirmations_for_ten_seats_confirm_exactly_ten() {
    let app = TestApp::spawn_with(|c| c.database.max_connections = 40).await;
    let id = app
        .create_performance(PerformanceSpec {
            capacity: 10,
            ..Default::default()
        })
        .await;
    for n in 0..30 {
        app.book(id, &format!("fan{n}@example.org"), 1).await;
    }
    let mut tokens = Vec::new();
    for n in 0..30 {
        tokens.push(app.confirmation_token(&format!("fan{n}@example.org")).await);
    }

    let responses = futures::future::join_all(tokens.iter().map(|t| app.confirm(t))).await;

    let mut confirmed = 0;
    let mut refused = 0;
    for response in responses {
        let (status, body) = status_and_body(response).await;
        match status {
            200 => confirmed += 1,
            409 => {
                assert_eq!(body["error"], "insufficient_capacity");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((confirmed, refused), (10, 20));
    let seats: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(party_size), 0)::bigint FROM reservations WHERE status = 'confirmed'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(seats, 10);
    assert_eq!(app.seats_available(id).await, 0);
}

#[tokio::test]
async fn capacity_is_rechecked_at_confirmation_time() {
    let app = TestApp::spawn_without_worker().await;
    let id = app
        .create_performance(PerformanceSpec {
            capacity: 4,
            ..Default::default()
        })
        .await;
    app.book(id, "first@example.org", 3).await;
    app.book(id, "second@example.org", 3).await;
    let first = app.confirmation_token("first@example.org").await;
    let second = app.confirmation_token("second@example.org").await;

    assert_eq!(app.confirm(&first).await.status(), 200);
    let (status, body) = status_and_body(app.confirm(&second).await).await;

    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("insufficient_capacity"))
    );
}

#[tokio::test]
async fn tokens_are_stored_only_as_hashes() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    app.book(id, "hash@example.org", 1).await;
    let token = app.confirmation_token("hash@example.org").await;
    assert_eq!(app.confirm(&token).await.status(), 200);

    let dump: String = sqlx::query_scalar(
        "SELECT concat_ws(' ',
            (SELECT string_agg(t::text, ' ') FROM reservation_tokens t),
            (SELECT string_agg(encode(token_hash, 'escape'), ' ') FROM reservation_tokens),
            (SELECT string_agg(r::text, ' ') FROM reservations r),
            (SELECT string_agg(j::text || encode(j.job, 'escape'), ' ') FROM apalis.jobs j))",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(!dump.contains(&token), "raw token found in the database");
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT token_hash FROM reservation_tokens WHERE purpose = 'confirm'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored, common::token::TokenHash::of(&token).as_bytes());
}

#[tokio::test]
async fn an_expired_confirmation_token_gets_410() {
    let app = TestApp::spawn_with(|c| c.booking.confirmation_ttl = Duration::ZERO).await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    app.book(id, "late@example.org", 1).await;
    let token = app.confirmation_token("late@example.org").await;

    let (status, body) = status_and_body(app.confirm(&token).await).await;

    assert_eq!(
        (status, body["error"].as_str()),
        (410, Some("token_expired"))
    );
    assert_eq!(reservation_status(&app).await, "pending");
}

#[tokio::test]
async fn unknown_malformed_and_missing_tokens_are_refused() {
    let app = TestApp::spawn_without_worker().await;
    for token in ["", "abc", "A".repeat(43).as_str(), "../../etc/passwd"] {
        let (status, body) = status_and_body(app.confirm(token).await).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("invalid_token")),
            "{token:?}"
        );
    }
    for body in [json!({}), json!({ "token": 42 }), json!({ "token": null })] {
        let (status, error) =
            status_and_body(app.post_json("/api/v1/reservations/confirm", &body).await).await;
        assert_eq!(
            (status, error["error"].as_str()),
            (422, Some("validation_failed")),
            "{body}"
        );
        assert!(error["fields"]["token"].is_string());
    }
}
