//! The edge: health endpoints and requests slcl cannot serve.

use serde_json::Value;

use crate::common::{project, Slcl};

#[test]
fn health_and_unserved_requests() {
    let dir = project("");
    let slcl = Slcl::up(dir.path());
    for path in ["/_slcl/health", "/_localstack/health"] {
        let (status, body) = slcl.http("GET", path);
        assert_eq!(status, 200);
        let doc: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["services"]["s3"], "running");
        assert_eq!(doc["services"]["lambda"], "running");
    }
    // A service slcl does not emulate: a clear NotImplemented in the client's protocol.
    let out = slcl.aws(&["dynamodb", "list-tables"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("NotImplemented") && err.contains("dynamodb"),
        "{err}"
    );
    let out = slcl.aws(&["sns", "list-topics"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("NotImplemented") && err.contains("sns"),
        "{err}"
    );
    // An S3 operation slcl does not support yet names itself.
    slcl.aws_ok(&["s3api", "create-bucket", "--bucket", "site"]);
    let out = slcl.aws(&["s3api", "get-bucket-website", "--bucket", "site"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NotImplemented"), "{err}");
    // Empty stack with no slcl.toml serves.
    let empty = tempfile::tempdir().unwrap();
    let bare = Slcl::up(empty.path());
    assert_eq!(bare.http("GET", "/_slcl/health").0, 200);
}
