//! Staff users and API keys, managed by admins. Creating a user never touches an existing
//! account; role change, disabling, enabling and password reset are separate audited actions
//! that each end the user's sessions. Passwords arrive here already hashed: hashing is slow
//! and the caller decides where it runs.

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::audit::{self, AuditAction};
use crate::auth::{self, Actor, Role};
use crate::validation::{self, FieldErrors};

/// The members of a staff-user or API-key body as they arrive, each `None` when absent.
#[derive(Debug, Default, Clone)]
pub struct StaffInput {
    pub email: Option<String>,
    pub role: Option<String>,
    pub password: Option<String>,
    /// For a change: `true` disables, `false` enables.
    pub disabled: Option<bool>,
    /// For an API key: what it is for.
    pub label: Option<String>,
}

/// A staff user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStaffUser {
    email: String,
    role: Role,
    password: String,
}

/// Changes to one staff user; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffUserPatch {
    role: Option<Role>,
    disabled: Option<bool>,
    password: Option<String>,
}

/// An API key to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    role: Role,
    label: String,
}

fn role(errors: &mut FieldErrors, role: Option<&str>) -> Option<Role> {
    Role::parse(role?)
        .or_else(|| validation::fail(errors, "role", "must be admin, editor, door or operator"))
}

fn password(errors: &mut FieldErrors, password: Option<String>) -> Option<String> {
    match auth::check_password_rule(password.as_deref()?) {
        Ok(()) => password,
        Err(problem) => validation::fail(errors, "password", problem),
    }
}

fn done<T>(errors: FieldErrors, value: Option<T>) -> Result<T, FieldErrors> {
    match value {
        Some(value) if errors.is_empty() => Ok(value),
        _ => Err(errors),
    }
}

impl NewStaffUser {
    /// Checks a new user: an e-mail address, a role and a password that follows the rule;
    /// every problem at once.
    pub fn parse(input: StaffInput) -> Result<NewStaffUser, FieldErrors> {
        let mut errors = FieldErrors::new();
        let email = input.email.as_deref().map(str::trim).and_then(|email| {
            if email_address::EmailAddress::is_valid(email) && email.len() <= 254 {
                Some(email.to_owned())
            } else {
                validation::fail(&mut errors, "email", "must be a valid e-mail address")
            }
        });
        let email = validation::required(&mut errors, "email", email);
        let role = role(&mut errors, input.role.as_deref());
        let role = validation::required(&mut errors, "role", role);
        let password = password(&mut errors, input.password);
        let password = validation::required(&mut errors, "password", password);
        let user = match (email, role, password) {
            (Some(email), Some(role), Some(password)) => Some(NewStaffUser {
                email,
                role,
                password,
            }),
            _ => None,
        };
        done(errors, user)
    }

    /// The password to hash before [`save_staff_user`].
    pub fn password(&self) -> &str {
        &self.password
    }

    pub fn email(&self) -> &str {
        &self.email
    }

    pub fn role(&self) -> Role {
        self.role
    }
}

impl StaffUserPatch {
    /// Checks the changes that are present; every problem at once.
    pub fn parse(input: StaffInput) -> Result<StaffUserPatch, FieldErrors> {
        let mut errors = FieldErrors::new();
        let patch = StaffUserPatch {
            role: role(&mut errors, input.role.as_deref()),
            disabled: input.disabled,
            password: password(&mut errors, input.password),
        };
        done(errors, Some(patch))
    }

    /// The new password, if the patch resets it: hash it before [`change_staff_user`].
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }
}

