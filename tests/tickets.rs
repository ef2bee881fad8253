use serde_json::{Value, json};
use tests::{PerformanceSpec, TestApp};

fn soon() -> PerformanceSpec {
    PerformanceSpec {
        starts_in: chrono::Duration::minutes(30),
        ..Default::default()
    }
}

pub fn decode_qr(png: &[u8]) -> String {
    let image = image::load_from_memory(png).expect("PNG").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    let (_, content) = grids[0].decode().expect("decodable QR code");
    content
}

/// Reads the QR code of an SVG made of one-module squares (`M{x},{y}h1v1h-1`, as the ticket
/// page draws it) by painting it eight pixels a module.
fn decode_svg_qr(svg: &str) -> String {
    let side: u32 = svg
        .split("viewBox=\"0 0 ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("a square viewBox");
    let mut image = image::GrayImage::from_pixel(side * 8, side * 8, image::Luma([255]));
    for square in svg.split('M').skip(1) {
        let Some((at, _)) = square.split_once("h1v1h-1") else {
            continue;
        };
        let (x, y) = at.split_once(',').expect("x,y");
        let (x, y): (u32, u32) = (x.parse().unwrap(), y.parse().unwrap());
        for py in y * 8..y * 8 + 8 {
            for px in x * 8..x * 8 + 8 {
                image.put_pixel(px, py, image::Luma([0]));
            }
        }
    }
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the picture");
    grids[0].decode().expect("decodable QR code").1
}

#[tokio::test]
async fn the_ticket_page_shows_the_qr_code_of_the_ticket_url() {
    use base64::Engine;
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(soon()).await;
    let t = app.ticket_for(id, "page@example.org", 1).await;
    let url = format!("{}/t/{}", app.config.public_base_url, t.ticket);

    let page = app.ticket_page(&t.ticket).await;
    let encoded = page
        .split("src=\"data:image/svg+xml;base64,")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page shows the QR code as an SVG");
    let svg = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(decode_svg_qr(&String::from_utf8(svg).unwrap()), url);
    assert_eq!(decode_qr(&t.mail.png_parts()[0]), url, "the e-mail's too");
}

#[tokio::test]
async fn the_ticket_email_carries_a_qr_code_of_the_ticket_url_only_and_a_cancel_link() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(soon()).await;

    let t = app.ticket_for(id, "ticketholder@example.org", 2).await;

    let pngs = t.mail.png_parts();
    assert_eq!(pngs.len(), 2, "inline and attached");
    assert!(t.mail.data.contains("Content-ID: <ticket-qr>"));
    assert!(t.mail.unfolded().contains("cid:ticket-qr"));
    let content = decode_qr(&pngs[0]);
    assert_eq!(
        content,
        format!("{}/t/{}", app.config.public_base_url, t.ticket)
    );
    assert_eq!(decode_qr(&pngs[1]), content);
    assert_eq!(t.ticket.len(), 43, "256 random bits, base64url");
    for personal in ["ticketholder", "example.org", "Mirandolina"] {
        assert!(!content.contains(personal) && !t.ticket.contains(personal));
    }
    assert_ne!(t.ticket, t.cancel);
    assert!(t.mail.header("Message-ID").unwrap().starts_with("<ticket."));
    assert!(t.mail.unfolded().contains(&format!(
        "{}/reservations/cancel?token=",
        app.config.public_base_url
    )));
    let counts = app.wait_for_jobs().await;
    assert!(
        !counts.contains_key("Failed") && !counts.contains_key("Killed"),
        "{counts:?}"
    );
    // The confirmation and ticket e-mails (the reminder of this soon performance may follow).
    let queues = [common::jobs::CONFIRMATION_QUEUE, common::jobs::TICKET_QUEUE];
    let done: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM apalis.jobs WHERE status = 'Done' AND job_type = ANY($1)",
    )
    .bind(&queues[..])
    .fetch_one(&app.db)
    .await
    .expect("jobs");
    assert_eq!(done, 2);
}

