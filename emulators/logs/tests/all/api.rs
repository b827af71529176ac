//! The in-process Rust API (`append`, `events`) and durability across a restart.

use std::time::Duration;

use slcl_core::VirtualClock;
use slcl_store::Store;

use crate::harness::{epoch, Server};

fn ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn append_creates_group_and_stream() {
    let server = Server::start_virtual();
    let now = ms(epoch());
    let logs = &server.service;
    logs.append(
        "/aws/lambda/f",
        "2026/01/01/[$LATEST]abc",
        &[(now, "START".into()), (now - 5, "earlier".into())],
    )
    .unwrap();
    logs.append(
        "/aws/lambda/f",
        "2026/01/01/[$LATEST]abc",
        &[(now + 1, "END".into())],
    )
    .unwrap();
    let events = logs
        .events("/aws/lambda/f", "2026/01/01/[$LATEST]abc")
        .unwrap();
    let messages: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
    // Stream order is by timestamp, whatever order they were appended in.
    assert_eq!(messages, ["earlier", "START", "END"]);
    assert_eq!(logs.group_names().unwrap(), ["/aws/lambda/f"]);
    assert!(logs.append("bad name!", "s", &[]).is_err());
    assert!(logs.events("/aws/lambda/f", "nope").is_err());

    // What append wrote is what clients read.
    server.python(
        r#"
r = logs.get_log_events(logGroupName="/aws/lambda/f", logStreamName="2026/01/01/[$LATEST]abc", startFromHead=True)
assert messages(r["events"]) == ["earlier", "START", "END"], r
"#,
    );
    logs.reset().unwrap();
    assert!(logs.group_names().unwrap().is_empty());
}

#[test]
fn survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let now = ms(epoch());
    {
        let server = Server::start_with(
            Store::open(dir.path()).unwrap(),
            Some(VirtualClock::new(epoch())),
        );
        server.python(
            r#"
logs.create_log_group(logGroupName="g")
logs.create_log_stream(logGroupName="g", logStreamName="s")
put("g", "s", (NOW, "kept"))
logs.put_retention_policy(logGroupName="g", retentionInDays=3)
"#,
        );
    }
    let clock = VirtualClock::new(epoch());
    let server = Server::start_with(Store::open(dir.path()).unwrap(), Some(clock.clone()));
    let events = server.service.events("g", "s").unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].timestamp, now);
    clock.advance(Duration::from_secs(4 * 86_400));
    assert!(server.service.events("g", "s").unwrap().is_empty());
}
