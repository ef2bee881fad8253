//! Request extractors shared by capabilities: a strict JSON object body and the client address.
//!
//! `JsonObject` applies the contract's order of checks: size (413), media type (415), then
//! JSON shape (422). Handlers then read typed fields through [`Fields`], which also rejects
//! fields nobody asked for.

use std::net::{IpAddr, SocketAddr};

use axum::{
    body::Bytes,
    extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request},
    http::{header, request::Parts},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use common::validation::FieldErrors;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{error::ApiError, pages::PageError, rate_limit, state::AppState};

/// Largest request body the JSON API accepts.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A JSON request body that is an object.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let declared_len = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared_len.is_some_and(|n| n > MAX_BODY_BYTES) {
            return Err(ApiError::PayloadTooLarge);
        }
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        let body = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| ApiError::PayloadTooLarge)?;
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        parse_object(&body)
    }
}

fn parse_object(body: &Bytes) -> Result<JsonObject, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(JsonObject(map)),
        Ok(_) => Err(ApiError::field("body", "must be a JSON object")),
        Err(_) => Err(ApiError::Validation {
            fields: FieldErrors::new(),
        }),
    }
}

/// Typed, one-at-a-time access to a JSON object's members, collecting every problem.
pub struct Fields {
    map: Map<String, Value>,
    errors: FieldErrors,
}

impl Fields {
    /// Starts reading; members not in `allowed` are reported as unknown.
    pub fn new(JsonObject(map): JsonObject, allowed: &[&str]) -> Fields {
        let errors = map
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .map(|k| (k.clone(), "unknown field".to_owned()))
            .collect();
        Fields { map, errors }
    }

    /// True when the member is present (even as `null`).
    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// A string member; `null` or absence gives `None`.
    pub fn string(&mut self, name: &str) -> Option<String> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => self.fail(name, "must be a string"),
        }
    }

    /// An integer member; `null` or absence gives `None`.
    pub fn integer(&mut self, name: &str) -> Option<i64> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
            Some(_) => self.fail(name, "must be an integer"),
        }
    }

    /// A boolean member; `null` or absence gives `None`.
    pub fn bool(&mut self, name: &str) -> Option<bool> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => self.fail(name, "must be true or false"),
        }
    }

    /// An integer member within `range`, as `i32`.
    pub fn int_in(&mut self, name: &str, range: std::ops::RangeInclusive<i32>) -> Option<i32> {
        let n = self.integer(name)?;
        match i32::try_from(n) {
            Ok(n) if range.contains(&n) => Some(n),
            _ => self.fail(
                name,
                &format!("must be between {} and {}", range.start(), range.end()),
            ),
        }
    }

    /// Records a problem with a member.
    pub fn fail<T>(&mut self, name: &str, problem: &str) -> Option<T> {
        self.errors
            .entry(name.to_owned())
            .or_insert_with(|| problem.to_owned());
        None
    }

    /// Records a missing required member.
    pub fn require<T>(&mut self, name: &str, value: Option<T>) -> Option<T> {
        if value.is_none() && !self.errors.contains_key(name) {
            self.errors
                .insert(name.to_owned(), "is required".to_owned());
        }
        value
    }

    /// Ends reading with the outcome of a domain `parse` of what was read: a 422 with every
    /// problem, those found reading a member first.
    pub fn finish_with<T>(self, parsed: Result<T, FieldErrors>) -> Result<T, ApiError> {
        with_parsed(self.errors, parsed)
    }

    /// Ends reading: a 422 if anything was wrong.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation {
                fields: self.errors,
            })
        }
    }
}

/// `parsed`, unless reading the members found problems; a 422 carries those and the domain's,
/// a member's first problem winning.
pub fn with_parsed<T>(
    mut errors: FieldErrors,
    parsed: Result<T, FieldErrors>,
) -> Result<T, ApiError> {
    match parsed {
        Ok(value) if errors.is_empty() => Ok(value),
        Ok(_) => Err(ApiError::Validation { fields: errors }),
        Err(domain) => {
            for (name, problem) in domain {
                errors.entry(name).or_insert(problem);
            }
            Err(ApiError::Validation { fields: errors })
        }
    }
}

