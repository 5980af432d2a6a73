//! Integration tests of the engine: indicator reference values and engine invariants.

mod indicators_reference;
mod properties;
mod sweeps;
