//! CSV reading with validation, and the dialects of [`crate::dialect`].

use std::collections::HashMap;
use std::path::Path;

use backtide_core::{BarRule, Bars, BarsError, Column, TimestampNs};

use crate::dialect::{
    ColumnMap, Field, HeaderKind, MissingPolicy, ReadOptions, ReadReport, is_missing, line_list,
    looks_like_other_date, parse_with_format, sniff_delimiter, time_kind,
};
use crate::error::DataError;
use crate::time::{format_timestamp, parse_timestamp};

/// Reads OHLCV bars from a CSV file; see [`parse_csv`] for the format.
pub fn read_csv(path: &Path) -> Result<Bars, DataError> {
    read_csv_with(path, &ReadOptions::default()).map(|(bars, _)| bars)
}

/// Reads OHLCV bars from a CSV file with [`ReadOptions`]; also says what the read chose.
pub fn read_csv_with(path: &Path, opts: &ReadOptions) -> Result<(Bars, ReadReport), DataError> {
    let bytes = read_whole(path).map_err(|source| DataError::Io {
        path: path.into(),
        source,
    })?;
    parse_csv_with(&bytes, &path.display().to_string(), opts)
}

/// A file's bytes. A large file is read in pieces on all cores at once (positional reads
/// into one buffer): the kernel's copy out of the page cache is most of a read, and it is
/// as parallel as the parse that follows.
fn read_whole(path: &Path) -> std::io::Result<Vec<u8>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt as _;
        const PARALLEL_FROM: u64 = 8 << 20;
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        if len >= PARALLEL_FROM && threads > 1 && usize::try_from(len).is_ok() {
            let mut buf = vec![0u8; len as usize];
            let piece = buf.len().div_ceil(threads);
            let file = &file;
            std::thread::scope(|scope| {
                let jobs: Vec<_> = buf
                    .chunks_mut(piece)
                    .enumerate()
                    .map(|(k, part)| {
                        scope.spawn(move || file.read_exact_at(part, (k * piece) as u64))
                    })
                    .collect();
                jobs.into_iter()
                    .try_for_each(|j| j.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            })?;
            // The file grew while it was read: take it whole, as a plain read would.
            let mut probe = [0u8; 1];
            if file.read_at(&mut probe, len)? == 0 {
                return Ok(buf);
            }
        }
    }
    std::fs::read(path)
}

/// Reads a CSV file into rows (see [`parse_table`]).
pub(crate) fn read_csv_table(
    path: &Path,
    symbols: bool,
    opts: &ReadOptions,
) -> Result<Table, DataError> {
    let bytes = read_whole(path).map_err(|source| DataError::Io {
        path: path.into(),
        source,
    })?;
    parse_table(&bytes, &path.display().to_string(), symbols, opts)
}

/// Where each column sits in a row, by header name (shared by the CSV and Parquet readers).
pub(crate) struct Layout {
    pub(crate) time: usize,
    /// Open, High, Low, Close; in a close-only file all four are the Close column.
    pub(crate) ohlc: [usize; 4],
    pub(crate) volume: Option<usize>,
    /// The `symbol` (or `ticker`) column of a long-format (multi-asset) file.
    pub(crate) symbol: Option<usize>,
    /// The `Adj Close` column, when there is one.
    pub(crate) adj: Option<usize>,
    /// True when the file has a Close column but no Open, High or Low.
    pub(crate) close_only: bool,
    pub(crate) names: Vec<String>,
}

impl Layout {
    /// Matches header names case-insensitively: the time column is the one named date,
    /// datetime, time or timestamp (or pandas' `__index_level_0__`), else the first column
    /// that is not the symbol column; Open, High, Low and Close are required; Volume is
    /// optional; a column named symbol (else ticker) marks a long-format file.
    pub(crate) fn from_names(names: Vec<String>, file: &str) -> Result<Layout, DataError> {
        Layout::from_names_with(names, file, &ColumnMap::default(), false)
    }

    /// [`Layout::from_names`] with a column mapping; with `close_only`, a file with Close
    /// but none of Open, High and Low reads every price from Close.
    pub(crate) fn from_names_with(
        names: Vec<String>,
        file: &str,
        map: &ColumnMap,
        close_only: bool,
    ) -> Result<Layout, DataError> {
        let find = |want: &str| names.iter().position(|n| n.eq_ignore_ascii_case(want));
        // A mapped field must name a column of the file.
        let mapped = |f: Field| -> Result<Option<usize>, DataError> {
            match map.get(f) {
                None => Ok(None),
                Some(col) => find(col).map(Some).ok_or_else(|| DataError::BadColumns {
                    spec: format!("{}={col}", f.name()),
                    problem: format!("no column `{col}` in {file} (found: {})", names.join(",")),
                }),
            }
        };
        let symbol = find("symbol").or_else(|| find("ticker"));
        let time = match mapped(Field::Time)? {
            Some(t) => t,
            None => ["date", "datetime", "time", "timestamp", "__index_level_0__"]
                .iter()
                .find_map(|w| find(w))
                .unwrap_or(usize::from(symbol == Some(0))),
        };
        let mut found = [None; 4];
        for ((slot, want), field) in found.iter_mut().zip(["Open", "High", "Low", "Close"]).zip([
            Field::Open,
            Field::High,
            Field::Low,
            Field::Close,
        ]) {
            *slot = match mapped(field)? {
                Some(i) => Some(i),
                None => find(want),
            };
        }
        let missing = |column: &'static str| DataError::MissingColumn {
            file: file.to_string(),
            column,
            found: names.join(","),
        };
        let (ohlc, close_only) = match found {
            [Some(o), Some(h), Some(l), Some(c)] => ([o, h, l, c], false),
            [None, None, None, Some(c)] if close_only => ([c; 4], true),
            _ => {
                let k = found.iter().position(Option::is_none).unwrap_or(0);
                return Err(missing(["Open", "High", "Low", "Close"][k]));
            }
        };
        let volume = match mapped(Field::Volume)? {
            Some(v) => Some(v),
            None => find("volume"),
        };
        let adj = match mapped(Field::AdjClose)? {
            Some(a) => Some(a),
            None => [
                "adj close",
                "adj_close",
                "adjclose",
                "adjusted close",
                "adjusted_close",
            ]
            .iter()
            .find_map(|w| find(w)),
        };
        Ok(Layout {
            time,
            ohlc,
            volume,
            symbol,
            adj,
            close_only,
            names,
        })
    }

    /// The source's name for a bar column (for error messages).
    pub(crate) fn name_of(&self, c: Column) -> String {
        match c {
            Column::Time => self.names[self.time].clone(),
            Column::Open => self.names[self.ohlc[0]].clone(),
            Column::High => self.names[self.ohlc[1]].clone(),
            Column::Low => self.names[self.ohlc[2]].clone(),
            Column::Close => self.names[self.ohlc[3]].clone(),
            Column::Volume => self
                .volume
                .map_or("Volume".into(), |i| self.names[i].clone()),
        }
    }

    /// Bar field → file column, for the report.
    fn mapping(&self) -> Vec<(&'static str, String)> {
        let mut m = vec![("time", self.names[self.time].clone())];
        for (k, &i) in ["open", "high", "low", "close"].iter().zip(&self.ohlc) {
            m.push((k, self.names[i].clone()));
        }
        if let Some(v) = self.volume {
            m.push(("volume", self.names[v].clone()));
        }
        if let Some(a) = self.adj {
            m.push(("adj_close", self.names[a].clone()));
        }
        m
    }
}

