//! Rooms: creating and changing them. A room's capacity is the base of every performance in
//! it, so a change may free seats, and the waiting lists of its performances are offered them.

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::audit::{self, AuditAction};
use crate::auth::Actor;
use crate::catalogue::{self, ROOM_CAPACITY, Room};
use crate::validation::{self, FieldErrors};

/// The members of a room body as they arrive, each `None` when absent.
#[derive(Debug, Default, Clone)]
pub struct RoomInput {
    pub name: Option<String>,
    pub capacity: Option<i64>,
}

/// A room to create: a name of 1 to 100 characters and a capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRoom {
    name: String,
    capacity: i32,
}

/// Changes to a room; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomPatch {
    name: Option<String>,
    capacity: Option<i32>,
}

impl RoomPatch {
    /// Checks the members that are present; every problem at once.
    pub fn parse(input: RoomInput) -> Result<RoomPatch, FieldErrors> {
        let mut errors = FieldErrors::new();
        let patch = read(&mut errors, &input);
        if errors.is_empty() {
            Ok(patch)
        } else {
            Err(errors)
        }
    }
}

impl NewRoom {
    /// Checks a new room: both members are required; every problem at once.
    pub fn parse(input: RoomInput) -> Result<NewRoom, FieldErrors> {
        let mut errors = FieldErrors::new();
        let patch = read(&mut errors, &input);
        let name = validation::required(&mut errors, "name", patch.name);
        let capacity = validation::required(&mut errors, "capacity", patch.capacity);
        match (name, capacity) {
            (Some(name), Some(capacity)) if errors.is_empty() => Ok(NewRoom { name, capacity }),
            _ => Err(errors),
        }
    }
}

fn read(errors: &mut FieldErrors, input: &RoomInput) -> RoomPatch {
    RoomPatch {
        name: validation::text(errors, "name", input.name.as_deref(), 100),
        capacity: validation::int_in(errors, "capacity", input.capacity, ROOM_CAPACITY),
    }
}

/// Why a room was not saved.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("room not found")]
    NotFound,
    #[error("a room with this name exists")]
    NameTaken,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A unique-name violation is the caller's mistake, anything else the database's.
fn name_taken(e: sqlx::Error) -> RoomError {
    if crate::db::is_constraint_violation(&e, "rooms_name_key") {
        RoomError::NameTaken
    } else {
        RoomError::Db(e)
    }
}

/// Creates a room, with its audit entry.
pub async fn save_new_room(db: &PgPool, actor: Actor, new: &NewRoom) -> Result<Room, RoomError> {
    let mut tx = db.begin().await?;
    let room = catalogue::insert_room(&mut tx, &new.name, new.capacity)
        .await
        .map_err(name_taken)?;
    let details = json!({ "capacity": new.capacity });
    let action = AuditAction::RoomCreate;
    audit::record(&mut tx, &actor.label(), action, Some(room.id), details).await?;
    tx.commit().await?;
    Ok(room)
}

/// Applies changes to a room (audited when something really changed) and offers seats it may
/// have freed to the waiting lists of its performances.
pub async fn save_room_changes(
    db: &PgPool,
    actor: Actor,
    id: Uuid,
    patch: &RoomPatch,
) -> Result<Room, RoomError> {
    let mut tx = db.begin().await?;
    let before = catalogue::find_room(&mut tx, id)
        .await?
        .ok_or(RoomError::NotFound)?;
    let room = catalogue::update_room(&mut tx, id, patch.name.as_deref(), patch.capacity)
        .await
        .map_err(name_taken)?
        .ok_or(RoomError::NotFound)?;
    let name_changed = room.name != before.name;
    if name_changed || room.capacity != before.capacity {
        let details = json!({ "name_changed": name_changed, "capacity": patch.capacity });
        let action = AuditAction::RoomUpdate;
        audit::record(&mut tx, &actor.label(), action, Some(id), details).await?;
    }
    crate::waitlist::queue_offers_in_room(&mut tx, id).await?;
    tx.commit().await?;
    Ok(room)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: Option<&str>, capacity: Option<i64>) -> RoomInput {
        RoomInput {
            name: name.map(str::to_owned),
            capacity,
        }
    }

    #[test]
    fn a_new_room_needs_a_name_and_a_capacity() {
        let room = NewRoom::parse(input(Some("  Sala A "), Some(80))).unwrap();
        assert_eq!(
            room,
            NewRoom {
                name: "Sala A".into(),
                capacity: 80
            }
        );
        let errors = NewRoom::parse(input(None, None)).unwrap_err();
        assert_eq!(errors["name"], "is required");
        assert_eq!(errors["capacity"], "is required");
    }

    #[test]
    fn each_bad_room_field_is_named() {
        let errors = NewRoom::parse(input(Some("  "), Some(80))).unwrap_err();
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["name"]);
        assert_eq!(errors["name"], "must be 1 to 100 characters");
        let long = "x".repeat(101);
        assert!(NewRoom::parse(input(Some(&long), Some(80))).is_err());
        let errors = NewRoom::parse(input(Some("Sala"), Some(-1))).unwrap_err();
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["capacity"]);
        assert_eq!(errors["capacity"], "must be between 0 and 100000");
        assert!(NewRoom::parse(input(Some("Sala"), Some(i64::MAX))).is_err());
    }

    #[test]
    fn a_room_patch_checks_only_what_is_present_and_tells_every_problem() {
        let empty = RoomPatch::parse(RoomInput::default()).unwrap();
        assert_eq!(
            empty,
            RoomPatch {
                name: None,
                capacity: None
            }
        );
        let errors = RoomPatch::parse(input(Some(""), Some(100_001))).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}
