//! End-to-end tests of the engine and the `backtide` binary.

mod benchmark;
mod cli;
mod cli_sweep;
mod cluster;
mod deploy;
mod dialects;
mod golden;
mod intrabar;
mod limits;
mod messages;
mod models;
mod orders;
mod portfolio;
mod report;
mod rules;
mod serve;
mod timeframe;
mod trailing;
mod vectorbt;
