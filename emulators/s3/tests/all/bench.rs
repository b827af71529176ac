//! A rough in-process cost check for small objects (no HTTP): run with
//! `cargo test --release -p slcl-s3 --test all -- --ignored bench --nocapture`.

use std::time::Instant;

use http_body_util::BodyExt;
use slcl_core::{RequestContext, Service, StackContext, SystemClock, TraceContext};

fn cx() -> RequestContext {
    RequestContext {
        region: "us-east-1".into(),
        account_id: "000000000000".into(),
        request_id: "BENCH".into(),
        trace: TraceContext::default(),
    }
}

fn request(method: &str, uri: &str, body: &'static [u8]) -> slcl_core::Request {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "localhost")
        .header("content-length", body.len())
        .body(slcl_core::body::full(body))
        .unwrap()
}

#[test]
#[ignore = "benchmark"]
fn bench_small_put_get() {
    static DATA: [u8; 1024] = [7u8; 1024];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = slcl_store::Store::temporary().unwrap();
    let s3 = slcl_s3::S3Service::new(
        store,
        slcl_bus::Bus::new(),
        SystemClock::shared(),
        StackContext::default(),
    )
    .unwrap();
    s3.ensure_bucket("bench").unwrap();
    let n = 5000;
    rt.block_on(async {
        let start = Instant::now();
        for i in 0..n {
            let resp = s3
                .call(request("PUT", &format!("/bench/key-{i}"), &DATA), cx())
                .await;
            assert_eq!(resp.status(), 200);
        }
        let put = start.elapsed() / n;
        let start = Instant::now();
        for i in 0..n {
            let resp = s3
                .call(request("GET", &format!("/bench/key-{i}"), b""), cx())
                .await;
            assert_eq!(resp.status(), 200);
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body.len(), 1024);
        }
        let get = start.elapsed() / n;
        eprintln!("1 KiB PutObject: {put:?} per request, GetObject: {get:?} per request");
    });
}
