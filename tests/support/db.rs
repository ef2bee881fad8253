//! A fresh database per test. The server comes from `DATABASE_URL` (any database on it; we
//! create our own), else `postgres://postgres@127.0.0.1:5432`. Migrations run once per test
//! binary into a template database; each test gets a copy of it, dropped when the test ends.

use std::sync::OnceLock;

use sqlx::{Connection, Executor, PgConnection, PgPool, postgres::PgPoolOptions};

/// The server's admin URL (database `postgres`).
fn server_url() -> String {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    with_database(&url, "postgres")
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{host_part}/{name}{query}")
}

/// Name of the migrated template for the current migrations.
fn template_name() -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("read migrations")
        .map(|e| e.expect("migration entry").path())
        .collect();
    files.sort();
    for f in files {
        std::fs::read(&f).expect("read migration").hash(&mut hasher);
    }
    format!("azione_tmpl_{:016x}", hasher.finish())
}

/// Creates the template once per server and migration set (guarded across processes).
fn template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        // Runs on its own thread and runtime: the caller's runtime belongs to one test only.
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(create_template())
        })
        .join()
        .expect("template setup panicked")
    })
}

async fn create_template() -> String {
    let name = template_name();
    let mut admin = PgConnection::connect(&server_url())
        .await
        .expect("connect to PostgreSQL: set DATABASE_URL or start a server on 127.0.0.1:5432");
    admin
        .execute("SELECT pg_advisory_lock(727274)")
        .await
        .expect("lock");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .expect("look for template");
    if !exists {
        let building = format!("{name}_building");
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {building}"
            )))
            .await
            .expect("drop half-built template");
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {building}")))
            .await
            .expect("create template");
        let pool = PgPool::connect(&with_database(&server_url(), &building))
            .await
            .expect("connect template");
        common::db::migrate(&pool).await.expect("migrate template");
        pool.close().await;
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "ALTER DATABASE {building} RENAME TO {name}"
            )))
            .await
            .expect("publish template");
    }
    admin
        .execute("SELECT pg_advisory_unlock(727274)")
        .await
        .expect("unlock");
    name
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDatabase {
    /// A fresh database with every migration applied.
    pub async fn create() -> TestDatabase {
        let template = template();
        TestDatabase::create_from(&format!("TEMPLATE {template}")).await
    }

    /// A fresh database with nothing in it, for testing the migrations themselves.
    pub async fn create_empty() -> TestDatabase {
        TestDatabase::create_from("").await
    }

    async fn create_from(options: &str) -> TestDatabase {
        let name = format!("azione_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&server_url()).await.expect("connect");
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE {name} {options}"
            )))
            .await
            .expect("create test database");
        let url = with_database(&server_url(), &name);
        let pool = PgPoolOptions::new()
            .max_connections(20)
            .connect(&url)
            .await
            .expect("connect test database");
        TestDatabase { name, url, pool }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop may run inside a runtime; do the blocking clean-up on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&server_url()).await {
                    let _ = admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await;
                }
            });
        })
        .join();
    }
}