fn clean_names(rec: &csv::ByteRecord) -> Vec<String> {
    rec.iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim()
                .trim_start_matches('\u{feff}')
                .trim()
                .to_string()
        })
        .collect()
}

/// Parses CSV bytes; `file` names the source in errors.
///
/// Header names are case-insensitive. The time column is the one named `date`,
/// `datetime`, `time` or `timestamp`, else the first column; `Open`, `High`, `Low`,
/// `Close` are required, `Volume` optional, other columns ignored. Timestamps are ISO
/// 8601 dates or datetimes (naive = UTC, offsets converted) or epoch seconds,
/// milliseconds, microseconds or nanoseconds (by their digits). Every rule of
/// [`Bars::try_new`] is checked; the error names the file, line, column, value and rule.
/// The dialects detected without options (delimiter, header-less and yfinance files,
/// close-only files) are described in [`ReadOptions`]' module; [`parse_csv_with`] takes the
/// options.
pub fn parse_csv(bytes: &[u8], file: &str) -> Result<Bars, DataError> {
    parse_csv_with(bytes, file, &ReadOptions::default()).map(|(bars, _)| bars)
}

/// [`parse_csv`] with [`ReadOptions`]; also says what the read chose and did.
pub fn parse_csv_with(
    bytes: &[u8],
    file: &str,
    opts: &ReadOptions,
) -> Result<(Bars, ReadReport), DataError> {
    parse_table(bytes, file, false, opts)?.into_bars_with(file, opts)
}

/// Rows read from a CSV or Parquet file, before they become bars.
pub(crate) struct Table {
    pub(crate) lay: Layout,
    pub(crate) time: Vec<TimestampNs>,
    /// Open, High, Low, Close, Volume (empty when the file has no Volume column).
    pub(crate) cols: [Vec<f64>; 5],
    pub(crate) lines: Lines,
    /// For a long-format file read with symbols: each row's symbol.
    pub(crate) symbols: Option<Symbols>,
    /// What the CSV dialect added (empty for Parquet).
    pub(crate) extra: Extra,
}

/// The parts of a table only the CSV dialects fill.
#[derive(Default)]
pub(crate) struct Extra {
    /// Adj Close per row, when reading with `--adjust`.
    pub(crate) adj: Vec<f64>,
    /// Rows (indices) with a missing price, in increasing order (not under
    /// [`MissingPolicy::Error`], which refuses them).
    pub(crate) missing: Vec<usize>,
    /// Rows with a missing Volume cell, in increasing order.
    pub(crate) missing_volume: Vec<usize>,
    /// What was detected so far.
    pub(crate) report: Option<ReadReport>,
}

/// The 1-based line (CSV) or row (Parquet) each row came from.
pub(crate) enum Lines {
    /// Listed per row (CSV: quoted fields and blank lines make lines differ from rows).
    Listed(Vec<u64>),
    /// Row `i` is line `i + 1` (Parquet).
    Sequential,
}

impl Lines {
    pub(crate) fn of(&self, i: usize) -> u64 {
        match self {
            Lines::Listed(l) => l.get(i).copied().unwrap_or(0),
            Lines::Sequential => i as u64 + 1,
        }
    }
}

/// Interned symbols: row `i` has symbol `names[ids[i]]`.
#[derive(Default)]
pub(crate) struct Symbols {
    pub(crate) ids: Vec<u32>,
    pub(crate) names: Vec<String>,
    index: HashMap<String, u32>,
}

impl Symbols {
    /// The id of `name`, adding it if new.
    pub(crate) fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.index.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), id);
        id
    }

    /// The symbol of row `i`.
    pub(crate) fn name_of_row(&self, i: usize) -> Option<&str> {
        self.ids.get(i).map(|&id| self.names[id as usize].as_str())
    }
}

/// Whether `s` can be a symbol (the rule of `backtide_core::Universe`, checked here so the
/// error can name the line).
pub(crate) fn valid_symbol(s: &str) -> bool {
    !s.is_empty() && !s.contains([',', '=', '\n', '\r'])
}

/// What a symbol cell must hold (for parse errors).
pub(crate) const SYMBOL_EXPECTED: &str =
    "a symbol (non-empty text without commas, `=` or line breaks)";

/// One asset's rows on their way to bars: sorted, missing prices dropped or filled,
/// adjusted.
pub(crate) struct Rows {
    pub(crate) time: Vec<TimestampNs>,
    /// Open, High, Low, Close, Volume (NaN volume when the file has none).
    pub(crate) cols: [Vec<f64>; 5],
    /// Adj Close (empty unless adjusting).
    pub(crate) adj: Vec<f64>,
    pub(crate) lines: Vec<u64>,
    /// Rows with a missing price, increasing.
    pub(crate) missing: Vec<usize>,
    /// Rows with a missing Volume cell, increasing.
    pub(crate) missing_volume: Vec<usize>,
}

/// What [`Rows::prepare`] did.
#[derive(Default)]
pub(crate) struct Acted {
    pub(crate) reordered: bool,
    pub(crate) missing_lines: Vec<u64>,
    pub(crate) volume_lines: Vec<u64>,
}

