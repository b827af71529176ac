//! The bus side of Lambda: deliveries to `arn:aws:lambda:…` ARNs, and the worker that
//! runs queued asynchronous invocations with Lambda's retry policy.
//!
//! Retry policy, from "How Lambda handles errors and retries with asynchronous
//! invocation"
//! (<https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html>):
//! a failed async event is tried `MaximumRetryAttempts` more times (default two), one
//! minute after the first attempt and two minutes after the second; an event older
//! than `MaximumEventAgeInSeconds` (default six hours) when its turn comes is
//! discarded. Both come from the function's event invoke configuration
//! (`invoke_config`). Every wait reads the stack's clock.
//!
//! Then, as "Capturing records of Lambda asynchronous invocations" describes, a
//! success is recorded to the `OnSuccess` destination, and a final failure
//! (`RetriesExhausted` or `EventAgeExceeded`) to the `OnFailure` destination or, when
//! there is none, the event alone to the function's dead-letter queue. Records go out
//! on the bus, so any emulator that owns the destination's ARN receives them.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use slcl_core::{Arn, BoxFuture, Delivery, DeliveryError, InvocationType, Target, TraceContext};
use slcl_runtime::{Invocation, Outcome};
use tracing::Instrument;

use serde_json::{json, Value};

use crate::invoke_config::{AsyncPolicy, LastAttempt};
use crate::state::QueuedEvent;
use crate::LambdaService;

/// Attempts after the first, Lambda's default `MaximumRetryAttempts`.
pub(crate) const MAX_RETRY_ATTEMPTS: u32 = 2;
/// Lambda's default `MaximumEventAgeInSeconds` (six hours).
pub(crate) const MAX_EVENT_AGE: Duration = Duration::from_secs(6 * 60 * 60);
/// How many queued events run at once.
const WORKER_BATCH: usize = 16;
/// Wait before a throttled async event is tried again.
const THROTTLE_RETRY: Duration = Duration::from_secs(1);

/// Wait before retry number `attempt` (1-based).
fn retry_delay(attempt: u32) -> Duration {
    Duration::from_secs(60 * u64::from(attempt.max(1)))
}

/// The function name an ARN (`function:name[:qualifier]`) refers to.
pub(crate) fn function_name(arn: &Arn) -> Option<&str> {
    let rest = arn.resource.strip_prefix("function:")?;
    Some(rest.split(':').next().unwrap_or(rest))
}

impl Target for LambdaService {
    fn exists(&self, arn: &Arn) -> bool {
        function_name(arn).is_some_and(|name| self.registry.get(name).is_some())
    }

    fn deliver(&self, delivery: Delivery) -> BoxFuture<'_, Result<Bytes, DeliveryError>> {
        Box::pin(async move {
            let arn = delivery.target.to_string();
            let name = function_name(&delivery.target)
                .ok_or_else(|| DeliveryError::NotFound(arn.clone()))?
                .to_string();
            match delivery.invocation_type {
                InvocationType::Event => {
                    self.enqueue(&name, &delivery.payload, &delivery.trace)
                        .map_err(|e| DeliveryError::Failed {
                            arn,
                            message: e.to_string(),
                        })?;
                    Ok(Bytes::new())
                }
                InvocationType::RequestResponse => {
                    let out = self
                        .invoke(&name, delivery.payload, delivery.trace)
                        .await
                        .map_err(|e| DeliveryError::Failed {
                            arn: arn.clone(),
                            message: e.to_string(),
                        })?;
                    match out.result.outcome {
                        Outcome::Success(payload) => Ok(payload),
                        Outcome::FunctionError { payload, .. } => Err(DeliveryError::Failed {
                            arn,
                            message: String::from_utf8_lossy(&payload).into_owned(),
                        }),
                    }
                }
            }
        })
    }
}

impl LambdaService {
    /// Queues an asynchronous invocation; durable once this returns. Returns the
    /// request id the invocation will run with.
    pub fn enqueue(
        &self,
        function: &str,
        payload: &[u8],
        trace: &TraceContext,
    ) -> anyhow::Result<String> {
        let request_id = slcl_core::ids::uuid();
        self.queue.push(
            function,
            payload,
            &request_id,
            trace,
            self.clock.now_millis(),
        )?;
        self.wake.notify_one();
        Ok(request_id)
    }
}

