//! Local time: a performance at 19:30 in Rome shows 19:30 on its page, in both e-mails, on the
//! ticket and at the door, in winter and in summer and on the Sundays the clocks change, and the
//! admin form takes and shows it as 19:30; the JSON API stays in UTC.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use common::auth::Role;
use serde_json::{Value, json};
use tests::{PerformanceSpec, TestApp};
use uuid::Uuid;

/// The last Sunday of `month` in `year`: the day the clocks change in March and October.
fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let mut day = NaiveDate::from_ymd_opt(year, month + 1, 1).unwrap() - Duration::days(1);
    while day.weekday() != Weekday::Sun {
        day -= Duration::days(1);
    }
    day
}

/// 19:30 in Rome on four days of next year, with its Rome offset: winter, summer, and the
/// evenings of the two daylight-saving Sundays.
fn evenings() -> Vec<(NaiveDate, &'static str)> {
    let year = Utc::now().year() + 1;
    vec![
        (NaiveDate::from_ymd_opt(year, 1, 15).unwrap(), "+01:00"),
        (NaiveDate::from_ymd_opt(year, 7, 15).unwrap(), "+02:00"),
        (last_sunday(year, 3), "+02:00"),
        (last_sunday(year, 10), "+01:00"),
    ]
}

/// Creates a room and an open performance starting at `starts_at` (any RFC 3339 offset).
pub async fn performance_at(app: &TestApp, starts_at: &str) -> Uuid {
    let room: Value = app
        .admin_request(
            reqwest::Method::POST,
            "/api/v1/admin/rooms",
            Some(&json!({ "name": format!("Sala {}", Uuid::new_v4()), "capacity": 40 })),
        )
        .await
        .json()
        .await
        .unwrap();
    let created = app
        .admin_request(
            reqwest::Method::POST,
            "/api/v1/admin/performances",
            Some(&json!({
                "title": "La locandiera", "room_id": room["id"],
                "starts_at": starts_at, "booking_status": "open",
            })),
        )
        .await;
    assert_eq!(created.status(), 201, "create performance at {starts_at}");
    let created: Value = created.json().await.unwrap();
    created["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_performance_at_19_30_rome_time_shows_19_30_everywhere_in_every_season() {
    let app = TestApp::spawn().await;
    for (n, (day, offset)) in evenings().into_iter().enumerate() {
        let local = format!("{day}T19:30:00{offset}");
        let id = performance_at(&app, &local).await;
        let utc = DateTime::parse_from_rfc3339(&local).unwrap().to_utc();

        let api: Value = app
            .get(&format!("/api/v1/performances/{id}"))
            .await
            .json()
            .await
            .unwrap();
        let shown = api["starts_at"].as_str().unwrap();
        assert!(shown.ends_with('Z'), "the API answers in UTC: {shown}");
        assert_eq!(DateTime::parse_from_rfc3339(shown).unwrap(), utc);

        let page = app
            .get(&format!("/performances/{id}"))
            .await
            .text()
            .await
            .unwrap();
        let utc_clock = utc.format("%H:%M").to_string();
        assert!(page.contains(", 19:30"), "{day}: the page shows 19:30");
        assert!(
            !page.contains(&format!(", {utc_clock}")),
            "{day}: and not the UTC {utc_clock}"
        );
        assert!(!page.contains("UTC"));
        let index = app.get("/").await.text().await.unwrap();
        assert!(index.contains("19:30"));

        let email = format!("season{n}@example.org");
        let ticket = app.ticket_for(id, &email, 2).await;
        let mails = app.wait_for_mail(&email, 2).await;
        for mail in &mails {
            let unfolded = mail.unfolded();
            // The body only: the Date header carries the sending time.
            let (_, body) = unfolded.split_once("\r\n\r\n").unwrap();
            assert!(body.contains("19:30"), "{day}: e-mail shows 19:30");
            assert!(
                !body.contains(&format!(" {utc_clock}")),
                "{day}: not the UTC time"
            );
        }
        let ticket_page = app.ticket_page(&ticket.ticket).await;
        assert!(
            ticket_page.contains("19:30"),
            "{day}: the ticket shows 19:30"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_form_takes_and_shows_local_time_across_the_clock_changes() {
    let app = TestApp::spawn().await;
    let staff = app.log_in(Role::Admin).await;
    let year = Utc::now().year() + 1;
    let march = last_sunday(year, 3);
    let id = performance_at(&app, &format!("{march}T17:30:00Z")).await;
    let form_path = format!("/admin/performances/{id}");
    let form = staff.page(&form_path).await;
    assert_eq!(
        form.attr("#f-starts_at", "value"),
        format!("{march}T19:30"),
        "17:30 UTC on the March Sunday is 19:30 in Rome"
    );
    assert!(
        form.text("label[for=f-starts_at]")
            .contains("Europe/Rome time"),
        "the label names the zone"
    );

    for (typed, expected) in [
        (format!("{}T19:30", last_sunday(year, 10)), "18:30"),
        (format!("{year}-07-15T19:30"), "17:30"),
        (format!("{year}-01-15T19:30"), "18:30"),
    ] {
        let saved = staff
            .post_form(&form_path, &[("starts_at", typed.as_str())])
            .await;
        assert_eq!(saved.status(), 303, "saving {typed}");
        let stored: DateTime<Utc> =
            sqlx::query_scalar("SELECT starts_at FROM performances WHERE id = $1")
                .bind(id)
                .fetch_one(&app.db)
                .await
                .unwrap();
        assert_eq!(stored.format("%H:%M").to_string(), expected, "{typed}");
        let again = staff.page(&form_path).await;
        assert_eq!(
            again.attr("#f-starts_at", "value"),
            typed,
            "round trip of {typed}"
        );
    }

    // 02:30 does not exist on the March Sunday: refused, nothing changes.
    let before: DateTime<Utc> = sqlx::query_scalar("SELECT starts_at FROM performances")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let skipped = format!("{march}T02:30");
    let refused = staff
        .post_form(&form_path, &[("starts_at", skipped.as_str())])
        .await;
    assert_eq!(refused.status(), 422);
    let page = tests::html::Page::parse(&refused.text().await.unwrap());
    assert!(
        page.text("#f-starts_at-error")
            .contains("clocks go forward"),
        "the reason in words"
    );
    let after: DateTime<Utc> = sqlx::query_scalar("SELECT starts_at FROM performances")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_door_page_lists_todays_performances_in_local_time() {
    let app = TestApp::spawn().await;
    let id = app
        .create_performance(PerformanceSpec {
            starts_in: Duration::minutes(30),
            ..Default::default()
        })
        .await;
    let starts_at: DateTime<Utc> = sqlx::query_scalar("SELECT starts_at FROM performances")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let door = app
        .log_in(Role::Door)
        .await
        .get("/checkin")
        .await
        .text()
        .await
        .unwrap();
    let local = common::time::clock(starts_at, common::time::DEFAULT_TIMEZONE);
    assert!(door.contains(&id.to_string()));
    assert!(
        door.contains(&local),
        "the door shows the local start {local}"
    );
    assert!(!door.contains("UTC"));
    assert!(
        door.contains(r#"<meta name="time-zone" content="Europe/Rome">"#),
        "check-in times are shown on the theatre's clock"
    );
}
