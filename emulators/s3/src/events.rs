//! S3 event notifications: bucket notification configurations and the event records
//! S3 sends to Lambda functions.
//!
//! A bucket's [`NotificationConfiguration`] holds its Lambda configurations (parsed:
//! slcl delivers to them) and any Queue/Topic/EventBridge configurations as the XML
//! the client sent (stored and returned verbatim; delivery to SQS and SNS comes with
//! those emulators). After an object is created or removed, [`matching`] picks the
//! Lambda configurations whose event pattern and key filter match, and [`record`]
//! builds the event exactly as S3 does
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html>),
//! which the service then publishes on the bus to the function's ARN.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::protocol::xml::{self, Element, XmlWriter};

/// A Lambda function configuration of a bucket's notifications
/// (`LambdaFunctionConfiguration` in the API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LambdaNotification {
    /// Configuration id; one is generated when `None`.
    pub id: Option<String>,
    /// The function to invoke, `arn:aws:lambda:<region>:<account>:function:<name>`.
    pub function_arn: String,
    /// Event patterns such as `s3:ObjectCreated:*` or `s3:ObjectRemoved:Delete`.
    pub events: Vec<String>,
    /// Only keys starting with this.
    pub prefix: Option<String>,
    /// Only keys ending with this.
    pub suffix: Option<String>,
}

/// A bucket's notification configuration as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationConfiguration {
    /// Lambda configurations, each with an id.
    pub lambda: Vec<LambdaNotification>,
    /// Queue, Topic and EventBridge configuration elements exactly as received.
    pub other_xml: String,
}

/// The event types S3 accepts in a configuration (botocore's `Event` enum).
pub const EVENT_TYPES: &[&str] = &[
    "s3:ReducedRedundancyLostObject",
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectAcl:Put",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
];

/// A configuration id as S3 generates them when the client gives none.
fn generated_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl NotificationConfiguration {
    /// Fills in missing ids.
    pub fn with_ids(mut self) -> Self {
        for l in &mut self.lambda {
            if l.id.as_deref().is_none_or(str::is_empty) {
                l.id = Some(generated_id());
            }
        }
        self
    }

    /// Parses a `PutBucketNotificationConfiguration` body. Destinations are not
    /// checked here (see [`NotificationConfiguration::lambda_arns`]).
    pub fn from_xml(body: &[u8]) -> ApiResult<NotificationConfiguration> {
        let root = xml::parse(body).ok_or_else(ApiError::malformed_xml)?;
        if root.name != "NotificationConfiguration" {
            return Err(ApiError::malformed_xml());
        }
        let text = std::str::from_utf8(body).map_err(|_| ApiError::malformed_xml())?;
        let mut cfg = NotificationConfiguration::default();
        for child in &root.children {
            match child.name.as_str() {
                "CloudFunctionConfiguration" => {
                    let arn = child
                        .child_text("CloudFunction")
                        .or_else(|| child.child_text("LambdaFunctionArn"))
                        .ok_or_else(ApiError::malformed_xml)?;
                    let (events, prefix, suffix) = events_and_filter(child)?;
                    cfg.lambda.push(LambdaNotification {
                        id: child.child_text("Id").map(str::to_string),
                        function_arn: arn.trim().to_string(),
                        events,
                        prefix,
                        suffix,
                    });
                }
                "QueueConfiguration" | "TopicConfiguration" => {
                    events_and_filter(child)?;
                    cfg.other_xml.push_str(&text[child.span.0..child.span.1]);
                }
                "EventBridgeConfiguration" => {
                    cfg.other_xml.push_str(&text[child.span.0..child.span.1]);
                }
                _ => return Err(ApiError::malformed_xml()),
            }
        }
        Ok(cfg)
    }

    /// The document `GetBucketNotificationConfiguration` returns.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("NotificationConfiguration");
        for l in &self.lambda {
            w.open("CloudFunctionConfiguration");
            w.opt("Id", l.id.as_deref());
            w.elem("CloudFunction", &l.function_arn);
            for e in &l.events {
                w.elem("Event", e);
            }
            if l.prefix.is_some() || l.suffix.is_some() {
                w.open("Filter").open("S3Key");
                for (name, value) in [("prefix", &l.prefix), ("suffix", &l.suffix)] {
                    if let Some(v) = value {
                        w.open("FilterRule")
                            .elem("Name", name)
                            .elem("Value", v)
                            .close("FilterRule");
                    }
                }
                w.close("S3Key").close("Filter");
            }
            w.close("CloudFunctionConfiguration");
        }
        w.raw(&self.other_xml);
        w.finish("NotificationConfiguration")
    }
}

