//! Capturing a child's stdout or stderr: a thread drains the pipe, so the
//! child never blocks on a full one, and keeps the end of what it read.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How much of a stream is kept: the end of it.
const KEPT_BYTES: usize = 64 * 1024;

/// The end of one of a child's output streams, filled by a thread.
#[derive(Debug, Default)]
pub(super) struct Capture {
    state: Mutex<State>,
    finished: Condvar,
}

#[derive(Debug, Default)]
struct State {
    tail: VecDeque<u8>,
    /// Whether bytes before `tail` were dropped.
    truncated: bool,
    /// Whether the stream reached its end (or failed).
    finished: bool,
}

impl Capture {
    /// Starts a thread that reads `stream` to its end.
    pub(super) fn start(mut stream: impl Read + Send + 'static) -> Arc<Capture> {
        let capture = Arc::new(Capture::default());
        let writer = Arc::clone(&capture);
        let reader = move || {
            let mut buffer = [0; 8192];
            // A read error ends the capture as the end of the stream does.
            while let Ok(read @ 1..) = stream.read(&mut buffer) {
                writer.append(&buffer[..read]);
            }
            writer.lock().finished = true;
            writer.finished.notify_all();
        };
        let spawned = std::thread::Builder::new()
            .name("portfor-capture".into())
            .spawn(reader);
        if spawned.is_err() {
            // No thread: the stream is dropped, and the child gets EPIPE
            // (or SIGPIPE) if it writes, rather than blocking forever.
            capture.lock().finished = true;
        }
        capture
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic cannot leave the buffer half-updated in a way that matters
        // for a log tail.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn append(&self, bytes: &[u8]) {
        let mut state = self.lock();
        state.tail.extend(bytes);
        let excess = state.tail.len().saturating_sub(KEPT_BYTES);
        if excess > 0 {
            state.tail.drain(..excess);
            state.truncated = true;
        }
    }

    /// Waits up to `timeout` for the stream to end; whether it did.
    pub(super) fn wait_finished(&self, timeout: Duration) -> bool {
        let state = self.lock();
        let (state, _) = self
            .finished
            .wait_timeout_while(state, timeout, |state| !state.finished)
            .unwrap_or_else(|p| p.into_inner());
        state.finished
    }

    /// What was kept, as text (invalid UTF-8 replaced), starting with `...`
    /// when the beginning was dropped.
    pub(super) fn text(&self) -> String {
        self.tail(KEPT_BYTES)
    }

    /// At most the last `max` bytes kept, as [`text`](Capture::text).
    pub(super) fn tail(&self, max: usize) -> String {
        let state = self.lock();
        let skip = state.tail.len().saturating_sub(max);
        let bytes: Vec<u8> = state.tail.iter().skip(skip).copied().collect();
        let text = String::from_utf8_lossy(&bytes);
        if skip > 0 || state.truncated {
            format!("...{text}")
        } else {
            text.into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_end_of_a_long_stream() {
        let mut input = vec![b'a'; KEPT_BYTES];
        input.extend(b"the end\n");
        let capture = Capture::start(std::io::Cursor::new(input));
        assert!(capture.wait_finished(Duration::from_secs(60)));
        let text = capture.text();
        assert!(text.starts_with("...aaa") && text.ends_with("the end\n"));
        assert_eq!(text.len(), 3 + KEPT_BYTES);
        assert_eq!(capture.tail(8), "...the end\n");
    }

    #[test]
    fn a_short_stream_is_kept_whole() {
        let capture = Capture::start(&b"boom\n"[..]);
        assert!(capture.wait_finished(Duration::from_secs(60)));
        assert_eq!(capture.text(), "boom\n");
    }
}
