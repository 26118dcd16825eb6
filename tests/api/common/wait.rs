//! Waiting for conditions instead of for time: tests poll what they need to see, with deadlines
//! generous enough for a loaded 2-core machine, and fail naming what never happened.

use std::future::Future;
use std::time::Duration;

use super::TestApp;

/// How long a test waits for something the service does in the background: far longer than it
/// takes on an idle machine, so that only a real failure runs into it.
pub const GENEROUS: Duration = Duration::from_secs(60);

/// Polls `probe` every 50 ms until it yields `Some`, and returns that; fails the test naming
/// `what` if `within` passes first.
pub async fn until_some<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {within:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `probe` until it holds (see `until_some`).
pub async fn until<F, Fut>(within: Duration, what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    until_some(within, what, || {
        let holds = probe();
        async move { holds.await.then_some(()) }
    })
    .await
}

impl TestApp {
    /// Waits until the webhook worker has nothing left to do: every outbox event fanned out and
    /// no delivery pending. A receiver then holds every request it will ever get, so counting
    /// them is final (counting at the first arrival would miss a late duplicate).
    pub async fn webhooks_settled(&self) {
        until(GENEROUS, "the webhook worker to settle", || async {
            self.count(
                "SELECT (SELECT count(*) FROM outbox_events WHERE dispatched_at IS NULL) \
                      + (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending') AS n",
            )
            .await
                == 0
        })
        .await
    }
}
