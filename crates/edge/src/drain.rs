//! Keeping connections in step when a service answers without reading the body.
//!
//! A service may answer before reading a request's body (S3's `PreconditionFailed`
//! or `NoSuchBucket` on a PUT, say). The client may still be sending that body, or,
//! with `Expect: 100-continue`, waiting to be asked for it; hyper then has to close the
//! connection, and a client that already reused it sees a reset and retries. The edge
//! therefore reads and discards what is left of a small body before answering, so the
//! connection stays usable and no request is ever retried behind the client's back.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;

/// Bodies up to this size are drained; larger ones are left to hyper, which closes
/// the connection.
const DRAIN_LIMIT: u64 = 1024 * 1024;
/// How long draining may take before the edge gives up and answers anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// A request body the service reads while the edge keeps a handle on what is left.
pub(crate) struct SharedBody(Arc<Mutex<Option<Incoming>>>);

impl SharedBody {
    /// Wraps `body`; the second value gives the edge access to the unread rest.
    pub(crate) fn new(body: Incoming) -> (SharedBody, Leftover) {
        let slot = Arc::new(Mutex::new(Some(body)));
        (SharedBody(slot.clone()), Leftover(slot))
    }
}

impl Body for SharedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let Some(body) = slot.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            *slot = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        let slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        slot.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        slot.as_ref()
            .map(|b| b.size_hint())
            .unwrap_or_else(|| SizeHint::with_exact(0))
    }
}

/// The part of a request body the service did not read.
pub(crate) struct Leftover(Arc<Mutex<Option<Incoming>>>);

impl Leftover {
    /// Reads and discards the rest of the body if it is small.
    pub(crate) async fn drain(self) {
        let body = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(body) = body else { return };
        if body.is_end_stream() || body.size_hint().upper().is_none_or(|n| n > DRAIN_LIMIT) {
            return;
        }
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, body.collect()).await;
    }
}
