//! Configuration: read once from the environment in each `main`, then passed down.
//! Every error names the variable it is about, so a misconfigured deployment says what to fix.

use std::{net::IpAddr, net::SocketAddr, str::FromStr, time::Duration};

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};

/// Everything both processes need to know about their surroundings.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseConfig,
    pub http: HttpConfig,
    /// Present when `SMTP_URL` is set; the worker refuses to start without it.
    pub mail: Option<MailConfig>,
    pub jobs: JobsConfig,
    pub booking: BookingConfig,
    pub locale: LocaleConfig,
    pub rate_limit: RateLimitConfig,
    /// Signs sessions and CSRF tokens; at least 32 bytes.
    pub secret_key: SecretString,
    /// `https://tickets.example.org`, without a trailing slash.
    pub public_base_url: String,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: SecretString,
    pub max_connections: u32,
}

impl DatabaseConfig {
    /// `DATABASE_URL` and `DATABASE_MAX_CONNECTIONS`: all that the admin commands need.
    pub fn from_env() -> anyhow::Result<DatabaseConfig> {
        let url = required_var("DATABASE_URL")?;
        if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            bail!("DATABASE_URL must be a postgres:// URL");
        }
        Ok(DatabaseConfig {
            url: url.into(),
            max_connections: var_or("DATABASE_MAX_CONNECTIONS", 10)?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub bind_addr: SocketAddr,
    /// Peers whose `X-Forwarded-For` is believed (nginx).
    pub trusted_proxies: Vec<IpAddr>,
    /// A staff session ends after this long without a request.
    pub session_idle_timeout: Duration,
    /// A staff session ends this long after login, however active.
    pub session_lifetime: Duration,
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub smtp_url: SecretString,
    pub from: String,
    /// Upper bound for one SMTP conversation; a slower server counts as a transient failure.
    pub send_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// Jobs one worker process runs at once per queue (`WORKER_CONCURRENCY`).
    pub concurrency: usize,
    /// Overrides for single queues (`CONFIRMATION_CONCURRENCY`, `TICKET_CONCURRENCY`).
    pub queue_concurrency: Vec<(&'static str, usize)>,
    /// Attempts per job before it is left `Failed` for an operator.
    pub max_attempts: usize,
    pub retry_min_delay: Duration,
    pub retry_max_delay: Duration,
    /// How often a worker polls when no notification arrives.
    pub poll_interval: Duration,
    pub heartbeat_interval: Duration,
    /// How often housekeeping (revival, expiry, retention) runs.
    pub housekeeping_interval: Duration,
    /// A job out of attempts for a transient reason is re-queued after resting this long...
    pub revive_after: Duration,
    /// ...while its reservation is younger than this; an SMTP outage shorter than this loses nothing.
    pub revive_window: Duration,
    /// Personal data of reservations is erased this long after their performance.
    pub retention: Duration,
    /// Where the worker answers `/healthz`, `/readyz` and `/metrics`; none when unset, so
    /// several workers can share a host without choosing ports.
    pub worker_bind_addr: Option<SocketAddr>,
    /// The operator page warns when the oldest waiting job is older than this.
    pub alert_oldest_waiting: Duration,
}

/// Per-client request budgets of the public endpoints and the login form.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// Requests per minute per client address and endpoint; 0 disables every rate limit
    /// (and the per-address booking caps with it).
    pub per_minute: u32,
}

#[derive(Debug, Clone)]
pub struct BookingConfig {
    /// Lifetime of a new confirmation token; zero makes it expire at once (for tests).
    pub confirmation_ttl: Duration,
    /// Reservations one e-mail address may make in an hour (all performances).
    pub email_bookings_per_hour: u32,
    /// Unconfirmed reservations one e-mail address may hold for one performance.
    pub email_pending_per_performance: u32,
    /// How long a waiting-list offer holds its seats (`WAITLIST_OFFER_MINUTES`), never past
    /// the start.
    pub waitlist_offer_hold: Duration,
    /// How long before the start a confirmed reservation's reminder goes out
    /// (`REMINDER_HOURS_BEFORE`); `None` (0) sends none.
    pub reminder_before: Option<Duration>,
}

/// How people are addressed: the zone of every time they read or type, and the language when
/// neither their choice nor their browser decides.
#[derive(Debug, Clone)]
pub struct LocaleConfig {
    /// `TIMEZONE`, an IANA zone name.
    pub timezone: chrono_tz::Tz,
    /// `DEFAULT_LANGUAGE`.
    pub default_language: crate::locale::Language,
}

impl LocaleConfig {
    /// `TIMEZONE` (default `Europe/Rome`) and `DEFAULT_LANGUAGE` (default `it`).
    pub fn from_env() -> anyhow::Result<LocaleConfig> {
        let timezone = match optional_var("TIMEZONE")? {
            None => crate::time::DEFAULT_TIMEZONE,
            Some(name) => crate::time::parse_timezone(&name).with_context(|| {
                format!("TIMEZONE must be an IANA time zone name such as Europe/Rome, not {name:?}")
            })?,
        };
        let default_language = match optional_var("DEFAULT_LANGUAGE")? {
            None => crate::locale::Language::It,
            Some(code) => crate::locale::Language::parse(&code)
                .context("DEFAULT_LANGUAGE must be it or en")?,
        };
        Ok(LocaleConfig {
            timezone,
            default_language,
        })
    }
}

impl Config {
    /// Reads the whole configuration; the error names the missing or malformed variable.
    pub fn from_env() -> anyhow::Result<Config> {
        let secret_key = required_var("SECRET_KEY")?;
        if secret_key.len() < 32 {
            bail!("SECRET_KEY must be at least 32 bytes long");
        }
        let public_base_url = parse_base_url(&required_var("PUBLIC_BASE_URL")?)?;
        let mail = match optional_var("SMTP_URL")? {
            None => None,
            Some(url) => Some(MailConfig {
                smtp_url: parse_smtp_url(&url)?.into(),
                from: parse_mail_from(&required_var("MAIL_FROM")?)?,
                send_timeout: Duration::from_secs(var_or("SMTP_TIMEOUT_SECONDS", 20)?),
            }),
        };
        let trusted_proxies = match optional_var("TRUSTED_PROXIES")? {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(IpAddr::from_str)
                .collect::<Result<_, _>>()
                .context("TRUSTED_PROXIES must be a comma-separated list of IP addresses")?,
        };
        Ok(Config {
            database: DatabaseConfig::from_env()?,
            http: HttpConfig {
                bind_addr: var_or("BIND_ADDR", SocketAddr::from(([127, 0, 0, 1], 8000)))?,
                trusted_proxies,
                session_idle_timeout: Duration::from_secs(
                    60 * var_or("SESSION_IDLE_MINUTES", 120)?,
                ),
                session_lifetime: Duration::from_secs(3600 * var_or("SESSION_MAX_HOURS", 12)?),
            },
            mail,
            jobs: JobsConfig {
                concurrency: var_or("WORKER_CONCURRENCY", 16)?,
                queue_concurrency: [
                    (crate::jobs::CONFIRMATION_QUEUE, "CONFIRMATION_CONCURRENCY"),
                    (crate::jobs::TICKET_QUEUE, "TICKET_CONCURRENCY"),
                ]
                .into_iter()
                .filter_map(|(queue, var)| match var_or::<usize>(var, 0) {
                    Ok(0) => None,
                    Ok(n) => Some(Ok((queue, n))),
                    Err(e) => Some(Err(e)),
                })
                .collect::<anyhow::Result<_>>()?,
                max_attempts: var_or("JOB_MAX_ATTEMPTS", 10)?,
                retry_min_delay: Duration::from_millis(var_or("JOB_RETRY_MIN_DELAY_MS", 2_000)?),
                retry_max_delay: Duration::from_millis(var_or("JOB_RETRY_MAX_DELAY_MS", 300_000)?),
                poll_interval: Duration::from_millis(var_or("JOB_POLL_INTERVAL_MS", 1_000)?),
                heartbeat_interval: Duration::from_secs(var_or("WORKER_HEARTBEAT_SECONDS", 10)?),
                housekeeping_interval: Duration::from_secs(var_or(
                    "HOUSEKEEPING_INTERVAL_SECONDS",
                    60,
                )?),
                revive_after: Duration::from_secs(var_or("JOB_REVIVE_AFTER_SECONDS", 300)?),
                revive_window: Duration::from_secs(3600 * var_or("JOB_REVIVE_WINDOW_HOURS", 48)?),
                retention: Duration::from_secs(86_400 * var_or("RETENTION_DAYS", 30)?),
                worker_bind_addr: optional_var("WORKER_BIND_ADDR")?
                    .map(|addr| addr.parse())
                    .transpose()
                    .context("WORKER_BIND_ADDR must be an address such as 0.0.0.0:8001")?,
                alert_oldest_waiting: Duration::from_secs(var_or(
                    "ALERT_OLDEST_WAITING_SECONDS",
                    300,
                )?),
            },
            booking: BookingConfig {
                confirmation_ttl: Duration::from_secs(
                    60 * var_or("CONFIRMATION_TTL_MINUTES", 1440u64)?,
                ),
                email_bookings_per_hour: var_or("EMAIL_BOOKINGS_PER_HOUR", 10)?,
                email_pending_per_performance: var_or("EMAIL_PENDING_PER_PERFORMANCE", 3)?,
                waitlist_offer_hold: Duration::from_secs(
                    60 * var_or("WAITLIST_OFFER_MINUTES", 120u64)?,
                ),
                reminder_before: match var_or("REMINDER_HOURS_BEFORE", 24u64)? {
                    0 => None,
                    hours => Some(Duration::from_secs(3600 * hours)),
                },
            },
            locale: LocaleConfig::from_env()?,
            rate_limit: RateLimitConfig {
                per_minute: var_or("RATE_LIMIT_PER_MINUTE", 20)?,
            },
            secret_key: secret_key.into(),
            public_base_url,
        })
    }

    /// A configuration for tests: no rate limits, fast job retries, nothing read from the environment.
    pub fn for_tests(database_url: &str, public_base_url: &str) -> Config {
        Config {
            database: DatabaseConfig {
                url: database_url.to_owned().into(),
                max_connections: 10,
            },
            http: HttpConfig {
                bind_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                trusted_proxies: Vec::new(),
                session_idle_timeout: Duration::from_secs(3600),
                session_lifetime: Duration::from_secs(8 * 3600),
            },
            mail: None,
            jobs: JobsConfig {
                concurrency: 4,
                queue_concurrency: Vec::new(),
                max_attempts: 3,
                retry_min_delay: Duration::from_millis(50),
                retry_max_delay: Duration::from_millis(200),
                poll_interval: Duration::from_millis(100),
                heartbeat_interval: Duration::from_secs(2),
                housekeeping_interval: Duration::from_secs(3600),
                revive_after: Duration::from_secs(300),
                revive_window: Duration::from_secs(48 * 3600),
                retention: Duration::from_secs(30 * 86_400),
                worker_bind_addr: None,
                alert_oldest_waiting: Duration::from_secs(300),
            },
            booking: BookingConfig {
                confirmation_ttl: Duration::from_secs(3600),
                email_bookings_per_hour: 0,
                email_pending_per_performance: 0,
                waitlist_offer_hold: Duration::from_secs(120 * 60),
                reminder_before: Some(Duration::from_secs(24 * 3600)),
            },
            // English keeps test assertions readable; tests of Italian ask for it.
            locale: LocaleConfig {
                timezone: crate::time::DEFAULT_TIMEZONE,
                default_language: crate::locale::Language::En,
            },
            rate_limit: RateLimitConfig { per_minute: 0 },
            secret_key: "test-secret-key-that-is-long-enough-0123456789"
                .to_owned()
                .into(),
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The mail settings, or the error the worker stops with when they are missing.
    pub fn require_mail(&self) -> anyhow::Result<&MailConfig> {
        self.mail
            .as_ref()
            .context("SMTP_URL is required for the worker (with MAIL_FROM)")
    }

    /// How many jobs of `queue` one worker process runs at once.
    pub fn concurrency_of(&self, queue: &str) -> usize {
        self.jobs
            .queue_concurrency
            .iter()
            .find(|(q, _)| *q == queue)
            .map_or(self.jobs.concurrency, |(_, n)| *n)
    }

    /// True when e-mailed links point at https, so cookies must be `Secure`.
    pub fn is_https(&self) -> bool {
        self.public_base_url.starts_with("https://")
    }
}

impl DatabaseConfig {
    /// The connection string, for the pool only.
    pub fn url(&self) -> &str {
        self.url.expose_secret()
    }
}

/// The host of `PUBLIC_BASE_URL` (for Message-IDs and calendar UIDs).
pub fn public_host(public_base_url: &str) -> &str {
    public_base_url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ':']).next())
        .filter(|h| !h.is_empty())
        .unwrap_or("azionelab.invalid")
}

/// A variable that must be present and non-empty.
pub fn required_var(name: &str) -> anyhow::Result<String> {
    optional_var(name)?.with_context(|| format!("{name} is required but not set"))
}

/// A variable that may be absent; an empty value counts as absent.
pub fn optional_var(name: &str) -> anyhow::Result<Option<String>> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v.trim().to_owned())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => bail!("{name} is not valid UTF-8"),
    }
}

