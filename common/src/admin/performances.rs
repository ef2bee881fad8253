//! Performances: creating them (the contract's defaults for what staff leave out) and changing
//! them under the row lock confirmation takes. Setting a title files the performance under the
//! show of that title; a change that may free seats offers them to the waiting list.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::audit::{self, AuditAction};
use crate::auth::Actor;
use crate::catalogue::{self, BookingStatus, Performance, PerformanceSettings};
use crate::validation::{self, FieldErrors};

/// The members of a performance body as they arrive, each `None` when absent.
#[derive(Debug, Default, Clone)]
pub struct PerformanceInput {
    pub title: Option<String>,
    pub description: Option<String>,
    pub room_id: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub additional_seats: Option<i64>,
    pub manually_occupied_seats: Option<i64>,
    pub max_party_size: Option<i64>,
    /// As sent; `parse` reads it as a [`BookingStatus`].
    pub booking_status_text: Option<String>,
    pub checkin_opens_minutes_before: Option<i64>,
    pub checkin_closes_minutes_after: Option<i64>,
}

/// Changes to a performance, each checked; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PerformancePatch {
    title: Option<String>,
    description: Option<String>,
    room_id: Option<Uuid>,
    starts_at: Option<DateTime<Utc>>,
    additional_seats: Option<i32>,
    manually_occupied_seats: Option<i32>,
    max_party_size: Option<i32>,
    booking_status: Option<BookingStatus>,
    checkin_opens_minutes_before: Option<i32>,
    checkin_closes_minutes_after: Option<i32>,
}

/// A performance to create: a title, a room and a start, and any other setting.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPerformance {
    title: String,
    room_id: Uuid,
    starts_at: DateTime<Utc>,
    rest: PerformancePatch,
}

impl PerformancePatch {
    /// Checks the members that are present; every problem at once.
    pub fn parse(input: PerformanceInput) -> Result<PerformancePatch, FieldErrors> {
        let mut errors = FieldErrors::new();
        let patch = read(&mut errors, input);
        if errors.is_empty() {
            Ok(patch)
        } else {
            Err(errors)
        }
    }

    fn apply(&self, show_id: Uuid, base: PerformanceSettings) -> PerformanceSettings {
        PerformanceSettings {
            show_id,
            room_id: self.room_id.unwrap_or(base.room_id),
            starts_at: self.starts_at.unwrap_or(base.starts_at),
            additional_seats: self.additional_seats.unwrap_or(base.additional_seats),
            manually_occupied_seats: self
                .manually_occupied_seats
                .unwrap_or(base.manually_occupied_seats),
            max_party_size: self.max_party_size.unwrap_or(base.max_party_size),
            booking_status: self.booking_status.unwrap_or(base.booking_status),
            checkin_opens_minutes_before: self
                .checkin_opens_minutes_before
                .unwrap_or(base.checkin_opens_minutes_before),
            checkin_closes_minutes_after: self
                .checkin_closes_minutes_after
                .unwrap_or(base.checkin_closes_minutes_after),
        }
    }
}

impl NewPerformance {
    /// Checks a new performance: `title`, `room_id` and `starts_at` are required; every
    /// problem at once.
    pub fn parse(input: PerformanceInput) -> Result<NewPerformance, FieldErrors> {
        let mut errors = FieldErrors::new();
        let rest = read(&mut errors, input);
        let title = validation::required(&mut errors, "title", rest.title.clone());
        let room_id = validation::required(&mut errors, "room_id", rest.room_id);
        let starts_at = validation::required(&mut errors, "starts_at", rest.starts_at);
        match (title, room_id, starts_at) {
            (Some(title), Some(room_id), Some(starts_at)) if errors.is_empty() => {
                Ok(NewPerformance {
                    title,
                    room_id,
                    starts_at,
                    rest,
                })
            }
            _ => Err(errors),
        }
    }
}

