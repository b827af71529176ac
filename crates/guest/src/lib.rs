//! Write AWS Lambda functions in Rust that run as WebAssembly components under slcl.
//!
//! slcl runs each Lambda function as a `wasm32-wasip2` component exporting the standard
//! `wasi:http/incoming-handler`. This crate turns an ordinary `lambda_runtime`-style
//! handler into such a component: it mirrors `lambda_runtime`'s handler API
//! ([`LambdaEvent`], [`Context`], [`service_fn`], [`Error`], [`Diagnostic`]) so moving an
//! existing handler over means changing a dependency, the `main` function and the build
//! target, not the handler.
//!
//! # A function
//!
//! ```no_run
//! use serde_json::{json, Value};
//! use slcl_guest::{Error, LambdaEvent};
//!
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     let (payload, context) = event.into_parts();
//!     println!("request {} has {:?} left", context.request_id, context.remaining_time());
//!     Ok(json!({ "received": payload }))
//! }
//!
//! slcl_guest::main!(handler);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2`; the `.wasm` that comes
//! out is already a component. Compared with a `lambda_runtime` function, only the last
//! line changes: instead of
//!
//! ```ignore
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     lambda_runtime::run(service_fn(handler)).await
//! }
//! ```
//!
//! write `slcl_guest::main!(handler);` (or `slcl_guest::main!(service_fn(handler));`, or
//! any [`Service`] expression). A component has no `main` loop that polls for events: the
//! host calls the exported handler once per invocation, on a warm instance when it has
//! one. Whatever `main` did once at start-up (building SDK clients, reading config) goes
//! into a lazily initialised static or into the service value passed to `main!`, which is
//! built on the first invocation and kept for the instance's lifetime.
//!
//! Events are any `serde::de::DeserializeOwned` type (the `aws_lambda_events` crate's
//! types, your own structs, `serde_json::Value`); results any `serde::Serialize` type.
//!
//! # Calling AWS from a function
//!
//! With the default `aws` feature, [`aws_config()`] returns an `aws_types::SdkConfig` that
//! routes the official AWS SDK clients through the host (see the [`aws`](mod@aws) module):
//!
//! ```ignore
//! let s3 = aws_sdk_s3::Client::new(&slcl_guest::aws_config().await);
//! ```
//!
//! # The host contract
//!
//! Every invocation is one `wasi:http` request, shaped as the Lambda Runtime Interface
//! Emulator's: `POST /2015-03-31/functions/function/invocations`, body = event JSON,
//! headers `lambda-runtime-aws-request-id`, `lambda-runtime-deadline-ms` (Unix ms),
//! `lambda-runtime-invoked-function-arn`, `lambda-runtime-trace-id`, and optionally
//! `lambda-runtime-client-context` / `lambda-runtime-cognito-identity` (JSON). Method and
//! path are not checked; missing headers leave the [`Context`] field at its default.
//!
//! | outcome | response |
//! |---|---|
//! | handler returned `Ok(r)` | `200`, `content-type: application/json`, body = `r` as JSON |
//! | handler returned `Err(e)` | `500`, body = `{"errorType","errorMessage"}` ([`Diagnostic`] of `e`), header `lambda-runtime-function-error-type` |
//! | event JSON does not fit the handler's type | as an error, `errorType` `&slcl_guest::deserializer::DeserializeError` |
//! | handler panicked | the component traps (wasm32 panics abort); the host reports it |
//!
//! Function errors are also written to stderr, as `lambda_runtime` logs them.

#![deny(missing_docs)]

use std::{
    future::Future,
    task::{Context as TaskContext, Poll},
};

#[cfg(feature = "aws")]
pub mod aws;
mod context;
pub mod deserializer;
mod diagnostic;
#[doc(hidden)]
pub mod runtime;

