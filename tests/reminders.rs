//! Reminders and calendar files over real SMTP and the real worker: one reminder per
//! reservation at its time (with a shortened horizon), a QR code that checks in, a release link
//! that frees the seats for the waiting list, and `.ics` files a maintained parser reads.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, SubsecRound, Utc};
use common::auth::Role;
use icalendar::{Component, EventLike};
use serde_json::{Value, json};
use tests::{PerformanceSpec, TestApp, smtp::ReceivedMail};

use crate::{tickets::decode_qr, waitlist};

/// The decoded `text/calendar` part of an e-mail.
fn calendar_part(mail: &ReceivedMail) -> String {
    use base64::Engine;
    for part in mail.data.split("\r\n--") {
        let Some((headers, body)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let headers = headers.to_ascii_lowercase();
        if !headers.contains("content-type: text/calendar") {
            continue;
        }
        if headers.contains("content-transfer-encoding: base64") {
            let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("base64 calendar");
            return String::from_utf8(bytes).expect("UTF-8 calendar");
        }
        if headers.contains("content-transfer-encoding: quoted-printable") {
            return tests::smtp::decode_quoted_printable(body);
        }
        return body.to_owned();
    }
    panic!("no text/calendar part in the e-mail");
}

/// What the test checks of a calendar's one event, read by the `icalendar` parser.
struct Event {
    uid: String,
    start: DateTime<Utc>,
    summary: String,
    location: String,
}

fn parse_event(ics: &str) -> Event {
    let unfolded = icalendar::parser::unfold(ics);
    let calendar: icalendar::Calendar = icalendar::parser::read_calendar(&unfolded)
        .expect("a valid iCalendar file")
        .into();
    let events: Vec<_> = calendar.events().collect();
    assert_eq!(events.len(), 1, "one VEVENT");
    let event = events[0];
    let start = match event.get_start().expect("DTSTART") {
        icalendar::DatePerhapsTime::DateTime(t) => t.try_into_utc().expect("an absolute time"),
        other => panic!("a date-time start, not {other:?}"),
    };
    Event {
        uid: event.get_uid().expect("UID").to_owned(),
        start,
        summary: event.get_summary().expect("SUMMARY").to_owned(),
        location: event.get_location().expect("LOCATION").to_owned(),
    }
}

async fn detail(app: &TestApp, performance: uuid::Uuid) -> Value {
    app.get(&format!("/api/v1/performances/{performance}"))
        .await
        .json()
        .await
        .expect("performance json")
}

fn starts_at(detail: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(detail["starts_at"].as_str().expect("starts_at"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

fn reminders_to(app: &TestApp, email: &str) -> Vec<ReceivedMail> {
    app.smtp
        .messages_to(email)
        .into_iter()
        .filter(|m| {
            m.header("subject")
                .unwrap_or_default()
                .starts_with("Reminder")
        })
        .collect()
}

#[tokio::test]
async fn each_reminder_is_sent_once_at_its_time_checks_in_and_its_release_link_offers_the_seats() {
    let app = TestApp::spawn_with(|c| {
        c.booking.reminder_before = Some(Duration::from_secs(3600));
    })
    .await;
    let id = app
        .create_performance(PerformanceSpec {
            capacity: 2,
            starts_in: chrono::Duration::seconds(3600 + 8),
            ..Default::default()
        })
        .await;
    let due = starts_at(&detail(&app, id).await) - chrono::Duration::hours(1);
    let first = app.ticket_for(id, "first@example.org", 1).await;
    let second = app.ticket_for(id, "second@example.org", 1).await;
    waitlist::join_and_confirm(&app, id, "waiting@example.org", 1).await;

    let reminder = app.wait_for_mail("first@example.org", 3).await.remove(2);
    assert!(
        reminder
            .header("subject")
            .unwrap_or_default()
            .starts_with("Reminder")
    );
    assert!(
        reminder.received_at >= SystemTime::from(due),
        "not before its time"
    );
    let other = app.wait_for_mail("second@example.org", 3).await.remove(2);
    app.wait_for_jobs().await;
    assert_eq!(
        reminders_to(&app, "first@example.org").len(),
        1,
        "exactly one"
    );
    assert_eq!(
        reminders_to(&app, "second@example.org").len(),
        1,
        "exactly one"
    );
    let text = reminder.unfolded();
    assert!(text.contains("Release your seats"), "{text}");

    // The reminder's QR code is an additional ticket: it checks in, once per reservation.
    let pngs = reminder.png_parts();
    assert!(!pngs.is_empty());
    let url = decode_qr(&pngs[0]);
    let token = url.rsplit('/').next().expect("token").to_owned();
    assert_eq!(url, app.url(&format!("/t/{token}")));
    assert_ne!(token, first.ticket, "a token of its own");
    // It prints the short code of that token too, which the door accepts like the token.
    let code = common::short_code::ShortCode::for_ticket(&token).grouped();
    assert!(text.contains(&code), "short code {code} in the reminder");
    let door = app.api_key(Role::Door).await;
    let wrong = app
        .check_in(
            &door,
            &json!({ "token": code, "performance_id": uuid::Uuid::new_v4() }),
        )
        .await;
    assert_eq!(wrong.status(), 422, "the code is bound to its performance");
    let checked_in = app.check_in(&door, &json!({ "token": token })).await;
    assert_eq!(checked_in.status(), 200);
    let again = app.check_in(&door, &json!({ "token": first.ticket })).await;
    assert_eq!(
        again.status(),
        409,
        "the first ticket is the same reservation"
    );

    // The release link frees the seats and the waiting list gets them.
    let release = other
        .token_after("/reservations/cancel?token=")
        .expect("release link");
    let released = waitlist::post_token(&app, "/api/v1/reservations/cancel", &release).await;
    assert_eq!(released.status(), 200);
    waitlist::offer_token(&app, "waiting@example.org", 2).await;
    assert_eq!(
        waitlist::post_token(&app, "/api/v1/reservations/cancel", &second.cancel)
            .await
            .status(),
        200,
        "the first cancel link stays valid too (and repeating is harmless)"
    );
    waitlist::check_seat_formula(&app, id).await;

    // Ticket and reminder carry the same event.
    let ticket_event = parse_event(&calendar_part(&first.mail));
    assert_eq!(parse_event(&calendar_part(&reminder)).uid, ticket_event.uid);
}

#[tokio::test]
async fn a_reservation_confirmed_after_its_reminder_time_gets_it_at_once_and_none_when_disabled() {
    let app = TestApp::spawn().await;
    let soon = app
        .create_performance(PerformanceSpec {
            starts_in: chrono::Duration::minutes(30),
            ..Default::default()
        })
        .await;
    app.book(soon, "late@example.org", 2).await;
    let token = app.confirmation_token("late@example.org").await;
    assert_eq!(app.confirm(&token).await.status(), 200);
    let confirmed = Utc::now();
    let due: DateTime<Utc> =
        sqlx::query_scalar("SELECT run_at FROM apalis.jobs WHERE job_type = 'email.reminder'")
            .fetch_one(&app.db)
            .await
            .expect("the reminder job");
    assert!(
        due <= confirmed,
        "due at once, not at the next whole second: {due} after {confirmed}"
    );
    app.wait_for_mail("late@example.org", 3).await;
    app.wait_for_jobs().await;
    assert_eq!(reminders_to(&app, "late@example.org").len(), 1);

    let off = TestApp::spawn_with(|c| c.booking.reminder_before = None).await;
    let id = off
        .create_performance(PerformanceSpec {
            starts_in: chrono::Duration::minutes(30),
            ..Default::default()
        })
        .await;
    off.ticket_for(id, "none@example.org", 1).await;
    off.wait_for_jobs().await;
    let queued: i64 =
        sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE job_type = 'email.reminder'")
            .fetch_one(&off.db)
            .await
            .expect("count");
    assert_eq!(queued, 0);
    assert_eq!(off.smtp.messages_to("none@example.org").len(), 2);
}

#[tokio::test]
async fn the_calendar_file_parses_and_shows_the_start_time_room_and_nothing_personal() {
    let app = TestApp::spawn().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    let detail = detail(&app, id).await;
    let t = app.ticket_for(id, "calendar@example.org", 2).await;
    let ics = calendar_part(&t.mail);
    assert!(
        t.mail
            .data
            .to_ascii_lowercase()
            .contains("content-type: text/calendar")
    );
    let event = parse_event(&ics);
    assert_eq!(event.start, starts_at(&detail).trunc_subsecs(0));
    // The tests' configuration keeps the default zone, Europe/Rome.
    let local = starts_at(&detail).with_timezone(&common::time::DEFAULT_TIMEZONE);
    assert!(
        ics.contains(&format!(
            "DTSTART;TZID=Europe/Rome:{}",
            local.format("%Y%m%dT%H%M%S")
        )) && ics.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Rome\r\n"),
        "the start in the theatre's wall-clock time, with its zone defined in the file: {ics}"
    );
    assert_eq!(event.summary, detail["title"].as_str().expect("title"));
    assert_eq!(event.location, detail["room"].as_str().expect("room"));
    assert!(!ics.contains("calendar@example.org") && !ics.contains("Mirandolina"));
    assert!(
        !ics.contains(&t.ticket) && !ics.contains(&t.cancel),
        "no tokens"
    );

    let page = app
        .get(&format!("/t/{}", t.ticket))
        .await
        .text()
        .await
        .expect("html");
    assert!(
        page.contains(&format!("/t/{}/calendar.ics", t.ticket)),
        "offered on the ticket page"
    );
    let download = app.get(&format!("/t/{}/calendar.ics", t.ticket)).await;
    assert_eq!(download.status(), 200);
    assert!(
        download.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/calendar")
    );
    let downloaded = parse_event(&download.text().await.expect("ics"));
    assert_eq!(downloaded.uid, event.uid, "a stable UID per reservation");
    assert_eq!(downloaded.start, event.start);
    assert_eq!(app.get("/t/not-a-ticket/calendar.ics").await.status(), 404);
}
