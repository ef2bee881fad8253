//! `azione-web`: the public site and JSON API, staff administration, check-in and operator
//! pages. `main.rs` parses the command line and runs the staff commands (creating the first
//! admin and the like); serving and everything else testable is here.

pub mod admin;
pub mod auth;
pub mod booking;
pub mod cancellation;
pub mod catalogue;
pub mod checkin;
pub mod confirmation;
pub mod error;
pub mod extract;
pub mod key_cache;
pub mod locale;
pub mod ops;
pub mod pages;
pub mod rate_limit;
pub mod reminders;
pub mod routes;
pub mod session;
pub mod state;
pub mod tickets;
pub mod waitlist;

use std::net::SocketAddr;

use tokio::net::TcpListener;

pub use state::AppState;

/// Serves the application on `listener` until `shutdown` resolves, then drains requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    rate_limit::spawn_cleanup(state.rate_limits.clone());
    let (keys, db) = (state.api_keys.clone(), state.db.clone());
    tokio::spawn(async move { keys.listen(db).await });
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
