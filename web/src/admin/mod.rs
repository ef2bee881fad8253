//! Staff administration: the JSON API (`api`) and the server-rendered pages (`pages`).

pub mod api;
pub mod pages;

use axum::Router;

use crate::AppState;

/// Routes of this capability.
pub fn router() -> Router<AppState> {
    Router::new().merge(api::router()).merge(pages::router())
}
