//! Webhooks both ways, following the Standard Webhooks specification: verifying what the CMS
//! sends (`signature`), and sending our events from the transactional outbox (`worker`, through
//! `sender`, which only reaches the addresses `address` allows).

pub mod address;
pub mod events;
pub mod sender;
pub mod signature;
pub mod worker;

use std::sync::Arc;

use tokio::sync::Notify;

/// Wakes this process's webhook worker when a change it should announce was just committed, so a
/// receiver hears of it at once instead of at the next poll.
#[derive(Clone, Default)]
pub struct OutboxSignal(Arc<Notify>);

impl OutboxSignal {
    pub fn wake(&self) {
        self.0.notify_one();
    }

    pub async fn woken(&self) {
        self.0.notified().await;
    }
}
