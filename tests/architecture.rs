//! The shape of the code, checked: one route table, and reservation states typed end to end.
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
