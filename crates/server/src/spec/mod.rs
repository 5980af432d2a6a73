//! Request bodies of the job endpoints and their validation into engine configuration.
//!
//! A job is stored as its request body (JSON) and validated twice with the same code: when
//! it is submitted (so a bad request gets its 422 before anything is queued) and when a
//! worker runs it (so a job read back after a restart means exactly what it meant).
//!
//! [`body`] holds the request types, [`prepare`] validates them into engine
//! configuration, and [`resolve`] looks their datasets and models up in the store.

mod body;
mod prepare;
mod resolve;

pub use body::{
    BacktestRequest, BrokerSettings, CallSeqName, DatasetsRef, FillName, JobSpec, Member,
    StrategyRef, SweepRequest,
};
pub(crate) use body::{GridValues, MethodSpec, ObjectiveSpec, ProfileName, WalkForwardSpec};
pub(crate) use prepare::{
    PreparedPortfolio, PreparedSweep, is_allocation, prepare_backtest, prepare_portfolio_backtest,
    prepare_sweep,
};
pub(crate) use resolve::{
    Resolved, check_data_fields, model_dir, resolve_benchmark, resolve_data, resolve_model,
};
