//! A private PostgreSQL server started from the installed binaries, for fault tests that stop,
//! start and restart the database under the real processes. Each test gets its own server, on
//! its own port and data directory; it is stopped and removed when dropped.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use sqlx::PgPool;

/// A running private server.
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
}

fn pg_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .expect("the fault tests need PostgreSQL's server binaries (initdb, pg_ctl) installed")
}

/// Runs a PostgreSQL program as the `postgres` user when we are root (it refuses root).
fn as_pg_user(program: &Path, args: &[&str]) -> std::process::Output {
    let running_as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let mut cmd = if running_as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args).output().expect("run a PostgreSQL program")
}

impl PrivatePostgres {
    /// Creates a cluster and starts it on a free loopback port.
    pub fn start() -> PrivatePostgres {
        let bin = pg_bin();
        let dir =
            std::env::temp_dir().join(format!("azione-fault-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("data directory");
        let _ = Command::new("chown").arg("postgres").arg(&dir).status();
        let data = dir.join("data");
        let out = as_pg_user(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().expect("path"),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
            ],
        );
        assert!(out.status.success(), "initdb: {out:?}");
        let port = crate::process::free_port().port();
        let server = PrivatePostgres { bin, dir, port };
        server.pg_ctl("start");
        server
    }

    fn pg_ctl(&self, action: &str) {
        let data = self.dir.join("data");
        let log = self.dir.join("server.log");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let mut args = vec![
            "-D",
            data.to_str().expect("path"),
            "-l",
            log.to_str().expect("path"),
            "-w",
            "-m",
            "fast",
        ];
        if action != "stop" {
            args.extend(["-o", &options]);
        }
        args.push(action);
        let out = as_pg_user(&self.bin.join("pg_ctl"), &args);
        assert!(
            out.status.success(),
            "pg_ctl {action}: {out:?}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stops the server (fast shutdown: sessions are terminated, as in a real restart).
    pub fn stop(&self) {
        self.pg_ctl("stop");
    }

    /// Starts it again after [`PrivatePostgres::stop`].
    pub fn start_again(&self) {
        self.pg_ctl("start");
    }

    /// Stops and starts it.
    pub fn restart(&self) {
        self.pg_ctl("restart");
    }

    /// The URL of database `postgres` on this server.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A pool on it with both migration sets applied.
    pub async fn migrated_pool(&self) -> PgPool {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(20)
            .acquire_timeout(std::time::Duration::from_secs(3))
            .connect(&self.url())
            .await
            .expect("connect to the private server");
        common::db::migrate(&pool).await.expect("migrate");
        pool
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = as_pg_user(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "stop",
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
