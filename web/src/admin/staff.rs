//! Staff users and API keys, admins only: `/api/v1/admin/staff`, `/api/v1/admin/api-keys` and
//! the `/admin/staff` page.

use askama::Template;
use axum::{
    Form, Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use common::{
    audit::AuditAction,
    audit::{self},
    auth::{self, ApiKey, Role, StaffUser},
    validation::FieldErrors,
};
use serde_json::{Value, json};

use super::{FormFields, FormState, after_post};
use crate::{
    auth::{AdminUser, StaffPage, ViewPersonalData},
    error::{ApiError, ApiResult},
    extract::PathId,
    extract::{Fields, JsonObject},
    pages::{self, MessagePage, Nav},
    state::AppState,
};

pub(crate) async fn list_staff(
    _: AdminUser,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<StaffUser>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(auth::list_staff_users(&mut conn).await?))
}

/// Reads a `role` member.
fn role_field(fields: &mut Fields) -> Option<Role> {
    let role = fields.string("role")?;
    Role::parse(&role).or_else(|| fields.fail("role", "must be admin, editor, door or operator"))
}

/// The password rule for staff users.
fn check_password(password: &str, errors: &mut common::validation::FieldErrors) {
    if let Err(problem) = auth::check_password_rule(password) {
        errors.insert("password".into(), problem.into());
    }
}

/// Creates a staff user; an address already in use (in any letter case) is a 409
/// `already_exists`, never a change to that account. Shared with the staff page.
pub async fn save_staff_user(
    state: &AppState,
    actor: &str,
    email: &str,
    role: Role,
    password: &str,
) -> ApiResult<uuid::Uuid> {
    let mut errors = common::validation::FieldErrors::new();
    if !email_address::EmailAddress::is_valid(email) || email.len() > 254 {
        errors.insert("email".into(), "must be a valid e-mail address".into());
    }
    check_password(password, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation { fields: errors });
    }
    let hash = crate::auth::hash_password(state, password).await?;
    let mut tx = state.db.begin().await?;
    let Some(id) = auth::insert_staff_user(&mut tx, email, role, &hash).await? else {
        return Err(ApiError::Conflict {
            code: "already_exists",
            message: "a staff user with this e-mail address exists",
            extra: serde_json::Map::new(),
        });
    };
    audit::record(
        &mut tx,
        actor,
        AuditAction::StaffCreate,
        Some(id),
        json!({ "role": role }),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub(crate) async fn create_staff(
    admin: AdminUser,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut fields = Fields::new(body, &["email", "role", "password"]);
    let email = fields.string("email");
    let email = fields.require("email", email);
    let role = role_field(&mut fields);
    let role = fields.require("role", role);
    let password = fields.string("password");
    let password = fields.require("password", password);
    fields.finish()?;
    let (Some(email), Some(role), Some(password)) = (email, role, password) else {
        return Err(anyhow::anyhow!("required fields passed validation unset").into());
    };
    let id = save_staff_user(
        &state,
        &admin.principal.actor.label(),
        email.trim(),
        role,
        &password,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "email": email.trim(), "role": role })),
    ))
}

/// Changes to one staff user, each a separate audited action that ends all their sessions.
#[derive(Default)]
pub struct StaffChange {
    pub role: Option<Role>,
    /// `Some(true)` disables, `Some(false)` enables.
    pub disabled: Option<bool>,
    /// A new password (a reset).
    pub password: Option<String>,
}

