//! Parquet reading and writing.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{
    Array, ArrayRef, Date32Array, Date64Array, Float32Array, Float64Array, Int32Array, Int64Array,
    LargeStringArray, RecordBatch, StringArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use backtide_core::{Bars, TimestampNs};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};

use crate::csv::{Extra, Layout, Lines, SYMBOL_EXPECTED, Symbols, Table, valid_symbol};
use crate::error::DataError;
use crate::time::parse_timestamp;

fn pq_err(file: &str, e: impl std::fmt::Display) -> DataError {
    DataError::Parquet {
        file: file.to_string(),
        message: e.to_string(),
    }
}

/// The row count a Parquet file's footer declares (nothing else is read).
pub(crate) fn rows_in_footer(path: &Path) -> Result<u64, DataError> {
    let file = path.display().to_string();
    let f = File::open(path).map_err(|source| DataError::Io {
        path: path.into(),
        source,
    })?;
    let meta = parquet::file::metadata::ParquetMetaDataReader::new()
        .parse_and_finish(&f)
        .map_err(|e| pq_err(&file, e))?;
    Ok(meta.file_metadata().num_rows().max(0) as u64)
}

/// Reads bars from a Parquet file (as written by pandas, polars, pyarrow or
/// [`write_parquet`]). Column names are matched as in CSV; the time column may be a
/// timestamp of any unit (time zones converted to UTC), a date, epoch seconds or
/// milliseconds, or ISO 8601 text; prices any float or integer type.
pub fn read_parquet(path: &Path) -> Result<Bars, DataError> {
    read_parquet_table(path, false)?.into_bars(&path.display().to_string())
}

/// Reads a Parquet file into rows (a file without row groups is [`DataError::Empty`]); with `symbols`, a file with a symbol column (text,
/// large text, text view or dictionary-encoded text) also gets each row's symbol, and a
/// value error names the row's symbol.
pub(crate) fn read_parquet_table(path: &Path, symbols: bool) -> Result<Table, DataError> {
    let file = path.display().to_string();
    let open = || {
        File::open(path).map_err(|source| DataError::Io {
            path: path.into(),
            source,
        })
    };
    let meta = ArrowReaderMetadata::load(&open()?, ArrowReaderOptions::default())
        .map_err(|e| pq_err(&file, e))?;
    if meta.metadata().num_row_groups() == 0 {
        return Err(DataError::Empty { file });
    }
    let lay = Layout::from_names(
        meta.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect(),
        &file,
    )?;
    let (names, tcol, vcol) = (&lay.names, lay.time, lay.volume);
    let scol = if symbols { lay.symbol } else { None };
    // One column a thread, each decoded (decompression included) and converted on its own
    // core: the columns of a file are independent until they become bars.
    let flat = meta.parquet_schema().num_columns() == meta.schema().fields().len();
    // Each column's values are copied out of a batch as it is decoded, into a column sized
    // from the footer: no whole-column list of batches, no regrowing.
    let rows = usize::try_from(meta.metadata().file_metadata().num_rows()).unwrap_or(0);
    let column = |idx: usize,
                  each: &mut dyn FnMut(&ArrayRef, u64) -> Result<(), DataError>|
     -> Result<(), DataError> {
        let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(open()?, meta.clone())
            .with_batch_size(BATCH_ROWS);
        if flat {
            let mask = ProjectionMask::roots(meta.parquet_schema(), [idx]);
            builder = builder.with_projection(mask);
        }
        let at = if flat { 0 } else { idx };
        let mut row0 = 0u64;
        for b in builder.build().map_err(|e| pq_err(&file, e))? {
            let a = b.map_err(|e| pq_err(&file, e))?.column(at).clone();
            each(&a, row0)?;
            row0 += a.len() as u64;
        }
        Ok(())
    };
    let prices: Vec<usize> = lay.ohlc.iter().chain(vcol.iter()).copied().collect();
    let f64_column = |idx: usize| -> Result<Vec<f64>, DataError> {
        let mut out = Vec::with_capacity(rows);
        column(idx, &mut |a, row0| {
            read_f64(a, &mut out, &file, &names[idx], row0)
        })?;
        Ok(out)
    };
    let (time, cols, syms) = std::thread::scope(|scope| {
        let (file, column, f64_column) = (&file, &column, &f64_column);
        let jobs: Vec<_> = prices
            .iter()
            .map(|&idx| scope.spawn(move || f64_column(idx)))
            .collect();
        let syms = scol.map(|s| {
            scope.spawn(move || -> Result<Symbols, DataError> {
                let mut syms = Symbols::default();
                column(s, &mut |a, row0| {
                    read_symbols(a, &mut syms, file, &names[s], row0)
                })?;
                Ok(syms)
            })
        });
        let time = (|| -> Result<Vec<TimestampNs>, DataError> {
            let mut out = Vec::with_capacity(rows);
            column(tcol, &mut |a, row0| {
                read_time(a, &mut out, file, &names[tcol], row0)
            })?;
            Ok(out)
        })();
        let cols: Vec<Result<Vec<f64>, DataError>> = jobs.into_iter().map(join).collect();
        (time, cols, syms.map(join))
    });
    let syms = syms.transpose()?;
    // A value error names the row's symbol when there is one; errors come in the file's
    // column order (time, then prices).
    let named = |e: DataError| match e {
        DataError::Parse {
            file,
            line,
            symbol: None,
            column,
            value,
            expected,
        } => DataError::Parse {
            symbol: syms
                .as_ref()
                .and_then(|s| s.name_of_row(line.saturating_sub(1) as usize))
                .map(str::to_string),
            file,
            line,
            column,
            value,
            expected,
        },
        other => other,
    };
    let time = time.map_err(named)?;
    let mut out: [Vec<f64>; 5] = Default::default();
    for (k, c) in cols.into_iter().enumerate() {
        out[k] = c.map_err(named)?;
    }
    Ok(Table {
        lay,
        time,
        cols: out,
        lines: Lines::Sequential,
        symbols: scol.and(syms),
        extra: Extra::default(),
    })
}

