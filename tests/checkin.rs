use common::auth::Role;
use serde_json::{Value, json};
use tests::{PerformanceSpec, TestApp};

fn soon() -> PerformanceSpec {
    PerformanceSpec {
        starts_in: chrono::Duration::minutes(30),
        ..Default::default()
    }
}

async fn error_code(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_ticket_checks_in_once_with_only_what_the_door_needs() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(soon()).await;
    let t = app.ticket_for(id, "guest@example.org", 3).await;
    let door = app.api_key(Role::Door).await;

    let first = app
        .check_in(&door, &json!({ "token": t.ticket, "performance_id": id }))
        .await;

    assert_eq!(first.status(), 200);
    let body: Value = first.json().await.unwrap();
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["checked_in_at", "party_size", "performance", "result"]
    );
    assert_eq!(body["result"], "checked_in");
    assert_eq!(body["party_size"], 3);
    assert_eq!(body["performance"]["id"], id.to_string());
    assert_eq!(body["performance"]["title"], "La locandiera");
    assert!(body["performance"]["starts_at"].is_string());
    assert!(!body.to_string().contains("guest@example.org"));

    let (status, again) =
        error_code(app.check_in(&door, &json!({ "token": t.ticket })).await).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (409, Some("already_checked_in"))
    );
    assert_eq!(
        again["checked_in_at"], body["checked_in_at"],
        "reports the first check-in's time"
    );
    let (by_key, by_staff): (Option<uuid::Uuid>, Option<uuid::Uuid>) =
        sqlx::query_as("SELECT checked_in_by_api_key, checked_in_by_staff FROM reservations")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(
        by_key.is_some() && by_staff.is_none(),
        "who checked in is recorded"
    );
}

#[tokio::test]
async fn a_check_in_does_not_wait_for_its_scanners_key_row() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(soon()).await;
    let first = app.ticket_for(id, "first@example.org", 1).await;
    let second = app.ticket_for(id, "second@example.org", 1).await;
    let door = app.api_key(Role::Door).await;
    // The key is authenticated (and remembered) by a first scan.
    let ok = app.check_in(&door, &json!({ "token": first.ticket })).await;
    assert_eq!(ok.status(), 200);
    // An admin's transaction holds the key's row, as a rename or revocation does.
    let mut held = app.db.begin().await.unwrap();
    sqlx::query("SELECT id FROM api_keys FOR UPDATE")
        .fetch_all(&mut *held)
        .await
        .unwrap();
    // Recording who scanned once locked that row (a foreign key): every scan at the door
    // would have waited for the admin.
    let scan = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        app.check_in(&door, &json!({ "token": second.ticket })),
    )
    .await
    .expect("the check-in answered while the key's row was locked");
    assert_eq!(scan.status(), 200);
    held.rollback().await.unwrap();
    let scanners: Vec<Option<uuid::Uuid>> =
        sqlx::query_scalar("SELECT checked_in_by_api_key FROM reservations")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert!(scanners.iter().all(Option::is_some), "{scanners:?}");
}

#[tokio::test]
async fn the_whole_ticket_url_from_the_qr_code_is_accepted() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(soon()).await;
    let t = app.ticket_for(id, "url@example.org", 1).await;
    let door = app.api_key(Role::Admin).await;
    let url = format!("{}/t/{}", app.config.public_base_url, t.ticket);

    assert_eq!(
        app.check_in(&door, &json!({ "token": url })).await.status(),
        200
    );
}

#[tokio::test]
async fn every_refusal_of_the_contract_table_has_its_code() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(soon()).await;
    let elsewhere = app.create_performance(soon()).await;
    let far = app.create_performance(PerformanceSpec::default()).await;
    let t = app.ticket_for(id, "table@example.org", 1).await;
    let far_ticket = app.ticket_for(far, "early@example.org", 1).await;
    let door = app.api_key(Role::Door).await;

    let (s, b) = error_code(
        app.check_in(
            &door,
            &json!({ "token": t.ticket, "performance_id": elsewhere }),
        )
        .await,
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (422, Some("wrong_performance")));
    let (s, b) = error_code(
        app.check_in(&door, &json!({ "token": far_ticket.ticket }))
            .await,
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (422, Some("outside_checkin_window"))
    );
    let (s, b) = error_code(
        app.check_in(&door, &json!({ "token": "x".repeat(43) }))
            .await,
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (404, Some("unknown_ticket")));
    let (s, b) = error_code(app.check_in(&door, &json!({ "token": "nonsense" })).await).await;
    assert_eq!((s, b["error"].as_str()), (404, Some("unknown_ticket")));
    let (s, b) = error_code(app.check_in(&door, &json!({ "performance_id": id })).await).await;
    assert_eq!((s, b["error"].as_str()), (422, Some("validation_failed")));

    let anonymous = app
        .post_json("/api/v1/checkin", &json!({ "token": t.ticket }))
        .await;
    let (s, b) = error_code(anonymous).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("unauthenticated")));
    let (s, _) = error_code(
        app.check_in("not-a-key", &json!({ "token": t.ticket }))
            .await,
    )
    .await;
    assert_eq!(s, 401);
    for role in [Role::Editor, Role::Operator] {
        let key = app.api_key(role).await;
        let (s, b) = error_code(app.check_in(&key, &json!({ "token": t.ticket })).await).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (403, Some("forbidden")),
            "{role:?}"
        );
    }
    let checked_in: i64 =
        sqlx::query_scalar("SELECT count(*) FROM reservations WHERE checked_in_at IS NOT NULL")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(checked_in, 0, "no refused attempt checked anyone in");
}