/// Runs queued events until the service is dropped.
pub(crate) fn spawn_worker(service: Arc<LambdaService>) {
    let weak = Arc::downgrade(&service);
    drop(service);
    tokio::spawn(async move {
        loop {
            let Some(service) = weak.upgrade() else {
                return;
            };
            let now = service.clock.now_millis();
            match service.queue.take_due(now, WORKER_BATCH) {
                Ok(due) => {
                    for event in due {
                        let service = Arc::clone(&service);
                        tokio::spawn(async move { run_queued(service, event).await });
                    }
                }
                Err(e) => tracing::error!(error = %e, "failed to read the async invocation queue"),
            }
            let next_due = service.queue.next_due_ms();
            let clock = Arc::clone(&service.clock);
            // Hold only a weak reference while idle, so dropping the stack ends the loop.
            let notified = {
                let service = Arc::clone(&service);
                async move { service.wake.notified().await }
            };
            drop(service);
            match next_due {
                Some(at) if at <= now => tokio::task::yield_now().await,
                Some(at) => {
                    let deadline = std::time::UNIX_EPOCH + Duration::from_millis(at);
                    tokio::select! {
                        _ = clock.sleep_until(deadline) => {},
                        _ = notified => {},
                        // Re-check now and then so a dropped service is noticed.
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {},
                    }
                }
                None => {
                    tokio::select! {
                        _ = notified => {},
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {},
                    }
                }
            }
        }
    });
}

async fn run_queued(service: Arc<LambdaService>, event: QueuedEvent) {
    let span = tracing::info_span!(
        "lambda.async_invoke",
        function = %event.function,
        request_id = %event.request_id,
        attempt = event.attempts + 1,
    );
    async {
        let now = service.clock.now_millis();
        let policy = service.async_policy(&event.function);
        let age = Duration::from_millis(now.saturating_sub(event.enqueued_ms));
        if age > policy.maximum_event_age {
            tracing::warn!(
                age_s = age.as_secs(),
                "event older than MaximumEventAgeInSeconds; discarded"
            );
            let last = service.invoke_configs.take_attempt(&event.request_id);
            let response = last.map(|l| Response {
                function_error: l.function_error,
                payload: Bytes::from(l.payload),
            });
            service
                .finish_failed(
                    &event,
                    &policy,
                    Condition::EventAgeExceeded,
                    event.attempts,
                    response.as_ref(),
                    "event too old",
                )
                .await;
            return;
        }
        let Some(entry) = service.queued_entry(&event.function).await else {
            // The function may be declared again (reloaded config); try again later.
            tracing::warn!("function not found; will retry");
            let _ = service.queue.retry_at(
                event.id,
                event.attempts,
                now + retry_delay(1).as_millis() as u64,
            );
            return;
        };
        // Over the function's or the account's concurrency, the event waits and is
        // tried again; a throttle is not an attempt.
        let slot = match service.concurrency.acquire(&entry.decl.name) {
            Ok(slot) => slot,
            Err(throttle) => {
                service.stats.throttled(&entry.decl.name);
                tracing::debug!(
                    reason = throttle.reason(),
                    "async invocation throttled; will retry"
                );
                let _ = service.queue.retry_at(
                    event.id,
                    event.attempts,
                    now + THROTTLE_RETRY.as_millis() as u64,
                );
                return;
            }
        };
        let invocation = Invocation {
            request_id: event.request_id.clone(),
            payload: event.payload.clone(),
            trace: TraceContext {
                trace_id: event.trace_id.clone(),
                parent_id: event.parent_id.clone(),
            },
            client_context: None,
        };
        let (ran, finished_ms) = service.run_recorded(&entry, invocation).await;
        drop(slot);
        let attempts = event.attempts + 1;
        let failed = match ran {
            Ok(result) => match result.outcome {
                Outcome::Success(payload) => {
                    if let Some(destination) = &policy.on_success {
                        let response = Response {
                            function_error: None,
                            payload,
                        };
                        let record = service.destination_record(
                            &event,
                            Condition::Success,
                            attempts,
                            Some(&response),
                        );
                        service.send_record(&event, destination, record).await;
                    }
                    None
                }
                Outcome::FunctionError { payload, .. } => Some(Response {
                    function_error: Some("Unhandled".into()),
                    payload,
                }),
            },
            Err(e) => Some(Response {
                function_error: Some("Unhandled".into()),
                payload: Bytes::from(json!({ "errorMessage": e.to_string() }).to_string()),
            }),
        };
        let result = match failed {
            None => service.queue.finish(event.id),
            Some(response) => {
                let error: String = String::from_utf8_lossy(&response.payload)
                    .chars()
                    .take(500)
                    .collect();
                if attempts > policy.maximum_retry_attempts {
                    tracing::warn!(%error, attempts, "async invocation failed; retries exhausted");
                    service
                        .finish_failed(
                            &event,
                            &policy,
                            Condition::RetriesExhausted,
                            attempts,
                            Some(&response),
                            &error,
                        )
                        .await;
                    Ok(())
                } else {
                    let delay = retry_delay(attempts);
                    tracing::warn!(
                        %error,
                        attempts,
                        retry_in_s = delay.as_secs(),
                        "async invocation failed; will retry"
                    );
                    let kept = LastAttempt {
                        function_error: response.function_error.clone(),
                        payload: response.payload.to_vec(),
                    };
                    if let Err(e) = service
                        .invoke_configs
                        .keep_attempt(&event.request_id, &kept)
                    {
                        tracing::warn!(error = %e, "failed to keep the failed attempt");
                    }
                    service.queue.retry_at(
                        event.id,
                        attempts,
                        finished_ms + delay.as_millis() as u64,
                    )
                }
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "failed to update the async invocation queue");
        }
        service.wake.notify_one();
    }
    .instrument(span)
    .await
}

