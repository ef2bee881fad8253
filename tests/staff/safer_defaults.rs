//! Safer staff defaults: the least powerful role preselected and explained, a confirmed "New
//! ticket", "Saved" after a save, cleared required fields refused, no audit entry without a
//! change, people named in the audit log, and no Check in button on a ticket that cannot be.

use common::auth::Role;
use reqwest::Method;
use serde_json::json;
use tests::{Page, PerformanceSpec, TestApp};

#[tokio::test]
async fn new_staff_users_and_keys_default_to_door_with_the_roles_explained() {
    let app = TestApp::spawn_without_worker().await;
    let admin = app.log_in(Role::Admin).await;
    let page = admin.page("/admin/staff").await;
    for select in ["#staff-role", "#key-role"] {
        assert_eq!(
            page.attr(&format!("{select} option[selected]"), "value"),
            "door",
            "{select}"
        );
        let help = page.text(&format!("{select}-help"));
        for role in ["door", "operator", "editor", "admin"] {
            assert!(help.contains(role), "{select} explains {role}: {help}");
        }
    }
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_save_says_saved_a_cleared_title_is_refused_and_only_changes_are_audited() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    let editor = app.log_in(Role::Editor).await;
    let path = format!("/admin/performances/{id}");
    let form = editor.page(&path).await;
    let room_id = form.attr("#f-room_id option[selected]", "value");
    let starts_at = form.attr("#f-starts_at", "value");
    let fields = |title: &'static str, seats: &'static str| {
        vec![
            ("title", title),
            ("room_id", room_id.as_str()),
            ("starts_at", starts_at.as_str()),
            ("additional_seats", seats),
            ("booking_status", "open"),
        ]
    };

    // The first save drops the seconds of the start time; saving the same form again changes
    // nothing.
    let first = editor.post_form(&path, &fields("La locandiera", "0")).await;
    assert_eq!(first.status(), 303);
    let baseline = audit_count(&app, "performance.update").await;
    let unchanged = editor.post_form(&path, &fields("La locandiera", "0")).await;
    assert_eq!(unchanged.status(), 303);
    let location = unchanged.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("{path}?saved=1"));
    assert_eq!(editor.page(&location).await.text(".notice.ok"), "Saved.");
    assert!(
        !editor.page(&path).await.has(".notice.ok"),
        "only right after a save"
    );
    assert_eq!(
        audit_count(&app, "performance.update").await,
        baseline,
        "no change, no audit entry"
    );

    let cleared = editor.post_form(&path, &fields("", "3")).await;
    assert_eq!(cleared.status(), 422);
    let page = Page::parse(&cleared.text().await.unwrap());
    assert!(
        page.has("#f-title-error"),
        "the cleared title is a field error"
    );
    assert_eq!(audit_count(&app, "performance.update").await, baseline);

    let changed = editor.post_form(&path, &fields("Arlecchino", "3")).await;
    assert_eq!(changed.status(), 303);
    assert_eq!(audit_count(&app, "performance.update").await, baseline + 1);

    let rooms = app
        .admin_request(Method::GET, "/api/v1/admin/rooms", None)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let room = &rooms.as_array().unwrap()[0];
    let same = app
        .admin_request(
            Method::PATCH,
            &format!("/api/v1/admin/rooms/{}", room["id"].as_str().unwrap()),
            Some(&json!({ "capacity": room["capacity"] })),
        )
        .await;
    assert_eq!(same.status(), 200);
    assert_eq!(audit_count(&app, "room.update").await, 0);

    let admin = app.log_in(Role::Admin).await;
    let log = admin
        .page("/admin/audit")
        .await
        .texts("tbody tr td:nth-child(2)");
    assert!(log.contains(&editor.email), "the editor by e-mail: {log:?}");
    assert!(
        log.iter().any(|who| who == "key: tests"),
        "the API key by label: {log:?}"
    );
    assert!(!log.iter().any(|who| who.starts_with("staff:")), "{log:?}");
}

#[tokio::test]
async fn new_ticket_asks_first_and_the_ticket_page_hides_check_in_once_used() {
    let app = TestApp::spawn_without_worker().await;
    let id = app
        .create_performance(PerformanceSpec {
            starts_in: chrono::Duration::minutes(30),
            ..Default::default()
        })
        .await;
    let t = app.ticket_for(id, "asked@example.org", 1).await;
    let admin = app.log_in(Role::Admin).await;
    let list = admin
        .page(&format!("/admin/performances/{id}/reservations"))
        .await;
    assert!(
        list.has("details.confirm form button"),
        "behind a disclosure"
    );
    assert!(
        list.text("details.confirm p").contains("stop working"),
        "says what happens"
    );

    let door = app.log_in(Role::Door).await;
    let ticket_path = format!("/t/{}", t.ticket);
    assert!(
        door.page(&ticket_path)
            .await
            .has("form[action$='/checkin']")
    );
    let done = door.post_form(&format!("{ticket_path}/checkin"), &[]).await;
    assert_eq!(done.status(), 200);
    assert!(
        !door
            .page(&ticket_path)
            .await
            .has("form[action$='/checkin']"),
        "no Check in on a used ticket"
    );
}