#[tokio::test]
async fn a_pending_reservation_has_no_ticket_and_a_custom_window_is_honoured() {
    let app = TestApp::spawn_without_worker().await;
    let id = app
        .create_performance(PerformanceSpec {
            starts_in: chrono::Duration::minutes(90),
            extra: json!({ "checkin_opens_minutes_before": 60 }),
            ..Default::default()
        })
        .await;
    let t = app.ticket_for(id, "window@example.org", 1).await;
    let door = app.api_key(Role::Door).await;
    let (s, b) = error_code(app.check_in(&door, &json!({ "token": t.ticket })).await).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (422, Some("outside_checkin_window"))
    );

    let patched = app
        .admin_request(
            reqwest::Method::PATCH,
            &format!("/api/v1/admin/performances/{id}"),
            Some(&json!({ "checkin_opens_minutes_before": 120 })),
        )
        .await;
    assert_eq!(patched.status(), 200);
    assert_eq!(
        app.check_in(&door, &json!({ "token": t.ticket }))
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_check_ins_of_one_ticket_let_exactly_one_in() {
    let app = TestApp::spawn_with(|c| c.database.max_connections = 30).await;
    let id = app.create_performance(soon()).await;
    let t = app.ticket_for(id, "rush@example.org", 2).await;
    let door = app.api_key(Role::Door).await;
    let body = json!({ "token": t.ticket });

    let responses = futures::future::join_all((0..20).map(|_| app.check_in(&door, &body))).await;

    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_scanner_retrying_with_the_same_nonce_gets_the_original_200() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(soon()).await;
    let t = app.ticket_for(id, "retry@example.org", 1).await;
    let door = app.api_key(Role::Door).await;
    let attempt = json!({ "token": t.ticket, "nonce": "scan-42" });

    let first = app.check_in(&door, &attempt).await;
    let retry = app.check_in(&door, &attempt).await;
    let other_attempt = app
        .check_in(&door, &json!({ "token": t.ticket, "nonce": "scan-43" }))
        .await;

    assert_eq!(first.status(), 200);
    assert_eq!(retry.status(), 200);
    let (first, retry): (Value, Value) = (first.json().await.unwrap(), retry.json().await.unwrap());
    assert_eq!(first, retry);
    assert_eq!(other_attempt.status(), 409);
    let (s, _) = error_code(
        app.check_in(
            &door,
            &json!({ "token": t.ticket, "nonce": "n".repeat(65) }),
        )
        .await,
    )
    .await;
    assert_eq!(s, 422, "nonce longer than 64 characters");
}

#[tokio::test]
async fn door_staff_check_in_with_a_session_and_its_csrf_token() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(soon()).await;
    let t = app.ticket_for(id, "session@example.org", 2).await;
    let staff = app.log_in(Role::Door).await;
    assert!(!staff.csrf.is_empty());
    let post = |csrf: Option<&str>| {
        let mut req = staff
            .client
            .post(app.url("/api/v1/checkin"))
            .json(&json!({ "token": t.ticket }));
        if let Some(csrf) = csrf {
            req = req.header("X-CSRF-Token", csrf);
        }
        req.send()
    };

    assert_eq!(post(None).await.unwrap().status(), 403, "no CSRF token");
    assert_eq!(
        post(Some("forged")).await.unwrap().status(),
        403,
        "wrong CSRF token"
    );
    let checked_in = staff
        .post_json("/api/v1/checkin", &json!({ "token": t.ticket }))
        .await;
    assert_eq!(checked_in.status(), 200);
    let staff_id: Option<uuid::Uuid> =
        sqlx::query_scalar("SELECT checked_in_by_staff FROM reservations")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(staff_id.is_some());
}

#[tokio::test]
async fn the_ticket_page_offers_door_staff_a_check_in_button() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(soon()).await;
    let t = app.ticket_for(id, "button@example.org", 2).await;
    let staff = app.log_in(Role::Door).await;
    let page = staff.page(&format!("/t/{}", t.ticket)).await;
    let checkin_path = format!("/t/{}/checkin", t.ticket);
    assert!(page.attrs("form", "action").contains(&checkin_path));
    let wrong = staff
        .client
        .post(app.url(&checkin_path))
        .form(&[("csrf_token", "wrong")])
        .send()
        .await
        .unwrap();

    assert_eq!(wrong.status(), 403);
    let done = staff.post_form(&checkin_path, &[]).await;
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("Checked in: 2 people"));
    let again = staff.post_form(&checkin_path, &[]).await;
    assert_eq!(again.status(), 409);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("Already checked in at")
    );
}

#[tokio::test]
async fn the_door_page_needs_a_door_login() {
    let app = TestApp::spawn_without_worker().await;
    let anonymous = app.get("/checkin").await;
    assert_eq!(anonymous.status(), 303);
    assert!(
        anonymous.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/admin/login")
    );
    let door = app.log_in(Role::Door).await;
    let page = door.page("/checkin").await;
    assert!(!page.csrf_token().is_empty());
}
