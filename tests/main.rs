//! End-to-end tests, one module per capability. Each test starts the real web server and
//! worker against its own fresh database and a loopback SMTP server.

mod admin;
mod architecture;
mod booking;
mod browser;
mod catalogue;
mod checkin;
mod cli;
mod confirmation;
mod deployment;
mod locale;
mod monitoring;
mod ops;
mod reminders;
mod resilience;
mod security;
mod short_code;
mod staff;
mod tickets;
mod time;
mod waitlist;