/// A parsed variable, or `default` when unset.
pub fn var_or<T: FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match optional_var(name)? {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| anyhow::anyhow!("{name} has a malformed value")),
    }
}

fn parse_base_url(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['?', '#', ' ']) => {
            Ok(url.trim_end_matches('/').to_owned())
        }
        _ => bail!("PUBLIC_BASE_URL must be an http:// or https:// URL without query"),
    }
}

/// Accepts lettre's URL forms, but never a password sent in clear: credentials need
/// `smtps://` or `?tls=required`, unless the relay is on this machine (loopback).
fn parse_smtp_url(url: &str) -> anyhow::Result<String> {
    let Some(rest) = url.strip_prefix("smtp://") else {
        if url.starts_with("smtps://") {
            return Ok(url.to_owned());
        }
        bail!("SMTP_URL must start with smtp:// or smtps://")
    };
    let (authority, query) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let Some((_credentials, host_port)) = authority.rsplit_once('@') else {
        return Ok(url.to_owned());
    };
    let tls_required = query
        .split(['?', '&'])
        .any(|pair| pair.eq_ignore_ascii_case("tls=required"));
    let host = match host_port.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if tls_required || loopback {
        Ok(url.to_owned())
    } else {
        bail!("SMTP_URL has credentials but no TLS: use smtps:// or add ?tls=required")
    }
}

