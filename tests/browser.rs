//! The two paths a person takes in a real headless Chromium: a visitor books and confirms,
//! and door staff check a ticket in by typing its code.

use common::auth::Role;
use tests::{PerformanceSpec, TestApp, browser::Browser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_books_on_the_site_and_confirms_from_the_email_link() {
    let app = TestApp::spawn().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    let browser = Browser::start().await;

    browser.goto(&app.url("/")).await;
    browser
        .click(&format!(r#"a[href="/performances/{id}"]"#))
        .await;
    browser.type_into("#name", "Ortensia").await;
    browser.type_into("#email", "ortensia@example.org").await;
    browser.type_into("#party_size", "2").await;
    browser.screenshot("booking-form").await;
    browser.click("form.stack button[type=submit]").await;
    browser.wait_for_text("h1", "Check your e-mail").await;

    let token = app.confirmation_token("ortensia@example.org").await;
    browser
        .goto(&format!(
            "{}/reservations/confirm?token={token}",
            app.config.public_base_url
        ))
        .await;
    browser.wait_for_text("h1", "Confirm your booking").await;
    let status: String = sqlx::query_scalar("SELECT status FROM reservations")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "pending", "opening the link confirms nothing");
    browser.click("form button[type=submit]").await;
    browser.wait_for_text("h1", "Booking confirmed").await;
    browser.screenshot("booking-confirmed").await;

    let status: String = sqlx::query_scalar("SELECT status FROM reservations")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "confirmed");
    assert_eq!(app.seats_available(id).await, 48);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn door_staff_log_in_check_a_ticket_in_by_code_and_see_the_duplicate_warning() {
    let app = TestApp::spawn().await;
    let id = app
        .create_performance(PerformanceSpec {
            starts_in: chrono::Duration::minutes(30),
            ..Default::default()
        })
        .await;
    let ticket = app.ticket_for(id, "doorway@example.org", 3).await;
    let password = "door staff password";
    let mut conn = app.db.acquire().await.unwrap();
    let hash = common::auth::hash_password(password).unwrap();
    common::auth::insert_staff_user(&mut conn, "door@azionelab.test", Role::Door, &hash)
        .await
        .unwrap();
    drop(conn);
    let browser = Browser::start().await;

    browser.goto(&app.url("/checkin")).await;
    assert!(
        browser.current_url().await.contains("/admin/login"),
        "the door page asks for a login"
    );
    submit_login(&browser, "door@azionelab.test", password).await;
    browser.wait_for_text("#result .title", "Ready").await;
    browser.wait_for_text("#counts", "0 of 3 people").await;

    browser.type_into("#code", &ticket.ticket).await;
    browser.click("#manual button[type=submit]").await;
    let welcome = browser.wait_for_text("#result .title", "Welcome").await;
    assert!(welcome.contains("3 people"));
    assert!(
        !browser.element("#result.ok").await.is_empty(),
        "shown in green"
    );
    browser.wait_for_text("#counts", "3 of 3 people").await;
    browser.screenshot("door-checked-in").await;

    browser
        .type_into(
            "#code",
            &format!("{}/t/{}", app.config.public_base_url, ticket.ticket),
        )
        .await;
    browser.click("#manual button[type=submit]").await;
    let duplicate = browser
        .wait_for_text("#result .title", "Already checked in at")
        .await;
    assert!(
        !browser.element("#result.error").await.is_empty(),
        "shown in red"
    );
    let checked_in_at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT checked_in_at FROM reservations")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let local = common::time::clock(checked_in_at, common::time::DEFAULT_TIMEZONE);
    assert!(
        duplicate.contains(&local),
        "{duplicate}: the theatre's clock ({local}), not the device's"
    );
    browser.screenshot("door-duplicate").await;

    browser.type_into("#code", "NOT-A-TICKET").await;
    browser.click("#manual button[type=submit]").await;
    browser
        .wait_for_text("#result .title", "Unknown ticket")
        .await;
}

/// Fills in and sends the login form the browser is on.
async fn submit_login(browser: &Browser, email: &str, password: &str) {
    browser.type_into("#email", email).await;
    browser.type_into("#password", password).await;
    browser.click("form.stack button[type=submit]").await;
}

/// Logs staff in through the login page and waits for the page it leads to.
async fn log_in(browser: &Browser, app: &TestApp, email: &str, password: &str) {
    browser.goto(&app.url("/admin/login")).await;
    submit_login(browser, email, password).await;
    browser.wait_for_text("h1", "").await;
}

/// What a phone shows of a staff page: no sideways scrolling of the page itself, and every
/// control at least 44 px tall. Returns a description of each problem.
const PHONE_CHECK: &str = r#"
const problems = [];
const root = document.documentElement;
if (root.scrollWidth > window.innerWidth) {
  problems.push(`page is ${root.scrollWidth}px wide in a ${window.innerWidth}px window`);
}
for (const el of document.querySelectorAll('button, select, input:not([type=hidden]), summary, header a')) {
  const box = el.getBoundingClientRect();
  if (box.width > 0 && box.height < 44) {
    problems.push(`${el.tagName.toLowerCase()} "${(el.textContent || el.name || '').trim().slice(0, 30)}" is ${box.height}px tall`);
  }
}
return problems;"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_staff_page_fits_a_phone_without_sideways_scrolling() {
    let app = TestApp::spawn_without_worker().await;
    let id = app
        .create_performance(PerformanceSpec {
            starts_in: chrono::Duration::minutes(30),
            ..Default::default()
        })
        .await;
    let long = "a-rather-long-address-for-a-narrow-screen@example.org";
    let ticket = app.ticket_for(id, long, 2).await;
    let (email, password) = app.create_staff(Role::Admin).await;
    let browser = Browser::start().await;
    browser.set_size(390, 844).await;
    log_in(&browser, &app, &email, &password).await;

    let mut problems = Vec::new();
    for path in [
        "/admin".to_owned(),
        "/admin/rooms".to_owned(),
        "/admin/performances/new".to_owned(),
        format!("/admin/performances/{id}"),
        format!("/admin/performances/{id}/reservations"),
        format!("/admin/performances/{id}/waitlist"),
        "/admin/staff".to_owned(),
        "/admin/audit".to_owned(),
        "/ops/queues".to_owned(),
        "/checkin".to_owned(),
        format!("/t/{}", ticket.ticket),
    ] {
        browser.goto(&app.url(&path)).await;
        browser.element("main").await;
        let found = browser.run_script(PHONE_CHECK).await;
        for problem in found.as_array().into_iter().flatten() {
            problems.push(format!("{path}: {}", problem.as_str().unwrap_or_default()));
        }
        browser
            .screenshot(&format!("phone{}", path.replace('/', "-")))
            .await;
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_core_finds_no_serious_violation_on_public_door_or_staff_pages_in_both_languages_at_phone_and_desktop_size()
 {
    let app = TestApp::spawn_without_worker().await;
    let id = app
        .create_performance(PerformanceSpec {
            starts_in: chrono::Duration::minutes(30),
            ..Default::default()
        })
        .await;
    let ticket = app.ticket_for(id, "axe@example.org", 2).await;
    app.book(id, "pending@example.org", 1).await;
    let confirm = app.confirmation_token("pending@example.org").await;
    // A full performance: its page offers the waiting list; its e-mailed links open pages too.
    let full = app.create_performance(crate::waitlist::full_room(1)).await;
    let holder = app.ticket_for(full, "holder@example.org", 1).await;
    assert_eq!(
        crate::waitlist::join(&app, full, "waiting@example.org", 1)
            .await
            .status(),
        202
    );
    app.run_pending_jobs().await;
    let joined = app.wait_for_mail("waiting@example.org", 1).await.remove(0);
    let waitlist_confirm = joined
        .token_after("/waitlist/confirm?token=")
        .expect("confirm link");
    let waitlist_leave = joined
        .token_after("/waitlist/leave?token=")
        .expect("leave link");
    let (email, password) = app.create_staff(Role::Admin).await;
    let public = [
        "/".to_owned(),
        format!("/performances/{id}"),
        format!("/performances/{full}"),
        format!("/reservations/confirm?token={confirm}"),
        format!("/reservations/cancel?token={}", ticket.cancel),
        format!("/t/{}", ticket.ticket),
        format!("/t/{}", holder.ticket),
        format!("/waitlist/confirm?token={waitlist_confirm}"),
        format!("/waitlist/leave?token={waitlist_leave}"),
        "/no-such-page".to_owned(),
        "/admin/login".to_owned(),
    ];
    let staff = [
        "/admin".to_owned(),
        "/admin/rooms".to_owned(),
        format!("/admin/performances/{id}"),
        format!("/admin/performances/{id}/reservations"),
        format!("/admin/performances/{full}/waitlist"),
        "/admin/staff".to_owned(),
        "/admin/audit".to_owned(),
        "/ops/queues".to_owned(),
        "/checkin".to_owned(),
    ];
    let browser = Browser::start().await;
    let mut problems = Vec::new();
    for (lang, sent) in [
        ("it", "Controlla la tua e-mail"),
        ("en", "Check your e-mail"),
    ] {
        // The language switch sets the cookie every later page follows.
        browser
            .goto(&app.url(&format!("/language?lang={lang}&back=/")))
            .await;
        browser.element("main").await;
        let shown = browser
            .run_script("return document.documentElement.lang;")
            .await;
        assert_eq!(shown.as_str(), Some(lang), "the switch chose {lang}");
        for (width, height) in [(390, 844), (1280, 900)] {
            browser.set_size(width, height).await;
            for path in &public {
                browser.goto(&app.url(path)).await;
                browser.element("main").await;
                for v in browser.axe_violations().await {
                    problems.push(format!("{lang} {width}px {path}: {v}"));
                }
            }
            // The page a booking ends on.
            browser.goto(&app.url(&format!("/performances/{id}"))).await;
            browser.type_into("#name", "Ortensia").await;
            browser
                .type_into("#email", &format!("axe-{lang}-{width}@example.org"))
                .await;
            browser.type_into("#party_size", "1").await;
            browser.click("form.stack button[type=submit]").await;
            browser.wait_for_text("h1", sent).await;
            for v in browser.axe_violations().await {
                problems.push(format!("{lang} {width}px booking accepted: {v}"));
            }
        }
    }
    log_in(&browser, &app, &email, &password).await;
    for (width, height) in [(390, 844), (1280, 900)] {
        browser.set_size(width, height).await;
        for path in &staff {
            browser.goto(&app.url(path)).await;
            browser.element("main").await;
            for v in browser.axe_violations().await {
                problems.push(format!("{width}px {path}: {v}"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
