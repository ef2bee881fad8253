//! The waiting list on the web: joining (`POST /api/v1/performances/{id}/waitlist` and the
//! form the performance page shows when it is full), confirming a place, leaving (which also
//! declines an offer) and claiming an offer, each as JSON and as a page behind the e-mailed
//! link (a GET shows a button and changes nothing). Staff see the line per performance:
//! admins with personal data and a remove action, editors counts only. Every state change runs
//! in `common::waitlist` under the performance row lock.

use askama::Template;
use axum::{
    Form, Json,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use common::{
    audit::{self, AuditAction},
    auth::{Actor, Permission},
    booking::NewReservation,
    catalogue::Performance,
    waitlist::{self, Claimed, Entry, Place, WaitlistCounts, WaitlistStatus},
};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    auth::{AdminUser, CatalogueEditor, StaffPage, ViewPersonalData},
    booking,
    confirmation::{TokenActionPage, TokenQuery, token_field},
    error::{ApiError, ApiResult},
    extract::{Fields, JsonObject, PathId},
    locale,
    pages::{self, MessagePage, Nav, PageResult, format_time},
    rate_limit::{Throttle, Waitlist, WaitlistToken},
    state::{AppState, in_transaction},
};

pub(crate) async fn join_waitlist(
    _: Throttle<Waitlist>,
    State(state): State<AppState>,
    PathId(performance_id): PathId,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let new = booking::parse_body(body)?;
    join(&state, performance_id, &new).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": "pending" }))))
}

/// One transaction; over a per-address cap it writes nothing but answers as if it had.
async fn join(state: &AppState, performance_id: Uuid, new: &NewReservation) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    let joined = waitlist::join(
        &mut tx,
        performance_id,
        new,
        locale::lang(),
        booking::email_limits(state),
    )
    .await?;
    tx.commit().await?;
    match joined {
        Some(id) => {
            tracing::info!(waitlist_entry.id = %id, performance.id = %performance_id, "waiting-list entry pending");
        }
        None => {
            tracing::info!(performance.id = %performance_id, "waiting-list join over a per-address cap discarded");
        }
    }
    Ok(())
}

pub(crate) async fn submit_join_form(
    throttle: Result<Throttle<Waitlist>, ApiError>,
    State(state): State<AppState>,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let submit = async |state: &AppState, performance_id, new: &NewReservation| {
        join(state, performance_id, new).await
    };
    let done = |_: &Performance, _: i32| {
        MessagePage::ok(
            &locale::t("waitlist-sent-title"),
            &locale::t("waitlist-sent-text"),
        )
    };
    booking::handle_form(&state, throttle.map(|_| ()), id, pairs, submit, done).await
}

pub(crate) async fn confirm_place(
    _: Throttle<WaitlistToken>,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    let token = token_field(body)?;
    Ok(Json(match confirm(&state, &token).await? {
        Place::Waiting(position) => json!({ "status": "waiting", "position": position }),
        Place::Offered => json!({ "status": "offered" }),
        Place::Claimed => json!({ "status": "confirmed" }),
    }))
}

async fn confirm(state: &AppState, token: &str) -> ApiResult<Place> {
    in_transaction(&state.db, async |conn| {
        Ok(waitlist::confirm(conn, token).await?)
    })
    .await
}

pub(crate) async fn leave_waitlist(
    _: Throttle<WaitlistToken>,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    let token = token_field(body)?;
    leave(&state, &token).await?;
    Ok(Json(json!({ "status": "left" })))
}

async fn leave(state: &AppState, token: &str) -> ApiResult<()> {
    let id = in_transaction(&state.db, async |conn| {
        Ok(waitlist::leave(conn, token).await?)
    })
    .await?;
    tracing::info!(waitlist_entry.id = %id, "left the waiting list");
    Ok(())
}

pub(crate) async fn claim_offer(
    _: Throttle<WaitlistToken>,
    State(state): State<AppState>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    let mut fields = Fields::new(body, &["token", "party_size"]);
    let token = fields.string("token");
    let token = fields.require("token", token);
    let party_size = fields.int_in("party_size", 1..=1000);
    fields.finish()?;
    claim(&state, &token.unwrap_or_default(), party_size).await?;
    Ok(Json(json!({ "status": "confirmed" })))
}

/// Claims an offer and, like a confirmation, schedules the new reservation's reminder in the
/// same transaction.
async fn claim(state: &AppState, token: &str, party_size: Option<i32>) -> ApiResult<Claimed> {
    let result = in_transaction(&state.db, async |conn| {
        let claimed = waitlist::claim(
            conn,
            token,
            party_size,
            state.config.jobs.max_attempts,
            None,
        )
        .await?;
        if let Claimed::Now(id) = claimed {
            crate::reminders::schedule(state, conn, id).await?;
        }
        Ok(claimed)
    })
    .await;
    let outcome = match &result {
        Ok(Claimed::Now(id)) => {
            tracing::info!(reservation.id = %id, "waiting-list offer claimed");
            "claimed"
        }
        Ok(Claimed::Already(_)) => "already_claimed",
        Err(e) => e.code(),
    };
    state.metrics.inc(
        "azione_waitlist_claims_total",
        "Claims of waiting-list offers by outcome (claimed: a reservation was confirmed).",
        &[("outcome", outcome)],
    );
    result
}

/// The page behind an e-mailed link: `{key}-title`, `{key}-text` and `{key}-button` from the
/// catalogue, and a button that posts the token to `action`.
fn action_page(key: &str, action: &'static str, danger: bool, token: String) -> Response {
    pages::render(
        StatusCode::OK,
        &TokenActionPage {
            title: locale::t(&format!("{key}-title")),
            what: None,
            text: locale::t(&format!("{key}-text")),
            consequence: None,
            action,
            button: locale::t(&format!("{key}-button")),
            danger,
            keep: None,
            token,
        },
    )
}

