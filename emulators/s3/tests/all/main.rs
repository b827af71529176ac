//! Integration tests for slcl-s3, driven by real clients (the aws CLI and boto3)
//! against a minimal hyper server around `S3Service`.

mod harness;

mod bench;
mod buckets;
mod cli;
mod durability;
mod errors;
mod listing;
mod multipart;
mod notifications;
mod objects;
mod raw;
