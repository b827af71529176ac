use std::sync::{Arc, OnceLock};

use crate::{body, BoxFuture, Request, Response};

/// Where a stack runs: its region, account and the endpoint clients use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackContext {
    /// AWS region the stack pretends to be. Default `us-east-1`.
    pub region: String,
    /// AWS account id of every resource. Default `000000000000` (as LocalStack).
    pub account_id: String,
    /// Base URL clients and guests use to reach the stack, such as
    /// `http://127.0.0.1:4566`. Filled in once the edge has bound its port.
    pub endpoint_url: String,
}

impl Default for StackContext {
    fn default() -> Self {
        StackContext {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            endpoint_url: "http://127.0.0.1:4566".into(),
        }
    }
}

/// The trace a request or delivery belongs to, and the step that caused it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TraceContext {
    /// X-Ray style trace id shared by every step of one causal chain.
    pub trace_id: String,
    /// Id of the step (request or delivery) that caused this one, if any.
    pub parent_id: Option<String>,
}

/// Per-request facts the edge works out before handing a request to a service.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Region from the SigV4 credential scope, or the stack's default.
    pub region: String,
    /// Account id of the caller (always the stack's account today).
    pub account_id: String,
    /// Id of this request, returned in the service's request-id header.
    pub request_id: String,
    /// Trace this request belongs to.
    pub trace: TraceContext,
}

/// Health of one service as `/_slcl/health` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceHealth {
    /// Serving requests.
    Running,
    /// Present but not able to serve (for example, failed to load state).
    Error,
}

impl ServiceHealth {
    /// The word LocalStack's health endpoint uses for this state.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceHealth::Running => "running",
            ServiceHealth::Error => "error",
        }
    }
}

/// An emulated AWS service.
///
/// The edge identifies which service a request is for (by SigV4 scope, target header,
/// host name or path) and calls [`Service::call`]. The service decodes the request in
/// its own protocol, performs the operation and encodes the result.
///
/// Contract: `call` always produces a response. Bad input becomes the AWS-shaped error
/// of the service's protocol (4xx), an operation the service does not implement
/// becomes a `NotImplemented` error naming it, and only real internal failures may
/// answer 5xx. `call` must never panic on any input.
pub trait Service: Send + Sync + 'static {
    /// The SigV4 signing name of the service: `s3`, `lambda`, `sqs`, `logs`...
    fn name(&self) -> &'static str;

    /// Answers one request.
    fn call(&self, req: Request, cx: RequestContext) -> BoxFuture<'_, Response>;

    /// Current health, for the health endpoints. Defaults to running.
    fn health(&self) -> ServiceHealth {
        ServiceHealth::Running
    }
}

/// Sends requests to the in-process fakes, exactly as if they had arrived at the edge.
///
/// The runtime hands guests' outgoing AWS requests to a dispatcher, so the official
/// AWS SDKs work inside functions without a network. Implemented by the edge's router.
pub trait Dispatcher: Send + Sync + 'static {
    /// Routes and answers one request. Errors are already encoded in the response.
    fn dispatch(&self, req: Request, trace: TraceContext) -> BoxFuture<'static, Response>;
}

/// A [`Dispatcher`] that is wired after construction.
///
/// The runtime needs a dispatcher before the edge that implements it exists (the edge
/// is built from the services, one of which owns the runtime); this breaks the cycle.
///
/// It holds the dispatcher weakly: the edge owns the services, one service owns the
/// runtime and the runtime owns this, so a strong reference would be a cycle that
/// keeps a stopped stack alive. Whoever serves keeps the dispatcher alive.
#[derive(Default)]
pub struct LateDispatcher {
    inner: OnceLock<std::sync::Weak<dyn Dispatcher>>,
}

impl LateDispatcher {
    /// An unwired dispatcher: until [`LateDispatcher::set`] it answers 503.
    pub fn new() -> Arc<Self> {
        Arc::new(LateDispatcher::default())
    }

    /// Wires the real dispatcher. Later calls are ignored. Once the dispatcher is
    /// dropped (the stack stopped), requests are answered 503.
    pub fn set<D: Dispatcher>(&self, dispatcher: &Arc<D>) {
        let weak: std::sync::Weak<D> = Arc::downgrade(dispatcher);
        let _ = self.inner.set(weak);
    }
}

impl Dispatcher for LateDispatcher {
    fn dispatch(&self, req: Request, trace: TraceContext) -> BoxFuture<'static, Response> {
        match self.inner.get().and_then(std::sync::Weak::upgrade) {
            Some(d) => d.dispatch(req, trace),
            None => Box::pin(async {
                let mut resp = Response::new(body::full("slcl is not ready to dispatch requests"));
                *resp.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                resp
            }),
        }
    }
}

/// The client's socket address, put into request extensions by the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub std::net::SocketAddr);
