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

#[test]
fn startup_errors_name_the_problem() {
    let missing = tempfile::tempdir().unwrap();
    let err = Slcl::up_fails(&missing.path().join("no-such-project"));
    assert!(err.contains("does not exist"), "{err}");

    let typo = project("[functions.f]\nwasm = \"f.wasm\"\nmemroy = 256\n");
    let err = Slcl::up_fails(typo.path());
    assert!(err.contains("memroy"), "{err}");

    let bad_event = project(&format!(
        "[functions.f]\nwasm = {}\n[[buckets.inbox.notifications]]\nfunction = \"f\"\nevents = [\"s3:ObjectCreated:Putt\"]\n",
        crate::common::toml_path(slcl_fixtures::ECHO)
    ));
    let err = Slcl::up_fails(bad_event.path());
    assert!(err.contains("s3:ObjectCreated:Putt"), "{err}");

    let unknown_arn = project(
        "[[buckets.inbox.notifications]]\nfunction = \"arn:aws:lambda:us-east-1:000000000000:function:nothere\"\n",
    );
    let err = Slcl::up_fails(unknown_arn.path());
    assert!(
        err.contains("function:nothere") && err.contains("does not exist"),
        "{err}"
    );

    // One process per state folder: a second `slcl up` on the same project is refused.
    let shared = project("");
    let _first = Slcl::up(shared.path());
    let err = Slcl::up_fails(shared.path());
    assert!(err.contains("in use by another slcl process"), "{err}");
}
