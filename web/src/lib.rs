//! `azione-web`: the public site and JSON API, staff administration, check-in and operator
//! pages. `main.rs` only parses the command line; everything testable is here.

pub mod admin;
pub mod auth;
pub mod booking;
pub mod catalogue;
pub mod checkin;
pub mod confirmation;
pub mod error;
pub mod extract;
pub mod ops;
pub mod pages;
pub mod rate_limit;
pub mod reminders;
pub mod routes;
pub mod session;
pub mod tickets;
pub mod waitlist;

use std::{net::SocketAddr, sync::Arc};

use common::config::Config;
use sqlx::PgPool;
use tokio::net::TcpListener;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub config: Arc<Config>,
    pub rate_limits: Arc<rate_limit::RateLimits>,
    /// Bounds how many password hashes run at once on the blocking pool.
    pub password_hashing: Arc<tokio::sync::Semaphore>,
    pub metrics: Arc<common::metrics::Metrics>,
}

impl AppState {
    pub fn new(db: PgPool, config: Config) -> AppState {
        let rate_limits = Arc::new(rate_limit::RateLimits::new(
            config.booking.rate_limit_per_minute,
        ));
        AppState {
            db,
            config: Arc::new(config),
            rate_limits,
            password_hashing: Arc::new(tokio::sync::Semaphore::new(auth::PASSWORD_HASHING_SLOTS)),
            metrics: Arc::default(),
        }
    }
}

/// Serves the application on `listener` until `shutdown` resolves, then drains requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    rate_limit::spawn_cleanup(state.rate_limits.clone());
    let app = routes::router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
