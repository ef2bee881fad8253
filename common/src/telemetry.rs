//! Tracing setup shared by both binaries: `RUST_LOG` filters, `LOG_FORMAT=json` emits JSON lines.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber; call once at the top of `main`.
pub fn init(service_name: &'static str) {
    // apalis logs every failed fetch of a worker whose database is away; the worker's
    // supervisor and database watch say it once per outage instead.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,apalis_postgres=warn,apalis_core=off"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // Logs go to stderr: stdout is for command output (`create-api-key` prints the key there).
    let builder = fmt()
        .with_env_filter(filter)
        .with_target(true)
        // Colour only for a person at a terminal, never in files or log collectors.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
    tracing::info!(service = service_name, "starting");
}
