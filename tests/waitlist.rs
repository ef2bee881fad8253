//! The waiting list end to end over real SMTP and the real worker: joining with double opt-in,
//! offers in order under the performance lock, claims, expiry across a worker restart, no
//! overselling under concurrency, caps and rate limits, and staff views.

use std::time::Duration;

use common::auth::Role;
use serde_json::{Value, json};
use tests::{PerformanceSpec, TestApp};
use tokio::sync::watch;
use uuid::Uuid;

/// `POST /api/v1/performances/{id}/waitlist`.
pub async fn join(
    app: &TestApp,
    performance: Uuid,
    email: &str,
    party_size: i64,
) -> reqwest::Response {
    app.post_json(
        &format!("/api/v1/performances/{performance}/waitlist"),
        &json!({ "name": "Florindo", "email": email, "party_size": party_size }),
    )
    .await
}

/// `POST {path}` with `{"token"}`.
pub async fn post_token(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.post_json(path, &json!({ "token": token })).await
}

/// Joins and confirms through the e-mailed link; returns the position and the leave token.
pub async fn join_and_confirm(
    app: &TestApp,
    performance: Uuid,
    email: &str,
    party_size: i64,
) -> (i64, String) {
    assert_eq!(
        join(app, performance, email, party_size).await.status(),
        202
    );
    let mail = app.wait_for_mail(email, 1).await.remove(0);
    let token = mail
        .token_after("/waitlist/confirm?token=")
        .expect("confirm link");
    let leave = mail
        .token_after("/waitlist/leave?token=")
        .expect("leave link");
    let response = post_token(app, "/api/v1/waitlist/confirm", &token).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], "waiting");
    (body["position"].as_i64().expect("position"), leave)
}

/// Waits for the `n`-th e-mail to `email` and returns the claim token in it.
pub async fn offer_token(app: &TestApp, email: &str, n: usize) -> String {
    let mail = app.wait_for_mail(email, n).await.remove(n - 1);
    assert!(
        mail.header("subject")
            .unwrap_or_default()
            .contains("Seats are free")
    );
    mail.token_after("/waitlist/claim?token=")
        .expect("claim link in the offer")
}

/// Checks the seat formula against the database and the public figure; returns
/// `(seats in the room, confirmed, held by live offers)`.
pub async fn check_seat_formula(app: &TestApp, performance: Uuid) -> (i64, i64, i64) {
    let (total, confirmed, held): (i64, i64, i64) = sqlx::query_as(
        "SELECT (r.capacity + p.additional_seats - p.manually_occupied_seats)::bigint,
                (SELECT COALESCE(sum(party_size), 0) FROM reservations
                  WHERE performance_id = p.id AND status = 'confirmed')::bigint,
                (SELECT COALESCE(sum(party_size), 0) FROM waitlist_entries
                  WHERE performance_id = p.id AND status = 'offered' AND offer_expires_at > now())::bigint
           FROM performances p JOIN rooms r ON r.id = p.room_id WHERE p.id = $1",
    )
    .bind(performance)
    .fetch_one(&app.db)
    .await
    .expect("seat figures");
    assert!(
        confirmed + held <= total,
        "oversold: {confirmed} confirmed + {held} held > {total}"
    );
    let available = app.seats_available(performance).await;
    assert!(available >= 0);
    assert_eq!(available, total - confirmed - held, "seats available");
    (total, confirmed, held)
}

pub fn full_room(capacity: i32) -> PerformanceSpec {
    PerformanceSpec {
        capacity,
        ..Default::default()
    }
}

/// The id of the entry `email` made (while its personal data is there).
async fn entry_of(app: &TestApp, email: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM waitlist_entries WHERE lower(email) = lower($1)")
        .bind(email)
        .fetch_one(&app.db)
        .await
        .expect("entry")
}

async fn status_of(app: &TestApp, entry: Uuid) -> String {
    sqlx::query_scalar("SELECT status FROM waitlist_entries WHERE id = $1")
        .bind(entry)
        .fetch_one(&app.db)
        .await
        .expect("entry")
}

