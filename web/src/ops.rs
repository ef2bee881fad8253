//! Health endpoints for orchestrators and nginx: `/healthz` says the process is up, `/readyz`
//! that it can reach the database. Neither says anything else to anonymous callers.

use axum::{Router, extract::State, http::StatusCode, routing::get};

use crate::AppState;

/// Routes of this capability.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match sqlx::query("SELECT 1").execute(&state.db).await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "not ready"),
    }
}
