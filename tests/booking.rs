use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use tests::{PerformanceSpec, TestApp, smtp::Mode};

fn valid() -> Value {
    json!({ "name": "Mirandolina", "email": "mirandolina@example.org", "phone": "+39 055 123-45 (6)",
            "notes": "Aisle seat, please", "party_size": 2 })
}

fn with(field: &str, value: Value) -> Value {
    let mut body = valid();
    body[field] = value;
    body
}

fn without(field: &str) -> Value {
    let mut body = valid();
    body.as_object_mut().unwrap().remove(field);
    body
}

async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON error body"))
}

#[tokio::test]
async fn a_valid_booking_is_accepted_as_pending_with_its_email_job_in_the_same_transaction() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(PerformanceSpec::default()).await;

    let response = app.post_reservation(id, &valid()).await;

    assert_eq!(response.status(), 202);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "status": "pending" })
    );
    let (status, email, phone): (String, String, Option<String>) =
        sqlx::query_as("SELECT status, email, phone FROM reservations")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), email.as_str()),
        ("pending", "mirandolina@example.org")
    );
    assert_eq!(phone.as_deref(), Some("+39 055 123-45 (6)"));
    let payloads: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT job FROM apalis.jobs WHERE job_type = $1")
            .bind(common::jobs::CONFIRMATION_QUEUE)
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(payloads.len(), 1);
    let payload: Value = serde_json::from_slice(&payloads[0]).unwrap();
    let keys: Vec<&String> = payload.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["request_id", "reservation_id"],
        "job payloads hold ids only"
    );
    for id in payload.as_object().unwrap().values() {
        uuid::Uuid::parse_str(id.as_str().unwrap()).expect("an id");
    }
    assert_eq!(
        app.seats_available(id).await,
        50,
        "pending reservations hold no seats"
    );
}

#[tokio::test]
async fn a_booking_does_not_wait_for_a_confirmation_holding_its_performance() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    app.book(id, "first@example.org", 1).await;
    let token = app.confirmation_token("first@example.org").await;
    // A confirmation holds the performance row for the rest of its transaction (so do an
    // offer, a cancellation and a staff edit, through `lock_performance`).
    let mut held = app.db.begin().await.unwrap();
    let confirmed = common::confirmation::confirm_reservation(&mut held, &token, 3, None, None)
        .await
        .unwrap();
    assert!(matches!(confirmed, common::confirmation::Confirmed::Now(_)));
    let mut offer = app.db.begin().await.unwrap();
    sqlx::query("SET LOCAL lock_timeout = '1s'")
        .execute(&mut *offer)
        .await
        .unwrap();
    assert!(
        common::catalogue::lock_performance(&mut offer, id)
            .await
            .is_err(),
        "a seat change waits for the confirmation holding the performance"
    );
    offer.rollback().await.unwrap();
    // A booking's insert checks its performance exists (a foreign key, FOR KEY SHARE): under
    // a FOR UPDATE lock every booking queued behind every confirmation.
    let booked = tokio::time::timeout(Duration::from_secs(5), app.post_reservation(id, &valid()))
        .await
        .expect("the booking answered while a confirmation held the performance");
    assert_eq!(booked.status(), 202);
    held.rollback().await.unwrap();
    // Two reservations, each with its confirmation e-mail's job; the rolled-back confirmation
    // queued nothing.
    assert_eq!(app.row_counts().await, (2, 2));
}

