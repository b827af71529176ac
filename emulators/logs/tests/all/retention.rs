//! Retention on the shared clock: events older than the group's retention disappear
//! from every read once the (virtual) clock passes them.

use crate::harness::Server;

#[test]
fn retention_expires_events() {
    let server = Server::start_virtual();
    server.python(
        r#"
logs.create_log_group(logGroupName="short")
logs.create_log_group(logGroupName="forever")
for g in ["short", "forever"]:
    logs.create_log_stream(logGroupName=g, logStreamName="s")
    put(g, "s", (NOW - 10 * HOUR, "old"), (NOW, "new"))
logs.put_retention_policy(logGroupName="short", retentionInDays=1)
get = lambda g: messages(logs.get_log_events(logGroupName=g, logStreamName="s", startFromHead=True)["events"])
assert get("short") == ["old", "new"]

advance(15 * 3600)   # "old" is now 25 hours old
assert get("short") == ["new"], get("short")
assert get("forever") == ["old", "new"]
assert messages(logs.filter_log_events(logGroupName="short")["events"]) == ["new"]
s = logs.describe_log_streams(logGroupName="short")["logStreams"][0]
assert s["firstEventTimestamp"] == s["lastEventTimestamp"] and s["storedBytes"] == 3, s

advance(24 * 3600)
assert get("short") == [] and get("forever") == ["old", "new"]
assert logs.describe_log_groups(logGroupNamePrefix="short")["logGroups"][0]["storedBytes"] == 0
# Removing the policy keeps what is left forever.
put("short", "s", (NOW, "kept"))
logs.delete_retention_policy(logGroupName="short")
advance(30 * 24 * 3600)
assert get("short") == ["kept"]
"#,
    );
}
