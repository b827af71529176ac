//! The invocation context: who is being invoked, for which request, until when.

use serde::{Deserialize, Serialize};
use std::{
    collections::HashMap,
    env,
    sync::{Arc, OnceLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use wstd::http::HeaderMap;

/// Header carrying the invocation's request id.
pub const REQUEST_ID_HEADER: &str = "lambda-runtime-aws-request-id";
/// Header carrying the invocation deadline, in milliseconds since the Unix epoch.
pub const DEADLINE_HEADER: &str = "lambda-runtime-deadline-ms";
/// Header carrying the ARN the caller invoked (function, version or alias ARN).
pub const FUNCTION_ARN_HEADER: &str = "lambda-runtime-invoked-function-arn";
/// Header carrying the X-Ray trace header (`Root=...;Parent=...;Sampled=...`).
pub const TRACE_ID_HEADER: &str = "lambda-runtime-trace-id";
/// Header carrying the JSON client context (mobile SDK or `Invoke`'s `ClientContext`).
pub const CLIENT_CONTEXT_HEADER: &str = "lambda-runtime-client-context";
/// Header carrying the JSON Cognito identity, when the caller had one.
pub const COGNITO_IDENTITY_HEADER: &str = "lambda-runtime-cognito-identity";

/// The function's configuration, read once from the `AWS_LAMBDA_*` environment variables
/// the host sets (the same fields as `lambda_runtime::Config`).
///
/// Missing variables read as empty strings (and `memory` as 0) rather than failing, so a
/// guest also runs under a bare `wasmtime serve`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Config {
    /// `AWS_LAMBDA_FUNCTION_NAME`: the function's name.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`: the memory size in MB.
    pub memory: i32,
    /// `AWS_LAMBDA_FUNCTION_VERSION`: the version being run, e.g. `$LATEST`.
    pub version: String,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`: the CloudWatch Logs stream stdout/stderr go to.
    pub log_stream: String,
    /// `AWS_LAMBDA_LOG_GROUP_NAME`: the CloudWatch Logs group, `/aws/lambda/<name>`.
    pub log_group: String,
}

/// Shared handle on the function's [`Config`], as in `lambda_runtime`.
pub type RefConfig = Arc<Config>;

impl Config {
    /// Reads the configuration from the environment.
    pub fn from_env() -> Self {
        let var = |name| env::var(name).unwrap_or_default();
        Config {
            function_name: var("AWS_LAMBDA_FUNCTION_NAME"),
            memory: var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").parse().unwrap_or(0),
            version: var("AWS_LAMBDA_FUNCTION_VERSION"),
            log_stream: var("AWS_LAMBDA_LOG_STREAM_NAME"),
            log_group: var("AWS_LAMBDA_LOG_GROUP_NAME"),
        }
    }

    /// The configuration of this instance, read from the environment on first use.
    pub(crate) fn shared() -> RefConfig {
        static CONFIG: OnceLock<RefConfig> = OnceLock::new();
        CONFIG.get_or_init(|| Arc::new(Config::from_env())).clone()
    }
}

/// Client context sent with the invocation (`Invoke`'s base64 `ClientContext`, decoded).
///
/// Every field defaults when absent, so partial contexts from generic callers still parse.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientContext {
    /// Information about the mobile application invoking the function.
    pub client: ClientApplication,
    /// Custom properties attached by the caller.
    pub custom: HashMap<String, String>,
    /// Environment settings of the calling client.
    pub environment: HashMap<String, String>,
}

/// The calling mobile application, part of [`ClientContext`].
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ClientApplication {
    /// The app installation id.
    pub installation_id: String,
    /// The app title.
    pub app_title: String,
    /// The app version name.
    pub app_version_name: String,
    /// The app version code.
    pub app_version_code: String,
    /// The app package name.
    pub app_package_name: String,
}

/// The Amazon Cognito identity of the caller, when it had one.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CognitoIdentity {
    /// The identity id.
    pub identity_id: String,
    /// The identity pool the identity belongs to.
    pub identity_pool_id: String,
}

/// The context of one invocation, as `lambda_runtime::Context`.
///
/// Built from the `lambda-runtime-*` request headers the host sends with every invocation
/// and the function's [`Config`] from the environment.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Context {
    /// The request id of this invocation (`lambda-runtime-aws-request-id`).
    pub request_id: String,
    /// When the invocation times out, in milliseconds since the Unix epoch
    /// (`lambda-runtime-deadline-ms`); 0 if the host sent none.
    pub deadline: u64,
    /// The ARN the caller invoked (`lambda-runtime-invoked-function-arn`).
    pub invoked_function_arn: String,
    /// The X-Ray trace header (`lambda-runtime-trace-id`), empty if none.
    pub xray_trace_id: String,
    /// The client context (`lambda-runtime-client-context`, JSON or base64 JSON), if the
    /// caller sent one.
    pub client_context: Option<ClientContext>,
    /// The Cognito identity (`lambda-runtime-cognito-identity`), if the caller had one.
    pub identity: Option<CognitoIdentity>,
    /// The function's configuration from the environment.
    pub env_config: RefConfig,
}

impl Context {
    /// Builds the context from the invocation's headers. Missing or malformed headers
    /// leave the field at its default rather than failing the invocation.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        Context {
            request_id: text(REQUEST_ID_HEADER),
            deadline: text(DEADLINE_HEADER).trim().parse().unwrap_or(0),
            invoked_function_arn: text(FUNCTION_ARN_HEADER),
            xray_trace_id: text(TRACE_ID_HEADER),
            client_context: json_header(headers, CLIENT_CONTEXT_HEADER),
            identity: json_header(headers, COGNITO_IDENTITY_HEADER),
            env_config: Config::shared(),
        }
    }

    /// Replaces the environment configuration (as `lambda_runtime::Context::with_config`).
    pub fn with_config(self, config: &RefConfig) -> Self {
        Self {
            env_config: config.clone(),
            ..self
        }
    }

    /// The deadline as a [`SystemTime`].
    pub fn deadline(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.deadline)
    }

    /// How long the invocation may still run before the host stops it; zero once the
    /// deadline has passed (or when no deadline was sent).
    pub fn remaining_time(&self) -> Duration {
        self.deadline()
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    }
}

/// A header holding JSON, parsed; `None` when absent or not the expected shape.
///
/// AWS's Runtime API sends the client context as plain JSON, but `Invoke` takes it
/// base64-encoded; a host that passes it on still encoded is understood too.
fn json_header<T: serde::de::DeserializeOwned>(headers: &HeaderMap, name: &str) -> Option<T> {
    use base64::Engine as _;

    let value = headers.get(name)?.as_bytes();
    let parsed = serde_json::from_slice(value).or_else(|err| {
        base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()
            .and_then(|decoded| serde_json::from_slice(&decoded).ok())
            .ok_or(err)
    });
    match parsed {
        Ok(parsed) => Some(parsed),
        Err(err) => {
            eprintln!("slcl-guest: ignoring malformed `{name}` header: {err}");
            None
        }
    }
}