#[tokio::test]
async fn every_invalid_field_is_refused_with_422_and_changes_nothing() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    let cases = [
        (without("name"), "name"),
        (with("name", json!("   ")), "name"),
        (with("name", json!("x".repeat(101))), "name"),
        (with("name", json!(42)), "name"),
        (without("email"), "email"),
        (with("email", json!("not-an-address")), "email"),
        (with("email", json!("Mirandolina <m@example.org>")), "email"),
        (
            with("email", json!(format!("{}@example.org", "a".repeat(250)))),
            "email",
        ),
        (with("phone", json!("call me maybe")), "phone"),
        (with("phone", json!("1".repeat(33))), "phone"),
        (with("notes", json!("n".repeat(1001))), "notes"),
        (without("party_size"), "party_size"),
        (with("party_size", json!(0)), "party_size"),
        (with("party_size", json!(-1)), "party_size"),
        (with("party_size", json!(11)), "party_size"),
        (with("party_size", json!(2.5)), "party_size"),
        (with("party_size", json!("2")), "party_size"),
        (with("status", json!("confirmed")), "status"),
        (with("token", json!("x")), "token"),
        (with("checked_in", json!(true)), "checked_in"),
        (
            with("id", json!("00000000-0000-0000-0000-000000000000")),
            "id",
        ),
    ];

    for (body, field) in cases {
        let (status, error) = error_of(app.post_reservation(id, &body).await).await;
        assert_eq!(status, 422, "{field}: {body}");
        assert_eq!(error["error"], "validation_failed", "{field}");
        assert!(
            error["fields"][field].is_string(),
            "{field} named in {error}"
        );
        assert!(error["message"].is_string());
    }
    assert_eq!(
        app.row_counts().await,
        (0, 0),
        "no reservation and no job written"
    );
}

#[tokio::test]
async fn limits_at_their_edges_are_accepted() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    let body = json!({
        "name": format!("  {}  ", "é".repeat(100)),
        "email": format!("{}@example.org", "a".repeat(64)),
        "phone": "1".repeat(32),
        "notes": "n".repeat(1000),
        "party_size": 10,
    });

    assert_eq!(app.post_reservation(id, &body).await.status(), 202);
}

#[tokio::test]
async fn malformed_oversized_and_non_json_bodies_get_their_own_codes_in_contract_order() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    let url = app.url(&format!("/api/v1/performances/{id}/reservations"));
    let post = |body: String, content_type: &'static str| {
        app.client
            .post(&url)
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
    };

    let (status, error) = error_of(
        post("{\"name\": ".into(), "application/json")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (422, Some("validation_failed"))
    );
    assert!(error["fields"].is_object());

    let (status, error) = error_of(post("[1, 2]".into(), "application/json").await.unwrap()).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (422, Some("validation_failed"))
    );

    let (status, error) = error_of(post(valid().to_string(), "text/plain").await.unwrap()).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (415, Some("unsupported_media_type"))
    );

    let huge = json!({ "name": "x", "notes": "n".repeat(17 * 1024) }).to_string();
    let (status, error) = error_of(post(huge.clone(), "text/plain").await.unwrap()).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (413, Some("payload_too_large")),
        "size before media type"
    );
    let (status, _) = error_of(post(huge, "application/json").await.unwrap()).await;
    assert_eq!(status, 413);

    let unknown = app.url(&format!(
        "/api/v1/performances/{}/reservations",
        uuid::Uuid::new_v4()
    ));
    let bad_for_unknown = app
        .client
        .post(&unknown)
        .json(&without("name"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        bad_for_unknown.status(),
        422,
        "shape is checked before the resource"
    );
    let good_for_unknown = app
        .client
        .post(&unknown)
        .json(&valid())
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(good_for_unknown).await;
    assert_eq!((status, error["error"].as_str()), (404, Some("not_found")));
    assert_eq!(app.row_counts().await, (0, 0));
}

#[tokio::test]
async fn performances_not_open_refuse_bookings_with_409_booking_closed() {
    let app = TestApp::spawn_without_worker().await;
    for status in ["scheduled", "closed", "cancelled"] {
        let id = app
            .create_performance(PerformanceSpec {
                booking_status: status,
                ..Default::default()
            })
            .await;
        let (code, error) = error_of(app.post_reservation(id, &valid()).await).await;
        assert_eq!(
            (code, error["error"].as_str()),
            (409, Some("booking_closed")),
            "{status}"
        );
    }
    let started = app
        .create_performance(PerformanceSpec {
            starts_in: chrono::Duration::minutes(-1),
            ..Default::default()
        })
        .await;
    let (code, error) = error_of(app.post_reservation(started, &valid()).await).await;
    assert_eq!(
        (code, error["error"].as_str()),
        (409, Some("booking_closed"))
    );
    assert_eq!(app.row_counts().await.0, 0);
}

