//! HTTP bodies shared by the edge, the emulators and the runtime.
//!
//! Bodies are streams of [`Bytes`] chunks so that large S3 objects never have to be
//! held in memory whole. Helpers here build small bodies and collect bodies with a
//! size cap.

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Empty, Full};

/// An error inside a body stream.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of every request and response inside slcl.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// A request as the edge hands it to a [`crate::Service`].
pub type Request = http::Request<Body>;

/// A response as a [`crate::Service`] returns it.
pub type Response = http::Response<Body>;

/// A body holding `data`.
pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// Wraps any body whose errors convert into [`BoxError`].
pub fn boxed<B>(body: B) -> Body
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed_unsync()
}

/// Why [`collect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The body was longer than the allowed maximum.
    #[error("body exceeds {0} bytes")]
    TooLarge(usize),
    /// The underlying stream failed.
    #[error("failed to read body: {0}")]
    Read(BoxError),
}

/// Reads a whole body into memory, failing once it exceeds `limit` bytes.
pub async fn collect(mut body: Body, limit: usize) -> Result<Bytes, CollectError> {
    // Hand-rolled rather than `http_body_util::Limited`, whose boxed-error conversion
    // makes callers' futures fail the `Send` check inside `async` trait objects.
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(CollectError::Read)?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(CollectError::TooLarge(limit));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}
