//! What SQS takes from the bus: deliveries to queue ARNs.
//!
//! [`SqsService`] is the bus [`Target`] for the `sqs` namespace. A delivery to
//! `arn:aws:sqs:<region>:<account>:<name>` becomes a SendMessage of the payload (which
//! must be UTF-8 text) to that queue, committed before `deliver` returns. For FIFO
//! queues the message group is `default`, and every delivery is a new message: its
//! deduplication id is random unless the queue uses content-based deduplication. The
//! trace id is passed on as the message's `AWSTraceHeader` (`Root=<trace id>`).

use bytes::Bytes;
use slcl_core::{Arn, BoxFuture, Delivery, DeliveryError, Target};

use crate::{SendOptions, SqsService};

impl Target for SqsService {
    fn exists(&self, arn: &Arn) -> bool {
        arn.service == "sqs"
            && (arn.account.is_empty() || arn.account == self.stack.account_id)
            && self.queue_info(&arn.resource).is_ok()
    }

    fn deliver(&self, delivery: Delivery) -> BoxFuture<'_, Result<Bytes, DeliveryError>> {
        Box::pin(async move {
            let arn = delivery.target.to_string();
            if !self.exists(&delivery.target) {
                return Err(DeliveryError::NotFound(arn));
            }
            let body = String::from_utf8(delivery.payload.to_vec()).map_err(|_| {
                DeliveryError::Failed {
                    arn: arn.clone(),
                    message: "SQS message bodies must be UTF-8 text".into(),
                }
            })?;
            let fifo = delivery.target.resource.ends_with(".fifo");
            let content_dedup = fifo
                && self
                    .queue_attributes(&delivery.target.resource)
                    .is_ok_and(|a| {
                        a.get("ContentBasedDeduplication").map(String::as_str) == Some("true")
                    });
            let trace = &delivery.trace;
            let options = SendOptions {
                message_group_id: fifo.then(|| "default".to_string()),
                message_deduplication_id: (fifo && !content_dedup).then(slcl_core::ids::uuid),
                aws_trace_header: (!trace.trace_id.is_empty())
                    .then(|| format!("Root={}", trace.trace_id)),
                trace: Some(trace.clone()),
                ..SendOptions::default()
            };
            let sent = self
                .send(&delivery.target.resource, &body, options)
                .map_err(|e| DeliveryError::Failed {
                    arn: arn.clone(),
                    message: e.to_string(),
                })?;
            Ok(Bytes::from(sent.message_id))
        })
    }
}

/// The SQS side of Lambda event source mappings: [`SqsService`] is the
/// [`slcl_core::EventSource`] for queue ARNs. Each received message becomes a record of
/// the Lambda SQS event, in the shape and key order of AWS's documented example
/// (<https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html>): `messageId`,
/// `receiptHandle`, `body`, `attributes`, `messageAttributes`, `md5OfBody`
/// (`md5OfMessageAttributes` when there are message attributes), `eventSource`,
/// `eventSourceARN`, `awsRegion`. Message attribute values are camelCase with empty
/// `stringListValues` / `binaryListValues`.
///
/// Filtering sees the record with `body` parsed when it is a JSON object and kept as a
/// string otherwise (<https://docs.aws.amazon.com/lambda/latest/dg/with-sqs-filtering.html>).
pub mod lambda_records {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use base64::Engine as _;
    use serde::Serialize;
    use serde_json::Value;
    use slcl_core::{Arn, BoxFuture, EventSource, SourceError, SourceInfo, SourceRecord};

    use crate::{ReceivedMessage, SqsError, SqsService};