#[tokio::test]
async fn a_party_larger_than_the_seats_left_is_refused_with_409() {
    let app = TestApp::spawn_without_worker().await;
    let id = app
        .create_performance(PerformanceSpec {
            capacity: 5,
            extra: json!({ "additional_seats": 2, "manually_occupied_seats": 4 }),
            ..Default::default()
        })
        .await;
    assert_eq!(app.seats_available(id).await, 3);

    let (status, error) = error_of(
        app.post_reservation(id, &with("party_size", json!(4)))
            .await,
    )
    .await;

    assert_eq!(
        (status, error["error"].as_str()),
        (409, Some("insufficient_capacity"))
    );
    assert_eq!(app.row_counts().await, (0, 0));
    assert_eq!(
        app.post_reservation(id, &with("party_size", json!(3)))
            .await
            .status(),
        202
    );
}

#[tokio::test]
async fn the_per_performance_party_size_limit_applies() {
    let app = TestApp::spawn_without_worker().await;
    let id = app
        .create_performance(PerformanceSpec {
            extra: json!({ "max_party_size": 3 }),
            ..Default::default()
        })
        .await;

    let (status, error) = error_of(
        app.post_reservation(id, &with("party_size", json!(4)))
            .await,
    )
    .await;

    assert_eq!(status, 422);
    assert!(error["fields"]["party_size"].is_string());
}

#[tokio::test]
async fn one_client_address_is_rate_limited_with_retry_after_while_others_are_not() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit.per_minute = 3;
        c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    let book_from = |client_ip: &'static str, n: usize| {
        let body = with("email", json!(format!("visitor{n}@example.org")));
        app.client
            .post(app.url(&format!("/api/v1/performances/{id}/reservations")))
            .header("X-Forwarded-For", client_ip)
            .json(&body)
            .send()
    };

    for n in 0..3 {
        assert_eq!(book_from("198.51.100.7", n).await.unwrap().status(), 202);
    }
    let limited = book_from("198.51.100.7", 3).await.unwrap();
    let other_client = book_from("198.51.100.8", 4).await.unwrap();

    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(
        limited.json::<Value>().await.unwrap()["error"],
        "rate_limited"
    );
    assert_eq!(other_client.status(), 202);
    assert_eq!(
        app.row_counts().await.0,
        4,
        "the limited request wrote nothing"
    );
}

#[tokio::test]
async fn one_email_address_cannot_be_flooded_from_many_client_addresses() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit.per_minute = 100;
        c.booking.email_bookings_per_hour = 2;
        c.booking.email_pending_per_performance = 10;
        c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    let book_from = |client_ip: &'static str, email: &'static str| {
        app.client
            .post(app.url(&format!("/api/v1/performances/{id}/reservations")))
            .header("X-Forwarded-For", client_ip)
            .json(&with("email", json!(email)))
            .send()
    };

    assert_eq!(
        book_from("203.0.113.1", "target@example.org")
            .await
            .unwrap()
            .status(),
        202
    );
    assert_eq!(
        book_from("203.0.113.2", "TARGET@example.org")
            .await
            .unwrap()
            .status(),
        202
    );
    let third = book_from("203.0.113.3", "target@example.org")
        .await
        .unwrap();
    let someone_else = book_from("203.0.113.3", "other@example.org").await.unwrap();

    // Over the cap: answered exactly like an accepted booking, but nothing stored or sent.
    assert_eq!(third.status(), 202);
    assert!(!third.headers().contains_key("retry-after"));
    assert_eq!(
        third.json::<Value>().await.unwrap(),
        json!({ "status": "pending" })
    );
    assert_eq!(someone_else.status(), 202);
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM reservations WHERE lower(email) = 'target@example.org'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(stored, 2);
    app.wait_for_jobs().await;
    assert_eq!(app.smtp.messages_to("target@example.org").len(), 2);
}

