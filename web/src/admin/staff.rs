//! Staff users and API keys, admins only: `/api/v1/admin/staff`, `/api/v1/admin/api-keys` and
//! the `/admin/staff` page. Both call the same use cases in `common::admin::staff`; passwords
//! are hashed here, on the web process's hashing pool.

use askama::Template;
use axum::{
    Form, Json,
    extract::State,
    http::{StatusCode, header},
};
use common::admin::staff::{self, NewApiKey, NewStaffUser, StaffError, StaffInput, StaffUserPatch};
use common::{
    auth::{self, ApiKey, StaffUser},
    validation::FieldErrors,
};
use serde_json::{Value, json};

use super::{FormFields, FormState, form_outcome, saved};
use crate::{
    auth::{AdminUser, StaffPage, ViewPersonalData},
    error::{ApiError, ApiResult},
    extract::{Fields, JsonObject, PathId},
    pages::{self, MessagePage, Nav, PageResult},
    state::AppState,
};

pub(crate) async fn list_staff(
    _: AdminUser,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<StaffUser>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(auth::list_staff_users(&mut conn).await?))
}

/// Hashes the new user's password and creates the user.
async fn create_user(
    state: &AppState,
    actor: auth::Actor,
    new: &NewStaffUser,
) -> ApiResult<Result<uuid::Uuid, StaffError>> {
    let hash = crate::auth::hash_password(state, new.password()).await?;
    Ok(staff::save_staff_user(&state.db, actor, new, &hash).await)
}

/// Hashes the patch's new password, if any, and applies the patch.
async fn apply_staff_patch(
    state: &AppState,
    actor: auth::Actor,
    id: uuid::Uuid,
    patch: &StaffUserPatch,
) -> ApiResult<()> {
    let hash = match patch.password() {
        Some(password) => Some(crate::auth::hash_password(state, password).await?),
        None => None,
    };
    staff::change_staff_user(&state.db, actor, id, patch, hash.as_deref()).await?;
    Ok(())
}

/// An address in use (in any letter case) is a 409 `already_exists`, never a change to that
/// account.
pub(crate) async fn create_staff(
    admin: AdminUser,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut fields = Fields::new(body, &["email", "role", "password"]);
    let input = StaffInput {
        email: fields.string("email"),
        role: fields.string("role"),
        password: fields.string("password"),
        ..StaffInput::default()
    };
    let new = fields.finish_with(NewStaffUser::parse(input))?;
    let id = create_user(&state, admin.principal.actor, &new).await??;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "email": new.email(), "role": new.role() })),
    ))
}

pub(crate) async fn update_staff(
    admin: AdminUser,
    State(state): State<AppState>,
    PathId(id): PathId,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    let mut fields = Fields::new(body, &["role", "disabled", "password"]);
    let input = StaffInput {
        role: fields.string("role"),
        disabled: fields.bool("disabled"),
        password: fields.string("password"),
        ..StaffInput::default()
    };
    let patch = fields.finish_with(StaffUserPatch::parse(input))?;
    apply_staff_patch(&state, admin.principal.actor, id, &patch).await?;
    Ok(Json(json!({ "id": id, "status": "updated" })))
}

pub(crate) async fn list_api_keys(
    _: AdminUser,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<ApiKey>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(auth::list_api_keys(&mut conn).await?))
}

/// The key's raw value is in this answer only.
pub(crate) async fn create_api_key(
    admin: AdminUser,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut fields = Fields::new(body, &["role", "label"]);
    let input = StaffInput {
        role: fields.string("role"),
        label: fields.string("label"),
        ..StaffInput::default()
    };
    let new = fields.finish_with(NewApiKey::parse(input))?;
    let (id, key) = staff::issue_api_key(&state.db, admin.principal.actor, &new).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "role": new.role(), "label": new.label(), "key": key })),
    ))
}

pub(crate) async fn revoke_api_key(
    admin: AdminUser,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    staff::withdraw_api_key(&state.db, admin.principal.actor, id).await?;
    // Other web processes forget it when the NOTIFY arrives; this one at once.
    state.api_keys.clear();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Template)]