/// A scoped thread's result (its panic carried on).
fn join<T>(j: std::thread::ScopedJoinHandle<'_, T>) -> T {
    j.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// Appends the symbols of one batch's symbol column.
fn read_symbols(
    a: &ArrayRef,
    out: &mut Symbols,
    file: &str,
    col: &str,
    row0: u64,
) -> Result<(), DataError> {
    // Dictionary-encoded text (pandas categoricals, polars enums): look up through the keys.
    let (values, keys): (&dyn Array, Option<Vec<usize>>) = match a.as_any_dictionary_opt() {
        Some(d) => (d.values().as_ref(), Some(d.normalized_keys())),
        None => (a.as_ref(), None),
    };
    let text = |i: usize| -> Option<&str> {
        if values.is_null(i) {
            return None;
        }
        if let Some(s) = values.as_string_opt::<i32>() {
            Some(s.value(i))
        } else if let Some(s) = values.as_string_opt::<i64>() {
            Some(s.value(i))
        } else {
            values.as_string_view_opt().map(|s| s.value(i))
        }
    };
    if !matches!(
        values.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) {
        return Err(DataError::Parquet {
            file: file.to_string(),
            message: format!(
                "column `{col}`: expected text symbols, found {}",
                a.data_type()
            ),
        });
    }
    for i in 0..a.len() {
        let row = row0 + i as u64 + 1;
        let s = if a.is_null(i) {
            None
        } else {
            text(keys.as_ref().map_or(i, |k| k[i]))
        };
        let s = s.ok_or_else(|| null_err(file, col, row))?;
        if !valid_symbol(s.trim()) {
            return Err(DataError::Parse {
                file: file.to_string(),
                line: row,
                symbol: None,
                column: col.to_string(),
                value: s.to_string(),
                expected: SYMBOL_EXPECTED,
            });
        }
        let id = out.intern(s.trim());
        out.ids.push(id);
    }
    Ok(())
}

/// Whether a path names a Parquet file (`.parquet` or `.pq`, any case).
pub(crate) fn is_parquet(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"))
}

fn null_err(file: &str, column: &str, row: u64) -> DataError {
    DataError::Parse {
        file: file.to_string(),
        line: row,
        symbol: None,
        column: column.to_string(),
        value: "null".into(),
        expected: "a value (row numbers are 1-based)",
    }
}

/// Rows decoded at a time: large enough that a batch's overhead is nothing beside its
/// values, small enough that its buffers stay in cache and are reused.
const BATCH_ROWS: usize = 1 << 16;

fn read_time(
    a: &ArrayRef,
    out: &mut Vec<TimestampNs>,
    file: &str,
    col: &str,
    row0: u64,
) -> Result<(), DataError> {
    if a.null_count() == 0
        && let Some(x) = a.as_any().downcast_ref::<TimestampNanosecondArray>()
    {
        // The common case (nanoseconds without nulls): one copy of the values buffer.
        out.extend_from_slice(x.values());
        return Ok(());
    }
    let scale =
        |a: &dyn Array, mul: i64, get: &dyn Fn(usize) -> i64, out: &mut Vec<TimestampNs>| {
            for i in 0..a.len() {
                if a.is_null(i) {
                    return Err(null_err(file, col, row0 + i as u64 + 1));
                }
                out.push(get(i).saturating_mul(mul));
            }
            Ok(())
        };
    let any = a.as_any();
    match a.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            let x = any
                .downcast_ref::<TimestampSecondArray>()
                .expect("type checked");
            scale(x, 1_000_000_000, &|i| x.value(i), out)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            let x = any
                .downcast_ref::<TimestampMillisecondArray>()
                .expect("type checked");
            scale(x, 1_000_000, &|i| x.value(i), out)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let x = any
                .downcast_ref::<TimestampMicrosecondArray>()
                .expect("type checked");
            scale(x, 1_000, &|i| x.value(i), out)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            let x = any
                .downcast_ref::<TimestampNanosecondArray>()
                .expect("type checked");
            scale(x, 1, &|i| x.value(i), out)
        }
        DataType::Date32 => {
            let x = any.downcast_ref::<Date32Array>().expect("type checked");
            scale(x, 86_400_000_000_000, &|i| i64::from(x.value(i)), out)
        }
        DataType::Date64 => {
            let x = any.downcast_ref::<Date64Array>().expect("type checked");
            scale(x, 1_000_000, &|i| x.value(i), out)
        }
        DataType::Int64 => {
            let x = any.downcast_ref::<Int64Array>().expect("type checked");
            for i in 0..x.len() {
                if x.is_null(i) {
                    return Err(null_err(file, col, row0 + i as u64 + 1));
                }
                out.push(parse_timestamp(&x.value(i).to_string()).unwrap_or(i64::MIN));
            }
            Ok(())
        }
        DataType::Utf8 | DataType::LargeUtf8 => {
            let get = |i: usize| -> Option<&str> {
                if let Some(s) = any.downcast_ref::<StringArray>() {
                    (!s.is_null(i)).then(|| s.value(i))
                } else {
                    any.downcast_ref::<LargeStringArray>()
                        .and_then(|s| (!s.is_null(i)).then(|| s.value(i)))
                }
            };
            for i in 0..a.len() {
                let row = row0 + i as u64 + 1;
                let s = get(i).ok_or_else(|| null_err(file, col, row))?;
                out.push(parse_timestamp(s).ok_or_else(|| DataError::Parse {
                    file: file.to_string(),
                    line: row,
                    symbol: None,
                    column: col.to_string(),
                    value: s.to_string(),
                    expected: "an ISO 8601 date/datetime or epoch seconds/ms/µs/ns",
                })?);
            }
            Ok(())
        }
        other => Err(DataError::Parquet {
            file: file.to_string(),
            message: format!("column `{col}`: unsupported time type {other}"),
        }),
    }
}

