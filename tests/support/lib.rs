//! Test support: fresh databases, a loopback SMTP server and `TestApp`.

pub mod app;
pub mod browser;
pub mod db;
pub mod pg;
pub mod process;
pub mod smtp;

pub use app::{PerformanceSpec, TestApp, Ticket};
