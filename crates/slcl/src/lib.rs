//! slcl: the AWS serverless stack on your machine, in one process.
//!
//! This crate is the composition root: it builds the store, the bus, the runtime and
//! every emulator, wires them into the edge, and serves. The `slcl` binary (`slcl up`)
//! is a thin layer over [`Stack`]; tests start the same stack in-process.
//!
//! # In tests
//!
//! [`Stack::harness`] starts a whole stack on a free 127.0.0.1 port with a temporary
//! store, in milliseconds; dropping it stops it and deletes its state. Declare
//! resources in code (or point it at a project folder's `slcl.toml`), talk to it with
//! any AWS client at [`Stack::endpoint_url`] (or, with the `sdk` feature, an
//! `aws_config::SdkConfig` from `Stack::sdk_config`), and look at what happened:
//! [`Stack::next_invocation`], [`Stack::invocations`], [`Stack::trace`].
//!
//! ```
//! use std::time::Duration;
//! use slcl::native::{service_fn, LambdaEvent};
//! use serde_json::{json, Value};
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> anyhow::Result<()> {
//! let stack = slcl::Stack::harness()
//!     // A function written as a native closure: IDE breakpoints stop in it.
//!     .native_function("greet", service_fn(|event: LambdaEvent<Value>| async move {
//!         let name = event.payload["name"].as_str().unwrap_or("world").to_owned();
//!         Ok::<_, std::io::Error>(json!({ "greeting": format!("hello, {name}") }))
//!     }))
//!     .start()
//!     .await?;
//!
//! let out = stack.invoke("greet", &json!({ "name": "slcl" })).await?;
//! assert_eq!(out.payload().as_ref(), br#"{"greeting":"hello, slcl"}"#);
//!
//! // Every invocation is recorded, whatever triggered it.
//! let seen = stack.next_invocation("greet", Duration::from_secs(5)).await?;
//! assert!(seen.succeeded());
//! assert!(seen.logs.starts_with("START RequestId: "));
//! # Ok(()) }
//! ```
//!
//! With [`StackBuilder::virtual_clock`], time moves only when the test says so:
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use slcl::native::{service_fn, LambdaEvent};
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> anyhow::Result<()> {
//! let stack = slcl::Stack::harness()
//!     .native_function("fails", service_fn(|_: LambdaEvent<serde_json::Value>| async {
//!         Err::<(), _>(std::io::Error::other("not yet"))
//!     }))
//!     .virtual_clock(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
//!     .start()
//!     .await?;
//! // An asynchronous invocation fails, and Lambda retries it one minute later.
//! stack.lambda().enqueue("fails", b"{}", &Default::default())?;
//! let first = stack.next_invocation("fails", Duration::from_secs(5)).await?;
//! stack.advance(Duration::from_secs(60));
//! let retry = stack.next_invocation("fails", Duration::from_secs(5)).await?;
//! assert_eq!(retry.started_ms - first.started_ms, 60_000);
//! # Ok(()) }
//! ```
//!
//! # Serving
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let stack = slcl::Stack::builder()
//!     .project_dir("examples/thumbnail")
//!     .port(0) // any free port
//!     .start()
//!     .await?;
//! println!("serving on {}", stack.endpoint_url());
//! stack.shutdown().await;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod build;
mod harness;
#[cfg(feature = "sdk")]
mod sdk;
mod stack;
mod watch;

#[cfg(feature = "sdk")]
pub use sdk::sdk_config;

pub use slcl_config::{
    AttributeValue, Config, FunctionConfig, LambdaConfig, NotificationConfig, QueueConfig,
    SqsTriggerConfig,
};
pub use slcl_core::{StepKind, TraceStep, VirtualClock};
pub use slcl_lambda::{DurationStats, FunctionStats, InvocationRecord, InvokeOutput};
pub use slcl_runtime::Outcome;
pub use slcl_sqs::{ReceivedMessage, SendOptions};
pub use stack::{
    Stack, StackBuilder, StateLocation, DEFAULT_HOST, DEFAULT_PORT, HARNESS_MAX_INSTANCES,
};

/// Functions written as native Rust async closures, for [`StackBuilder::native_function`]:
/// the handler API of the `lambda_runtime` crate ([`native::LambdaEvent`],
/// [`native::Context`], [`native::service_fn`]).
pub mod native {
    pub use slcl_runtime::native::{
        service_fn, Config, Context, LambdaEvent, NativeError, NativeHandler,
    };

    /// Any error a handler returns, as `lambda_runtime::Error`: handlers written as
    /// `async fn handler(event: LambdaEvent<T>) -> Result<R, Error>` move over as they
    /// are.
    pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;
}