impl Rows {
    /// Applies `--sort`, the missing-price policy and `--adjust`, in that order (a filled
    /// row takes the previous row in time).
    pub(crate) fn prepare(
        &mut self,
        lay: &Layout,
        opts: &ReadOptions,
        file: &str,
    ) -> Result<Acted, DataError> {
        let mut acted = Acted::default();
        let n = self.time.len();
        if opts.sort && !self.time.is_sorted() {
            let mut perm: Vec<usize> = (0..n).collect();
            perm.sort_by_key(|&i| self.time[i]);
            let apply = |v: &mut Vec<f64>| {
                if !v.is_empty() {
                    *v = perm.iter().map(|&i| v[i]).collect();
                }
            };
            for c in &mut self.cols {
                apply(c);
            }
            apply(&mut self.adj);
            self.time = perm.iter().map(|&i| self.time[i]).collect();
            self.lines = perm.iter().map(|&i| self.lines[i]).collect();
            let mut rank = vec![0usize; n];
            for (new, &old) in perm.iter().enumerate() {
                rank[old] = new;
            }
            for m in [&mut self.missing, &mut self.missing_volume] {
                for r in m.iter_mut() {
                    *r = rank[*r];
                }
                m.sort_unstable();
            }
            acted.reordered = true;
        }
        if !self.missing.is_empty() {
            acted.missing_lines = self.missing.iter().map(|&i| self.lines[i]).collect();
            match opts.missing {
                MissingPolicy::Ffill => {
                    for &i in &self.missing {
                        if i == 0 {
                            let (col, value) = self.first_missing_cell(lay, 0);
                            return Err(DataError::NothingToFill {
                                file: file.to_string(),
                                line: self.lines[0],
                                column: col,
                                value,
                            });
                        }
                        let c = self.cols[3][i - 1];
                        for k in 0..4 {
                            self.cols[k][i] = c;
                        }
                        if !self.adj.is_empty() {
                            self.adj[i] = self.adj[i - 1];
                        }
                    }
                }
                MissingPolicy::Drop | MissingPolicy::Error => {
                    let mut keep = vec![true; n];
                    for &i in &self.missing {
                        keep[i] = false;
                    }
                    let filter = |v: &mut Vec<f64>| {
                        if !v.is_empty() {
                            let mut k = keep.iter();
                            v.retain(|_| *k.next().unwrap_or(&true));
                        }
                    };
                    for c in &mut self.cols {
                        filter(c);
                    }
                    filter(&mut self.adj);
                    let mut k = keep.iter();
                    self.time.retain(|_| *k.next().unwrap_or(&true));
                    let mut k = keep.iter();
                    self.lines.retain(|_| *k.next().unwrap_or(&true));
                    let mut new_index = vec![usize::MAX; n];
                    let mut j = 0;
                    for (i, &kept) in keep.iter().enumerate() {
                        if kept {
                            new_index[i] = j;
                            j += 1;
                        }
                    }
                    self.missing_volume = self
                        .missing_volume
                        .iter()
                        .filter_map(|&i| Some(new_index[i]).filter(|&x| x != usize::MAX))
                        .collect();
                }
            }
            self.missing.clear();
        }
        acted.volume_lines = self.missing_volume.iter().map(|&i| self.lines[i]).collect();
        if opts.adjust {
            let [o, h, l, c, v] = &mut self.cols;
            for i in 0..self.time.len() {
                let f = self.adj[i] / c[i];
                if !(f.is_finite() && f > 0.0) {
                    // Close or Adj Close is not a positive price: let the bar rules say so.
                    c[i] = self.adj[i];
                    continue;
                }
                let (oa, ca) = (o[i] * f, self.adj[i]);
                // Close becomes Adj Close exactly; High and Low still bracket Open and Close
                // when rounding moves them by an ulp.
                h[i] = (h[i] * f).max(oa).max(ca);
                l[i] = (l[i] * f).min(oa).min(ca);
                o[i] = oa;
                c[i] = ca;
                v[i] /= f;
            }
        }
        Ok(acted)
    }

    /// The column name and a text for the first missing price of row `i` (for errors).
    fn first_missing_cell(&self, lay: &Layout, i: usize) -> (String, String) {
        for (k, col) in [Column::Open, Column::High, Column::Low, Column::Close]
            .into_iter()
            .enumerate()
        {
            if self.cols[k][i].is_nan() {
                return (lay.name_of(col), "NaN".into());
            }
        }
        let adj = lay.adj.map_or("Adj Close".into(), |a| lay.names[a].clone());
        (adj, "NaN".into())
    }

    /// The bars; a rule broken names the line, and an out-of-order row the `--sort` flag.
    pub(crate) fn into_bars(self, lay: &Layout, file: &str, sort: bool) -> Result<Bars, DataError> {
        let Rows {
            time, cols, lines, ..
        } = self;
        let [open, high, low, close, volume] = cols;
        Bars::try_new(time, open, high, low, close, volume).map_err(|e| {
            let mut err = invalid(
                e,
                file,
                |i| lines.get(i).copied().unwrap_or(0),
                |c| lay.name_of(c),
            );
            if let DataError::Invalid {
                rule, sort_hint, ..
            } = &mut err
                && *rule == BarRule::TimestampOutOfOrder
                && !sort
            {
                *sort_hint = true;
            }
            err
        })
    }
}

impl Table {
    /// The bars of a single-asset file (any symbol column ignored); errors name the file,
    /// line, column, value and rule; no rows is [`DataError::Empty`].
    pub(crate) fn into_bars(self, file: &str) -> Result<Bars, DataError> {
        self.into_bars_with(file, &ReadOptions::default())
            .map(|(bars, _)| bars)
    }

    /// [`Table::into_bars`] with the options' policies applied, and the report.
    pub(crate) fn into_bars_with(
        mut self,
        file: &str,
        opts: &ReadOptions,
    ) -> Result<(Bars, ReadReport), DataError> {
        if self.time.is_empty() {
            return Err(DataError::Empty {
                file: file.to_string(),
            });
        }
        let mut report = self
            .extra
            .report
            .take()
            .unwrap_or_else(|| ReadReport::plain(file, "parquet"));
        let n = self.time.len();
        let Table {
            lay,
            time,
            cols,
            lines,
            extra,
            ..
        } = self;
        let [open, high, low, close, mut volume] = cols;
        if lay.volume.is_none() {
            volume = vec![f64::NAN; n];
        }
        let simple = !opts.sort && !opts.adjust && extra.missing.is_empty();
        if simple {
            // The strict reader's path: no copy of the line numbers.
            let bars = Bars::try_new(time, open, high, low, close, volume).map_err(|e| {
                let mut err = invalid(e, file, |i| lines.of(i), |c| lay.name_of(c));
                if let DataError::Invalid {
                    rule, sort_hint, ..
                } = &mut err
                    && *rule == BarRule::TimestampOutOfOrder
                    && report.format == "csv"
                {
                    *sort_hint = true;
                }
                err
            })?;
            let volume_lines: Vec<u64> =
                extra.missing_volume.iter().map(|&i| lines.of(i)).collect();
            finish_report(
                &mut report,
                &lay,
                file,
                Acted {
                    volume_lines,
                    ..Acted::default()
                },
                bars.len(),
            );
            return Ok((bars, report));
        }
        let mut rows = Rows {
            lines: (0..n).map(|i| lines.of(i)).collect(),
            time,
            cols: [open, high, low, close, volume],
            adj: extra.adj,
            missing: extra.missing,
            missing_volume: extra.missing_volume,
        };
        let acted = rows.prepare(&lay, opts, file)?;
        let bars = rows.into_bars(&lay, file, opts.sort)?;
        if opts.adjust {
            report.adjusted = true;
        }
        finish_report(&mut report, &lay, file, acted, bars.len());
        Ok((bars, report))
    }
}

