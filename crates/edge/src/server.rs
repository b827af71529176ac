use std::future::Future;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use slcl_core::{body, RemoteAddr};
use tokio::net::TcpListener;

use crate::drain::SharedBody;
use crate::Router;

/// Serves HTTP/1.1 (and h2c) on `listener` until `shutdown` completes, then stops
/// accepting and waits for in-flight requests to finish.
pub async fn serve(
    listener: TcpListener,
    router: Arc<Router>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and similar: keep serving the others.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = Arc::clone(&router);
        let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
            let router = Arc::clone(&router);
            req.extensions_mut().insert(RemoteAddr(addr));
            async move {
                let (parts, incoming) = req.into_parts();
                let (shared, leftover) = SharedBody::new(incoming);
                let req = http::Request::from_parts(parts, body::boxed(shared));
                let resp = router.handle(req, None).await;
                leftover.drain().await;
                Ok::<_, std::convert::Infallible>(resp)
            }
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