fn parse_mail_from(from: &str) -> anyhow::Result<String> {
    // Accepts "addr@example.org" and "Name <addr@example.org>".
    let addr = match (from.find('<'), from.rfind('>')) {
        (Some(start), Some(end)) if start < end => &from[start + 1..end],
        _ => from,
    };
    if email_address::EmailAddress::is_valid(addr) {
        Ok(from.to_owned())
    } else {
        bail!("MAIL_FROM must be an e-mail address")
    }
}

#[cfg(test)]
mod tests {
    use super::parse_smtp_url;

    #[test]
    fn smtp_credentials_are_refused_over_a_clear_connection_except_on_loopback() {
        for refused in [
            "smtp://user:pass@mail.example.org:587",
            "smtp://user:pass@mail.example.org",
            "smtp://user:pass@mail.example.org:587?tls=opportunistic",
            "smtp://user:pass@192.0.2.1:25",
        ] {
            let error = parse_smtp_url(refused).unwrap_err().to_string();
            assert!(error.contains("SMTP_URL"), "{refused}: {error}");
        }
        for accepted in [
            "smtps://user:pass@mail.example.org:465",
            "smtp://user:pass@mail.example.org:587?tls=required",
            "smtp://mail.example.org:25",
            "smtp://user:pass@127.0.0.1:2525",
            "smtp://user:pass@localhost:25",
            "smtp://user:pass@[::1]:25",
        ] {
            assert!(parse_smtp_url(accepted).is_ok(), "{accepted}");
        }
    }
}
