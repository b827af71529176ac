//! The bus side of Lambda: deliveries to `arn:aws:lambda:…` ARNs, and the worker that
//! runs queued asynchronous invocations with Lambda's retry policy.
//!
//! Retry policy, from "Error handling and automatic retries in AWS Lambda"
//! (<https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html>):
//! a failed async event is tried two more times, one minute after the first attempt
//! and two minutes after the second; events older than six hours are discarded. Every
//! wait reads the stack's clock.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use slcl_core::{Arn, BoxFuture, Delivery, DeliveryError, InvocationType, Target, TraceContext};
use slcl_runtime::{Invocation, Outcome};
use tracing::Instrument;

use crate::state::QueuedEvent;
use crate::LambdaService;

/// Attempts after the first, Lambda's default `MaximumRetryAttempts`.
pub(crate) const MAX_RETRY_ATTEMPTS: u32 = 2;
/// Lambda's default `MaximumEventAgeInSeconds` (six hours).
pub(crate) const MAX_EVENT_AGE: Duration = Duration::from_secs(6 * 60 * 60);
/// How many queued events run at once.
const WORKER_BATCH: usize = 16;

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
        let age = Duration::from_millis(now.saturating_sub(event.enqueued_ms));
        if age > MAX_EVENT_AGE {
            tracing::warn!("event older than MaximumEventAgeInSeconds; discarded");
            let _ = service.queue.finish(event.id);
            return;
        }
        let Some(entry) = service.registry.get(&event.function) else {
            // The function may be declared again (reloaded config); try again later.
            tracing::warn!("function not found; will retry");
            let _ = service
                .queue
                .retry_at(event.id, event.attempts, now + retry_delay(1).as_millis() as u64);
            return;
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
        let failed = match ran {
            Ok(result) => match result.outcome {
                Outcome::Success(_) => None,
                Outcome::FunctionError { payload, .. } => {
                    Some(String::from_utf8_lossy(&payload).chars().take(500).collect())
                }
            },
            Err(e) => Some(e.to_string()),
        };
        let result = match failed {
            None => service.queue.finish(event.id),
            Some(error) => {
                let attempts = event.attempts + 1;
                if attempts > MAX_RETRY_ATTEMPTS {
                    tracing::warn!(%error, attempts, "async invocation failed; retries exhausted, event discarded");
                    service.queue.finish(event.id)
                } else {
                    let at = finished_ms + retry_delay(attempts).as_millis() as u64;
                    tracing::warn!(
                        %error,
                        attempts,
                        retry_in_s = retry_delay(attempts).as_secs(),
                        "async invocation failed; will retry"
                    );
                    service.queue.retry_at(event.id, attempts, at)
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
