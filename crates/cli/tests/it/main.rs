//! End-to-end tests of the engine and the `backtide` binary.

mod cli;
mod golden;
mod vectorbt;
