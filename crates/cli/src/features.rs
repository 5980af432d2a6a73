//! `backtide features`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use backtide_models::{FeatureSpec, label_forward_return};
use clap::Args;

use crate::run::DataArgs;

/// Arguments of `backtide features`.
#[derive(Debug, Args)]
pub(crate) struct FeaturesArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Feature spec (JSON): the model's input columns, in order.
    #[arg(long)]
    spec: PathBuf,
    /// Output file: `.parquet` (or `.pq`), else CSV. Columns: `time`, then the features.
    #[arg(long)]
    out: PathBuf,
    /// Add the training label `label_fwd_return_H`: the return over the next H bars. It
    /// looks into the future by definition: for training only, never a model input.
    #[arg(long, value_name = "H")]
    label: Option<usize>,
}

pub(crate) fn features(a: FeaturesArgs) -> Result<()> {
    if a.label == Some(0) {
        bail!("--label 0: the horizon must be at least 1 bar");
    }
    let spec = FeatureSpec::load(&a.spec)?;
    let bars = a.data.load()?;
    let m = spec.compute(&bars, &a.spec)?;
    let (mut names, mut columns) = (m.names, m.columns);
    if let Some(h) = a.label {
        let (name, values) = label_forward_return(&bars, h);
        names.push(name);
        columns.push(values);
    }
    backtide_data::write_columns(bars.time(), &names, &columns, &a.out)?;
    let complete = (0..bars.len())
        .filter(|&i| columns.iter().all(|c| c[i].is_finite()))
        .count();
    println!(
        "{}: {} rows x {} columns ({}), {} rows complete",
        a.out.display(),
        bars.len(),
        names.len(),
        names.join(", "),
        complete
    );
    Ok(())
}