fn read_f64(
    a: &ArrayRef,
    out: &mut Vec<f64>,
    file: &str,
    col: &str,
    row0: u64,
) -> Result<(), DataError> {
    let any = a.as_any();
    if a.null_count() == 0
        && let Some(x) = any.downcast_ref::<Float64Array>()
    {
        // The common case (float64 without nulls): one copy of the values buffer.
        out.extend_from_slice(x.values());
        return Ok(());
    }
    let get: Box<dyn Fn(usize) -> f64> = match a.data_type() {
        DataType::Float64 => {
            let x = any.downcast_ref::<Float64Array>().expect("type checked");
            Box::new(move |i| x.value(i))
        }
        DataType::Float32 => {
            let x = any.downcast_ref::<Float32Array>().expect("type checked");
            Box::new(move |i| f64::from(x.value(i)))
        }
        DataType::Int64 => {
            let x = any.downcast_ref::<Int64Array>().expect("type checked");
            Box::new(move |i| x.value(i) as f64)
        }
        DataType::Int32 => {
            let x = any.downcast_ref::<Int32Array>().expect("type checked");
            Box::new(move |i| f64::from(x.value(i)))
        }
        other => {
            return Err(DataError::Parquet {
                file: file.to_string(),
                message: format!("column `{col}`: expected a numeric type, found {other}"),
            });
        }
    };
    for i in 0..a.len() {
        if a.is_null(i) {
            return Err(null_err(file, col, row0 + i as u64 + 1));
        }
        out.push(get(i));
    }
    Ok(())
}

