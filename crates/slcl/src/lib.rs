//! slcl: the AWS serverless stack on your machine, in one process.
//!
//! This crate is the composition root: it builds the store, the bus, the runtime and
//! every emulator, wires them into the edge, and serves. The `slcl` binary (`slcl up`)
//! is a thin layer over [`Stack`]; tests and tools can start the same stack in-process.
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

pub use slcl_config::{Config, FunctionConfig, NotificationConfig};
pub use slcl_core::{StepKind, TraceStep, VirtualClock};
pub use slcl_lambda::{InvocationRecord, InvokeOutput};
pub use slcl_runtime::Outcome;
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
}