#[tokio::test]
async fn pending_reservations_per_address_and_performance_are_capped() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit.per_minute = 100;
        c.booking.email_bookings_per_hour = 100;
        c.booking.email_pending_per_performance = 2;
    })
    .await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    let other = app.create_performance(PerformanceSpec::default()).await;

    assert_eq!(app.post_reservation(id, &valid()).await.status(), 202);
    assert_eq!(app.post_reservation(id, &valid()).await.status(), 202);
    let before = app.row_counts().await;
    let over = app.post_reservation(id, &valid()).await;
    assert_eq!(over.status(), 202);
    assert_eq!(
        over.json::<Value>().await.unwrap(),
        json!({ "status": "pending" })
    );
    assert_eq!(
        app.row_counts().await,
        before,
        "over the cap: nothing stored or queued"
    );
    let form = app
        .client
        .post(app.url(&format!("/performances/{id}/reservations")))
        .form(&[
            ("name", "Mirandolina"),
            ("email", "mirandolina@example.org"),
            ("party_size", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 202, "the form answers as accepted too");
    assert_eq!(app.row_counts().await, before);
    assert_eq!(app.post_reservation(other, &valid()).await.status(), 202);
}

#[tokio::test]
async fn bookings_answer_at_once_while_smtp_is_down_and_every_email_arrives_when_it_returns() {
    let app = TestApp::spawn_with(|c| {
        c.jobs.max_attempts = 100;
        c.jobs.retry_min_delay = Duration::from_millis(50);
        c.jobs.retry_max_delay = Duration::from_millis(300);
    })
    .await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    app.smtp.set_mode(Mode::Unavailable);

    let started = Instant::now();
    for n in 0..5 {
        app.book(id, &format!("guest{n}@example.org"), 1).await;
    }
    let elapsed = started.elapsed();

    // The worker has tried and failed while SMTP was down.
    tests::eventually(
        "the worker to try to send (10 SMTP connections)",
        || async { (app.smtp.connection_count() >= 10).then_some(()) },
    )
    .await;
    assert!(app.smtp.messages().is_empty());
    assert!(
        elapsed < Duration::from_secs(5),
        "bookings never wait on SMTP ({elapsed:?})"
    );

    app.smtp.set_mode(Mode::Accept);
    for n in 0..5 {
        app.wait_for_mail(&format!("guest{n}@example.org"), 1).await;
    }
    let counts = app.wait_for_jobs().await;
    assert_eq!(counts.get("Done"), Some(&5), "{counts:?}");
}

#[tokio::test]
async fn the_booking_form_keeps_input_and_shows_field_errors() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    let url = app.url(&format!("/performances/{id}/reservations"));

    let refused = app
        .client
        .post(&url)
        .form(&[
            ("name", "Fabrizio"),
            ("email", "not an address"),
            ("party_size", "2"),
            ("notes", "<b>hi</b>"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains(r#"value="Fabrizio""#), "name kept");
    assert!(
        html.contains("&#60;b&#62;hi&#60;/b&#62;"),
        "notes kept, escaped"
    );
    assert!(
        html.contains(r#"id="email-error""#),
        "error next to the field"
    );
    assert!(html.contains(r#"aria-invalid="true""#));
    assert_eq!(app.row_counts().await, (0, 0));

    let accepted = app
        .client
        .post(&url)
        .form(&[
            ("name", "Fabrizio"),
            ("email", "fabrizio@example.org"),
            ("party_size", "2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    assert!(accepted.text().await.unwrap().contains("Check your e-mail"));
    app.wait_for_mail("fabrizio@example.org", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_the_queue_and_send_each_confirmation_once() {
    let app = TestApp::spawn().await;
    app.spawn_extra_worker();
    let id = app.create_performance(PerformanceSpec::default()).await;

    for n in 0..20 {
        app.book(id, &format!("crowd{n}@example.org"), 1).await;
    }
    let counts = app.wait_for_jobs().await;

    assert_eq!(counts.get("Done"), Some(&20), "{counts:?}");
    assert_eq!(app.smtp.messages().len(), 20);
    for n in 0..20 {
        assert_eq!(
            app.smtp.messages_to(&format!("crowd{n}@example.org")).len(),
            1
        );
    }
}