/// Applies a [`StaffChange`] in one transaction; shared with the staff page.
pub async fn change_staff_user(
    state: &AppState,
    actor: &str,
    id: uuid::Uuid,
    change: StaffChange,
) -> ApiResult<()> {
    if let Some(password) = &change.password {
        let mut errors = common::validation::FieldErrors::new();
        check_password(password, &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::Validation { fields: errors });
        }
    }
    let hash = match &change.password {
        Some(password) => Some(crate::auth::hash_password(state, password).await?),
        None => None,
    };
    let mut tx = state.db.begin().await?;
    let Some(user) = auth::find_staff_user(&mut tx, id).await? else {
        return Err(ApiError::not_found());
    };
    // Only real changes are made and recorded (a role change also ends sessions).
    if let Some(role) = change.role.filter(|r| *r != user.role) {
        auth::update_staff_role(&mut tx, id, role).await?;
        let details = json!({ "role": role });
        audit::record(&mut tx, actor, AuditAction::StaffRole, Some(id), details).await?;
    }
    if let Some(disabled) = change.disabled.filter(|d| *d != user.disabled_at.is_some()) {
        auth::set_staff_disabled(&mut tx, id, disabled).await?;
        let action = if disabled {
            AuditAction::StaffDisable
        } else {
            AuditAction::StaffEnable
        };
        audit::record(&mut tx, actor, action, Some(id), json!({})).await?;
    }
    if let Some(hash) = hash {
        auth::reset_staff_password(&mut tx, id, &hash).await?;
        audit::record(
            &mut tx,
            actor,
            AuditAction::StaffPasswordReset,
            Some(id),
            json!({}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn update_staff(
    admin: AdminUser,
    State(state): State<AppState>,
    PathId(id): PathId,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    let mut fields = Fields::new(body, &["role", "disabled", "password"]);
    let change = StaffChange {
        role: role_field(&mut fields),
        disabled: fields.bool("disabled"),
        password: fields.string("password"),
    };
    fields.finish()?;
    change_staff_user(&state, &admin.principal.actor.label(), id, change).await?;
    Ok(Json(json!({ "id": id, "status": "updated" })))
}

pub(crate) async fn list_api_keys(
    _: AdminUser,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<ApiKey>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(auth::list_api_keys(&mut conn).await?))
}

/// Creates an API key and returns its id and raw value (shown once); shared with the staff page.
pub async fn issue_api_key(
    state: &AppState,
    actor: &str,
    role: Role,
    label: &str,
) -> ApiResult<(uuid::Uuid, String)> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        return Err(ApiError::field("label", "must be 1 to 100 characters"));
    }
    let mut tx = state.db.begin().await?;
    let (id, raw) = auth::create_api_key(&mut tx, role, label).await?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::ApiKeyCreate,
        Some(id),
        json!({ "role": role }),
    )
    .await?;
    tx.commit().await?;
    Ok((id, raw.expose().to_owned()))
}

pub(crate) async fn create_api_key(
    admin: AdminUser,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut fields = Fields::new(body, &["role", "label"]);
    let role = role_field(&mut fields);
    let role = fields.require("role", role);
    let label = fields.string("label");
    let label = fields.require("label", label);
    fields.finish()?;
    let (Some(role), Some(label)) = (role, label) else {
        return Err(anyhow::anyhow!("required fields passed validation unset").into());
    };
    let (id, key) = issue_api_key(&state, &admin.principal.actor.label(), role, &label).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "role": role, "label": label.trim(), "key": key })),
    ))
}

