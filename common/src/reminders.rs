//! Reminders and calendar files. When a reservation is confirmed (or a waiting-list offer
//! claimed), the same transaction schedules one `SendReminder` job for `REMINDER_HOURS_BEFORE`
//! before the start (at once if that moment has passed; none once the show has started). The
//! reminder carries the QR code again: an additional ticket token for the same reservation
//! (the first stays valid; check-in stays once per reservation) and a cancel link that
//! releases the seats, which feeds the waiting list. Ticket and reminder e-mails carry an
//! `.ics` file with one event whose UID is stable per reservation.

use std::time::Duration;

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::jobs::{self, Job, SendReminder};

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
    /// The theatre's zone: the start is written as its wall-clock time (`TIMEZONE`).
    pub tz: Tz,
}

/// An iCalendar file (RFC 5545) with one `VEVENT`. Its UID depends only on the reservation, so
/// a calendar updates the event when the file comes again (ticket, then reminder). The start
/// is the theatre's wall-clock time with its `TZID`, defined by a `VTIMEZONE` in the file.
pub fn ics(event: &CalendarEvent, public_base_url: &str) -> String {
    let host = crate::config::public_host(public_base_url);
    let tzid = event.tz.name();
    let local = event.starts_at.with_timezone(&event.tz);
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//AzioneLab//reservations//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
    ];
    lines.extend(vtimezone(event.tz, event.starts_at));
    lines.extend([
        "BEGIN:VEVENT".to_owned(),
        format!("UID:reservation-{}@{host}", event.reservation_id),
        format!("DTSTAMP:{}", Utc::now().format("%Y%m%dT%H%M%SZ")),
        format!("DTSTART;TZID={tzid}:{}", local.format("%Y%m%dT%H%M%S")),
        format!("SUMMARY:{}", escape(event.title)),
        format!("LOCATION:{}", escape(event.room)),
        format!("DESCRIPTION:{}", escape(&event.seats)),
        format!("URL:{}", event.url),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ]);
    lines.iter().map(|l| fold(l)).collect()
}

/// The `VTIMEZONE` of `tz` around `at`: one observance per change of offset within a year
/// either side (each with its own onset, read from the IANA rules), or a single `STANDARD`
/// one for a zone that does not change.
fn vtimezone(tz: Tz, at: DateTime<Utc>) -> Vec<String> {
    let offset_at = |t: DateTime<Utc>| tz.offset_from_utc_datetime(&t.naive_utc());
    let seconds = |t: DateTime<Utc>| offset_at(t).fix().local_minus_utc();
    let observance = |kind: &str, onset_utc: DateTime<Utc>, from: i32, to_at: DateTime<Utc>| {
        let to = offset_at(to_at);
        let onset = onset_utc + chrono::Duration::seconds(i64::from(from));
        let mut lines = vec![
            format!("BEGIN:{kind}"),
            format!("DTSTART:{}", onset.format("%Y%m%dT%H%M%S")),
            format!("TZOFFSETFROM:{}", utc_offset(from)),
            format!("TZOFFSETTO:{}", utc_offset(to.fix().local_minus_utc())),
        ];
        lines.extend(to.abbreviation().map(|name| format!("TZNAME:{name}")));
        lines.push(format!("END:{kind}"));
        lines
    };
    let mut lines = vec!["BEGIN:VTIMEZONE".to_owned(), format!("TZID:{}", tz.name())];
    // Steps of a day (zones change their offset months apart; two changes within one day
    // would cancel out): 732 look-ups, then about 17 to find each change to the second. An
    // hourly scan cost the worker more than the ticket's QR code.
    let step = chrono::Duration::days(1);
    let mut t = at - chrono::Duration::days(366);
    let end = at + chrono::Duration::days(366);
    let mut changes = 0;
    while t < end {
        let next = t + step;
        let (from, to) = (seconds(t), seconds(next));
        if from != to {
            // The change lies in (t, next]: narrow it to the second.
            let (mut before, mut after) = (t, next);
            while after - before > chrono::Duration::seconds(1) {
                let mid = before + (after - before) / 2;
                if seconds(mid) == from {
                    before = mid;
                } else {
                    after = mid;
                }
            }
            let kind = if offset_at(after).dst_offset().is_zero() {
                "STANDARD"
            } else {
                "DAYLIGHT"
            };
            lines.extend(observance(kind, after, from, after));
            changes += 1;
        }
        t = next;
    }
    if changes == 0 {
        let epoch = Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap();
        let onset = epoch - chrono::Duration::seconds(i64::from(seconds(at)));
        lines.extend(observance("STANDARD", onset, seconds(at), at));
    }
    lines.push("END:VTIMEZONE".to_owned());
    lines
}

/// `+0100`, `-0330`, `+053728` (RFC 5545 `UTC-OFFSET`).
fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.abs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    if sec == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{sec:02}")
    }
}

/// The calendar file of a reservation whose e-mail goes to `r`.
pub fn ics_for(
    reservation_id: Uuid,
    r: &crate::tickets::Recipient,
    public_base_url: &str,
    tz: Tz,
) -> String {
    ics(
        &CalendarEvent {
            reservation_id,
            title: &r.title,
            starts_at: r.starts_at,
            room: &r.room,
            seats: r.language().t1("seats", "count", r.party_size),
            url: &format!("{public_base_url}/performances/{}", r.performance_id),
            tz,
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
                tz: Tz::Europe__Rome,
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

    fn event_at(starts_at: DateTime<Utc>, tz: Tz) -> String {
        ics(
            &CalendarEvent {
                reservation_id: Uuid::nil(),
                title: "Arlecchino",
                starts_at,
                room: "Sala",
                seats: "2 seats".to_owned(),
                url: "https://tickets.example.org/performances/x",
                tz,
            },
            "https://tickets.example.org",
        )
    }

    #[test]
    fn the_start_is_local_wall_clock_time_with_the_zone_and_its_daylight_saving_changes() {
        // The last Sunday of October 2026, 20:30 in Rome, after the clocks went back at 03:00.
        let start = Utc.with_ymd_and_hms(2026, 10, 25, 19, 30, 0).unwrap();
        let ics = event_at(start, Tz::Europe__Rome);
        assert!(ics.contains("DTSTART;TZID=Europe/Rome:20261025T203000\r\n"));
        assert!(ics.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Rome\r\n"));
        let vtimezone = ics.split("BEGIN:VEVENT").next().unwrap();
        assert!(vtimezone.contains(
            "BEGIN:DAYLIGHT\r\nDTSTART:20260329T020000\r\nTZOFFSETFROM:+0100\r\n\
             TZOFFSETTO:+0200\r\nTZNAME:CEST\r\nEND:DAYLIGHT"
        ));
        assert!(vtimezone.contains(
            "BEGIN:STANDARD\r\nDTSTART:20261025T030000\r\nTZOFFSETFROM:+0200\r\n\
             TZOFFSETTO:+0100\r\nTZNAME:CET\r\nEND:STANDARD"
        ));
        // A year either side: four changes (2025's autumn … 2027's spring).
        assert_eq!(vtimezone.matches("BEGIN:DAYLIGHT").count(), 2);
        assert_eq!(vtimezone.matches("BEGIN:STANDARD").count(), 2);

        // A zone without daylight saving gets one observance with its fixed offset.
        let ics = event_at(start, Tz::Asia__Tokyo);
        assert!(ics.contains("DTSTART;TZID=Asia/Tokyo:20261026T043000\r\n"));
        assert!(ics.contains(
            "BEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0900\r\n\
             TZOFFSETTO:+0900\r\nTZNAME:JST\r\nEND:STANDARD"
        ));
    }
}
