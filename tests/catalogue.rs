use serde_json::Value;
use tests::{PerformanceSpec, TestApp};

#[tokio::test]
async fn upcoming_performances_are_listed_soonest_first_with_seats_and_status() {
    let app = TestApp::spawn_without_worker().await;
    let later = app
        .create_performance(PerformanceSpec {
            starts_in: chrono::Duration::days(9),
            ..Default::default()
        })
        .await;
    let sooner = app
        .create_performance(PerformanceSpec {
            capacity: 30,
            booking_status: "scheduled",
            starts_in: chrono::Duration::days(2),
            ..Default::default()
        })
        .await;
    app.create_performance(PerformanceSpec {
        starts_in: chrono::Duration::hours(-1),
        ..Default::default()
    })
    .await;

    let response = app.get("/api/v1/performances").await;

    assert_eq!(response.status(), 200);
    let list: Vec<Value> = response.json().await.unwrap();
    assert_eq!(list.len(), 2, "the started performance is not listed");
    assert_eq!(list[0]["id"], sooner.to_string());
    assert_eq!(list[0]["booking_status"], "scheduled");
    assert_eq!(list[0]["seats_available"], 30);
    assert_eq!(list[1]["id"], later.to_string());
    assert_eq!(list[1]["booking_status"], "open");
    let keys: Vec<&str> = list[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "booking_status",
            "id",
            "room",
            "seats_available",
            "starts_at",
            "title"
        ]
    );
    assert!(
        list[0]["starts_at"].as_str().unwrap().ends_with('Z'),
        "RFC 3339 UTC"
    );
}

#[tokio::test]
async fn one_performance_is_shown_and_unknown_ids_are_404() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(PerformanceSpec::default()).await;

    let found = app.get(&format!("/api/v1/performances/{id}")).await;
    let missing = app
        .get(&format!("/api/v1/performances/{}", uuid::Uuid::new_v4()))
        .await;
    let garbage = app.get("/api/v1/performances/not-an-id").await;

    assert_eq!(found.status(), 200);
    let body: Value = found.json().await.unwrap();
    assert_eq!(body["title"], "La locandiera");
    assert_eq!(body["max_party_size"], 10);
    for response in [missing, garbage] {
        assert_eq!(response.status(), 404);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "not_found");
    }
}

#[tokio::test]
async fn a_performance_stops_taking_bookings_when_it_starts() {
    let app = TestApp::spawn_without_worker().await;
    let started = app
        .create_performance(PerformanceSpec {
            starts_in: chrono::Duration::minutes(-5),
            ..Default::default()
        })
        .await;

    let body: Value = app
        .get(&format!("/api/v1/performances/{started}"))
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(body["booking_status"], "closed");
}

#[tokio::test]
async fn pages_list_performances_and_escape_what_staff_typed() {
    let app = TestApp::spawn_without_worker().await;
    let id = app
        .create_performance(PerformanceSpec {
            extra: serde_json::json!({ "title": "<script>alert(1)</script>" }),
            ..Default::default()
        })
        .await;

    let index = app.get("/").await;
    assert_eq!(index.status(), 200);
    assert!(
        index.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    let html = index.text().await.unwrap();
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains(&format!("/performances/{id}")));

    let page = app
        .get(&format!("/performances/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<form class="stack" method="post" action="/performances/"#));
    for field in ["name", "email", "phone", "party_size", "notes"] {
        assert!(
            page.contains(&format!(r#"<label for="{field}">"#)),
            "label for {field}"
        );
    }
}
