//! Multi-asset universes from data specs (the repeated `--data` argument).
//!
//! Each spec adds assets, in the order the specs are given:
//!
//! | spec | assets |
//! |---|---|
//! | `SYMBOL=FILE` | one asset named `SYMBOL`, `FILE` read as by [`load`](crate::load); a file with a symbol column must hold only `SYMBOL` |
//! | a directory | one per `.csv`, `.parquet`, `.pq` file in it (not recursive), by file name, symbol = file stem |
//! | a file with a `symbol` (or `ticker`) column | one per symbol, in byte order of the symbols (`AAPL` < `MSFT` < `aapl`) |
//! | any other file | one asset whose symbol is the file stem (`data/AAPL.csv` → `AAPL`) |
//! | `sample:NAME` | a bundled sample: `sample:STOCKS` (five assets), or one asset `NAME` in upper case |
//!
//! A spec is `SYMBOL=FILE` only when no file or directory has that exact name, so paths
//! that contain `=` still load.
//!
//! A long-format file (rows of several symbols, in any interleaving) is split by symbol;
//! each symbol's rows must be in strictly increasing time order. Every error names the file,
//! the 1-based line (row for Parquet), the symbol and the rule; of several bad rows the
//! earliest in the file is reported.

use std::path::{Path, PathBuf};

use backtide_core::{BarRule, Bars, BarsError, TimestampNs, Universe, UniverseError};

use crate::csv::{Acted, Rows, Symbols, Table, finish_report, invalid, read_csv_table};
use crate::dialect::{ReadOptions, ReadReport};
use crate::error::DataError;
use crate::parquet::read_parquet_table;
use crate::samples::sample_assets;
use crate::time::format_timestamp;

/// `(symbol, source, bars)`, as `Universe::try_new` takes an asset.
type Asset = (String, String, Bars);
/// Several assets.
type Assets = Vec<Asset>;
/// One file of a directory read: its asset and the read's report.
type FileRead = Result<(Asset, Vec<ReadReport>), DataError>;

/// Loads the assets of every spec (see the module docs) into one universe on the union of
/// their timestamps. One plain spec gives a universe of one asset.
///
/// Errors: anything a single-asset read reports (naming the symbol where the file is
/// long-format), a row out of time order or duplicated within a symbol, a spec with an empty
/// symbol or file, a directory without data files, a symbol given twice (naming both
/// sources), an asset with no rows (naming the symbol).
///
/// ```
/// let u = backtide_data::load_universe(&["sample:STOCKS"])?;
/// assert_eq!(u.n_assets(), 5);
/// assert_eq!(u.len(), 3270);
/// # Ok::<(), backtide_data::DataError>(())
/// ```
pub fn load_universe<S: AsRef<str>>(specs: &[S]) -> Result<Universe, DataError> {
    load_universe_with(specs, &ReadOptions::default()).map(|(u, _)| u)
}

/// [`load_universe`] with [`ReadOptions`] for every CSV file; also says what each read
/// (one per file or sample, in spec order) chose and did.
pub fn load_universe_with<S: AsRef<str>>(
    specs: &[S],
    opts: &ReadOptions,
) -> Result<(Universe, Vec<ReadReport>), DataError> {
    let mut assets = Vec::new();
    let mut reports = Vec::new();
    for spec in specs {
        assets.extend(spec_assets(spec.as_ref(), opts, &mut reports)?);
    }
    Ok((Universe::try_new(assets)?, reports))
}

