//! Local wall-clock time. The database and the JSON API keep UTC instants; people read and type
//! times in the theatre's zone (`TIMEZONE`, an IANA name such as `Europe/Rome`), with daylight
//! saving handled by the IANA rules in `chrono-tz`, never by fixed offsets.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The zone used when `TIMEZONE` is not set.
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Europe::Rome;

/// Reads an IANA zone name (`Europe/Rome`); `None` for anything else.
pub fn parse_timezone(name: &str) -> Option<Tz> {
    name.trim().parse::<Tz>().ok()
}

/// Why a typed local time names no instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LocalTimeError {
    #[error("is not a date and time such as 2026-12-05T19:30")]
    Malformed,
    /// The hour skipped when the clocks go forward (02:00–03:00 on the last Sunday of March
    /// in Rome).
    #[error("does not exist on that day: the clocks go forward then")]
    Skipped,
}

/// The value of a `datetime-local` field (`2026-12-05T19:30`) showing `t` in `tz`.
pub fn to_input_value(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string()
}

/// Reads a `datetime-local` value (`2026-12-05T19:30`, seconds optional) as wall-clock time
/// in `tz`. In the hour that repeats when the clocks go back, the earlier (summer) one wins:
/// an evening show is never at 02:30, and the form shows it back unchanged.
pub fn from_input_value(value: &str, tz: Tz) -> Result<DateTime<Utc>, LocalTimeError> {
    let value = value.trim();
    let naive = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| LocalTimeError::Malformed)?;
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(earlier, _) => Ok(earlier.with_timezone(&Utc)),
        LocalResult::None => Err(LocalTimeError::Skipped),
    }
}

/// `19:30`: the local hour and minute of `t`, as both languages write it.
pub fn clock(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn rome_is_one_hour_ahead_in_winter_and_two_in_summer() {
        let rome = DEFAULT_TIMEZONE;
        assert_eq!(clock(utc("2026-12-05T18:30:00Z"), rome), "19:30");
        assert_eq!(clock(utc("2026-07-05T17:30:00Z"), rome), "19:30");
        assert_eq!(
            from_input_value("2026-12-05T19:30", rome),
            Ok(utc("2026-12-05T18:30:00Z"))
        );
        assert_eq!(
            from_input_value("2026-07-05T19:30", rome),
            Ok(utc("2026-07-05T17:30:00Z"))
        );
    }

    #[test]
    fn evenings_of_the_daylight_saving_sundays_keep_their_hour() {
        let rome = DEFAULT_TIMEZONE;
        // 2026-10-25 and 2027-03-28 are the last Sundays of October and March.
        for (local, instant) in [
            ("2026-10-25T19:30", "2026-10-25T18:30:00Z"),
            ("2027-03-28T19:30", "2027-03-28T17:30:00Z"),
        ] {
            let t = from_input_value(local, rome).unwrap();
            assert_eq!(t, utc(instant));
            assert_eq!(to_input_value(t, rome), local, "the form round-trips it");
        }
    }

    #[test]
    fn the_skipped_hour_is_refused_and_the_repeated_hour_takes_summer_time() {
        let rome = DEFAULT_TIMEZONE;
        assert_eq!(
            from_input_value("2027-03-28T02:30", rome),
            Err(LocalTimeError::Skipped)
        );
        assert_eq!(
            from_input_value("2026-10-25T02:30", rome),
            Ok(utc("2026-10-25T00:30:00Z"))
        );
    }

    #[test]
    fn malformed_values_and_unknown_zones_are_refused() {
        assert_eq!(
            from_input_value("5/12/2026 19:30", DEFAULT_TIMEZONE),
            Err(LocalTimeError::Malformed)
        );
        assert_eq!(parse_timezone("Europe/Rome"), Some(chrono_tz::Europe::Rome));
        assert_eq!(parse_timezone("Mars/Olympus"), None);
        assert_eq!(parse_timezone("+02:00"), None);
    }
}
