//! Message move tasks: redriving messages out of a dead-letter queue
//! (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html>).
//!
//! A task moves the messages that were in the dead-letter queue when it started,
//! either to `DestinationArn` or, without one, each back to the queue it came from
//! (its `DeadLetterQueueSourceArn`). Moved messages start over: receive count zero,
//! visible at once. With `MaxNumberOfMessagesPerSecond` the task moves that many
//! messages per second of the stack's clock; without it, everything at once. Tasks
//! run on a tokio task; their progress is in `sqs_move_tasks`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Map, Value};
use tracing::Instrument;

use super::{Cx, Input};
use crate::error::{ApiError, ApiResult};
use crate::state::{self, MoveTaskRow};
use crate::SqsService;

fn task_handle(task_id: &str, source_arn: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(json!({"taskId": task_id, "sourceArn": source_arn}).to_string())
}

fn task_id_of(handle: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(handle.as_bytes())
        .ok()?;
    let v: Value = serde_json::from_slice(&raw).ok()?;
    v.get("taskId")?.as_str().map(str::to_string)
}

fn queue_name_of_arn(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let parts: Vec<&str> = rest.split(':').collect();
    (parts.len() == 5 && parts[1] == "sqs").then_some(parts[4])
}

impl SqsService {
    pub(crate) fn start_message_move_task(&self, input: Input<'_>, _cx: &Cx) -> ApiResult<Value> {
        let source_arn = input.required("SourceArn")?;
        let destination_arn = input.str("DestinationArn").filter(|s| !s.is_empty());
        let rate = input.int("MaxNumberOfMessagesPerSecond")?;
        if let Some(r) = rate {
            if !(1..=500).contains(&r) {
                return Err(ApiError::invalid_value(
                    "MaxNumberOfMessagesPerSecond",
                    r,
                    "Must be between 1 and 500.",
                ));
            }
        }
        let not_found = |what: &str| {
            ApiError::resource_not_found(format!(
                "The resource that you specified for the {what} parameter doesn't exist."
            ))
        };
        let now = self.now();
        let task = self.state.write(|c| {
            let source = queue_name_of_arn(source_arn)
                .map(|n| state::queue(c, n))
                .transpose()?
                .flatten()
                .ok_or_else(|| not_found("SourceArn"))?;
            let arn = source.arn();
            let is_dlq = state::queues(c)?
                .iter()
                .any(|q| q.redrive().is_some_and(|(target, _)| target == arn));
            if !is_dlq {
                return Err(ApiError::invalid_parameter_value(
                    "Source queue must be configured as a Dead Letter Queue.",
                ));
            }
            if let Some(d) = destination_arn {
                let dest = queue_name_of_arn(d)
                    .map(|n| state::queue(c, n))
                    .transpose()?
                    .flatten()
                    .ok_or_else(|| not_found("DestinationArn"))?;
                if dest.name == source.name {
                    return Err(ApiError::invalid_parameter_value(
                        "Source queue and destination queue cannot be the same.",
                    ));
                }
            }
            if state::tasks(c, &arn)?
                .iter()
                .any(|t| t.status == "RUNNING" || t.status == "CANCELLING")
            {
                return Err(ApiError::invalid_parameter_value(
                    "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
                ));
            }
            let to_move = state::counts(c, &source, now)?.visible;
            let task = MoveTaskRow {
                task_id: slcl_core::ids::uuid(),
                source_arn: arn,
                destination_arn: destination_arn.map(str::to_string),
                rate,
                status: "RUNNING".into(),
                moved: 0,
                to_move,
                started_ms: now,
                failure_reason: None,
            };
            state::insert_task(c, &task)?;
            Ok(task)
        })?;
        let cancel = Arc::new(AtomicBool::new(false));
        self.move_cancels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(task.task_id.clone(), cancel.clone());
        let handle = task_handle(&task.task_id, &task.source_arn);
        if let Some(me) = self.me.upgrade() {
            let task = task.clone();
            tokio::spawn(async move { me.run_move_task(task, cancel).await });
        }
        Ok(json!({ "TaskHandle": handle }))
    }