/// The assets one spec adds.
fn spec_assets(
    spec: &str,
    opts: &ReadOptions,
    reports: &mut Vec<ReadReport>,
) -> Result<Assets, DataError> {
    if let Some(name) = spec.strip_prefix("sample:") {
        reports.push(ReadReport::plain(spec, "sample"));
        return sample_assets(name);
    }
    let path = Path::new(spec);
    if path.is_dir() {
        return dir_assets(path, opts, reports);
    }
    if !path.exists()
        && let Some((symbol, file)) = spec.split_once('=')
    {
        let bad = |problem| DataError::BadSpec {
            spec: spec.to_string(),
            problem,
        };
        if symbol.is_empty() {
            return Err(bad(
                "expected SYMBOL=FILE, but the symbol before `=` is empty",
            ));
        }
        if file.is_empty() {
            return Err(bad("expected SYMBOL=FILE, but the file after `=` is empty"));
        }
        if Path::new(file).is_file() && !crate::is_single_asset_spec(file) {
            // A long file named for one symbol must hold that symbol only.
            let assets = file_assets(Path::new(file), opts, reports)?;
            if let [(s, _, _)] = assets.as_slice()
                && s == symbol
            {
                return Ok(assets);
            }
            return Err(DataError::SymbolMismatch {
                spec: spec.to_string(),
                symbol: symbol.to_string(),
                found: assets
                    .iter()
                    .map(|a| a.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        return Ok(vec![one_asset(
            symbol,
            file.to_string(),
            crate::load_with(file, opts),
            reports,
        )?]);
    }
    file_assets(path, opts, reports)
}

/// A single-asset read as an asset; a file with no rows is an error naming the symbol.
fn one_asset(
    symbol: &str,
    source: String,
    bars: Result<(Bars, ReadReport), DataError>,
    reports: &mut Vec<ReadReport>,
) -> Result<(String, String, Bars), DataError> {
    match bars {
        Ok((bars, report)) => {
            reports.push(report);
            Ok((symbol.to_string(), source, bars))
        }
        Err(DataError::Empty { .. }) => Err(UniverseError::EmptyAsset {
            symbol: symbol.to_string(),
            source_name: source,
        }
        .into()),
        Err(e) => Err(e),
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every data file of a directory, by file name.
fn dir_assets(
    dir: &Path,
    opts: &ReadOptions,
    reports: &mut Vec<ReadReport>,
) -> Result<Assets, DataError> {
    let io = |source| DataError::Io {
        path: dir.into(),
        source,
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if matches!(ext.as_deref(), Some("csv" | "parquet" | "pq")) && path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(DataError::NoDataFiles { dir: dir.into() });
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    let read = |p: &PathBuf| {
        let mut one = Vec::new();
        let asset = one_asset(
            &stem(p),
            p.display().to_string(),
            crate::read_file_with(p, opts),
            &mut one,
        )?;
        Ok((asset, one))
    };
    // Files are independent: read them on every core, keep them (and the first error) in
    // file-name order.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len());
    let mut slots: Vec<Option<FileRead>> = (0..files.len()).map(|_| None).collect();
    if threads <= 1 {
        for (slot, p) in slots.iter_mut().zip(&files) {
            *slot = Some(read(p));
        }
        return collect_read(slots, reports);
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(p) = files.get(i) else { break };
                        done.push((i, read(p)));
                    }
                    done
                })
            })
            .collect();
        for w in workers {
            let done = w.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            for (i, r) in done {
                slots[i] = Some(r);
            }
        }
    });
    collect_read(slots, reports)
}

/// The assets of a directory in file order (the first error in that order), their reports
/// added to `reports`.
fn collect_read(
    slots: Vec<Option<FileRead>>,
    reports: &mut Vec<ReadReport>,
) -> Result<Assets, DataError> {
    let mut assets = Vec::with_capacity(slots.len());
    for slot in slots.into_iter().flatten() {
        let (asset, r) = slot?;
        assets.push(asset);
        reports.extend(r);
    }
    Ok(assets)
}

/// A file: long-format when it has a symbol column, else one asset named by its stem.
fn file_assets(
    path: &Path,
    opts: &ReadOptions,
    reports: &mut Vec<ReadReport>,
) -> Result<Assets, DataError> {
    let file = path.display().to_string();
    let table = if crate::parquet::is_parquet(path) {
        read_parquet_table(path, true)
    } else {
        read_csv_table(path, true, opts)
    };
    let mut table = match table {
        Ok(t) => t,
        Err(e) => return Ok(vec![one_asset(&stem(path), file, Err(e), reports)?]),
    };
    let Some(symbols) = table.symbols.take() else {
        return Ok(vec![one_asset(
            &stem(path),
            file.clone(),
            table.into_bars_with(&file, opts),
            reports,
        )?]);
    };
    let (assets, report) = split_long(table, symbols, &file, opts)?;
    reports.push(report);
    Ok(assets
        .into_iter()
        .map(|(symbol, bars)| (symbol, file.clone(), bars))
        .collect())
}

/// Splits a long-format table by symbol (symbols in byte order, each symbol's rows in file
/// order, or in time order with `--sort`) and checks each symbol's bars; of several bad
/// rows the earliest line is reported. The options' missing-price policy and `--adjust`
/// apply within each symbol.
fn split_long(
    mut table: Table,
    symbols: Symbols,
    file: &str,
    opts: &ReadOptions,
) -> Result<(Vec<(String, Bars)>, ReadReport), DataError> {
    let mut report = table
        .extra
        .report
        .take()
        .unwrap_or_else(|| ReadReport::plain(file, "parquet"));
    let Table {
        lay,
        time,
        cols,
        lines,
        extra,
        ..
    } = table;
    if time.is_empty() {
        return Err(DataError::Empty {
            file: file.to_string(),
        });
    }
    let names = &symbols.names;
    let k = names.len();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| names[a].cmp(&names[b]));
    let mut rank = vec![0usize; k];
    for (r, &id) in order.iter().enumerate() {
        rank[id] = r;
    }
    // Counting sort of the rows by symbol rank: stable, so each symbol keeps file order.
    let mut start = vec![0usize; k + 1];
    for &id in &symbols.ids {
        start[rank[id as usize] + 1] += 1;
    }
    for r in 0..k {
        start[r + 1] += start[r];
    }
    let mut rows = vec![0usize; time.len()];
    let mut next = start.clone();
    for (i, &id) in symbols.ids.iter().enumerate() {
        let r = rank[id as usize];
        rows[next[r]] = i;
        next[r] += 1;
    }
    let flags = |list: &[usize]| {
        let mut f = vec![false; if list.is_empty() { 0 } else { time.len() }];
        for &i in list {
            f[i] = true;
        }
        f
    };
    let (is_missing, is_missing_volume) = (flags(&extra.missing), flags(&extra.missing_volume));

    let mut out = Vec::with_capacity(k);
    let mut acted = Acted::default();
    let mut first_err: Option<(u64, DataError)> = None;
    for (r, &id) in order.iter().enumerate() {
        let idx = &rows[start[r]..start[r + 1]];
        let symbol = &names[id];
        let pick = |c: &[f64]| idx.iter().map(|&i| c[i]).collect::<Vec<f64>>();
        let volume = if lay.volume.is_some() {
            pick(&cols[4])
        } else {
            vec![f64::NAN; idx.len()]
        };
        let which = |f: &[bool]| -> Vec<usize> {
            if f.is_empty() {
                return Vec::new();
            }
            (0..idx.len()).filter(|&j| f[idx[j]]).collect()
        };
        let mut part = Rows {
            time: idx.iter().map(|&i| time[i]).collect(),
            cols: [
                pick(&cols[0]),
                pick(&cols[1]),
                pick(&cols[2]),
                pick(&cols[3]),
                volume,
            ],
            adj: if extra.adj.is_empty() {
                Vec::new()
            } else {
                pick(&extra.adj)
            },
            lines: idx.iter().map(|&i| lines.of(i)).collect(),
            missing: which(&is_missing),
            missing_volume: which(&is_missing_volume),
        };
        let done = match part.prepare(&lay, opts, file) {
            Ok(done) => done,
            Err(e) => {
                let line = match &e {
                    DataError::NothingToFill { line, .. } => *line,
                    _ => 0,
                };
                if first_err.as_ref().is_none_or(|(l, _)| line < *l) {
                    first_err = Some((line, e));
                }
                continue;
            }
        };
        acted.reordered |= done.reordered;
        acted.missing_lines.extend(done.missing_lines);
        acted.volume_lines.extend(done.volume_lines);
        let Rows {
            time: t,
            cols: [o, h, l, c, v],
            lines: ls,
            ..
        } = part;
        let bars = Bars::try_new(t.clone(), o, h, l, c, v);
        match bars {
            Ok(b) => out.push((symbol.clone(), b)),
            Err(e) => {
                let bad = match &e {
                    BarsError::Invalid { index, .. } => *index,
                    _ => 0,
                };
                let line = ls[bad];
                let err = match e {
                    BarsError::Invalid { rule, .. }
                        if matches!(
                            rule,
                            BarRule::DuplicateTimestamp | BarRule::TimestampOutOfOrder
                        ) =>
                    {
                        if rule == BarRule::DuplicateTimestamp {
                            DataError::SymbolDuplicateTime {
                                file: file.to_string(),
                                line,
                                symbol: symbol.clone(),
                                time: short_time(t[bad]),
                                first_line: ls[bad - 1],
                            }
                        } else {
                            DataError::SymbolOutOfOrder {
                                file: file.to_string(),
                                line,
                                symbol: symbol.clone(),
                                time: short_time(t[bad]),
                                previous: short_time(t[bad - 1]),
                            }
                        }
                    }
                    e => {
                        let mut err = invalid(e, file, |j| ls[j], |c| lay.name_of(c));
                        if let DataError::Invalid { symbol: s, .. } = &mut err {
                            *s = Some(symbol.clone());
                        }
                        err
                    }
                };
                if first_err.as_ref().is_none_or(|(l, _)| line < *l) {
                    first_err = Some((line, err));
                }
            }
        }
    }
    if let Some((_, e)) = first_err {
        return Err(e);
    }
    acted.missing_lines.sort_unstable();
    acted.volume_lines.sort_unstable();
    if opts.adjust {
        report.adjusted = true;
    }
    let n = out.iter().map(|(_, b)| b.len()).sum();
    finish_report(&mut report, &lay, file, acted, n);
    Ok((out, report))
}