#[tokio::test]
async fn the_ticket_page_is_neutral_for_anonymous_visitors_and_changes_nothing() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(soon()).await;
    let t = app.ticket_for(id, "private-person@example.org", 3).await;

    let page = app.get(&format!("/t/{}", t.ticket)).await;

    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("La locandiera") && html.contains("3 people"));
    assert!(!html.contains("private-person") && !html.contains("Mirandolina"));
    assert!(
        !html.contains("/checkin\""),
        "no check-in button for anonymous visitors"
    );
    let checked_in: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT checked_in_at FROM reservations")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(checked_in.is_none());
    assert_eq!(app.get("/t/not-a-ticket").await.status(), 404);
    assert_eq!(
        app.get(&format!("/t/{}", t.cancel)).await.status(),
        404,
        "a cancel token is no ticket"
    );
}

#[tokio::test]
async fn cancelling_frees_exactly_the_party_size_is_idempotent_and_voids_the_ticket() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(soon()).await;
    let other = app.ticket_for(id, "stays@example.org", 1).await;
    let t = app.ticket_for(id, "leaves@example.org", 4).await;
    assert_eq!(app.seats_available(id).await, 45);

    let page = app
        .get(&format!("/reservations/cancel?token={}", t.cancel))
        .await;
    assert_eq!(page.status(), 200);
    assert_eq!(app.seats_available(id).await, 45, "GET changes nothing");

    for _ in 0..2 {
        let response = app
            .post_json("/api/v1/reservations/cancel", &json!({ "token": t.cancel }))
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({ "status": "cancelled" })
        );
    }
    assert_eq!(
        app.seats_available(id).await,
        49,
        "exactly the party size is freed, once"
    );

    let door = app.api_key(common::auth::Role::Door).await;
    let response = app.check_in(&door, &json!({ "token": t.ticket })).await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "not_valid"
    );
    assert_eq!(
        app.check_in(&door, &json!({ "token": other.ticket }))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_checked_in_reservation_cannot_be_cancelled() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(soon()).await;
    let t = app.ticket_for(id, "arrived@example.org", 2).await;
    let door = app.api_key(common::auth::Role::Door).await;
    assert_eq!(
        app.check_in(&door, &json!({ "token": t.ticket }))
            .await
            .status(),
        200
    );

    let response = app
        .post_json("/api/v1/reservations/cancel", &json!({ "token": t.cancel }))
        .await;

    assert_eq!(response.status(), 409);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "not_valid"
    );
    assert_eq!(app.seats_available(id).await, 48);
}

#[tokio::test]
async fn tokens_only_work_for_their_own_purpose() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(soon()).await;
    let t = app.ticket_for(id, "purpose@example.org", 1).await;
    let door = app.api_key(common::auth::Role::Door).await;

    let confirm_with_ticket = app.confirm(&t.ticket).await;
    let cancel_with_ticket = app
        .post_json("/api/v1/reservations/cancel", &json!({ "token": t.ticket }))
        .await;
    let cancel_with_confirmation = app
        .post_json(
            "/api/v1/reservations/cancel",
            &json!({ "token": t.confirmation }),
        )
        .await;
    let checkin_with_confirmation = app
        .check_in(&door, &json!({ "token": t.confirmation }))
        .await;
    let checkin_with_cancel = app.check_in(&door, &json!({ "token": t.cancel })).await;

    for response in [
        confirm_with_ticket,
        cancel_with_ticket,
        cancel_with_confirmation,
    ] {
        assert_eq!(response.status(), 404);
        assert_eq!(
            response.json::<Value>().await.unwrap()["error"],
            "invalid_token"
        );
    }
    for response in [checkin_with_confirmation, checkin_with_cancel] {
        assert_eq!(response.status(), 404);
        assert_eq!(
            response.json::<Value>().await.unwrap()["error"],
            "unknown_ticket"
        );
    }
    let status: String = sqlx::query_scalar("SELECT status FROM reservations")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "confirmed");
}

