//! `eventually`: for what a test cannot drive itself (a separate process, the background
//! worker, a timer), poll briefly until a condition holds, and fail naming what was awaited.

use std::time::Duration;

/// How long `eventually` waits before failing the test.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Calls `check` every 20 ms until it returns `Some`, and returns that value; panics after
/// [`PATIENCE`] with "timed out waiting for {what}".
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(PATIENCE, what, check).await
}

/// [`eventually`] with its own deadline.
pub async fn eventually_within<T, F, Fut>(patience: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {patience:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