#[template(path = "admin/staff.html")]
struct StaffListPage {
    nav: Nav,
    staff: Vec<StaffUser>,
    keys: Vec<ApiKey>,
    staff_form: FormState,
    key_form: FormState,
    roles: [&'static str; 4],
    /// A key just created, shown this once.
    new_key: Option<String>,
}

async fn render_staff(
    state: &AppState,
    nav: Nav,
    staff_form: FormState,
    key_form: FormState,
    new_key: Option<String>,
    status: StatusCode,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let page = StaffListPage {
        nav,
        staff: auth::list_staff_users(&mut conn).await?,
        keys: auth::list_api_keys(&mut conn).await?,
        staff_form,
        key_form,
        roles: ["admin", "editor", "door", "operator"],
        new_key,
    };
    let mut response = pages::render(status, &page);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-store".parse().expect("static header"),
    );
    Ok(response)
}

pub(crate) async fn staff_page(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
) -> PageResult {
    render_staff(
        &state,
        Nav::from(&staff),
        FormState::default(),
        FormState::default(),
        None,
        StatusCode::OK,
    )
    .await
}

/// A form field as the staff forms post it: a missing one is empty, and so refused.
fn posted(form: &FormFields, name: &str) -> Option<String> {
    Some(form.get(name).cloned().unwrap_or_default())
}

pub(crate) async fn create_staff_form(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    Form(mut form): Form<FormFields>,
) -> PageResult {
    let input = StaffInput {
        email: posted(&form, "email"),
        role: posted(&form, "role"),
        password: posted(&form, "password"),
        ..StaffInput::default()
    };
    let (errors, status) = match NewStaffUser::parse(input) {
        Ok(new) => match create_user(&state, staff.principal.actor, &new).await? {
            Ok(_) => return Ok(saved("/admin/staff")),
            Err(StaffError::AlreadyExists) => {
                let problem = "belongs to a staff user already".to_owned();
                let errors = FieldErrors::from([("email".to_owned(), problem)]);
                (errors, StatusCode::CONFLICT)
            }
            Err(e) => return Err(e.into()),
        },
        Err(errors) => (errors, StatusCode::UNPROCESSABLE_ENTITY),
    };
    // The page never shows a password again.
    form.remove("password");
    let staff_form = FormState {
        values: form,
        errors,
    };
    let nav = Nav::from(&staff);
    render_staff(&state, nav, staff_form, FormState::default(), None, status).await
}

pub(crate) async fn update_staff_form(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    PathId(id): PathId,
    Form(form): Form<FormFields>,
) -> PageResult {
    // Each form on the page makes one change.
    let input = match form.get("action").map(String::as_str) {
        Some("disable") => StaffInput {
            disabled: Some(true),
            ..StaffInput::default()
        },
        Some("enable") => StaffInput {
            disabled: Some(false),
            ..StaffInput::default()
        },
        Some("reset_password") => StaffInput {
            password: posted(&form, "password"),
            ..StaffInput::default()
        },
        _ => StaffInput {
            role: posted(&form, "role"),
            ..StaffInput::default()
        },
    };
    let result = match StaffUserPatch::parse(input) {
        Ok(patch) => apply_staff_patch(&state, staff.principal.actor, id, &patch).await,
        Err(fields) => Err(ApiError::Validation { fields }),
    };
    match form_outcome(result)? {
        Ok(()) => Ok(saved("/admin/staff")),
        Err(errors) => Ok(pages::render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &MessagePage::staff_error("Not saved", &errors),
        )),
    }
}

pub(crate) async fn create_api_key_form(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    Form(form): Form<FormFields>,
) -> PageResult {
    let input = StaffInput {
        role: posted(&form, "role"),
        label: posted(&form, "label"),
        ..StaffInput::default()
    };
    let nav = Nav::from(&staff);
    let no_form = FormState::default;
    match NewApiKey::parse(input) {
        Ok(new) => {
            let (_, key) = staff::issue_api_key(&state.db, staff.principal.actor, &new).await?;
            let status = StatusCode::CREATED;
            render_staff(&state, nav, no_form(), no_form(), Some(key), status).await
        }
        Err(errors) => {
            let key_form = FormState {
                values: form,
                errors,
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_staff(&state, nav, no_form(), key_form, None, status).await
        }
    }
}

pub(crate) async fn revoke_api_key_form(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> PageResult {
    staff::withdraw_api_key(&state.db, staff.principal.actor, id).await?;
    // Other web processes forget it when the NOTIFY arrives; this one at once.
    state.api_keys.clear();
    Ok(saved("/admin/staff"))
}
