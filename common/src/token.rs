//! Opaque secrets handed to visitors and scanning clients: 256 random bits from the OS CSPRNG,
//! base64url-encoded. Only their SHA-256 is stored; the raw value lives in the e-mail or the
//! operator's terminal and nowhere else.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::TryRng;
use sha2::{Digest, Sha256};

const TOKEN_BYTES: usize = 32;
/// Length of an encoded token: 32 bytes in unpadded base64url.
pub const TOKEN_LEN: usize = 43;

/// A freshly generated raw token. Deliberately not `Debug` or `Display`, so it cannot be logged by accident.
pub struct RawToken(String);

impl RawToken {
    /// Draws a new token from the operating system's CSPRNG.
    pub fn generate() -> RawToken {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rngs::SysRng
            .try_fill_bytes(&mut bytes)
            .expect("the operating system's random number generator is available");
        RawToken(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The value to put into an e-mail link or QR code.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The digest stored in the database.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

/// SHA-256 of a raw token, the only form in which tokens are stored and looked up.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// Hashes whatever string a client presented.
    pub fn of(raw: &str) -> TokenHash {
        TokenHash(Sha256::digest(raw.as_bytes()).into())
    }

    /// Hashes a presented string if it has the shape of one of our tokens; anything else
    /// cannot match a stored token, so callers can answer "invalid" without a query.
    pub fn parse(raw: &str) -> Option<TokenHash> {
        let well_formed = raw.len() == TOKEN_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| TokenHash::of(raw))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_well_formed_distinct_and_parse_to_their_hash() {
        let a = RawToken::generate();
        let b = RawToken::generate();
        assert_eq!(a.expose().len(), TOKEN_LEN);
        assert_ne!(a.expose(), b.expose());
        assert!(TokenHash::parse(a.expose()) == Some(a.hash()));
    }

    #[test]
    fn malformed_strings_do_not_parse() {
        for s in [
            "",
            "abc",
            &"a".repeat(42),
            &"a".repeat(44),
            &format!("{}!", "a".repeat(42)),
        ] {
            assert!(TokenHash::parse(s).is_none(), "{s:?}");
        }
    }
}

/// What a reservation token may be used for; a token of one purpose never matches another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TokenPurpose {
    /// The link in the confirmation e-mail.
    Confirm,
    /// The QR code shown at the door.
    Ticket,
    /// The cancel link in the ticket e-mail.
    Cancel,
    /// The short code typed at the door when the QR code cannot be scanned.
    ShortCode,
}

/// A stored token, found by its hash and purpose.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredToken {
    pub id: uuid::Uuid,
    pub reservation_id: uuid::Uuid,
    pub used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked: bool,
    /// Computed with the database clock, so web and worker agree.
    pub expired: bool,
}

/// Looks a presented token up by hash; a token of another purpose is not found.
pub async fn find_token(
    conn: &mut sqlx::PgConnection,
    hash: TokenHash,
    purpose: TokenPurpose,
) -> Result<Option<StoredToken>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, reservation_id, used_at, revoked_at IS NOT NULL AS revoked,
                COALESCE(expires_at <= now(), false) AS expired
           FROM reservation_tokens WHERE token_hash = $1 AND purpose = $2",
    )
    .bind(hash.as_bytes())
    .bind(purpose)
    .fetch_optional(conn)
    .await
}

/// Records that a one-time token did its job.
pub async fn mark_token_used(
    conn: &mut sqlx::PgConnection,
    token_id: uuid::Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE reservation_tokens SET used_at = now() WHERE id = $1 AND used_at IS NULL")
        .bind(token_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Revokes every live token of a reservation with the given purposes.
pub async fn revoke_tokens(
    conn: &mut sqlx::PgConnection,
    reservation_id: uuid::Uuid,
    purposes: &[TokenPurpose],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE reservation_tokens SET revoked_at = now()
          WHERE reservation_id = $1 AND purpose = ANY($2) AND revoked_at IS NULL",
    )
    .bind(reservation_id)
    .bind(purposes)
    .execute(conn)
    .await?;
    Ok(())
}