/// Writes one record batch to `path` atomically.
fn write_batch(
    path: &Path,
    file: &str,
    schema: Arc<Schema>,
    batch: &RecordBatch,
) -> Result<(), DataError> {
    crate::atomic::write_with(path, |w| {
        let mut writer = ArrowWriter::try_new(w, schema, None).map_err(|e| pq_err(file, e))?;
        writer.write(batch).map_err(|e| pq_err(file, e))?;
        writer.close().map_err(|e| pq_err(file, e))?;
        Ok(())
    })
}

/// Writes bars to Parquet (`time` as a naive nanosecond timestamp, then
/// `Open, High, Low, Close, Volume` as float64), atomically: a temporary file in the same
/// folder is renamed over the target, so a failed write leaves no partial file.
pub fn write_parquet(bars: &Bars, path: &Path) -> Result<(), DataError> {
    let file = path.display().to_string();
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            false,
        ),
        Field::new("Open", DataType::Float64, false),
        Field::new("High", DataType::Float64, false),
        Field::new("Low", DataType::Float64, false),
        Field::new("Close", DataType::Float64, false),
        Field::new("Volume", DataType::Float64, true),
    ]));
    let f64col = |v: &[f64]| Arc::new(Float64Array::from(v.to_vec())) as ArrayRef;
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(TimestampNanosecondArray::from(bars.time().to_vec())),
            f64col(bars.open()),
            f64col(bars.high()),
            f64col(bars.low()),
            f64col(bars.close()),
            f64col(bars.volume()),
        ],
    )
    .map_err(|e| pq_err(&file, e))?;
    write_batch(path, &file, schema, &batch)
}

/// Writes per-bar equity to Parquet (`time`, then `equity` and `drawdown` as float64, the
/// drawdown a fraction below the running peak), atomically.
pub fn write_equity_parquet(bars: &Bars, equity: &[f64], path: &Path) -> Result<(), DataError> {
    let file = path.display().to_string();
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            false,
        ),
        Field::new("equity", DataType::Float64, false),
        Field::new("drawdown", DataType::Float64, false),
    ]));
    let n = equity.len().min(bars.len());
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(TimestampNanosecondArray::from(bars.time()[..n].to_vec())),
            Arc::new(Float64Array::from(equity[..n].to_vec())),
            Arc::new(Float64Array::from(backtide_core::stats::drawdown(
                &equity[..n],
            ))),
        ],
    )
    .map_err(|e| pq_err(&file, e))?;
    write_batch(path, &file, schema, &batch)
}

/// Writes a table of named float columns with a leading `time` column, atomically: Parquet
/// for `.parquet`/`.pq` paths, CSV otherwise (empty cells for NaN).
pub fn write_columns(
    time: &[TimestampNs],
    names: &[String],
    columns: &[Vec<f64>],
    path: &Path,
) -> Result<(), DataError> {
    let file = path.display().to_string();
    let parquet = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"));
    if !parquet {
        return crate::atomic::write_with(path, |w| {
            use std::io::Write as _;
            let io = |source| DataError::Io {
                path: path.into(),
                source,
            };
            writeln!(w, "time,{}", names.join(",")).map_err(io)?;
            for (i, t) in time.iter().enumerate() {
                write!(w, "{}", crate::time::format_timestamp(*t)).map_err(io)?;
                for c in columns {
                    let v = c[i];
                    if v.is_nan() {
                        write!(w, ",").map_err(io)?;
                    } else {
                        write!(w, ",{v}").map_err(io)?;
                    }
                }
                writeln!(w).map_err(io)?;
            }
            Ok(())
        });
    }
    let mut fields = vec![Field::new(
        "time",
        DataType::Timestamp(TimeUnit::Nanosecond, None),
        false,
    )];
    fields.extend(names.iter().map(|n| Field::new(n, DataType::Float64, true)));
    let schema = Arc::new(Schema::new(fields));
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(TimestampNanosecondArray::from(time.to_vec()))];
    arrays.extend(columns.iter().map(|c| {
        Arc::new(Float64Array::from(
            c.iter()
                .map(|v| (!v.is_nan()).then_some(*v))
                .collect::<Vec<_>>(),
        )) as ArrayRef
    }));
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| pq_err(&file, e))?;
    write_batch(path, &file, schema, &batch)
}
