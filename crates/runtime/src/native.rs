//! Native functions: a Rust async closure that stands in for a wasm component.
//!
//! A native function runs in slcl's own process, so a debugger (an IDE breakpoint in
//! the handler) stops in it like in any other Rust code, while the function is invoked
//! by the real triggers: S3 notifications, async invokes, the Lambda API. Everything
//! around the handler is the same as for a component: the request id, the deadline
//! (from the stack's clock), the `START` / `END` / `REPORT` lines, the timeout, the
//! error document a failure becomes.
//!
//! The handler API mirrors the `lambda_runtime` crate: a handler takes a
//! [`LambdaEvent<T>`] (`payload` and [`Context`]) and returns `Result<R, E>`, where `T`
//! deserializes from the event JSON (an `aws_lambda_events` type, say), `R` serializes
//! to the result JSON and `E` is any displayable error.
//!
//! ```
//! use slcl_runtime::native::{service_fn, LambdaEvent};
//! use serde_json::{json, Value};
//!
//! let handler = service_fn(|event: LambdaEvent<Value>| async move {
//!     let name = event.payload["name"].as_str().unwrap_or("world").to_owned();
//!     Ok::<_, std::convert::Infallible>(json!({ "greeting": format!("hello, {name}") }))
//! });
//! # let _ = handler;
//! ```
//!
//! What differs from a component, honestly: the handler shares slcl's process, so it
//! has no sandbox, no memory limit, and its `println!` output goes to the process's
//! stdout rather than to the function's log; a timeout stops waiting for it and
//! reports `Sandbox.Timedout`, but cannot stop code that never yields.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde::{de::DeserializeOwned, Serialize};
use slcl_core::{BoxFuture, SharedClock};

/// A native function's body: takes one invocation, answers the result JSON or a
/// function error. Build one with [`service_fn`].
pub type NativeHandler =
    Arc<dyn Fn(NativeRequest) -> BoxFuture<'static, NativeResult> + Send + Sync>;

/// What a native handler answers: the result JSON, or `(errorType, errorMessage)`.
pub type NativeResult = Result<Bytes, NativeError>;

/// A function error raised by a native handler, as Lambda's error document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeError {
    /// `errorType`.
    pub error_type: String,
    /// `errorMessage`.
    pub error_message: String,
}

/// One invocation as a native handler receives it: the raw event and its context.
#[derive(Debug, Clone)]
pub struct NativeRequest {
    /// The event JSON.
    pub payload: Bytes,
    /// Request id, deadline, ARN, trace id and function configuration.
    pub context: Context,
}

/// An event and its context, as `lambda_runtime::LambdaEvent`.
#[derive(Debug, Clone)]
pub struct LambdaEvent<T> {
    /// The event, deserialized.
    pub payload: T,
    /// The invocation's context.
    pub context: Context,
}

impl<T> LambdaEvent<T> {
    /// Splits the event into payload and context.
    pub fn into_parts(self) -> (T, Context) {
        (self.payload, self.context)
    }
}

/// The invocation context, with the fields of `lambda_runtime::Context`.
#[derive(Clone)]
pub struct Context {
    /// The request id of this invocation.
    pub request_id: String,
    /// When the invocation times out, in Unix milliseconds on the stack's clock.
    pub deadline: u64,
    /// ARN the function was invoked with.
    pub invoked_function_arn: String,
    /// X-Ray trace header (`Root=…;Parent=…;Sampled=0`).
    pub xray_trace_id: String,
    /// The decoded client context JSON, when the caller sent one.
    pub client_context: Option<String>,
    /// The function's configuration.
    pub env_config: Config,
    pub(crate) clock: SharedClock,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("request_id", &self.request_id)
            .field("deadline", &self.deadline)
            .field("invoked_function_arn", &self.invoked_function_arn)
            .field("xray_trace_id", &self.xray_trace_id)
            .field("client_context", &self.client_context)
            .field("env_config", &self.env_config)
            .finish()
    }
}

impl Context {
    /// The deadline as a time.
    pub fn deadline(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(self.deadline)
    }

    /// Time left before the timeout, on the stack's clock (a virtual clock in tests).
    pub fn remaining_time(&self) -> Duration {
        self.deadline()
            .duration_since(self.clock.now())
            .unwrap_or_default()
    }
}

/// The function's configuration, as `lambda_runtime::Config` reads it from the
/// environment of a real Lambda.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB.
    pub memory: i32,
    /// `AWS_LAMBDA_FUNCTION_VERSION`.
    pub version: String,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`.
    pub log_stream: String,
    /// `AWS_LAMBDA_LOG_GROUP_NAME`.
    pub log_group: String,
}

/// Wraps a typed async handler as a [`NativeHandler`], as `lambda_runtime::service_fn`.
///
/// The event JSON that does not deserialize into `T` fails the invocation with
/// `Runtime.DeserializationError`; a result that does not serialize with
/// `Runtime.SerializationError`; a handler error `e` with `errorType` the type name of
/// `E` and `errorMessage` `e.to_string()` (as `lambda_runtime`'s `Diagnostic`).
pub fn service_fn<T, R, E, F, Fut>(handler: F) -> NativeHandler
where
    T: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    E: std::fmt::Display + Send + 'static,
    F: Fn(LambdaEvent<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
{
    let handler = Arc::new(handler);
    Arc::new(move |request: NativeRequest| {
        let handler = Arc::clone(&handler);
        Box::pin(async move {
            let payload: T = serde_json::from_slice(&request.payload).map_err(|e| NativeError {
                error_type: "Runtime.DeserializationError".into(),
                error_message: format!("failed to deserialize the event: {e}"),
            })?;
            let event = LambdaEvent {
                payload,
                context: request.context,
            };
            match handler(event).await {
                Ok(result) => {
                    serde_json::to_vec(&result)
                        .map(Bytes::from)
                        .map_err(|e| NativeError {
                            error_type: "Runtime.SerializationError".into(),
                            error_message: format!(
                                "failed to serialize the function's result: {e}"
                            ),
                        })
                }
                Err(e) => Err(NativeError {
                    error_type: std::any::type_name::<E>().to_owned(),
                    error_message: e.to_string(),
                }),
            }
        })
    })
}
