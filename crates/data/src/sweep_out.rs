//! Streaming sweep output: CSV, JSON or Parquet, one row per combination, parameter
//! columns first. Rows are written as combinations finish, so memory stays flat; the file
//! appears (atomically renamed into place) only when the sweep ends, cancelled or not.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use backtide_core::stats::StatValue;
use backtide_core::stats::VbtStats;
use backtide_core::sweep::overfitting::OverfittingReport;
use backtide_core::sweep::{ComboResult, Dialect, WalkForwardResult};
use backtide_core::{ParamSpec, ParamValue, Stats, strategy::ParamKind};
use parquet::arrow::ArrowWriter;
use serde_json::{Value, json};

use crate::error::DataError;
use crate::export::{stat_json, stats_json};
use crate::time::format_timestamp;

/// Output format, chosen by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepFormat {
    /// `.csv`
    Csv,
    /// `.json`
    Json,
    /// `.parquet` / `.pq`
    Parquet,
}

impl SweepFormat {
    /// The format for `path`'s extension.
    pub fn from_path(path: &Path) -> Result<SweepFormat, DataError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => Ok(SweepFormat::Csv),
            Some("json") => Ok(SweepFormat::Json),
            Some("parquet" | "pq") => Ok(SweepFormat::Parquet),
            _ => Err(DataError::Parquet {
                file: path.display().to_string(),
                message: "unknown output format: use .csv, .json or .parquet".into(),
            }),
        }
    }
}

/// One buffered Parquet row: parameter values, statistics and (a shard's) the record.
type ParquetRow = (
    Vec<Option<ParamValue>>,
    Vec<(&'static str, StatValue)>,
    Option<Vec<u8>>,
);

/// The Parquet key-value metadata key holding a shard's description (JSON).
pub const SHARD_KEY: &str = "backtide.shard";
/// The key holding how the shard's run ended (JSON), written when it finishes.
pub const SHARD_OUTCOME_KEY: &str = "backtide.shard.outcome";

/// A shard file as read back.
#[derive(Debug)]
pub struct ShardFile {
    /// The description given when it was created.
    pub description: String,
    /// How its run ended, as given to [`SweepWriter::finish_shard`].
    pub outcome: Option<String>,
    /// Its combinations, in the order written.
    pub records: Vec<ShardRecord>,
}
/// The column holding each combination's exact result in a shard file.
const SHARD_COLUMN: &str = "shard_record";

/// One combination as a shard file keeps it: everything a merge needs besides the
/// parameters, which the sweep's own order gives back (`SweepSpec::params_for`). Floats
/// keep their exact bits.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShardRecord {
    /// Position in the sweep's combination order.
    pub index: u64,
    /// Statistics.
    pub stats: Stats,
    /// vectorbt-dialect statistics, when the sweep has them.
    pub vbt: Option<VbtStats>,
    /// The return profile for the overfitting checks, when kept.
    pub profile: Option<backtide_core::sweep::overfitting::ReturnProfile>,
}

impl ShardRecord {
    fn of(r: &ComboResult) -> ShardRecord {
        ShardRecord {
            index: r.index as u64,
            stats: r.stats.clone(),
            vbt: r.vbt.clone(),
            profile: r.profile.clone(),
        }
    }
}

/// Reads a shard file written by [`SweepWriter::create_shard`].
pub fn read_shard(path: &Path) -> Result<ShardFile, DataError> {
    use arrow_array::cast::AsArray;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file = path.display().to_string();
    let not_shard = |why: &str| DataError::Parquet {
        file: file.clone(),
        message: format!(
            "not a sweep shard ({why}): write shards with `backtide sweep --shard I/N --out FILE.parquet`"
        ),
    };
    let f = File::open(path).map_err(io(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(pq(path))?;
    let kv = |key: &str| {
        builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .and_then(|kv| kv.iter().find(|k| k.key == key))
            .and_then(|k| k.value.clone())
    };
    let description = kv(SHARD_KEY).ok_or_else(|| not_shard("no shard description"))?;
    let outcome = kv(SHARD_OUTCOME_KEY);
    let idx = builder
        .schema()
        .index_of(SHARD_COLUMN)
        .map_err(|_| not_shard("no shard_record column"))?;
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), [idx]);
    let mut out = Vec::new();
    for batch in builder.with_projection(mask).build().map_err(pq(path))? {
        let batch = batch.map_err(|e| pq(path)(e.into()))?;
        let col = batch
            .column(0)
            .as_binary_opt::<i32>()
            .ok_or_else(|| not_shard("shard_record is not binary"))?;
        for bytes in col.iter() {
            let bytes = bytes.ok_or_else(|| not_shard("a record is missing"))?;
            out.push(
                postcard::from_bytes(bytes)
                    .map_err(|e| not_shard(&format!("a record is damaged: {e}")))?,
            );
        }
    }
    Ok(ShardFile {
        description,
        outcome,
        records: out,
    })
}

