//! End-to-end tests: the real `slcl` binary, driven by the real `aws` CLI and boto3,
//! running real wasm functions built from `fixtures/`.

mod common;
mod edge;
mod lambda;
mod restart;
mod retries;
mod s3_events;
mod thumbnail;