/// Fills in what a read did and the notices it owes the user.
pub(crate) fn finish_report(
    report: &mut ReadReport,
    lay: &Layout,
    file: &str,
    acted: Acted,
    rows: usize,
) {
    report.rows += rows;
    report.reordered |= acted.reordered;
    if report.format != "csv" {
        return;
    }
    if acted.reordered {
        report.notices.push(format!(
            "{file}: --sort: the rows were not in time order; sorted"
        ));
    }
    if !acted.missing_lines.is_empty() {
        let n = acted.missing_lines.len();
        let what = match report.missing {
            MissingPolicy::Ffill => "replaced by a flat bar at the previous close",
            _ => "left out",
        };
        report.notices.push(format!(
            "{file}: --missing {}: {n} row{} with a missing price {what} (line{} {})",
            report.missing.name(),
            if n == 1 { "" } else { "s" },
            if n == 1 { "" } else { "s" },
            line_list(&acted.missing_lines)
        ));
        report.missing_lines.extend(acted.missing_lines);
    }
    if !acted.volume_lines.is_empty() {
        let n = acted.volume_lines.len();
        report.notices.push(format!(
            "{file}: {n} empty or null Volume cell{} read as no volume (line{} {})",
            if n == 1 { "" } else { "s" },
            if n == 1 { "" } else { "s" },
            line_list(&acted.volume_lines)
        ));
        report.volume_missing_lines.extend(acted.volume_lines);
    }
    if let Some(a) = lay.adj
        && !report.adjusted
        && !report
            .notices
            .iter()
            .any(|n| n.contains("--adjust uses it"))
    {
        report.notices.push(format!(
            "{file}: column `{}` is not used: prices are as traded, so a split or dividend \
             shows as a jump (--adjust uses it)",
            lay.names[a]
        ));
    }
}

/// How the file's head reads: the delimiter, header kind, column names, and where the
/// rows start.
struct Head {
    delimiter: u8,
    kind: HeaderKind,
    names: Vec<String>,
    /// Byte offset of the first row.
    body_start: usize,
    /// Lines before the first row.
    header_lines: u64,
}

/// True when a first line is a row, not names: a timestamp, then four numbers.
fn is_row(names: &[String], opts: &ReadOptions) -> bool {
    if names.len() < 5 {
        return false;
    }
    let time_ok = match &opts.date_format {
        Some(f) => parse_with_format(&names[0], f).is_some(),
        None => parse_timestamp(&names[0]).is_some(),
    };
    time_ok && names[1..5].iter().all(|c| parse_number(c).is_some())
}

fn read_head(bytes: &[u8], file: &str, opts: &ReadOptions) -> Result<Head, DataError> {
    let delimiter = opts.delimiter.unwrap_or_else(|| sniff_delimiter(bytes));
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes);
    let mut rec = csv::ByteRecord::new();
    let first = rdr
        .read_byte_record(&mut rec)
        .map_err(|e| csv_err(e, file, 0))?;
    let mut names = if first { clean_names(&rec) } else { Vec::new() };
    let mut kind = HeaderKind::Names;
    let mut at = (rdr.position().byte(), rdr.position().line());
    if first && is_row(&names, opts) {
        kind = HeaderKind::None;
        let order = ["time", "open", "high", "low", "close", "volume"];
        names = (0..names.len())
            .map(|i| {
                order
                    .get(i)
                    .map_or_else(|| format!("column {}", i + 1), |s| (*s).to_string())
            })
            .collect();
        at = (0, 1);
    } else if first
        && names
            .first()
            .is_some_and(|n| n.eq_ignore_ascii_case("price"))
    {
        // yfinance >= 0.2: `Price,Close,…` / `Ticker,AAPL,…` / `Date,,…`.
        let ok = rdr
            .read_byte_record(&mut rec)
            .map_err(|e| csv_err(e, file, 0))?;
        let second = clean_names(&rec);
        if ok
            && second
                .first()
                .is_some_and(|n| n.eq_ignore_ascii_case("ticker"))
        {
            kind = HeaderKind::Yfinance;
            let mut tickers: Vec<&str> = Vec::new();
            for t in second[1..].iter().filter(|t| !t.is_empty()) {
                if !tickers.contains(&t.as_str()) {
                    tickers.push(t);
                }
            }
            if tickers.len() > 1 {
                return Err(DataError::SeveralTickers {
                    file: file.to_string(),
                    tickers: tickers.join(", "),
                });
            }
            at = (rdr.position().byte(), rdr.position().line());
            let ok = rdr
                .read_byte_record(&mut rec)
                .map_err(|e| csv_err(e, file, 0))?;
            let third = clean_names(&rec);
            names[0] = "Date".into();
            if ok
                && third.first().is_some_and(|n| !n.is_empty())
                && third[1..].iter().all(String::is_empty)
            {
                names[0] = third[0].clone();
                at = (rdr.position().byte(), rdr.position().line());
            }
        }
    }
    Ok(Head {
        delimiter,
        kind,
        names,
        body_start: at.0 as usize,
        header_lines: at.1.saturating_sub(1),
    })
}

