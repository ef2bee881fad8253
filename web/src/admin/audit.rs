//! The audit log, admins only: `/api/v1/admin/audit` and the `/admin/audit` page.

use askama::Template;
use axum::{Json, extract::State, http::StatusCode};
use common::audit::{self, AuditEntry};

use crate::{
    auth::{AdminUser, StaffPage, ViewPersonalData},
    error::ApiResult,
    pages::{self, Nav, PageResult},
    state::AppState,
};

pub(crate) async fn list_audit(
    _: AdminUser,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<audit::AuditEntry>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(audit::list_recent(&mut conn, 500).await?))
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    nav: Nav,
    entries: Vec<AuditEntry>,
}

pub(crate) async fn audit_page(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let entries = audit::list_recent(&mut conn, 500).await?;
    let page = AuditPage {
        nav: Nav::from(&staff),
        entries,
    };
    Ok(pages::render(StatusCode::OK, &page))
}