/// Where typed members come from: a JSON body ([`Fields`]) or a posted form
/// (`admin::FormReader`), so one function reads a resource's input from either.
pub trait FieldSource {
    /// A text member; absent (or, on a form, empty) gives `None`.
    fn string(&mut self, name: &str) -> Option<String>;
    /// A whole number.
    fn integer(&mut self, name: &str) -> Option<i64>;
    /// A point in time: RFC 3339 in JSON, local wall-clock time on a form.
    fn time(&mut self, name: &str) -> Option<DateTime<Utc>>;
}

impl FieldSource for Fields {
    fn string(&mut self, name: &str) -> Option<String> {
        Fields::string(self, name)
    }

    fn integer(&mut self, name: &str) -> Option<i64> {
        Fields::integer(self, name)
    }

    fn time(&mut self, name: &str) -> Option<DateTime<Utc>> {
        let text = Fields::string(self, name)?;
        match DateTime::parse_from_rfc3339(&text) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => self.fail(name, "must be an RFC 3339 time"),
        }
    }
}

/// The id the request-id layer gave this request (`x-request-id`), passed on to the jobs it queues.
#[derive(Debug, Clone, Copy)]
pub struct RequestId(pub Option<uuid::Uuid>);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestId(
            parts
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| uuid::Uuid::parse_str(v).ok()),
        ))
    }
}

/// The address of the client: the peer, or, when the peer is a trusted proxy, the last
/// untrusted address in `X-Forwarded-For`. An IPv6 client is its /64 prefix (one subscriber
/// usually holds a whole /64 and could rotate through it to dodge per-address limits).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| anyhow::anyhow!("server started without connection info"))?;
        Ok(ClientIp(network_of(client_ip(
            peer,
            parts.headers.get_all("x-forwarded-for").iter(),
            &state.config.http.trusted_proxies,
        ))))
    }
}

/// IPv4 as is; IPv6 as its /64 network (an IPv4-mapped address as the IPv4 one).
fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

fn client_ip<'a>(
    peer: IpAddr,
    forwarded: impl DoubleEndedIterator<Item = &'a header::HeaderValue>,
    trusted: &[IpAddr],
) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = forwarded
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    hops.into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

/// An id from the URL's `{id}`: anything that is not an id is a 404, as a JSON error under
/// `/api/` and as the error page elsewhere.
pub struct PathId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let id = Path::<String>::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|Path(id)| Uuid::parse_str(&id).ok());
        match id {
            Some(id) => Ok(PathId(id)),
            None if parts.uri.path().starts_with("/api/") => {
                Err(ApiError::not_found().into_response())
            }
            None => Err(PageError(ApiError::not_found()).into_response()),
        }
    }
}

/// Counts the request against its client's budget before anything else is looked at.
impl<E: rate_limit::Limited> axum::extract::FromRequestParts<AppState> for rate_limit::Throttle<E> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        state.rate_limits.check(E::ENDPOINT, ip)?;
        Ok(rate_limit::Throttle(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_clients_are_their_64_prefix() {
        assert_eq!(network_of(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            network_of(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            ip("2001:db8:1:2::")
        );
        assert_ne!(network_of(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
        assert_eq!(network_of(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(network_of(ip("192.0.2.7")), ip("192.0.2.7"));
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let xff = [HeaderValue::from_static("1.1.1.1, 2.2.2.2")];
        let proxy = ip("10.0.0.1");
        assert_eq!(
            client_ip(ip("9.9.9.9"), xff.iter(), &[proxy]),
            ip("9.9.9.9")
        );
        assert_eq!(client_ip(proxy, xff.iter(), &[proxy]), ip("2.2.2.2"));
        assert_eq!(client_ip(proxy, [].iter(), &[proxy]), proxy);
        let chained = [HeaderValue::from_static("1.1.1.1, 10.0.0.2")];
        assert_eq!(
            client_ip(proxy, chained.iter(), &[proxy, ip("10.0.0.2")]),
            ip("1.1.1.1")
        );
    }
}