/// Parses CSV bytes into rows; with `symbols`, a file with a symbol column also gets each
/// row's symbol. A file with a header but no rows gives a table without rows.
pub(crate) fn parse_table(
    bytes: &[u8],
    file: &str,
    symbols: bool,
    opts: &ReadOptions,
) -> Result<Table, DataError> {
    let head = read_head(bytes, file, opts)?;
    let lay = Layout::from_names_with(head.names, file, &opts.columns, true)?;
    if opts.adjust && lay.adj.is_none() {
        return Err(DataError::NoAdjClose {
            file: file.to_string(),
            found: lay.names.join(","),
        });
    }
    let sym_col = if symbols { lay.symbol } else { None };
    let width = lay.names.len();
    let body = &bytes[head.body_start.min(bytes.len())..];
    let cx = Cx {
        lay: &lay,
        sym_col,
        width,
        file,
        opts,
        delimiter: head.delimiter,
    };

    // Large unquoted files are split at line ends and parsed on all cores; quoted fields
    // could hide a newline, so quoted files are parsed in one piece.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let parts = if body.len() > (1 << 20) && threads > 1 && !body.contains(&b'"') {
        split_lines(body, threads)
    } else {
        vec![body]
    };
    // Each piece numbers its lines from 1 and counts its newlines; the true line numbers
    // come from the pieces before it once all are parsed (no serial pass to count them).
    let chunks: Vec<Result<Chunk, DataError>> = if parts.len() == 1 {
        vec![parse_chunk(parts[0], 1, &cx)]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .iter()
                .map(|p| {
                    let cx = &cx;
                    scope.spawn(move || parse_chunk(p, 1, cx))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("CSV chunk parser panicked"))
                .collect()
        })
    };
    let mut offsets = Vec::with_capacity(chunks.len());
    let mut offset = head.header_lines;
    let mut parsed = Vec::with_capacity(chunks.len());
    for c in chunks {
        let c = c.map_err(|e| shift_line(e, offset))?;
        offsets.push(offset);
        offset += c.newlines;
        parsed.push(c);
    }
    let all = merge_chunks(parsed, &offsets);
    let Chunk {
        time,
        cols,
        adj,
        lines,
        symbols,
        missing,
        missing_volume,
        first_time,
        ..
    } = all;
    let report = ReadReport {
        source: file.to_string(),
        format: "csv",
        delimiter: Some(head.delimiter),
        header: head.kind,
        time: if opts.date_format.is_some() {
            "date_format"
        } else {
            first_time.as_deref().map_or("iso8601", time_kind)
        },
        date_format: opts.date_format.clone(),
        columns: lay.mapping(),
        close_only: lay.close_only,
        missing: opts.missing,
        sort: opts.sort,
        adj_close: lay.adj.map(|a| lay.names[a].clone()),
        notices: head_notices(file, head.kind, &lay),
        ..ReadReport::default()
    };
    Ok(Table {
        lay,
        time,
        cols,
        lines: Lines::Listed(lines),
        symbols: sym_col.map(|_| symbols),
        extra: Extra {
            adj,
            missing,
            missing_volume,
            report: Some(report),
        },
    })
}

/// A parse error of a piece, at its line in the whole file (`by` lines come before the piece).
fn shift_line(mut e: DataError, by: u64) -> DataError {
    match &mut e {
        DataError::Csv { line, .. }
        | DataError::Parse { line, .. }
        | DataError::BadDate { line, .. } => *line += by,
        _ => {}
    }
    e
}

/// The pieces' rows as one set of columns, in order, with lines shifted by each piece's
/// `offsets` entry. The first piece's columns are kept and the others appended to them, one
/// column a thread, so the copy and its page faults run on every core.
fn merge_chunks(chunks: Vec<Chunk>, offsets: &[u64]) -> Chunk {
    let mut it = chunks.into_iter();
    let Some(mut all) = it.next() else {
        return Chunk::default();
    };
    let mut rest: Vec<Chunk> = it.collect();
    let first_offset = offsets.first().copied().unwrap_or(0);
    if rest.is_empty() {
        if first_offset != 0 {
            all.lines.iter_mut().for_each(|l| *l += first_offset);
        }
        return all;
    }
    /// Appends the parts in order, freeing each once copied (the merge never holds a
    /// column twice over).
    fn append<T: Copy>(dst: &mut Vec<T>, parts: Vec<Vec<T>>) {
        dst.reserve(parts.iter().map(Vec::len).sum());
        for p in parts {
            dst.extend_from_slice(&p);
        }
    }
    fn take<T>(rest: &mut [Chunk], col: impl Fn(&mut Chunk) -> &mut Vec<T>) -> Vec<Vec<T>> {
        rest.iter_mut().map(|c| std::mem::take(col(c))).collect()
    }
    let bases: Vec<usize> = rest
        .iter()
        .scan(all.time.len(), |n, c| {
            let base = *n;
            *n += c.time.len();
            Some(base)
        })
        .collect();
    let times = take(&mut rest, |c| &mut c.time);
    let cols: Vec<Vec<Vec<f64>>> = (0..5)
        .map(|k| take(&mut rest, |c| &mut c.cols[k]))
        .collect();
    let adjs = take(&mut rest, |c| &mut c.adj);
    let mut lines_rest = take(&mut rest, |c| &mut c.lines);
    std::thread::scope(|scope| {
        let Chunk {
            time,
            cols: all_cols,
            adj,
            lines,
            ..
        } = &mut all;
        scope.spawn(move || append(time, times));
        for (col, parts) in all_cols.iter_mut().zip(cols) {
            scope.spawn(move || append(col, parts));
        }
        scope.spawn(move || append(adj, adjs));
        scope.spawn(move || {
            lines.iter_mut().for_each(|l| *l += first_offset);
            for (part, off) in lines_rest.iter_mut().zip(&offsets[1..]) {
                part.iter_mut().for_each(|l| *l += off);
            }
            append(lines, lines_rest);
        });
    });
    for (c, base) in rest.iter().zip(bases) {
        all.missing.extend(c.missing.iter().map(|i| i + base));
        all.missing_volume
            .extend(c.missing_volume.iter().map(|i| i + base));
        // Each piece interned its own symbols: map its ids onto the running set.
        let remap: Vec<u32> = c
            .symbols
            .names
            .iter()
            .map(|n| all.symbols.intern(n))
            .collect();
        all.symbols
            .ids
            .extend(c.symbols.ids.iter().map(|&i| remap[i as usize]));
    }
    all
}

/// The notices a file's shape owes the user: no header, close-only.
fn head_notices(file: &str, kind: HeaderKind, lay: &Layout) -> Vec<String> {
    let mut out = Vec::new();
    if kind == HeaderKind::None {
        let cols: Vec<&str> = lay.names.iter().take(6).map(String::as_str).collect();
        out.push(format!(
            "{file}: no header line; columns read in the order {}{}",
            cols.join(", "),
            if lay.names.len() > 6 {
                " (the rest ignored)"
            } else {
                ""
            }
        ));
    }
    if lay.close_only {
        out.push(format!(
            "{file}: close only (no Open, High or Low column): every bar is Open = High = \
             Low = Close, so stops and limits trigger on closes only, a next-open fill is \
             at that bar's close, and ranges (ATR, Donchian, Stochastic) are zero"
        ));
    }
    out
}

