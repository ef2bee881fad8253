//! Staff administration, by resource: the use cases behind both the JSON API under
//! `/api/v1/admin` and the `/admin` pages. Each takes input already parsed into a typed value
//! (`NewRoom::parse`, `PerformancePatch::parse`, …, every problem at once as `FieldErrors`),
//! runs its own transaction, writes its audit entry when something changed, and answers with
//! its resource's error enum.

pub mod performances;
pub mod reservations;
pub mod rooms;
pub mod staff;
