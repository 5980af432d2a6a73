//! The real-world CSV dialects in `testdata/dialects/`: what loads, with which flags, what
//! the `data` object of `--json` says, and the exact message when a file is refused.

use serde_json::Value;

use crate::cli::backtide;
use crate::golden::testdata;

/// The fixture's path as the CLI is given it (and names it in messages).
fn fixture(name: &str) -> String {
    testdata("dialects").join(name).display().to_string()
}

/// `run --strategy buy_and_hold --json` on a fixture: the document and the stderr lines.
fn loads(name: &str, flags: &[&str]) -> (Value, Vec<String>) {
    let path = fixture(name);
    let out = backtide()
        .args([
            "run",
            "--data",
            &path,
            "--strategy",
            "buy_and_hold",
            "--json",
        ])
        .args(flags)
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{name} {flags:?}: {err}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (v, err.lines().map(str::to_string).collect())
}

/// The one-line error of a refused fixture, without `error: `.
fn refused(name: &str, flags: &[&str]) -> String {
    let path = fixture(name);
    let out = backtide()
        .args(["run", "--data", &path, "--strategy", "buy_and_hold"])
        .args(flags)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{name} {flags:?} loaded");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err.trim_end()
        .strip_prefix("error: ")
        .unwrap_or(&err)
        .to_string()
}