fn csv_err(e: csv::Error, file: &str, line_offset: u64) -> DataError {
    let line = e.position().map_or(0, |p| p.line()) + line_offset;
    DataError::Csv {
        file: file.to_string(),
        line,
        message: e.to_string(),
    }
}

/// Splits `body` into about `n` pieces, each ending just after a newline.
fn split_lines(body: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts = Vec::with_capacity(n);
    let mut start = 0;
    for k in 1..n {
        let target = (body.len() * k / n).max(start);
        let Some(nl) = body[target..].iter().position(|&c| c == b'\n') else {
            break;
        };
        let end = target + nl + 1;
        parts.push(&body[start..end]);
        start = end;
    }
    parts.push(&body[start..]);
    parts
}

/// Columns parsed from one piece of the file.
#[derive(Default)]
struct Chunk {
    time: Vec<TimestampNs>,
    cols: [Vec<f64>; 5],
    adj: Vec<f64>,
    lines: Vec<u64>,
    /// Only filled when reading a symbol column.
    symbols: Symbols,
    missing: Vec<usize>,
    missing_volume: Vec<usize>,
    /// The first row's time cell (for the report's time unit).
    first_time: Option<String>,
    /// Line ends (`\n`) in the piece.
    newlines: u64,
}

impl Chunk {
    /// An empty chunk with room for the rows of `piece` (at least 40 bytes a row).
    fn for_piece(piece: &[u8]) -> Chunk {
        let cap = piece.len() / 40;
        Chunk {
            time: Vec::with_capacity(cap),
            cols: std::array::from_fn(|_| Vec::with_capacity(cap)),
            lines: Vec::with_capacity(cap),
            ..Chunk::default()
        }
    }
}

/// What every piece of a file is parsed with.
struct Cx<'a> {
    lay: &'a Layout,
    sym_col: Option<usize>,
    width: usize,
    file: &'a str,
    opts: &'a ReadOptions,
    delimiter: u8,
}

/// What a price cell must hold, when it is missing and the policy is `error`.
const MISSING_EXPECTED: &str =
    "a number (rows with a missing price load with --missing drop or --missing ffill)";
/// The same for a `NaN` cell.
const NAN_EXPECTED: &str =
    "a finite number (rows with a missing price load with --missing drop or --missing ffill)";
/// What a time cell must hold.
const TIME_EXPECTED: &str = "an ISO 8601 date/datetime or epoch seconds/ms/µs/ns";
/// The same, for a cell that looks like a date in another format.
const TIME_EXPECTED_FORMAT: &str = "an ISO 8601 date/datetime or epoch seconds/ms/µs/ns \
     (dates in other formats load with --date-format, e.g. --date-format %m/%d/%Y)";

/// Parses rows of a headerless piece whose first line is line `first_line` of the file.
///
/// A piece without quotes or stray carriage returns (what exports write) is split by hand:
/// one UTF-8 check for the piece, then one pass over its bytes cutting lines and cells,
/// with no per-field copy or check. Anything else goes through the `csv` crate's reader.
/// Both give the same rows, line numbers and errors.
fn parse_chunk(piece: &[u8], first_line: u64, cx: &Cx<'_>) -> Result<Chunk, DataError> {
    let mut out = Chunk::for_piece(piece);
    if cx.width <= MAX_FAST_FIELDS
        && let Ok(text) = std::str::from_utf8(piece)
    {
        let bytes = text.as_bytes();
        if memchr::memchr(b'"', bytes).is_some() {
            return parse_chunk_csv(piece, first_line, cx);
        }
        // Cell k of the line starting at `from` spans bounds[k] .. bounds[k + 1] − 1 (byte
        // offsets into the piece); past the array only the count goes on (such a line has
        // more cells than the header allows). The delimiters and line ends are found with
        // vector instructions, several bytes at a time.
        let mut bounds = [0usize; MAX_FAST_FIELDS + 1];
        let (mut line_no, mut from, mut n) = (first_line, 0usize, 0usize);
        let ends = memchr::memchr3_iter(cx.delimiter, b'\n', b'\r', bytes)
            .chain(std::iter::once(bytes.len()));
        let mut skip_lf = false;
        for i in ends {
            let b = bytes.get(i).copied().unwrap_or(b'\n');
            if skip_lf {
                // The `\n` of a `\r\n` pair: the line ended at the `\r`.
                skip_lf = false;
                if b == b'\n' {
                    out.newlines += 1;
                    from = i + 1;
                    continue;
                }
            }
            if b == cx.delimiter {
                n += 1;
                if n < MAX_FAST_FIELDS {
                    bounds[n] = i + 1;
                }
                continue;
            }
            if b == b'\r' {
                if bytes.get(i + 1) != Some(&b'\n') {
                    // A lone carriage return ends a record for the csv reader: leave the
                    // piece to it.
                    return parse_chunk_csv(piece, first_line, cx);
                }
                skip_lf = true;
            } else if i < bytes.len() {
                out.newlines += 1;
            }
            // A blank line is skipped (as the csv reader does) but still counted.
            if i > from {
                let fields = n + 1;
                let kept = fields.min(MAX_FAST_FIELDS);
                bounds[0] = from;
                bounds[kept] = i + 1;
                let field = |idx: usize| -> &str {
                    if idx < kept {
                        &text[bounds[idx]..bounds[idx + 1] - 1]
                    } else {
                        ""
                    }
                };
                push_row(&mut out, fields, &field, line_no, cx)?;
            }
            line_no += 1;
            from = i + 1;
            n = 0;
        }
        return Ok(out);
    }
    parse_chunk_csv(piece, first_line, cx)
}

/// Most fields a line may have for the hand-split path (wider files use the csv reader).
const MAX_FAST_FIELDS: usize = 32;