#[tokio::test]
async fn a_cancellation_offers_the_seats_to_exactly_the_first_in_line_and_a_claim_confirms_with_a_ticket()
 {
    let app = TestApp::spawn().await;
    let id = app.create_performance(full_room(2)).await;
    let holder = app.ticket_for(id, "holder@example.org", 2).await;
    assert_eq!(app.seats_available(id).await, 0);

    // Full: booking is refused, joining is accepted; a GET of the link changes nothing.
    assert_eq!(join(&app, id, "first@example.org", 2).await.status(), 202);
    let mail = app.wait_for_mail("first@example.org", 1).await.remove(0);
    let confirm = mail.token_after("/waitlist/confirm?token=").expect("link");
    let page = app.get(&format!("/waitlist/confirm?token={confirm}")).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("<form method=\"post\"")
    );
    let first_entry = entry_of(&app, "first@example.org").await;
    assert_eq!(status_of(&app, first_entry).await, "pending");
    let first = post_token(&app, "/api/v1/waitlist/confirm", &confirm).await;
    assert_eq!(first.json::<Value>().await.expect("json")["position"], 1);
    let again = post_token(&app, "/api/v1/waitlist/confirm", &confirm).await;
    assert_eq!(
        again.json::<Value>().await.expect("json"),
        json!({ "status": "waiting", "position": 1 })
    );
    let (second_position, _) = join_and_confirm(&app, id, "second@example.org", 2).await;
    assert_eq!(second_position, 2);
    let detail: Value = app
        .get(&format!("/api/v1/performances/{id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(detail["waitlist"], json!({ "open": true, "waiting": 2 }));

    // A confirmed visitor cancels: exactly the first in line gets an offer, holding the seats.
    let cancelled = post_token(&app, "/api/v1/reservations/cancel", &holder.cancel).await;
    assert_eq!(cancelled.status(), 200);
    let claim = offer_token(&app, "first@example.org", 2).await;
    app.wait_for_jobs().await;
    assert_eq!(
        app.smtp.messages_to("second@example.org").len(),
        1,
        "no offer to the second"
    );
    assert_eq!(check_seat_formula(&app, id).await, (2, 0, 2));
    assert_eq!(app.seats_available(id).await, 0, "held seats are taken");

    let page = app.get(&format!("/waitlist/claim?token={claim}")).await;
    assert_eq!(page.status(), 200);
    assert_eq!(status_of(&app, first_entry).await, "offered");
    let claimed = post_token(&app, "/api/v1/waitlist/claim", &claim).await;
    assert_eq!(claimed.status(), 200);
    assert_eq!(
        claimed.json::<Value>().await.expect("json"),
        json!({ "status": "confirmed" })
    );
    let repeat = post_token(&app, "/api/v1/waitlist/claim", &claim).await;
    assert_eq!(repeat.status(), 200, "claiming is idempotent");

    let ticket = app.wait_for_mail("first@example.org", 3).await.remove(2);
    assert!(
        ticket
            .header("subject")
            .unwrap_or_default()
            .contains("Your ticket")
    );
    assert!(ticket.token_after("/t/").is_some());
    app.wait_for_jobs().await;
    assert_eq!(check_seat_formula(&app, id).await, (2, 2, 0));
    let detail: Value = app
        .get(&format!("/api/v1/performances/{id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(detail["waitlist"], json!({ "open": true, "waiting": 1 }));
    let counts = app.job_counts().await;
    assert!(
        !counts.contains_key("Failed") && !counts.contains_key("Killed"),
        "{counts:?}"
    );

    // Operators see the new queues and their figures.
    let queues: Value = app
        .admin_request(reqwest::Method::GET, "/api/v1/ops/queues", None)
        .await
        .json()
        .await
        .expect("json");
    let text = queues.to_string();
    assert!(
        text.contains("\"waitlist\"") && text.contains("\"email.reminder\""),
        "{text}"
    );
    let offered = [("outcome", "offered")];
    assert_eq!(
        app.worker_metrics
            .counter("azione_waitlist_offers_total", &offered),
        1
    );
    let claimed = [("outcome", "claimed")];
    assert_eq!(
        app.web_metrics
            .counter("azione_waitlist_claims_total", &claimed),
        1
    );
}

#[tokio::test]
async fn retention_erases_waiting_list_entries_like_reservations() {
    let app = TestApp::spawn_with(|c| c.jobs.retention = Duration::ZERO).await;
    let id = app.create_performance(full_room(1)).await;
    app.ticket_for(id, "holder@example.org", 1).await;
    join_and_confirm(&app, id, "kept@example.org", 1).await;
    let entry = entry_of(&app, "kept@example.org").await;
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let moved = app
        .admin_request(
            reqwest::Method::PATCH,
            &format!("/api/v1/admin/performances/{id}"),
            Some(&json!({ "starts_at": past })),
        )
        .await;
    assert_eq!(moved.status(), 200);
    let ctx = worker::JobContext::new(app.config.clone(), app.db.clone()).expect("context");
    worker::housekeeping::run_once(&ctx)
        .await
        .expect("housekeeping");
    let (name, email, erased): (Option<String>, Option<String>, bool) = sqlx::query_as(
        "SELECT name, email, personal_data_erased_at IS NOT NULL FROM waitlist_entries WHERE id = $1",
    )
    .bind(entry)
    .fetch_one(&app.db)
    .await
    .expect("entry");
    assert_eq!((name, email, erased), (None, None, true));
}

/// Starts a worker of its own (a separate name, as a new process would have); the sender stops it.
fn start_worker(app: &TestApp) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, mut stopped) = watch::channel(false);
    let config = app.config.clone();
    let pool = app.db.clone();
    let handle = tokio::spawn(async move {
        let until = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        worker::run(config, pool, until).await.expect("worker runs");
    });
    (stop, handle)
}

#[tokio::test]
async fn an_offer_that_expires_goes_to_the_next_in_line_also_across_a_worker_restart() {
    let app = TestApp::spawn_web_only(|c| {
        c.booking.waitlist_offer_hold = Duration::from_secs(2);
    })
    .await;
    let (stop, handle) = start_worker(&app);
    let id = app.create_performance(full_room(1)).await;
    let holder = app.ticket_for(id, "holder@example.org", 1).await;
    join_and_confirm(&app, id, "late@example.org", 1).await;
    let late = entry_of(&app, "late@example.org").await;
    join_and_confirm(&app, id, "next@example.org", 1).await;
    assert_eq!(
        post_token(&app, "/api/v1/reservations/cancel", &holder.cancel)
            .await
            .status(),
        200
    );
    let late_claim = offer_token(&app, "late@example.org", 2).await;

    // The worker stops; the offer lapses meanwhile; a new worker process takes over.
    stop.send(true).expect("stop worker");
    handle.await.expect("worker ended");
    tests::eventually("the offer to lapse", || async {
        let lapsed: bool = sqlx::query_scalar(
            "SELECT bool_and(offer_expires_at <= now()) FROM waitlist_entries WHERE status = 'offered'",
        )
        .fetch_one(&app.db)
        .await
        .expect("offer");
        lapsed.then_some(())
    })
    .await;
    let expired = post_token(&app, "/api/v1/waitlist/claim", &late_claim).await;
    assert_eq!(expired.status(), 410);
    assert_eq!(
        expired.json::<Value>().await.expect("json")["error"],
        "offer_expired"
    );
    assert_eq!(
        app.smtp.messages_to("next@example.org").len(),
        1,
        "no offer yet"
    );
    let (_stop, _handle) = start_worker(&app);

    let next_claim = offer_token(&app, "next@example.org", 2).await;
    assert_eq!(status_of(&app, late).await, "expired");
    assert_eq!(
        post_token(&app, "/api/v1/waitlist/claim", &next_claim)
            .await
            .status(),
        200
    );
    let still_expired = post_token(&app, "/api/v1/waitlist/claim", &late_claim).await;
    assert_eq!(still_expired.status(), 410);
    app.wait_for_mail("next@example.org", 3).await;
    assert_eq!(check_seat_formula(&app, id).await, (1, 1, 0));
}

#[tokio::test]
async fn a_larger_party_waiting_first_does_not_block_a_smaller_one_and_gets_the_next_offer_that_fits()
 {
    let app = TestApp::spawn().await;
    let id = app.create_performance(full_room(4)).await;
    let a = app.ticket_for(id, "a@example.org", 2).await;
    let b = app.ticket_for(id, "b@example.org", 2).await;
    join_and_confirm(&app, id, "big@example.org", 3).await;
    join_and_confirm(&app, id, "small@example.org", 1).await;

    post_token(&app, "/api/v1/reservations/cancel", &a.cancel).await;
    let small = offer_token(&app, "small@example.org", 2).await;
    app.wait_for_jobs().await;
    assert_eq!(
        app.smtp.messages_to("big@example.org").len(),
        1,
        "3 do not fit in 2"
    );
    let big_entry = entry_of(&app, "big@example.org").await;
    assert_eq!(status_of(&app, big_entry).await, "waiting");
    assert_eq!(
        post_token(&app, "/api/v1/waitlist/claim", &small)
            .await
            .status(),
        200
    );

    post_token(&app, "/api/v1/reservations/cancel", &b.cancel).await;
    let big = offer_token(&app, "big@example.org", 2).await;
    assert_eq!(
        post_token(&app, "/api/v1/waitlist/claim", &big)
            .await
            .status(),
        200
    );
    app.wait_for_jobs().await;
    assert_eq!(check_seat_formula(&app, id).await, (4, 4, 0));
}

#[tokio::test]
async fn thirty_concurrent_claims_cancellations_and_confirmations_never_oversell() {
    let app = TestApp::spawn().await;
    let id = app.create_performance(full_room(10)).await;
    // Ten pending bookings made while there was room, then ten confirmed seats fill it.
    let mut pending = Vec::new();
    for i in 0..10 {
        let email = format!("pending{i}@example.org");
        app.book(id, &email, 1).await;
        pending.push(app.confirmation_token(&email).await);
    }
    let mut holders = Vec::new();
    for i in 0..10 {
        holders.push(
            app.ticket_for(id, &format!("holder{i}@example.org"), 1)
                .await,
        );
    }
    for i in 0..10 {
        join_and_confirm(&app, id, &format!("waiting{i}@example.org"), 1).await;
    }
    for holder in &holders[..5] {
        post_token(&app, "/api/v1/reservations/cancel", &holder.cancel).await;
    }
    let mut claims = Vec::new();
    for i in 0..5 {
        claims.push(offer_token(&app, &format!("waiting{i}@example.org"), 2).await);
    }
    check_seat_formula(&app, id).await;

    let mut requests = Vec::new();
    for claim in claims.iter().chain(claims.iter()) {
        requests.push(("/api/v1/waitlist/claim", claim.clone()));
    }
    for holder in &holders {
        requests.push(("/api/v1/reservations/cancel", holder.cancel.clone()));
    }
    for token in &pending {
        requests.push(("/api/v1/reservations/confirm", token.clone()));
    }
    assert_eq!(requests.len(), 30);
    let answers = futures::future::join_all(
        requests
            .iter()
            .map(|(path, token)| async { (*path, post_token(&app, path, token).await.status()) }),
    )
    .await;
    for (path, status) in &answers {
        let allowed: &[u16] = match *path {
            "/api/v1/reservations/confirm" => &[200, 409],
            _ => &[200],
        };
        assert!(allowed.contains(&status.as_u16()), "{path}: {status}");
    }
    // Seats freed by the cancellations went on to the line. The offer rounds change the
    // figures, so compare the public one with the database's once they have run.
    app.wait_for_jobs().await;
    check_seat_formula(&app, id).await;

    // Claim what was offered.
    let offered: Vec<String> = sqlx::query_scalar(
        "SELECT email FROM waitlist_entries WHERE status = 'offered' ORDER BY email",
    )
    .fetch_all(&app.db)
    .await
    .expect("offers");
    let claims: Vec<String> = futures::future::join_all(
        offered
            .iter()
            .map(|email| async { offer_token(&app, email, 2).await }),
    )
    .await;
    let statuses = futures::future::join_all(
        claims
            .iter()
            .map(|t| async { post_token(&app, "/api/v1/waitlist/claim", t).await.status() }),
    )
    .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    app.wait_for_jobs().await;
    let (total, confirmed, held) = check_seat_formula(&app, id).await;
    assert_eq!(total, 10);
    assert!(confirmed + held <= 10);
}

#[tokio::test]
async fn joining_is_refused_when_the_party_fits_or_booking_is_closed_and_tokens_are_purpose_bound()
{
    let app = TestApp::spawn().await;
    let open = app.create_performance(full_room(2)).await;
    let fits = join(&app, open, "fits@example.org", 2).await;
    assert_eq!(fits.status(), 409);
    assert_eq!(
        fits.json::<Value>().await.expect("json")["error"],
        "seats_available"
    );
    let scheduled = app
        .create_performance(PerformanceSpec {
            booking_status: "scheduled",
            ..Default::default()
        })
        .await;
    let closed = join(&app, scheduled, "closed@example.org", 1).await;
    assert_eq!(closed.status(), 409);
    assert_eq!(
        closed.json::<Value>().await.expect("json")["error"],
        "booking_closed"
    );
    let unknown = join(&app, Uuid::new_v4(), "x@example.org", 1).await;
    assert_eq!(unknown.status(), 404);
    let invalid = app
        .post_json(
            &format!("/api/v1/performances/{open}/waitlist"),
            &json!({ "name": "", "email": "nope", "party_size": 0, "status": "offered" }),
        )
        .await;
    assert_eq!(invalid.status(), 422);
    let fields = invalid.json::<Value>().await.expect("json")["fields"].clone();
    for field in ["name", "email", "party_size", "status"] {
        assert!(fields.get(field).is_some(), "{field}: {fields}");
    }
    assert_eq!(app.row_counts().await, (0, 0), "nothing stored or queued");

    let t = app.ticket_for(open, "holder@example.org", 2).await;
    for path in [
        "/api/v1/waitlist/confirm",
        "/api/v1/waitlist/leave",
        "/api/v1/waitlist/claim",
    ] {
        for token in [
            t.confirmation.as_str(),
            t.ticket.as_str(),
            t.cancel.as_str(),
            "junk",
        ] {
            let response = post_token(&app, path, token).await;
            assert_eq!(response.status(), 404, "{path}");
            assert_eq!(
                response.json::<Value>().await.expect("json")["error"],
                "invalid_token"
            );
        }
    }
    let (_, leave) = join_and_confirm(&app, open, "leaver@example.org", 1).await;
    let mail = app.wait_for_mail("leaver@example.org", 1).await.remove(0);
    let confirm = mail.token_after("/waitlist/confirm?token=").expect("link");
    assert_eq!(
        post_token(&app, "/api/v1/reservations/confirm", &confirm)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get(&format!("/waitlist/leave?token={leave}"))
            .await
            .status(),
        200
    );
    for _ in 0..2 {
        let left = post_token(&app, "/api/v1/waitlist/leave", &leave).await;
        assert_eq!(left.status(), 200);
        assert_eq!(
            left.json::<Value>().await.expect("json"),
            json!({ "status": "left" })
        );
    }
    let erased: Option<String> = sqlx::query_scalar("SELECT name FROM waitlist_entries")
        .fetch_one(&app.db)
        .await
        .expect("entry");
    assert_eq!(erased, None, "leaving erases personal data");
    assert_eq!(
        post_token(&app, "/api/v1/waitlist/confirm", &confirm)
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn caps_and_rate_limits_apply_to_the_waiting_list_and_no_public_answer_reveals_who_waits() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit.per_minute = 4;
        c.booking.email_pending_per_performance = 1;
        c.booking.email_bookings_per_hour = 10;
    })
    .await;
    let id = app.create_performance(full_room(1)).await;
    app.ticket_for(id, "holder@example.org", 1).await;
    for _ in 0..4 {
        let response = join(&app, id, "Capped@Example.org", 1).await;
        assert_eq!(response.status(), 202);
        assert_eq!(
            response.json::<Value>().await.expect("json"),
            json!({ "status": "pending" })
        );
    }
    let limited = join(&app, id, "other@example.org", 1).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    app.wait_for_jobs().await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM waitlist_entries")
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(stored, 1, "over the pending cap nothing is stored");
    assert_eq!(app.smtp.messages_to("capped@example.org").len(), 1);

    for path in [
        format!("/api/v1/performances/{id}"),
        "/api/v1/performances".to_owned(),
    ] {
        let body = app.get(&path).await.text().await.expect("body");
        assert!(!body.to_lowercase().contains("capped"), "{body}");
        assert!(!body.contains("Florindo") && !body.contains('@'), "{body}");
    }
}

