//! What a visitor's link acts on: the show, its start and the seats of the reservation behind
//! a confirm or cancel token, so the page with the button can say it before anything happens.
//! Nothing personal is read.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection};

use crate::token::{TokenHash, TokenPurpose};

/// The reservation a token belongs to, as its pages describe it.
#[derive(Debug, Clone, FromRow)]
pub struct LinkSubject {
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub room: String,
    pub party_size: i32,
}

/// The reservation behind a presented token of `purpose`, whatever state the token is in;
/// `None` for any string that is not one of our tokens of that purpose.
pub async fn find_link_subject(
    conn: &mut PgConnection,
    presented: &str,
    purpose: TokenPurpose,
) -> Result<Option<LinkSubject>, sqlx::Error> {
    let Some(hash) = TokenHash::parse(presented) else {
        return Ok(None);
    };
    sqlx::query_as(
        "SELECT s.title, p.starts_at, rm.name AS room, r.party_size
           FROM reservation_tokens t
           JOIN reservations r ON r.id = t.reservation_id
           JOIN performances p ON p.id = r.performance_id
           JOIN shows s ON s.id = p.show_id
           JOIN rooms rm ON rm.id = p.room_id
          WHERE t.token_hash = $1 AND t.purpose = $2",
    )
    .bind(hash.as_bytes())
    .bind(purpose)
    .fetch_optional(conn)
    .await
}