fn read(errors: &mut FieldErrors, input: PerformanceInput) -> PerformancePatch {
    let description = input.description.and_then(|d| {
        if d.chars().count() > 5000 {
            validation::fail(errors, "description", "must be at most 5000 characters")
        } else {
            Some(d)
        }
    });
    let room_id = input.room_id.and_then(|r| match Uuid::parse_str(&r) {
        Ok(id) => Some(id),
        Err(_) => validation::fail(errors, "room_id", "must be a room id"),
    });
    let booking_status = input.booking_status_text.and_then(|s| {
        BookingStatus::parse(&s).or_else(|| {
            let problem = "must be scheduled, open, closed or cancelled";
            validation::fail(errors, "booking_status", problem)
        })
    });
    let seats = PerformanceSettings::SEATS;
    let minutes = PerformanceSettings::CHECKIN_MINUTES;
    PerformancePatch {
        title: validation::text(errors, "title", input.title.as_deref(), 200),
        description,
        room_id,
        starts_at: input.starts_at,
        additional_seats: validation::int_in(
            errors,
            "additional_seats",
            input.additional_seats,
            seats.clone(),
        ),
        manually_occupied_seats: validation::int_in(
            errors,
            "manually_occupied_seats",
            input.manually_occupied_seats,
            seats,
        ),
        max_party_size: validation::int_in(
            errors,
            "max_party_size",
            input.max_party_size,
            PerformanceSettings::PARTY_SIZE,
        ),
        booking_status,
        checkin_opens_minutes_before: validation::int_in(
            errors,
            "checkin_opens_minutes_before",
            input.checkin_opens_minutes_before,
            minutes.clone(),
        ),
        checkin_closes_minutes_after: validation::int_in(
            errors,
            "checkin_closes_minutes_after",
            input.checkin_closes_minutes_after,
            minutes,
        ),
    }
}