/// The bar-to-bar equity changes of a run, as fractions.
fn equity_steps(v: &Value) -> Vec<f64> {
    let eq: Vec<f64> = v["equity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["equity"].as_f64().unwrap())
        .collect();
    eq.windows(2).map(|w| w[1] / w[0] - 1.0).collect()
}

#[test]
fn dialects_semicolon_and_tab_are_sniffed() {
    let (comma, _) = loads("unsorted.csv", &["--sort"]);
    for (name, delimiter) in [("semicolon.csv", ";"), ("tab.csv", "\t")] {
        let (v, notes) = loads(name, &[]);
        assert_eq!(v["data"]["delimiter"], delimiter, "{name}");
        assert_eq!(v["data"]["header"], "names");
        assert_eq!(v["data"]["rows"], 40);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(v["stats"], comma["stats"], "{name} reads as the comma file");
    }
}

#[test]
fn dialects_yahoo_null_row_names_the_flag_then_drops_or_fills() {
    let path = fixture("yahoo_null.csv");
    assert_eq!(
        refused("yahoo_null.csv", &[]),
        format!(
            "{path}: line 31, column `Open`: value `null`: expected a number (rows with a \
             missing price load with --missing drop or --missing ffill)"
        )
    );
    let (v, notes) = loads("yahoo_null.csv", &["--missing", "drop"]);
    assert_eq!(v["data"]["rows"], 39);
    assert_eq!(
        v["data"]["missing"],
        serde_json::json!({"policy": "drop", "lines": [31], "volume_lines": []})
    );
    assert_eq!(
        notes,
        [
            format!("note: {path}: --missing drop: 1 row with a missing price left out (line 31)"),
            format!(
                "note: {path}: column `Adj Close` is not used: prices are as traded, so a \
                 split or dividend shows as a jump (--adjust uses it)"
            ),
        ]
    );
    let (v, notes) = loads("yahoo_null.csv", &["--missing", "ffill"]);
    assert_eq!(v["data"]["rows"], 40);
    assert_eq!(v["data"]["missing"]["lines"], serde_json::json!([31]));
    assert_eq!(
        notes[0],
        format!(
            "note: {path}: --missing ffill: 1 row with a missing price replaced by a flat bar \
             at the previous close (line 31)"
        )
    );
    // The filled bar (2023-02-10) is flat at the previous close: equity does not move.
    let eq = &v["equity"];
    assert_eq!(eq[29]["time"], "2023-02-10T00:00:00");
    assert_eq!(eq[29]["equity"], eq[28]["equity"]);
}

#[test]
fn dialects_empty_volume_cells_load_as_no_volume() {
    let path = fixture("empty_volume.csv");
    let (v, notes) = loads("empty_volume.csv", &[]);
    assert_eq!(v["data"]["rows"], 40);
    assert_eq!(
        v["data"]["missing"]["volume_lines"],
        serde_json::json!([6, 7])
    );
    assert_eq!(
        notes,
        [format!(
            "note: {path}: 2 empty or null Volume cells read as no volume (lines 6, 7)"
        )]
    );
}

#[test]
fn dialects_headerless_exchange_exports_in_ms_and_us() {
    let (ms, notes) = loads("exchange_ms.csv", &[]);
    let (us, _) = loads("exchange_us.csv", &[]);
    assert_eq!(ms["data"]["header"], "none");
    assert_eq!(ms["data"]["time"], "epoch_ms");
    assert_eq!(us["data"]["time"], "epoch_us");
    assert_eq!(
        notes,
        [format!(
            "note: {}: no header line; columns read in the order time, open, high, low, \
             close, volume (the rest ignored)",
            fixture("exchange_ms.csv")
        )]
    );
    assert_eq!(ms["equity"][0]["time"], "2023-01-01T00:00:00");
    assert_eq!(ms["equity"][1]["time"], "2023-01-01T01:00:00");
    assert_eq!(ms["equity"], us["equity"]);
    assert_eq!(ms["stats"], us["stats"]);
}

#[test]
fn dialects_adjust_reproduces_the_adjusted_series_and_buy_and_hold_is_continuous() {
    let path = fixture("yahoo_split.csv");
    // Hand-checked: before the 2:1 split on 2023-01-16 every price halves and the volume
    // doubles; from the split on, Adj Close = Close and nothing changes.
    let opts = backtide_data::ReadOptions {
        adjust: true,
        ..Default::default()
    };
    let (bars, report) =
        backtide_data::parse_csv_with(&std::fs::read(&path).unwrap(), "split", &opts).unwrap();
    assert!(report.adjusted);
    let row = |i: usize| {
        [
            bars.open()[i],
            bars.high()[i],
            bars.low()[i],
            bars.close()[i],
            bars.volume()[i],
        ]
    };
    // 2023-01-02,200,204.88,198.04,201.94,100.97,59058
    assert_eq!(row(0), [100.0, 102.44, 99.02, 100.97, 118_116.0]);
    // 2023-01-13,204.48,206.78,201.48,203.14,101.57,73858
    assert_eq!(row(9), [102.24, 103.39, 100.74, 101.57, 147_716.0]);
    // 2023-01-16,101.57,102.34,101,101.71,101.71,115450
    assert_eq!(row(10), [101.57, 102.34, 101.0, 101.71, 115_450.0]);

    let (raw, notes) = loads("yahoo_split.csv", &[]);
    assert_eq!(
        notes,
        [format!(
            "note: {path}: column `Adj Close` is not used: prices are as traded, so a split \
             or dividend shows as a jump (--adjust uses it)"
        )]
    );
    let crash = equity_steps(&raw).into_iter().fold(0.0, f64::min);
    assert!(crash < -0.45, "the unadjusted split is a crash: {crash}");
    let (adj, notes) = loads("yahoo_split.csv", &["--adjust"]);
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(adj["data"]["adjust"]["used"], true);
    let worst = equity_steps(&adj).into_iter().fold(0.0, f64::min);
    assert!(
        worst > -0.02,
        "buy & hold over the split is continuous: {worst}"
    );
}

#[test]
fn dialects_adjust_without_adj_close_names_columns() {
    assert_eq!(
        refused("semicolon.csv", &["--adjust"]),
        format!(
            "{}: --adjust needs an `Adj Close` column (found: Date,Open,High,Low,Close,\
             Volume); name it with --columns adj_close=NAME",
            fixture("semicolon.csv")
        )
    );
}

#[test]
fn dialects_yfinance_three_line_header() {
    let (v, notes) = loads("yfinance.csv", &[]);
    let (plain, _) = loads("tab.csv", &[]);
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(v["data"]["header"], "yfinance");
    assert_eq!(v["data"]["columns"]["time"], "Date");
    assert_eq!(v["stats"], plain["stats"]);
}

#[test]
fn dialects_unsorted_rows_load_with_sort_but_duplicates_do_not() {
    let path = fixture("unsorted.csv");
    assert_eq!(
        refused("unsorted.csv", &[]),
        format!(
            "{path}: line 3, column `Date`: value `2023-02-23T00:00:00`: timestamps must be \
             strictly increasing (earlier than the previous row) (--sort loads rows in any \
             order; duplicate timestamps are still refused)"
        )
    );
    let (v, notes) = loads("unsorted.csv", &["--sort"]);
    assert_eq!(
        v["data"]["sort"],
        serde_json::json!({"asked": true, "reordered": true})
    );
    assert_eq!(
        notes,
        [format!(
            "note: {path}: --sort: the rows were not in time order; sorted"
        )]
    );
    assert_eq!(
        refused("unsorted_duplicate.csv", &["--sort"]),
        format!(
            "{}: line 5, column `Date`: value `2023-01-03T00:00:00`: timestamps must be \
             strictly increasing (duplicate of the previous row)",
            fixture("unsorted_duplicate.csv")
        )
    );
}

#[test]
fn dialects_us_dates_need_a_date_format() {
    let path = fixture("us_dates.csv");
    assert_eq!(
        refused("us_dates.csv", &[]),
        format!(
            "{path}: line 2, column `Date`: value `01/02/2023`: expected an ISO 8601 \
             date/datetime or epoch seconds/ms/µs/ns (dates in other formats load with \
             --date-format, e.g. --date-format %m/%d/%Y)"
        )
    );
    assert_eq!(
        refused("us_dates.csv", &["--date-format", "%d/%m/%Y"]),
        format!(
            "{path}: line 11, column `Date`: value `01/13/2023`: expected a date in \
             --date-format `%d/%m/%Y`"
        )
    );
    let (v, _) = loads("us_dates.csv", &["--date-format", "%m/%d/%Y"]);
    let (plain, _) = loads("tab.csv", &[]);
    assert_eq!(v["data"]["time"], "date_format");
    assert_eq!(v["data"]["date_format"], "%m/%d/%Y");
    assert_eq!(v["equity"], plain["equity"]);
}

#[test]
fn dialects_close_only_states_its_limits() {
    let (v, notes) = loads("close_only.csv", &[]);
    assert_eq!(v["data"]["close_only"], true);
    assert_eq!(
        notes,
        [format!(
            "note: {}: close only (no Open, High or Low column): every bar is Open = High = \
             Low = Close, so stops and limits trigger on closes only, a next-open fill is at \
             that bar's close, and ranges (ATR, Donchian, Stochastic) are zero",
            fixture("close_only.csv")
        )]
    );
}

#[test]
fn dialects_columns_map_other_names() {
    let path = fixture("columns.csv");
    assert_eq!(
        refused("columns.csv", &[]),
        format!(
            "{path}: line 1: missing required column `Open` (found: Trade Date,First,Max,Min,\
             Last,Shares); name it with --columns open=NAME"
        )
    );
    let map = "time=Trade Date,open=First,high=Max,low=Min,close=Last,volume=Shares";
    let (v, _) = loads("columns.csv", &["--columns", map]);
    let (plain, _) = loads("tab.csv", &[]);
    assert_eq!(v["data"]["columns"]["close"], "Last");
    assert_eq!(v["stats"], plain["stats"]);
    assert_eq!(
        refused("columns.csv", &["--columns", "close=Nope"]),
        format!(
            "--columns `close=Nope`: no column `Nope` in {path} (found: Trade Date,First,Max,\
             Min,Last,Shares)"
        )
    );
}

#[test]
fn dialects_a_file_that_loaded_before_reads_the_same() {
    // No notices, and `data` says what the strict reader always did.
    let out = backtide()
        .args([
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stderr.is_empty());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["data"]["format"], "sample");
}

#[test]
fn dialects_readme_commands_run_verbatim() {
    let root = testdata("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let commands: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("backtide run --data testdata/dialects/"))
        .collect();
    assert_eq!(commands.len(), 4, "{commands:?}");
    for c in commands {
        let words: Vec<&str> = c.split_whitespace().collect();
        let out = backtide()
            .current_dir(&root)
            .args(&words[1..])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{c}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