/// ISO 8601, the date alone at midnight (`2020-01-03`, `2020-01-03T09:30:00`).
fn short_time(t: TimestampNs) -> String {
    let s = format_timestamp(t);
    match s.strip_suffix("T00:00:00") {
        Some(day) => day.to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv::parse_table;

    fn split(csv: &str) -> Result<Vec<(String, Bars)>, DataError> {
        let opts = ReadOptions::default();
        let mut table = parse_table(csv.as_bytes(), "long.csv", true, &opts)?;
        let symbols = table.symbols.take().expect("a symbol column");
        split_long(table, symbols, "long.csv", &opts).map(|(assets, _)| assets)
    }

    #[test]
    fn symbols_sort_bytewise_and_rows_keep_file_order() {
        let csv = "Ticker,Date,Open,High,Low,Close\n\
                   b,2020-01-01,1,1,1,1\nMSFT,2020-01-02,2,2,2,2\nAAPL,2020-01-01,3,3,3,3\n\
                   MSFT,2020-01-03,4,4,4,4\n";
        let assets = split(csv).unwrap();
        let syms: Vec<&str> = assets.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(syms, ["AAPL", "MSFT", "b"]);
        assert_eq!(assets[1].1.close(), &[2.0, 4.0]);
        assert!(!assets[0].1.has_volume());
    }

    #[test]
    fn symbol_first_without_a_named_time_column_takes_the_next_as_time() {
        let csv = "symbol,,Open,High,Low,Close\nA,2020-01-01,1,1,1,1\n";
        let assets = split(csv).unwrap();
        assert_eq!(assets[0].1.time()[0], 1_577_836_800_000_000_000);
    }

    #[test]
    fn the_earliest_bad_row_is_reported() {
        // MSFT's bad row (line 5) comes before AAPL's (line 6) though AAPL sorts first.
        let csv = "symbol,date,Open,High,Low,Close\nAAPL,2020-01-01,1,1,1,1\n\
                   MSFT,2020-01-01,1,1,1,1\nMSFT,2020-01-02,1,1,1,1\nMSFT,2020-01-03,1,0.5,1,1\n\
                   AAPL,2020-01-02,-1,1,1,1\n";
        assert_eq!(
            split(csv).unwrap_err().to_string(),
            "long.csv: line 5, symbol `MSFT`, column `High`: value `0.5`: High must be >= \
             max(Open, Close)"
        );
    }

    #[test]
    fn bad_symbol_cells_name_the_line() {
        let csv = "symbol,date,Open,High,Low,Close\nA,2020-01-01,1,1,1,1\n ,2020-01-02,1,1,1,1\n";
        assert_eq!(
            split(csv).unwrap_err().to_string(),
            "long.csv: line 3, column `symbol`: value ` `: expected a symbol (non-empty text \
             without commas, `=` or line breaks)"
        );
        let csv = "symbol,date,Open,High,Low,Close\nA,2020-01-01,x,1,1,1\n";
        assert_eq!(
            split(csv).unwrap_err().to_string(),
            "long.csv: line 2, symbol `A`, column `Open`: value `x`: expected a number"
        );
    }

    #[test]
    fn times_print_short_at_midnight() {
        assert_eq!(short_time(0), "1970-01-01");
        assert_eq!(short_time(3_600_000_000_000), "1970-01-01T01:00:00");
    }

    #[test]
    fn long_files_sort_and_drop_within_each_symbol() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("long.csv");
        std::fs::write(
            &f,
            "symbol;date;Open;High;Low;Close\nB;2020-01-02;2;2;2;2\nA;2020-01-02;1;1;1;1\n\
             B;2020-01-01;null;2;2;2\nA;2020-01-01;1;1;1;1\nB;2020-01-03;3;3;3;3\n",
        )
        .unwrap();
        let spec = f.display().to_string();
        let err = load_universe(&[&spec]).unwrap_err().to_string();
        assert!(err.contains("--missing drop"), "{err}");
        let opts = ReadOptions {
            sort: true,
            missing: crate::MissingPolicy::Drop,
            ..ReadOptions::default()
        };
        let (u, reports) = load_universe_with(&[&spec], &opts).unwrap();
        assert_eq!(u.n_assets(), 2);
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].delimiter, Some(b';'));
        assert_eq!(reports[0].missing_lines, [4]);
        assert!(reports[0].reordered);
        assert_eq!(reports[0].rows, 4);
    }
}
