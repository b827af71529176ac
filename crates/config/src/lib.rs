//! `slcl.toml`, the project file.
//!
//! A project folder's `slcl.toml` declares the resources `slcl up` creates and the
//! functions it loads. Every key is optional; a missing file is an empty stack. Unknown
//! keys are errors that name the key, so a typo never becomes a silent default. The
//! full reference, with every key and its default, is `docs/config.md`.
//!
//! ```
//! let config = slcl_config::Config::parse(r#"
//!     [functions.thumbnail]
//!     wasm = "target/wasm32-wasip2/release/thumbnail.wasm"
//!     memory = 256
//!
//!     [buckets.photos]
//!     [[buckets.photos.notifications]]
//!     function = "thumbnail"
//!     events = ["s3:ObjectCreated:*"]
//!     prefix = "uploads/"
//! "#).unwrap();
//! assert_eq!(config.region, "us-east-1");
//! assert_eq!(config.functions["thumbnail"].timeout, 3);
//! ```
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The file name slcl looks for in a project folder.
pub const FILE_NAME: &str = "slcl.toml";
/// Default region, as LocalStack's.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Default account id, as LocalStack's.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";
/// Default function memory size in MB, as Lambda's.
pub const DEFAULT_MEMORY_MB: u32 = 128;
/// Default function timeout in seconds, as Lambda's.
pub const DEFAULT_TIMEOUT_SECS: u32 = 3;
/// Default of [`LambdaConfig::account_concurrency`]: Lambda's default account quota
/// of concurrent executions (the same as `slcl_lambda::DEFAULT_ACCOUNT_CONCURRENCY`).
pub const DEFAULT_ACCOUNT_CONCURRENCY: u32 = 1000;
/// Default of [`LambdaConfig::keep_alive`] in seconds: 10 minutes (the same as
/// `slcl_runtime::DEFAULT_KEEP_ALIVE`).
pub const DEFAULT_KEEP_ALIVE_SECS: u64 = 600;

/// Errors reading `slcl.toml`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("failed to read `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys or wrong types.
    #[error("invalid `{path}`: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the key and line.
        message: String,
    },
    /// The file parses but is inconsistent (for example a notification naming a
    /// function that is not declared).
    #[error("invalid `{path}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The whole of `slcl.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// AWS region the stack pretends to be in. Default `us-east-1`.
    #[serde(default = "default_region")]
    pub region: String,
    /// Account id in every ARN. Default `000000000000`.
    #[serde(default = "default_account_id")]
    pub account_id: String,
    /// Lambda functions, by function name. Default none.
    #[serde(default)]
    pub functions: BTreeMap<String, FunctionConfig>,
    /// S3 buckets, by bucket name. Default none.
    #[serde(default)]
    pub buckets: BTreeMap<String, BucketConfig>,
    /// SQS queues, by queue name (a FIFO queue's name ends in `.fifo`). Default none.
    #[serde(default)]
    pub queues: BTreeMap<String, QueueConfig>,
    /// The `[lambda]` table: how the Lambda service runs functions. Default: every
    /// key at its default.
    #[serde(default)]
    pub lambda: LambdaConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            region: default_region(),
            account_id: default_account_id(),
            functions: BTreeMap::new(),
            buckets: BTreeMap::new(),
            queues: BTreeMap::new(),
            lambda: LambdaConfig::default(),
        }
    }
}

