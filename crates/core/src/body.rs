//! HTTP bodies shared by the edge, the emulators and the runtime.
//!
//! Bodies are streams of [`Bytes`] chunks so that large S3 objects never have to be
//! held in memory whole. Helpers here build small bodies and collect bodies with a
//! size cap.

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Empty, Full, LengthLimitError, Limited};

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
    Full::new(data.into()).map_err(|never| match never {}).boxed_unsync()
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
pub async fn collect(body: Body, limit: usize) -> Result<Bytes, CollectError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(CollectError::TooLarge(limit)),
        Err(e) => Err(CollectError::Read(e)),
    }
}
