//! One invocation, from the incoming `wasi:http` request to the response.
//!
//! Everything here is reached only through [`main!`](crate::main); it is public (and
//! hidden) because macro expansions in the user's crate must name it.

use std::{any::Any, cell::RefCell, future::poll_fn};

use serde::{de::DeserializeOwned, Serialize};
use tower_service::Service;
use wstd::http::{body::Body, server::Responder, HeaderValue, Request, Response, StatusCode};

use crate::{deserializer, Context, Diagnostic, LambdaEvent};

use wasip2::http::types::{IncomingRequest, ResponseOutparam};
pub use wstd::__internal::wasip2;

/// Response header naming the `errorType` of a function error, as the Lambda Runtime API's
/// `Lambda-Runtime-Function-Error-Type` request header does. Set only on error responses.
pub const FUNCTION_ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";

thread_local! {
    /// The handler service, built on the first invocation of this instance and reused for
    /// every later (warm) one, as `lambda_runtime::run` keeps one service for the process.
    static SERVICE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Handles one `wasi:http/incoming-handler.handle` call: the body of the export that
/// [`main!`](crate::main) generates.
pub fn handle<S, T>(request: IncomingRequest, response_out: ResponseOutparam, make: fn() -> S)
where
    S: Service<LambdaEvent<T>> + 'static,
    S::Response: Serialize,
    S::Error: Into<Diagnostic>,
    T: DeserializeOwned,
{
    let responder = Responder::new(response_out);
    wstd::runtime::block_on(async move {
        let request = match wstd::http::request::try_from_incoming(request) {
            Ok(request) => request,
            Err(err) => return responder.fail(err),
        };
        let response = invoke::<S, T>(request, make).await;
        if let Err(err) = responder.respond(response).await {
            // The host went away while we wrote the body: nobody is left to tell.
            eprintln!("slcl-guest: failed to send the invocation response: {err:?}");
        }
    })
}

async fn invoke<S, T>(request: Request<Body>, make: fn() -> S) -> Response<Body>
where
    S: Service<LambdaEvent<T>> + 'static,
    S::Response: Serialize,
    S::Error: Into<Diagnostic>,
    T: DeserializeOwned,
{
    let (parts, mut body) = request.into_parts();
    let context = Context::from_headers(&parts.headers);
    let body = match body.contents().await {
        Ok(body) => body,
        Err(err) => {
            return error_response(Diagnostic {
                error_type: "Runtime.RequestBodyError".into(),
                error_message: format!("failed to read the invocation body: {err}"),
            })
        }
    };
    let payload = match deserializer::deserialize::<T>(body) {
        Ok(payload) => payload,
        Err(err) => return error_response(err.into()),
    };

    let future = match call(LambdaEvent::new(payload, context), make).await {
        Ok(future) => future,
        Err(diagnostic) => return error_response(diagnostic),
    };
    match future.await {
        Ok(result) => match serde_json::to_vec(&result) {
            Ok(json) => json_response(StatusCode::OK, json),
            Err(err) => error_response(Diagnostic {
                error_type: "Runtime.SerializationError".into(),
                error_message: format!("failed to serialize the function's result: {err}"),
            }),
        },
        Err(err) => error_response(err.into()),
    }
}

/// Waits until the instance's service is ready and starts the call. The future returned
/// does not borrow the service, so the `RefCell` borrow ends before it is awaited.
async fn call<S, T>(event: LambdaEvent<T>, make: fn() -> S) -> Result<S::Future, Diagnostic>
where
    S: Service<LambdaEvent<T>> + 'static,
    S::Error: Into<Diagnostic>,
{
    poll_fn(|cx| SERVICE.with_borrow_mut(|slot| service(slot, make).poll_ready(cx)))
        .await
        .map_err(Into::into)?;
    Ok(SERVICE.with_borrow_mut(|slot| service(slot, make).call(event)))
}

fn service<S: 'static>(slot: &mut Option<Box<dyn Any>>, make: fn() -> S) -> &mut S {
    slot.get_or_insert_with(|| Box::new(make()))
        .downcast_mut::<S>()
        .expect("one component exports one handler service type")
}

fn json_response(status: StatusCode, json: Vec<u8>) -> Response<Body> {
    let length = HeaderValue::from(json.len());
    let mut response = Response::new(Body::from(json));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("content-length", length);
    response
}

/// A function error: 500 with `{"errorType", "errorMessage"}`, and the error type repeated
/// in the [`FUNCTION_ERROR_TYPE_HEADER`] header (when it is a valid header value).
fn error_response(diagnostic: Diagnostic) -> Response<Body> {
    eprintln!(
        "slcl-guest: function error {}: {}",
        diagnostic.error_type, diagnostic.error_message
    );
    let json = serde_json::to_vec(&diagnostic).expect("a Diagnostic always serializes");
    let mut response = json_response(StatusCode::INTERNAL_SERVER_ERROR, json);
    if let Ok(value) = HeaderValue::from_str(&diagnostic.error_type) {
        response
            .headers_mut()
            .insert(FUNCTION_ERROR_TYPE_HEADER, value);
    }
    response
}