    async fn run_move_task(self: Arc<Self>, task: MoveTaskRow, cancel: Arc<AtomicBool>) {
        let span =
            tracing::info_span!("sqs.move_task", task = %task.task_id, source = %task.source_arn);
        self.move_loop(&task, &cancel).instrument(span).await;
        self.move_cancels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&task.task_id);
    }

    async fn move_loop(&self, task: &MoveTaskRow, cancel: &AtomicBool) {
        let source_name = queue_name_of_arn(&task.source_arn)
            .unwrap_or_default()
            .to_string();
        let per_step = task.rate.unwrap_or(i64::MAX);
        let mut moved = 0i64;
        let finish = |status: &str, moved: i64, failure: Option<&str>| {
            if let Err(e) = self
                .state
                .write(|c| state::update_task(c, &task.task_id, status, moved, failure))
            {
                tracing::warn!(error = %e.message, "could not record move task state");
            }
        };
        loop {
            if cancel.load(Ordering::SeqCst) {
                finish("CANCELLED", moved, None);
                return;
            }
            let want = (task.to_move - moved).min(per_step);
            if want <= 0 {
                finish("COMPLETED", moved, None);
                return;
            }
            let now = self.now();
            match self
                .state
                .write(|c| self.move_step(c, task, &source_name, want, moved, now))
            {
                Ok((n, woken)) => {
                    for q in woken {
                        self.wake(&q);
                    }
                    moved += n;
                    if n == 0 || moved >= task.to_move {
                        finish("COMPLETED", moved, None);
                        return;
                    }
                }
                Err(e) => {
                    finish("FAILED", moved, Some(&e.message));
                    return;
                }
            }
            if task.rate.is_some() {
                self.clock.sleep(Duration::from_secs(1)).await;
            }
        }
    }

    /// Moves up to `want` visible messages; returns how many and the queues that got
    /// them.
    fn move_step(
        &self,
        c: &rusqlite::Connection,
        task: &MoveTaskRow,
        source_name: &str,
        want: i64,
        moved: i64,
        now: i64,
    ) -> ApiResult<(i64, Vec<String>)> {
        let source = state::existing(c, source_name)?;
        let mut woken = Vec::new();
        let mut n = 0;
        for m in state::messages(c, &source, now)?
            .into_iter()
            .filter(|m| m.visible_at_ms <= now)
            .take(want as usize)
        {
            let dest_arn = task
                .destination_arn
                .clone()
                .or_else(|| m.dlq_source_arn.clone())
                .ok_or_else(|| {
                    ApiError::invalid_parameter_value(
                        "A message has no source queue to move back to.",
                    )
                })?;
            let dest = queue_name_of_arn(&dest_arn)
                .map(|n| state::queue(c, n))
                .transpose()?
                .flatten()
                .ok_or_else(|| {
                    ApiError::resource_not_found(format!(
                        "Destination queue {dest_arn} does not exist."
                    ))
                })?;
            let mut fresh = m.clone();
            fresh.visible_at_ms = now;
            fresh.receive_count = 0;
            fresh.first_receive_ms = None;
            fresh.dlq_source_arn = None;
            fresh.retain_from_ms = now;
            fresh.sequence_number = if dest.fifo {
                Some(state::next_sequence(c, &dest.name)?)
            } else {
                None
            };
            if dest.fifo && fresh.group_id.is_none() {
                fresh.group_id = Some("redrive".into());
            }
            state::delete_message(c, &source.name, &m.message_id)?;
            state::delete_message(c, &dest.name, &m.message_id)?;
            state::insert_message(c, &dest.name, &fresh)?;
            if !woken.contains(&dest.name) {
                woken.push(dest.name.clone());
            }
            n += 1;
        }
        state::update_task(c, &task.task_id, "RUNNING", moved + n, None)?;
        Ok((n, woken))
    }

    pub(crate) fn list_message_move_tasks(&self, input: Input<'_>, _cx: &Cx) -> ApiResult<Value> {
        let source_arn = input.required("SourceArn")?;
        let max = input.int("MaxResults")?.unwrap_or(1);
        if !(1..=10).contains(&max) {
            return Err(ApiError::invalid_value(
                "MaxResults",
                max,
                "Must be between 1 and 10.",
            ));
        }
        let tasks = self.state.read(|c| {
            let source = queue_name_of_arn(source_arn)
                .map(|n| state::queue(c, n))
                .transpose()?
                .flatten()
                .ok_or_else(|| {
                    ApiError::resource_not_found(
                        "The resource that you specified for the SourceArn parameter doesn't exist.",
                    )
                })?;
            state::tasks(c, &source.arn())
        })?;
        let results: Vec<Value> = tasks
            .iter()
            .take(max as usize)
            .map(|t| {
                let mut e = Map::new();
                if t.status == "RUNNING" {
                    e.insert(
                        "TaskHandle".into(),
                        task_handle(&t.task_id, &t.source_arn).into(),
                    );
                }
                e.insert("Status".into(), t.status.clone().into());
                e.insert("SourceArn".into(), t.source_arn.clone().into());
                if let Some(d) = &t.destination_arn {
                    e.insert("DestinationArn".into(), d.clone().into());
                }
                if let Some(r) = t.rate {
                    e.insert("MaxNumberOfMessagesPerSecond".into(), r.into());
                }
                e.insert("ApproximateNumberOfMessagesMoved".into(), t.moved.into());
                e.insert("ApproximateNumberOfMessagesToMove".into(), t.to_move.into());
                if let Some(f) = &t.failure_reason {
                    e.insert("FailureReason".into(), f.clone().into());
                }
                e.insert("StartedTimestamp".into(), t.started_ms.into());
                Value::Object(e)
            })
            .collect();
        Ok(json!({ "Results": results }))
    }

    pub(crate) fn cancel_message_move_task(&self, input: Input<'_>, _cx: &Cx) -> ApiResult<Value> {
        let handle = input.required("TaskHandle")?;
        let not_found = || ApiError::resource_not_found("Task does not exist.");
        let id = task_id_of(handle).ok_or_else(not_found)?;
        let task = self.state.write(|c| {
            let t = state::task(c, &id)?.ok_or_else(not_found)?;
            if t.status != "RUNNING" {
                return Err(not_found());
            }
            state::update_task(c, &id, "CANCELLING", t.moved, None)?;
            Ok(t)
        })?;
        if let Some(cancel) = self
            .move_cancels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
        {
            cancel.store(true, Ordering::SeqCst);
        }
        Ok(json!({ "ApproximateNumberOfMessagesMoved": task.moved }))
    }
}
