//! Where function output goes as log events: CloudWatch Logs, reached by the Lambda
//! emulator without importing the emulator that owns the logs.

/// A sink for log events by log group and stream, as CloudWatch Logs stores them.
/// The Lambda emulator writes each invocation's output to `/aws/lambda/<function>`.
///
/// Contract: `write` is called after an invocation ends, off the invocation's hot
/// path; it creates the group and stream when missing and keeps the events in the
/// order given. Failures are the destination's to report (it logs them); the
/// invocation's result does not depend on them.
pub trait LogDestination: Send + Sync + 'static {
    /// Appends `events` (milliseconds since the Unix epoch, message) to `stream` of
    /// `group`.
    fn write(&self, group: &str, stream: &str, events: &[(i64, String)]);
}
