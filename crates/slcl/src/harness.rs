//! The test-harness side of [`Stack`]: invoking functions, waiting for and listing
//! invocations, traces, the virtual clock, and resetting state between cases.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use slcl_core::{SharedClock, TraceContext, TraceStep, VirtualClock};
use slcl_lambda::{InvocationRecord, InvokeOutput};

use crate::Stack;

impl Stack {
    /// Invokes function `name` synchronously with `event` (serialized to JSON), as a
    /// `RequestResponse` Invoke would, and returns its result. A function error is
    /// `Ok` (see [`InvokeOutput::is_error`]); `Err` means the function does not exist
    /// or could not run at all.
    pub async fn invoke(
        &self,
        name: &str,
        event: &impl serde::Serialize,
    ) -> anyhow::Result<InvokeOutput> {
        let payload = serde_json::to_vec(event).context("the event does not serialize")?;
        Ok(self
            .lambda()
            .invoke(name, payload.into(), TraceContext::default())
            .await?)
    }

    /// Every finished invocation of function `name` still kept (the last 10 000 of
    /// the stack), oldest first: event, result or error, log lines, timing. Whatever
    /// invoked it: the Lambda API, an S3 notification, a retry.
    pub fn invocations(&self, name: &str) -> Vec<Arc<InvocationRecord>> {
        self.lambda().invocations(Some(name), 0)
    }

    /// Waits up to `timeout` (real time) for the next invocation of function `name`
    /// to finish and returns it. "Next" means after the one this method last returned
    /// for `name` (or, the first time, the first of the stack), so an invocation that
    /// finished before the call is not missed:
    ///
    /// ```no_run
    /// # async fn demo(stack: slcl::Stack) -> anyhow::Result<()> {
    /// # use std::time::Duration;
    /// // ... upload an object to a bucket that notifies `thumbnail` ...
    /// let invocation = stack.next_invocation("thumbnail", Duration::from_secs(10)).await?;
    /// assert!(invocation.succeeded(), "{}", invocation.logs);
    /// # Ok(()) }
    /// ```
    pub async fn next_invocation(
        &self,
        name: &str,
        timeout: Duration,
    ) -> anyhow::Result<Arc<InvocationRecord>> {
        let after = self.cursor(name);
        let found = self
            .lambda()
            .wait_for_invocation(name, after, timeout)
            .await
            .with_context(|| {
                format!(
                    "no invocation of function `{name}` finished within {timeout:?} \
                     ({} earlier ones seen; {} async invocations queued)",
                    self.invocations(name).len(),
                    self.lambda().queued()
                )
            })?;
        self.cursors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), found.seq);
        Ok(found)
    }

    fn cursor(&self, name: &str) -> u64 {
        self.cursors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .copied()
            .unwrap_or(0)
    }

    /// Waits up to `timeout` (real time) for the next message on queue `queue` (a
    /// name, URL or ARN) and returns it without consuming it: its visibility and
    /// receive count do not change, so the application (or an event source mapping)
    /// still receives it. "Next" means the first message, in queue order, that this
    /// method has not returned before for `queue`; a message sent before the call is
    /// not missed. In-flight and delayed messages count.
    ///
    /// ```
    /// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
    /// # async fn main() -> anyhow::Result<()> {
    /// use std::time::Duration;
    /// let stack = slcl::Stack::harness().queue("jobs").start().await?;
    /// stack.sqs().send("jobs", "hello", Default::default())?;
    /// let message = stack.next_message("jobs", Duration::from_secs(5)).await?;
    /// assert_eq!(message.body, "hello");
    /// # Ok(()) }
    /// ```
    pub async fn next_message(
        &self,
        queue: &str,
        timeout: Duration,
    ) -> anyhow::Result<slcl_sqs::ReceivedMessage> {
        let deadline = tokio::time::Instant::now() + timeout;
        // One record of what was returned per queue, however the queue is named.
        let key = self
            .sqs()
            .queue_arn(queue)
            .with_context(|| format!("queue `{queue}`"))?;
        loop {
            // Ask to be woken before looking, so a send in between is not missed.
            let woken = self.sqs().notified(queue);
            let messages = self
                .sqs()
                .peek(queue)
                .with_context(|| format!("queue `{queue}`"))?;
            {
                let mut seen = self.seen_messages.lock().unwrap_or_else(|p| p.into_inner());
                let seen = seen.entry(key.clone()).or_default();
                if let Some(m) = messages.into_iter().find(|m| !seen.contains(&m.message_id)) {
                    seen.insert(m.message_id.clone());
                    return Ok(m);
                }
            }
            // `notified` also completes on clock deadlines; poll now and then as well,
            // since a message can arrive by a path that does not notify (a move task).
            let tick = tokio::time::sleep(Duration::from_millis(50));
            tokio::select! {
                _ = woken => {}
                _ = tick => {}
                _ = tokio::time::sleep_until(deadline) => {
                    anyhow::bail!(
                        "no new message on queue `{queue}` within {timeout:?}"
                    );
                }
            }
        }
    }

    /// Every recorded step of trace `trace_id` (requests at the edge, deliveries on the
    /// bus, invocations), in the order they started, with their parents and timings;
    /// the same list `GET /_slcl/traces/<id>` answers. The trace id of a request is in
    /// its response's `x-slcl-trace-id` header; an invocation's is
    /// [`InvocationRecord::trace_id`].
    pub fn trace(&self, trace_id: &str) -> Vec<TraceStep> {
        self.traces.trace(trace_id)
    }

    /// The clock every timer of this stack reads.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The virtual clock, when the stack was built with
    /// [`crate::StackBuilder::virtual_clock`].
    pub fn virtual_clock(&self) -> Option<&Arc<VirtualClock>> {
        self.virtual_clock.as_ref()
    }

    /// Moves the virtual clock forward by `by`: every timer whose deadline that
    /// reaches fires (async retries, function timeouts, instance keep-alive, ...). The
    /// work a timer starts runs on the stack's tasks; wait for its effect with
    /// [`Stack::next_invocation`].
    ///
    /// # Panics
    ///
    /// If the stack runs on the system clock: build it with
    /// [`crate::StackBuilder::virtual_clock`].
    pub fn advance(&self, by: Duration) {
        self.virtual_clock
            .as_ref()
            .expect("Stack::advance needs a stack built with StackBuilder::virtual_clock")
            .advance(by);
    }

    /// Returns the stack to its state just after start, for the next test case:
    /// deletes every bucket, object, queue and message and creates the declared
    /// queues, buckets and notifications again, drops queued async invocations, recorded invocations and
    /// traces, and drops warm instances (so module-level state starts fresh).
    /// Functions stay loaded. Invocations running during the reset still finish.
    pub fn reset(&self) -> anyhow::Result<()> {
        self.s3().reset()?;
        self.sqs().reset()?;
        self.logs().reset()?;
        self.lambda().reset()?;
        self.traces.clear();
        self.cursors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.seen_messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        crate::stack::create_queues(self.config(), self.sqs())?;
        crate::stack::create_buckets(self.config(), self.s3(), &self.bus)
    }
}
