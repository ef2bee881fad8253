//! The shape of the code, checked: one route table, reservation states typed end to end, staff
//! use cases in `common`, error codes spelled once, and pages that fail through `PageResult`.
//! (That every state-changing route of the table refuses a session without its CSRF token is
//! `security::every_state_changing_route_refuses_a_session_without_its_csrf_token`.)

use common::booking::{self, ReservationStatus};
use tests::{PerformanceSpec, TestApp};

/// The `.rs` files under `dir`, recursively.
fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

fn crate_dir(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
        .join("src")
}

#[test]
fn the_route_table_is_the_only_place_that_routes_a_url() {
    for file in rust_files(&crate_dir("web")) {
        if file.ends_with("routes.rs") {
            continue;
        }
        let source = std::fs::read_to_string(&file).unwrap();
        assert!(
            !source.contains(".route(") && !source.contains("fn router("),
            "{} routes URLs: add them to web/src/routes.rs instead",
            file.display()
        );
    }
    let table = web::routes::TABLE;
    assert!(
        table.len() >= 60,
        "the table lists only {} routes",
        table.len()
    );
    for (i, (_, method, path)) in table.iter().enumerate() {
        assert!(
            !table[..i].iter().any(|(_, m, p)| m == method && p == path),
            "{method} {path} is listed twice"
        );
    }
}

/// Every `.rs` file of a crate with its source.
fn sources(name: &str) -> Vec<(std::path::PathBuf, String)> {
    rust_files(&crate_dir(name))
        .into_iter()
        .map(|file| {
            let source = std::fs::read_to_string(&file).unwrap();
            (file, source)
        })
        .collect()
}

#[test]
fn staff_use_cases_live_in_common_and_take_parsed_input() {
    let mut found = Vec::new();
    for (file, source) in sources("web") {
        assert!(
            !source.contains("form_object"),
            "{}: forms are read into the typed input, not into a JSON object",
            file.display()
        );
        assert!(
            !source.contains("passed validation unset"),
            "{}: a parsed input cannot lack a required field",
            file.display()
        );
        if !file.to_string_lossy().contains("admin") {
            continue;
        }
        // A use case is `pub async fn save_…`, `change_…`, `issue_…` or `withdraw_…`: its
        // signature, up to the body, must not take the web state.
        for (at, _) in source.match_indices("async fn ") {
            let name = &source[at + 9..];
            let signature = &source[at..at + source[at..].find('{').unwrap()];
            let use_case = [
                "save_",
                "change_",
                "issue_",
                "withdraw_",
                "resend_ticket_for(",
            ]
            .iter()
            .any(|prefix| name.starts_with(prefix));
            assert!(
                !(use_case && signature.contains("AppState")),
                "{}: {signature} belongs in common::admin",
                file.display()
            );
        }
    }
    for (file, source) in sources("common") {
        assert!(
            !source.contains("axum") && !source.contains("ApiError"),
            "{}: common knows nothing of HTTP",
            file.display()
        );
        if file.to_string_lossy().contains("admin") {
            found.extend(
                source
                    .match_indices("pub async fn ")
                    .map(|(at, _)| source[at + 13..].split('(').next().unwrap().to_owned()),
            );
        }
    }
    for name in [
        "save_new_room",
        "save_room_changes",
        "save_new_performance",
        "save_performance_changes",
        "resend_ticket",
        "save_staff_user",
        "change_staff_user",
        "issue_api_key",
        "withdraw_api_key",
    ] {
        assert!(
            found.iter().any(|f| f == name),
            "common::admin has no {name}"
        );
    }
}

#[test]
fn each_error_code_is_spelled_once_in_error_rs() {
    let error_rs = std::fs::read_to_string(crate_dir("web").join("error.rs")).unwrap();
    let codes: Vec<&str> = error_rs
        .lines()
        .filter_map(|line| line.trim().strip_prefix("pub const "))
        .filter_map(|rest| rest.split('"').nth(1))
        .collect();
    assert!(codes.len() >= 20, "the codes module lists {codes:?}");
    assert!(codes.contains(&"not_valid") && codes.contains(&"insufficient_capacity"));
    for code in &codes {
        let quoted = format!("\"{code}\"");
        assert_eq!(
            error_rs.matches(&quoted).count(),
            1,
            "error.rs spells {quoted} more than once: use codes::"
        );
        for name in ["web", "common", "worker"] {
            for (file, source) in sources(name) {
                assert!(
                    file.ends_with("web/src/error.rs") || !source.contains(&quoted),
                    "{}: the error code {quoted}: use error::codes",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn pages_fail_through_page_result_and_check_in_outcomes_are_typed() {
    for (file, source) in sources("web") {
        assert!(
            !source.contains("extra.contains_key("),
            "{}: match the typed domain error, not the error body",
            file.display()
        );
        // The error page is rendered in one place: the conversion of `PageError`.
        assert!(
            file.ends_with("pages.rs") || !source.contains("error_page("),
            "{}: return PageResult and use ? instead of calling error_page",
            file.display()
        );
        assert!(
            !source.contains("Err(e) => pages::"),
            "{}: an error arm that renders a page",
            file.display()
        );
    }
}

#[test]
fn no_string_reservation_status_remains_in_common_web_or_worker() {
    for name in ["common", "web", "worker"] {
        for file in rust_files(&crate_dir(name)) {
            let source = std::fs::read_to_string(&file).unwrap();
            for (n, line) in source.lines().enumerate() {
                let stringly = [
                    "status: String",
                    "status: Option<String>",
                    "status: &str",
                    "(String, bool)",
                ]
                .iter()
                .any(|s| line.contains(s));
                // The job queue's own states are apalis's, not a reservation's.
                let job_status = file.ends_with("ops.rs") && name == "common";
                assert!(
                    !stringly || job_status,
                    "{}:{}: a status as a string: {line}",
                    file.display(),
                    n + 1
                );
            }
        }
    }
}

#[tokio::test]
async fn every_reservation_status_round_trips_through_the_database() {
    let app = TestApp::spawn().await;
    let performance = app.create_performance(PerformanceSpec::default()).await;
    app.book(performance, "round-trip@example.test", 2).await;
    let mut conn = app.db.acquire().await.unwrap();
    let all = [
        ReservationStatus::Pending,
        ReservationStatus::Confirmed,
        ReservationStatus::Cancelled,
        ReservationStatus::Expired,
    ];
    for status in all {
        // As a parameter and a result, and in the column with its CHECK constraint.
        let echoed: ReservationStatus = sqlx::query_scalar("SELECT $1::text")
            .bind(status)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(echoed, status);
        sqlx::query(
            "UPDATE reservations SET status = $1,
                    confirmed_at = CASE WHEN $1 = 'confirmed' THEN now() END
              WHERE performance_id = $2",
        )
        .bind(status)
        .bind(performance)
        .execute(&mut *conn)
        .await
        .unwrap();
        let listed = booking::list_reservations(&mut conn, performance)
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].status, status);
        assert_eq!(
            serde_json::to_value(listed[0].status).unwrap(),
            status.as_str()
        );
    }
    let unknown = sqlx::query_scalar::<_, ReservationStatus>("SELECT 'refunded'::text")
        .fetch_one(&mut *conn)
        .await;
    assert!(unknown.is_err(), "an unknown status must not decode");
}