/// The `[lambda]` table: settings of the Lambda service as a whole, for every
/// function.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaConfig {
    /// The account's concurrency quota (Lambda's `ConcurrentExecutions`): most
    /// invocations running at once across all functions; one over it is throttled
    /// (429 `TooManyRequestsException` for a synchronous caller; an async event
    /// waits). Reserved concurrency is carved out of it. At least 1. Default
    /// [`DEFAULT_ACCOUNT_CONCURRENCY`] (1000), Lambda's default quota; lower it to see
    /// how a function behaves when throttled. Independently, the runtime runs at most
    /// 64 instances at once.
    #[serde(default = "default_account_concurrency")]
    pub account_concurrency: u32,
    /// Seconds an idle (warm) instance waits for its next invocation before it is
    /// dropped, on the stack's clock. Default [`DEFAULT_KEEP_ALIVE_SECS`] (600, ten
    /// minutes; Lambda keeps idle environments for a comparable, unspecified time).
    /// Shorter frees memory sooner and makes cold starts more frequent; 0 drops an
    /// instance as soon as another invocation finds it idle.
    #[serde(default = "default_keep_alive")]
    pub keep_alive: u64,
    /// Give every invocation a fresh instance (a cold start), dropping it when the
    /// invocation ends instead of keeping it warm. Default `false` (warm reuse, as
    /// Lambda). Turn it on to check that a function does not rely on module-level
    /// state surviving between invocations; it costs the function's init work on
    /// every invocation.
    #[serde(default)]
    pub cold_start_every_invoke: bool,
}

impl Default for LambdaConfig {
    fn default() -> Self {
        LambdaConfig {
            account_concurrency: DEFAULT_ACCOUNT_CONCURRENCY,
            keep_alive: DEFAULT_KEEP_ALIVE_SECS,
            cold_start_every_invoke: false,
        }
    }
}

/// A `[functions.<name>]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionConfig {
    /// Path of the function's WebAssembly component, relative to the project folder.
    /// Required.
    pub wasm: PathBuf,
    /// Shell command (run with `sh -c` in the project folder) that produces `wasm`.
    /// Run by `slcl up` only when the wasm file is missing. Default none.
    #[serde(default)]
    pub build: Option<String>,
    /// Memory size in MB, 128 to 10240 as Lambda allows. It caps the guest's linear
    /// memory (at most 4096 MB, wasm32's limit). Default 128.
    #[serde(default = "default_memory")]
    pub memory: u32,
    /// Timeout in seconds, 1 to 900 as Lambda allows. Default 3.
    #[serde(default = "default_timeout")]
    pub timeout: u32,
    /// Environment variables the function sees, on top of Lambda's own. Default none.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Free-form description, as Lambda's `Description`. Default empty.
    #[serde(default)]
    pub description: String,
    /// SQS queues this function is triggered by (`[[functions.<name>.sqs]]`), each an
    /// event source mapping. Default none.
    #[serde(default)]
    pub sqs: Vec<SqsTriggerConfig>,
    /// `MaximumRetryAttempts` of the function's asynchronous invocation
    /// configuration: how many times a failed async event is retried, 0–2. Default
    /// none (Lambda's 2).
    #[serde(default)]
    pub maximum_retry_attempts: Option<u32>,
    /// `MaximumEventAgeInSeconds`: how long an async event may wait (for its first
    /// attempt or a retry) before it is discarded, 60–21600. Default none (Lambda's
    /// 21600, six hours).
    #[serde(default)]
    pub maximum_event_age: Option<u32>,
    /// `[functions.<name>.destinations]`: where records of async invocations go.
    /// Default none.
    #[serde(default)]
    pub destinations: Option<DestinationsConfig>,
}

/// A `[functions.<name>.destinations]` table: the `DestinationConfig` of the
/// function's asynchronous invocation configuration, as
/// `PutFunctionEventInvokeConfig` takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationsConfig {
    /// `OnSuccess.Destination`: the ARN of an SQS queue, SNS topic, Lambda function
    /// or EventBridge event bus that gets a record of every successful async
    /// invocation. Default none.
    #[serde(default)]
    pub on_success: Option<String>,
    /// `OnFailure.Destination`: the ARN of an SQS queue, SNS topic, Lambda function,
    /// EventBridge event bus or S3 bucket that gets a record of every async event
    /// that failed all its attempts or grew too old. Default none.
    #[serde(default)]
    pub on_failure: Option<String>,
}

