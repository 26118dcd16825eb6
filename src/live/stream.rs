//! One subscriber's stream: what it missed, then what its feed broadcasts, as SSE bytes.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;

use actix_web::web::Bytes;
use futures_util::Stream;
use rand::Rng;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

use super::feed::{frame, Feed};
use super::{Live, Message};
use crate::domain::live::Cursor;

/// How long a reader's browser waits before connecting again after an interruption, in
/// milliseconds (the `retry:` of the first frame).
pub const RETRY_MS: u32 = 3000;
/// When the node stops, readers come back after a moment picked in this range, so that they do
/// not all arrive at the next node at once and the load balancer has seen this one go.
const CLOSING_RETRY_MS: std::ops::Range<u32> = 1000..5000;

/// A counted stream of a client network; dropping it uncounts it.
pub(super) struct Permit {
    pub(super) live: Live,
    pub(super) network: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.live.release(self.network);
    }
}

/// The key a moderator's stream was opened with, held in its feed's list while the stream lives.
pub(super) struct KeyHold {
    pub(super) digest: Arc<[u8]>,
    pub(super) feed: Arc<Feed>,
}

impl Drop for KeyHold {
    fn drop(&mut self) {
        self.feed.release_key(&self.digest);
    }
}

/// A subscriber's stream; `into_body` turns it into the response's body.
pub struct LiveStream {
    receiver: Receiver<Message>,
    /// A reader's position (events at or before it are skipped); `None` for a moderator.
    position: Option<Cursor>,
    /// Frames to send before the feed's.
    pending: VecDeque<Bytes>,
    /// A moderator's key.
    key: Option<KeyHold>,
    ended: bool,
    /// Counts the stream while it lives (none for a stream refused while the node stops).
    _permit: Option<Permit>,
}

impl LiveStream {
    pub(super) fn new(
        receiver: Receiver<Message>,
        position: Option<Cursor>,
        key: Option<KeyHold>,
        permit: Permit,
    ) -> Self {
        let mut pending = VecDeque::new();
        pending.push_back(Bytes::from(format!("retry: {RETRY_MS}\n\n")));
        Self {
            receiver,
            position,
            pending,
            key,
            ended: false,
            _permit: Some(permit),
        }
    }

    /// A stream opened while the node stops: only tells the reader to come back (to another
    /// node), as a closed stream would; a browser treats an error answer as final instead.
    pub(super) fn closing_only() -> Self {
        let (_, receiver) = tokio::sync::broadcast::channel(1);
        let mut stream = Self {
            receiver,
            position: None,
            pending: VecDeque::new(),
            key: None,
            ended: true,
            _permit: None,
        };
        let closing = stream.closing("draining");
        stream.pending.push_back(closing);
        stream
    }

    pub(super) fn push_frame(&mut self, frame: Bytes) {
        self.pending.push_back(frame);
    }

    /// A reader resuming after `from`: sends what it missed up to the feed's `to`, or tells it
    /// to reload when that is more than it would be sent.
    pub(super) fn resume_from(&mut self, from: Cursor, missed: Option<Vec<Bytes>>, to: Cursor) {
        match missed {
            Some(frames) => {
                self.pending.extend(frames);
                // A reader ahead of this node's feed (it came from a faster node) skips what it
                // has had.
                self.position = Some(from.max(to));
            }
            None => self.reload(to, "the stream missed more events than are sent again"),
        }
    }

    /// Tells the reader to reload its list, continuing from `to`.
    pub(super) fn reload(&mut self, to: Cursor, reason: &str) {
        self.pending
            .push_back(frame(Some(to), "reload", &json!({ "reason": reason })));
        self.position = Some(to);
    }

    pub fn into_body(self) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> {
        futures_util::stream::unfold(self, |mut stream| async move {
            let frame = stream.next_frame().await?;
            Some((Ok(frame), stream))
        })
    }

    async fn next_frame(&mut self) -> Option<Bytes> {
        if let Some(frame) = self.pending.pop_front() {
            return Some(frame);
        }
        if self.ended {
            return None;
        }
        loop {
            match self.receiver.recv().await {
                Ok(Message::Event(cursor, frame)) => {
                    if let Some(position) = self.position {
                        if cursor <= position {
                            continue;
                        }
                        self.position = Some(cursor);
                    }
                    return Some(frame);
                }
                Ok(Message::Frame(frame)) => return Some(frame),
                Ok(Message::Close) => return Some(self.closing("draining")),
                Ok(Message::Revoked(key))
                    if self.key.as_ref().is_some_and(|held| held.digest == key) =>
                {
                    return Some(self.closing("revoked"));
                }
                Ok(Message::Revoked(_)) => {}
                // Too slow for the feed: end, and the reader resumes from the table.
                Err(RecvError::Lagged(_) | RecvError::Closed) => return None,
            }
        }
    }

    /// The last frame: why the stream ends, and when to come back.
    fn closing(&mut self, reason: &str) -> Bytes {
        self.ended = true;
        let retry = rand::rng().random_range(CLOSING_RETRY_MS);
        let event = frame(None, "closing", &json!({ "reason": reason }));
        let mut text = format!("retry: {retry}\n").into_bytes();
        text.extend_from_slice(&event);
        Bytes::from(text)
    }
}
