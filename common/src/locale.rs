//! Languages and the message catalogue. Every text a visitor reads (pages, field errors,
//! e-mails) comes from the Fluent files in `common/locales/{it,en}/`, which a translator edits
//! without touching code; they are compiled in, so a deployment cannot lose them. A page asks
//! for a message by id in the language of the request; an e-mail in the language its
//! reservation was booked in.
//!
//! Adding a message: add `id = text` to the same file under both `locales/it/` and
//! `locales/en/`, then use `lang.t("id")` (or `t1`/`t2` with arguments). A unit test below
//! fails when the two languages do not have the same ids.

use std::{fmt, str::FromStr, sync::LazyLock};

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue, concurrent::FluentBundle};

/// A language the site and e-mails are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    It,
    En,
}

/// The catalogue files, per language. A new `.ftl` file is listed here once.
const CATALOGUE: [(Language, &str, &str); 6] = [
    (
        Language::It,
        "public.ftl",
        include_str!("../locales/it/public.ftl"),
    ),
    (
        Language::It,
        "email.ftl",
        include_str!("../locales/it/email.ftl"),
    ),
    (
        Language::It,
        "dates.ftl",
        include_str!("../locales/it/dates.ftl"),
    ),
    (
        Language::En,
        "public.ftl",
        include_str!("../locales/en/public.ftl"),
    ),
    (
        Language::En,
        "email.ftl",
        include_str!("../locales/en/email.ftl"),
    ),
    (
        Language::En,
        "dates.ftl",
        include_str!("../locales/en/dates.ftl"),
    ),
];

type Bundle = FluentBundle<FluentResource>;

static BUNDLES: LazyLock<[Bundle; 2]> =
    LazyLock::new(|| [bundle(Language::It), bundle(Language::En)]);

fn bundle(lang: Language) -> Bundle {
    let id = lang.code().parse().expect("a valid language tag");
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Placeables are plain text here; the default Unicode isolation marks would show up in
    // e-mail clients and break text matching.
    bundle.set_use_isolating(false);
    for (_, file, source) in CATALOGUE.iter().filter(|(l, ..)| *l == lang) {
        let resource = FluentResource::try_new((*source).to_owned()).unwrap_or_else(|(_, e)| {
            panic!("locales/{}/{file} does not parse: {e:?}", lang.code())
        });
        bundle
            .add_resource(resource)
            .unwrap_or_else(|e| panic!("locales/{}/{file}: {e:?}", lang.code()));
    }
    bundle
}

/// A value for a placeable in a message (`{ $count }`, `{ $title }`).
pub struct Arg(FluentValue<'static>);

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg(FluentValue::from(s.to_owned()))
    }
}

// Templates hand their fields over by reference.
impl From<&&str> for Arg {
    fn from(s: &&str) -> Arg {
        Arg::from(*s)
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg(FluentValue::from(s.clone()))
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg(FluentValue::from(s))
    }
}

macro_rules! number_arg {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(n: $t) -> Arg {
                Arg(FluentValue::from(n))
            }
        }
        impl From<&$t> for Arg {
            fn from(n: &$t) -> Arg {
                Arg(FluentValue::from(*n))
            }
        }
    )*};
}
number_arg!(i32, i64, u32, u64, usize);

impl Language {
    /// Both, in the order the language switch shows them.
    pub const ALL: [Language; 2] = [Language::It, Language::En];

