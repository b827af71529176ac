use std::sync::atomic::{AtomicU64, Ordering};
use wstd::http::{Body, Client, Error, Request, Response, StatusCode};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn json(status: u16, v: serde_json::Value) -> Result<Response<Body>, Error> {
    Ok(Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json")
        .body(Body::from(v.to_string()))?)
}

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, Error> {
    let (parts, mut body) = request.into_parts();
    let bytes = body.contents().await?.to_vec();
    let event: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    let action = event.get("action").and_then(|a| a.as_str()).unwrap_or("echo").to_string();
    match action.as_str() {
        "echo" => Ok(Response::new(Body::from(bytes))),
        "error" => json(500, serde_json::json!({"errorType": "MyError", "errorMessage": "boom"})),
        "raw-error" => Ok(Response::builder().status(502).body(Body::from("not json at all"))?),
        "panic" => panic!("kaboom"),
        "loop" => {
            let mut x: u64 = 0;
            loop {
                x = x.wrapping_add(1);
                std::hint::black_box(x);
            }
        }
        "hog" => {
            let mb = event.get("mb").and_then(|v| v.as_u64()).unwrap_or(1024) as usize;
            let mut v: Vec<Vec<u8>> = Vec::new();
            for _ in 0..mb {
                v.push(vec![1u8; 1024 * 1024]);
            }
            json(200, serde_json::json!({"allocated_mb": v.len()}))
        }
        "sleep" => {
            let ms = event.get("ms").and_then(|v| v.as_u64()).unwrap_or(100);
            wstd::task::sleep(wstd::time::Duration::from_millis(ms)).await;
            json(200, serde_json::json!({"slept": ms}))
        }
        "counter" => {
            let n = COUNTER.fetch_add(1, Ordering::SeqCst) + 1;
            json(200, serde_json::json!({"count": n}))
        }
        "headers" => {
            let mut m = serde_json::Map::new();
            for (k, v) in parts.headers.iter() {
                m.insert(k.to_string(), v.to_str().unwrap_or("").into());
            }
            m.insert("uri".into(), parts.uri.to_string().into());
            m.insert("method".into(), parts.method.to_string().into());
            json(200, serde_json::Value::Object(m))
        }
        "env" => {
            let m: serde_json::Map<String, serde_json::Value> =
                std::env::vars().map(|(k, v)| (k, v.into())).collect();
            json(200, serde_json::Value::Object(m))
        }
        "log" => {
            println!("hello from stdout");
            print!("partial ");
            println!("line");
            eprintln!("hello from stderr");
            json(200, serde_json::json!({"logged": true}))
        }
        "fetch" => {
            let url = event.get("url").and_then(|v| v.as_str()).unwrap_or("http://example.com/");
            let method = event.get("method").and_then(|v| v.as_str()).unwrap_or("GET");
            let payload = event.get("body").and_then(|v| v.as_str()).unwrap_or("").to_string();
            let req = Request::builder()
                .method(method)
                .uri(url)
                .header("x-test", "1")
                .body(Body::from(payload))?;
            match Client::new().send(req).await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let mut b = resp.into_body();
                    let text = String::from_utf8_lossy(&b.contents().await?).to_string();
                    json(200, serde_json::json!({"status": status, "body": text}))
                }
                Err(e) => json(200, serde_json::json!({"fetch_error": format!("{e:?}")})),
            }
        }
        other => json(400, serde_json::json!({"errorType": "UnknownAction", "errorMessage": other})),
    }
}
