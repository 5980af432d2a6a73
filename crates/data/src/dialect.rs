//! The CSV dialects people download (Yahoo, yfinance, exchange exports, spreadsheets): the
//! options that read them ([`ReadOptions`]) and the record of what a read chose and did
//! ([`ReadReport`], the `data` object of `backtide run --json`).
//!
//! Detected without options, never changing what a file that loaded before gives:
//!
//! - the delimiter: `,` `;` tab or `|`, whichever the first line holds most of (ties go to
//!   the comma);
//! - a header-less file: when the first line's first cell is a timestamp and the next four
//!   are numbers, the columns are read in the order `time,open,high,low,close[,volume]`
//!   (further columns, such as an exchange export's close time or trade count, are ignored);
//! - yfinance's three header lines (`Price,…` / `Ticker,…` / `Date,,…`);
//! - the unit of epoch timestamps, from their digits: up to 11 seconds, 12–14
//!   milliseconds, 15–17 microseconds, 18 or more nanoseconds;
//! - a close-only file (a time and a Close column, no Open, High or Low): every bar is
//!   Open = High = Low = Close, so intrabar stops, limits and ranges (ATR, Donchian) see
//!   no range and a next-open fill is at the previous close;
//! - an `Adj Close` column, which is used only with `--adjust` (a notice says so once).
//!
//! Chosen with options: the missing-cell policy, `--date-format`, `--sort`, `--adjust` and
//! `--columns`. [`ReadOptions::default`] is the strict reader.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use crate::error::DataError;

/// What to do with a row whose price cell is missing: empty, `null`, `NaN`, `NA`, `N/A`,
/// `#N/A` or `None` (any case). A missing Volume cell is always read as NaN volume (no
/// volume for that bar, as a `NaN` cell always was) and listed in the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MissingPolicy {
    /// Refuse the file, naming the first such cell (the strict reader).
    #[default]
    Error,
    /// Leave such rows out.
    Drop,
    /// Replace such a row with a flat bar at the previous row's Close (Open = High = Low =
    /// Close, and the previous `Adj Close` under `--adjust`); the first row cannot be filled.
    Ffill,
}

impl MissingPolicy {
    /// The flag value (`error`, `drop`, `ffill`).
    pub fn name(self) -> &'static str {
        match self {
            MissingPolicy::Error => "error",
            MissingPolicy::Drop => "drop",
            MissingPolicy::Ffill => "ffill",
        }
    }
}

/// A bar field that `--columns` can map to a file column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The timestamp.
    Time,
    /// Open price.
    Open,
    /// High price.
    High,
    /// Low price.
    Low,
    /// Close price.
    Close,
    /// Volume.
    Volume,
    /// The split- and dividend-adjusted close (`--adjust`).
    AdjClose,
}

impl Field {
    /// Every field, in `--columns` order.
    pub const ALL: [Field; 7] = [
        Field::Time,
        Field::Open,
        Field::High,
        Field::Low,
        Field::Close,
        Field::Volume,
        Field::AdjClose,
    ];

    /// The name used in `--columns` and the report.
    pub fn name(self) -> &'static str {
        match self {
            Field::Time => "time",
            Field::Open => "open",
            Field::High => "high",
            Field::Low => "low",
            Field::Close => "close",
            Field::Volume => "volume",
            Field::AdjClose => "adj_close",
        }
    }
}

/// Which file column holds which bar field (`--columns time=Date,close=Last`); fields not
/// named are found by their usual names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMap {
    pairs: Vec<(Field, String)>,
}

