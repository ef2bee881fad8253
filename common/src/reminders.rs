//! Reminders and calendar files. When a reservation is confirmed (or a waiting-list offer
//! claimed), the same transaction schedules one `SendReminder` job for `REMINDER_HOURS_BEFORE`
//! before the start (at once if that moment has passed; none once the show has started). The
//! reminder carries the QR code again: an additional ticket token for the same reservation
//! (the first stays valid; check-in stays once per reservation) and a cancel link that
//! releases the seats, which feeds the waiting list. Ticket and reminder e-mails carry an
//! `.ics` file with one event whose UID is stable per reservation.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::jobs::{self, Job, SendReminder};
use crate::short_code::ShortCode;
use crate::token::{self, RawToken, TokenPurpose};

/// Schedules the reminder of a reservation that was just confirmed, in the caller's
/// transaction; nothing when reminders are off or the performance has started.
pub async fn schedule(
    conn: &mut PgConnection,
    reservation_id: Uuid,
    before: Option<Duration>,
    max_attempts: usize,
) -> Result<(), sqlx::Error> {
    let Some(before) = before else {
        return Ok(());
    };
    let starts_at: DateTime<Utc> = sqlx::query_scalar(
        "SELECT p.starts_at FROM reservations r JOIN performances p ON p.id = r.performance_id
          WHERE r.id = $1",
    )
    .bind(reservation_id)
    .fetch_one(&mut *conn)
    .await?;
    let job = SendReminder { reservation_id };
    let key = job.idempotency_key();
    match due_at(starts_at, before, Utc::now()) {
        Some(at) => jobs::enqueue_at(conn, &job, max_attempts, at, key).await,
        None => Ok(()),
    }
}

/// When a reminder for a performance starting at `starts_at` should go out, seen at `now`:
/// `before` ahead of the start, at once if that has passed, never once the show has started.
pub fn due_at(
    starts_at: DateTime<Utc>,
    before: Duration,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if starts_at <= now {
        return None;
    }
    let before = chrono::Duration::from_std(before).unwrap_or(chrono::Duration::MAX);
    Some(starts_at.checked_sub_signed(before).unwrap_or(now).max(now))
}

/// A reminder that is not due yet (its performance moved later, or its ticket has not gone
/// out): a new job for `at` (its own idempotency key, since the first one's is permanent).
pub async fn reschedule(
    conn: &mut PgConnection,
    reservation_id: Uuid,
    at: DateTime<Utc>,
    max_attempts: usize,
) -> Result<(), sqlx::Error> {
    let job = SendReminder { reservation_id };
    let key = format!("{}:{}", job.idempotency_key(), at.timestamp_millis());
    jobs::enqueue_at(conn, &job, max_attempts, at, key).await
}

/// An additional ticket token (valid until `valid_until`), its short code, and a cancel token
/// for a reservation; earlier ones stay valid.
pub async fn issue_reminder_tokens(
    conn: &mut PgConnection,
    reservation_id: Uuid,
    valid_until: DateTime<Utc>,
) -> Result<(RawToken, RawToken), sqlx::Error> {
    let ttl = (valid_until - Utc::now()).to_std().unwrap_or_default();
    let ticket = token::insert_token(conn, reservation_id, TokenPurpose::Ticket, Some(ttl)).await?;
    let cancel = token::insert_token(conn, reservation_id, TokenPurpose::Cancel, None).await?;
    // The short code printed beside this QR code: revoked with the ticket, like the first one's.
    sqlx::query(
        "INSERT INTO reservation_tokens (id, reservation_id, purpose, token_hash, expires_at)
         VALUES (gen_random_uuid(), $1, 'short_code', $2, $3)",
    )
    .bind(reservation_id)
    .bind(ShortCode::for_ticket(ticket.expose()).hash().as_bytes())
    .bind(valid_until)
    .execute(conn)
    .await?;
    Ok((ticket, cancel))
}

/// What a calendar file shows: what the visitor sees in the e-mail, nothing personal.
pub struct CalendarEvent<'a> {
    pub reservation_id: Uuid,
    pub title: &'a str,
    pub starts_at: DateTime<Utc>,
    pub room: &'a str,
    /// The seats, in words of the visitor's language ("2 seats", "2 posti").
    pub seats: String,
    /// The performance's public page.
    pub url: &'a str,
}

/// An iCalendar file (RFC 5545) with one `VEVENT`. Its UID depends only on the reservation, so
/// a calendar updates the event when the file comes again (ticket, then reminder).
pub fn ics(event: &CalendarEvent, public_base_url: &str) -> String {
    let host = crate::config::public_host(public_base_url);
    let stamp = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//AzioneLab//reservations//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:reservation-{}@{host}", event.reservation_id),
        format!("DTSTAMP:{}", stamp(Utc::now())),
        format!("DTSTART:{}", stamp(event.starts_at)),
        format!("SUMMARY:{}", escape(event.title)),
        format!("LOCATION:{}", escape(event.room)),
        format!("DESCRIPTION:{}", escape(&event.seats)),
        format!("URL:{}", event.url),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    lines.iter().map(|l| fold(l)).collect()
}

/// The calendar file of a reservation whose e-mail goes to `r`.
pub fn ics_for(
    reservation_id: Uuid,
    r: &crate::tickets::Recipient,
    public_base_url: &str,
) -> String {
    ics(
        &CalendarEvent {
            reservation_id,
            title: &r.title,
            starts_at: r.starts_at,
            room: &r.room,
            seats: r.language().t1("seats", "count", r.party_size),
            url: &format!("{public_base_url}/performances/{}", r.performance_id),
        },
        public_base_url,
    )
}

/// Escapes a TEXT value.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace("\r\n", "\\n")
        .replace(['\n', '\r'], "\\n")
}

/// Folds a content line at 75 octets (never inside a character) and ends it with CRLF.
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reminder_is_due_ahead_of_the_start_at_once_when_late_and_never_after_the_start() {
        let now = Utc::now();
        let day = Duration::from_secs(86_400);
        let in_two_days = now + chrono::Duration::days(2);
        assert_eq!(
            due_at(in_two_days, day, now),
            Some(in_two_days - chrono::Duration::days(1))
        );
        let in_an_hour = now + chrono::Duration::hours(1);
        assert_eq!(due_at(in_an_hour, day, now), Some(now));
        assert_eq!(due_at(now - chrono::Duration::minutes(1), day, now), None);
    }

    #[test]
    fn calendar_lines_are_escaped_folded_and_end_in_crlf() {
        let title = "Arlecchino, servitore; di due padroni ".repeat(4);
        let ics = ics(
            &CalendarEvent {
                reservation_id: Uuid::nil(),
                title: &title,
                starts_at: Utc::now(),
                room: "Sala \\ grande",
                seats: "2 seats".to_owned(),
                url: "https://tickets.example.org/performances/x",
            },
            "https://tickets.example.org",
        );
        assert!(ics.contains(
            "UID:reservation-00000000-0000-0000-0000-000000000000@tickets.example.org\r\n"
        ));
        assert!(ics.contains("LOCATION:Sala \\\\ grande\r\n"));
        assert!(ics.contains("SUMMARY:Arlecchino\\, servitore\\; di"));
        assert!(ics.split("\r\n").all(|l| l.len() <= 75));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
    }
}
