//! The in-process event bus.
//!
//! Everything that makes one service call another goes through the [`Bus`]: S3
//! notifications today; SNS subscriptions, event source mappings, EventBridge rules,
//! async invocations and destinations next. Each is "deliver this payload to this
//! ARN". Emulators that own deliverable resources register one [`Target`] per ARN
//! service namespace (`lambda`, `sqs`, ...); producers call [`Bus::publish`] (fire and
//! forget) or [`Bus::deliver`] (wait for the target's answer).
//!
//! ```
//! # use std::sync::Arc;
//! # use slcl_core::{Arn, BoxFuture, Delivery, DeliveryError, Target};
//! struct Sink;
//! impl Target for Sink {
//!     fn exists(&self, _arn: &Arn) -> bool { true }
//!     fn deliver(&self, d: Delivery) -> BoxFuture<'_, Result<bytes::Bytes, DeliveryError>> {
//!         Box::pin(async move { Ok(d.payload) })
//!     }
//! }
//! let bus = slcl_bus::Bus::new();
//! bus.register("lambda", Arc::new(Sink));
//! let arn = Arn::parse("arn:aws:lambda:us-east-1:000000000000:function:f").unwrap();
//! assert!(bus.exists(&arn));
//! ```
#![deny(missing_docs)]

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use slcl_core::{Arn, Delivery, DeliveryError, SharedClock, StepKind, Target, TraceLog, TraceStep};
use tracing::Instrument;

/// Routes deliveries to the [`Target`] that owns the ARN's service namespace.
#[derive(Default)]
pub struct Bus {
    targets: RwLock<HashMap<String, Arc<dyn Target>>>,
    traces: Option<(Arc<TraceLog>, SharedClock)>,
}

impl Bus {
    /// An empty bus that records no traces.
    pub fn new() -> Arc<Bus> {
        Arc::new(Bus::default())
    }

    /// An empty bus that records every delivery as a step in `traces`, timed on
    /// `clock`. The target sees the delivery's own id as its trace parent, so what the
    /// target does next hangs under the delivery.
    pub fn with_traces(traces: Arc<TraceLog>, clock: SharedClock) -> Arc<Bus> {
        Arc::new(Bus {
            targets: RwLock::default(),
            traces: Some((traces, clock)),
        })
    }

    /// Makes `target` the owner of every ARN in the `service` namespace (`lambda`, ...).
    /// A later registration for the same namespace replaces the earlier one.
    pub fn register(&self, service: &str, target: Arc<dyn Target>) {
        self.targets
            .write()
            .expect("bus lock poisoned")
            .insert(service.to_string(), target);
    }

    /// Forgets every target. Targets often hold the bus themselves (to send on what
    /// they receive), so a stack that stops calls this to break those cycles and let
    /// its emulators, and their stores, go.
    pub fn clear(&self) {
        self.targets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn target(&self, arn: &Arn) -> Result<Arc<dyn Target>, DeliveryError> {
        self.targets
            .read()
            .expect("bus lock poisoned")
            .get(&arn.service)
            .cloned()
            .ok_or_else(|| DeliveryError::Unsupported(arn.service.clone()))
    }

    /// Whether the resource named by `arn` exists and can take deliveries.
    pub fn exists(&self, arn: &Arn) -> bool {
        self.target(arn).map(|t| t.exists(arn)).unwrap_or(false)
    }

    /// Delivers and waits for the target to accept (or, for request/response
    /// deliveries, to answer).
    pub async fn deliver(&self, mut delivery: Delivery) -> Result<Bytes, DeliveryError> {
        let Some((traces, clock)) = &self.traces else {
            return self.route(delivery).await;
        };
        let id = slcl_core::ids::uuid();
        let mut step = TraceStep {
            trace_id: delivery.trace.trace_id.clone(),
            id: id.clone(),
            parent_id: delivery.trace.parent_id.replace(id),
            kind: StepKind::Delivery,
            service: "bus".into(),
            name: delivery.target.to_string(),
            started_ms: clock.now_millis(),
            duration_us: 0,
            outcome: String::new(),
        };
        let started = std::time::Instant::now();
        let result = self.route(delivery).await;
        step.duration_us = started.elapsed().as_micros() as u64;
        step.outcome = match &result {
            Ok(_) => "ok".into(),
            Err(e) => e.to_string(),
        };
        traces.record(step);
        result
    }

    async fn route(&self, delivery: Delivery) -> Result<Bytes, DeliveryError> {
        let span = tracing::info_span!(
            "bus.deliver",
            target = %delivery.target,
            trace_id = %delivery.trace.trace_id,
        );
        async {
            let target = self.target(&delivery.target)?;
            if !target.exists(&delivery.target) {
                return Err(DeliveryError::NotFound(delivery.target.to_string()));
            }
            target.deliver(delivery).await
        }
        .instrument(span)
        .await
    }

    /// Delivers in the background; failures are logged. Used for notifications that
    /// must not delay the request that caused them.
    pub fn publish(self: &Arc<Self>, delivery: Delivery) {
        let bus = Arc::clone(self);
        tokio::spawn(async move {
            let target = delivery.target.to_string();
            if let Err(e) = bus.deliver(delivery).await {
                tracing::warn!(%target, error = %e, "delivery failed");
            }
        });
    }
}