impl ColumnMap {
    /// Parses `field=Column,…` (fields: time, open, high, low, close, volume, adj_close;
    /// column names match the header case-insensitively).
    pub fn parse(spec: &str) -> Result<ColumnMap, DataError> {
        let bad = |problem: String| DataError::BadColumns {
            spec: spec.to_string(),
            problem,
        };
        let mut pairs: Vec<(Field, String)> = Vec::new();
        for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                return Err(bad(format!("`{part}`: expected FIELD=COLUMN")));
            };
            let (k, v) = (k.trim(), v.trim());
            let Some(field) = Field::ALL
                .into_iter()
                .find(|f| f.name().eq_ignore_ascii_case(k))
            else {
                return Err(bad(format!(
                    "`{k}` is not a field (time, open, high, low, close, volume, adj_close)"
                )));
            };
            if v.is_empty() {
                return Err(bad(format!("`{k}=`: the column name is empty")));
            }
            if pairs.iter().any(|(f, _)| *f == field) {
                return Err(bad(format!("`{k}` is given twice")));
            }
            pairs.push((field, v.to_string()));
        }
        Ok(ColumnMap { pairs })
    }

    /// The column named for `field`, if any.
    pub fn get(&self, field: Field) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, c)| c.as_str())
    }

    /// True when no field is mapped.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// How a CSV file is read. The default is the strict reader: the delimiter and header kind
/// are detected (see the module docs), everything else refuses what it does not understand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// The delimiter; `None` sniffs `,` `;` tab `|` from the first line.
    pub delimiter: Option<u8>,
    /// Rows with a missing price (`--missing`).
    pub missing: MissingPolicy,
    /// A chrono/strftime format for the time column (`--date-format %m/%d/%Y`); a format
    /// without a time of day gives midnight UTC.
    pub date_format: Option<String>,
    /// Sort rows by time (`--sort`); duplicate timestamps are still refused.
    pub sort: bool,
    /// Use the `Adj Close` column (`--adjust`): Open, High, Low and Close are scaled by
    /// Adj Close / Close (Close becomes Adj Close exactly) and Volume divided by it.
    pub adjust: bool,
    /// Column mapping (`--columns`).
    pub columns: ColumnMap,
}

/// The header a CSV file had.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HeaderKind {
    /// One line of column names.
    #[default]
    Names,
    /// No header: columns in the order time, open, high, low, close\[, volume\].
    None,
    /// yfinance's `Price` / `Ticker` / `Date` lines.
    Yfinance,
}

impl HeaderKind {
    /// Its name in the report.
    pub fn name(self) -> &'static str {
        match self {
            HeaderKind::Names => "names",
            HeaderKind::None => "none",
            HeaderKind::Yfinance => "yfinance",
        }
    }
}

/// What one read chose and did, for `--json` (`data`) and the notices printed on stderr.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadReport {
    /// The spec or file read.
    pub source: String,
    /// `csv`, `parquet` or `sample`.
    pub format: &'static str,
    /// The delimiter (CSV).
    pub delimiter: Option<u8>,
    /// The header kind (CSV).
    pub header: HeaderKind,
    /// How the first timestamp was read: `iso8601`, `epoch_s`, `epoch_ms`, `epoch_us`,
    /// `epoch_ns` or `date_format`.
    pub time: &'static str,
    /// The `--date-format` used.
    pub date_format: Option<String>,
    /// Bar field → the file's column (in field order).
    pub columns: Vec<(&'static str, String)>,
    /// True when the file has Close but no Open, High or Low.
    pub close_only: bool,
    /// The missing-cell policy.
    pub missing: MissingPolicy,
    /// Lines whose missing prices the policy acted on (dropped or filled).
    pub missing_lines: Vec<u64>,
    /// Lines whose Volume cell was missing (read as NaN).
    pub volume_missing_lines: Vec<u64>,
    /// Whether `--sort` was given.
    pub sort: bool,
    /// Whether `--sort` moved any row.
    pub reordered: bool,
    /// Whether prices were adjusted with the `Adj Close` column.
    pub adjusted: bool,
    /// The `Adj Close` column, when the file has one.
    pub adj_close: Option<String>,
    /// Rows read into bars.
    pub rows: usize,
    /// One line each: what a user should know about this read.
    pub notices: Vec<String>,
    /// `--resample`: the timeframe, and the bars before and after.
    pub resampled: Option<(String, usize, usize)>,
    /// `--session-start`, when given: the time of day (`HH:MM`) the market's sessions start.
    pub session_start: Option<String>,
}