pub(crate) async fn confirm_page(Query(query): Query<TokenQuery>) -> Response {
    action_page("waitlist-confirm", "/waitlist/confirm", false, query.token)
}

pub(crate) async fn leave_page(Query(query): Query<TokenQuery>) -> Response {
    action_page("waitlist-leave", "/waitlist/leave", true, query.token)
}

pub(crate) async fn claim_page(Query(query): Query<TokenQuery>) -> Response {
    action_page("waitlist-claim", "/waitlist/claim", false, query.token)
}

/// The answer page of a form post that succeeded.
fn answer(title: &str, text: &str) -> PageResult {
    let page = MessagePage::ok(&locale::t(title), text);
    Ok(pages::render(StatusCode::OK, &page))
}

pub(crate) async fn submit_confirm_form(
    throttle: Result<Throttle<WaitlistToken>, ApiError>,
    State(state): State<AppState>,
    Form(form): Form<TokenQuery>,
) -> PageResult {
    throttle?;
    match confirm(&state, &form.token).await? {
        Place::Waiting(position) => answer(
            "waitlist-waiting-title",
            &locale::t1("waitlist-waiting-text", "position", position),
        ),
        Place::Offered => answer(
            "waitlist-offered-title",
            &locale::t("waitlist-offered-text"),
        ),
        Place::Claimed => answer(
            "waitlist-claimed-title",
            &locale::t("waitlist-claimed-text"),
        ),
    }
}

pub(crate) async fn submit_leave_form(
    throttle: Result<Throttle<WaitlistToken>, ApiError>,
    State(state): State<AppState>,
    Form(form): Form<TokenQuery>,
) -> PageResult {
    throttle?;
    leave(&state, &form.token).await?;
    answer("waitlist-left-title", &locale::t("waitlist-left-text"))
}

pub(crate) async fn submit_claim_form(
    throttle: Result<Throttle<WaitlistToken>, ApiError>,
    State(state): State<AppState>,
    Form(form): Form<TokenQuery>,
) -> PageResult {
    throttle?;
    claim(&state, &form.token, None).await?;
    answer(
        "waitlist-claimed-title",
        &locale::t("waitlist-claimed-text"),
    )
}

/// The line of a performance as staff see it: entries only for roles that may see personal data.
#[derive(Serialize)]
pub(crate) struct StaffWaitlist {
    counts: WaitlistCounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    entries: Option<Vec<Entry>>,
}

async fn load_waitlist(
    state: &AppState,
    id: Uuid,
    with_entries: bool,
) -> ApiResult<(common::catalogue::Performance, StaffWaitlist)> {
    let performance = crate::catalogue::load(state, id).await?;
    let mut conn = state.db.acquire().await?;
    let counts = waitlist::count_entries(&mut conn, performance.id).await?;
    let entries = match with_entries {
        true => Some(waitlist::list_entries(&mut conn, performance.id).await?),
        false => None,
    };
    Ok((performance, StaffWaitlist { counts, entries }))
}

pub(crate) async fn list_waitlist(
    editor: CatalogueEditor,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<Json<StaffWaitlist>> {
    let personal = editor.principal.role.can(Permission::ViewPersonalData);
    Ok(Json(load_waitlist(&state, id, personal).await?.1))
}

/// Removes an entry from the line (audited); returns its performance.
async fn remove(state: &AppState, actor: Actor, id: Uuid) -> ApiResult<Uuid> {
    in_transaction(&state.db, async |conn| {
        let removed = waitlist::remove(conn, id).await?;
        if removed {
            audit::record(
                conn,
                &actor.label(),
                AuditAction::WaitlistRemove,
                Some(id),
                json!({}),
            )
            .await?;
        }
        let performance_id = waitlist::entry_performance(conn, id)
            .await?
            .ok_or_else(ApiError::not_found)?;
        Ok(performance_id)
    })
    .await
}

pub(crate) async fn remove_entry(
    admin: AdminUser,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<Json<Value>> {
    remove(&state, admin.principal.actor, id).await?;
    Ok(Json(json!({ "status": "removed" })))
}

#[derive(Template)]
#[template(path = "admin/waitlist.html")]
struct WaitlistPage {
    nav: Nav,
    title: String,
    starts_at: String,
    performance_id: Uuid,
    waitlist: StaffWaitlist,
}

impl WaitlistPage {
    fn offered_until(&self, entry: &Entry) -> String {
        match entry.status {
            WaitlistStatus::Offered => entry.offer_expires_at.map(format_time).unwrap_or_default(),
            _ => String::new(),
        }
    }
}

pub(crate) async fn waitlist_page(
    staff: StaffPage<crate::auth::ManageCatalogue>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> PageResult {
    let personal = staff.principal.role.can(Permission::ViewPersonalData);
    let (performance, waitlist) = load_waitlist(&state, id, personal).await?;
    let page = WaitlistPage {
        nav: Nav::from(&staff),
        title: performance.title.clone(),
        starts_at: format_time(performance.starts_at),
        performance_id: performance.id,
        waitlist,
    };
    Ok(pages::render(StatusCode::OK, &page))
}

pub(crate) async fn submit_remove_form(
    staff: StaffPage<ViewPersonalData>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> PageResult {
    let performance_id = remove(&state, staff.principal.actor, id).await?;
    Ok(Redirect::to(&format!("/admin/performances/{performance_id}/waitlist")).into_response())
}
