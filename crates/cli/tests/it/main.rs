//! End-to-end tests of the engine and the `backtide` binary.

mod golden;
mod cli;
