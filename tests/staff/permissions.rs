//! Who may reach what: every admin and ops route, JSON and HTML, answers each role as the
//! permission table of the contract says.

use common::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::{PerformanceSpec, TestApp};

const ROLES: [Role; 4] = [Role::Admin, Role::Editor, Role::Door, Role::Operator];

#[tokio::test]
async fn every_admin_and_ops_json_route_answers_each_role_as_the_permission_table_says() {
    let app = TestApp::spawn_without_worker().await;
    let performance = app.create_performance(PerformanceSpec::default()).await;
    let rooms: Vec<Value> = app
        .admin_request(Method::GET, "/api/v1/admin/rooms", None)
        .await
        .json()
        .await
        .unwrap();
    let room = rooms[0]["id"].as_str().unwrap().to_owned();
    let nobody = uuid::Uuid::new_v4();
    use Role::*;
    let routes: Vec<(Method, String, Option<Value>, &[Role])> = vec![
        (
            Method::GET,
            "/api/v1/admin/rooms".into(),
            None,
            &[Admin, Editor],
        ),
        (
            Method::POST,
            "/api/v1/admin/rooms".into(),
            Some(json!({})),
            &[Admin, Editor],
        ),
        (
            Method::GET,
            format!("/api/v1/admin/rooms/{room}"),
            None,
            &[Admin, Editor],
        ),
        (
            Method::PATCH,
            format!("/api/v1/admin/rooms/{room}"),
            Some(json!({})),
            &[Admin, Editor],
        ),
        (
            Method::GET,
            "/api/v1/admin/performances".into(),
            None,
            &[Admin, Editor],
        ),
        (
            Method::POST,
            "/api/v1/admin/performances".into(),
            Some(json!({})),
            &[Admin, Editor],
        ),
        (
            Method::GET,
            format!("/api/v1/admin/performances/{performance}"),
            None,
            &[Admin, Editor],
        ),
        (
            Method::PATCH,
            format!("/api/v1/admin/performances/{performance}"),
            Some(json!({})),
            &[Admin, Editor],
        ),
        (
            Method::GET,
            format!("/api/v1/admin/performances/{performance}/reservations"),
            None,
            &[Admin],
        ),
        (
            Method::POST,
            format!("/api/v1/admin/reservations/{nobody}/resend-ticket"),
            None,
            &[Admin],
        ),
        (Method::GET, "/api/v1/admin/staff".into(), None, &[Admin]),
        (
            Method::POST,
            "/api/v1/admin/staff".into(),
            Some(json!({})),
            &[Admin],
        ),
        (
            Method::PATCH,
            format!("/api/v1/admin/staff/{nobody}"),
            Some(json!({})),
            &[Admin],
        ),
        (Method::GET, "/api/v1/admin/api-keys".into(), None, &[Admin]),
        (
            Method::POST,
            "/api/v1/admin/api-keys".into(),
            Some(json!({})),
            &[Admin],
        ),
        (
            Method::DELETE,
            format!("/api/v1/admin/api-keys/{nobody}"),
            None,
            &[Admin],
        ),
        (Method::GET, "/api/v1/admin/audit".into(), None, &[Admin]),
        (
            Method::POST,
            "/api/v1/checkin".into(),
            Some(json!({})),
            &[Admin, Door],
        ),
        (
            Method::GET,
            "/api/v1/checkin/performances".into(),
            None,
            &[Admin, Door],
        ),
        (
            Method::GET,
            "/api/v1/ops/queues".into(),
            None,
            &[Admin, Operator],
        ),
        (
            Method::POST,
            format!("/api/v1/ops/jobs/{nobody}/retry"),
            None,
            &[Admin, Operator],
        ),
        (
            Method::POST,
            format!("/api/v1/ops/jobs/{nobody}/kill"),
            None,
            &[Admin, Operator],
        ),
        (
            Method::POST,
            "/api/v1/ops/jobs/retry-failed".into(),
            None,
            &[Admin, Operator],
        ),
        (Method::GET, "/metrics".into(), None, &[Admin, Operator]),
    ];
    let mut keys = Vec::new();
    for role in ROLES {
        keys.push((Some(role), app.api_key(role).await));
    }
    let revoked = app.api_key(Admin).await;
    let mut conn = app.db.acquire().await.unwrap();
    sqlx::query("UPDATE api_keys SET revoked_at = now() WHERE key_hash = $1")
        .bind(common::token::TokenHash::of(&revoked).as_bytes())
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);

    for (method, path, body, allowed) in &routes {
        let send = |key: Option<&str>| {
            let mut req = app.client.request(method.clone(), app.url(path));
            if let Some(key) = key {
                req = req.bearer_auth(key);
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            req.send()
        };
        assert_eq!(
            send(None).await.unwrap().status(),
            401,
            "anonymous {method} {path}"
        );
        assert_eq!(
            send(Some(&revoked)).await.unwrap().status(),
            401,
            "revoked key {method} {path}"
        );
        for (role, key) in &keys {
            let role = role.unwrap();
            let status = send(Some(key)).await.unwrap().status();
            if allowed.contains(&role) {
                assert!(
                    status != 401 && status != 403 && status.as_u16() < 500,
                    "{role:?} {method} {path}: {status}"
                );
            } else {
                assert_eq!(status, 403, "{role:?} {method} {path}");
            }
        }
    }
}

#[tokio::test]
async fn every_staff_page_answers_each_role_as_the_permission_table_says() {
    let app = TestApp::spawn_without_worker().await;
    let performance = app.create_performance(PerformanceSpec::default()).await;
    use Role::*;
    let pages: Vec<(String, &[Role])> = vec![
        ("/admin/rooms".into(), &[Admin, Editor]),
        ("/admin/performances/new".into(), &[Admin, Editor]),
        (
            format!("/admin/performances/{performance}"),
            &[Admin, Editor],
        ),
        (
            format!("/admin/performances/{performance}/reservations"),
            &[Admin],
        ),
        (
            format!("/admin/performances/{performance}/reservations.csv"),
            &[Admin],
        ),
        ("/admin/staff".into(), &[Admin]),
        ("/admin/audit".into(), &[Admin]),
        ("/checkin".into(), &[Admin, Door]),
        ("/ops/queues".into(), &[Admin, Operator]),
    ];
    let mut sessions = Vec::new();
    for role in ROLES {
        sessions.push((role, app.log_in(role).await.client));
    }
    for (path, allowed) in &pages {
        let anonymous = app.get(path).await;
        assert_eq!(anonymous.status(), 303, "anonymous {path}");
        assert!(
            anonymous.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/admin/login")
        );
        for (role, client) in &sessions {
            let status = client.get(app.url(path)).send().await.unwrap().status();
            let expected = if allowed.contains(role) {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(status, expected, "{role:?} {path}");
        }
    }
    let landing = |role: Role| {
        let client = &sessions.iter().find(|(r, _)| *r == role).unwrap().1;
        client.get(app.url("/admin")).send()
    };
    assert_eq!(landing(Editor).await.unwrap().status(), 200);
    assert_eq!(
        landing(Door).await.unwrap().headers()["location"],
        "/checkin"
    );
    assert_eq!(
        landing(Operator).await.unwrap().headers()["location"],
        "/ops/queues"
    );
    let operator_key = app.api_key(Operator).await;
    let by_key = app
        .client
        .get(app.url("/ops/queues"))
        .bearer_auth(&operator_key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_key.status(),
        200,
        "the queue page takes a bearer key too"
    );
}
