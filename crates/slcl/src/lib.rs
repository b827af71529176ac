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
mod stack;
mod watch;

pub use stack::{Stack, StackBuilder, StateLocation, DEFAULT_HOST, DEFAULT_PORT};
