//! Test support: fresh databases, a loopback SMTP server and `TestApp`.

pub mod app;
pub mod browser;
pub mod db;
pub mod eventually;
pub mod html;
pub mod nginx;
pub mod pg;
pub mod process;
pub mod smtp;
pub mod staff;

pub use app::{PerformanceSpec, TestApp, Ticket};
pub use eventually::{eventually, eventually_within};
pub use html::Page;
pub use staff::StaffClient;
