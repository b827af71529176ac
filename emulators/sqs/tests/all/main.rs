//! Integration tests for slcl-sqs, driven by real clients (boto3, the aws CLI, raw
//! query-protocol requests) through the real edge, plus the in-process Rust API.

mod harness;

mod api;
mod clients;
mod durability;
mod messages;
mod move_tasks;
mod query;
mod queues;
mod timing;