#[cfg(feature = "aws")]
pub use aws::{aws_config, aws_config_builder};
pub use context::{
    ClientApplication, ClientContext, CognitoIdentity, Config, Context, RefConfig,
    CLIENT_CONTEXT_HEADER, COGNITO_IDENTITY_HEADER, DEADLINE_HEADER, FUNCTION_ARN_HEADER,
    REQUEST_ID_HEADER, TRACE_ID_HEADER,
};
pub use diagnostic::{Diagnostic, IntoDiagnostic};
pub use runtime::FUNCTION_ERROR_TYPE_HEADER;
pub use tower_service::Service;

/// The error type most handlers return, as `lambda_runtime::Error`: any error converts
/// into it with `?`.
pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An event together with the context of its invocation, as `lambda_runtime::LambdaEvent`.
#[derive(Clone, Debug)]
pub struct LambdaEvent<T> {
    /// The event, deserialized from the invocation body.
    pub payload: T,
    /// The invocation's context.
    pub context: Context,
}

impl<T> LambdaEvent<T> {
    /// Pairs a payload with its context.
    pub fn new(payload: T, context: Context) -> Self {
        LambdaEvent { payload, context }
    }

    /// Splits the event into payload and context.
    pub fn into_parts(self) -> (T, Context) {
        (self.payload, self.context)
    }
}

/// Wraps an `async fn(LambdaEvent<T>) -> Result<R, E>` into a [`Service`], as
/// `lambda_runtime::service_fn` (tower's) does.
pub fn service_fn<F>(f: F) -> ServiceFn<F> {
    ServiceFn { f }
}

/// The [`Service`] returned by [`service_fn`].
#[derive(Clone, Copy, Debug)]
pub struct ServiceFn<F> {
    f: F,
}

impl<F, Fut, Request, R, E> Service<Request> for ServiceFn<F>
where
    F: FnMut(Request) -> Fut,
    Fut: Future<Output = Result<R, E>>,
{
    type Response = R;
    type Error = E;
    type Future = Fut;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), E>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Fut {
        (self.f)(request)
    }
}

/// Exports a handler as this component's `wasi:http/incoming-handler`.
///
/// Takes either the path of an `async fn(LambdaEvent<T>) -> Result<R, E>` or any
/// expression that evaluates to a [`Service<LambdaEvent<T>>`](Service), such as
/// `service_fn(handler)` or a struct holding clients. `T` must be `DeserializeOwned`,
/// `R` `Serialize`, and `E` convert into [`Diagnostic`] (true for [`Error`], `Box<E>` of
/// any error type, `String`, `&'static str`, [`std::io::Error`] and [`Diagnostic`]).
///
/// ```no_run
/// async fn handler(event: slcl_guest::LambdaEvent<serde_json::Value>) -> Result<serde_json::Value, slcl_guest::Error> {
///     Ok(event.payload)
/// }
/// slcl_guest::main!(handler);
/// ```
///
/// The service expression is evaluated once per instance, on its first invocation, and
/// the value is reused for every later invocation of that instance.
///
/// Use it once, at the crate root of a `bin` (`src/main.rs`) or `cdylib` crate built for
/// `wasm32-wasip2`. It also defines the `fn main` a binary crate needs (never called).
#[macro_export]
macro_rules! main {
    ($($handler:ident)::+ $(,)?) => {
        $crate::main!(@export $crate::service_fn($($handler)::+));
    };
    (@export $service:expr) => {
        #[doc(hidden)]
        struct __SlclGuestHandler;

        impl $crate::runtime::wasip2::exports::http::incoming_handler::Guest for __SlclGuestHandler {
            fn handle(
                request: $crate::runtime::wasip2::http::types::IncomingRequest,
                response_out: $crate::runtime::wasip2::http::types::ResponseOutparam,
            ) {
                $crate::runtime::handle(request, response_out, || $service)
            }
        }

        $crate::runtime::wasip2::http::proxy::export!(
            __SlclGuestHandler with_types_in $crate::runtime::wasip2
        );

        // A component is driven through the `handle` export; this only satisfies rustc's
        // need for a `main` in a binary crate.
        #[allow(dead_code)]
        fn main() {
            ::core::unreachable!("a slcl function is invoked through wasi:http/incoming-handler, not run")
        }
    };
    ($service:expr $(,)?) => {
        $crate::main!(@export $service);
    };
}
