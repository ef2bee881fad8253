//! Shared by `azione-web` and `azione-worker`: configuration, the database, domain types,
//! tokens, job payloads and every SQL query, one module per capability.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod booking;
pub mod cancellation;
pub mod catalogue;
pub mod checkin;
pub mod config;
pub mod confirmation;
pub mod db;
pub mod delivery;
pub mod jobs;
pub mod locale;
pub mod metrics;
pub mod ops;
pub mod reminders;
pub mod retention;
pub mod short_code;
pub mod subject;
pub mod telemetry;
pub mod tickets;
pub mod time;
pub mod token;
pub mod validation;
pub mod waitlist;
