//! Integration tests of the engine: indicator reference values and engine invariants
//! (single assets and portfolios).

mod indicators_reference;
mod intrabar;
mod orders;
mod portfolio;
mod properties;
mod rules;
mod sweeps;
mod timeframe;
