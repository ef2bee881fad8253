//! The binaries as an operator runs them: commands, configuration errors, signals and logs.

use std::time::Duration;

use serde_json::{Value, json};
use tests::{
    db::TestDatabase,
    process::{self, Running},
    smtp::SmtpServer,
};

const SECRET: &str = "a-secret-key-for-tests-that-is-long-enough";

fn base_env(database_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", database_url.to_owned()),
        ("SECRET_KEY", SECRET.to_owned()),
        ("PUBLIC_BASE_URL", "https://tickets.example.org".to_owned()),
    ]
}

fn as_refs<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn missing_or_malformed_configuration_stops_both_binaries_with_one_line_naming_the_variable() {
    let good = [
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none"),
        ("SECRET_KEY", SECRET),
        ("PUBLIC_BASE_URL", "https://tickets.example.org"),
        ("SMTP_URL", "smtp://127.0.0.1:2525"),
        ("MAIL_FROM", "tickets@example.org"),
    ];
    let cases: [(&str, Option<&str>); 11] = [
        ("DATABASE_URL", None),
        ("DATABASE_URL", Some("mysql://x")),
        ("SECRET_KEY", None),
        ("SECRET_KEY", Some("too-short")),
        ("PUBLIC_BASE_URL", Some("tickets.example.org")),
        ("BIND_ADDR", Some("not-an-address")),
        ("RATE_LIMIT_PER_MINUTE", Some("-3")),
        ("CONFIRMATION_TTL_MINUTES", Some("soon")),
        ("TIMEZONE", Some("Europe/Atlantis")),
        ("TIMEZONE", Some("+02:00")),
        ("DEFAULT_LANGUAGE", Some("de")),
    ];
    for binary in ["azione-web", "azione-worker"] {
        for (name, value) in cases {
            let mut vars: Vec<(&str, &str)> =
                good.iter().copied().filter(|(k, _)| *k != name).collect();
            if let Some(v) = value {
                vars.push((name, v));
            }
            let output = process::run(binary, &[], &vars);
            let stderr = String::from_utf8_lossy(&output.stderr);
            let error_lines: Vec<&str> =
                stderr.lines().filter(|l| l.starts_with("error:")).collect();
            assert!(
                !output.status.success(),
                "{binary} {name}={value:?} must fail"
            );
            assert_eq!(error_lines.len(), 1, "{binary}: {stderr}");
            assert!(error_lines[0].contains(name), "{binary}: {stderr}");
        }
    }
    for (name, value) in [
        ("SMTP_URL", None),
        ("SMTP_URL", Some("http://x")),
        ("MAIL_FROM", None),
        ("MAIL_FROM", Some("nobody")),
    ] {
        let mut vars: Vec<(&str, &str)> =
            good.iter().copied().filter(|(k, _)| *k != name).collect();
        if let Some(v) = value {
            vars.push((name, v));
        }
        let output = process::run("azione-worker", &[], &vars);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("error:") && l.contains(name)),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn migrate_is_repeatable_and_create_api_key_prints_a_working_key_once() {
    let db = TestDatabase::create_empty().await;
    let env = base_env(&db.url);

    for _ in 0..2 {
        let output = process::run("azione-web", &["migrate"], &as_refs(&env));
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let output = process::run(
        "azione-web",
        &["create-api-key", "--role", "editor", "--label", "scanner 1"],
        &as_refs(&env),
    );
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one line, nothing else");
    let key = stdout.trim();
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains(key),
        "the key is not logged"
    );
    let stored: Vec<u8> = sqlx::query_scalar("SELECT key_hash FROM api_keys")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        stored,
        common::token::TokenHash::of(key).as_bytes(),
        "stored as its hash"
    );

    let bad_role = process::run(
        "azione-web",
        &["create-api-key", "--role", "boss", "--label", "x"],
        &as_refs(&env),
    );
    assert!(!bad_role.status.success());
}

#[tokio::test]
async fn create_staff_reads_the_password_from_the_environment_and_stores_an_argon2_hash() {
    let db = TestDatabase::create().await;
    let mut env = base_env(&db.url);
    env.push(("AZIONE_STAFF_PASSWORD", "correct horse battery".to_owned()));

    let output = process::run(
        "azione-web",
        &[
            "create-staff",
            "--email",
            "door@example.org",
            "--role",
            "door",
        ],
        &as_refs(&env),
    );

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let all_output = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!all_output.contains("correct horse battery"));
    let (role, hash): (String, String) =
        sqlx::query_as("SELECT role, password_hash FROM staff_users")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(role, "door");
    assert!(hash.starts_with("$argon2id$"));
    assert!(common::auth::verify_password(
        "correct horse battery",
        &hash
    ));
}

