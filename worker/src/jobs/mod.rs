//! One module per job; each holds `run`, the handler its queue's worker calls.

pub mod send_confirmation_email;
pub mod send_ticket;

use uuid::Uuid;

/// `<purpose.reservation-id@host>`: the same for every attempt of one e-mail.
pub fn message_id(purpose: &str, reservation_id: Uuid, public_base_url: &str) -> String {
    let host = public_base_url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ':']).next())
        .filter(|h| !h.is_empty())
        .unwrap_or("azionelab.invalid");
    format!("<{purpose}.{reservation_id}@{host}>")
}