fn events_and_filter(el: &Element) -> ApiResult<(Vec<String>, Option<String>, Option<String>)> {
    let mut events = Vec::new();
    for e in el.children_named("Event") {
        let name = e.text.trim();
        if !EVENT_TYPES.contains(&name) {
            return Err(ApiError::invalid_argument(
                "The event is not supported for notifications",
                "Event",
                name,
            ));
        }
        events.push(name.to_string());
    }
    if events.is_empty() {
        return Err(ApiError::malformed_xml());
    }
    let (mut prefix, mut suffix) = (None, None);
    if let Some(key) = el.child("Filter").and_then(|f| f.child("S3Key")) {
        for rule in key.children_named("FilterRule") {
            let name = rule.child_text("Name").unwrap_or("");
            let value = rule.child_text("Value").unwrap_or("").to_string();
            let slot = if name.eq_ignore_ascii_case("prefix") {
                &mut prefix
            } else if name.eq_ignore_ascii_case("suffix") {
                &mut suffix
            } else {
                return Err(ApiError::invalid_argument(
                    "filter rule name must be either prefix or suffix",
                    "FilterRule.Name",
                    name,
                ));
            };
            if slot.is_some() {
                return Err(ApiError::invalid_argument(
                    "Cannot specify more than one prefix rule in a filter.",
                    "FilterRule.Name",
                    name,
                ));
            }
            *slot = Some(value);
        }
    }
    Ok((events, prefix, suffix))
}

/// What happened to an object, in the event's words (`ObjectCreated:Put`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    /// PutObject.
    Put,
    /// CopyObject.
    Copy,
    /// CompleteMultipartUpload.
    CompleteMultipartUpload,
    /// DeleteObject / DeleteObjects.
    Delete,
}

impl EventName {
    /// `ObjectCreated:Put`, ... as the record's `eventName`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::Put => "ObjectCreated:Put",
            EventName::Copy => "ObjectCreated:Copy",
            EventName::CompleteMultipartUpload => "ObjectCreated:CompleteMultipartUpload",
            EventName::Delete => "ObjectRemoved:Delete",
        }
    }

    fn is_removal(self) -> bool {
        matches!(self, EventName::Delete)
    }
}

/// Whether a configured pattern (`s3:ObjectCreated:*`, `s3:ObjectCreated:Put`)
/// covers this event.
fn pattern_matches(pattern: &str, event: EventName) -> bool {
    let Some(p) = pattern.strip_prefix("s3:") else {
        return false;
    };
    match p.strip_suffix('*') {
        Some(category) => event.as_str().starts_with(category),
        None => p == event.as_str(),
    }
}

/// The Lambda configurations that fire for `event` on `key`.
pub fn matching<'a>(
    cfg: &'a NotificationConfiguration,
    event: EventName,
    key: &'a str,
) -> impl Iterator<Item = &'a LambdaNotification> + 'a {
    cfg.lambda.iter().filter(move |l| {
        l.events.iter().any(|p| pattern_matches(p, event))
            && l.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && l.suffix.as_deref().is_none_or(|s| key.ends_with(s))
    })
}

/// The facts one event record is made of.
pub struct EventFacts<'a> {
    /// Region of the bucket.
    pub region: &'a str,
    /// Event time, ms since the epoch (from the stack's clock).
    pub time_ms: i64,
    /// What happened.
    pub event: EventName,
    /// Principal that made the request, `AWS:<id>`.
    pub principal_id: &'a str,
    /// Caller's IP address.
    pub source_ip: &'a str,
    /// `x-amz-request-id` of the request.
    pub request_id: &'a str,
    /// `x-amz-id-2` of the request.
    pub host_id: &'a str,
    /// Bucket.
    pub bucket: &'a str,
    /// Key, decoded.
    pub key: &'a str,
    /// Size and unquoted ETag, for ObjectCreated events.
    pub size_etag: Option<(u64, &'a str)>,
    /// Sequencer (hex, increasing per key).
    pub sequencer: u64,
}

/// Canonical-user-like id S3 puts in `ownerIdentity` (AWS shows the owner's
/// canonical id there; slcl has one owner).
pub const OWNER_PRINCIPAL_ID: &str = "A3NL1KOZZKExample";