/// [`parse_chunk`] through the `csv` crate's reader (quoted fields, lone `\r` line ends).
fn parse_chunk_csv(piece: &[u8], first_line: u64, cx: &Cx<'_>) -> Result<Chunk, DataError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(cx.delimiter)
        .from_reader(piece);
    let offset = first_line - 1;
    let mut out = Chunk::for_piece(piece);
    let mut rec = csv::ByteRecord::new();
    // A record's line is counted from its first byte (the reader's own count lags a line
    // after each `\r\n`): the newlines before it, counted once as the reader moves on.
    let (mut counted_to, mut newlines) = (0usize, 0u64);
    while rdr
        .read_byte_record(&mut rec)
        .map_err(|e| csv_err(e, cx.file, offset))?
    {
        let mut start = rec
            .position()
            .map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX))
            .clamp(counted_to, piece.len());
        while start < piece.len() && matches!(piece[start], b'\r' | b'\n') {
            start += 1;
        }
        newlines += piece[counted_to..start]
            .iter()
            .filter(|&&c| c == b'\n')
            .count() as u64;
        counted_to = start;
        let line = first_line + newlines;
        let field =
            |idx: usize| std::str::from_utf8(rec.get(idx).unwrap_or(b"")).unwrap_or("\u{fffd}");
        push_row(&mut out, rec.len(), &field, line, cx)?;
    }
    out.newlines = newlines + piece[counted_to..].iter().filter(|&&c| c == b'\n').count() as u64;
    Ok(out)
}

/// Reads one record (`fields` cells, `field(i)` the i-th) at `line` of the file into `out`.
fn push_row<'f>(
    out: &mut Chunk,
    fields: usize,
    field: &dyn Fn(usize) -> &'f str,
    line: u64,
    cx: &Cx<'_>,
) -> Result<(), DataError> {
    let Cx {
        lay,
        sym_col,
        width,
        file,
        opts,
        ..
    } = *cx;
    let adjust = if opts.adjust { lay.adj } else { None };
    let prices = if lay.close_only {
        &lay.ohlc[3..]
    } else {
        &lay.ohlc[..]
    };
    if fields != width {
        return Err(DataError::Csv {
            file: file.to_string(),
            line,
            message: format!("expected {width} fields like the header, found {fields}"),
        });
    }
    let row = out.time.len();
    let mut symbol = None;
    if let Some(idx) = sym_col {
        let raw = field(idx);
        let s = raw.trim();
        if !valid_symbol(s) {
            return Err(DataError::Parse {
                file: file.to_string(),
                line,
                symbol: None,
                column: lay.names[idx].clone(),
                value: raw.to_string(),
                expected: SYMBOL_EXPECTED,
            });
        }
        let id = out.symbols.intern(s);
        out.symbols.ids.push(id);
        symbol = Some(s);
    }
    let t = field(lay.time);
    if out.first_time.is_none() {
        out.first_time = Some(t.to_string());
    }
    let parsed = match &opts.date_format {
        Some(fmt) => parse_with_format(t, fmt).ok_or_else(|| DataError::BadDate {
            file: file.to_string(),
            line,
            column: lay.names[lay.time].clone(),
            value: t.to_string(),
            format: fmt.as_str().into(),
        }),
        None => parse_timestamp(t).ok_or_else(|| DataError::Parse {
            file: file.to_string(),
            line,
            symbol: symbol.map(str::to_string),
            column: lay.names[lay.time].clone(),
            value: t.to_string(),
            expected: if looks_like_other_date(t) {
                TIME_EXPECTED_FORMAT
            } else {
                TIME_EXPECTED
            },
        }),
    };
    out.time.push(parsed?);
    let mut row_missing = false;
    let mut price = |idx: usize| -> Result<f64, DataError> {
        let raw = field(idx);
        // A number first: the common case pays for one parse, not the missing-cell
        // checks (`NaN` parses, as NaN, and counts as missing).
        let parsed = parse_number(raw);
        if let Some(v) = parsed
            && !v.is_nan()
        {
            return Ok(v);
        }
        if parsed.is_some() || is_missing(raw) {
            if opts.missing == MissingPolicy::Error {
                let nan = raw.trim().eq_ignore_ascii_case("nan");
                return Err(DataError::Parse {
                    file: file.to_string(),
                    line,
                    symbol: symbol.map(str::to_string),
                    column: lay.names[idx].clone(),
                    value: raw.to_string(),
                    expected: if nan { NAN_EXPECTED } else { MISSING_EXPECTED },
                });
            }
            row_missing = true;
            return Ok(f64::NAN);
        }
        Err(DataError::Parse {
            file: file.to_string(),
            line,
            symbol: symbol.map(str::to_string),
            column: lay.names[idx].clone(),
            value: raw.to_string(),
            expected: "a number",
        })
    };
    for (k, &idx) in prices.iter().enumerate() {
        let v = price(idx)?;
        if lay.close_only {
            for c in &mut out.cols[..4] {
                c.push(v);
            }
        } else {
            out.cols[k].push(v);
        }
    }
    if let Some(idx) = adjust {
        let v = price(idx)?;
        out.adj.push(v);
    }
    if row_missing {
        out.missing.push(row);
    }
    if let Some(idx) = lay.volume {
        let raw = field(idx);
        let v = match parse_number(raw) {
            Some(v) if !v.is_nan() => v,
            parsed if parsed.is_some() || is_missing(raw) => {
                out.missing_volume.push(row);
                f64::NAN
            }
            _ => {
                return Err(DataError::Parse {
                    file: file.to_string(),
                    line,
                    symbol: symbol.map(str::to_string),
                    column: lay.names[idx].clone(),
                    value: raw.to_string(),
                    expected: "a number",
                });
            }
        };
        out.cols[4].push(v);
    }
    out.lines.push(line);
    Ok(())
}

/// Maps a bar-level rule violation to a file-level error.
pub(crate) fn invalid(
    e: BarsError,
    file: &str,
    line_of: impl Fn(usize) -> u64,
    name_of: impl Fn(Column) -> String,
) -> DataError {
    match e {
        BarsError::Invalid {
            index,
            column,
            value,
            rule,
        } => DataError::Invalid {
            file: file.to_string(),
            line: line_of(index),
            symbol: None,
            column: name_of(column),
            value: if column == Column::Time {
                format_timestamp(value as i64)
            } else {
                format!("{value}")
            },
            rule,
            sort_hint: false,
        },
        other => DataError::Parquet {
            file: file.to_string(),
            message: other.to_string(),
        },
    }
}

fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    s.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pandas_style_file() {
        let csv = ",Open,High,Low,Close,Volume\n2004-08-19,100,104.06,95.96,100.34,22351900\n\
                   2004-08-20,101.01,109.08,100.5,108.31,11428600\n";
        let b = parse_csv(csv.as_bytes(), "x.csv").unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b.close(), &[100.34, 108.31]);
    }

    #[test]
    fn parallel_parse_equals_sequential_and_keeps_line_numbers() {
        let mut csv = String::from("Date,Open,High,Low,Close,Volume\n");
        for i in 0..60_000i64 {
            csv.push_str(&format!(
                "{},{},{},{},{},{}\n",
                1_600_000_000 + i * 60,
                10.0,
                11.0,
                9.0,
                10.5,
                i
            ));
        }
        let whole = parse_csv(csv.as_bytes(), "x.csv").unwrap();
        assert_eq!(whole.len(), 60_000);
        assert!(csv.len() > (1 << 20), "large enough to be split");
        let pieces = split_lines(csv.as_bytes(), 4);
        assert_eq!(pieces.concat(), csv.as_bytes());
        // A bad value near the end is reported at its true line in the file.
        let row = "1603599400,10,11,9,10.5,59990\n";
        assert!(csv.contains(row));
        let bad = csv.replacen(row, "1603599400,10,11,9,10.5,-1\n", 1);
        let Err(e) = parse_csv(bad.as_bytes(), "x.csv") else {
            panic!("accepted a negative volume")
        };
        let e = e.to_string();
        assert!(e.contains("line 59992"), "{e}");
    }

    use proptest::prelude::*;

    proptest! {
        /// The hand-split path reads exactly what the csv reader reads: the same columns,
        /// line numbers and missing rows, or the same error.
        #[test]
        fn hand_split_rows_equal_the_csv_readers(
            rows in prop::collection::vec(
                (
                    0u8..12,
                    prop::collection::vec(
                        prop_oneof![
                            4 => (1u32..100_000).prop_map(|v| format!("{}.{}", v / 100, v % 100)),
                            1 => Just(String::new()),
                            1 => Just("null".to_string()),
                            1 => Just(" 7 ".to_string()),
                            1 => Just("x".to_string()),
                        ],
                        4..8,
                    ),
                ),
                1..40,
            ),
            crlf in any::<bool>(),
            missing in 0usize..3,
        ) {
            let mut body = String::new();
            for (i, (kind, cells)) in rows.iter().enumerate() {
                let end = if crlf { "\r\n" } else { "\n" };
                match kind {
                    0 => body.push_str(end),
                    1 => body.push_str(&format!("{}\r", 1_600_000_000 + i)),
                    _ => {
                        body.push_str(&(1_600_000_000 + i as i64 * 60).to_string());
                        for c in cells {
                            body.push(',');
                            body.push_str(c);
                        }
                        body.push_str(end);
                    }
                }
            }
            let opts = ReadOptions {
                missing: [MissingPolicy::Error, MissingPolicy::Drop, MissingPolicy::Ffill][missing],
                ..ReadOptions::default()
            };
            let names: Vec<String> = ["Date", "Open", "High", "Low", "Close", "Volume"]
                .map(String::from)
                .into();
            let lay = Layout::from_names_with(names, "x.csv", &opts.columns, true).unwrap();
            let cx = Cx {
                lay: &lay,
                sym_col: None,
                width: 6,
                file: "x.csv",
                opts: &opts,
                delimiter: b',',
            };
            let fast = parse_chunk(body.as_bytes(), 2, &cx);
            let slow = parse_chunk_csv(body.as_bytes(), 2, &cx);
            match (fast, slow) {
                (Ok(a), Ok(b)) => {
                    prop_assert_eq!(&a.time, &b.time);
                    prop_assert_eq!(format!("{:?}", a.cols), format!("{:?}", b.cols));
                    prop_assert_eq!(&a.lines, &b.lines);
                    prop_assert_eq!(&a.missing, &b.missing);
                    prop_assert_eq!(&a.missing_volume, &b.missing_volume);
                    prop_assert_eq!(&a.first_time, &b.first_time);
                }
                (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
                (a, b) => prop_assert!(false, "{:?} vs {:?}", a.map(|c| c.time), b.map(|c| c.time)),
            }
        }
    }

    /// Windows line ends: an error names its true line, quoted or not (the csv reader's
    /// own count lags a line after each `\r\n`).
    #[test]
    fn crlf_files_name_the_true_line() {
        for q in ["", "\""] {
            let csv = format!(
                "Date,Open,High,Low,Close,Volume\r\n{q}2020-01-01{q},1,1,1,1,1\r\n\
                 2020-01-02,1,1,1,1,1\r\n\r\n2020-01-03,1,x,1,1,1\r\n"
            );
            let e = parse_csv(csv.as_bytes(), "x.csv").unwrap_err().to_string();
            assert!(e.contains("line 5, column `High`"), "{q}: {e}");
        }
    }

    #[test]
    fn named_time_column_and_no_volume() {
        let csv = "close,HIGH,low,open,Timestamp\n10,11,9,10,1700000000\n10.5,11,9,10,1700000060\n";
        let b = parse_csv(csv.as_bytes(), "x.csv").unwrap();
        assert_eq!(b.time()[1] - b.time()[0], 60_000_000_000);
        assert!(!b.has_volume());
    }

    #[test]
    fn a_header_is_never_taken_for_a_row() {
        let csv = "Date,Open,High,Low,Close\n2020-01-01,1,1,1,1\n";
        let (b, r) = parse_csv_with(csv.as_bytes(), "x.csv", &ReadOptions::default()).unwrap();
        assert_eq!((b.len(), r.header), (1, HeaderKind::Names));
        let csv = "1577836800,1,1,1,1\n1577923200,1,1,1,1\n";
        let (b, r) = parse_csv_with(csv.as_bytes(), "x.csv", &ReadOptions::default()).unwrap();
        assert_eq!(
            (b.len(), r.header, r.time),
            (2, HeaderKind::None, "epoch_s")
        );
    }

    #[test]
    fn missing_rows_of_a_file_parsed_in_pieces_keep_their_lines() {
        let mut csv = String::from("Date,Open,High,Low,Close,Volume\n");
        for i in 0..60_000i64 {
            let cell = if i % 20_000 == 7 { "null" } else { "10" };
            csv.push_str(&format!(
                "{},{cell},11,9,10.5,{i}\n",
                1_600_000_000 + i * 60
            ));
        }
        assert!(csv.len() > (1 << 20), "large enough to be split");
        let e = parse_csv(csv.as_bytes(), "x.csv").unwrap_err().to_string();
        assert!(e.contains("line 9, column `Open`: value `null`"), "{e}");
        let opts = ReadOptions {
            missing: MissingPolicy::Drop,
            ..ReadOptions::default()
        };
        let (b, r) = parse_csv_with(csv.as_bytes(), "x.csv", &opts).unwrap();
        assert_eq!(b.len(), 60_000 - 3);
        assert_eq!(r.missing_lines, [9, 20_009, 40_009]);
    }
}
