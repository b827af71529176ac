//! Guests' outgoing `wasi:http` requests: which hosts are AWS (dispatched in-process
//! to the fakes) and which are denied.

use std::future::Future;
use std::sync::Arc;

use http_body_util::BodyExt;
use slcl_core::{Dispatcher, TraceContext};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::logs::LogCapture;

/// Decides which authorities are dispatched in-process.
#[derive(Debug, Clone)]
pub(crate) struct HostRules {
    endpoint_host: String,
    endpoint_port: u16,
    allowed: Vec<(String, Option<u16>)>,
}

impl HostRules {
    pub(crate) fn new(endpoint_url: &str, allowed_hosts: &[String]) -> HostRules {
        let (endpoint_host, endpoint_port) = match endpoint_url.parse::<http::Uri>() {
            Ok(uri) => {
                let default_port = if uri.scheme_str() == Some("https") {
                    443
                } else {
                    80
                };
                (
                    uri.host().unwrap_or("127.0.0.1").to_ascii_lowercase(),
                    uri.port_u16().unwrap_or(default_port),
                )
            }
            Err(_) => ("127.0.0.1".to_owned(), 4566),
        };
        let allowed = allowed_hosts
            .iter()
            .map(|entry| split_host_port(&entry.to_ascii_lowercase()))
            .collect();
        HostRules {
            endpoint_host,
            endpoint_port,
            allowed,
        }
    }

    /// Whether a request to `host` (lowercase, without brackets) on `port` goes to the
    /// in-process fakes.
    pub(crate) fn allows(&self, host: &str, port: u16) -> bool {
        let host = host.trim_end_matches('.');
        let loopback = matches!(host, "localhost" | "127.0.0.1" | "::1");
        host == "amazonaws.com"
            || host.ends_with(".amazonaws.com")
            || host == "localhost.localstack.cloud"
            || host.ends_with(".localhost.localstack.cloud")
            || host.ends_with(".localhost")
            || (loopback && port == self.endpoint_port)
            || (host == self.endpoint_host && port == self.endpoint_port)
            || self
                .allowed
                .iter()
                .any(|(h, p)| h == host && p.is_none_or(|p| p == port))
    }
}

fn split_host_port(authority: &str) -> (String, Option<u16>) {
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if let Some(rest) = authority.strip_prefix('[') {
        // [::1]:4566
        if let Some((host, tail)) = rest.split_once(']') {
            let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
            return (host.to_owned(), port);
        }
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(port) => (host.to_owned(), Some(port)),
            Err(_) => (authority.to_owned(), None),
        },
        _ => (authority.to_owned(), None),
    }
}

/// State the outgoing hooks share across all instances of a runtime.
pub(crate) struct Outbound {
    pub(crate) dispatcher: Arc<dyn Dispatcher>,
    pub(crate) rules: HostRules,
}

/// The per-instance [`WasiHttpHooks`]: routes allowed requests to the dispatcher.
pub(crate) struct OutboundHooks {
    pub(crate) shared: Arc<Outbound>,
    pub(crate) capture: Arc<LogCapture>,
    /// Trace of the invocation running on this instance right now.
    pub(crate) trace: TraceContext,
}

type SendResult = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ),
    HttpError,
>;

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let uri = request.uri();
        let https = uri.scheme_str() == Some("https");
        let host = uri.host().unwrap_or("").to_ascii_lowercase();
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        if !self.shared.rules.allows(&host, port) {
            let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
            self.capture.host_line(&format!(
                "slcl: denied outgoing request to {authority}: functions may only call AWS \
                 endpoints, which slcl answers in-process; add \"{authority}\" to the \
                 runtime's allowed_hosts to dispatch it in-process too"
            ));
            tracing::warn!(%authority, "denied outgoing request from function");
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        tracing::debug!(method = %request.method(), uri = %request.uri(), "dispatching guest request");
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, slcl_core::body::boxed(body));
        let response = self.shared.dispatcher.dispatch(request, self.trace.clone());
        Box::new(async move {
            let response = response.await.map(|body| {
                body.map_err(|e| HttpError::InternalError(Some(e.to_string())))
                    .boxed_unsync()
            });
            let io: Box<dyn Future<Output = Result<(), HttpError>> + Send> =
                Box::new(async { Ok(()) });
            Ok((response, io))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_rules() {
        let rules = HostRules::new(
            "http://127.0.0.1:4566",
            &["api.internal".into(), "db:5432".into()],
        );
        assert!(rules.allows("s3.us-east-1.amazonaws.com", 443));
        assert!(rules.allows("bucket.s3.amazonaws.com", 80));
        assert!(rules.allows("localhost", 4566));
        assert!(rules.allows("127.0.0.1", 4566));
        assert!(!rules.allows("127.0.0.1", 8080));
        assert!(rules.allows("sqs.localhost.localstack.cloud", 4566));
        assert!(rules.allows("my-api.execute-api.localhost", 80));
        assert!(rules.allows("api.internal", 9999));
        assert!(rules.allows("db", 5432));
        assert!(!rules.allows("db", 5433));
        assert!(!rules.allows("example.com", 443));
        assert!(!rules.allows("amazonaws.com.evil.net", 443));

        let rules = HostRules::new("http://slcl.test:4566", &[]);
        assert!(rules.allows("slcl.test", 4566));
        assert!(!rules.allows("slcl.test", 80));
    }

    #[test]
    fn split() {
        assert_eq!(split_host_port("a:1"), ("a".into(), Some(1)));
        assert_eq!(split_host_port("a"), ("a".into(), None));
        assert_eq!(split_host_port("[::1]:2"), ("::1".into(), Some(2)));
    }
}
