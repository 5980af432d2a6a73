//! The rule language: strategies written as expressions instead of Rust.
//!
//! ```text
//! backtide run --data sample:GOOG --strategy rules \
//!   --param 'entry=rsi(close, 14) < 30 and close > sma(close, 200)' \
//!   --param 'exit=rsi(close, 14) > 70'
//! ```
//!
//! An expression is parsed once ([`syntax`]), type-checked with its `$parameters` typed by
//! their first use, bound to the parameters' values and lowered into a plan in which
//! each distinct subexpression is one node, then evaluated a whole column at a time.
//! The resulting condition vectors go through the signal front end
//! ([`crate::strategy::SignalDriven`]) like any built-in's, so orders, fills and
//! statistics are the broker's. Every function reads only the current and earlier bars,
//! and `shift` refuses a negative lag, so a rule cannot look ahead. The grammar and the
//! function list are in `docs/rules.md`.

pub mod functions;
mod plan;
mod strategy;
pub mod syntax;

pub use functions::{FUNCTIONS, Function};
pub use plan::{ParamUse, SERIES};
pub use strategy::{Program, RulesStrategy};
pub(crate) use strategy::RULES;
