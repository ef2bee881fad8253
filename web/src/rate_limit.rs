//! Per-client rate limits for the public POST endpoints (governor, GCRA): each endpoint has its
//! own budget of `RATE_LIMIT_PER_MINUTE` requests per client address; 0 disables them.

use std::{
    collections::HashMap,
    net::IpAddr,
    num::NonZeroU32,
    sync::Mutex,
    time::{Duration, Instant},
};

use governor::{
    DefaultKeyedRateLimiter, Quota,
    clock::{Clock, DefaultClock},
};

use crate::error::ApiError;

/// Which public endpoint a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Booking,
    Confirm,
    Cancel,
    Login,
    /// Joining a waiting list.
    Waitlist,
    /// Confirming, leaving or claiming a place on a waiting list.
    WaitlistToken,
}

/// The limiter shared by all requests of the process.
pub struct RateLimits {
    limiter: Option<DefaultKeyedRateLimiter<(Endpoint, IpAddr)>>,
    /// Failed short-code look-ups per credential (`staff:<id>` or `key:<id>`) in the current
    /// window, and when that window started. Always on: it guards the codes' 50 bits.
    short_code_failures: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Failed short-code look-ups one credential may make per [`SHORT_CODE_FAILURE_WINDOW`];
/// after that even a right code is refused until the window ends.
pub const SHORT_CODE_FAILURES_ALLOWED: u32 = 10;
pub const SHORT_CODE_FAILURE_WINDOW: Duration = Duration::from_secs(60);

impl RateLimits {
    /// `per_minute = 0` turns limiting off.
    pub fn new(per_minute: u32) -> RateLimits {
        RateLimits {
            limiter: NonZeroU32::new(per_minute)
                .map(|n| DefaultKeyedRateLimiter::keyed(Quota::per_minute(n))),
            short_code_failures: Mutex::default(),
        }
    }

    /// Refuses a short-code look-up by a credential that has used up its failures.
    pub fn check_short_code(&self, credential: &str) -> Result<(), ApiError> {
        let failures = self.short_code_failures.lock().expect("not poisoned");
        match failures.get(credential) {
            Some((started, count))
                if *count >= SHORT_CODE_FAILURES_ALLOWED
                    && started.elapsed() < SHORT_CODE_FAILURE_WINDOW =>
            {
                let wait = SHORT_CODE_FAILURE_WINDOW.saturating_sub(started.elapsed());
                Err(ApiError::RateLimited {
                    retry_after_seconds: wait.as_secs() + 1,
                })
            }
            _ => Ok(()),
        }
    }

    /// Counts a short-code look-up that found no ticket.
    pub fn short_code_failed(&self, credential: &str) {
        let mut failures = self.short_code_failures.lock().expect("not poisoned");
        let entry = failures
            .entry(credential.to_owned())
            .or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= SHORT_CODE_FAILURE_WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
    }

    /// Counts one request; refuses it with the time after which it would be allowed.
    pub fn check(&self, endpoint: Endpoint, client: IpAddr) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&(endpoint, client)).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::RateLimited {
                retry_after_seconds: wait.as_secs() + 1,
            }
        })
    }

    /// Forgets clients whose budget is full again, so memory stays bounded.
    pub fn forget_idle_clients(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        self.short_code_failures
            .lock()
            .expect("not poisoned")
            .retain(|_, (started, _)| started.elapsed() < SHORT_CODE_FAILURE_WINDOW);
    }
}

/// Runs [`RateLimits::forget_idle_clients`] every minute for the life of the process.
pub fn spawn_cleanup(limits: std::sync::Arc<RateLimits>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            limits.forget_idle_clients();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_per_endpoint_and_client() {
        let limits = RateLimits::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limits.check(Endpoint::Booking, a).is_ok());
        assert!(limits.check(Endpoint::Booking, a).is_ok());
        assert!(matches!(
            limits.check(Endpoint::Booking, a),
            Err(ApiError::RateLimited { retry_after_seconds }) if retry_after_seconds >= 1
        ));
        assert!(limits.check(Endpoint::Confirm, a).is_ok());
        assert!(limits.check(Endpoint::Booking, b).is_ok());
        assert!(RateLimits::new(0).check(Endpoint::Booking, a).is_ok());
    }

    #[test]
    fn short_code_failures_are_counted_per_credential() {
        let limits = RateLimits::new(0);
        for _ in 0..SHORT_CODE_FAILURES_ALLOWED {
            assert!(limits.check_short_code("key:a").is_ok());
            limits.short_code_failed("key:a");
        }
        assert!(matches!(
            limits.check_short_code("key:a"),
            Err(ApiError::RateLimited { retry_after_seconds }) if retry_after_seconds >= 1
        ));
        assert!(limits.check_short_code("key:b").is_ok());
    }
}

/// A public endpoint, as a type, for the [`Throttle`] extractor.
pub trait Limited {
    const ENDPOINT: Endpoint;
}

/// Counts the request against its client's budget before anything else is looked at.
pub struct Throttle<E: Limited>(pub(crate) std::marker::PhantomData<E>);

macro_rules! limited {
    ($marker:ident) => {
        #[doc = concat!("Marker for [`Endpoint::", stringify!($marker), "`].")]
        pub struct $marker;
        impl Limited for $marker {
            const ENDPOINT: Endpoint = Endpoint::$marker;
        }
    };
}
limited!(Booking);
limited!(Confirm);
limited!(Cancel);
limited!(Login);
limited!(Waitlist);
limited!(WaitlistToken);

/// Failed logins allowed per account before it is locked for the rest of the window (counted
/// in PostgreSQL, see `common::auth::reserve_login_attempt`).
pub const LOGIN_FAILURES_ALLOWED: u32 = 5;
/// How long failed logins are remembered.
pub const LOGIN_FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
