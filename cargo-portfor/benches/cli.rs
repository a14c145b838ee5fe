//! Benchmarks of the two binaries (filled in below).
#![allow(missing_docs)]
fn main() {}