impl NewApiKey {
    /// Checks a new key: a role and a label of 1 to 100 characters; every problem at once.
    pub fn parse(input: StaffInput) -> Result<NewApiKey, FieldErrors> {
        let mut errors = FieldErrors::new();
        let role = role(&mut errors, input.role.as_deref());
        let role = validation::required(&mut errors, "role", role);
        let label = validation::text(&mut errors, "label", input.label.as_deref(), 100);
        let label = validation::required(&mut errors, "label", label);
        let key = match (role, label) {
            (Some(role), Some(label)) => Some(NewApiKey { role, label }),
            _ => None,
        };
        done(errors, key)
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn label(&self) -> &str {
        &self.label
    }
}

/// Why a staff user or key was not saved.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("no such staff user or key")]
    NotFound,
    /// The address belongs to a staff user already (in any letter case).
    #[error("a staff user with this e-mail address exists")]
    AlreadyExists,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Creates a staff user with the hash of `new`'s password, audited.
pub async fn save_staff_user(
    db: &PgPool,
    actor: Actor,
    new: &NewStaffUser,
    password_hash: &str,
) -> Result<Uuid, StaffError> {
    let mut tx = db.begin().await?;
    let id = auth::insert_staff_user(&mut tx, &new.email, new.role, password_hash)
        .await?
        .ok_or(StaffError::AlreadyExists)?;
    let details = json!({ "role": new.role });
    audit::record(
        &mut tx,
        &actor.label(),
        AuditAction::StaffCreate,
        Some(id),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Applies a patch in one transaction (`password_hash` is the hash of its new password). Only
/// real changes are made and recorded: setting the current role or state again is none.
pub async fn change_staff_user(
    db: &PgPool,
    actor: Actor,
    id: Uuid,
    patch: &StaffUserPatch,
    password_hash: Option<&str>,
) -> Result<(), StaffError> {
    let actor = actor.label();
    let mut tx = db.begin().await?;
    let user = auth::find_staff_user(&mut tx, id)
        .await?
        .ok_or(StaffError::NotFound)?;
    if let Some(role) = patch.role.filter(|r| *r != user.role) {
        auth::update_staff_role(&mut tx, id, role).await?;
        let details = json!({ "role": role });
        audit::record(&mut tx, &actor, AuditAction::StaffRole, Some(id), details).await?;
    }
    if let Some(disabled) = patch.disabled.filter(|d| *d != user.disabled_at.is_some()) {
        auth::set_staff_disabled(&mut tx, id, disabled).await?;
        let action = if disabled {
            AuditAction::StaffDisable
        } else {
            AuditAction::StaffEnable
        };
        audit::record(&mut tx, &actor, action, Some(id), json!({})).await?;
    }
    if let Some(hash) = password_hash {
        auth::reset_staff_password(&mut tx, id, hash).await?;
        let action = AuditAction::StaffPasswordReset;
        audit::record(&mut tx, &actor, action, Some(id), json!({})).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Creates an API key, audited; returns its id and raw value (shown once).
pub async fn issue_api_key(
    db: &PgPool,
    actor: Actor,
    new: &NewApiKey,
) -> Result<(Uuid, String), sqlx::Error> {
    let mut tx = db.begin().await?;
    let (id, raw) = auth::create_api_key(&mut tx, new.role, &new.label).await?;
    let details = json!({ "role": new.role });
    let action = AuditAction::ApiKeyCreate;
    audit::record(&mut tx, &actor.label(), action, Some(id), details).await?;
    tx.commit().await?;
    Ok((id, raw.expose().to_owned()))
}

/// Revokes an API key, audited.
pub async fn withdraw_api_key(db: &PgPool, actor: Actor, id: Uuid) -> Result<(), StaffError> {
    let mut tx = db.begin().await?;
    if !auth::revoke_api_key(&mut tx, id).await? {
        return Err(StaffError::NotFound);
    }
    let action = AuditAction::ApiKeyRevoke;
    audit::record(&mut tx, &actor.label(), action, Some(id), json!({})).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(email: &str, role: &str, password: &str) -> StaffInput {
        StaffInput {
            email: Some(email.into()),
            role: Some(role.into()),
            password: Some(password.into()),
            ..StaffInput::default()
        }
    }

    #[test]
    fn a_new_staff_user_has_an_address_a_role_and_a_good_password() {
        let new = NewStaffUser::parse(user(" door@example.test ", "door", "long enough")).unwrap();
        assert_eq!(new.email(), "door@example.test");
        assert_eq!(new.role(), Role::Door);
        assert_eq!(new.password(), "long enough");
    }

    #[test]
    fn each_bad_staff_user_field_is_named_and_all_at_once() {
        let only = |input| {
            let errors = NewStaffUser::parse(input).unwrap_err();
            errors.into_keys().collect::<Vec<_>>()
        };
        assert_eq!(
            only(user("not an address", "door", "long enough")),
            ["email"]
        );
        assert_eq!(
            only(user("a@example.test", "boss", "long enough")),
            ["role"]
        );
        assert_eq!(only(user("a@example.test", "door", "short")), ["password"]);
        let errors = NewStaffUser::parse(StaffInput::default()).unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors.values().all(|p| p == "is required"));
        assert_eq!(only(user("", "", "")).len(), 3);
    }

    #[test]
    fn a_staff_user_patch_checks_what_is_present() {
        let patch = StaffUserPatch::parse(StaffInput {
            disabled: Some(true),
            ..StaffInput::default()
        })
        .unwrap();
        assert_eq!(patch.password(), None);
        let errors = StaffUserPatch::parse(StaffInput {
            role: Some("boss".into()),
            password: Some("short".into()),
            ..StaffInput::default()
        })
        .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        let reset = StaffUserPatch::parse(StaffInput {
            password: Some("long enough".into()),
            ..StaffInput::default()
        })
        .unwrap();
        assert_eq!(reset.password(), Some("long enough"));
    }

    #[test]
    fn a_new_api_key_has_a_role_and_a_label() {
        let key = |role: Option<&str>, label: Option<&str>| {
            NewApiKey::parse(StaffInput {
                role: role.map(str::to_owned),
                label: label.map(str::to_owned),
                ..StaffInput::default()
            })
        };
        let good = key(Some("door"), Some(" Scanner 2 ")).unwrap();
        assert_eq!((good.role(), good.label()), (Role::Door, "Scanner 2"));
        let errors = key(Some("door"), Some("  ")).unwrap_err();
        assert_eq!(errors["label"], "must be 1 to 100 characters");
        let errors = key(Some("root"), Some("x")).unwrap_err();
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["role"]);
        let errors = key(None, None).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}
