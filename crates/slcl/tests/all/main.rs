//! End-to-end tests: the real `slcl` binary and the in-process harness, driven by the
//! real `aws` CLI, boto3 and the AWS SDK for Rust, running real wasm functions built
//! from `fixtures/`.

mod cli;
mod clock;
mod common;
mod crash;
mod destinations;
mod edge;
mod esm;
mod functions;
mod harness;
mod lambda;
mod logs;
mod restart;
mod s3_events;
mod sdk_guest;
mod sqs;
mod thumbnail;
