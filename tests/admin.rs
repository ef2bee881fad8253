use common::auth::Role;
use reqwest::Method;
use serde_json::{Value, json};
use tests::{PerformanceSpec, TestApp};

#[tokio::test]
async fn rooms_and_performances_are_created_read_back_and_patched() {
    let app = TestApp::spawn_without_worker().await;
    let room = app
        .admin_request(
            Method::POST,
            "/api/v1/admin/rooms",
            Some(&json!({ "name": "Sala Grande", "capacity": 80 })),
        )
        .await;
    assert_eq!(room.status(), 201);
    let room: Value = room.json().await.unwrap();
    assert_eq!(room["capacity"], 80);

    let created = app
        .admin_request(
            Method::POST,
            "/api/v1/admin/performances",
            Some(&json!({ "title": "Arlecchino", "room_id": room["id"], "starts_at": "2030-05-01T19:30:00Z" })),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["additional_seats"], 0);
    assert_eq!(created["manually_occupied_seats"], 0);
    assert_eq!(created["max_party_size"], 10);
    assert_eq!(created["booking_status"], "scheduled");
    assert_eq!(created["checkin_opens_minutes_before"], 120);
    assert_eq!(created["checkin_closes_minutes_after"], 180);
    assert_eq!(created["starts_at"], "2030-05-01T19:30:00Z");
    let path = format!(
        "/api/v1/admin/performances/{}",
        created["id"].as_str().unwrap()
    );

    let patched = app
        .admin_request(
            Method::PATCH,
            &path,
            Some(&json!({ "additional_seats": 5, "manually_occupied_seats": 3, "booking_status": "open" })),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let read_back: Value = app
        .admin_request(Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read_back["seats_available"], 82);
    assert_eq!(read_back["booking_status"], "open");
    assert_eq!(read_back["title"], "Arlecchino");
}

#[tokio::test]
async fn invalid_admin_input_is_refused_field_by_field() {
    let app = TestApp::spawn_without_worker().await;
    let bad_room = app
        .admin_request(
            Method::POST,
            "/api/v1/admin/rooms",
            Some(&json!({ "name": "", "capacity": -1, "x": 1 })),
        )
        .await;
    assert_eq!(bad_room.status(), 422);
    let error: Value = bad_room.json().await.unwrap();
    for field in ["name", "capacity", "x"] {
        assert!(error["fields"][field].is_string(), "{field}");
    }

    let bad_performance = app
        .admin_request(
            Method::POST,
            "/api/v1/admin/performances",
            Some(
                &json!({ "title": "T", "room_id": uuid::Uuid::new_v4(), "starts_at": "tomorrow",
                          "booking_status": "maybe", "max_party_size": 0 }),
            ),
        )
        .await;
    assert_eq!(bad_performance.status(), 422);
    let error: Value = bad_performance.json().await.unwrap();
    for field in ["starts_at", "booking_status", "max_party_size"] {
        assert!(error["fields"][field].is_string(), "{field}");
    }
}

#[tokio::test]
async fn the_reservation_list_with_personal_data_is_for_admins_only() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    app.book(id, "private@example.org", 2).await;
    let path = format!("/api/v1/admin/performances/{id}/reservations");

    let as_admin = app.admin_request(Method::GET, &path, None).await;
    assert_eq!(as_admin.status(), 200);
    let list: Vec<Value> = as_admin.json().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["email"], "private@example.org");
    assert_eq!(list[0]["party_size"], 2);

    for role in [Role::Editor, Role::Door, Role::Operator] {
        let key = app.api_key(role).await;
        let response = app
            .client
            .get(app.url(&path))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{role:?}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["error"],
            "forbidden"
        );
    }
    let anonymous = app.get(&path).await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.json::<Value>().await.unwrap()["error"],
        "unauthenticated"
    );
    let bad_key = app
        .client
        .get(app.url(&path))
        .bearer_auth("not-a-key")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status(), 401);
}

#[tokio::test]
async fn editors_manage_the_catalogue_but_door_and_operator_keys_cannot() {
    let app = TestApp::spawn_without_worker().await;
    let body = json!({ "name": "Studio", "capacity": 20 });
    let editor = app.api_key(Role::Editor).await;
    let created = app
        .client
        .post(app.url("/api/v1/admin/rooms"))
        .bearer_auth(&editor)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    for role in [Role::Door, Role::Operator] {
        let key = app.api_key(role).await;
        let response = app
            .client
            .post(app.url("/api/v1/admin/rooms"))
            .bearer_auth(&key)
            .json(&json!({ "name": format!("{role:?}"), "capacity": 1 }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{role:?}");
    }
}

#[tokio::test]
async fn a_revoked_key_is_refused() {
    let app = TestApp::spawn_without_worker().await;
    let key = app.api_key(Role::Editor).await;
    let mut conn = app.db.acquire().await.unwrap();
    let keys = common::auth::list_api_keys(&mut conn).await.unwrap();
    let editor = keys.iter().find(|k| k.role == Role::Editor).unwrap();
    assert!(
        common::auth::revoke_api_key(&mut conn, editor.id)
            .await
            .unwrap()
    );

    let response = app
        .client
        .get(app.url("/api/v1/admin/rooms"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 401);
}
