//! Integration tests of slcl-runtime: one binary, one module per area.
//!
//! The tests run a small guest (`tests/guest`, one component whose behaviour is picked
//! by the event's `"action"`), built for wasm32-wasip2 on first use.

mod cache;
mod failures;
mod invoke;
mod outbound;
mod support;
