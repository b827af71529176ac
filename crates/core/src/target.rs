use bytes::Bytes;

use crate::{Arn, BoxFuture, TraceContext};

/// How a delivery is to be invoked, in Lambda's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationType {
    /// Fire and forget: the target queues the payload and returns at once
    /// (S3 notifications, SNS, EventBridge, async invokes).
    Event,
    /// The caller waits for the result (event source mappings).
    RequestResponse,
}

/// A payload on its way to the resource named by an ARN.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Where it goes, such as `arn:aws:lambda:us-east-1:000000000000:function:thumbnail`.
    pub target: Arn,
    /// The resource that produced it, such as the bucket ARN.
    pub source: Option<Arn>,
    /// The event JSON (or message body) exactly as the target will see it.
    pub payload: Bytes,
    /// How the target should run it.
    pub invocation_type: InvocationType,
    /// Trace of the request that caused it.
    pub trace: TraceContext,
}

/// Why a delivery could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// No resource with that ARN exists.
    #[error("no resource with ARN {0}")]
    NotFound(String),
    /// No service that takes deliveries owns ARNs of this service namespace.
    #[error("slcl cannot deliver to {0} ARNs yet")]
    Unsupported(String),
    /// The target took the delivery but failed to process it.
    #[error("delivery to {arn} failed: {message}")]
    Failed {
        /// Target ARN.
        arn: String,
        /// What went wrong.
        message: String,
    },
}

/// A resource that accepts deliveries by ARN: a Lambda function, later a queue or a
/// topic. Each emulator that owns such resources registers one `Target` with the bus
/// for its service namespace.
///
/// Contract: for [`InvocationType::Event`], `deliver` returns once the payload is
/// accepted (queued), not when it has been processed. For
/// [`InvocationType::RequestResponse`] it returns the target's result payload.
pub trait Target: Send + Sync + 'static {
    /// Whether a resource with this ARN exists (used to validate configurations such as
    /// S3 notification destinations).
    fn exists(&self, arn: &Arn) -> bool;

    /// Hands the payload to the resource.
    fn deliver(&self, delivery: Delivery) -> BoxFuture<'_, Result<Bytes, DeliveryError>>;
}