/// One `[[functions.<name>.sqs]]` entry: an event source mapping from an SQS queue,
/// as `CreateEventSourceMapping` would make it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqsTriggerConfig {
    /// A queue declared under `[queues]` (or any existing queue's name or ARN).
    /// Required.
    pub queue: String,
    /// `BatchSize`: most messages per invocation, 1–10000 (above 10 needs a batching
    /// window). Default 10.
    #[serde(default)]
    pub batch_size: Option<u32>,
    /// `MaximumBatchingWindowInSeconds`: how long to gather a batch, 0–300. Default 0.
    #[serde(default)]
    pub maximum_batching_window: Option<u32>,
    /// `FilterCriteria`: event filter patterns (JSON text each, at most 5); a message
    /// matching none is deleted without an invocation. Default none (every message).
    #[serde(default)]
    pub filters: Vec<String>,
    /// `FunctionResponseTypes = ["ReportBatchItemFailures"]`: the function may answer
    /// `{"batchItemFailures":[{"itemIdentifier":"<messageId>"}]}` to retry only those.
    /// Default false.
    #[serde(default)]
    pub report_batch_item_failures: bool,
    /// `ScalingConfig.MaximumConcurrency`: most batches in flight at once, 2–1000.
    /// Default none (up to 5).
    #[serde(default)]
    pub maximum_concurrency: Option<u32>,
    /// `Enabled`. Default true.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

impl SqsTriggerConfig {
    /// A mapping from `queue` with every other key at its default.
    pub fn new(queue: impl Into<String>) -> SqsTriggerConfig {
        SqsTriggerConfig {
            queue: queue.into(),
            batch_size: None,
            maximum_batching_window: None,
            filters: Vec::new(),
            report_batch_item_failures: false,
            maximum_concurrency: None,
            enabled: true,
        }
    }
}

fn default_true() -> bool {
    true
}

impl FunctionConfig {
    /// A function running the component `wasm`, with every other key at its default
    /// (128 MB, 3 s, no environment, no build command).
    pub fn new(wasm: impl Into<PathBuf>) -> FunctionConfig {
        FunctionConfig {
            wasm: wasm.into(),
            build: None,
            memory: DEFAULT_MEMORY_MB,
            timeout: DEFAULT_TIMEOUT_SECS,
            env: BTreeMap::new(),
            description: String::new(),
            sqs: Vec::new(),
            maximum_retry_attempts: None,
            maximum_event_age: None,
            destinations: None,
        }
    }

    /// Whether any key of the asynchronous invocation configuration is set
    /// (`maximum_retry_attempts`, `maximum_event_age`, `destinations`).
    pub fn has_event_invoke_config(&self) -> bool {
        self.maximum_retry_attempts.is_some()
            || self.maximum_event_age.is_some()
            || self
                .destinations
                .as_ref()
                .is_some_and(|d| d.on_success.is_some() || d.on_failure.is_some())
    }
}

/// A `[buckets.<name>]` table.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketConfig {
    /// Event notifications to Lambda functions. Default none.
    #[serde(default)]
    pub notifications: Vec<NotificationConfig>,
}

/// A `[queues.<name>]` table: an SQS queue created at start (or checked, if it
/// already exists with these attributes).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Queue attributes by their SQS names, as CreateQueue takes them, such as
    /// `{ VisibilityTimeout = 30, RedrivePolicy = '{"deadLetterTargetArn":"...","maxReceiveCount":3}' }`.
    /// Numbers and booleans may be written bare. Default none (SQS's defaults:
    /// visibility timeout 30 s, retention 4 days, no delay, standard queue unless the
    /// name ends in `.fifo`).
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeValue>,
}

/// A queue attribute value in `slcl.toml`: SQS takes every attribute as a string,
/// but a number or a boolean may be written bare.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum AttributeValue {
    /// `"30"`, `'{"maxReceiveCount":3}'`.
    String(String),
    /// `30`.
    Integer(i64),
    /// `true`.
    Bool(bool),
}

