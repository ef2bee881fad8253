//! The audit log: who changed what, without personal data.

use common::auth::Role;
use reqwest::Method;
use serde_json::{Value, json};
use tests::{PerformanceSpec, TestApp};

#[tokio::test]
async fn the_audit_log_records_who_changed_what_without_personal_data() {
    let app = TestApp::spawn_without_worker().await;
    let id = app
        .create_performance(PerformanceSpec {
            starts_in: chrono::Duration::minutes(30),
            ..Default::default()
        })
        .await;
    let t = app.ticket_for(id, "audited@example.org", 1).await;
    app.admin_request(
        Method::PATCH,
        &format!("/api/v1/admin/performances/{id}"),
        Some(&json!({ "additional_seats": 3, "booking_status": "closed" })),
    )
    .await;
    app.admin_request(
        Method::POST,
        "/api/v1/admin/api-keys",
        Some(&json!({ "role": "door", "label": "gate" })),
    )
    .await;
    app.admin_request(Method::POST, "/api/v1/admin/staff", Some(&json!({ "email": "newbie@staff.test", "role": "editor", "password": "long enough pw" }))).await;
    let door = app.api_key(Role::Door).await;
    assert_eq!(
        app.check_in(&door, &json!({ "token": t.ticket }))
            .await
            .status(),
        200
    );

    let entries: Vec<Value> = app
        .admin_request(Method::GET, "/api/v1/admin/audit", None)
        .await
        .json()
        .await
        .unwrap();

    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "room.create",
        "performance.create",
        "performance.update",
        "api_key.create",
        "staff.create",
        "checkin",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    let update = entries
        .iter()
        .find(|e| e["action"] == "performance.update")
        .unwrap();
    assert_eq!(update["details"]["additional_seats"], json!([0, 3]));
    assert_eq!(
        update["details"]["booking_status"],
        json!(["open", "closed"])
    );
    assert!(update["actor"].as_str().unwrap().starts_with("key:"));
    let text = serde_json::to_string(&entries).unwrap();
    assert!(
        !text.contains("audited@example.org")
            && !text.contains("newbie@staff.test")
            && !text.contains("long enough pw")
    );
}
