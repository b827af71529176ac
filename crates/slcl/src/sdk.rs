//! A ready [`aws_config::SdkConfig`] for the AWS SDK for Rust (feature `sdk`).

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;

/// An SDK configuration that sends every client built from it to `endpoint_url`, in
/// `region`, with slcl's dummy credentials (`test` / `test`) and a plain-HTTP client
/// (no TLS is compiled in: slcl listens on loopback).
///
/// [`crate::Stack::sdk_config`] calls this with the stack's endpoint and region; use
/// this function directly for an `slcl up` started elsewhere.
///
/// ```no_run
/// # async fn demo() {
/// let config = slcl::sdk_config("http://127.0.0.1:4566", "us-east-1");
/// // let s3 = aws_sdk_s3::Client::new(&config);
/// # }
/// ```
pub fn sdk_config(endpoint_url: &str, region: &str) -> SdkConfig {
    SdkConfig::builder()
        .endpoint_url(endpoint_url)
        .region(Region::new(region.to_owned()))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "test", "test", None, None, "slcl",
        )))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .behavior_version(BehaviorVersion::latest())
        .build()
}

impl crate::Stack {
    /// An SDK configuration for this stack: its endpoint and region, dummy
    /// credentials. Every AWS SDK for Rust client built from it talks to this stack.
    ///
    /// ```no_run
    /// # async fn demo() -> anyhow::Result<()> {
    /// let stack = slcl::Stack::harness().bucket("photos").start().await?;
    /// let s3 = aws_sdk_s3::Client::from_conf(
    ///     aws_sdk_s3::config::Builder::from(&stack.sdk_config()).force_path_style(true).build(),
    /// );
    /// s3.list_buckets().send().await?;
    /// # Ok(()) }
    /// ```
    pub fn sdk_config(&self) -> SdkConfig {
        sdk_config(self.endpoint_url(), &self.context().region)
    }
}
