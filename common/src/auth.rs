//! Staff roles, staff users and API keys. Passwords are argon2id hashes; API keys are random
//! tokens stored as SHA-256, like every other secret we hand out.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::token::{RawToken, TokenHash};

/// What a staff member or key may do. Personal data is for `Admin` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Role {
    /// Everything.
    Admin,
    /// Rooms, shows and performances; no personal data.
    Editor,
    /// Check-in only.
    Door,
    /// Job queue and metrics; no personal data.
    Operator,
}

/// Each capability behind a login, granted to roles in [`Role::can`] and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ManageCatalogue,
    ViewPersonalData,
    ManageStaff,
    CheckIn,
    WatchOperations,
}

impl Role {
    /// Parses the contract's spelling.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "editor" => Some(Role::Editor),
            "door" => Some(Role::Door),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Door => "door",
            Role::Operator => "operator",
        }
    }

    /// The permission table.
    pub fn can(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Editor => permission == ManageCatalogue,
            Role::Door => permission == CheckIn,
            Role::Operator => permission == WatchOperations,
        }
    }
}

/// Who acts: a staff user (by session) or an API key. Audit entries and check-in records name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Staff(Uuid),
    ApiKey(Uuid),
}

impl Actor {
    /// `staff:<id>` or `key:<id>`, as written to the audit log and the check-in nonces.
    pub fn label(self) -> String {
        match self {
            Actor::Staff(id) => format!("staff:{id}"),
            Actor::ApiKey(id) => format!("key:{id}"),
        }
    }
}

/// An API key as listed to admins (never its secret).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct ApiKey {
    pub id: Uuid,
    pub label: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Creates an API key and returns the raw key, to be shown once.
pub async fn create_api_key(
    conn: &mut PgConnection,
    role: Role,
    label: &str,
) -> Result<(Uuid, RawToken), sqlx::Error> {
    let raw = RawToken::generate();
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO api_keys (id, label, role, key_hash) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(label)
        .bind(role)
        .bind(raw.hash().as_bytes())
        .execute(conn)
        .await?;
    Ok((id, raw))
}

/// The live key with this secret. Its last-used time is refreshed at most once a minute, so a
/// busy scanner does not turn every check-in into a write on one hot row.
pub async fn authenticate_api_key(
    conn: &mut PgConnection,
    presented: &str,
) -> Result<Option<ApiKey>, sqlx::Error> {
    let Some(hash) = TokenHash::parse(presented) else {
        return Ok(None);
    };
    sqlx::query_as(
        "WITH key AS (SELECT id, label, role, created_at, last_used_at, revoked_at
                        FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL),
              touched AS (UPDATE api_keys SET last_used_at = now()
                           WHERE id IN (SELECT id FROM key
                                         WHERE last_used_at IS NULL OR last_used_at < now() - interval '1 minute'))
         SELECT id, label, role, created_at, last_used_at, revoked_at FROM key",
    )
    .bind(hash.as_bytes())
    .fetch_optional(conn)
    .await
}

/// All keys, newest first.
pub async fn list_api_keys(conn: &mut PgConnection) -> Result<Vec<ApiKey>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, label, role, created_at, last_used_at, revoked_at
           FROM api_keys ORDER BY created_at DESC",
    )
    .fetch_all(conn)
    .await
}

/// The channel on which a revocation is announced (`NOTIFY`, delivered when the revoking
/// transaction commits), so that web processes forget the keys they remember.
pub const KEY_CHANGES_CHANNEL: &str = "azione_api_keys";

/// Revokes a key; returns false if there is no such live key.
pub async fn revoke_api_key(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    let revoked: bool = sqlx::query_scalar(
        "WITH revoked AS (UPDATE api_keys SET revoked_at = now()
                           WHERE id = $1 AND revoked_at IS NULL RETURNING id)
         SELECT count(*) = 1 FROM revoked, LATERAL (SELECT pg_notify($2, '')) announced",
    )
    .bind(id)
    .bind(KEY_CHANGES_CHANNEL)
    .fetch_one(conn)
    .await?;
    Ok(revoked)
}

/// The one password rule for staff users, used by the API, the pages and the command line:
/// `Err` says what is wrong, in words that follow "the password".
pub fn check_password_rule(password: &str) -> Result<(), &'static str> {
    let length = password.chars().count();
    if (8..=1000).contains(&length) {
        Ok(())
    } else {
        Err("must be 8 to 1000 characters")
    }
}

/// Hashes a password with argon2id (the crate draws a fresh salt).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hash password: {e}"))
}

/// True when `password` matches the stored hash.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Creates a staff user; `None` when the address is taken (compared case-insensitively).
/// Creation never changes an existing account: that is what the explicit changes below do.
pub async fn insert_staff_user(
    conn: &mut PgConnection,
    email: &str,
    role: Role,
    password_hash: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO staff_users (id, email, password_hash, role) VALUES ($1, $2, $3, $4)
         ON CONFLICT (lower(email)) DO NOTHING
         RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(email)
    .bind(password_hash)
    .bind(role)
    .fetch_optional(conn)
    .await
}

/// The id of the staff user with this address (case-insensitive), enabled or not.
pub async fn find_staff_id(
    conn: &mut PgConnection,
    email: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM staff_users WHERE lower(email) = lower($1)")
        .bind(email)
        .fetch_optional(conn)
        .await
}

/// Sets a new password and ends every session of the user; false if there is no such user.
pub async fn reset_staff_password(
    conn: &mut PgConnection,
    id: Uuid,
    password_hash: &str,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE staff_users SET password_hash = $2, updated_at = now() WHERE id = $1")
            .bind(id)
            .bind(password_hash)
            .execute(&mut *conn)
            .await?;
    end_sessions_of(conn, id).await?;
    Ok(done.rows_affected() == 1)
}

