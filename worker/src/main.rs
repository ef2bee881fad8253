//! `azione-worker`: runs the job queue workers until SIGTERM.

use common::{config::Config, db};

#[tokio::main]
async fn main() {
    common::telemetry::init("azione-worker");
    if let Err(e) = run().await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    config.require_mail()?;
    let pool = db::connect_lazy(&config.database)?;
    worker::run(config, pool, shutdown_signal()).await
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight jobs");
}
