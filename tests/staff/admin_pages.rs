//! The admin pages: capacity fields and the seat breakdown, keys and staff accounts, ticket
//! re-sending, the CSV export and the security headers of HTML responses.

use common::auth::Role;
use reqwest::Method;
use serde_json::{Value, json};
use tests::{Page, PerformanceSpec, TestApp};

#[tokio::test]
async fn an_editor_changes_capacity_fields_and_sees_no_personal_data_anywhere() {
    let app = TestApp::spawn_without_worker().await;
    let id = app
        .create_performance(PerformanceSpec {
            capacity: 30,
            ..Default::default()
        })
        .await;
    app.book(id, "visitor-private@example.org", 4).await;
    let token = app.confirmation_token("visitor-private@example.org").await;
    assert_eq!(app.confirm(&token).await.status(), 200);
    let editor = app.log_in(Role::Editor).await;
    let page_path = format!("/admin/performances/{id}");
    let room_id = editor.page(&page_path).await.attr("option", "value");

    let saved = editor
        .post_form(
            &page_path,
            &[
                ("title", "La locandiera"),
                ("room_id", &room_id),
                ("starts_at", "2031-01-10T20:00"),
                ("additional_seats", "6"),
                ("manually_occupied_seats", "2"),
                ("max_party_size", "8"),
                ("booking_status", "open"),
                ("checkin_opens_minutes_before", "90"),
                ("checkin_closes_minutes_after", "60"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);

    let api: Value = app
        .admin_request(
            Method::GET,
            &format!("/api/v1/admin/performances/{id}"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            api["additional_seats"].as_i64(),
            api["manually_occupied_seats"].as_i64()
        ),
        (Some(6), Some(2))
    );
    // The form takes Rome wall-clock time: 20:00 in January is 19:00 UTC.
    assert_eq!(api["starts_at"], "2031-01-10T19:00:00Z");
    assert_eq!(api["seats_available"], 30 + 6 - 2 - 4);
    let breakdown = editor.page(&page_path).await.text("#seat-breakdown");
    let numbers: Vec<i64> = breakdown
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(
        numbers,
        [30, 6, 2, 4, 30 + 6 - 2 - 4],
        "page breakdown matches the API: {breakdown}"
    );

    for path in [
        "/admin".to_owned(),
        "/admin/rooms".to_owned(),
        format!("/admin/performances/{id}"),
    ] {
        let html = editor.get(&path).await.text().await.unwrap();
        assert!(
            !html.contains("visitor-private") && !html.contains("Mirandolina"),
            "{path} shows personal data"
        );
    }
    let list = editor
        .get(&format!("/api/v1/admin/performances/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!list.contains("visitor-private"));
    let invalid = editor
        .post_form(
            &page_path,
            &[("additional_seats", "-5"), ("booking_status", "maybe")],
        )
        .await;
    assert_eq!(invalid.status(), 422);
    let html = Page::parse(&invalid.text().await.unwrap());
    assert!(
        html.has("#f-additional_seats-error"),
        "error next to the field"
    );
}

#[tokio::test]
async fn admins_manage_keys_and_staff_from_the_page_and_a_new_key_is_shown_once() {
    let app = TestApp::spawn_without_worker().await;
    let admin = app.log_in(Role::Admin).await;

    let created = admin
        .post_form(
            "/admin/api-keys",
            &[("label", "Scanner 2"), ("role", "door")],
        )
        .await;
    assert_eq!(created.status(), 201);
    let key = Page::parse(&created.text().await.unwrap()).text("code#new-api-key");
    assert_eq!(key.len(), 43);
    let listing = admin.get("/admin/staff").await.text().await.unwrap();
    assert!(
        listing.contains("Scanner 2") && !listing.contains(&key),
        "shown once only"
    );
    let door_call = || {
        app.client
            .get(app.url("/api/v1/checkin/performances"))
            .bearer_auth(&key)
            .send()
    };
    assert_eq!(door_call().await.unwrap().status(), 200);

    let keys: Vec<Value> = app
        .admin_request(Method::GET, "/api/v1/admin/api-keys", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        keys.iter()
            .all(|k| k.get("key").is_none() && k.get("key_hash").is_none())
    );
    let id = keys.iter().find(|k| k["label"] == "Scanner 2").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = admin
        .post_form(&format!("/admin/api-keys/{id}/revoke"), &[])
        .await;
    assert_eq!(revoked.status(), 303);
    assert_eq!(door_call().await.unwrap().status(), 401);

    let door = app.log_in(Role::Door).await;
    assert_eq!(door.get("/checkin").await.status(), 200);
    let staff: Vec<Value> = app
        .admin_request(Method::GET, "/api/v1/admin/staff", None)
        .await
        .json()
        .await
        .unwrap();
    let door_id = staff.iter().find(|s| s["role"] == "door").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let changed = admin
        .post_form(&format!("/admin/staff/{door_id}"), &[("role", "operator")])
        .await;
    assert_eq!(changed.status(), 303);
    assert_eq!(
        door.get("/checkin").await.status(),
        303,
        "a role change ends the sessions"
    );

    let new_staff = admin
        .post_form(
            "/admin/staff",
            &[
                ("email", "not-an-email"),
                ("password", "short"),
                ("role", "editor"),
            ],
        )
        .await;
    assert_eq!(new_staff.status(), 422);
    let html = Page::parse(&new_staff.text().await.unwrap());
    assert!(html.has("#f-email-error") && html.has("#f-password-error"));
}

#[tokio::test]
async fn an_admin_replaces_a_ticket_and_the_old_one_stops_working() {
    let app = TestApp::spawn_without_worker().await;
    let id = app
        .create_performance(PerformanceSpec {
            starts_in: chrono::Duration::minutes(30),
            ..Default::default()
        })
        .await;
    let first = app.ticket_for(id, "posted-online@example.org", 2).await;
    let reservation: uuid::Uuid = sqlx::query_scalar("SELECT id FROM reservations")
        .fetch_one(&app.db)
        .await
        .unwrap();

    let resent = app
        .admin_request(
            Method::POST,
            &format!("/api/v1/admin/reservations/{reservation}/resend-ticket"),
            None,
        )
        .await;

    assert_eq!(resent.status(), 202);
    // The third e-mail that is not the reminder (which may come before or after the re-send).
    let mut count = 3;
    let mail = loop {
        let mut tickets: Vec<_> = app
            .wait_for_mail("posted-online@example.org", count)
            .await
            .into_iter()
            .filter(|m| {
                !m.header("subject")
                    .unwrap_or_default()
                    .starts_with("Reminder")
            })
            .collect();
        if tickets.len() >= 3 {
            break tickets.remove(2);
        }
        count += 1;
    };
    let second = mail.token_after("/t/").unwrap();
    assert_ne!(second, first.ticket);
    let door = app.api_key(Role::Door).await;
    let old = app.check_in(&door, &json!({ "token": first.ticket })).await;
    assert_eq!(old.status(), 409);
    assert_eq!(
        app.check_in(&door, &json!({ "token": second }))
            .await
            .status(),
        200
    );
    let old_cancel = app
        .post_json(
            "/api/v1/reservations/cancel",
            &json!({ "token": first.cancel }),
        )
        .await;
    assert_eq!(
        old_cancel.status(),
        404,
        "the old cancel link is revoked too"
    );
}

#[tokio::test]
async fn the_csv_export_has_personal_data_for_admins_with_formulas_defused() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    app.post_reservation(id, &json!({ "name": "=HYPERLINK(\"http://evil\")", "email": "csv@example.org", "party_size": 1 })).await;
    let admin = app.log_in(Role::Admin).await;

    let csv = admin
        .get(&format!("/admin/performances/{id}/reservations.csv"))
        .await;

    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = csv.text().await.unwrap();
    assert!(body.starts_with("id,status,party_size,name,email"));
    assert!(body.contains("\"csv@example.org\""));
    assert!(
        body.contains("\"'=HYPERLINK(\"\"http://evil\"\")\""),
        "{body}"
    );
}

#[tokio::test]
async fn html_responses_carry_the_security_headers() {
    let app = TestApp::spawn_without_worker().await;
    for path in ["/", "/admin/login", "/reservations/confirm?token=x"] {
        let response = app.get(path).await;
        let h = response.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src") || csp.contains("default-src 'self'"));
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        let html = response.text().await.unwrap();
        assert!(!html.contains("<script>"), "no inline scripts on {path}");
    }
}
