//! The bottom of slcl's dependency graph.
//!
//! Every other crate speaks in the types defined here:
//!
//! - [`Body`], [`Request`] and [`Response`]: the HTTP shapes that flow between the
//!   edge, the emulators and the guests' outgoing requests.
//! - [`Service`]: an emulated AWS service answering requests (one per emulator
//!   crate). The edge knows services only through this trait.
//! - [`Target`]: something that accepts deliveries by ARN (a Lambda function, later a
//!   queue or topic). The bus routes [`Delivery`] values to targets.
//! - [`Dispatcher`]: sends a request to the in-process fakes; the runtime uses it for
//!   the requests guests send out.
//! - [`EventSource`]: a queue or stream that a Lambda event source mapping polls
//!   (SQS queues today), so the poller never imports the emulator owning the records.
//! - [`Clock`]: the one source of time. Every timer in the stack reads it.
//! - [`Arn`], [`AwsError`], [`StackContext`] and id helpers.
//!
//! ```
//! use slcl_core::{Arn, StackContext};
//! let stack = StackContext::default();
//! let arn = Arn::parse("arn:aws:lambda:us-east-1:000000000000:function:thumbnail").unwrap();
//! assert_eq!(arn.service, "lambda");
//! assert_eq!(stack.region, "us-east-1");
//! ```
#![deny(missing_docs)]

mod arn;
pub mod body;
mod clock;
mod error;
pub mod ids;
mod log_destination;
mod service;
pub mod source;
mod target;
mod trace;
mod virtual_clock;

pub use arn::Arn;
pub use body::{Body, BoxError, Request, Response};
pub use clock::{Clock, SharedClock, SystemClock};
pub use error::AwsError;
pub use log_destination::LogDestination;
pub use service::{
    Dispatcher, LateDispatcher, RemoteAddr, RequestContext, Service, ServiceHealth, StackContext,
    TraceContext,
};
pub use source::{EventSource, SourceError, SourceInfo, SourceRecord};
pub use target::{Delivery, DeliveryError, InvocationType, Target};
pub use trace::{StepKind, TraceLog, TraceStep};
pub use virtual_clock::VirtualClock;

/// A boxed, sendable future, the return type of the object-safe traits here.
pub type BoxFuture<'a, T> = futures::future::BoxFuture<'a, T>;