/// At most this many line numbers in a notice (the report lists them all).
const SHOWN_LINES: usize = 10;

/// `31, 45` or `31, 45, … (12 in all)`.
pub(crate) fn line_list(lines: &[u64]) -> String {
    let mut s = String::new();
    for (i, l) in lines.iter().take(SHOWN_LINES).enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{l}");
    }
    if lines.len() > SHOWN_LINES {
        let _ = write!(s, ", … ({} in all)", lines.len());
    }
    s
}

impl ReadReport {
    /// A report for a source read without CSV options (Parquet, samples).
    pub(crate) fn plain(source: &str, format: &'static str) -> ReadReport {
        ReadReport {
            source: source.to_string(),
            format,
            ..ReadReport::default()
        }
    }

    /// The `data` object of `--json`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("source".into(), json!(self.source));
        m.insert("format".into(), json!(self.format));
        if self.format == "csv" {
            let d = self.delimiter.map(|d| (d as char).to_string());
            m.insert("delimiter".into(), json!(d));
            m.insert("header".into(), json!(self.header.name()));
            m.insert("time".into(), json!(self.time));
            m.insert("date_format".into(), json!(self.date_format));
            let cols: Map<String, Value> = self
                .columns
                .iter()
                .map(|(k, v)| ((*k).to_string(), json!(v)))
                .collect();
            m.insert("columns".into(), Value::Object(cols));
            m.insert("close_only".into(), json!(self.close_only));
            m.insert(
                "missing".into(),
                json!({
                    "policy": self.missing.name(),
                    "lines": self.missing_lines,
                    "volume_lines": self.volume_missing_lines,
                }),
            );
            m.insert(
                "sort".into(),
                json!({"asked": self.sort, "reordered": self.reordered}),
            );
            m.insert(
                "adjust".into(),
                json!({"used": self.adjusted, "adj_close": self.adj_close}),
            );
        }
        m.insert("rows".into(), json!(self.rows));
        if let Some((rule, from, to)) = &self.resampled {
            m.insert(
                "resample".into(),
                json!({"timeframe": rule, "bars_read": from, "bars": to}),
            );
        }
        if let Some(start) = &self.session_start {
            m.insert("session_start".into(), json!(start));
        }
        m.insert("notices".into(), json!(self.notices));
        Value::Object(m)
    }
}

/// The delimiter of a CSV file: of `,` `;` tab `|`, the one its first line holds most of
/// outside quotes; ties (and none at all) go to the earlier in that list.
pub fn sniff_delimiter(bytes: &[u8]) -> u8 {
    const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for &c in bytes {
        match c {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            _ if !quoted => {
                if let Some(k) = CANDIDATES.iter().position(|&d| d == c) {
                    counts[k] += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for k in 1..4 {
        if counts[k] > counts[best] {
            best = k;
        }
    }
    CANDIDATES[best]
}

/// True when `s` is a missing cell: empty, `null`, `NaN`, `NA`, `N/A`, `#N/A`, `None`.
pub(crate) fn is_missing(s: &str) -> bool {
    let s = s.trim();
    s.is_empty()
        || ["null", "nan", "na", "n/a", "#n/a", "none"]
            .iter()
            .any(|m| s.eq_ignore_ascii_case(m))
}

/// How a time cell reads: the epoch unit by digits, else ISO 8601.
pub(crate) fn time_kind(s: &str) -> &'static str {
    let s = s.trim();
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
        match digits.len() {
            0..=11 => "epoch_s",
            12..=14 => "epoch_ms",
            15..=17 => "epoch_us",
            _ => "epoch_ns",
        }
    } else {
        "iso8601"
    }
}

/// A time cell in a `--date-format` (naive = UTC; a format without a time is midnight).
pub(crate) fn parse_with_format(s: &str, fmt: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
        return dt.timestamp_nanos_opt();
    }
    if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
        return dt.and_utc().timestamp_nanos_opt();
    }
    NaiveDate::parse_from_str(s, fmt)
        .ok()?
        .and_hms_opt(0, 0, 0)?
        .and_utc()
        .timestamp_nanos_opt()
}

