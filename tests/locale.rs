//! Italian and English: the language comes from the switch's cookie, else `Accept-Language`,
//! else `DEFAULT_LANGUAGE`; every page says which it is in; a reservation's e-mails are in the
//! language it was booked in; pages name what a link acts on; browsers get error pages in
//! words, the JSON API its codes.

use common::locale::Language;
use serde_json::{Value, json};
use tests::{PerformanceSpec, TestApp, browser::Browser};
use uuid::Uuid;

async fn page(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut req = app.client.get(app.url(path));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let response = req.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_comes_from_the_cookie_then_the_browser_then_the_default() {
    let app = TestApp::spawn_with(|c| c.locale.default_language = Language::It).await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    let path = format!("/performances/{id}");

    let (_, default) = page(&app, &path, &[]).await;
    assert!(
        default.contains(r#"<html lang="it">"#),
        "the default is Italian"
    );
    assert!(default.contains("Prenota posti gratuiti") && default.contains("posti disponibili"));

    let (_, browser) = page(&app, &path, &[("Accept-Language", "en-GB,en;q=0.9")]).await;
    assert!(browser.contains(r#"<html lang="en">"#));
    assert!(browser.contains("Book free seats") && browser.contains("50 seats available"));

    let (_, chosen) = page(
        &app,
        &path,
        &[("Accept-Language", "en-GB"), ("Cookie", "lang=it")],
    )
    .await;
    assert!(
        chosen.contains(r#"<html lang="it">"#),
        "the switch's choice wins"
    );

    for (path, words) in [
        ("/", "Spettacoli"),
        ("/reservations/confirm?token=x", "Conferma la prenotazione"),
        ("/reservations/cancel?token=x", "Annulla la prenotazione"),
    ] {
        let (_, html) = page(&app, path, &[]).await;
        assert!(html.contains(r#"<html lang="it">"#), "{path}");
        assert!(html.contains(words), "{path}");
        assert!(html.contains(r#"hreflang="en""#), "{path} has the switch");
    }
    let (_, login) = page(&app, "/admin/login", &[]).await;
    assert!(
        login.contains(r#"<html lang="en">"#),
        "staff pages are in English"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_switch_sets_the_cookie_and_returns_to_the_page_only_on_this_site() {
    let app = TestApp::spawn().await;
    let switched = app
        .client
        .get(app.url("/language?lang=it&back=%2Fperformances%2Fx%3Fa%3D1"))
        .send()
        .await
        .unwrap();
    assert_eq!(switched.status(), 303);
    assert_eq!(switched.headers()["location"], "/performances/x?a=1");
    let cookie = switched.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("lang=it;") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );

    for back in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let response = app
            .client
            .get(app.url("/language"))
            .query(&[("lang", "en"), ("back", back)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["location"], "/", "{back}");
    }
    let unknown = app.get("/language?lang=de&back=/").await;
    assert_eq!(unknown.status(), 400);
    assert!(unknown.headers().get("set-cookie").is_none());
}

/// Books through the API as a browser in `lang` would, confirms, and returns both e-mails.
async fn book_in(
    app: &TestApp,
    id: Uuid,
    email: &str,
    lang: &str,
) -> Vec<tests::smtp::ReceivedMail> {
    let booked = app
        .client
        .post(app.url(&format!("/api/v1/performances/{id}/reservations")))
        .header("Accept-Language", lang)
        .json(&json!({ "name": "Mirandolina", "email": email, "party_size": 3 }))
        .send()
        .await
        .unwrap();
    assert_eq!(booked.status(), 202);
    let token = app.confirmation_token(email).await;
    // Confirmed from an English browser: the e-mails keep the booking's language.
    let confirmed = app
        .client
        .post(app.url("/api/v1/reservations/confirm"))
        .header("Accept-Language", "en")
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    app.wait_for_mail(email, 2).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_reservation_gets_its_emails_in_the_language_it_was_booked_in() {
    let app = TestApp::spawn().await;
    let id = app.create_performance(PerformanceSpec::default()).await;

    let italian = book_in(&app, id, "italiano@example.org", "it-IT,it;q=0.9").await;
    let confirmation = italian[0].unfolded();
    assert!(
        confirmation.contains("grazie per aver prenotato 3 posti"),
        "{confirmation}"
    );
    assert!(confirmation.contains("Conferma la prenotazione"));
    assert!(confirmation.contains(r#"<html lang="it">"#));
    let ticket = italian[1].unfolded();
    assert!(ticket.contains("Buongiorno Mirandolina"));
    assert!(
        ticket.contains("la tua prenotazione =C3=A8 confermata")
            || ticket.contains("la tua prenotazione è confermata")
    );
    assert!(ticket.contains("Annulla la prenotazione"));
    let language: String = sqlx::query_scalar("SELECT language FROM reservations WHERE email = $1")
        .bind("italiano@example.org")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(language, "it");

    let english = book_in(&app, id, "english@example.org", "en-US").await;
    assert!(
        english[0]
            .unfolded()
            .contains("thank you for booking 3 seats")
    );
    assert!(
        english[0]
            .header("Subject")
            .unwrap()
            .contains("Please confirm your booking")
    );
    assert!(english[1].unfolded().contains("your booking is confirmed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_waiting_list_speaks_the_language_the_visitor_joined_in_and_so_does_the_claimed_ticket()
{
    use crate::waitlist::{full_room, post_token};
    let app = TestApp::spawn().await;
    let id = app.create_performance(full_room(2)).await;
    let holder = app.ticket_for(id, "holder@example.org", 2).await;
    let email = "in-lista@example.org";
    let joined = app
        .client
        .post(app.url(&format!("/api/v1/performances/{id}/waitlist")))
        .header("Accept-Language", "it-IT,it;q=0.9")
        .json(&json!({ "name": "Florindo", "email": email, "party_size": 2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), 202);
    let mail = app.wait_for_mail(email, 1).await.remove(0);
    assert!(
        mail.header("Subject")
            .unwrap()
            .contains("Conferma il tuo posto in lista")
    );
    let text = mail.unfolded();
    assert!(text.contains("hai chiesto di entrare in lista d"), "{text}");
    assert!(text.contains("Esci dalla lista d"));
    assert!(text.contains(r#"<html lang="it">"#));
    assert!(!text.contains("UTC"));

    // Confirmed from the API (no language): the entry keeps Italian for what follows.
    let confirm = mail.token_after("/waitlist/confirm?token=").expect("link");
    let confirmed = post_token(&app, "/api/v1/waitlist/confirm", &confirm).await;
    assert_eq!(confirmed.status(), 200);
    let cancelled = post_token(&app, "/api/v1/reservations/cancel", &holder.cancel).await;
    assert_eq!(cancelled.status(), 200);
    let offer = app.wait_for_mail(email, 2).await.remove(1);
    assert!(
        offer
            .header("Subject")
            .unwrap()
            .contains("Ci sono posti liberi per te")
    );
    let text = offer.unfolded();
    assert!(text.contains("Li teniamo per te fino a"), "{text}");
    assert!(text.contains("Rifiuta l"), "{text}");

    let claim = offer
        .token_after("/waitlist/claim?token=")
        .expect("claim link");
    let claimed = post_token(&app, "/api/v1/waitlist/claim", &claim).await;
    assert_eq!(claimed.status(), 200);
    let ticket = app.wait_for_mail(email, 3).await.remove(2);
    assert!(
        ticket
            .header("Subject")
            .unwrap()
            .contains("Il tuo biglietto")
    );
    let language: String = sqlx::query_scalar("SELECT language FROM reservations WHERE email = $1")
        .bind(email)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(language, "it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_and_cancel_pages_name_the_show_its_local_time_and_the_seats() {
    let app = TestApp::spawn().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    app.book(id, "named@example.org", 2).await;
    let token = app.confirmation_token("named@example.org").await;
    let starts_at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT starts_at FROM performances")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let clock = common::time::clock(starts_at, common::time::DEFAULT_TIMEZONE);

    let (status, confirm) = page(&app, &format!("/reservations/confirm?token={token}"), &[]).await;
    assert_eq!(status, 200);
    assert!(confirm.contains("2 seats for “La locandiera”"), "{confirm}");
    assert!(confirm.contains(&clock));
    assert!(!confirm.contains("Mirandolina") && !confirm.contains("named@example.org"));
    let status: String = sqlx::query_scalar("SELECT status FROM reservations")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "pending", "the page changes nothing");

    assert_eq!(app.confirm(&token).await.status(), 200);
    let mail = app.wait_for_mail("named@example.org", 2).await.remove(1);
    let cancel = mail.token_after("/reservations/cancel?token=").unwrap();
    let (_, page_html) = page(
        &app,
        &format!("/reservations/cancel?token={cancel}"),
        &[("Accept-Language", "it")],
    )
    .await;
    assert!(
        page_html.contains("2 posti per «La locandiera»"),
        "{page_html}"
    );
    assert!(page_html.contains(&clock));
    assert!(
        page_html.contains(r#"class="danger""#),
        "a danger-styled button"
    );
    assert!(
        page_html.contains("Non si può tornare indietro"),
        "the consequence in words"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_error_pages_in_words_and_the_api_keeps_json() {
    let app = TestApp::spawn().await;
    let html = [("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")];

    let (status, body) = page(&app, "/no/such/page", &html).await;
    assert_eq!(status, 404);
    assert!(
        body.contains("<html lang=\"en\">") && body.contains("Page not found"),
        "{body}"
    );
    let (status, body) = page(&app, "/no/such/page", &[html[0], ("Accept-Language", "it")]).await;
    assert_eq!(status, 404);
    assert!(body.contains("Pagina non trovata"));

    let (status, body) = page(&app, "/api/v1/no/such", &html).await;
    assert_eq!(status, 404);
    let json: Value = serde_json::from_str(&body).expect("JSON for API paths");
    assert_eq!(json["error"], "not_found");
    let (status, body) = page(&app, "/no/such/page", &[]).await;
    assert_eq!(status, 404);
    assert!(
        serde_json::from_str::<Value>(&body).is_ok(),
        "JSON when no page is asked for"
    );

    let refused = app
        .client
        .delete(app.url("/"))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 405);
    assert!(refused.headers().contains_key("allow"));
    let body = refused.text().await.unwrap();
    assert!(body.contains("This page cannot do that"), "{body}");

    let (status, body) = page(&app, "/t/not-a-ticket", &html).await;
    assert_eq!(status, 404);
    assert!(body.contains("Unknown ticket"), "{body}");
    assert!(!body.contains("unknown_ticket"), "not the API's code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_books_in_italian_and_another_in_english_in_the_browser() {
    let app = TestApp::spawn().await;
    let id = app.create_performance(PerformanceSpec::default()).await;
    let browser = Browser::start().await;

    for (lang, switch, fix, sent, confirm_title, confirmed, subject) in [
        (
            "it",
            "Italiano",
            "Inserisci il tuo nome.",
            "Controlla la tua e-mail",
            "Conferma la prenotazione",
            "Prenotazione confermata",
            "Il tuo biglietto",
        ),
        (
            "en",
            "English",
            "Please enter your name.",
            "Check your e-mail",
            "Confirm your booking",
            "Booking confirmed",
            "Your ticket",
        ),
    ] {
        let email = format!("browser-{lang}@example.org");
        browser.goto(&app.url(&format!("/performances/{id}"))).await;
        // The switch shows the other language as a link; the current one is marked.
        if browser.text("nav.languages [aria-current]").await != switch {
            browser
                .click(&format!(r#"nav.languages a[hreflang="{lang}"]"#))
                .await;
        }
        browser
            .wait_for_text("nav.languages [aria-current]", switch)
            .await;
        assert!(
            browser
                .current_url()
                .await
                .ends_with(&format!("/performances/{id}"))
        );

        browser.type_into("#email", &email).await;
        browser.type_into("#party_size", "2").await;
        browser.click("main form.stack button[type=submit]").await;
        browser.wait_for_text("#name-error", fix).await;
        browser.screenshot(&format!("booking-error-{lang}")).await;

        browser.type_into("#name", "Ortensia").await;
        browser.click("main form.stack button[type=submit]").await;
        browser.wait_for_text("h1", sent).await;

        let token = app.confirmation_token(&email).await;
        browser
            .goto(&app.url(&format!("/reservations/confirm?token={token}")))
            .await;
        browser.wait_for_text("h1", confirm_title).await;
        browser.click("main form button[type=submit]").await;
        browser.wait_for_text("h1", confirmed).await;

        let mails = app.wait_for_mail(&email, 2).await;
        let booked_in: String =
            sqlx::query_scalar("SELECT language FROM reservations WHERE email = $1")
                .bind(&email)
                .fetch_one(&app.db)
                .await
                .unwrap();
        assert_eq!(booked_in, lang);
        let subject = subject.to_owned();
        assert!(
            mails[1]
                .header("Subject")
                .is_some_and(|s| s.contains(&subject))
                || mails[1].unfolded().contains(&subject),
            "ticket e-mail in {lang}"
        );
    }
}
