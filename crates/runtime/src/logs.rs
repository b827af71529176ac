//! Function output: the [`LogSink`] trait, the console sink, and the capture of a
//! guest's stdout/stderr line by line.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Where the lines a function produces go: its stdout and stderr, one call per line,
/// plus the `START` / `END` / `REPORT` lines the runtime frames each invocation with.
///
/// Contract: `line` is called synchronously while the guest is writing (or while the
/// runtime frames an invocation), so it must be quick and must not block on I/O for
/// long; buffer or hand off if you ship lines somewhere slow. `line` never contains
/// the trailing newline. Lines of concurrent invocations of one function may
/// interleave; `request_id` tells them apart. There is no guarantee that the lines of
/// an invocation that is cut off (timeout) are complete: a partial last line is
/// delivered as a line of its own.
pub trait LogSink: Send + Sync {
    /// One line of output of `function` while it handled `request_id`.
    fn line(&self, function: &str, request_id: &str, line: &str);
}

/// Prints every line to the console as `[<function>] <line>`. The default sink.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConsoleLogSink;

impl LogSink for ConsoleLogSink {
    fn line(&self, function: &str, _request_id: &str, line: &str) {
        // User-facing console output: this is what `slcl up` shows for functions.
        println!("[{function}] {line}");
    }
}

/// A [`LogSink`] that discards everything (lines still reach
/// [`crate::InvocationResult::logs`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullLogSink;

impl LogSink for NullLogSink {
    fn line(&self, _function: &str, _request_id: &str, _line: &str) {}
}

/// The output of one instance: splits its stdout/stderr into lines, forwards each to
/// the sink and keeps the lines of the current invocation.
pub(crate) struct LogCapture {
    function: String,
    sink: Arc<dyn LogSink>,
    state: Mutex<CaptureState>,
}

#[derive(Default)]
struct CaptureState {
    request_id: String,
    /// Unterminated tail of stdout (0) and stderr (1).
    partial: [Vec<u8>; 2],
    lines: Vec<String>,
}

impl LogCapture {
    pub(crate) fn new(function: &str, sink: Arc<dyn LogSink>) -> Arc<LogCapture> {
        Arc::new(LogCapture {
            function: function.to_owned(),
            sink,
            state: Mutex::new(CaptureState::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CaptureState> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Starts collecting the lines of a new invocation.
    pub(crate) fn begin(&self, request_id: &str) {
        let mut state = self.lock();
        state.request_id = request_id.to_owned();
        state.partial = Default::default();
        state.lines.clear();
    }

    /// A line written by the runtime itself (START, END, REPORT, errors).
    pub(crate) fn host_line(&self, line: &str) {
        let mut state = self.lock();
        self.push(&mut state, line.to_owned());
    }

    /// Flushes unterminated output as lines of their own.
    pub(crate) fn flush_partial(&self) {
        let mut state = self.lock();
        for which in 0..2 {
            let tail = std::mem::take(&mut state.partial[which]);
            if !tail.is_empty() {
                let line = String::from_utf8_lossy(&tail).into_owned();
                self.push(&mut state, line);
            }
        }
    }

    /// Every line of the current invocation so far, each ending in `\n`.
    pub(crate) fn take_lines(&self) -> String {
        let mut state = self.lock();
        let mut out = String::new();
        for line in state.lines.drain(..) {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    fn write(&self, which: usize, bytes: &[u8]) {
        let mut state = self.lock();
        let mut rest = bytes;
        while let Some(pos) = rest.iter().position(|b| *b == b'\n') {
            let mut line = std::mem::take(&mut state.partial[which]);
            line.extend_from_slice(&rest[..pos]);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            self.push(&mut state, line);
            rest = &rest[pos + 1..];
        }
        state.partial[which].extend_from_slice(rest);
    }

    fn push(&self, state: &mut CaptureState, line: String) {
        self.sink.line(&self.function, &state.request_id, &line);
        state.lines.push(line);
    }
}

/// The guest's stdout (0) or stderr (1), as handed to `WasiCtxBuilder::stdout`.
#[derive(Clone)]
pub(crate) struct CaptureStream {
    pub(crate) capture: Arc<LogCapture>,
    pub(crate) which: usize,
}

impl IsTerminal for CaptureStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CaptureStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for CaptureStream {
    async fn ready(&mut self) {}
}

impl OutputStream for CaptureStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.capture.write(self.which, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(1024 * 1024)
    }
}

impl tokio::io::AsyncWrite for CaptureStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.capture.write(self.which, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_keeps_partials_per_stream() {
        let capture = LogCapture::new("f", Arc::new(NullLogSink));
        capture.begin("req");
        capture.write(0, b"hello\nwor");
        capture.write(1, b"err\r\n");
        capture.write(0, b"ld\n");
        capture.write(0, b"tail");
        capture.flush_partial();
        assert_eq!(capture.take_lines(), "hello\nerr\nworld\ntail\n");
    }
}