/// True when a time cell that is not ISO 8601 looks like a date in another format
/// (`03/01/2000`, `01.03.2000`, `1-Mar-2000`), so the error can point at `--date-format`.
pub(crate) fn looks_like_other_date(s: &str) -> bool {
    let s = s.trim();
    let b = s.as_bytes();
    let iso_start = b.len() >= 5 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-';
    s.bytes().any(|c| c.is_ascii_digit())
        && !iso_start
        && s.bytes().any(|c| matches!(c, b'/' | b'.' | b'-' | b' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_delimiter_from_the_first_line() {
        assert_eq!(sniff_delimiter(b"Date,Open,High\n1;2;3;4;5\n"), b',');
        assert_eq!(sniff_delimiter(b"Date;Open;High;Low;Close\n"), b';');
        assert_eq!(sniff_delimiter(b"Date\tOpen\tHigh\n"), b'\t');
        assert_eq!(sniff_delimiter(b"Date|Open|High\n"), b'|');
        assert_eq!(sniff_delimiter(b"\"a;b;c\",x,y\n"), b',');
        assert_eq!(sniff_delimiter(b"Date\n"), b',');
        assert_eq!(sniff_delimiter(b""), b',');
    }

    #[test]
    fn column_maps_parse_and_refuse() {
        let m = ColumnMap::parse("time=Date, close=Last").unwrap();
        assert_eq!(m.get(Field::Time), Some("Date"));
        assert_eq!(m.get(Field::Close), Some("Last"));
        assert_eq!(m.get(Field::Open), None);
        for bad in ["time", "when=Date", "close=", "close=A,close=B"] {
            assert!(ColumnMap::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            ColumnMap::parse("when=Date").unwrap_err().to_string(),
            "--columns `when=Date`: `when` is not a field (time, open, high, low, close, \
             volume, adj_close)"
        );
    }

    #[test]
    fn missing_cells_and_time_kinds() {
        for m in [
            "", " ", "null", "NULL", "NaN", "nan", "NA", "N/A", "#N/A", "None",
        ] {
            assert!(is_missing(m), "{m}");
        }
        for v in ["0", "1.5", "inf", "-"] {
            assert!(!is_missing(v), "{v}");
        }
        assert_eq!(time_kind("1672531200"), "epoch_s");
        assert_eq!(time_kind("1672531200000"), "epoch_ms");
        assert_eq!(time_kind("1672531200000000"), "epoch_us");
        assert_eq!(time_kind("1672531200000000000"), "epoch_ns");
        assert_eq!(time_kind("2023-01-01"), "iso8601");
        assert!(looks_like_other_date("03/01/2000"));
        assert!(looks_like_other_date("01.03.2000"));
        assert!(!looks_like_other_date("2020-13-45"));
        assert!(!looks_like_other_date("yesterday"));
        assert_eq!(
            parse_with_format("03/01/2000", "%m/%d/%Y"),
            crate::parse_timestamp("2000-03-01")
        );
        assert_eq!(
            parse_with_format("03/01/2000 09:30", "%m/%d/%Y %H:%M"),
            crate::parse_timestamp("2000-03-01 09:30:00")
        );
        assert_eq!(parse_with_format("13/01/2000", "%m/%d/%Y"), None);
    }

    #[test]
    fn lists_of_lines_are_short() {
        assert_eq!(line_list(&[3, 5]), "3, 5");
        let many: Vec<u64> = (1..=12).collect();
        assert_eq!(
            line_list(&many),
            "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, … (12 in all)"
        );
    }
}
