//! PutLogEvents, GetLogEvents and FilterLogEvents through boto3.

use crate::harness::Server;

#[test]
fn put_rules() {
    let server = Server::start_virtual();
    server.python(
        r#"
logs.create_log_group(logGroupName="g")
logs.create_log_stream(logGroupName="g", logStreamName="s")
r = put("g", "s", (NOW - 2000, "one"), (NOW - 1000, "two"))
assert "rejectedLogEventsInfo" not in r and "nextSequenceToken" in r, r
# Sequence tokens are accepted and ignored, even wrong ones.
logs.put_log_events(logGroupName="g", logStreamName="s", sequenceToken="bogus",
                    logEvents=[{"timestamp": NOW, "message": "three"}])

expect_error("ResourceNotFoundException", put, "nope", "s", (NOW, "x"))
msg = expect_error("ResourceNotFoundException", put, "g", "nope", (NOW, "x"))
assert msg == "The specified log stream does not exist.", msg
msg = expect_error("InvalidParameterException", put, "g", "s", (NOW, "late"), (NOW - 1, "early"))
assert "chronological order" in msg, msg
msg = expect_error("InvalidParameterException", put, "g", "s", (NOW - 2 * DAY, "a"), (NOW - 2000, "b"))
assert "24 hours" in msg, msg
# (boto3 refuses an empty batch itself; the server does too.)
status, _, body = raw("Logs_20140328.PutLogEvents", {"logGroupName": "g", "logStreamName": "s", "logEvents": []})
assert status == 400 and body["__type"] == "InvalidParameterException", body
expect_error("InvalidParameterException", put, "g", "s", (NOW, "x" * 1_048_576))

# Too old (> 14 days), too new (> 2 hours ahead): rejected, the rest stored.
r = put("g", "s", (NOW - 15 * DAY, "ancient"), (NOW - 15 * DAY + 1, "ancient2"), (NOW + 10, "ok"), (NOW + 3 * HOUR, "future"))
assert r["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2, "tooNewLogEventStartIndex": 3}, r
# Expired: older than the group's retention (but within 14 days).
logs.put_retention_policy(logGroupName="g", retentionInDays=1)
r = put("g", "s", (NOW - 3 * DAY, "expired"), (NOW + 20, "fresh"))
assert r["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}, r
got = logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True)["events"]
assert messages(got) == ["one", "two", "three", "ok", "fresh"], got
assert got[0]["timestamp"] == NOW - 2000 and got[0]["ingestionTime"] == NOW, got[0]
"#,
    );
}

#[test]
fn get_log_events_tokens() {
    let server = Server::start_virtual();
    server.python(
        r#"
logs.create_log_group(logGroupName="g")
logs.create_log_stream(logGroupName="g", logStreamName="s")
put("g", "s", *[(NOW - 100 + i, f"m{i}") for i in range(10)])
get = lambda **kw: logs.get_log_events(logGroupName="g", logStreamName="s", **kw)

# Default: the newest events (tail).
r = get(limit=3)
assert messages(r["events"]) == ["m7", "m8", "m9"], r
# Backward from there.
r = get(nextToken=r["nextBackwardToken"], limit=3)
assert messages(r["events"]) == ["m4", "m5", "m6"], r
back = get(nextToken=r["nextBackwardToken"], limit=10)
assert messages(back["events"]) == ["m0", "m1", "m2", "m3"], back
# Nothing further back: the same backward token again.
r = get(nextToken=back["nextBackwardToken"])
assert r["events"] == [] and r["nextBackwardToken"] == back["nextBackwardToken"], r

# From the head, forward in pages; at the end the forward token repeats.
r = get(startFromHead=True, limit=4)
assert messages(r["events"]) == ["m0", "m1", "m2", "m3"], r
r = get(nextToken=r["nextForwardToken"], limit=4)
assert messages(r["events"]) == ["m4", "m5", "m6", "m7"], r
r = get(nextToken=r["nextForwardToken"], limit=4)
assert messages(r["events"]) == ["m8", "m9"], r
end = get(nextToken=r["nextForwardToken"], limit=4)
assert end["events"] == [] and end["nextForwardToken"] == r["nextForwardToken"], end
# New events show up on the same forward token (tailing a stream).
put("g", "s", (NOW, "m10"))
r = get(nextToken=end["nextForwardToken"])
assert messages(r["events"]) == ["m10"], r
# A tail read of an empty range still returns usable tokens.
put("g", "s", (NOW + 1, "m11"))
r = get(nextToken=r["nextForwardToken"])
assert messages(r["events"]) == ["m11"], r

# Time range: startTime inclusive, endTime exclusive.
r = get(startFromHead=True, startTime=NOW - 98, endTime=NOW - 95)
assert messages(r["events"]) == ["m2", "m3", "m4"], r
# Reading forward until the token repeats (as the SDKs' pagination does) sees all.
seen, token, kw = [], None, {"startFromHead": True}
while True:
    r = get(limit=5, **kw)
    seen += messages(r["events"])
    if r["nextForwardToken"] == token:
        break
    token = r["nextForwardToken"]
    kw = {"nextToken": token}
assert seen == [f"m{i}" for i in range(12)], seen

expect_error("InvalidParameterException", get, nextToken="garbage")
expect_error("InvalidParameterException", get, limit=10001)
expect_error("ResourceNotFoundException", logs.get_log_events, logGroupName="g", logStreamName="nope")
expect_error("ResourceNotFoundException", logs.get_log_events, logGroupName="nope", logStreamName="s")
"#,
    );
}

#[test]
fn filter_log_events() {
    let server = Server::start_virtual();
    server.python(
        r#"
logs.create_log_group(logGroupName="app")
for s in ["web-1", "web-2", "worker"]:
    logs.create_log_stream(logGroupName="app", logStreamName=s)
put("app", "web-1",
    (NOW - 50, "[ERROR 400] BAD REQUEST"),
    (NOW - 40, '{"level": "error", "latency": 250, "path": "/users/1"}'),
    (NOW - 30, "[INFO] GET /health"))
put("app", "web-2",
    (NOW - 45, "[ERROR 419] MISSING ARGUMENTS"),
    (NOW - 35, '{"level": "info", "latency": 50, "path": "/users/2"}'))
put("app", "worker",
    (NOW - 42, "[WARN] retrying job"),
    (NOW - 20, '{"level": "error", "latency": 90, "path": "/jobs"}'))

f = lambda **kw: logs.filter_log_events(logGroupName="app", **kw)
r = f()
assert len(r["events"]) == 7, r
# Interleaved across streams, by timestamp.
assert [e["timestamp"] for e in r["events"]] == sorted(e["timestamp"] for e in r["events"])
e = r["events"][0]
assert e["logStreamName"] == "web-1" and e["message"] == "[ERROR 400] BAD REQUEST" and e["eventId"], e
assert messages(f(filterPattern="ERROR")["events"]) == ["[ERROR 400] BAD REQUEST", "[ERROR 419] MISSING ARGUMENTS"]
assert messages(f(filterPattern="ERROR ARGUMENTS")["events"]) == ["[ERROR 419] MISSING ARGUMENTS"]
assert messages(f(filterPattern='"BAD REQUEST"')["events"]) == ["[ERROR 400] BAD REQUEST"]
assert messages(f(filterPattern="ERROR -ARGUMENTS")["events"]) == ["[ERROR 400] BAD REQUEST"]
assert messages(f(filterPattern="?WARN ?INFO")["events"]) == ["[WARN] retrying job", "[INFO] GET /health"]
assert len(f(filterPattern='{ $.level = "error" }')["events"]) == 2
assert [json.loads(e["message"])["latency"] for e in f(filterPattern="{ $.latency > 60 }")["events"]] == [250, 90]
assert len(f(filterPattern='{ $.level = "error" && $.latency < 100 }')["events"]) == 1
assert len(f(filterPattern='{ $.level = "info" || $.latency >= 250 }')["events"]) == 2
assert len(f(filterPattern='{ $.path = "/users/*" }')["events"]) == 2
assert len(f(filterPattern='{ $.path != "/users/*" }')["events"]) == 1

# Streams, time range (both ends inclusive), pagination.
assert {e["logStreamName"] for e in f(logStreamNames=["web-2", "worker"])["events"]} == {"web-2", "worker"}
assert {e["logStreamName"] for e in f(logStreamNamePrefix="web")["events"]} == {"web-1", "web-2"}
assert len(f(startTime=NOW - 45, endTime=NOW - 35)["events"]) == 4
page = f(limit=3)
assert len(page["events"]) == 3 and "nextToken" in page, page
page2 = f(limit=3, nextToken=page["nextToken"])
page3 = f(limit=3, nextToken=page2["nextToken"])
assert len(page2["events"]) == 3 and len(page3["events"]) == 1 and "nextToken" not in page3, page3
seen = [e["eventId"] for p in (page, page2, page3) for e in p["events"]]
assert len(set(seen)) == 7, seen

expect_error("InvalidParameterException", f, filterPattern="{ $.level = ")
expect_error("InvalidParameterException", f, filterPattern="[ip, user]")
expect_error("InvalidParameterException", f, logStreamNames=["web-1"], logStreamNamePrefix="web")
expect_error("ResourceNotFoundException", logs.filter_log_events, logGroupName="nope")
"#,
    );
}