/// Why an invocation record is sent, as the record's `requestContext.condition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
enum Condition {
    /// The function returned a result.
    Success,
    /// Every attempt failed.
    RetriesExhausted,
    /// The event was older than `MaximumEventAgeInSeconds` when its turn came.
    EventAgeExceeded,
}

/// What an attempt answered.
struct Response {
    /// `Unhandled` for a function error, `None` for a result.
    function_error: Option<String>,
    /// The result, or the error document.
    payload: Bytes,
}

/// `requestContext` of an invocation record, keys in AWS's order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordRequestContext<'a> {
    request_id: &'a str,
    function_arn: String,
    condition: Condition,
    approximate_invoke_count: u32,
}

/// `responseContext` of an invocation record, keys in AWS's order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordResponseContext<'a> {
    status_code: u16,
    executed_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_error: Option<&'a str>,
}

/// `bytes` as a JSON value: the bytes themselves when they are a JSON document (so
/// the function's own key order is kept), else a JSON string of them, `null` when
/// empty.
fn raw_json(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        "null".into()
    } else if serde_json::from_str::<serde::de::IgnoredAny>(trimmed).is_ok() {
        trimmed.to_owned()
    } else {
        Value::String(text.into_owned()).to_string()
    }
}

impl LambdaService {
    /// The invocation record Lambda sends to a destination, in the shape and key
    /// order of "Capturing records of Lambda asynchronous invocations"
    /// (<https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html>):
    /// `version`, `timestamp`, `requestContext` (`requestId`, `functionArn` with the
    /// executed version, `condition`, `approximateInvokeCount`), `requestPayload`,
    /// `responseContext` (`statusCode`, `executedVersion`, `functionError` only for
    /// errors) and `responsePayload`. An event that grew too old before any attempt
    /// has no response, so neither response key.
    fn destination_record(
        &self,
        event: &QueuedEvent,
        condition: Condition,
        invoke_count: u32,
        response: Option<&Response>,
    ) -> String {
        let timestamp = time::OffsetDateTime::from(self.clock.now())
            .format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            ))
            .unwrap_or_default();
        let (name, version) = crate::functions::split_function(&event.function);
        let version = version.unwrap_or("$LATEST");
        let request_context = RecordRequestContext {
            request_id: &event.request_id,
            function_arn: format!("{}:{version}", self.function_arn(name)),
            condition,
            approximate_invoke_count: invoke_count,
        };
        let mut record = format!(
            r#"{{"version":"1.0","timestamp":{},"requestContext":{},"requestPayload":{}"#,
            Value::String(timestamp),
            serde_json::to_string(&request_context).unwrap_or_default(),
            raw_json(&event.payload),
        );
        if let Some(response) = response {
            let response_context = RecordResponseContext {
                status_code: 200,
                executed_version: version,
                function_error: response.function_error.as_deref(),
            };
            record.push_str(&format!(
                r#","responseContext":{},"responsePayload":{}"#,
                serde_json::to_string(&response_context).unwrap_or_default(),
                raw_json(&response.payload),
            ));
        }
        record.push('}');
        record
    }

    /// Ends a failed event: its record to the on-failure destination, or else the
    /// event itself to the dead-letter queue; then the queue row is removed. A
    /// record that cannot be delivered is logged, and the event is finished anyway,
    /// as Lambda drops it (counting `DestinationDeliveryFailures`).
    async fn finish_failed(
        &self,
        event: &QueuedEvent,
        policy: &AsyncPolicy,
        condition: Condition,
        invoke_count: u32,
        response: Option<&Response>,
        error: &str,
    ) {
        if let Some(destination) = &policy.on_failure {
            let record = self.destination_record(event, condition, invoke_count, response);
            self.send_record(event, destination, record).await;
        } else if let Some(dlq) = self.dead_letter_target(&event.function) {
            // A dead-letter queue gets the event alone
            // (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html#invocation-dlq).
            let _ = error;
            self.send(event, &dlq, event.payload.clone()).await;
        } else {
            tracing::warn!(
                ?condition,
                "async event discarded (no on-failure destination or dead-letter queue)"
            );
        }
        let _ = self.invoke_configs.take_attempt(&event.request_id);
        if let Err(e) = self.queue.finish(event.id) {
            tracing::error!(error = %e, "failed to update the async invocation queue");
        }
    }

    /// Delivers a record to a destination. An S3 bucket gets it as object
    /// `aws/lambda/async/<function>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>`, the key
    /// Lambda documents; every other destination (queue, topic, function, event bus)
    /// gets it as the message or event, through whichever emulator owns the ARN.
    async fn send_record(&self, event: &QueuedEvent, destination: &str, record: String) {
        let target = match Arn::parse(destination) {
            Some(arn) if arn.service == "s3" => {
                let bucket = arn.resource.split('/').next().unwrap_or_default();
                let at = time::OffsetDateTime::from(self.clock.now());
                let key = at
                    .format(time::macros::format_description!(
                        "[year]/[month]/[day]/[year]-[month]-[day]T[hour].[minute].[second]"
                    ))
                    .unwrap_or_default();
                format!(
                    "arn:{}:s3:::{bucket}/aws/lambda/async/{}/{key}-{}",
                    arn.partition,
                    event.function,
                    slcl_core::ids::uuid()
                )
            }
            _ => destination.to_owned(),
        };
        self.send(event, &target, Bytes::from(record)).await;
    }

    /// Hands `payload` to the resource `target` names, as an asynchronous delivery
    /// under the invocation's trace.
    async fn send(&self, event: &QueuedEvent, target: &str, payload: Bytes) {
        let Some(arn) = Arn::parse(target) else {
            tracing::warn!(%target, "destination is not an ARN; record dropped");
            return;
        };
        let bus = self.bus.read().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(bus) = bus else {
            tracing::warn!(%target, "no bus to deliver the record on; record dropped");
            return;
        };
        let delivery = Delivery {
            target: arn,
            source: Arn::parse(&self.function_arn(&event.function)),
            payload,
            invocation_type: InvocationType::Event,
            trace: TraceContext {
                trace_id: event.trace_id.clone(),
                parent_id: Some(event.request_id.clone()),
            },
        };
        if let Err(e) = bus.deliver(delivery).await {
            tracing::warn!(%target, error = %e, "async invocation record not delivered");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_delays() {
        let arn = Arn::parse("arn:aws:lambda:us-east-1:000000000000:function:f:live").unwrap();
        assert_eq!(function_name(&arn), Some("f"));
        assert_eq!(retry_delay(1), Duration::from_secs(60));
        assert_eq!(retry_delay(2), Duration::from_secs(120));
    }
}