/// Why a performance was not saved.
#[derive(Debug, thiserror::Error)]
pub enum PerformanceError {
    #[error("performance not found")]
    NotFound,
    #[error("no such room")]
    NoSuchRoom,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The audited settings of a performance (no personal data exists here).
fn settings_json(s: &PerformanceSettings) -> Value {
    json!({
        "room_id": s.room_id,
        "starts_at": s.starts_at,
        "additional_seats": s.additional_seats,
        "manually_occupied_seats": s.manually_occupied_seats,
        "max_party_size": s.max_party_size,
        "booking_status": s.booking_status,
        "checkin_opens_minutes_before": s.checkin_opens_minutes_before,
        "checkin_closes_minutes_after": s.checkin_closes_minutes_after,
    })
}

/// `{field: [before, after]}` for every setting that changed.
fn changes(before: &PerformanceSettings, after: &PerformanceSettings) -> Map<String, Value> {
    let (Value::Object(old), Value::Object(new)) = (settings_json(before), settings_json(after))
    else {
        return Map::new();
    };
    new.into_iter()
        .filter(|(k, v)| old.get(k) != Some(v))
        .map(|(k, v)| {
            let was = old.get(&k).cloned().unwrap_or(Value::Null);
            (k, json!([was, v]))
        })
        .collect()
}

async fn check_room(
    conn: &mut PgConnection,
    room_id: Option<Uuid>,
) -> Result<(), PerformanceError> {
    if let Some(room_id) = room_id
        && catalogue::find_room(conn, room_id).await?.is_none()
    {
        return Err(PerformanceError::NoSuchRoom);
    }
    Ok(())
}

/// Creates a performance (the contract's defaults for what is absent), with its audit entry.
pub async fn save_new_performance(
    db: &PgPool,
    actor: Actor,
    new: &NewPerformance,
) -> Result<Performance, PerformanceError> {
    let mut tx = db.begin().await?;
    check_room(&mut tx, Some(new.room_id)).await?;
    let show_id = catalogue::upsert_show(&mut tx, &new.title).await?;
    if let Some(description) = &new.rest.description {
        catalogue::update_show_description(&mut tx, show_id, description).await?;
    }
    let defaults = PerformanceSettings::with_defaults(show_id, new.room_id, new.starts_at);
    let settings = new.rest.apply(show_id, defaults);
    let id = catalogue::insert_performance(&mut tx, &settings).await?;
    let details = settings_json(&settings);
    let action = AuditAction::PerformanceCreate;
    audit::record(&mut tx, &actor.label(), action, Some(id), details).await?;
    let performance = catalogue::find_performance(&mut tx, id)
        .await?
        .ok_or(PerformanceError::NotFound)?;
    tx.commit().await?;
    tracing::info!(performance.id = %id, "performance created");
    Ok(performance)
}

/// Applies a patch to a performance under its row lock, with an audit entry of what changed
/// (none when nothing did), and offers seats it may have freed to the waiting list.
pub async fn save_performance_changes(
    db: &PgPool,
    actor: Actor,
    id: Uuid,
    patch: &PerformancePatch,
) -> Result<Performance, PerformanceError> {
    let mut tx = db.begin().await?;
    // Seat figures change under the same lock confirmation takes.
    let current = catalogue::lock_performance(&mut tx, id)
        .await?
        .ok_or(PerformanceError::NotFound)?;
    check_room(&mut tx, patch.room_id).await?;
    let show_id = match &patch.title {
        Some(title) => catalogue::upsert_show(&mut tx, title).await?,
        None => current.show_id,
    };
    if let Some(description) = &patch.description {
        catalogue::update_show_description(&mut tx, show_id, description).await?;
    }
    let mut changed = Map::new();
    if show_id != current.show_id {
        changed.insert("title".to_owned(), json!([current.title, patch.title]));
    }
    if patch
        .description
        .as_ref()
        .is_some_and(|d| *d != current.description)
    {
        changed.insert("description".to_owned(), json!("changed"));
    }
    let before = current.settings();
    let after = patch.apply(show_id, before.clone());
    catalogue::update_performance(&mut tx, id, &after).await?;
    crate::waitlist::queue_offers(&mut tx, id).await?;
    changed.extend(changes(&before, &after));
    if !changed.is_empty() {
        let action = AuditAction::PerformanceUpdate;
        let details = Value::Object(changed);
        audit::record(&mut tx, &actor.label(), action, Some(id), details).await?;
    }
    let updated = catalogue::find_performance(&mut tx, id)
        .await?
        .ok_or(PerformanceError::NotFound)?;
    tx.commit().await?;
    tracing::info!(performance.id = %id, "performance updated");
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> PerformanceInput {
        PerformanceInput {
            title: Some(" Arlecchino ".into()),
            room_id: Some(Uuid::nil().to_string()),
            starts_at: Some(Utc::now()),
            max_party_size: Some(4),
            booking_status_text: Some("open".into()),
            ..PerformanceInput::default()
        }
    }

    #[test]
    fn a_new_performance_takes_title_room_and_start_and_keeps_the_rest() {
        let new = NewPerformance::parse(good()).unwrap();
        assert_eq!(new.title, "Arlecchino");
        assert_eq!(new.room_id, Uuid::nil());
        assert_eq!(new.rest.max_party_size, Some(4));
        assert_eq!(new.rest.booking_status, Some(BookingStatus::Open));
        assert_eq!(new.rest.additional_seats, None);
    }

    #[test]
    fn each_bad_performance_field_is_named() {
        type Spoil = fn(&mut PerformanceInput);
        let bad: [(&str, Spoil); 8] = [
            ("title", |i| i.title = Some("  ".into())),
            ("description", |i| i.description = Some("x".repeat(5001))),
            ("room_id", |i| i.room_id = Some("sala".into())),
            ("additional_seats", |i| i.additional_seats = Some(-1)),
            ("manually_occupied_seats", |i| {
                i.manually_occupied_seats = Some(100_001)
            }),
            ("max_party_size", |i| i.max_party_size = Some(0)),
            ("booking_status", |i| {
                i.booking_status_text = Some("sold".into())
            }),
            ("checkin_closes_minutes_after", |i| {
                i.checkin_closes_minutes_after = Some(10_081)
            }),
        ];
        for (field, spoil) in bad {
            let mut input = good();
            spoil(&mut input);
            let errors = NewPerformance::parse(input.clone()).unwrap_err();
            assert_eq!(errors.keys().collect::<Vec<_>>(), [field], "{errors:?}");
            assert!(PerformancePatch::parse(input).is_err(), "{field}");
        }
        let errors = NewPerformance::parse(PerformanceInput::default()).unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors.values().all(|p| p == "is required"));
    }

    #[test]
    fn a_patch_needs_nothing_and_tells_every_problem_at_once() {
        let empty = PerformancePatch::parse(PerformanceInput::default()).unwrap();
        assert_eq!(empty, PerformancePatch::default());
        let errors = PerformancePatch::parse(PerformanceInput {
            title: Some(String::new()),
            room_id: Some("x".into()),
            max_party_size: Some(1001),
            checkin_opens_minutes_before: Some(-5),
            ..PerformanceInput::default()
        })
        .unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert_eq!(errors["title"], "must be 1 to 200 characters");
    }
}
