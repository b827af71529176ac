//! The in-process Rust API the Lambda poller, the bus and the harness use.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use slcl_core::{Arn, Delivery, InvocationType, Target, TraceContext, VirtualClock};
use slcl_sqs::{MessageAttributeValue, SendOptions};

use crate::harness::{epoch, Server};

#[test]
fn send_receive_delete_notify_and_peek() {
    let s = Server::start_virtual();
    let sqs = s.service.clone();
    let clock: Arc<VirtualClock> = s.clock.clone().unwrap();
    let q = sqs
        .ensure_queue(
            "api",
            BTreeMap::from([("VisibilityTimeout".to_string(), "10".to_string())]),
        )
        .unwrap();
    assert_eq!(q.arn, "arn:aws:sqs:us-east-1:000000000000:api");
    assert_eq!(
        q.url,
        format!(
            "http://sqs.us-east-1.localhost.localstack.cloud:{}/000000000000/api",
            s.port
        )
    );
    // Re-declaring applies attributes, keeps messages.
    let again = sqs
        .ensure_queue(
            "api",
            BTreeMap::from([("VisibilityTimeout".to_string(), "20".to_string())]),
        )
        .unwrap();
    assert_eq!(again, q);
    assert_eq!(
        sqs.visibility_timeout(&q.url).unwrap(),
        Duration::from_secs(20)
    );
    assert_eq!(sqs.queue_arn("api").unwrap(), q.arn);
    let bad = sqs
        .ensure_queue(
            "bad",
            BTreeMap::from([("VisibilityTimeout".to_string(), "99999".to_string())]),
        )
        .unwrap_err();
    assert_eq!(bad.code(), Some("InvalidAttributeValue"));

    let sent = sqs
        .send(
            &q.arn,
            "hello",
            SendOptions {
                message_attributes: BTreeMap::from([(
                    "k".to_string(),
                    MessageAttributeValue::string("v"),
                )]),
                aws_trace_header: Some("Root=1-abc".into()),
                ..SendOptions::default()
            },
        )
        .unwrap();
    assert_eq!(sent.md5_of_body, "5d41402abc4b2a76b9719d911017c592");
    assert_eq!(sqs.peek("api").unwrap().len(), 1);

    let got = s
        .block_on(sqs.receive("api", 10, None, Duration::ZERO))
        .unwrap();
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.body, "hello");
    assert_eq!(m.message_id, sent.message_id);
    assert_eq!(m.attributes["ApproximateReceiveCount"], "1");
    assert_eq!(m.attributes["SenderId"], "000000000000");
    assert_eq!(m.attributes["AWSTraceHeader"], "Root=1-abc");
    assert_eq!(
        m.attributes["SentTimestamp"],
        epoch()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            .to_string()
    );
    assert_eq!(
        m.message_attributes["k"],
        MessageAttributeValue::string("v")
    );
    assert!(m.md5_of_message_attributes.is_some());
    let attrs = sqs.queue_attributes("api").unwrap();
    assert_eq!(attrs["ApproximateNumberOfMessagesNotVisible"], "1");

    // Peeking shows in-flight messages without touching them.
    let peeked = sqs.peek("api").unwrap();
    assert_eq!(peeked[0].attributes["ApproximateReceiveCount"], "1");
    assert!(peeked[0].receipt_handle.is_empty());

    sqs.change_visibility("api", &m.receipt_handle, Duration::ZERO)
        .unwrap();
    let got = s
        .block_on(sqs.receive(&q.url, 1, Some(Duration::from_secs(5)), Duration::ZERO))
        .unwrap();
    assert_eq!(got[0].attributes["ApproximateReceiveCount"], "2");
    sqs.delete("api", &got[0].receipt_handle).unwrap();
    assert!(sqs.peek("api").unwrap().is_empty());
    assert_eq!(
        sqs.delete("api", "junk").unwrap_err().code(),
        Some("ReceiptHandleIsInvalid")
    );

    // notified() completes on a send, and on the clock reaching a delayed message.
    s.block_on(async {
        let wait = sqs.notified("api");
        sqs.send("api", "x", SendOptions::default()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .expect("notified on send");
        let got = sqs.receive("api", 1, None, Duration::ZERO).await.unwrap();
        sqs.delete("api", &got[0].receipt_handle).unwrap();
        sqs.send(
            "api",
            "delayed",
            SendOptions {
                delay: Some(Duration::from_secs(30)),
                ..SendOptions::default()
            },
        )
        .unwrap();
        let mut wait = sqs.notified("api");
        assert!(futures_poll(&mut wait).is_pending());
        clock.advance(Duration::from_secs(30));
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .expect("notified when the delay ends");
        let got = sqs.receive("api", 10, None, Duration::ZERO).await.unwrap();
        assert_eq!(got[0].body, "delayed");
        sqs.delete("api", &got[0].receipt_handle).unwrap();
        // A long poll through the API wakes on a send from another task.
        let waiter = {
            let sqs = sqs.clone();
            tokio::spawn(async move { sqs.receive("api", 10, None, Duration::from_secs(20)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        sqs.send("api", "wake", SendOptions::default()).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("long poll woken by the send")
            .unwrap()
            .unwrap();
        assert_eq!(got[0].body, "wake");
    });

    // The bus target: a delivery becomes a message.
    let arn = Arn::parse(&q.arn).unwrap();
    assert!(sqs.exists(&arn));
    assert!(!sqs.exists(&Arn::parse("arn:aws:sqs:us-east-1:000000000000:nope").unwrap()));
    s.block_on(sqs.deliver(Delivery {
        target: arn,
        source: None,
        payload: bytes::Bytes::from_static(b"{\"from\":\"bus\"}"),
        invocation_type: InvocationType::Event,
        trace: TraceContext {
            trace_id: "1-00000000-000000000000000000000001".into(),
            parent_id: None,
        },
    }))
    .unwrap();
    let bodies: Vec<String> = sqs
        .peek("api")
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert!(
        bodies.contains(&"{\"from\":\"bus\"}".to_string()),
        "{bodies:?}"
    );

    // FIFO through the API.
    let f = sqs.ensure_queue("api.fifo", BTreeMap::new()).unwrap();
    let missing_group = sqs.send(&f.arn, "x", SendOptions::default()).unwrap_err();
    assert_eq!(missing_group.code(), Some("MissingParameter"));
    let one = sqs
        .send(
            &f.arn,
            "x",
            SendOptions {
                message_group_id: Some("g".into()),
                message_deduplication_id: Some("d".into()),
                ..SendOptions::default()
            },
        )
        .unwrap();
    assert!(one.sequence_number.is_some());
    // Bus deliveries to a FIFO queue: group `default`, each one a new message.
    for _ in 0..2 {
        s.block_on(sqs.deliver(Delivery {
            target: Arn::parse(&f.arn).unwrap(),
            source: None,
            payload: bytes::Bytes::from_static(b"same"),
            invocation_type: InvocationType::Event,
            trace: TraceContext::default(),
        }))
        .unwrap();
    }
    let fifo = sqs.peek(&f.arn).unwrap();
    assert_eq!(fifo.len(), 3);
    assert_eq!(fifo[2].attributes["MessageGroupId"], "default");

    sqs.reset().unwrap();
    assert!(sqs.queue_names().unwrap().is_empty());
    // reset forgets deleted names, so a test can create the same queue at once.
    sqs.ensure_queue("api", BTreeMap::new()).unwrap();
}

fn futures_poll<F: std::future::Future + Unpin>(f: &mut F) -> std::task::Poll<F::Output> {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    std::pin::Pin::new(f).poll(&mut cx)
}