impl From<&str> for AttributeValue {
    fn from(value: &str) -> Self {
        AttributeValue::String(value.to_owned())
    }
}

impl From<String> for AttributeValue {
    fn from(value: String) -> Self {
        AttributeValue::String(value)
    }
}

impl From<i64> for AttributeValue {
    fn from(value: i64) -> Self {
        AttributeValue::Integer(value)
    }
}

impl From<bool> for AttributeValue {
    fn from(value: bool) -> Self {
        AttributeValue::Bool(value)
    }
}

impl QueueConfig {
    /// Adds attribute `name` (an SQS attribute name such as `VisibilityTimeout`):
    /// `QueueConfig::default().attribute("VisibilityTimeout", 10)`.
    pub fn attribute(mut self, name: &str, value: impl Into<AttributeValue>) -> Self {
        self.attributes.insert(name.to_owned(), value.into());
        self
    }
}

impl std::fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttributeValue::String(s) => f.write_str(s),
            AttributeValue::Integer(i) => write!(f, "{i}"),
            AttributeValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// One `[[buckets.<name>.notifications]]` entry: S3 invokes `function` for matching
/// events, as a `LambdaFunctionConfiguration` would.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationConfig {
    /// Name of a function declared in this file, or the ARN of any function. Required.
    pub function: String,
    /// S3 event types, such as `s3:ObjectCreated:*` or `s3:ObjectRemoved:Delete`.
    /// Default `["s3:ObjectCreated:*"]`.
    #[serde(default = "default_events")]
    pub events: Vec<String>,
    /// Only keys starting with this prefix match. Default none (every key).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Only keys ending with this suffix match. Default none (every key).
    #[serde(default)]
    pub suffix: Option<String>,
    /// The configuration id S3 puts in each event record. Default: generated from the
    /// function name.
    #[serde(default)]
    pub id: Option<String>,
}

fn default_region() -> String {
    DEFAULT_REGION.into()
}
fn default_account_id() -> String {
    DEFAULT_ACCOUNT_ID.into()
}
fn default_memory() -> u32 {
    DEFAULT_MEMORY_MB
}
fn default_timeout() -> u32 {
    DEFAULT_TIMEOUT_SECS
}
fn default_account_concurrency() -> u32 {
    DEFAULT_ACCOUNT_CONCURRENCY
}
fn default_keep_alive() -> u64 {
    DEFAULT_KEEP_ALIVE_SECS
}
fn default_events() -> Vec<String> {
    vec!["s3:ObjectCreated:*".into()]
}

impl Config {
    /// Reads `dir/slcl.toml`; a missing file is the empty default config.
    pub fn load(dir: &Path) -> Result<Config, ConfigError> {
        let path = dir.join(FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        Self::parse_at(&text, &path)
    }

    /// Parses the text of a `slcl.toml`.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        Self::parse_at(text, Path::new(FILE_NAME))
    }

    fn parse_at(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        config.validate().map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(config)
    }

