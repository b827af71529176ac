//! Lambda through the real `aws` CLI and boto3: invoke, errors, log tail, hot reload.

use std::time::Duration;

use serde_json::Value;

use crate::common::{eventually, project, toml_path, Slcl};

fn functions_project() -> tempfile::TempDir {
    let dir = project("");
    // The hot-reload test swaps this copy; the fixture itself stays untouched.
    std::fs::copy(slcl_fixtures::ECHO, dir.path().join("swap.wasm")).unwrap();
    std::fs::write(
        dir.path().join("slcl.toml"),
        format!(
            r#"
[functions.echo]
wasm = {}
memory = 256

[functions.fails]
wasm = {}

[functions.swap]
wasm = "swap.wasm"
env = {{ GREETING = "hi" }}
"#,
            toml_path(slcl_fixtures::ECHO),
            toml_path(slcl_fixtures::ERROR),
        ),
    )
    .unwrap();
    dir
}

#[test]
fn invoke_with_cli_and_boto3() {
    let dir = functions_project();
    let slcl = Slcl::up(dir.path());
    let out = dir.path().join("out.json");
    let meta: Value = serde_json::from_str(&slcl.aws_ok(&[
        "lambda",
        "invoke",
        "--function-name",
        "echo",
        "--payload",
        r#"{"hello":"wörld"}"#,
        "--log-type",
        "Tail",
        out.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(meta["StatusCode"], 200);
    assert_eq!(meta["ExecutedVersion"], "$LATEST");
    assert!(meta.get("FunctionError").is_none());
    let result: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(result, serde_json::json!({"hello": "wörld"}));
    let log = slcl.python(
        "import base64\nprint(base64.b64decode(sys.argv[1]).decode())",
        &[meta["LogResult"].as_str().unwrap()],
    );
    assert!(
        log.contains("START RequestId: ") && log.contains("REPORT RequestId: "),
        "{log}"
    );
    assert!(log.contains("Memory Size: 256 MB"), "{log}");

    // boto3, by ARN, with a function error.
    let got = slcl.python(
        "r = client('lambda').invoke(FunctionName='arn:aws:lambda:us-east-1:000000000000:function:fails', Payload=json.dumps({'message': 'boom'}))\nprint(json.dumps({'status': r['StatusCode'], 'error': r.get('FunctionError'), 'payload': json.loads(r['Payload'].read())}))",
        &[],
    );
    let got: Value = serde_json::from_str(got.trim()).unwrap();
    assert_eq!(got["status"], 200);
    assert_eq!(got["error"], "Unhandled");
    assert_eq!(got["payload"]["errorMessage"], "boom");
    assert!(got["payload"]["errorType"].is_string());

    // Async: 202, and the function runs.
    let meta: Value = serde_json::from_str(&slcl.aws_ok(&[
        "lambda",
        "invoke",
        "--function-name",
        "echo",
        "--invocation-type",
        "Event",
        "--payload",
        r#"{"async":true}"#,
        out.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(meta["StatusCode"], 202);
    let dry: Value = serde_json::from_str(&slcl.aws_ok(&[
        "lambda",
        "invoke",
        "--function-name",
        "echo",
        "--invocation-type",
        "DryRun",
        out.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(dry["StatusCode"], 204);
}

#[test]
fn lambda_errors_are_aws_shaped() {
    let dir = functions_project();
    let slcl = Slcl::up(dir.path());
    let out = dir.path().join("out.json");
    let missing = slcl.aws(&[
        "lambda",
        "invoke",
        "--function-name",
        "nope",
        out.to_str().unwrap(),
    ]);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("ResourceNotFoundException") && err.contains("function:nope"),
        "{err}"
    );
    let bad_json = slcl.aws(&[
        "lambda",
        "invoke",
        "--function-name",
        "echo",
        "--payload",
        "{not json",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&bad_json.stderr);
    assert!(err.contains("InvalidRequestContentException"), "{err}");
    let unsupported = slcl.aws(&["lambda", "list-layers"]);
    let err = String::from_utf8_lossy(&unsupported.stderr);
    assert!(
        err.contains("NotImplemented") && err.contains("ListLayers"),
        "{err}"
    );

    let conf: Value = serde_json::from_str(&slcl.aws_ok(&[
        "lambda",
        "get-function-configuration",
        "--function-name",
        "swap",
    ]))
    .unwrap();
    assert_eq!(
        conf["FunctionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:swap"
    );
    assert_eq!(conf["Environment"]["Variables"]["GREETING"], "hi");
    assert_eq!(conf["Timeout"], 3);
    assert_eq!(conf["MemorySize"], 128);
    let list: Value =
        serde_json::from_str(&slcl.aws_ok(&["lambda", "list-functions", "--max-items", "2"]))
            .unwrap();
    assert_eq!(list["Functions"].as_array().unwrap().len(), 2);
    assert!(list["NextToken"].is_string(), "{list}");
}

#[test]
fn changed_wasm_serves_the_next_invocation_without_restart() {
    let dir = functions_project();
    let slcl = Slcl::up(dir.path());
    let out = dir.path().join("out.json");
    let invoke = || {
        slcl.aws_ok(&[
            "lambda",
            "invoke",
            "--function-name",
            "swap",
            "--payload",
            r#"{"x":1}"#,
            out.to_str().unwrap(),
        ]);
        serde_json::from_slice::<Value>(&std::fs::read(&out).unwrap()).unwrap()
    };
    assert_eq!(invoke(), serde_json::json!({"x": 1}));
    let before: Value =
        serde_json::from_str(&slcl.aws_ok(&["lambda", "get-function", "--function-name", "swap"]))
            .unwrap();
    // Replace the code the way a build does: write a new file over the old one.
    std::fs::copy(slcl_fixtures::CONTEXT, dir.path().join("swap.wasm.tmp")).unwrap();
    std::fs::rename(
        dir.path().join("swap.wasm.tmp"),
        dir.path().join("swap.wasm"),
    )
    .unwrap();
    let after = eventually(Duration::from_secs(30), "the reloaded code", || {
        let v = invoke();
        v.get("request_id").is_some().then_some(v)
    });
    assert_eq!(after["function_name"], "swap");
    let now: Value =
        serde_json::from_str(&slcl.aws_ok(&["lambda", "get-function", "--function-name", "swap"]))
            .unwrap();
    assert_ne!(
        before["Configuration"]["CodeSha256"],
        now["Configuration"]["CodeSha256"]
    );
}

#[test]
fn function_sees_lambda_context_and_environment() {
    let dir = project(&format!(
        "[functions.ctx]\nwasm = {}\nmemory = 512\ntimeout = 7\nenv = {{ COLOUR = \"blue\" }}\n",
        toml_path(slcl_fixtures::CONTEXT)
    ));
    let slcl = Slcl::up(dir.path());
    let got = slcl.python(
        "import base64\ncc = base64.b64encode(json.dumps({'custom': {'app': 'demo'}, 'env': {'locale': 'en'}}).encode()).decode()\nr = client('lambda').invoke(FunctionName='ctx', Payload=b'{}', ClientContext=cc)\nprint(json.dumps({'id': r['ResponseMetadata']['RequestId'], 'body': json.loads(r['Payload'].read())}))",
        &[],
    );
    let got: Value = serde_json::from_str(got.trim()).unwrap();
    let ctx = &got["body"];
    assert_eq!(
        ctx["request_id"], got["id"],
        "the invocation's request id is the API's"
    );
    assert_eq!(
        ctx["invoked_function_arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:ctx"
    );
    assert_eq!(ctx["function_name"], "ctx");
    assert_eq!(ctx["memory"], 512);
    assert_eq!(ctx["version"], "$LATEST");
    assert_eq!(ctx["log_group"], "/aws/lambda/ctx");
    let remaining = ctx["remaining_ms"].as_u64().unwrap();
    assert!(
        remaining > 5_000 && remaining <= 7_000,
        "remaining {remaining} ms of a 7 s timeout"
    );
    assert_eq!(ctx["client_context"]["custom"]["app"], "demo");
    let env = &ctx["env"];
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "ctx");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "512");
    assert_eq!(env["AWS_ENDPOINT_URL"], slcl.endpoint.as_str());
    assert!(env["AWS_ACCESS_KEY_ID"].is_string() && env["AWS_SECRET_ACCESS_KEY"].is_string());
    assert!(
        ctx["xray_trace_id"]
            .as_str()
            .unwrap()
            .starts_with("Root=1-"),
        "{ctx}"
    );
    // A client context that is not base64 JSON is refused, as Lambda does.
    let out = slcl.aws(&[
        "lambda",
        "invoke",
        "--function-name",
        "ctx",
        "--client-context",
        "!!notbase64",
        dir.path().join("o.json").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("InvalidRequestContentException"), "{err}");
}
