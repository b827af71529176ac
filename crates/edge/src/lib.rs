//! The edge: one HTTP listener for every emulated service.
//!
//! AWS clients reach every service through one port, as with LocalStack. For each
//! request the [`Router`] works out which service it is for, in this order:
//!
//! 1. slcl's own endpoints: `/_slcl/health`, the LocalStack-compatible
//!    `/_localstack/health`, `/_slcl/traces/<trace id>` (every recorded step of
//!    one trace: requests, bus deliveries, invocations, with their parents), and the
//!    `/_slcl/<name>` JSON endpoints the composition root adds with
//!    [`Router::add_json_endpoint`] (such as `/_slcl/stats`).
//! 2. The SigV4 credential scope (`Authorization: AWS4-HMAC-SHA256 Credential=…/<date>/
//!    <region>/<service>/aws4_request`, or `X-Amz-Credential` in a presigned URL).
//! 3. The `X-Amz-Target` header prefix (JSON protocol services).
//! 4. The Host name: virtual-host S3 (`photos.s3.localhost.localstack.cloud`,
//!    `photos.localhost`, `photos.s3.amazonaws.com`).
//! 5. The path: Lambda's `/2015-03-31/…`; SQS's developer endpoint `/_aws/sqs/…`,
//!    the `sqs.*` hosts of queue URLs and `?Action=` calls on a `/<account>/<queue>`
//!    path (unsigned query-protocol requests).
//! 6. Otherwise S3, which is what unsigned tools (curl, browsers) usually mean.
//!
//! The chosen [`Service`] gets the request untouched, with a [`RequestContext`] holding
//! region, account, request id and trace. Credentials are accepted as given.
//!
//! The router is also the stack's [`Dispatcher`]: the runtime sends guests' outgoing AWS
//! requests through [`Router::handle`] without touching the network.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use slcl_core::{StackContext, SystemClock, TraceLog};
//! let router = slcl_edge::Router::new(StackContext::default(), vec![], SystemClock::shared(), TraceLog::new());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! slcl_edge::serve(listener, router, std::future::pending()).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod drain;
mod route;
mod server;

pub use route::{identify, Identified, JsonEndpoint, Router};
pub use server::serve;

/// Header carrying the slcl trace id of a request on every response.
pub const TRACE_HEADER: &str = "x-slcl-trace-id";
