use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// What kind of step of a trace a [`TraceStep`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// A request that reached the edge (from a client or from a guest).
    Request,
    /// A payload the bus delivered to an ARN.
    Delivery,
    /// A function invocation.
    Invocation,
}

/// One step in the path of a trace: who did what, caused by which earlier step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceStep {
    /// The trace this step belongs to.
    pub trace_id: String,
    /// This step's id (a request id, delivery id or invocation request id).
    pub id: String,
    /// The step that caused this one, if any.
    pub parent_id: Option<String>,
    /// Request, delivery or invocation.
    pub kind: StepKind,
    /// Service that performed it (`s3`, `lambda`, `bus`).
    pub service: String,
    /// What happened, such as `PUT /photos/uploads/a.jpg` or a target ARN.
    pub name: String,
    /// When it started, in Unix milliseconds on the stack's clock.
    pub started_ms: u64,
    /// How long it took, in microseconds of real time.
    pub duration_us: u64,
    /// How it ended: an HTTP status, `ok`, or an error type.
    pub outcome: String,
}

/// The most recent steps of every trace in a stack, for `GET /_slcl/traces/<id>`.
///
/// Keeps the last [`TraceLog::CAPACITY`] steps; older ones are forgotten, so memory
/// stays bounded however long the stack runs.
#[derive(Debug, Default)]
pub struct TraceLog {
    steps: Mutex<VecDeque<TraceStep>>,
}

impl TraceLog {
    /// How many steps are kept.
    pub const CAPACITY: usize = 10_000;

    /// An empty log.
    pub fn new() -> Arc<TraceLog> {
        Arc::new(TraceLog::default())
    }

    /// Records a finished step.
    pub fn record(&self, step: TraceStep) {
        let mut steps = self.steps.lock().unwrap_or_else(|p| p.into_inner());
        if steps.len() == Self::CAPACITY {
            steps.pop_front();
        }
        steps.push_back(step);
    }

    /// Forgets every step.
    pub fn clear(&self) {
        self.steps.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Every step of `trace_id` still kept, in the order they started; a step never
    /// comes before its parent, even when both started in the same millisecond (a
    /// step is recorded when it ends, so a child is often recorded first).
    pub fn trace(&self, trace_id: &str) -> Vec<TraceStep> {
        let steps = self.steps.lock().unwrap_or_else(|p| p.into_inner());
        let mut found: Vec<TraceStep> = steps
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect();
        drop(steps);
        let depth = |s: &TraceStep| {
            let mut depth = 0usize;
            let mut parent = s.parent_id.as_deref();
            while let Some(p) = parent {
                if depth > found.len() {
                    break; // a cycle: ids are unique, but never loop
                }
                depth += 1;
                parent = found
                    .iter()
                    .find(|f| f.id == p)
                    .and_then(|f| f.parent_id.as_deref());
            }
            depth
        };
        let mut keyed: Vec<(u64, usize, TraceStep)> = found
            .iter()
            .map(|s| (s.started_ms, depth(s), s.clone()))
            .collect();
        keyed.sort_by_key(|(started, depth, _)| (*started, *depth));
        found = keyed.into_iter().map(|(_, _, s)| s).collect();
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(trace: &str, id: &str, started_ms: u64) -> TraceStep {
        TraceStep {
            trace_id: trace.into(),
            id: id.into(),
            parent_id: None,
            kind: StepKind::Request,
            service: "s3".into(),
            name: "GET /".into(),
            started_ms,
            duration_us: 1,
            outcome: "200".into(),
        }
    }

    #[test]
    fn keeps_steps_of_a_trace_in_start_order_and_stays_bounded() {
        let log = TraceLog::new();
        log.record(step("t1", "b", 2));
        log.record(step("t2", "x", 1));
        log.record(step("t1", "a", 1));
        let ids: Vec<String> = log.trace("t1").into_iter().map(|s| s.id).collect();
        assert_eq!(ids, ["a", "b"]);
        for i in 0..TraceLog::CAPACITY {
            log.record(step("t3", &i.to_string(), i as u64));
        }
        assert!(log.trace("t1").is_empty(), "the oldest steps are forgotten");
        assert_eq!(log.trace("t3").len(), TraceLog::CAPACITY);
    }
}
