//! Staff sessions: login and its throttling, the session cookie, logout, idle and absolute
//! expiry, and the CSRF token every state-changing session request needs.

use common::auth::Role;
use serde_json::json;
use tests::{Page, TestApp};

#[tokio::test]
async fn form_posts_without_or_with_a_wrong_csrf_token_change_nothing() {
    let app = TestApp::spawn_without_worker().await;
    let editor = app.log_in(Role::Editor).await;
    let post = |token: Option<&str>| {
        let mut form = vec![("name", "Sala Nuova"), ("capacity", "40")];
        if let Some(token) = token {
            form.push(("csrf_token", token));
        }
        editor
            .client
            .post(app.url("/admin/rooms"))
            .form(&form)
            .send()
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
    let other = app.log_in(Role::Editor).await;
    assert_eq!(
        post(Some(&other.csrf)).await.unwrap().status(),
        403,
        "another session's token"
    );
    assert_eq!(rooms().await, 0);
    assert_eq!(post(Some(&editor.csrf)).await.unwrap().status(), 303);
    assert_eq!(rooms().await, 1);

    let json_without = editor
        .client
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
        .post_json(
            "/api/v1/admin/rooms",
            &json!({ "name": "X", "capacity": 1 }),
        )
        .await;
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
    let app = TestApp::spawn_without_worker().await;
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
    let csrf = Page::parse(&page.text().await.unwrap()).csrf_token();

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
    let app = TestApp::spawn_without_worker().await;
    let (email, password) = app.create_staff(Role::Admin).await;
    let wrong = log_in_raw(&app, &email, "not the password", None).await;
    let unknown = log_in_raw(&app, "nobody@staff.test", "not the password", None).await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    let message = |html: String| Page::parse(&html).text(r#"[role="alert"]"#);
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
    let app = TestApp::spawn_with(|c| c.rate_limit.per_minute = 3).await;
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
async fn sessions_end_after_idle_time_and_after_their_lifetime() {
    let app = TestApp::spawn_without_worker().await;
    let url = app.url("/admin/rooms");
    let rooms = |client: reqwest::Client| {
        let url = url.clone();
        async move { client.get(url).send().await.unwrap().status() }
    };
    let idle = app.log_in(Role::Editor).await.client;
    assert_eq!(rooms(idle.clone()).await, 200);
    sqlx::query("UPDATE staff_sessions SET last_seen_at = now() - make_interval(secs => $1 + 1)")
        .bind(app.config.http.session_idle_timeout.as_secs_f64())
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(rooms(idle).await, 303, "idle too long");

    let old = app.log_in(Role::Editor).await.client;
    assert_eq!(rooms(old.clone()).await, 200);
    sqlx::query("UPDATE staff_sessions SET expires_at = now() - interval '1 second'")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(rooms(old).await, 303, "past its lifetime, however active");
}