    /// Checks a function's memory size and timeout against Lambda's limits; the error
    /// names the key.
    pub fn check_function(name: &str, f: &FunctionConfig) -> Result<(), String> {
        if !(128..=10240).contains(&f.memory) {
            return Err(format!(
                "functions.{name}.memory is {}; Lambda allows 128 to 10240 MB",
                f.memory
            ));
        }
        if !(1..=900).contains(&f.timeout) {
            return Err(format!(
                "functions.{name}.timeout is {}; Lambda allows 1 to 900 seconds",
                f.timeout
            ));
        }
        if let Some(n) = f.maximum_retry_attempts.filter(|n| *n > 2) {
            return Err(format!(
                "functions.{name}.maximum_retry_attempts is {n}; Lambda allows 0 to 2"
            ));
        }
        if let Some(n) = f.maximum_event_age.filter(|n| !(60..=21600).contains(n)) {
            return Err(format!(
                "functions.{name}.maximum_event_age is {n}; Lambda allows 60 to 21600 seconds"
            ));
        }
        if let Some(d) = &f.destinations {
            for (key, arn) in [("on_success", &d.on_success), ("on_failure", &d.on_failure)] {
                if let Some(arn) = arn.as_deref().filter(|a| !a.starts_with("arn:")) {
                    return Err(format!(
                        "functions.{name}.destinations.{key} is `{arn}`; it must be an ARN"
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        if self.lambda.account_concurrency == 0 {
            return Err(
                "lambda.account_concurrency is 0; it must be at least 1 (use a function's reserved concurrency of 0 to throttle one function)"
                    .to_owned(),
            );
        }
        for (name, f) in &self.functions {
            Self::check_function(name, f)?;
        }
        for (name, f) in &self.functions {
            for t in &f.sqs {
                if !t.queue.starts_with("arn:") && !self.queues.contains_key(&t.queue) {
                    return Err(format!(
                        "functions.{name}.sqs names queue `{}`, which is not declared under [queues]",
                        t.queue
                    ));
                }
            }
        }
        for (bucket, b) in &self.buckets {
            for n in &b.notifications {
                if !n.function.starts_with("arn:") && !self.functions.contains_key(&n.function) {
                    return Err(format!(
                        "buckets.{bucket}.notifications names function `{}`, which is not declared under [functions]",
                        n.function
                    ));
                }
            }
        }
        Ok(())
    }

    /// The ARN of a queue declared here (or `name` itself if it already is an ARN).
    pub fn queue_arn(&self, name: &str) -> String {
        if name.starts_with("arn:") {
            name.to_string()
        } else {
            format!("arn:aws:sqs:{}:{}:{name}", self.region, self.account_id)
        }
    }

    /// The ARN of a function declared here (or `name` itself if it already is an ARN).
    pub fn function_arn(&self, name: &str) -> String {
        if name.starts_with("arn:") {
            name.to_string()
        } else {
            format!(
                "arn:aws:lambda:{}:{}:function:{name}",
                self.region, self.account_id
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_empty_stack() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(dir.path()).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.account_id, "000000000000");
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::parse("[functions.f]\nwasm = \"f.wasm\"\nmemroy = 256\n").unwrap_err();
        assert!(err.to_string().contains("memroy"), "{err}");
    }

    #[test]
    fn notification_must_name_declared_function() {
        let err = Config::parse("[[buckets.b.notifications]]\nfunction = \"nope\"\n").unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn lambda_table() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.lambda.account_concurrency, 1000);
        assert_eq!(c.lambda.keep_alive, 600);
        assert!(!c.lambda.cold_start_every_invoke);
        let c = Config::parse(
            "[lambda]\naccount_concurrency = 5\nkeep_alive = 30\ncold_start_every_invoke = true\n",
        )
        .unwrap();
        assert_eq!(
            c.lambda,
            LambdaConfig {
                account_concurrency: 5,
                keep_alive: 30,
                cold_start_every_invoke: true
            }
        );
        let err = Config::parse("[lambda]\nkeepalive = 30\n").unwrap_err();
        assert!(err.to_string().contains("keepalive"), "{err}");
        let err = Config::parse("[lambda]\naccount_concurrency = 0\n").unwrap_err();
        assert!(
            err.to_string().contains("lambda.account_concurrency"),
            "{err}"
        );
    }

    #[test]
    fn limits_are_lambdas() {
        assert!(Config::parse("[functions.f]\nwasm = \"f.wasm\"\nmemory = 64\n").is_err());
        assert!(Config::parse("[functions.f]\nwasm = \"f.wasm\"\ntimeout = 901\n").is_err());
        let c =
            Config::parse("region = \"eu-west-1\"\n[functions.f]\nwasm = \"f.wasm\"\n").unwrap();
        assert_eq!(
            c.function_arn("f"),
            "arn:aws:lambda:eu-west-1:000000000000:function:f"
        );
    }
}
