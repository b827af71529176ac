//! The Lambda control plane through boto3 and the `aws` CLI: functions created from
//! ZIPs (inline and from S3), configuration and code updates, versions, aliases with
//! weighted routing, reserved concurrency and throttling, permissions, tags, and what
//! survives a restart of `slcl up`.

use serde_json::Value;

use crate::common::{project, Slcl};

/// Python helpers every script here uses: zips of fixtures and an error catcher.
const PY: &str = r#"
import base64, hashlib, io, time, zipfile, botocore
def zip_of(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()
def wasm(path):
    return open(path, 'rb').read()
def sha(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()
def error(call, **kw):
    try:
        call(**kw)
    except botocore.exceptions.ClientError as e:
        return {'code': e.response['Error']['Code'], 'message': e.response['Error'].get('Message', ''),
                'status': e.response['ResponseMetadata']['HTTPStatusCode'], 'reason': e.response.get('Reason')}
    raise AssertionError('no error from %s %s' % (call, kw))
lam = client('lambda', config=Config(retries={'max_attempts': 1}))
ROLE = 'arn:aws:iam::000000000000:role/lambda-role'
"#;

fn run(slcl: &Slcl, script: &str, args: &[&str]) -> Value {
    let out = slcl.python(&format!("{PY}\n{script}"), args);
    let last = out.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn functions_versions_and_aliases_through_boto3_survive_a_restart() {
    let dir = project("");
    let slcl = Slcl::up(dir.path());
    let got = run(
        &slcl,
        r#"
echo_zip = zip_of([('README.txt', b'docs'), ('echo.wasm', wasm(sys.argv[1]))])
created = lam.create_function(FunctionName='api-fn', Runtime='provided.al2023', Role=ROLE,
    Handler='echo.wasm', Code={'ZipFile': echo_zip}, Description='first', Tags={'team': 'a'})
assert created['State'] == 'Pending' and created['StateReasonCode'] == 'Creating', created
lam.get_waiter('function_active_v2').wait(FunctionName='api-fn')
conf = lam.get_function_configuration(FunctionName='api-fn')
assert conf['State'] == 'Active' and conf['LastUpdateStatus'] == 'Successful', conf
assert conf['CodeSha256'] == sha(echo_zip), (conf['CodeSha256'], sha(echo_zip))
assert conf['CodeSize'] == len(echo_zip)
assert conf['Handler'] == 'echo.wasm' and conf['Runtime'] == 'provided.al2023'
assert conf['MemorySize'] == 128 and conf['Timeout'] == 3 and conf['Version'] == '$LATEST'
r = lam.invoke(FunctionName='api-fn', Payload=b'{"n": 1}')
assert json.loads(r['Payload'].read()) == {'n': 1} and r['ExecutedVersion'] == '$LATEST'

upd = lam.update_function_configuration(FunctionName='api-fn', MemorySize=512, Timeout=30,
    Environment={'Variables': {'MODE': 'x'}}, Description='second')
assert upd['LastUpdateStatus'] == 'InProgress', upd
lam.get_waiter('function_updated_v2').wait(FunctionName='api-fn')
conf = lam.get_function_configuration(FunctionName='api-fn')
assert conf['MemorySize'] == 512 and conf['Timeout'] == 30 and conf['Environment'] == {'Variables': {'MODE': 'x'}}
assert conf['LastUpdateStatus'] == 'Successful'

v1 = lam.publish_version(FunctionName='api-fn', Description='v1')
assert v1['Version'] == '1' and v1['FunctionArn'].endswith(':api-fn:1'), v1
again = lam.publish_version(FunctionName='api-fn')
assert again['Version'] == '1', 'unchanged code and configuration publish no new version'

counter_zip = zip_of([('bin/counter.wasm', wasm(sys.argv[2]))])
code = lam.update_function_code(FunctionName='api-fn', ZipFile=counter_zip, Publish=True)
assert code['Version'] == '2' and code['CodeSha256'] == sha(counter_zip), code
assert code['Handler'] == 'bin/counter.wasm', code['Handler']
versions = [v['Version'] for v in lam.list_versions_by_function(FunctionName='api-fn')['Versions']]
assert versions == ['$LATEST', '1', '2'], versions
page = lam.list_versions_by_function(FunctionName='api-fn', MaxItems=2)
assert len(page['Versions']) == 2 and 'NextMarker' in page
rest = lam.list_versions_by_function(FunctionName='api-fn', Marker=page['NextMarker'])
assert [v['Version'] for v in rest['Versions']] == ['2']

one = lam.invoke(FunctionName='api-fn', Qualifier='1', Payload=b'{"v": 1}')
assert one['ExecutedVersion'] == '1' and json.loads(one['Payload'].read()) == {'v': 1}
two = lam.invoke(FunctionName='api-fn:2', Payload=b'{}')
assert two['ExecutedVersion'] == '2' and 'count' in json.loads(two['Payload'].read())
v1conf = lam.get_function_configuration(FunctionName='api-fn', Qualifier='1')
assert v1conf['Description'] == 'v1' and v1conf['CodeSha256'] == sha(echo_zip)

alias = lam.create_alias(FunctionName='api-fn', Name='live', FunctionVersion='1',
    RoutingConfig={'AdditionalVersionWeights': {'2': 0.5}})
assert alias['AliasArn'].endswith(':api-fn:live') and alias['FunctionVersion'] == '1'
seen = set()
for _ in range(40):
    seen.add(lam.invoke(FunctionName='api-fn', Qualifier='live', Payload=b'{}')['ExecutedVersion'])
assert seen == {'1', '2'}, seen
# Describing the alias is describing its own version, whatever the weights.
described = {lam.get_function_configuration(FunctionName='api-fn', Qualifier='live')['Version'] for _ in range(20)}
described |= {lam.get_function(FunctionName='api-fn:live')['Configuration']['Version'] for _ in range(20)}
assert described == {'1'}, described
dup = error(lam.create_alias, FunctionName='api-fn', Name='live', FunctionVersion='1')
busy = error(lam.delete_function, FunctionName='api-fn', Qualifier='2')
lam.update_alias(FunctionName='api-fn', Name='live', FunctionVersion='2', RoutingConfig={'AdditionalVersionWeights': {}})
got_alias = lam.get_alias(FunctionName='api-fn', Name='live')
assert got_alias['FunctionVersion'] == '2' and 'RoutingConfig' not in got_alias, got_alias
assert [a['Name'] for a in lam.list_aliases(FunctionName='api-fn')['Aliases']] == ['live']
assert lam.invoke(FunctionName='api-fn:live', Payload=b'{}')['ExecutedVersion'] == '2'
by_alias = lam.get_function(FunctionName='api-fn', Qualifier='live')
assert by_alias['Configuration']['FunctionArn'].endswith(':api-fn:live') and by_alias['Configuration']['Version'] == '2'
assert by_alias['Tags'] == {'team': 'a'}
print(json.dumps({'dup': dup, 'busy': busy,
    'missing_version': error(lam.invoke, FunctionName='api-fn', Qualifier='9', Payload=b'{}'),
    'missing_alias': error(lam.get_alias, FunctionName='api-fn', Name='nope'),
    'exists': error(lam.create_function, FunctionName='api-fn', Runtime='provided.al2023', Role=ROLE, Code={'ZipFile': echo_zip}),
    'latest_delete': error(lam.delete_function, FunctionName='api-fn', Qualifier='$LATEST'),
    'stale': error(lam.update_function_configuration, FunctionName='api-fn', Description='x', RevisionId='nope'),
}))
"#,
        &[slcl_fixtures::ECHO, slcl_fixtures::COUNTER],
    );
    assert_eq!(got["dup"]["code"], "ResourceConflictException");
    assert_eq!(got["dup"]["status"], 409);
    assert!(got["dup"]["message"].as_str().unwrap().starts_with(
        "Alias already exists: arn:aws:lambda:us-east-1:000000000000:function:api-fn:live"
    ));
    assert_eq!(got["busy"]["code"], "ResourceConflictException");
    assert_eq!(got["missing_version"]["code"], "ResourceNotFoundException");
    assert_eq!(got["missing_version"]["status"], 404);
    assert_eq!(
        got["missing_version"]["message"],
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:api-fn:9"
    );
    assert_eq!(got["missing_alias"]["code"], "ResourceNotFoundException");
    assert_eq!(got["exists"]["code"], "ResourceConflictException");
    assert_eq!(got["exists"]["message"], "Function already exist: api-fn");
    assert_eq!(
        got["latest_delete"]["code"],
        "InvalidParameterValueException"
    );
    assert_eq!(got["stale"]["code"], "PreconditionFailedException");
    assert_eq!(got["stale"]["status"], 412);

    // A restart finds the function, its versions and its alias.
    slcl.stop();
    let slcl = Slcl::up(dir.path());
    let after = run(
        &slcl,
        r#"
names = [f['FunctionName'] for f in lam.list_functions()['Functions']]
versions = [v['Version'] for v in lam.list_versions_by_function(FunctionName='api-fn')['Versions']]
live = lam.invoke(FunctionName='api-fn', Qualifier='live', Payload=b'{}')
one = lam.invoke(FunctionName='api-fn', Qualifier='1', Payload=b'{"back": true}')
lam.delete_alias(FunctionName='api-fn', Name='live')
lam.delete_function(FunctionName='api-fn', Qualifier='2')
versions_after = [v['Version'] for v in lam.list_versions_by_function(FunctionName='api-fn')['Versions']]
lam.put_function_event_invoke_config(FunctionName='api-fn', MaximumRetryAttempts=1)
lam.delete_function(FunctionName='api-fn')
# A new function of the same name starts with nothing of the old one's.
lam.create_function(FunctionName='api-fn', Runtime='provided.al2023', Role=ROLE,
    Code={'ZipFile': zip_of([('echo.wasm', wasm(sys.argv[1]))])})
fresh = {'configs': lam.list_function_event_invoke_configs(FunctionName='api-fn')['FunctionEventInvokeConfigs'],
    'versions': [v['Version'] for v in lam.list_versions_by_function(FunctionName='api-fn')['Versions']],
    'aliases': lam.list_aliases(FunctionName='api-fn')['Aliases'],
    'tags': lam.list_tags(Resource=lam.get_function(FunctionName='api-fn')['Configuration']['FunctionArn'])['Tags']}
lam.delete_function(FunctionName='api-fn')
print(json.dumps({'names': names, 'versions': versions, 'live': live['ExecutedVersion'],
    'one': json.loads(one['Payload'].read()), 'versions_after': versions_after, 'fresh': fresh,
    'gone': error(lam.get_function, FunctionName='api-fn')}))
"#,
        &[slcl_fixtures::ECHO],
    );
    assert_eq!(after["names"], serde_json::json!(["api-fn"]));
    assert_eq!(after["versions"], serde_json::json!(["$LATEST", "1", "2"]));
    assert_eq!(after["live"], "2");
    assert_eq!(after["one"], serde_json::json!({"back": true}));
    assert_eq!(after["versions_after"], serde_json::json!(["$LATEST", "1"]));
    assert_eq!(
        after["fresh"],
        serde_json::json!({"configs": [], "versions": ["$LATEST"], "aliases": [], "tags": {}})
    );
    assert_eq!(after["gone"]["code"], "ResourceNotFoundException");
}

#[test]
fn deployment_packages_are_validated_with_aws_errors() {
    let dir = project("");
    let slcl = Slcl::up(dir.path());
    let got = run(
        &slcl,
        r#"
component = wasm(sys.argv[1])
def create(name, zipped, **kw):
    args = dict(FunctionName=name, Runtime='provided.al2023', Role=ROLE, Code={'ZipFile': zipped})
    args.update(kw)
    return error(lam.create_function, **args)
print(json.dumps({
    'escape': create('f1', zip_of([('../evil.wasm', component)])),
    'nested_escape': create('f2', zip_of([('ok/../../evil.wasm', component)])),
    'no_wasm': create('f3', zip_of([('index.js', b'exports.handler = 1')])),
    'module': create('f4', zip_of([('m.wasm', b'\x00asm\x01\x00\x00\x00')])),
    'not_wasm': create('f5', zip_of([('x.wasm', b'hello')])),
    'not_zip': create('f6', b'plainly not a zip file'),
    'missing_handler': create('f7', zip_of([('a.wasm', component)]), Handler='b.wasm'),
    'several': create('f8', zip_of([('a.wasm', component), ('b.wasm', component)])),
    'runtime': create('f9', zip_of([('a.wasm', component)]), Runtime='python3.12'),
    'reserved_env': create('f10', zip_of([('a.wasm', component)]), Environment={'Variables': {'AWS_REGION': 'x'}}),
    'no_code': error(lam.create_function, FunctionName='f11', Runtime='provided.al2023', Role=ROLE, Code={}),
    'no_runtime': error(lam.create_function, FunctionName='f12', Role=ROLE, Code={'ZipFile': zip_of([('a.wasm', component)])}),
    'listed': [f['FunctionName'] for f in lam.list_functions()['Functions']],
}))
"#,
        &[slcl_fixtures::ECHO],
    );
    for (case, needle) in [
        ("escape", "outside the package's root"),
        ("nested_escape", "outside the package's root"),
        ("no_wasm", "no .wasm file"),
        ("module", "core WebAssembly module, not a component"),
        ("not_wasm", "not a WebAssembly file"),
        ("not_zip", "Could not unzip uploaded file"),
        ("missing_handler", "`b.wasm` names no file"),
        ("several", "several components"),
        ("runtime", "python3.12"),
        (
            "reserved_env",
            "Reserved keys used in this request: AWS_REGION",
        ),
        ("no_code", "ZipFile, or S3Bucket and S3Key"),
        ("no_runtime", "Runtime and Handler are mandatory parameters"),
    ] {
        assert_eq!(
            got[case]["code"], "InvalidParameterValueException",
            "{case}: {}",
            got[case]
        );
        assert_eq!(got[case]["status"], 400, "{case}");
        let message = got[case]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{case}: {message}");
    }
    assert_eq!(
        got["listed"],
        serde_json::json!([]),
        "no rejected function exists"
    );

    // Constraints boto3 would check itself, sent as raw requests.
    let raw = slcl.python(
        r#"
import http.client
ROLE = 'arn:aws:iam::000000000000:role/lambda-role'
u = os.environ['ENDPOINT'].split('//')[1]
out = {}
for case, body in {
    'memory': {'FunctionName': 'r', 'Role': ROLE, 'Runtime': 'provided.al2023', 'MemorySize': 64, 'Code': {'ZipFile': 'UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=='}},
    'timeout': {'FunctionName': 'r', 'Role': ROLE, 'Runtime': 'provided.al2023', 'Timeout': 901, 'Code': {'ZipFile': 'UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=='}},
    'name': {'FunctionName': 'bad name', 'Role': ROLE, 'Runtime': 'provided.al2023', 'Code': {'ZipFile': 'UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=='}},
}.items():
    c = http.client.HTTPConnection(u)
    c.request('POST', '/2015-03-31/functions', body=json.dumps(body), headers={'Content-Type': 'application/json',
        'Authorization': 'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0'})
    r = c.getresponse()
    out[case] = {'status': r.status, 'type': r.getheader('x-amzn-ErrorType'), 'body': json.loads(r.read())}
print(json.dumps(out))
"#,
        &[],
    );
    let raw: Value = serde_json::from_str(raw.lines().last().unwrap()).unwrap();
    for (case, needle) in [
        (
            "memory",
            "Member must have value greater than or equal to 128",
        ),
        (
            "timeout",
            "Member must have value less than or equal to 900",
        ),
        ("name", "Member must satisfy regular expression pattern"),
    ] {
        assert_eq!(raw[case]["status"], 400, "{case}");
        assert_eq!(raw[case]["type"], "ValidationException", "{case}");
        let message = raw[case]["body"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{case}: {message}");
    }
}

#[test]
fn code_from_s3_and_the_aws_cli() {
    let dir = project("[buckets.code]\n");
    let slcl = Slcl::up(dir.path());
    let zip = dir.path().join("fn.zip");
    slcl.python(
        "import zipfile\nwith zipfile.ZipFile(sys.argv[2], 'w') as z:\n    z.write(sys.argv[1], 'echo.wasm')",
        &[slcl_fixtures::ECHO, zip.to_str().unwrap()],
    );
    slcl.aws_ok(&["s3", "cp", zip.to_str().unwrap(), "s3://code/builds/fn.zip"]);
    let created: Value = serde_json::from_str(&slcl.aws_ok(&[
        "lambda",
        "create-function",
        "--function-name",
        "from-s3",
        "--runtime",
        "provided.al2",
        "--role",
        "arn:aws:iam::000000000000:role/r",
        "--handler",
        "bootstrap",
        "--code",
        "S3Bucket=code,S3Key=builds/fn.zip",
        "--memory-size",
        "256",
    ]))
    .unwrap();
    assert_eq!(created["FunctionName"], "from-s3");
    assert_eq!(created["Handler"], "echo.wasm", "the only component");
    assert_eq!(created["MemorySize"], 256);
    assert_eq!(created["CodeSize"], std::fs::metadata(&zip).unwrap().len());
    let out = dir.path().join("out.json");
    slcl.aws_ok(&[
        "lambda",
        "invoke",
        "--function-name",
        "from-s3",
        "--payload",
        r#"{"from":"s3"}"#,
        out.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), r#"{"from":"s3"}"#);
    let missing = slcl.aws(&[
        "lambda",
        "update-function-code",
        "--function-name",
        "from-s3",
        "--s3-bucket",
        "code",
        "--s3-key",
        "nope.zip",
    ]);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("InvalidParameterValueException"), "{err}");
    assert!(err.contains("S3 Error Code: NoSuchKey"), "{err}");
    let listed: Value = serde_json::from_str(&slcl.aws_ok(&["lambda", "list-functions"])).unwrap();
    assert_eq!(listed["Functions"][0]["FunctionName"], "from-s3");
}

#[test]
fn reserved_concurrency_throttles_with_aws_reason_permissions_and_tags() {
    let dir = project(&format!(
        "[functions.slow]\nwasm = {:?}\ntimeout = 10\n",
        slcl_fixtures::SLOW
    ));
    let slcl = Slcl::up(dir.path());
    let got = run(
        &slcl,
        r#"
import threading
ARN = 'arn:aws:lambda:us-east-1:000000000000:function:slow'
out = {}
out['none'] = lam.get_function_concurrency(FunctionName='slow')
lam.put_function_concurrency(FunctionName='slow', ReservedConcurrentExecutions=0)
out['zero'] = error(lam.invoke, FunctionName='slow', Payload=b'{"ms": 1}')
lam.put_function_concurrency(FunctionName='slow', ReservedConcurrentExecutions=1)
out['get'] = lam.get_function_concurrency(FunctionName='slow')
out['in_get_function'] = lam.get_function(FunctionName='slow').get('Concurrency')
results = []
def call():
    c = client('lambda', config=Config(retries={'max_attempts': 1}))
    try:
        results.append(c.invoke(FunctionName='slow', Payload=b'{"ms": 1500}')['StatusCode'])
    except botocore.exceptions.ClientError as e:
        results.append(e.response['Error']['Code'] + ':' + str(e.response.get('Reason')))
threads = [threading.Thread(target=call) for _ in range(2)]
for t in threads:
    t.start()
    time.sleep(0.3)
for t in threads:
    t.join()
out['concurrent'] = sorted(str(r) for r in results)
out['too_much'] = error(lam.put_function_concurrency, FunctionName='slow', ReservedConcurrentExecutions=901)
settings = lam.get_account_settings()
out['limit'] = settings['AccountLimit']['ConcurrentExecutions']
out['unreserved'] = settings['AccountLimit']['UnreservedConcurrentExecutions']
lam.delete_function_concurrency(FunctionName='slow')
out['after_delete'] = lam.get_function_concurrency(FunctionName='slow')

stmt = lam.add_permission(FunctionName='slow', StatementId='s3-invoke', Action='lambda:InvokeFunction',
    Principal='s3.amazonaws.com', SourceArn='arn:aws:s3:::photos', SourceAccount='000000000000')
out['statement'] = json.loads(stmt['Statement'])
out['dup_sid'] = error(lam.add_permission, FunctionName='slow', StatementId='s3-invoke', Action='lambda:InvokeFunction', Principal='s3.amazonaws.com')
out['policy'] = json.loads(lam.get_policy(FunctionName='slow')['Policy'])
lam.remove_permission(FunctionName='slow', StatementId='s3-invoke')
out['no_policy'] = error(lam.get_policy, FunctionName='slow')
out['no_statement'] = error(lam.remove_permission, FunctionName='slow', StatementId='s3-invoke')

lam.tag_resource(Resource=ARN, Tags={'a': '1', 'b': '2'})
lam.untag_resource(Resource=ARN, TagKeys=['a'])
out['tags'] = lam.list_tags(Resource=ARN)['Tags']
out['tags_missing'] = error(lam.list_tags, Resource=ARN + 'x')
print(json.dumps(out))
"#,
        &[],
    );
    assert!(got["none"].get("ReservedConcurrentExecutions").is_none());
    assert_eq!(got["zero"]["code"], "TooManyRequestsException");
    assert_eq!(got["zero"]["status"], 429);
    assert_eq!(
        got["zero"]["reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    assert_eq!(got["get"]["ReservedConcurrentExecutions"], 1);
    assert_eq!(got["in_get_function"]["ReservedConcurrentExecutions"], 1);
    assert_eq!(
        got["concurrent"],
        serde_json::json!([
            "200",
            "TooManyRequestsException:ReservedFunctionConcurrentInvocationLimitExceeded"
        ])
    );
    assert_eq!(got["too_much"]["code"], "InvalidParameterValueException");
    assert!(got["too_much"]["message"]
        .as_str()
        .unwrap()
        .contains("below its minimum value of [100]"));
    assert_eq!(got["limit"], 1000);
    assert_eq!(got["unreserved"], 999);
    assert!(got["after_delete"]
        .get("ReservedConcurrentExecutions")
        .is_none());

    let statement = &got["statement"];
    assert_eq!(statement["Sid"], "s3-invoke");
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Principal"]["Service"], "s3.amazonaws.com");
    assert_eq!(statement["Action"], "lambda:InvokeFunction");
    assert_eq!(
        statement["Resource"],
        "arn:aws:lambda:us-east-1:000000000000:function:slow"
    );
    assert_eq!(
        statement["Condition"]["ArnLike"]["AWS:SourceArn"],
        "arn:aws:s3:::photos"
    );
    assert_eq!(
        statement["Condition"]["StringEquals"]["AWS:SourceAccount"],
        "000000000000"
    );
    assert_eq!(got["dup_sid"]["code"], "ResourceConflictException");
    assert_eq!(got["policy"]["Version"], "2012-10-17");
    assert_eq!(got["policy"]["Statement"][0], *statement);
    assert_eq!(got["no_policy"]["code"], "ResourceNotFoundException");
    assert_eq!(got["no_statement"]["code"], "ResourceNotFoundException");
    assert_eq!(got["tags"], serde_json::json!({"b": "2"}));
    assert_eq!(got["tags_missing"]["code"], "ResourceNotFoundException");
}

/// What goes wrong inside a function, as a boto3 caller sees it: a trap, a timeout and
/// running out of memory are function errors with AWS's types and messages, the log
/// tail tells the story (wasm backtrace, `Task timed out`, REPORT), the failed instance
/// is discarded so the next invoke is a cold start; and payloads over Lambda's limits
/// are refused.
#[test]
fn failures_and_payload_limits_through_boto3() {
    let dir = project(&format!(
        "[functions.trap]\nwasm = {}\n\
         [functions.spin]\nwasm = {}\ntimeout = 1\n\
         [functions.hog]\nwasm = {}\nmemory = 128\n\
         [functions.echo]\nwasm = {}\n",
        crate::common::toml_path(slcl_fixtures::PANIC),
        crate::common::toml_path(slcl_fixtures::LOOP),
        crate::common::toml_path(slcl_fixtures::HOG),
        crate::common::toml_path(slcl_fixtures::ECHO),
    ));
    let slcl = Slcl::up(dir.path());
    let got = run(
        &slcl,
        r#"
def call(name, payload, **kw):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), LogType='Tail', **kw)
    return {'status': r['StatusCode'], 'error': r.get('FunctionError'),
            'payload': json.loads(r['Payload'].read() or b'null'),
            'log': base64.b64decode(r.get('LogResult', '')).decode()}
out = {
    'trap': call('trap', {}),
    'spin': call('spin', {}),
    'hog_ok': call('hog', {'mb': 8}),
    'hog_oom': call('hog', {'mb': 200}),
    'hog_after': call('hog', {'mb': 8}),
    'sync_big': error(lam.invoke, FunctionName='echo', Payload=json.dumps({'x': 'a' * (6 * 1024 * 1024)}).encode()),
    'async_big': error(lam.invoke, FunctionName='echo', InvocationType='Event', Payload=json.dumps({'x': 'a' * (256 * 1024)}).encode()),
    'async_ok': lam.invoke(FunctionName='echo', InvocationType='Event', Payload=json.dumps({'x': 'a' * 1000}).encode())['StatusCode'],
}
print(json.dumps(out))
"#,
        &[],
    );
    let trap = &got["trap"];
    assert_eq!(trap["status"], 200);
    assert_eq!(trap["error"], "Unhandled");
    assert_eq!(trap["payload"]["errorType"], "Runtime.ExitError", "{trap}");
    let log = trap["log"].as_str().unwrap();
    assert!(log.contains("wasm backtrace"), "{log}");
    assert!(log.contains("REPORT RequestId: "), "{log}");

    let spin = &got["spin"];
    assert_eq!(spin["error"], "Unhandled");
    // AWS's timeout answer is the message alone, with no errorType.
    assert!(spin["payload"]["errorType"].is_null(), "{spin}");
    let message = spin["payload"]["errorMessage"].as_str().unwrap();
    // The time is how long it ran, as AWS reports it: a little over the timeout.
    assert!(
        message.contains(" Task timed out after 1.") && message.ends_with(" seconds"),
        "{message}"
    );
    assert!(spin["log"].as_str().unwrap().contains(message), "{spin}");

    assert_eq!(got["hog_ok"]["payload"]["mb"], 8, "{}", got["hog_ok"]);
    assert!(got["hog_ok"]["error"].is_null());
    let oom = &got["hog_oom"];
    assert_eq!(oom["error"], "Unhandled");
    assert_eq!(oom["payload"]["errorType"], "Runtime.ExitError", "{oom}");
    assert!(
        oom["payload"]["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Runtime exited with error: signal: killed"),
        "{oom}"
    );
    assert!(oom["log"].as_str().unwrap().contains("Memory Size: 128 MB"));
    // The instance that ran out of memory is gone: the next invoke starts a new one.
    let after = &got["hog_after"];
    assert_eq!(after["payload"]["mb"], 8, "{after}");
    assert!(
        after["log"].as_str().unwrap().contains("Init Duration: "),
        "{after}"
    );

    for case in ["sync_big", "async_big"] {
        assert_eq!(
            got[case]["code"], "RequestEntityTooLargeException",
            "{case}: {}",
            got[case]
        );
        assert_eq!(got[case]["status"], 413, "{case}");
    }
    assert_eq!(got["async_ok"], 202);
}

/// `slcl.toml` follows the API's rules: a function may not set Lambda's reserved
/// environment variables.
#[test]
fn reserved_environment_keys_in_slcl_toml_stop_slcl_up() {
    let dir = project(&format!(
        "[functions.f]\nwasm = {}\nenv = {{ AWS_REGION = \"eu-west-9\", COLOUR = \"blue\" }}\n",
        crate::common::toml_path(slcl_fixtures::ECHO),
    ));
    let err = Slcl::up_fails(dir.path());
    assert!(
        err.contains("function `f`")
            && err.contains("Reserved keys used in this request: AWS_REGION"),
        "{err}"
    );
    assert!(!err.contains("Stack backtrace"), "{err}");
}