    /// The ISO 639-1 code: the `lang` attribute, the cookie value and the database column.
    pub fn code(self) -> &'static str {
        match self {
            Language::It => "it",
            Language::En => "en",
        }
    }

    /// The language's own name, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Language::It => "Italiano",
            Language::En => "English",
        }
    }

    /// `it` or `en` (case-insensitive); `None` for anything else.
    pub fn parse(code: &str) -> Option<Language> {
        match code.trim().to_ascii_lowercase().as_str() {
            "it" => Some(Language::It),
            "en" => Some(Language::En),
            _ => None,
        }
    }

    /// The first language of an `Accept-Language` header that we have, by quality: `it-IT,
    /// en;q=0.8` is Italian, `de, en;q=0.5` English, `de` none.
    pub fn from_accept_language(header: &str) -> Option<Language> {
        let mut best: Option<(f32, Language)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let primary = tag.split(['-', '_']).next().unwrap_or_default();
            let Some(lang) = Language::parse(primary) else {
                continue;
            };
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, lang));
            }
        }
        best.map(|(_, lang)| lang)
    }

    fn bundle(self) -> &'static Bundle {
        match self {
            Language::It => &BUNDLES[0],
            Language::En => &BUNDLES[1],
        }
    }

    fn format(self, id: &str, args: Option<&FluentArgs>) -> String {
        let bundle = self.bundle();
        let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
            tracing::warn!(message.id = id, lang = self.code(), "missing message");
            return id.to_owned();
        };
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::warn!(
                message.id = id,
                lang = self.code(),
                ?errors,
                "message formatted with errors"
            );
        }
        text.into_owned()
    }

    /// True when the catalogue has the message `id`.
    pub fn has(self, id: &str) -> bool {
        self.bundle().has_message(id)
    }

    /// The message `id` of the catalogue.
    pub fn t(self, id: &str) -> String {
        self.format(id, None)
    }

    /// The message `id` with one argument.
    pub fn t1(self, id: &str, name: &str, value: impl Into<Arg>) -> String {
        self.t_args(id, [(name, value.into())])
    }

    /// The message `id` with two arguments.
    pub fn t2(
        self,
        id: &str,
        name1: &str,
        value1: impl Into<Arg>,
        name2: &str,
        value2: impl Into<Arg>,
    ) -> String {
        self.t_args(id, [(name1, value1.into()), (name2, value2.into())])
    }

    /// The message `id` with any number of arguments.
    pub fn t_args<'a>(self, id: &str, args: impl IntoIterator<Item = (&'a str, Arg)>) -> String {
        let mut fluent = FluentArgs::new();
        for (name, Arg(value)) in args {
            fluent.set(name.to_owned(), value);
        }
        self.format(id, Some(&fluent))
    }

    /// A performance's start as people write it: `sabato 5 dicembre 2026, ore 19:30` or
    /// `Saturday 5 December 2026, 19:30`, in the local zone.
    pub fn date_time(self, t: DateTime<Utc>, tz: Tz) -> String {
        self.t2(
            "date-time",
            "date",
            self.date(t, tz),
            "time",
            crate::time::clock(t, tz),
        )
    }

    /// The local day: `sabato 5 dicembre 2026` or `Saturday 5 December 2026`.
    pub fn date(self, t: DateTime<Utc>, tz: Tz) -> String {
        let local = t.with_timezone(&tz);
        self.t_args(
            "date",
            [
                (
                    "weekday",
                    Arg::from(self.t(&format!("weekday-{}", local.weekday().number_from_monday()))),
                ),
                ("day", Arg::from(local.day())),
                (
                    "month",
                    Arg::from(self.t(&format!("month-{}", local.month()))),
                ),
                ("year", Arg::from(local.year().to_string())),
            ],
        )
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Language {
    type Err = String;

    fn from_str(s: &str) -> Result<Language, String> {
        Language::parse(s).ok_or_else(|| format!("unknown language {s:?} (it or en)"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn ids(lang: Language) -> BTreeSet<String> {
        CATALOGUE
            .iter()
            .filter(|(l, ..)| *l == lang)
            .flat_map(|(_, _, source)| {
                source.lines().filter_map(|line| {
                    let (id, _) = line.split_once(" =")?;
                    let id = id.trim();
                    (!id.is_empty() && !line.starts_with([' ', '#', '-', '*', '[']))
                        .then(|| id.to_owned())
                })
            })
            .collect()
    }

    #[test]
    fn both_languages_have_the_same_messages_and_they_parse() {
        let (it, en) = (ids(Language::It), ids(Language::En));
        assert!(it.len() > 20, "the catalogue was read");
        assert_eq!(
            it.difference(&en).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "in Italian only"
        );
        assert_eq!(
            en.difference(&it).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "in English only"
        );
        for lang in Language::ALL {
            for id in ids(lang) {
                assert!(lang.bundle().get_message(&id).is_some(), "{lang}: {id}");
            }
        }
    }

    #[test]
    fn accept_language_picks_the_best_language_we_have() {
        assert_eq!(
            Language::from_accept_language("it-IT,it;q=0.9,en;q=0.8"),
            Some(Language::It)
        );
        assert_eq!(
            Language::from_accept_language("en-GB,en;q=0.9"),
            Some(Language::En)
        );
        assert_eq!(
            Language::from_accept_language("de-DE, en;q=0.5, it;q=0.7"),
            Some(Language::It)
        );
        assert_eq!(Language::from_accept_language("de, fr"), None);
        assert_eq!(
            Language::from_accept_language("it;q=0, en;q=0.1"),
            Some(Language::En)
        );
        assert_eq!(Language::from_accept_language(""), None);
    }

    #[test]
    fn dates_are_written_the_way_each_language_writes_them() {
        let t = DateTime::parse_from_rfc3339("2026-12-05T18:30:00Z")
            .unwrap()
            .to_utc();
        let rome = crate::time::DEFAULT_TIMEZONE;
        assert_eq!(
            Language::It.date_time(t, rome),
            "sabato 5 dicembre 2026, ore 19:30"
        );
        assert_eq!(
            Language::En.date_time(t, rome),
            "Saturday 5 December 2026, 19:30"
        );
    }

    #[test]
    fn plurals_follow_the_language() {
        assert_eq!(Language::It.t1("seats", "count", 1), "1 posto");
        assert_eq!(Language::It.t1("seats", "count", 3), "3 posti");
        assert_eq!(Language::En.t1("seats", "count", 1), "1 seat");
        assert_eq!(Language::En.t1("seats", "count", 3), "3 seats");
    }
}
