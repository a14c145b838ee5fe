//! Runnable examples of portfor-test live in `examples/`; this library is empty.