/// A staff user as the login form needs it.
#[derive(Debug, Clone, FromRow)]
pub struct StaffLogin {
    pub id: Uuid,
    pub password_hash: String,
    pub role: Role,
}

/// The active staff user with this e-mail (case-insensitive).
pub async fn find_staff_for_login(
    conn: &mut PgConnection,
    email: &str,
) -> Result<Option<StaffLogin>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, password_hash, role FROM staff_users
          WHERE lower(email) = lower($1) AND disabled_at IS NULL",
    )
    .bind(email)
    .fetch_optional(conn)
    .await
}

/// Counts a login attempt for the account `email` names before its password is checked, so
/// that concurrent guesses cannot overtake the count. Returns how long the account stays locked
/// when this attempt is over `allowed` within `window`, else `None`. Expired counts are
/// forgotten on the way.
pub async fn reserve_login_attempt(
    conn: &mut PgConnection,
    email: &str,
    allowed: u32,
    window: std::time::Duration,
) -> Result<Option<std::time::Duration>, sqlx::Error> {
    sqlx::query(
        "DELETE FROM login_failures WHERE window_started_at <= now() - make_interval(secs => $1)",
    )
    .bind(window.as_secs_f64())
    .execute(&mut *conn)
    .await?;
    let (failures, remaining): (i32, f64) = sqlx::query_as(
        "INSERT INTO login_failures (account, failures) VALUES (lower($1), 1)
         ON CONFLICT (account) DO UPDATE SET failures = login_failures.failures + 1
         RETURNING failures,
                   extract(epoch FROM window_started_at + make_interval(secs => $2) - now())::float8",
    )
    .bind(email)
    .bind(window.as_secs_f64())
    .fetch_one(conn)
    .await?;
    let over = u32::try_from(failures).map_or(true, |n| n > allowed);
    Ok(over.then(|| std::time::Duration::from_secs_f64(remaining.max(1.0))))
}

/// Forgets the counted attempts of an account after a successful login.
pub async fn forget_login_attempts(
    conn: &mut PgConnection,
    email: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE account = lower($1)")
        .bind(email)
        .execute(conn)
        .await?;
    Ok(())
}

/// A live staff session.
#[derive(Debug, Clone, FromRow)]
pub struct StaffSession {
    pub staff_user_id: Uuid,
    pub role: Role,
}

/// Starts a session; the raw id goes into the cookie only.
pub async fn create_session(
    conn: &mut PgConnection,
    staff_user_id: Uuid,
    lifetime: std::time::Duration,
) -> Result<RawToken, sqlx::Error> {
    let raw = RawToken::generate();
    sqlx::query(
        "INSERT INTO staff_sessions (id_hash, staff_user_id, expires_at)
         VALUES ($1, $2, now() + make_interval(secs => $3))",
    )
    .bind(raw.hash().as_bytes())
    .bind(staff_user_id)
    .bind(lifetime.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(raw)
}

/// The session behind a cookie value if it is neither expired nor idle too long; touching it
/// keeps it alive.
pub async fn find_session(
    conn: &mut PgConnection,
    presented: &str,
    idle_timeout: std::time::Duration,
) -> Result<Option<StaffSession>, sqlx::Error> {
    let Some(hash) = TokenHash::parse(presented) else {
        return Ok(None);
    };
    sqlx::query_as(
        "UPDATE staff_sessions s SET last_seen_at = now()
           FROM staff_users u
          WHERE s.id_hash = $1 AND u.id = s.staff_user_id AND u.disabled_at IS NULL
            AND s.expires_at > now() AND s.last_seen_at > now() - make_interval(secs => $2)
      RETURNING s.staff_user_id, u.role",
    )
    .bind(hash.as_bytes())
    .bind(idle_timeout.as_secs_f64())
    .fetch_optional(conn)
    .await
}

/// Ends a session (logout).
pub async fn delete_session(conn: &mut PgConnection, presented: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM staff_sessions WHERE id_hash = $1")
        .bind(TokenHash::of(presented).as_bytes())
        .execute(conn)
        .await?;
    Ok(())
}

/// A staff user as listed to admins.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct StaffUser {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// One staff user.
pub async fn find_staff_user(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<StaffUser>, sqlx::Error> {
    sqlx::query_as("SELECT id, email, role, created_at, disabled_at FROM staff_users WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// All staff users by e-mail.
pub async fn list_staff_users(conn: &mut PgConnection) -> Result<Vec<StaffUser>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, email, role, created_at, disabled_at FROM staff_users ORDER BY lower(email)",
    )
    .fetch_all(conn)
    .await
}

/// Changes a staff user's role; their sessions end so the new role applies at once.
pub async fn update_staff_role(
    conn: &mut PgConnection,
    id: Uuid,
    role: Role,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE staff_users SET role = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(role)
        .execute(&mut *conn)
        .await?;
    end_sessions_of(conn, id).await?;
    Ok(done.rows_affected() == 1)
}

/// Disables or enables a staff user and ends their sessions; false if there is no such user.
pub async fn set_staff_disabled(
    conn: &mut PgConnection,
    id: Uuid,
    disabled: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE staff_users
            SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END, updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(disabled)
    .execute(&mut *conn)
    .await?;
    end_sessions_of(conn, id).await?;
    Ok(done.rows_affected() == 1)
}

async fn end_sessions_of(conn: &mut PgConnection, staff_user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM staff_sessions WHERE staff_user_id = $1")
        .bind(staff_user_id)
        .execute(conn)
        .await?;
    Ok(())
}
