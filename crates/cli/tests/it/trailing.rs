//! Trailing stops (`trail_atr`, `trail_pct`) against backtesting.py 0.6.6's own
//! `TrailingStrategy` (`testdata/golden/trailing/`, made by the script beside the files):
//! identical trades, statistics within 1e-9, equity per bar.

use crate::cli::fails_with;
use crate::golden::goog_case;

fn case(file: &str, params: &[&str]) {
    let (_, ours) = goog_case("trailing", file, "sma_cross", params);
    // The stop did the exiting: most trades end at their trailed stop.
    let stopped = ours["trades"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["sl"].as_f64() == t["exit_price"].as_f64())
        .count();
    assert!(stopped > 20, "{file}: {stopped} stop exits");
}

#[test]
fn a_trailing_stop_in_atrs_matches_backtesting_py() {
    case(
        "bt_goog_longonly_trail_atr3.json",
        &["direction=long_only", "trail_atr=3"],
    );
}

#[test]
fn a_trailing_stop_in_percent_matches_backtesting_py() {
    case(
        "bt_goog_longshort_trail_pct5.json",
        &["direction=long_short", "trail_pct=0.05"],
    );
}

#[test]
fn trail_atr_and_trail_pct_exclude_each_other() {
    fails_with(
        &[
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--param",
            "trail_atr=3",
            "--param",
            "trail_pct=0.05",
        ],
        &["trail_pct", "give trail_atr or trail_pct, not both"],
    );
}
