//! Rooms, for editors and admins: `/api/v1/admin/rooms` and the `/admin/rooms` page.

use askama::Template;
use axum::{
    Form, Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use common::{
    audit::AuditAction,
    audit::{self},
    catalogue::{self, Room},
};
use serde_json::json;
use uuid::Uuid;

use super::{FormFields, FormState, form_object};
use crate::{
    auth::{CatalogueEditor, ManageCatalogue, StaffPage},
    error::{ApiError, ApiResult},
    extract::PathId,
    extract::{Fields, JsonObject},
    pages::{self, MessagePage, Nav, PageResult},
    state::AppState,
};

pub(crate) async fn list_rooms(
    _: CatalogueEditor,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<Room>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(catalogue::list_rooms(&mut conn).await?))
}

pub(crate) async fn show_room(
    _: CatalogueEditor,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<Json<Room>> {
    let mut conn = state.db.acquire().await?;
    let room = catalogue::find_room(&mut conn, id).await?;
    room.map(Json).ok_or_else(ApiError::not_found)
}

fn room_name(fields: &mut Fields) -> Option<String> {
    let name = fields.string("name")?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return fields.fail("name", "must be 1 to 100 characters");
    }
    Some(name.to_owned())
}

pub(crate) async fn create_room(
    editor: CatalogueEditor,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Room>)> {
    let room = save_new_room(&state, &editor.principal.actor.label(), body).await?;
    Ok((StatusCode::CREATED, Json(room)))
}

/// Validates and creates a room, with its audit entry; shared with the rooms page.
pub async fn save_new_room(state: &AppState, actor: &str, body: JsonObject) -> ApiResult<Room> {
    let mut fields = Fields::new(body, &["name", "capacity"]);
    let name = room_name(&mut fields);
    let name = fields.require("name", name);
    let capacity = fields.int_in("capacity", catalogue::ROOM_CAPACITY);
    let capacity = fields.require("capacity", capacity);
    fields.finish()?;
    let (Some(name), Some(capacity)) = (name, capacity) else {
        return Err(anyhow::anyhow!("required fields passed validation unset").into());
    };
    let mut tx = state.db.begin().await?;
    match catalogue::insert_room(&mut tx, &name, capacity).await {
        Ok(room) => {
            let details = json!({ "capacity": capacity });
            audit::record(
                &mut tx,
                actor,
                AuditAction::RoomCreate,
                Some(room.id),
                details,
            )
            .await?;
            tx.commit().await?;
            Ok(room)
        }
        Err(e) if common::db::is_constraint_violation(&e, "rooms_name_key") => {
            Err(ApiError::field("name", "a room with this name exists"))
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn update_room(
    editor: CatalogueEditor,
    State(state): State<AppState>,
    PathId(id): PathId,
    body: JsonObject,
) -> ApiResult<Json<Room>> {
    let room = save_room_changes(&state, &editor.principal.actor.label(), id, body).await?;
    Ok(Json(room))
}

/// Validates and applies changes to a room, with its audit entry; shared with the rooms page.
pub async fn save_room_changes(
    state: &AppState,
    actor: &str,
    id: Uuid,
    body: JsonObject,
) -> ApiResult<Room> {
    let mut fields = Fields::new(body, &["name", "capacity"]);
    let name = room_name(&mut fields);
    let capacity = fields.int_in("capacity", catalogue::ROOM_CAPACITY);
    fields.finish()?;
    let mut tx = state.db.begin().await?;
    let before = catalogue::find_room(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    match catalogue::update_room(&mut tx, id, name.as_deref(), capacity).await {
        Ok(Some(room)) => {
            // Only a real change is recorded.
            let name_changed = room.name != before.name;
            if name_changed || room.capacity != before.capacity {
                let details = json!({ "name_changed": name_changed, "capacity": capacity });
                audit::record(&mut tx, actor, AuditAction::RoomUpdate, Some(id), details).await?;
            }
            common::waitlist::queue_offers_in_room(&mut tx, id).await?;
            tx.commit().await?;
            Ok(room)
        }
        Ok(None) => Err(ApiError::not_found()),
        Err(e) if common::db::is_constraint_violation(&e, "rooms_name_key") => {
            Err(ApiError::field("name", "a room with this name exists"))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "admin/rooms.html")]
struct RoomsPage {
    nav: Nav,
    rooms: Vec<Room>,
    form: FormState,
}

async fn render_rooms(
    state: &AppState,
    nav: Nav,
    form: FormState,
    status: StatusCode,
) -> PageResult {
    let rooms = super::list_rooms(state).await?;
    Ok(pages::render(status, &RoomsPage { nav, rooms, form }))
}

pub(crate) async fn rooms_page(
    staff: StaffPage<ManageCatalogue>,
    State(state): State<AppState>,
) -> PageResult {
    render_rooms(
        &state,
        Nav::from(&staff),
        FormState::default(),
        StatusCode::OK,
    )
    .await
}

pub(crate) async fn create_room_form(
    staff: StaffPage<ManageCatalogue>,
    State(state): State<AppState>,
    Form(form): Form<FormFields>,
) -> PageResult {
    let actor = staff.principal.actor.label();
    let result = save_new_room(&state, &actor, form_object(&form, &["capacity"])).await;
    match result {
        Ok(_) => Ok(Redirect::to(&crate::auth::saved("/admin/rooms")).into_response()),
        Err(ApiError::Validation { fields }) => {
            let state_form = FormState {
                values: form,
                errors: fields,
            };
            render_rooms(
                &state,
                Nav::from(&staff),
                state_form,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn update_room_form(
    staff: StaffPage<ManageCatalogue>,
    State(state): State<AppState>,
    PathId(id): PathId,
    Form(form): Form<FormFields>,
) -> Response {
    let result = async {
        save_room_changes(
            &state,
            &staff.principal.actor.label(),
            id,
            form_object(&form, &["capacity"]),
        )
        .await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&crate::auth::saved("/admin/rooms")).into_response(),
        Err(ApiError::Validation { fields }) => pages::render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &MessagePage::staff_error("Room not saved", &fields),
        ),
        Err(e) => pages::error_page(e),
    }
}
