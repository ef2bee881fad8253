//! The short ticket code: printed in the ticket e-mail and on the ticket page, typed at the
//! door, and checked in exactly like the ticket token.

use common::auth::Role;
use serde_json::{Value, json};
use tests::{PerformanceSpec, TestApp, Ticket};

fn soon() -> PerformanceSpec {
    PerformanceSpec {
        starts_in: chrono::Duration::minutes(30),
        ..Default::default()
    }
}

/// The code as the ticket e-mail prints it, `XXXX-XXXX-XX`.
fn code_in_mail(t: &Ticket) -> String {
    let text = t.mail.unfolded();
    let at = text
        .find("ticket code: ")
        .expect("the e-mail prints the code")
        + 13;
    let code = text[at..at + 12].to_owned();
    assert!(
        code.len() == 12 && &code[4..5] == "-" && &code[9..10] == "-",
        "{code:?}"
    );
    code
}

async fn outcome(response: reqwest::Response) -> (u16, Option<String>) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["error"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn the_code_from_the_e_mail_checks_in_like_the_token_however_it_is_typed() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(soon()).await;
    let elsewhere = app.create_performance(soon()).await;
    let t = app.ticket_for(id, "code@example.org", 3).await;
    let code = code_in_mail(&t);
    let typed = format!(" {} ", code.to_lowercase().replace('-', " "));
    let door = app.api_key(Role::Door).await;

    let page = app.ticket_page(&t.ticket).await;
    assert!(page.contains(&code), "the ticket page shows the code");
    assert!(
        page.contains("src=\"data:image/svg+xml;base64,"),
        "the ticket page shows the QR code"
    );
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM reservation_tokens WHERE purpose = 'short_code' AND revoked_at IS NULL",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(stored, 1, "one live code, stored as a hash");

    let wrong = app
        .check_in(
            &door,
            &json!({ "token": typed, "performance_id": elsewhere }),
        )
        .await;
    assert_eq!(
        outcome(wrong).await,
        (422, Some("wrong_performance".to_owned()))
    );
    let editor = app.api_key(Role::Editor).await;
    assert_eq!(
        outcome(app.check_in(&editor, &json!({ "token": code })).await).await,
        (403, Some("forbidden".to_owned())),
        "useless without door credentials"
    );
    let first = app
        .check_in(&door, &json!({ "token": typed, "performance_id": id }))
        .await;
    assert_eq!(first.status(), 200);
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["party_size"], 3);
    assert_eq!(body["performance"]["id"], id.to_string());

    let (status, again) = outcome(app.check_in(&door, &json!({ "token": t.ticket })).await).await;
    assert_eq!(
        (status, again.as_deref()),
        (409, Some("already_checked_in")),
        "code and token are one ticket"
    );
    let page = app.ticket_page(&t.ticket).await;
    assert!(!page.contains(&code), "a used ticket shows no code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_check_ins_of_one_code_let_exactly_one_in() {
    let app = TestApp::spawn_with(|c| c.database.max_connections = 30).await;
    let id = app.create_performance(soon()).await;
    let t = app.ticket_for(id, "code-rush@example.org", 2).await;
    let code = code_in_mail(&t);
    let door = app.api_key(Role::Door).await;
    let bodies: Vec<Value> = (0..20)
        .map(|i| match i % 3 {
            0 => json!({ "token": code }),
            1 => json!({ "token": code.to_lowercase() }),
            _ => json!({ "token": t.ticket }),
        })
        .collect();

    let responses = futures::future::join_all(bodies.iter().map(|b| app.check_in(&door, b))).await;

    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_new_ticket_or_a_cancellation_revokes_the_code() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(soon()).await;
    let door = app.api_key(Role::Door).await;

    let replaced = app.ticket_for(id, "replaced@example.org", 1).await;
    let old_code = code_in_mail(&replaced);
    let reservation: uuid::Uuid = sqlx::query_scalar("SELECT id FROM reservations")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let resent = app
        .admin_request(
            reqwest::Method::POST,
            &format!("/api/v1/admin/reservations/{reservation}/resend-ticket"),
            None,
        )
        .await;
    assert!(resent.status().is_success(), "{}", resent.status());
    let (status, error) = outcome(app.check_in(&door, &json!({ "token": old_code })).await).await;
    assert_eq!((status, error.as_deref()), (409, Some("not_valid")));
    let new_mail = app.wait_for_mail("replaced@example.org", 3).await.remove(2);
    let new_ticket = Ticket {
        ticket: new_mail.token_after("/t/").unwrap(),
        cancel: String::new(),
        confirmation: String::new(),
        mail: new_mail,
    };
    let new_code = code_in_mail(&new_ticket);
    assert_ne!(new_code, old_code);

    let cancelled = app.ticket_for(id, "cancelled@example.org", 1).await;
    let code = code_in_mail(&cancelled);
    let cancel = app
        .post_json(
            "/api/v1/reservations/cancel",
            &json!({ "token": cancelled.cancel }),
        )
        .await;
    assert_eq!(cancel.status(), 200);
    let (status, error) = outcome(app.check_in(&door, &json!({ "token": code })).await).await;
    assert_eq!((status, error.as_deref()), (409, Some("not_valid")));

    assert_eq!(
        app.check_in(&door, &json!({ "token": new_code }))
            .await
            .status(),
        200,
        "the new ticket's code works"
    );
}

#[tokio::test]
async fn failed_code_look_ups_are_limited_per_credential() {
    let app = TestApp::spawn_without_worker().await;
    let id = app.create_performance(soon()).await;
    let t = app.ticket_for(id, "guess@example.org", 1).await;
    let code = code_in_mail(&t);
    let guesser = app.api_key(Role::Door).await;
    let other = app.api_key(Role::Door).await;

    for i in 0..web::rate_limit::SHORT_CODE_FAILURES_ALLOWED {
        let guess = format!("0000-0000-{i:02}");
        let (status, error) =
            outcome(app.check_in(&guesser, &json!({ "token": guess })).await).await;
        assert_eq!((status, error.as_deref()), (404, Some("unknown_ticket")));
    }
    let limited = app.check_in(&guesser, &json!({ "token": code })).await;
    assert_eq!(
        limited.status(),
        429,
        "even a right code, once the guesses are used up"
    );
    assert!(limited.headers().contains_key("retry-after"));
    let checked_in: i64 =
        sqlx::query_scalar("SELECT count(*) FROM reservations WHERE checked_in_at IS NOT NULL")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(checked_in, 0);

    assert_eq!(
        app.check_in(&other, &json!({ "token": code }))
            .await
            .status(),
        200,
        "another credential is not limited"
    );
}