enum Sink {
    Csv(BufWriter<File>),
    Json {
        w: BufWriter<File>,
        first: bool,
    },
    Parquet {
        writer: Box<ArrowWriter<File>>,
        rows: Vec<ParquetRow>,
    },
}

/// Writes a sweep's combinations as they finish.
pub struct SweepWriter {
    dialect: Dialect,
    path: PathBuf,
    tmp: PathBuf,
    params: Vec<ParamSpec>,
    sink: Option<Sink>,
    /// A shard's file: each row also keeps its exact record.
    shard: bool,
    /// A shard's outcome, written into its metadata at the end.
    outcome: Option<String>,
}

const PARQUET_BATCH: usize = 4096;

fn io(path: &Path) -> impl Fn(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.into(),
        source,
    }
}

fn pq(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> DataError + '_ {
    move |e| DataError::Parquet {
        file: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Statistic keys of a dialect, in output order.
fn stat_keys(dialect: Dialect) -> Vec<&'static str> {
    match dialect {
        Dialect::BacktestingPy => Stats::keys().to_vec(),
        Dialect::Vectorbt => VbtStats::keys().to_vec(),
    }
}

/// A combination's statistics in `dialect`.
fn stat_entries(r: &ComboResult, dialect: Dialect) -> Vec<(&'static str, StatValue)> {
    match (dialect, &r.vbt) {
        (Dialect::Vectorbt, Some(v)) => v.entries().to_vec(),
        (Dialect::Vectorbt, None) => VbtStats::keys()
            .iter()
            .map(|k| (*k, StatValue::Num(f64::NAN)))
            .collect(),
        (Dialect::BacktestingPy, _) => r.stats.entries().to_vec(),
    }
}

const COUNT_KEYS: [&str; 4] = [
    "num_trades",
    "total_trades",
    "total_closed_trades",
    "total_open_trades",
];

fn schema(params: &[ParamSpec], dialect: Dialect, shard: bool) -> Arc<Schema> {
    let mut fields: Vec<Field> = params
        .iter()
        .map(|p| {
            let t = match p.kind {
                ParamKind::Int { .. } => DataType::Int64,
                ParamKind::Float { .. } => DataType::Float64,
                ParamKind::Choice(_) | ParamKind::Text | ParamKind::File | ParamKind::Expr => {
                    DataType::Utf8
                }
            };
            Field::new(p.name, t, true)
        })
        .collect();
    for key in stat_keys(dialect) {
        let t = match key {
            "start" | "end" => DataType::Utf8,
            k if COUNT_KEYS.contains(&k) => DataType::Int64,
            _ => DataType::Float64,
        };
        fields.push(Field::new(key, t, true));
    }
    if shard {
        fields.push(Field::new(SHARD_COLUMN, DataType::Binary, false));
    }
    Arc::new(Schema::new(fields))
}

/// A text cell, quoted (RFC 4180) when it holds a comma, quote or line break: a rule
/// expression such as `crossover(sma(close, 10), …)` is one cell.
fn csv_text(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_cell(v: StatValue) -> String {
    match v {
        StatValue::Time(t) => format_timestamp(t),
        StatValue::Count(c) => c.to_string(),
        other => {
            let x = other.as_f64();
            if x.is_nan() {
                String::new()
            } else {
                format!("{x}")
            }
        }
    }
}

impl SweepWriter {
    /// Starts writing to a temporary file next to `path`; `params` are the strategy's
    /// parameters (the leading columns).
    pub fn create(
        path: &Path,
        params: &[ParamSpec],
        dialect: Dialect,
    ) -> Result<SweepWriter, DataError> {
        SweepWriter::open(path, params, dialect, None)
    }

    /// A shard of a sweep split across machines: a Parquet file of its combinations as
    /// [`SweepWriter::create`] writes them, plus a `shard_record` column (each
    /// combination's exact result, return profile included) and `description` under the
    /// [`SHARD_KEY`] metadata key, which is what `backtide sweep-merge` reads.
    pub fn create_shard(
        path: &Path,
        params: &[ParamSpec],
        dialect: Dialect,
        description: String,
    ) -> Result<SweepWriter, DataError> {
        if SweepFormat::from_path(path)? != SweepFormat::Parquet {
            return Err(DataError::Parquet {
                file: path.display().to_string(),
                message: "a shard is written as Parquet: give --out a .parquet name".into(),
            });
        }
        SweepWriter::open(path, params, dialect, Some(description))
    }

    fn open(
        path: &Path,
        params: &[ParamSpec],
        dialect: Dialect,
        shard: Option<String>,
    ) -> Result<SweepWriter, DataError> {
        let format = SweepFormat::from_path(path)?;
        let tmp = crate::atomic::temp_path(path);
        let file = File::create(&tmp).map_err(io(path))?;
        let sink = match format {
            SweepFormat::Csv => {
                let mut w = BufWriter::new(file);
                let mut header: Vec<&str> = params.iter().map(|p| p.name).collect();
                header.extend(stat_keys(dialect));
                writeln!(w, "{}", header.join(",")).map_err(io(path))?;
                Sink::Csv(w)
            }
            SweepFormat::Json => {
                let mut w = BufWriter::new(file);
                w.write_all(b"{\"combos\":[").map_err(io(path))?;
                Sink::Json { w, first: true }
            }
            SweepFormat::Parquet => {
                let props = shard.clone().map(|d| {
                    parquet::file::properties::WriterProperties::builder()
                        .set_key_value_metadata(Some(vec![parquet::file::metadata::KeyValue::new(
                            SHARD_KEY.to_string(),
                            d,
                        )]))
                        .build()
                });
                Sink::Parquet {
                    writer: Box::new(
                        ArrowWriter::try_new(file, schema(params, dialect, shard.is_some()), props)
                            .map_err(pq(path))?,
                    ),
                    rows: Vec::with_capacity(PARQUET_BATCH),
                }
            }
        };
        Ok(SweepWriter {
            dialect,
            path: path.into(),
            tmp,
            params: params.to_vec(),
            sink: Some(sink),
            shard: shard.is_some(),
            outcome: None,
        })
    }

    /// Appends one combination.
    pub fn write(&mut self, r: &ComboResult) -> Result<(), DataError> {
        let path = self.path.clone();
        let values: Vec<Option<ParamValue>> = self
            .params
            .iter()
            .map(|p| r.params.values().get(p.name).cloned())
            .collect();
        match self.sink.as_mut().expect("writer used after finish") {
            Sink::Csv(w) => {
                let mut cells: Vec<String> = values
                    .iter()
                    .map(|v| {
                        v.as_ref()
                            .map_or(String::new(), |v| csv_text(&v.to_string()))
                    })
                    .collect();
                cells.extend(
                    stat_entries(r, self.dialect)
                        .into_iter()
                        .map(|(_, v)| csv_cell(v)),
                );
                writeln!(w, "{}", cells.join(",")).map_err(io(&path))
            }
            Sink::Json { w, first } => {
                if !*first {
                    w.write_all(b",").map_err(io(&path))?;
                }
                *first = false;
                serde_json::to_writer(&mut *w, &combo_json_in(r, self.dialect))
                    .map_err(|e| io(&path)(e.into()))
            }
            Sink::Parquet { writer, rows } => {
                let record = if self.shard {
                    Some(postcard::to_stdvec(&ShardRecord::of(r)).map_err(|e| {
                        DataError::Parquet {
                            file: path.display().to_string(),
                            message: e.to_string(),
                        }
                    })?)
                } else {
                    None
                };
                rows.push((values, stat_entries(r, self.dialect), record));
                if rows.len() >= PARQUET_BATCH {
                    let batch = parquet_batch(&self.params, self.dialect, self.shard, rows);
                    rows.clear();
                    writer.write(&batch?).map_err(pq(&path))?;
                }
                Ok(())
            }
        }
    }

    /// Finishes a shard (see [`SweepWriter::create_shard`]), recording how its run ended.
    pub fn finish_shard(mut self, outcome: String) -> Result<(), DataError> {
        self.outcome = Some(outcome);
        self.finish(None, None)
    }

    /// Writes the trailer (JSON: the best combination), flushes, and moves the file into
    /// place.
    pub fn finish(
        mut self,
        best: Option<&ComboResult>,
        overfitting: Option<&OverfittingReport>,
    ) -> Result<(), DataError> {
        let path = self.path.clone();
        let file = match self.sink.take().expect("finish called once") {
            Sink::Csv(w) => w.into_inner().map_err(|e| io(&path)(e.into_error()))?,
            Sink::Json { mut w, .. } => {
                let best = best.map_or(Value::Null, |b| combo_json_in(b, self.dialect));
                let over = overfitting.map_or(Value::Null, overfitting_json);
                write!(w, "],\"best\":{best},\"overfitting\":{over}}}").map_err(io(&path))?;
                w.into_inner().map_err(|e| io(&path)(e.into_error()))?
            }
            Sink::Parquet {
                mut writer,
                mut rows,
            } => {
                if !rows.is_empty() {
                    let batch = parquet_batch(&self.params, self.dialect, self.shard, &rows)?;
                    rows.clear();
                    writer.write(&batch).map_err(pq(&path))?;
                }
                if let Some(o) = self.outcome.take() {
                    writer.append_key_value_metadata(parquet::file::metadata::KeyValue::new(
                        SHARD_OUTCOME_KEY.to_string(),
                        o,
                    ));
                }
                writer.into_inner().map_err(pq(&path))?
            }
        };
        file.sync_all().map_err(io(&path))?;
        std::fs::rename(&self.tmp, &self.path).map_err(io(&path))
    }
}

impl Drop for SweepWriter {
    fn drop(&mut self) {
        // Not finished (an error): leave no half-written file behind.
        if self.sink.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// `{"params": {...}, "stats": {...}}` for one combination (backtesting.py dialect).
pub fn combo_json(r: &ComboResult) -> Value {
    combo_json_in(r, Dialect::BacktestingPy)
}

/// `{"params": {...}, "stats": {...}}` with the statistics in `dialect`.
pub fn combo_json_in(r: &ComboResult, dialect: Dialect) -> Value {
    let stats: serde_json::Map<String, Value> = stat_entries(r, dialect)
        .into_iter()
        .map(|(k, v)| (k.to_string(), stat_json(v)))
        .collect();
    json!({"params": r.params, "stats": stats})
}

fn parquet_batch(
    params: &[ParamSpec],
    dialect: Dialect,
    shard: bool,
    rows: &[ParquetRow],
) -> Result<RecordBatch, DataError> {
    let mut cols: Vec<ArrayRef> = Vec::new();
    for (k, p) in params.iter().enumerate() {
        let col: ArrayRef = match p.kind {
            ParamKind::Int { .. } => {
                let mut b = Int64Builder::with_capacity(rows.len());
                for (v, _, _) in rows {
                    b.append_option(match &v[k] {
                        Some(ParamValue::Int(i)) => Some(*i),
                        _ => None,
                    });
                }
                Arc::new(b.finish())
            }
            ParamKind::Float { .. } => {
                let mut b = Float64Builder::with_capacity(rows.len());
                for (v, _, _) in rows {
                    b.append_option(match &v[k] {
                        Some(ParamValue::Float(f)) => Some(*f),
                        Some(ParamValue::Int(i)) => Some(*i as f64),
                        _ => None,
                    });
                }
                Arc::new(b.finish())
            }
            ParamKind::Choice(_) | ParamKind::Text | ParamKind::File | ParamKind::Expr => {
                let mut b = StringBuilder::new();
                for (v, _, _) in rows {
                    b.append_option(v[k].as_ref().map(ToString::to_string));
                }
                Arc::new(b.finish())
            }
        };
        cols.push(col);
    }
    for (j, key) in stat_keys(dialect).into_iter().enumerate() {
        let col: ArrayRef = match key {
            "start" | "end" => {
                let mut b = StringBuilder::new();
                for (_, st, _) in rows {
                    b.append_value(stat_json(st[j].1).as_str().unwrap_or_default());
                }
                Arc::new(b.finish())
            }
            k if COUNT_KEYS.contains(&k) => {
                let mut b = Int64Builder::with_capacity(rows.len());
                for (_, st, _) in rows {
                    b.append_value(st[j].1.as_f64() as i64);
                }
                Arc::new(b.finish())
            }
            _ => {
                let mut b = Float64Builder::with_capacity(rows.len());
                for (_, st, _) in rows {
                    let x = st[j].1.as_f64();
                    b.append_option((!x.is_nan()).then_some(x));
                }
                Arc::new(b.finish())
            }
        };
        cols.push(col);
    }
    if shard {
        let mut b = arrow_array::builder::BinaryBuilder::new();
        for (_, _, rec) in rows {
            b.append_value(rec.as_deref().unwrap_or_default());
        }
        cols.push(Arc::new(b.finish()));
    }
    RecordBatch::try_new(schema(params, dialect, shard), cols).map_err(|e| DataError::Parquet {
        file: "sweep output".into(),
        message: e.to_string(),
    })
}

/// The overfitting checks as JSON (NaN as `null`).
pub fn overfitting_json(r: &OverfittingReport) -> Value {
    let f = |x: f64| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number);
    json!({
        "trials": r.trials,
        "returns": r.returns,
        "sharpe_per_bar": f(r.sharpe),
        "skew": f(r.skew),
        "kurtosis": f(r.kurtosis),
        "sharpe_variance": f(r.sharpe_variance),
        "psr": f(r.psr),
        "expected_max_sharpe": f(r.expected_max_sharpe),
        "dsr": f(r.dsr),
        "pbo": r.pbo.map_or(Value::Null, f),
        "blocks": r.blocks,
    })
}

/// A walk-forward run as JSON: per window the ranges, the in-sample winner (its
/// in-sample statistics) and its out-of-sample statistics; then the stitched
/// out-of-sample statistics and equity.
pub fn walk_forward_json(bars: &backtide_core::Bars, r: &WalkForwardResult) -> Value {
    let t = bars.time();
    let range = |r: &std::ops::Range<usize>| json!({"start": format_timestamp(t[r.start]), "end": format_timestamp(t[r.end - 1]), "bars": r.end - r.start});
    let windows: Vec<Value> = r
        .windows
        .iter()
        .map(|w| {
            json!({
                "train": range(&w.train),
                "test": range(&w.test),
                "params": w.best.params,
                "in_sample": stats_json(&w.best.stats),
                "out_of_sample": stats_json(&w.oos),
            })
        })
        .collect();
    let equity: Vec<Value> = r
        .oos_equity
        .iter()
        .enumerate()
        .map(|(k, e)| json!({"time": format_timestamp(t[r.oos_range.start + k]), "equity": e}))
        .collect();
    json!({"walk_forward": {"windows": windows, "out_of_sample": stats_json(&r.oos_stats), "equity": equity}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtide_core::strategy::builtin;
    use backtide_core::sweep::{Axis, Method, Objective, SweepControl, SweepSpec, run_sweep};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    #[test]
    fn parquet_output_reads_back_with_one_row_per_combination() {
        let bars = crate::sample("GOOG").unwrap();
        let info = builtin::find("sma_cross").unwrap();
        let p = |n: &str| info.params.iter().find(|p| p.name == n).unwrap();
        let spec = SweepSpec {
            strategy: info.into(),
            fixed: vec![],
            axes: vec![
                Axis::parse(p("fast"), "5,10").unwrap(),
                Axis::parse(p("slow"), "20,30,40").unwrap(),
            ],
            constraint: None,
            method: Method::Grid,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.parquet");
        let mut w = SweepWriter::create(&path, info.params, Dialect::BacktestingPy).unwrap();
        let obj = Objective::new("sqn", true).unwrap();
        let out = run_sweep::<DataError>(
            &bars,
            &spec,
            &backtide_core::BrokerConfig::default(),
            &obj,
            &SweepControl::default(),
            &mut |r| w.write(r),
        )
        .unwrap();
        w.finish(out.best.as_ref(), None).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        assert_eq!(rows, 6);
        let schema = batches[0].schema();
        assert_eq!(schema.field(0).name(), "fast");
        assert_eq!(schema.field(1).name(), "slow");
        assert!(schema.index_of("sharpe_ratio").is_ok());
    }

    #[test]
    fn unfinished_writer_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let w = SweepWriter::create(
            &path,
            builtin::find("sma_cross").unwrap().params,
            Dialect::BacktestingPy,
        )
        .unwrap();
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