/// The S3 event JSON (`{"Records":[...]}`) for one matching configuration.
pub fn record(facts: &EventFacts<'_>, configuration_id: &str) -> serde_json::Value {
    let mut object = json!({ "key": crate::protocol::form_encode(facts.key) });
    if let (Some((size, etag)), false) = (facts.size_etag, facts.event.is_removal()) {
        object["size"] = json!(size);
        object["eTag"] = json!(etag);
    }
    object["sequencer"] = json!(format!("{:016X}", facts.sequencer));
    json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": facts.region,
            "eventTime": crate::protocol::iso8601_millis(facts.time_ms),
            "eventName": facts.event.as_str(),
            "userIdentity": { "principalId": facts.principal_id },
            "requestParameters": { "sourceIPAddress": facts.source_ip },
            "responseElements": {
                "x-amz-request-id": facts.request_id,
                "x-amz-id-2": facts.host_id,
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": configuration_id,
                "bucket": {
                    "name": facts.bucket,
                    "ownerIdentity": { "principalId": OWNER_PRINCIPAL_ID },
                    "arn": format!("arn:aws:s3:::{}", facts.bucket),
                },
                "object": object,
            },
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders_configuration() {
        let body = br#"<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<CloudFunctionConfiguration><Id>thumbs</Id><CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:f</CloudFunction>
<Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>Prefix</Name><Value>uploads/</Value></FilterRule>
<FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule></S3Key></Filter></CloudFunctionConfiguration>
<QueueConfiguration><Queue>arn:aws:sqs:us-east-1:000000000000:q</Queue><Event>s3:ObjectRemoved:*</Event></QueueConfiguration>
</NotificationConfiguration>"#;
        let cfg = NotificationConfiguration::from_xml(body).unwrap();
        assert_eq!(cfg.lambda.len(), 1);
        assert_eq!(cfg.lambda[0].prefix.as_deref(), Some("uploads/"));
        assert_eq!(cfg.lambda[0].suffix.as_deref(), Some(".jpg"));
        assert!(cfg
            .other_xml
            .starts_with("<QueueConfiguration><Queue>arn:aws:sqs"));
        let xml = cfg.to_xml();
        let again = NotificationConfiguration::from_xml(xml.as_bytes()).unwrap();
        assert_eq!(again, cfg);

        let hits = |ev, key| matching(&cfg, ev, key).count();
        assert_eq!(hits(EventName::Put, "uploads/a.jpg"), 1);
        assert_eq!(hits(EventName::CompleteMultipartUpload, "uploads/a.jpg"), 1);
        assert_eq!(hits(EventName::Put, "uploads/a.png"), 0);
        assert_eq!(hits(EventName::Put, "other/a.jpg"), 0);
        assert_eq!(hits(EventName::Delete, "uploads/a.jpg"), 0);
    }

    #[test]
    fn rejects_bad_configurations() {
        let bad_event = br#"<NotificationConfiguration><CloudFunctionConfiguration><CloudFunction>arn:aws:lambda:us-east-1:0:function:f</CloudFunction><Event>s3:Nope</Event></CloudFunctionConfiguration></NotificationConfiguration>"#;
        assert_eq!(
            NotificationConfiguration::from_xml(bad_event)
                .unwrap_err()
                .code,
            "InvalidArgument"
        );
        let bad_rule = br#"<NotificationConfiguration><CloudFunctionConfiguration><CloudFunction>a</CloudFunction><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>middle</Name><Value>x</Value></FilterRule></S3Key></Filter></CloudFunctionConfiguration></NotificationConfiguration>"#;
        assert_eq!(
            NotificationConfiguration::from_xml(bad_rule)
                .unwrap_err()
                .code,
            "InvalidArgument"
        );
        assert_eq!(
            NotificationConfiguration::from_xml(b"<x>")
                .unwrap_err()
                .code,
            "MalformedXML"
        );
    }

    #[test]
    fn record_deserializes_as_aws_lambda_events() {
        let facts = EventFacts {
            region: "us-east-1",
            time_ms: 0,
            event: EventName::Put,
            principal_id: "AWS:000000000000",
            source_ip: "127.0.0.1",
            request_id: "REQ",
            host_id: "HOST",
            bucket: "photos",
            key: "my dir/ü+1.jpg",
            size_etag: Some((5, "5d41402abc4b2a76b9719d911017c592")),
            sequencer: 10,
        };
        let v = record(&facts, "cfg");
        let r = &v["Records"][0];
        assert_eq!(r["eventTime"], "1970-01-01T00:00:00.000Z");
        assert_eq!(r["s3"]["object"]["key"], "my+dir/%C3%BC%2B1.jpg");
        assert_eq!(r["s3"]["object"]["sequencer"], "000000000000000A");
        let parsed: aws_lambda_events::event::s3::S3Event =
            serde_json::from_value(v.clone()).unwrap();
        let rec = &parsed.records[0];
        assert_eq!(rec.event_name.as_deref(), Some("ObjectCreated:Put"));
        assert_eq!(rec.s3.object.size, Some(5));
        assert_eq!(rec.s3.bucket.arn.as_deref(), Some("arn:aws:s3:::photos"));
        assert_eq!(rec.response_elements["x-amz-request-id"], "REQ");

        let removed = record(
            &EventFacts {
                event: EventName::Delete,
                size_etag: None,
                ..facts
            },
            "cfg",
        );
        assert!(removed["Records"][0]["s3"]["object"].get("size").is_none());
        assert!(removed["Records"][0]["s3"]["object"].get("eTag").is_none());
    }
}
