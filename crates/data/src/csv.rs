//! CSV reading with validation.

use std::collections::HashMap;
use std::path::Path;

use backtide_core::{Bars, BarsError, Column, TimestampNs};

use crate::error::DataError;
use crate::time::{format_timestamp, parse_timestamp};

/// Reads OHLCV bars from a CSV file; see [`parse_csv`] for the format.
pub fn read_csv(path: &Path) -> Result<Bars, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.into(),
        source,
    })?;
    parse_csv(&bytes, &path.display().to_string())
}

/// Reads a CSV file into rows (see [`parse_table`]).
pub(crate) fn read_csv_table(path: &Path, symbols: bool) -> Result<Table, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.into(),
        source,
    })?;
    parse_table(&bytes, &path.display().to_string(), symbols)
}

/// Where each column sits in a row, by header name (shared by the CSV and Parquet readers).
pub(crate) struct Layout {
    pub(crate) time: usize,
    pub(crate) ohlc: [usize; 4],
    pub(crate) volume: Option<usize>,
    /// The `symbol` (or `ticker`) column of a long-format (multi-asset) file.
    pub(crate) symbol: Option<usize>,
    pub(crate) names: Vec<String>,
}

impl Layout {
    /// Matches header names case-insensitively: the time column is the one named date,
    /// datetime, time or timestamp (or pandas' `__index_level_0__`), else the first column
    /// that is not the symbol column; Open, High, Low and Close are required; Volume is
    /// optional; a column named symbol (else ticker) marks a long-format file.
    pub(crate) fn from_names(names: Vec<String>, file: &str) -> Result<Layout, DataError> {
        let find = |want: &str| names.iter().position(|n| n.eq_ignore_ascii_case(want));
        let symbol = find("symbol").or_else(|| find("ticker"));
        let time = ["date", "datetime", "time", "timestamp", "__index_level_0__"]
            .iter()
            .find_map(|w| find(w))
            .unwrap_or(usize::from(symbol == Some(0)));
        let mut ohlc = [0; 4];
        for (slot, want) in ohlc.iter_mut().zip(["Open", "High", "Low", "Close"]) {
            *slot = find(want).ok_or_else(|| DataError::MissingColumn {
                file: file.to_string(),
                column: want,
                found: names.join(","),
            })?;
        }
        let volume = find("volume");
        Ok(Layout {
            time,
            ohlc,
            volume,
            symbol,
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
}

fn layout(header: &csv::ByteRecord, file: &str) -> Result<Layout, DataError> {
    let names = header
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim()
                .trim_start_matches('\u{feff}')
                .to_string()
        })
        .collect();
    Layout::from_names(names, file)
}

/// Parses CSV bytes; `file` names the source in errors.
///
/// Header names are case-insensitive. The time column is the one named `date`,
/// `datetime`, `time` or `timestamp`, else the first column; `Open`, `High`, `Low`,
/// `Close` are required, `Volume` optional, other columns ignored. Timestamps are ISO
/// 8601 dates or datetimes (naive = UTC, offsets converted) or epoch seconds or
/// milliseconds. Every rule of [`Bars::try_new`] is checked; the error names the file,
/// line, column, value and rule.
pub fn parse_csv(bytes: &[u8], file: &str) -> Result<Bars, DataError> {
    parse_table(bytes, file, false)?.into_bars(file)
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

impl Table {
    /// The bars of a single-asset file (any symbol column ignored); errors name the file,
    /// line, column, value and rule; no rows is [`DataError::Empty`].
    pub(crate) fn into_bars(self, file: &str) -> Result<Bars, DataError> {
        let Table {
            lay,
            time,
            cols,
            lines,
            ..
        } = self;
        if time.is_empty() {
            return Err(DataError::Empty {
                file: file.to_string(),
            });
        }
        let [open, high, low, close, mut volume] = cols;
        if lay.volume.is_none() {
            volume = vec![f64::NAN; time.len()];
        }
        Bars::try_new(time, open, high, low, close, volume)
            .map_err(|e| invalid(e, file, |i| lines.of(i), |c| lay.name_of(c)))
    }
}

/// Parses CSV bytes into rows; with `symbols`, a file with a symbol column also gets each
/// row's symbol. A file with a header but no rows gives a table without rows.
pub(crate) fn parse_table(bytes: &[u8], file: &str, symbols: bool) -> Result<Table, DataError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let header = rdr.byte_headers().map_err(|e| csv_err(e, file, 0))?.clone();
    let lay = layout(&header, file)?;
    let sym_col = if symbols { lay.symbol } else { None };
    let body_start = rdr.position().byte() as usize;
    let header_lines = rdr.position().line().saturating_sub(1);
    drop(rdr);
    let body = &bytes[body_start.min(bytes.len())..];

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
    let mut first_lines = Vec::with_capacity(parts.len());
    let mut line = header_lines + 1;
    for p in &parts {
        first_lines.push(line);
        line += p.iter().filter(|&&c| c == b'\n').count() as u64;
    }
    let chunks: Vec<Result<Chunk, DataError>> = if parts.len() == 1 {
        vec![parse_chunk(
            parts[0],
            first_lines[0],
            &lay,
            sym_col,
            header.len(),
            file,
        )]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .iter()
                .zip(&first_lines)
                .map(|(p, &l)| {
                    let lay = &lay;
                    let width = header.len();
                    scope.spawn(move || parse_chunk(p, l, lay, sym_col, width, file))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("CSV chunk parser panicked"))
                .collect()
        })
    };
    let mut all = Chunk::default();
    for c in chunks {
        let c = c?;
        if all.time.is_empty() {
            all = c;
        } else {
            all.time.extend(c.time);
            for (a, b) in all.cols.iter_mut().zip(c.cols) {
                a.extend(b);
            }
            all.lines.extend(c.lines);
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
    }
    let Chunk {
        time,
        cols,
        lines,
        symbols,
    } = all;
    Ok(Table {
        lay,
        time,
        cols,
        lines: Lines::Listed(lines),
        symbols: sym_col.map(|_| symbols),
    })
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
    lines: Vec<u64>,
    /// Only filled when reading a symbol column.
    symbols: Symbols,
}

/// Parses rows of a headerless piece whose first line is line `first_line` of the file.
fn parse_chunk(
    piece: &[u8],
    first_line: u64,
    lay: &Layout,
    sym_col: Option<usize>,
    width: usize,
    file: &str,
) -> Result<Chunk, DataError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(piece);
    let offset = first_line - 1;
    let cap = piece.len() / 40;
    let mut out = Chunk {
        time: Vec::with_capacity(cap),
        cols: std::array::from_fn(|_| Vec::with_capacity(cap)),
        lines: Vec::with_capacity(cap),
        symbols: Symbols::default(),
    };
    let mut rec = csv::ByteRecord::new();
    while rdr
        .read_byte_record(&mut rec)
        .map_err(|e| csv_err(e, file, offset))?
    {
        let line = rec.position().map_or(0, |p| p.line()) + offset;
        if rec.len() != width {
            return Err(DataError::Csv {
                file: file.to_string(),
                line,
                message: format!(
                    "expected {width} fields like the header, found {}",
                    rec.len()
                ),
            });
        }
        let field =
            |idx: usize| std::str::from_utf8(rec.get(idx).unwrap_or(b"")).unwrap_or("\u{fffd}");
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
        out.time
            .push(parse_timestamp(t).ok_or_else(|| DataError::Parse {
                file: file.to_string(),
                line,
                symbol: symbol.map(str::to_string),
                column: lay.names[lay.time].clone(),
                value: t.to_string(),
                expected: "an ISO 8601 date/datetime or epoch seconds/milliseconds",
            })?);
        for (k, &idx) in lay.ohlc.iter().chain(lay.volume.iter()).enumerate() {
            let raw = field(idx);
            let v = parse_number(raw).ok_or_else(|| DataError::Parse {
                file: file.to_string(),
                line,
                symbol: symbol.map(str::to_string),
                column: lay.names[idx].clone(),
                value: raw.to_string(),
                expected: "a number",
            })?;
            out.cols[k].push(v);
        }
        out.lines.push(line);
    }
    Ok(out)
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

    #[test]
    fn named_time_column_and_no_volume() {
        let csv = "close,HIGH,low,open,Timestamp\n10,11,9,10,1700000000\n10.5,11,9,10,1700000060\n";
        let b = parse_csv(csv.as_bytes(), "x.csv").unwrap();
        assert_eq!(b.time()[1] - b.time()[0], 60_000_000_000);
        assert!(!b.has_volume());
    }
}
