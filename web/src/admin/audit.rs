//! The audit log, admins only: `/api/v1/admin/audit` and the `/admin/audit` page.

use askama::Template;
use axum::{Json, extract::State, http::StatusCode, response::Response};
use common::audit::{self, AuditEntry};

use crate::{
    auth::{AdminUser, StaffPage, ViewPersonalData},
    error::ApiResult,
    pages::{self, Nav},
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
) -> Response {
    let entries: ApiResult<Vec<AuditEntry>> = async {
        let mut conn = state.db.acquire().await?;
        Ok(audit::list_recent(&mut conn, 500).await?)
    }
    .await;
    match entries {
        Ok(entries) => pages::render(
            StatusCode::OK,
            &AuditPage {
                nav: Nav::from(&staff),
                entries,
            },
        ),
        Err(e) => pages::error_page(e),
    }
}