/// The whole flow through the real binaries; their logs must hold no personal data or token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_and_worker_processes_serve_the_flow_stop_on_sigterm_and_log_no_secrets() {
    let db = TestDatabase::create().await;
    let smtp = SmtpServer::start().await;
    let addr = process::free_port();
    let mut env = base_env(&db.url);
    env.extend([
        ("BIND_ADDR", addr.to_string()),
        ("SMTP_URL", smtp.url()),
        ("MAIL_FROM", "tickets@example.org".to_owned()),
        ("RATE_LIMIT_PER_MINUTE", "0".to_owned()),
        ("JOB_POLL_INTERVAL_MS", "100".to_owned()),
        ("WORKER_BIND_ADDR", process::free_port().to_string()),
    ]);
    let key = {
        let output = process::run(
            "azione-web",
            &["create-api-key", "--role", "admin", "--label", "t"],
            &as_refs(&env),
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    let web = Running::spawn("azione-web", &["serve"], &as_refs(&env));
    let worker = Running::spawn("azione-worker", &[], &as_refs(&env));
    process::wait_for_port(addr).await;
    let client = reqwest::Client::new();
    let url = |p: &str| format!("http://{addr}{p}");

    let room: Value = client
        .post(url("/api/v1/admin/rooms"))
        .bearer_auth(&key)
        .json(&json!({ "name": "Sala", "capacity": 10 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let performance: Value = client.post(url("/api/v1/admin/performances")).bearer_auth(&key)
        .json(&json!({ "title": "Il servitore", "room_id": room["id"], "booking_status": "open",
                       "starts_at": (chrono::Utc::now() + chrono::Duration::minutes(30)).to_rfc3339() }))
        .send().await.unwrap().json().await.unwrap();
    let booking = json!({ "name": "Truffaldino Battocchio", "email": "truffaldino@example.org",
                          "phone": "+39 333 9876543", "notes": "allergic to cats", "party_size": 2 });
    let booked = client
        .post(url(&format!(
            "/api/v1/performances/{}/reservations",
            performance["id"].as_str().unwrap()
        )))
        .json(&booking)
        .send()
        .await
        .unwrap();
    let request_id = booked.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(booked.status(), 202);
    tests::eventually("an e-mail from the worker process", || async {
        (!smtp.messages_to("truffaldino@example.org").is_empty()).then_some(())
    })
    .await;
    let token = smtp.messages()[0]
        .token_after("/reservations/confirm?token=")
        .unwrap();
    assert!(
        smtp.messages()[0]
            .unfolded()
            .contains("https://tickets.example.org/reservations/confirm?token=")
    );
    let page = client
        .get(url(&format!("/reservations/confirm?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let confirmed = client
        .post(url("/api/v1/reservations/confirm"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    let bad = client
        .post(url("/api/v1/reservations/confirm"))
        .json(&json!({ "token": format!("{token}x") }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 404);

    // The ticket e-mail, then door staff log in and check it in with their session.
    tests::eventually("a ticket e-mail from the worker process", || async {
        (smtp.messages_to("truffaldino@example.org").len() >= 2).then_some(())
    })
    .await;
    let ticket_mail = smtp.messages_to("truffaldino@example.org").remove(1);
    let ticket = ticket_mail.token_after("/t/").unwrap();
    let cancel = ticket_mail
        .token_after("/reservations/cancel?token=")
        .unwrap();
    let password = "door password 123";
    let mut staff_env = env.clone();
    staff_env.push(("AZIONE_STAFF_PASSWORD", password.to_owned()));
    let created = process::run(
        "azione-web",
        &[
            "create-staff",
            "--email",
            "usher@example.org",
            "--role",
            "door",
        ],
        &as_refs(&staff_env),
    );
    assert!(created.status.success());
    let usher = tests::StaffClient::log_in(
        &url(""),
        common::auth::Role::Door,
        "usher@example.org",
        password,
    )
    .await;
    let checked_in = usher
        .post_json(
            "/api/v1/checkin",
            &json!({ "token": format!("https://tickets.example.org/t/{ticket}"), "nonce": "n-1" }),
        )
        .await;
    assert_eq!(checked_in.status(), 200);
    let ticket_page = client
        .get(url(&format!("/t/{ticket}")))
        .send()
        .await
        .unwrap();
    assert_eq!(ticket_page.status(), 200);
    let late_cancel = client
        .post(url("/api/v1/reservations/cancel"))
        .json(&json!({ "token": cancel }))
        .send()
        .await
        .unwrap();
    assert_eq!(late_cancel.status(), 409);
    let cancel_page = client
        .get(url(&format!("/reservations/cancel?token={cancel}")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel_page.status(), 200);

    let (web_status, web_log) = web.terminate(Duration::from_secs(10));
    let (worker_status, worker_log) = worker.terminate(Duration::from_secs(40));

    assert_eq!(
        web_status,
        Some(0),
        "web stops cleanly on SIGTERM:\n{web_log}"
    );
    assert_eq!(
        worker_status,
        Some(0),
        "worker stops cleanly on SIGTERM:\n{worker_log}"
    );
    assert!(
        web_log.contains("request finished")
            && web_log.contains("/api/v1/performances/{id}/reservations")
    );
    assert!(
        worker_log.contains(&format!("request_id={request_id}")),
        "the booking's request id reaches the confirmation job's log lines:\n{worker_log}"
    );
    for secret in [
        token.as_str(),
        &ticket,
        &cancel,
        &key,
        "truffaldino@example.org",
        "Truffaldino",
        "333 9876543",
        "allergic",
        "usher@example.org",
        password,
        &usher.session,
        &usher.csrf,
        SECRET,
    ] {
        assert!(!web_log.contains(secret), "web log contains {secret:?}");
        assert!(
            !worker_log.contains(secret),
            "worker log contains {secret:?}"
        );
    }
}

#[tokio::test]
async fn create_staff_needs_only_the_database_url_and_its_help_explains_roles_and_password() {
    let db = TestDatabase::create().await;
    let help = process::run("azione-web", &["create-staff", "--help"], &[]);
    let help = String::from_utf8_lossy(&help.stdout);
    for needed in [
        "admin",
        "editor",
        "door",
        "operator",
        "8 to 1000 characters",
    ] {
        assert!(help.contains(needed), "--help mentions {needed}:\n{help}");
    }

    let output = process::run(
        "azione-web",
        &[
            "create-staff",
            "--email",
            "only-db@example.org",
            "--role",
            "door",
        ],
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("AZIONE_STAFF_PASSWORD", "correct horse battery"),
        ],
    );

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE actor = 'cli' AND action = 'staff.create'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1, "a user created on the command line is audited");
}

/// `create-staff` on a terminal (a pseudo-terminal from `script`): asks twice, echoes nothing.
#[tokio::test]
async fn create_staff_asks_for_the_password_twice_on_a_terminal_without_echo() {
    use std::io::{Read, Write};
    let db = TestDatabase::create().await;
    let run = |email: &str, second: &str| {
        let command = format!(
            "env -i PATH=/usr/bin:/bin DATABASE_URL='{}' '{}' create-staff --email {email} --role door",
            db.url,
            process::binary("azione-web").display()
        );
        let mut child = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("script");
        let mut stdout = child.stdout.take().unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let reader = {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 256];
                while let Ok(n) = stdout.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    seen.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            })
        };
        let wait_for = |text: &str| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while !seen.lock().unwrap().contains(text) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no {text:?} in {:?}",
                    seen.lock().unwrap()
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        };
        let mut stdin = child.stdin.take().unwrap();
        wait_for("Password for");
        stdin.write_all(b"typed secret one\n").unwrap();
        wait_for("again");
        stdin.write_all(format!("{second}\n").as_bytes()).unwrap();
        let status = child.wait().unwrap();
        reader.join().unwrap();
        let output = seen.lock().unwrap().clone();
        (status.success(), output)
    };

    let (ok, output) = run("typed@example.org", "typed secret one");
    assert!(ok, "{output}");
    assert!(!output.contains("typed secret"), "echoed: {output:?}");
    let (ok, output) = run("differs@example.org", "typed secret two");
    assert!(!ok && output.contains("differ"), "{output}");
    let users: Vec<String> = sqlx::query_scalar("SELECT email FROM staff_users")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(users, ["typed@example.org"]);
}
