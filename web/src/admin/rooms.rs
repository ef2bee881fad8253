//! Rooms, for editors and admins: `/api/v1/admin/rooms` and the `/admin/rooms` page. Both call
//! the same use cases in `common::admin::rooms`.

use askama::Template;
use axum::{Form, Json, extract::State, http::StatusCode};
use common::admin::rooms::{self, NewRoom, RoomInput, RoomPatch};
use common::catalogue::{self, Room};

use super::{FormFields, FormReader, FormState, form_outcome, saved};
use crate::{
    auth::{CatalogueEditor, ManageCatalogue, StaffPage},
    error::{ApiError, ApiResult},
    extract::{FieldSource, Fields, JsonObject, PathId},
    pages::{self, MessagePage, Nav, PageResult},
    state::AppState,
};

const FIELDS: [&str; 2] = ["name", "capacity"];

/// A room body's members, from JSON or a form.
fn room_input(source: &mut impl FieldSource) -> RoomInput {
    RoomInput {
        name: source.string("name"),
        capacity: source.integer("capacity"),
    }
}

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

pub(crate) async fn create_room(
    editor: CatalogueEditor,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Room>)> {
    let mut fields = Fields::new(body, &FIELDS);
    let input = room_input(&mut fields);
    let new = fields.finish_with(NewRoom::parse(input))?;
    let room = rooms::save_new_room(&state.db, editor.principal.actor, &new).await?;
    Ok((StatusCode::CREATED, Json(room)))
}

pub(crate) async fn update_room(
    editor: CatalogueEditor,
    State(state): State<AppState>,
    PathId(id): PathId,
    body: JsonObject,
) -> ApiResult<Json<Room>> {
    let mut fields = Fields::new(body, &FIELDS);
    let input = room_input(&mut fields);
    let patch = fields.finish_with(RoomPatch::parse(input))?;
    let room = rooms::save_room_changes(&state.db, editor.principal.actor, id, &patch).await?;
    Ok(Json(room))
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
    let mut reader = FormReader::new(&form, &FIELDS);
    let input = room_input(&mut reader);
    let result = match reader.finish_with(NewRoom::parse(input)) {
        Ok(new) => rooms::save_new_room(&state.db, staff.principal.actor, &new)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match form_outcome(result)? {
        Ok(_) => Ok(saved("/admin/rooms")),
        Err(errors) => {
            let form = FormState {
                values: form,
                errors,
            };
            let nav = Nav::from(&staff);
            render_rooms(&state, nav, form, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

pub(crate) async fn update_room_form(
    staff: StaffPage<ManageCatalogue>,
    State(state): State<AppState>,
    PathId(id): PathId,
    Form(form): Form<FormFields>,
) -> PageResult {
    let mut reader = FormReader::new(&form, &FIELDS);
    let input = room_input(&mut reader);
    let result = match reader.finish_with(RoomPatch::parse(input)) {
        Ok(patch) => rooms::save_room_changes(&state.db, staff.principal.actor, id, &patch)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match form_outcome(result)? {
        Ok(_) => Ok(saved("/admin/rooms")),
        Err(errors) => Ok(pages::render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &MessagePage::staff_error("Room not saved", &errors),
        )),
    }
}
