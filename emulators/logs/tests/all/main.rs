//! Integration tests for slcl-logs, driven by real clients (boto3, the aws CLI, raw
//! JSON 1.1 requests) through the real edge, plus the in-process Rust API.

mod harness;

mod api;
mod cli;
mod events;
mod groups;
mod retention;