/// Revokes an API key; shared with the staff page.
pub async fn withdraw_api_key(state: &AppState, actor: &str, id: uuid::Uuid) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    if !auth::revoke_api_key(&mut tx, id).await? {
        return Err(ApiError::not_found());
    }
    audit::record(
        &mut tx,
        actor,
        AuditAction::ApiKeyRevoke,
        Some(id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    // Other web processes forget it when the NOTIFY arrives; this one at once.
    state.api_keys.clear();
    Ok(())
}

pub(crate) async fn revoke_api_key(
    admin: AdminUser,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    withdraw_api_key(&state, &admin.principal.actor.label(), id).await?;
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
) -> Response {
    let lists: ApiResult<(Vec<StaffUser>, Vec<ApiKey>)> = async {
        let mut conn = state.db.acquire().await?;
        Ok((
            auth::list_staff_users(&mut conn).await?,
            auth::list_api_keys(&mut conn).await?,
        ))
    }
    .await;
    match lists {
        Ok((staff, keys)) => {
            let page = StaffListPage {
                nav,
                staff,
                keys,
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
            response
        }
        Err(e) => pages::error_page(e),
    }
}

pub(crate) async fn staff_page(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
) -> Response {
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

fn role_of(form: &FormFields) -> Result<Role, FieldErrors> {
    form.get("role")
        .and_then(|r| Role::parse(r))
        .ok_or_else(|| {
            FieldErrors::from([(
                "role".to_owned(),
                "must be admin, editor, door or operator".to_owned(),
            )])
        })
}

pub(crate) async fn create_staff_form(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    Form(form): Form<FormFields>,
) -> Response {
    let result = async {
        let role = role_of(&form).map_err(|fields| ApiError::Validation { fields })?;
        let email = form.get("email").map_or("", |e| e.trim());
        let password = form.get("password").map_or("", String::as_str);
        save_staff_user(
            &state,
            &staff.principal.actor.label(),
            email,
            role,
            password,
        )
        .await?;
        Ok(())
    }
    .await;
    let nav = Nav::from(&staff);
    let mut kept = form.clone();
    kept.remove("password");
    match result {
        Ok(()) => Redirect::to(&crate::auth::saved("/admin/staff")).into_response(),
        Err(e @ (ApiError::Validation { .. } | ApiError::Conflict { .. })) => {
            let status = e.status();
            let errors = match e {
                ApiError::Validation { fields } => fields,
                _ => FieldErrors::from([(
                    "email".to_owned(),
                    "belongs to a staff user already".to_owned(),
                )]),
            };
            let staff_form = FormState {
                values: kept,
                errors,
            };
            render_staff(&state, nav, staff_form, FormState::default(), None, status).await
        }
        Err(e) => pages::error_page(e),
    }
}

pub(crate) async fn update_staff_form(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    PathId(id): PathId,
    Form(form): Form<FormFields>,
) -> Response {
    let result = async {
        let change = match form.get("action").map(String::as_str) {
            Some("disable") => StaffChange {
                disabled: Some(true),
                ..Default::default()
            },
            Some("enable") => StaffChange {
                disabled: Some(false),
                ..Default::default()
            },
            Some("reset_password") => StaffChange {
                password: Some(form.get("password").cloned().unwrap_or_default()),
                ..Default::default()
            },
            _ => StaffChange {
                role: Some(role_of(&form).map_err(|fields| ApiError::Validation { fields })?),
                ..Default::default()
            },
        };
        change_staff_user(&state, &staff.principal.actor.label(), id, change).await
    }
    .await;
    after_post(result, "/admin/staff", |fields| {
        pages::render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &MessagePage::staff_error("Not saved", &fields),
        )
    })
}

pub(crate) async fn create_api_key_form(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    Form(form): Form<FormFields>,
) -> Response {
    let result = async {
        let role = role_of(&form).map_err(|fields| ApiError::Validation { fields })?;
        let label = form.get("label").map_or("", String::as_str);
        issue_api_key(&state, &staff.principal.actor.label(), role, label).await
    }
    .await;
    let nav = Nav::from(&staff);
    match result {
        Ok((_, key)) => {
            render_staff(
                &state,
                nav,
                FormState::default(),
                FormState::default(),
                Some(key),
                StatusCode::CREATED,
            )
            .await
        }
        Err(ApiError::Validation { fields }) => {
            let key_form = FormState {
                values: form,
                errors: fields,
            };
            render_staff(
                &state,
                nav,
                FormState::default(),
                key_form,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => pages::error_page(e),
    }
}

pub(crate) async fn revoke_api_key_form(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Response {
    let result = async { withdraw_api_key(&state, &staff.principal.actor.label(), id).await }.await;
    after_post(result, "/admin/staff", |_| {
        pages::error_page(ApiError::not_found())
    })
}
