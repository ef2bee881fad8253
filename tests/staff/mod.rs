//! Staff accounts and roles: permissions, sessions, the admin pages and the audit log.

mod admin_pages;
mod audit;
mod permissions;
mod safer_defaults;
mod sessions;
