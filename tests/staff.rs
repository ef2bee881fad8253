//! Staff accounts, roles and the admin pages: who may reach what, CSRF, login throttling,
//! sessions, the seat breakdown, keys, ticket re-sending, CSV and the audit log.

use common::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::{PerformanceSpec, TestApp, app::csrf_in};

const ROLES: [Role; 4] = [Role::Admin, Role::Editor, Role::Door, Role::Operator];

#[tokio::test]
async fn every_admin_and_ops_json_route_answers_each_role_as_the_permission_table_says() {
    let app = TestApp::spawn().await;
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
    let app = TestApp::spawn().await;
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
        sessions.push((role, app.log_in(role).await.0));
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

#[tokio::test]
async fn form_posts_without_or_with_a_wrong_csrf_token_change_nothing() {
    let app = TestApp::spawn().await;
    let (editor, csrf) = app.log_in(Role::Editor).await;
    let post = |token: Option<&str>| {
        let mut form = vec![("name", "Sala Nuova"), ("capacity", "40")];
        if let Some(token) = token {
            form.push(("csrf_token", token));
        }
        editor.post(app.url("/admin/rooms")).form(&form).send()
    };
    let rooms = || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM rooms")
            .fetch_one(&app.db)
            .await
            .unwrap();
        n
    };

    assert_eq!(post(None).await.unwrap().status(), 403);
    assert_eq!(post(Some("forged")).await.unwrap().status(), 403);
    let (other, other_csrf) = app.log_in(Role::Editor).await;
    drop(other);
    assert_eq!(
        post(Some(&other_csrf)).await.unwrap().status(),
        403,
        "another session's token"
    );
    assert_eq!(rooms().await, 0);
    assert_eq!(post(Some(&csrf)).await.unwrap().status(), 303);
    assert_eq!(rooms().await, 1);

    let json_without = editor
        .post(app.url("/api/v1/admin/rooms"))
        .json(&json!({ "name": "X", "capacity": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_without.status(),
        403,
        "JSON with a session needs X-CSRF-Token"
    );
    let json_with = editor
        .post(app.url("/api/v1/admin/rooms"))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({ "name": "X", "capacity": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(json_with.status(), 201);
}

async fn log_in_raw(
    app: &TestApp,
    email: &str,
    password: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/admin/login"))
        .form(&[("email", email), ("password", password)]);
    if let Some(cookie) = cookie {
        req = req.header("Cookie", format!("azione_session={cookie}"));
    }
    req.send().await.unwrap()
}

fn session_cookie(response: &reqwest::Response) -> String {
    let set = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"),
        "{set}"
    );
    set.split(';')
        .next()
        .unwrap()
        .trim_start_matches("azione_session=")
        .to_owned()
}

#[tokio::test]
async fn the_session_id_changes_at_login_and_logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let (email, password) = app.create_staff(Role::Editor).await;
    let first = session_cookie(&log_in_raw(&app, &email, &password, None).await);
    let second = session_cookie(&log_in_raw(&app, &email, &password, Some(&first)).await);
    assert_ne!(first, second);
    let with_cookie = |cookie: String| {
        app.client
            .get(app.url("/admin/rooms"))
            .header("Cookie", format!("azione_session={cookie}"))
            .send()
    };
    assert_eq!(
        with_cookie(first.clone()).await.unwrap().status(),
        303,
        "the pre-login session is gone"
    );
    let page = with_cookie(second.clone()).await.unwrap();
    assert_eq!(page.status(), 200);
    let csrf = csrf_in(&page.text().await.unwrap());

    let logout = app
        .client
        .post(app.url("/admin/logout"))
        .header("Cookie", format!("azione_session={second}"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();

    assert_eq!(logout.status(), 303);
    assert!(
        logout.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        with_cookie(second).await.unwrap().status(),
        303,
        "the session ended"
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM staff_sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn cookies_are_secure_when_the_site_is_https() {
    let app =
        TestApp::spawn_with(|c| c.public_base_url = "https://tickets.example.org".into()).await;
    let (email, password) = app.create_staff(Role::Editor).await;
    let response = log_in_raw(&app, &email, &password, None).await;
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );
}

#[tokio::test]
async fn logins_are_throttled_per_account_and_unknown_accounts_look_like_wrong_passwords() {
    let app = TestApp::spawn().await;
    let (email, password) = app.create_staff(Role::Admin).await;
    let wrong = log_in_raw(&app, &email, "not the password", None).await;
    let unknown = log_in_raw(&app, "nobody@staff.test", "not the password", None).await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    let message = |html: String| {
        html.split("role=\"alert\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        message(wrong.text().await.unwrap()),
        message(unknown.text().await.unwrap())
    );

    for _ in 0..4 {
        assert_eq!(
            log_in_raw(&app, &email, "still wrong", None).await.status(),
            401
        );
    }
    let locked = log_in_raw(&app, &email.to_uppercase(), &password, None).await;

    assert_eq!(
        locked.status(),
        429,
        "the right password is refused once the account is locked"
    );
    assert!(locked.headers().contains_key("retry-after"));
    let (other, other_password) = app.create_staff(Role::Editor).await;
    assert_eq!(
        log_in_raw(&app, &other, &other_password, None)
            .await
            .status(),
        303,
        "other accounts are unaffected"
    );
}

#[tokio::test]
async fn logins_are_throttled_per_client_address() {
    let app = TestApp::spawn_with(|c| c.booking.rate_limit_per_minute = 3).await;
    let (email, password) = app.create_staff(Role::Admin).await;
    for _ in 0..3 {
        log_in_raw(&app, "someone@staff.test", "guess", None).await;
    }
    assert_eq!(
        log_in_raw(&app, &email, &password, None).await.status(),
        429
    );
}

#[tokio::test]
async fn an_editor_changes_capacity_fields_and_sees_no_personal_data_anywhere() {
    let app = TestApp::spawn().await;
    let id = app
        .create_performance(PerformanceSpec {
            capacity: 30,
            ..Default::default()
        })
        .await;
    app.book(id, "visitor-private@example.org", 4).await;
    let token = app.confirmation_token("visitor-private@example.org").await;
    assert_eq!(app.confirm(&token).await.status(), 200);
    let (editor, csrf) = app.log_in(Role::Editor).await;
    let page = editor
        .get(app.url(&format!("/admin/performances/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let room_id = page
        .split(r#"<option value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    let saved = editor
        .post(app.url(&format!("/admin/performances/{id}")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("title", "La locandiera"),
            ("room_id", &room_id),
            ("starts_at", "2031-01-10T20:00"),
            ("additional_seats", "6"),
            ("manually_occupied_seats", "2"),
            ("max_party_size", "8"),
            ("booking_status", "open"),
            ("checkin_opens_minutes_before", "90"),
            ("checkin_closes_minutes_after", "60"),
        ])
        .send()
        .await
        .unwrap();
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
    let page = editor
        .get(app.url(&format!("/admin/performances/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let breakdown = page
        .split(r#"id="seat-breakdown">"#)
        .nth(1)
        .unwrap()
        .split("</p>")
        .next()
        .unwrap();
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
        let html = editor
            .get(app.url(&path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !html.contains("visitor-private") && !html.contains("Mirandolina"),
            "{path} shows personal data"
        );
    }
    let list = editor
        .get(app.url(&format!("/api/v1/admin/performances/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!list.contains("visitor-private"));
    let invalid = editor
        .post(app.url(&format!("/admin/performances/{id}")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("additional_seats", "-5"),
            ("booking_status", "maybe"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
    let html = invalid.text().await.unwrap();
    assert!(
        html.contains(r#"id="f-additional_seats-error""#),
        "error next to the field"
    );
}

#[tokio::test]
async fn admins_manage_keys_and_staff_from_the_page_and_a_new_key_is_shown_once() {
    let app = TestApp::spawn().await;
    let (admin, csrf) = app.log_in(Role::Admin).await;

    let created = admin
        .post(app.url("/admin/api-keys"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("label", "Scanner 2"),
            ("role", "door"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let html = created.text().await.unwrap();
    let key = html
        .split(r#"<code id="new-api-key">"#)
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(key.len(), 43);
    let listing = admin
        .get(app.url("/admin/staff"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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
        .post(app.url(&format!("/admin/api-keys/{id}/revoke")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 303);
    assert_eq!(door_call().await.unwrap().status(), 401);

    let (door, _) = app.log_in(Role::Door).await;
    assert_eq!(
        door.get(app.url("/checkin")).send().await.unwrap().status(),
        200
    );
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
        .post(app.url(&format!("/admin/staff/{door_id}")))
        .form(&[("csrf_token", csrf.as_str()), ("role", "operator")])
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 303);
    assert_eq!(
        door.get(app.url("/checkin")).send().await.unwrap().status(),
        303,
        "a role change ends the sessions"
    );

    let new_staff = admin
        .post(app.url("/admin/staff"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", "not-an-email"),
            ("password", "short"),
            ("role", "editor"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(new_staff.status(), 422);
    let html = new_staff.text().await.unwrap();
    assert!(html.contains(r#"id="f-email-error""#) && html.contains(r#"id="f-password-error""#));
}

#[tokio::test]
async fn an_admin_replaces_a_ticket_and_the_old_one_stops_working() {
    let app = TestApp::spawn().await;
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
    let mail = app
        .wait_for_mail("posted-online@example.org", 3)
        .await
        .remove(2);
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
    let app = TestApp::spawn().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    app.post_reservation(id, &json!({ "name": "=HYPERLINK(\"http://evil\")", "email": "csv@example.org", "party_size": 1 })).await;
    let (admin, _) = app.log_in(Role::Admin).await;

    let csv = admin
        .get(app.url(&format!("/admin/performances/{id}/reservations.csv")))
        .send()
        .await
        .unwrap();

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
async fn the_audit_log_records_who_changed_what_without_personal_data() {
    let app = TestApp::spawn().await;
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

#[tokio::test]
async fn html_responses_carry_the_security_headers() {
    let app = TestApp::spawn().await;
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

#[tokio::test]
async fn sessions_end_after_idle_time_and_after_their_lifetime() {
    let app = TestApp::spawn().await;
    let url = app.url("/admin/rooms");
    let rooms = |client: reqwest::Client| {
        let url = url.clone();
        async move { client.get(url).send().await.unwrap().status() }
    };
    let (idle, _) = app.log_in(Role::Editor).await;
    assert_eq!(rooms(idle.clone()).await, 200);
    sqlx::query("UPDATE staff_sessions SET last_seen_at = now() - make_interval(secs => $1 + 1)")
        .bind(app.config.http.session_idle_timeout.as_secs_f64())
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(rooms(idle).await, 303, "idle too long");

    let (old, _) = app.log_in(Role::Editor).await;
    assert_eq!(rooms(old.clone()).await, 200);
    sqlx::query("UPDATE staff_sessions SET expires_at = now() - interval '1 second'")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(rooms(old).await, 303, "past its lifetime, however active");
}