    /// Largest `BatchSize` for a standard queue, as Lambda allows.
    pub const MAX_BATCH_SIZE: u32 = 10_000;
    /// Largest `BatchSize` for a FIFO queue.
    pub const MAX_FIFO_BATCH_SIZE: u32 = 10;

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Record<'a> {
        message_id: &'a str,
        receipt_handle: &'a str,
        body: &'a str,
        attributes: Attributes<'a>,
        message_attributes: BTreeMap<&'a str, Attribute>,
        md5_of_body: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        md5_of_message_attributes: Option<&'a str>,
        event_source: &'static str,
        #[serde(rename = "eventSourceARN")]
        event_source_arn: &'a str,
        aws_region: &'a str,
    }

    /// System attributes in the order AWS's examples list them (standard, then the
    /// FIFO ones interleaved as in the FIFO example).
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Attributes<'a> {
        approximate_receive_count: Option<&'a str>,
        #[serde(rename = "AWSTraceHeader", skip_serializing_if = "Option::is_none")]
        aws_trace_header: Option<&'a str>,
        sent_timestamp: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        sequence_number: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        message_group_id: Option<&'a str>,
        sender_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        message_deduplication_id: Option<&'a str>,
        approximate_first_receive_timestamp: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        dead_letter_queue_source_arn: Option<&'a str>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Attribute {
        #[serde(skip_serializing_if = "Option::is_none")]
        string_value: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        binary_value: Option<String>,
        string_list_values: [String; 0],
        binary_list_values: [String; 0],
        data_type: String,
    }

    /// The Lambda event record of a received message, as JSON text.
    pub fn record_json(m: &ReceivedMessage, queue_arn: &str, region: &str) -> String {
        let a = |k: &str| m.attributes.get(k).map(String::as_str);
        let record = Record {
            message_id: &m.message_id,
            receipt_handle: &m.receipt_handle,
            body: &m.body,
            attributes: Attributes {
                approximate_receive_count: a("ApproximateReceiveCount"),
                aws_trace_header: a("AWSTraceHeader"),
                sent_timestamp: a("SentTimestamp"),
                sequence_number: a("SequenceNumber"),
                message_group_id: a("MessageGroupId"),
                sender_id: a("SenderId"),
                message_deduplication_id: a("MessageDeduplicationId"),
                approximate_first_receive_timestamp: a("ApproximateFirstReceiveTimestamp"),
                dead_letter_queue_source_arn: a("DeadLetterQueueSourceArn"),
            },
            message_attributes: m
                .message_attributes
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str(),
                        Attribute {
                            string_value: v.string_value.clone(),
                            binary_value: v
                                .binary_value
                                .as_ref()
                                .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
                            string_list_values: [],
                            binary_list_values: [],
                            data_type: v.data_type.clone(),
                        },
                    )
                })
                .collect(),
            md5_of_body: &m.md5_of_body,
            md5_of_message_attributes: m.md5_of_message_attributes.as_deref(),
            event_source: "aws:sqs",
            event_source_arn: queue_arn,
            aws_region: region,
        };
        serde_json::to_string(&record).unwrap_or_default()
    }

    /// The record as filters see it: `body` parsed if it is a JSON object.
    pub fn filter_view(record: &str) -> Value {
        let mut view: Value = serde_json::from_str(record).unwrap_or(Value::Null);
        if let Some(body) = view.get_mut("body") {
            if let Some(parsed) = body
                .as_str()
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .filter(Value::is_object)
            {
                *body = parsed;
            }
        }
        view
    }

    /// `Root=<id>` of an `AWSTraceHeader`.
    fn trace_root(header: &str) -> Option<String> {
        header
            .split(';')
            .find_map(|part| part.trim().strip_prefix("Root="))
            .map(str::to_string)
    }

    fn source_error(e: SqsError) -> SourceError {
        match e.code() {
            Some("AWS.SimpleQueueService.NonExistentQueue") => SourceError::NotFound(e.to_string()),
            _ => SourceError::Failed(e.to_string()),
        }
    }

    impl SqsService {
        fn source_queue(&self, arn: &Arn) -> Result<String, SourceError> {
            if arn.service != "sqs"
                || !(arn.account.is_empty() || arn.account == self.stack.account_id)
            {
                return Err(SourceError::NotFound(format!("no queue with ARN {arn}")));
            }
            Ok(arn.resource.clone())
        }
    }

    impl EventSource for SqsService {
        fn info(&self, arn: &Arn) -> Option<SourceInfo> {
            let queue = self.source_queue(arn).ok()?;
            let attributes = self.queue_attributes(&queue).ok()?;
            let fifo = attributes.get("FifoQueue").map(String::as_str) == Some("true");
            Some(SourceInfo {
                ordered: fifo,
                max_batch_size: if fifo {
                    MAX_FIFO_BATCH_SIZE
                } else {
                    MAX_BATCH_SIZE
                },
                batching_window: !fifo,
                visibility_timeout: self.visibility_timeout(&queue).ok()?,
            })
        }

        fn receive(
            &self,
            arn: &Arn,
            max: usize,
            wait: Duration,
        ) -> BoxFuture<'_, Result<Vec<SourceRecord>, SourceError>> {
            let arn = arn.clone();
            Box::pin(async move {
                let queue = self.source_queue(&arn)?;
                let info = self.queue_info(&queue).map_err(source_error)?;
                let messages = self
                    .receive(&queue, max, None, wait)
                    .await
                    .map_err(source_error)?;
                let region = arn.region.clone();
                let region = if region.is_empty() {
                    self.stack.region.clone()
                } else {
                    region
                };
                Ok(messages
                    .iter()
                    .map(|m| {
                        let record = record_json(m, &info.arn, &region);
                        SourceRecord {
                            id: m.message_id.clone(),
                            handle: m.receipt_handle.clone(),
                            group: m.attributes.get("MessageGroupId").cloned(),
                            filter_view: filter_view(&record),
                            record,
                            trace_id: m.trace.as_ref().map(|t| t.trace_id.clone()).or_else(|| {
                                m.attributes
                                    .get("AWSTraceHeader")
                                    .and_then(|h| trace_root(h))
                            }),
                            parent_id: m.trace.as_ref().and_then(|t| t.parent_id.clone()),
                        }
                    })
                    .collect())
            })
        }

        fn delete(&self, arn: &Arn, handles: &[String]) -> Result<(), SourceError> {
            let queue = self.source_queue(arn)?;
            for handle in handles {
                match self.delete(&queue, handle) {
                    Ok(()) => {}
                    // A FIFO handle that expired: the message is someone else's now.
                    Err(e) if e.code() == Some("ReceiptHandleIsInvalid") => {
                        tracing::debug!(error = %e, "receipt handle no longer valid");
                    }
                    Err(e) => return Err(source_error(e)),
                }
            }
            Ok(())
        }

        fn release(&self, arn: &Arn, handles: &[String]) -> Result<(), SourceError> {
            let queue = self.source_queue(arn)?;
            for handle in handles {
                if let Err(e) = self.change_visibility(&queue, handle, Duration::ZERO) {
                    match e.code() {
                        Some("ReceiptHandleIsInvalid")
                        | Some("AWS.SimpleQueueService.MessageNotInflight") => {}
                        _ => return Err(source_error(e)),
                    }
                }
            }
            Ok(())
        }

        fn notified(&self, arn: &Arn) -> BoxFuture<'static, ()> {
            self.notified(&arn.resource)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::MessageAttributeValue;

        #[test]
        fn records_have_aws_key_order_and_filter_views_parse_json_bodies() {
            let mut m = ReceivedMessage {
                message_id: "id-1".into(),
                receipt_handle: "rh".into(),
                body: r#"{"kind":"order"}"#.into(),
                md5_of_body: "md5".into(),
                attributes: BTreeMap::new(),
                message_attributes: BTreeMap::new(),
                md5_of_message_attributes: None,
                trace: None,
            };
            for (k, v) in [
                ("ApproximateReceiveCount", "1"),
                ("SentTimestamp", "2"),
                ("SenderId", "s"),
                ("ApproximateFirstReceiveTimestamp", "3"),
            ] {
                m.attributes.insert(k.into(), v.into());
            }
            let json = record_json(&m, "arn:aws:sqs:us-east-1:000000000000:q", "us-east-1");
            let keys: Vec<&str> = [
                "messageId",
                "receiptHandle",
                "body",
                "attributes",
                "messageAttributes",
                "md5OfBody",
                "eventSource",
                "eventSourceARN",
                "awsRegion",
            ]
            .into_iter()
            .collect();
            let mut last = 0;
            for k in keys {
                let at = json
                    .find(&format!("\"{k}\""))
                    .unwrap_or_else(|| panic!("{k} in {json}"));
                assert!(at >= last, "{k} out of order in {json}");
                last = at;
            }
            assert!(!json.contains("md5OfMessageAttributes"));
            let view = filter_view(&json);
            assert_eq!(view["body"]["kind"], "order");

            m.body = "plain".into();
            m.message_attributes
                .insert("a".into(), MessageAttributeValue::string("v"));
            m.md5_of_message_attributes = Some("x".into());
            let json = record_json(&m, "arn", "r");
            let v: Value = serde_json::from_str(&json).unwrap();
            assert_eq!(
                v["messageAttributes"]["a"],
                serde_json::json!({"stringValue": "v", "stringListValues": [], "binaryListValues": [], "dataType": "String"})
            );
            assert_eq!(filter_view(&json)["body"], "plain");
            assert_eq!(trace_root("Root=1-abc;Parent=2"), Some("1-abc".into()));
        }
    }
}
