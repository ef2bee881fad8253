//! Wake-ups on new jobs: one LISTEN connection per process, which wakes only the queue a new
//! job is for.
//!
//! apalis's own `Pubsub` opens one listener per queue, and each of them receives every queue's
//! notifications: a notification for another queue is skipped, but its worker has been woken
//! all the same, and apalis fetches whenever its worker is polled with an empty buffer. Here
//! one task reads the notifications and wakes the one queue they name (one connection instead
//! of one per queue); wake-ups that arrive while the queue has not yet fetched are merged into
//! one. (The fetch loop the benchmark found, about six fetches per e-mail, came mostly from the
//! queues sharing one task; see `run_on`.)

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    task::Poll,
    time::Duration,
};

use futures::Stream;
use serde::Deserialize;
use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::mpsc;

/// The channel apalis's insert trigger notifies (`apalis.notify_new_jobs`).
const CHANNEL: &str = "apalis::job::insert";
/// The pause before listening again after the database refused.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The queues' wake-up channels, by queue name.
#[derive(Clone, Default)]
pub struct Wakeups {
    queues: Arc<Mutex<HashMap<String, mpsc::Sender<()>>>>,
}

#[derive(Deserialize)]
struct Inserted {
    job_type: String,
}

impl Wakeups {
    /// The wake-ups of `queue`, for its worker's poll strategy. A queue's worker started again
    /// (after losing the database) takes over from the previous one.
    pub fn subscribe(&self, queue: &str) -> impl Stream<Item = ()> + Unpin + Send + Sync + 'static {
        let (tx, mut rx) = mpsc::channel(1);
        self.lock().insert(queue.to_owned(), tx);
        futures::stream::poll_fn(move |cx| match rx.poll_recv(cx) {
            Poll::Ready(Some(())) => Poll::Ready(Some(())),
            // The sender was replaced by a newer subscription: this stream has no future.
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        })
    }

    /// Wakes `queue`'s worker, unless a wake-up is already waiting for it.
    pub fn wake(&self, queue: &str) {
        if let Some(tx) = self.lock().get(queue) {
            let _ = tx.try_send(());
        }
    }

    /// Wakes every queue: notifications may have been missed.
    fn wake_all(&self) {
        for tx in self.lock().values() {
            let _ = tx.try_send(());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::Sender<()>>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Listens until `until` resolves. A lost connection is opened again (after a pause while
    /// the database refuses); then every queue is woken, since notifications sent meanwhile are
    /// lost (each queue's poll interval would find those jobs too, later).
    pub async fn listen(self, pool: PgPool, until: impl Future<Output = ()>) {
        tokio::select! {
            () = until => {}
            () = self.listen_forever(&pool) => {}
        }
    }

    async fn listen_forever(&self, pool: &PgPool) {
        loop {
            let listener = async {
                let mut listener = PgListener::connect_with(pool).await?;
                listener.listen(CHANNEL).await?;
                Ok::<_, sqlx::Error>(listener)
            };
            let mut listener = match listener.await {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::debug!(error = %e, "job notifications: cannot listen yet");
                    tokio::time::sleep(RETRY_AFTER).await;
                    continue;
                }
            };
            self.wake_all();
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => {
                        if let Ok(job) = serde_json::from_str::<Inserted>(notification.payload()) {
                            self.wake(&job.job_type);
                        }
                    }
                    // The connection was lost; the next call opens it again.
                    Ok(None) => self.wake_all(),
                    Err(e) => {
                        tracing::debug!(error = %e, "job notifications: connection lost");
                        tokio::time::sleep(RETRY_AFTER).await;
                        break;
                    }
                }
            }
        }
    }
}