#[tokio::test]
async fn staff_see_the_line_by_role_and_an_admin_removes_an_entry() {
    let app = TestApp::spawn().await;
    let id = app.create_performance(full_room(1)).await;
    app.ticket_for(id, "holder@example.org", 1).await;
    join_and_confirm(&app, id, "w1@example.org", 1).await;
    join_and_confirm(&app, id, "w2@example.org", 1).await;
    let path = format!("/api/v1/admin/performances/{id}/waitlist");
    let admin: Value = app
        .admin_request(reqwest::Method::GET, &path, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(admin["counts"]["waiting"], 2);
    let entries = admin["entries"].as_array().expect("entries");
    assert_eq!(entries[0]["email"], "w1@example.org");
    assert_eq!(entries[0]["position"], 1);
    assert_eq!(entries[1]["position"], 2);

    let editor_key = app.api_key(Role::Editor).await;
    let editor = app
        .client
        .get(app.url(&path))
        .bearer_auth(&editor_key)
        .send()
        .await
        .expect("editor");
    assert_eq!(editor.status(), 200);
    let editor = editor.text().await.expect("body");
    assert!(
        !editor.contains('@') && !editor.contains("entries"),
        "{editor}"
    );
    let door_key = app.api_key(Role::Door).await;
    let door = app
        .client
        .get(app.url(&path))
        .bearer_auth(&door_key)
        .send()
        .await
        .expect("door");
    assert_eq!(door.status(), 403);

    let first = entries[0]["id"].as_str().expect("id");
    let remove = format!("/api/v1/admin/waitlist/{first}/remove");
    let by_editor = app
        .client
        .post(app.url(&remove))
        .bearer_auth(&editor_key)
        .send()
        .await
        .expect("post");
    assert_eq!(by_editor.status(), 403);
    let removed = app
        .admin_request(reqwest::Method::POST, &remove, None)
        .await;
    assert_eq!(removed.status(), 200);
    let after: Value = app
        .admin_request(reqwest::Method::GET, &path, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(after["counts"]["waiting"], 1);
    assert_eq!(after["entries"][0]["position"], 1);
    assert_eq!(after["entries"][0]["email"], "w2@example.org");

    let staff = app.log_in(Role::Admin).await;
    let page = staff
        .page(&format!("/admin/performances/{id}/waitlist"))
        .await;
    assert!(page.texts("td").iter().any(|t| t == "w2@example.org"));
    let remaining = after["entries"][0]["id"].as_str().expect("id");
    let removed = staff
        .post_form(&format!("/admin/waitlist/{remaining}/remove"), &[])
        .await;
    assert_eq!(removed.status(), 303);
    let page = staff
        .page(&format!("/admin/performances/{id}/waitlist"))
        .await;
    assert!(!page.texts("td").iter().any(|t| t == "w2@example.org"));
}

#[tokio::test]
async fn a_full_performance_page_offers_the_waiting_list_form_which_works_without_javascript() {
    let app = TestApp::spawn().await;
    let id = app.create_performance(full_room(1)).await;
    let page = app
        .get(&format!("/performances/{id}"))
        .await
        .text()
        .await
        .expect("html");
    assert!(page.contains(&format!("action=\"/performances/{id}/reservations\"")));
    app.ticket_for(id, "holder@example.org", 1).await;
    let page = app
        .get(&format!("/performances/{id}"))
        .await
        .text()
        .await
        .expect("html");
    assert!(
        page.contains(&format!("action=\"/performances/{id}/waitlist\"")),
        "{page}"
    );
    assert!(page.contains("Join the waiting list"));
    let post_form = async |name: &str| {
        app.client
            .post(app.url(&format!("/performances/{id}/waitlist")))
            .form(&[
                ("name", name),
                ("email", "form@example.org"),
                ("party_size", "1"),
            ])
            .send()
            .await
            .expect("post")
    };
    assert_eq!(post_form("Rosaura").await.status(), 202);
    let mail = app.wait_for_mail("form@example.org", 1).await.remove(0);
    assert!(mail.token_after("/waitlist/confirm?token=").is_some());
    assert_eq!(post_form("").await.status(), 422);
}

#[tokio::test]
async fn an_offer_claimed_for_fewer_seats_passes_the_rest_to_the_next_in_line() {
    let app = TestApp::spawn().await;
    let id = app.create_performance(full_room(2)).await;
    let holder = app.ticket_for(id, "holder@example.org", 2).await;
    join_and_confirm(&app, id, "pair@example.org", 2).await;
    join_and_confirm(&app, id, "single@example.org", 1).await;
    post_token(&app, "/api/v1/reservations/cancel", &holder.cancel).await;
    let claim = offer_token(&app, "pair@example.org", 2).await;
    let too_many = app
        .post_json(
            "/api/v1/waitlist/claim",
            &json!({ "token": claim, "party_size": 3 }),
        )
        .await;
    assert_eq!(too_many.status(), 422);
    let one = app
        .post_json(
            "/api/v1/waitlist/claim",
            &json!({ "token": claim, "party_size": 1 }),
        )
        .await;
    assert_eq!(one.status(), 200);
    let next = offer_token(&app, "single@example.org", 2).await;
    assert_eq!(
        post_token(&app, "/api/v1/waitlist/claim", &next)
            .await
            .status(),
        200
    );
    app.wait_for_jobs().await;
    assert_eq!(check_seat_formula(&app, id).await, (2, 2, 0));
}
