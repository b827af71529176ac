//! A ready AWS SDK configuration for code running inside the sandbox.
//!
//! The AWS SDK for Rust normally sends requests with hyper over TCP and sleeps with tokio;
//! neither exists in a `wasm32-wasip2` component. [`aws_config`] builds an
//! [`SdkConfig`] that sends through the component's `wasi:http/outgoing-handler` import
//! (`aws-smithy-wasm`'s client, on `wstd`) and sleeps with `wasi:clocks`, and takes
//! everything else from the environment the host gives the function, the same variables
//! AWS Lambda sets:
//!
//! | setting | from |
//! |---|---|
//! | region | `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1` |
//! | endpoint | `AWS_ENDPOINT_URL` if set (slcl sets it to its own endpoint) |
//! | credentials | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`; `test`/`test` if unset (slcl accepts any credentials by default) |
//! | behavior version | latest |
//!
//! ```no_run
//! # async fn f() {
//! let config = slcl_guest::aws_config().await;
//! // Any service client: `aws_sdk_s3::Client::new(&config)`, `aws_sdk_sqs::Client::new(&config)`, ...
//! # let _ = config;
//! # }
//! ```
//!
//! Service crates must be built without their default features (those pull in tokio and
//! hyper): `aws-sdk-s3 = { version = "1", default-features = false, features = ["behavior-version-latest"] }`.

use std::env;

use aws_credential_types::{provider::SharedCredentialsProvider, Credentials};
use aws_smithy_async::{
    rt::sleep::SharedAsyncSleep,
    time::{SharedTimeSource, SystemTimeSource},
};
use aws_smithy_wasm::wasi::{WasiHttpClientBuilder, WasiSleep};
use aws_types::{region::Region, sdk_config, SdkConfig};

pub use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;

/// Region used when neither `AWS_REGION` nor `AWS_DEFAULT_REGION` is set.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The AWS SDK configuration for this function, from its environment.
///
/// `async` so it reads like `aws_config::load_from_env().await`, which it replaces; it
/// does no I/O today. See the [module docs](self) for where each setting comes from.
pub async fn aws_config() -> SdkConfig {
    aws_config_builder().build()
}

/// The builder behind [`aws_config`], for callers who want to change a setting
/// (e.g. a retry or timeout config) before building.
pub fn aws_config_builder() -> sdk_config::Builder {
    let var = |name: &str| env::var(name).ok().filter(|v| !v.is_empty());
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
    let credentials = Credentials::new(
        var("AWS_ACCESS_KEY_ID").unwrap_or_else(|| "test".to_owned()),
        var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|| "test".to_owned()),
        var("AWS_SESSION_TOKEN"),
        None,
        "Environment",
    );
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(WasiHttpClientBuilder::new().build())
        .sleep_impl(SharedAsyncSleep::new(WasiSleep))
        .time_source(SharedTimeSource::new(SystemTimeSource::new()));
    if let Some(endpoint) = var("AWS_ENDPOINT_URL") {
        builder.set_endpoint_url(Some(endpoint));
    }
    builder
}