#[tokio::test]
async fn issuing_a_ticket_again_revokes_the_earlier_one() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(soon()).await;
    let first = app.ticket_for(id, "twice@example.org", 2).await;
    let reservation: uuid::Uuid = sqlx::query_scalar("SELECT id FROM reservations")
        .fetch_one(&app.db)
        .await
        .unwrap();

    // A new ticket generation whose e-mail job has not revoked anything yet: the ticket job's
    // lease statement revokes the earlier tokens as it issues the new ones.
    let mut tx = app.db.begin().await.unwrap();
    common::tickets::supersede_ticket(&mut tx, reservation)
        .await
        .unwrap();
    let job = common::jobs::SendTicket {
        reservation_id: reservation,
        request_id: None,
    };
    common::jobs::enqueue_again(&mut tx, &job, 3).await.unwrap();
    tx.commit().await.unwrap();
    let mail = app.wait_for_mail("twice@example.org", 3).await.remove(2);
    let second = mail.token_after("/t/").expect("ticket link");

    let door = app.api_key(common::auth::Role::Door).await;
    let old = app.check_in(&door, &json!({ "token": first.ticket })).await;
    assert_eq!(old.status(), 409);
    assert_eq!(old.json::<Value>().await.unwrap()["error"], "not_valid");
    assert_eq!(
        app.check_in(&door, &json!({ "token": second }))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.check_in(&door, &json!({ "token": second }))
            .await
            .status(),
        409
    );
}

/// Staff re-send a ticket while the first ticket e-mail is still on its way (a slow SMTP
/// server); `slots` ticket jobs may run at once. The newest e-mail must hold the live ticket.
async fn re_send_during_a_slow_ticket_e_mail(slots: usize) {
    let app = TestApp::spawn_with(|c| {
        c.jobs.queue_concurrency = vec![(common::jobs::TICKET_QUEUE, slots)];
        // Counts the ticket e-mails' jobs only.
        c.booking.reminder_before = None;
    })
    .await;
    let id = app.create_performance(soon()).await;
    let email = format!("race-{slots}@example.org");
    app.book(id, &email, 2).await;
    let token = app.confirmation_token(&email).await;
    app.smtp
        .set_mode(tests::smtp::Mode::Slow(std::time::Duration::from_secs(3)));
    assert_eq!(app.confirm(&token).await.status(), 200);
    let reservation: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM reservations WHERE email = $1")
            .bind(&email)
            .fetch_one(&app.db)
            .await
            .expect("reservation");
    // The first ticket e-mail is under way: its job holds the sending lease.
    tests::eventually("a ticket job to take the sending lease", || async {
        sqlx::query_scalar::<_, Option<String>>(
            "SELECT ticket_send_by FROM reservations WHERE id = $1",
        )
        .bind(reservation)
        .fetch_one(&app.db)
        .await
        .expect("lease")
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let resent = app
        .admin_request(
            reqwest::Method::POST,
            &format!("/api/v1/admin/reservations/{reservation}/resend-ticket"),
            None,
        )
        .await;
    assert_eq!(resent.status(), 202);

    let mails = app.wait_for_mail(&email, 3).await;
    let counts = app.wait_for_jobs().await;
    assert_eq!(counts.get("Done"), Some(&3), "{counts:?}");
    let first = mails[1].token_after("/t/").expect("first ticket");
    let newest = mails[2].token_after("/t/").expect("newest ticket");
    let door = app.api_key(common::auth::Role::Door).await;
    let superseded = app
        .check_in(&door, &json!({ "token": first, "performance_id": id }))
        .await;
    assert_ne!(superseded.status(), 200, "the superseded ticket is revoked");
    let live = app
        .check_in(&door, &json!({ "token": newest, "performance_id": id }))
        .await;
    assert_eq!(live.status(), 200, "the newest e-mail holds a valid ticket");
    assert_eq!(app.smtp.messages_to(&email).len(), 3, "no further e-mail");
}

#[tokio::test]
async fn a_ticket_re_sent_while_the_only_ticket_slot_is_sending_the_old_one_reaches_the_visitor() {
    re_send_during_a_slow_ticket_e_mail(1).await;
}

#[tokio::test]
async fn a_ticket_re_sent_while_the_old_one_is_sending_is_sent_after_it_not_beside_it() {
    re_send_during_a_slow_ticket_e_mail(4).await;
}
