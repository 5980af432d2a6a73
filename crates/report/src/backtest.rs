//! The backtest report's data, written straight into the page as JSON text: per-bar series
//! and the trade table are columns of numbers formatted into one buffer, never a
//! `serde_json::Value` per bar or per trade.
//!
//! What a large run keeps (see README, "Reports"):
//! - **Chart points.** Up to [`FULL_DETAIL_BARS`] bars every bar (candles). Beyond, one pass
//!   over the bars cuts them into [`DISPLAY_BUCKETS`] buckets, each keeping the bars of its
//!   lowest and highest close, highest high, lowest low, lowest and highest equity and
//!   deepest drawdown, plus the entry and exit bars of the trades drawn as markers.
//! - **Markers.** Every trade up to [`MAX_CHART_TRADES`]; beyond, the half with the largest
//!   |PnL| and an even sample (by closing order) of the others, so the chart has at most
//!   `2 × MAX_CHART_TRADES` trade markers plus those of [`MAX_CHART_OPEN`] open trades;
//!   SL/TP levels are drawn for the marked trades.
//! - **Trade table.** Every closed trade, as columns: times as whole seconds (milliseconds
//!   when a trade's bar has a fraction of a second), each entry as the change from the
//!   previous trade's entry and each exit as the time since its entry; size and prices
//!   exactly (shortest text that reads back bit for bit: they are what a user compares
//!   with `--json` or `--trades-csv`); PnL and return % rounded to what the table shows
//!   (four decimals, four significant digits below 1e-4).
//! - **Numbers on the charts** keep 8 significant digits of the series' largest value
//!   (drawdown: 5), as fixed decimals for the whole series; buy-and-hold is the drawn close
//!   times one scale.

use backtide_core::{Bars, ClosedTrade, RunResult};
use chrono::Datelike;
use serde_json::{Map, Value, json};

use crate::json::{self as j, key};
use crate::{page_close, page_open, round};

/// Up to this many bars a report carries every bar and draws candles; beyond, it draws
/// the downsampled close as a line.
pub const FULL_DETAIL_BARS: usize = 10_000;
/// Buckets of the downsampling beyond [`FULL_DETAIL_BARS`].
pub const DISPLAY_BUCKETS: usize = 4_000;
/// Most closed trades drawn as markers on the price chart (the table lists them all).
pub const MAX_CHART_TRADES: usize = 1_000;
/// Most open trades drawn as entry markers.
pub const MAX_CHART_OPEN: usize = 100;
/// Warnings listed (the report says how many there were).
const MAX_WARNINGS: usize = 200;
/// Significant digits of the drawn price, equity and position (of each series' largest
/// value); drawdown % keeps [`DD_DIGITS`].
const SERIES_DIGITS: i32 = 8;
const DD_DIGITS: i32 = 5;

/// What a backtest report shows.
pub struct BacktestReport<'a> {
    /// Heading.
    pub title: &'a str,
    /// The bars it ran on.
    pub bars: &'a Bars,
    /// Its result.
    pub run: &'a RunResult,
    /// Statistics as in `backtide run --json` (either dialect).
    pub stats: &'a Map<String, Value>,
    /// Starting cash (buy-and-hold starts with it too).
    pub cash: f64,
    /// A benchmark drawn instead of buy-and-hold, with its statistics, if the run has one.
    pub benchmark: Option<ReportBenchmark<'a>>,
}

/// A benchmark in a backtest report.
pub struct ReportBenchmark<'a> {
    /// What the user named (file or `sample:NAME`).
    pub name: &'a str,
    /// Its close on each bar (aligned as the statistics use it).
    pub close: &'a [f64],
    /// The run's statistics against it.
    pub stats: &'a backtide_core::stats::BenchmarkStats,
}

pub(crate) fn secs(t: i64) -> i64 {
    t.div_euclid(1_000_000_000)
}

/// Year and month (1-12) of a time, `(0, 0)` outside chrono's range.
fn year_month(t: i64) -> (i32, u32) {
    chrono::DateTime::from_timestamp(secs(t), 0).map_or((0, 0), |d| (d.year(), d.month()))
}

/// First nanosecond of the month after `(year, month)`; `i64::MAX` when out of range.
fn next_month_start(year: i32, month: u32) -> i64 {
    let (y, m) = if month >= 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    chrono::NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(i64::MAX, |d| {
            d.and_utc().timestamp().saturating_mul(1_000_000_000)
        })
}

/// Month-by-month returns of the equity at the bars' times: `[year, month (1-12), return]`.
/// Times increase, so each month's end is found by binary search: the work is per month,
/// not per bar.
pub(crate) fn monthly(time: &[i64], equity: &[f64]) -> Vec<Value> {
    let n = time.len().min(equity.len());
    let mut out = Vec::new();
    if n == 0 {
        return out;
    }
    let mut start = equity[0];
    let mut i = 0;
    loop {
        let (y, m) = year_month(time[i]);
        let next = if (y, m) == (0, 0) {
            i64::MAX
        } else {
            next_month_start(y, m)
        };
        let end = i + time[i..n].partition_point(|&t| t < next).max(1);
        let last = equity[end - 1];
        out.push(json!([y, m, round(last / start - 1.0, 5)]));
        if end >= n {
            return out;
        }
        start = last;
        i = end;
    }
}

/// `len` indices spread evenly over `0..total` (all of them when `total <= len`).
fn even_sample(total: usize, len: usize) -> Vec<usize> {
    if total <= len {
        return (0..total).collect();
    }
    (0..len).map(|s| s * total / len).collect()
}

/// The closed trades drawn as markers, in closing order: all up to [`MAX_CHART_TRADES`];
/// beyond, the half with the largest |PnL| (ties: the earlier) and an even sample of the
/// others.
pub(crate) fn chart_trades(trades: &[ClosedTrade]) -> Vec<usize> {
    let m = trades.len();
    if m <= MAX_CHART_TRADES {
        return (0..m).collect();
    }
    let big = MAX_CHART_TRADES / 2;
    let size = |k: usize| {
        let p = trades[k].pnl().abs();
        if p.is_nan() { -1.0 } else { p }
    };
    let mut order: Vec<usize> = (0..m).collect();
    order.select_nth_unstable_by(big, |&a, &b| size(b).total_cmp(&size(a)).then(a.cmp(&b)));
    let mut chosen = vec![false; m];
    for &k in &order[..big] {
        chosen[k] = true;
    }
    let rest: Vec<usize> = (0..m).filter(|&k| !chosen[k]).collect();
    for s in even_sample(rest.len(), MAX_CHART_TRADES - big) {
        chosen[rest[s]] = true;
    }
    (0..m).filter(|&k| chosen[k]).collect()
}

/// Indices of the lowest and highest value of `s` (the first of equals; NaN never chosen
/// unless all are NaN, then the first), offset by `at`. The extremes are found in four
/// lanes (SIMD), then their first positions.
fn low_high(s: &[f64], at: usize) -> (usize, usize) {
    let (mut lo, mut hi) = ([f64::INFINITY; 4], [f64::NEG_INFINITY; 4]);
    let chunks = s.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..4 {
            lo[k] = if c[k] < lo[k] { c[k] } else { lo[k] };
            hi[k] = if c[k] > hi[k] { c[k] } else { hi[k] };
        }
    }
    let (mut l, mut h) = (f64::INFINITY, f64::NEG_INFINITY);
    for &v in lo.iter().chain(rest) {
        l = if v < l { v } else { l };
    }
    for &v in hi.iter().chain(rest) {
        h = if v > h { v } else { h };
    }
    // The first position of each, eight at a time (a branch-free test of eight values).
    let first = |x: f64| {
        for (k, c) in s.chunks(8).enumerate() {
            if c.iter().fold(false, |a, &v| a | (v == x)) {
                return 8 * k + c.iter().position(|&v| v == x).unwrap_or(0);
            }
        }
        0
    };
    (at + first(l), at + first(h))
}

/// The largest of `init` and `s` (NaN ignored, as `f64::max` does), in four lanes.
fn max_from(init: f64, s: &[f64]) -> f64 {
    let mut m = [init; 4];
    let chunks = s.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..4 {
            m[k] = if c[k] > m[k] { c[k] } else { m[k] };
        }
    }
    m.iter().chain(rest).fold(init, |a, &b| a.max(b))
}

/// The drawn points: their bars and what is drawn at them, gathered while each stretch of
/// bars is in cache.
#[derive(Default)]
struct Points {
    bar: Vec<usize>,
    secs: Vec<i64>,
    close: Vec<f64>,
    equity: Vec<f64>,
    /// Drawdown % (negative), as `stats::drawdown` computes it.
    dd: Vec<f64>,
}

/// The series a report draws from.
struct Series<'a> {
    time: &'a [i64],
    close: &'a [f64],
    high: &'a [f64],
    low: &'a [f64],
    equity: &'a [f64],
}

impl Points {
    /// Adds the bars `idx` (sorted, all at or after `from`), where `peak` is the running
    /// peak of equity before `from`; returns the peak through the last of them.
    fn gather(&mut self, s: &Series<'_>, idx: &[usize], from: usize, mut peak: f64) -> f64 {
        let mut next = from;
        for &i in idx {
            peak = max_from(peak, &s.equity[next..=i]);
            next = i + 1;
            self.bar.push(i);
            self.secs.push(secs(s.time[i]));
            self.close.push(s.close[i]);
            self.equity.push(s.equity[i]);
            self.dd.push(-(1.0 - s.equity[i] / peak) * 100.0);
        }
        peak
    }

    /// Chart times are whole seconds and must increase: keeps the first bar of each second.
    fn dedup_seconds(&mut self) {
        let mut w = 0;
        for r in 0..self.bar.len() {
            if w > 0 && self.secs[r] == self.secs[w - 1] {
                continue;
            }
            self.bar[w] = self.bar[r];
            self.secs[w] = self.secs[r];
            self.close[w] = self.close[r];
            self.equity[w] = self.equity[r];
            self.dd[w] = self.dd[r];
            w += 1;
        }
        self.bar.truncate(w);
        self.secs.truncate(w);
        self.close.truncate(w);
        self.equity.truncate(w);
        self.dd.truncate(w);
    }
}

/// Every bar, up to [`FULL_DETAIL_BARS`].
fn every_point(s: &Series<'_>) -> Points {
    let idx: Vec<usize> = (0..s.close.len()).collect();
    let mut p = Points::default();
    p.gather(s, &idx, 0, f64::NEG_INFINITY);
    p.dedup_seconds();
    p
}

/// The bars to draw past [`FULL_DETAIL_BARS`], in one pass over the bars: the first and
/// last, `must` (the drawn trades' bars, sorted), and in each of `buckets` equal buckets the
/// bars of the lowest and highest close, highest high, lowest low, lowest and highest
/// equity and deepest drawdown; each bucket's points are gathered while it is in cache. At
/// most `7 × buckets + must.len() + 2` points.
fn display_points(s: &Series<'_>, buckets: usize, must: &[usize]) -> Points {
    let n = s.close.len();
    let mut p = Points::default();
    if n == 0 {
        return p;
    }
    let buckets = buckets.clamp(1, n);
    let (equity, mut m) = (s.equity, 0);
    let mut peak = f64::NEG_INFINITY;
    let mut local = Vec::new();
    for b in 0..buckets {
        let (lo, hi) = (b * n / buckets, (b + 1) * n / buckets);
        if lo >= hi {
            continue;
        }
        let (cmin, cmax) = low_high(&s.close[lo..hi], lo);
        let (_, hmax) = low_high(&s.high[lo..hi], lo);
        let (lmin, _) = low_high(&s.low[lo..hi], lo);
        let (emin, emax) = low_high(&equity[lo..hi], lo);
        // Deepest drawdown: the least equity / running peak. Without a new peak in the
        // bucket that is the least equity; otherwise walk it (compared without dividing:
        // e/p < e'/p' ⇔ e·p' < e'·p for positive peaks).
        let start = peak;
        let dmax = if equity[emax] <= peak && peak > 0.0 {
            emin
        } else {
            let (mut best_e, mut best_p, mut at) = (f64::NAN, 1.0, lo);
            for (i, &e) in equity[lo..hi].iter().enumerate() {
                peak = peak.max(e);
                if e * best_p < best_e * peak || best_e.is_nan() {
                    (best_e, best_p, at) = (e, peak, lo + i);
                }
            }
            at
        };
        local.clear();
        local.extend([cmin, cmax, hmax, lmin, emin, emax, dmax]);
        if b == 0 {
            local.push(0);
        }
        if b + 1 == buckets {
            local.push(n - 1);
        }
        while m < must.len() && must[m] < hi {
            if must[m] >= lo {
                local.push(must[m]);
            }
            m += 1;
        }
        local.sort_unstable();
        local.dedup();
        p.gather(s, &local, lo, start);
    }
    p.dedup_seconds();
    p
}

/// Position held at the close of each kept bar (long positive), from the trades: each
/// entry and exit is added at the first kept bar at or after it, then summed along.
fn positions_at(run: &RunResult, keep: &[usize]) -> Vec<f64> {
    let mut diff = vec![0.0; keep.len() + 1];
    let mut add = |bar: usize, size: f64| diff[keep.partition_point(|&i| i < bar)] += size;
    for t in &run.trades {
        add(t.entry_bar, t.size);
        add(t.exit_bar, -t.size);
    }
    for t in &run.open_trades {
        add(t.entry_bar, t.size);
    }
    let mut acc = 0.0;
    diff[..keep.len()]
        .iter()
        .map(|d| {
            acc += d;
            if acc.abs() < 1e-12 { 0.0 } else { acc }
        })
        .collect()
}

/// Every closed trade as columns (see the module's documentation).
fn trade_table(out: &mut Vec<u8>, bars: &Bars, trades: &[ClosedTrade]) {
    let time = bars.time();
    let at = |bar: usize| time.get(bar).copied().unwrap_or(0);
    let whole = trades
        .iter()
        .all(|t| at(t.entry_bar) % 1_000_000_000 == 0 && at(t.exit_bar) % 1_000_000_000 == 0);
    let unit: i64 = if whole { 1_000_000_000 } else { 1_000_000 };
    let tu = |bar: usize| at(bar).div_euclid(unit);
    out.push(b'{');
    key(out, "unit_ms");
    j::int(out, unit / 1_000_000);
    key(out, "entry_t");
    let mut prev = 0;
    j::array(out, trades, |o, t| {
        let e = tu(t.entry_bar);
        j::int(o, e - prev);
        prev = e;
    });
    key(out, "exit_t");
    j::array(out, trades, |o, t| {
        j::int(o, tu(t.exit_bar) - tu(t.entry_bar))
    });
    key(out, "bars");
    j::array(out, trades, |o, t| {
        j::int(o, t.exit_bar as i64 - t.entry_bar as i64);
    });
    key(out, "size");
    j::array(out, trades, |o, t| j::exact(o, t.size));
    key(out, "entry_px");
    j::array(out, trades, |o, t| j::exact(o, t.entry_price));
    key(out, "exit_px");
    j::array(out, trades, |o, t| j::exact(o, t.exit_price));
    key(out, "pnl");
    j::array(out, trades, |o, t| j::shown(o, t.pnl()));
    key(out, "ret");
    j::array(out, trades, |o, t| j::shown(o, t.return_frac() * 100.0));
    out.push(b'}');
}

/// The report as one HTML document.
pub fn backtest_html(r: &BacktestReport<'_>) -> String {
    let (bars, run) = (r.bars, r.run);
    let n = bars.len().min(run.equity.len());
    let time = &bars.time()[..n];
    let close = &bars.close()[..n];
    let equity = &run.equity[..n];
    let drawn_trades = chart_trades(&run.trades);
    let drawn_open = even_sample(run.open_trades.len(), MAX_CHART_OPEN);
    let mut must: Vec<usize> = drawn_trades
        .iter()
        .flat_map(|&k| [run.trades[k].entry_bar, run.trades[k].exit_bar])
        .chain(drawn_open.iter().map(|&k| run.open_trades[k].entry_bar))
        .collect();
    must.sort_unstable();
    let full = n <= FULL_DETAIL_BARS;
    let series = Series {
        time,
        close,
        high: &bars.high()[..n],
        low: &bars.low()[..n],
        equity,
    };
    let points = if full {
        every_point(&series)
    } else {
        display_points(&series, DISPLAY_BUCKETS, &must)
    };
    let keep = &points.bar;
    // Each marker goes on the drawn point at or before its bar.
    let drawn = |bar: usize| -> i64 {
        let k = keep.partition_point(|&i| i <= bar).saturating_sub(1);
        points.secs.get(k).copied().unwrap_or(0)
    };
    let pick = |s: &[f64]| -> Vec<f64> { keep.iter().map(|&i| s[i]).collect() };

    let mut out = page_open(r.title, "backtest", 64 * keep.len() + 64 * run.trades.len());
    out.push(b'{');
    key(&mut out, "bars");
    j::int(&mut out, n as i64);
    key(&mut out, "full");
    out.extend_from_slice(if full { b"true" } else { b"false" });
    for (name, t) in [("from", time.first()), ("to", time.last())] {
        key(&mut out, name);
        match t {
            Some(&t) => j::string(&mut out, &backtide_data::format_timestamp(t)),
            None => out.extend_from_slice(b"null"),
        }
    }
    // Times: the first drawn point's second, then each point's step from the one before.
    key(&mut out, "dt");
    let mut prev = 0;
    j::array(&mut out, &points.secs, |o, &t| {
        j::int(o, t - prev);
        prev = t;
    });
    if full {
        for (name, s) in [("o", bars.open()), ("h", bars.high()), ("l", bars.low())] {
            key(&mut out, name);
            j::series(&mut out, &pick(&s[..n]), SERIES_DIGITS);
        }
    }
    key(&mut out, "c");
    j::series(&mut out, &points.close, SERIES_DIGITS);
    key(&mut out, "equity");
    j::series(&mut out, &points.equity, SERIES_DIGITS);
    // Buy-and-hold starts with the cash in the first close: the drawn close times this.
    key(&mut out, "hold_scale");
    j::exact(
        &mut out,
        r.cash / close.first().copied().unwrap_or(f64::NAN),
    );
    if let Some(b) = &r.benchmark {
        // The benchmark starts with the cash too, at its close on the first bar.
        let scale = r.cash / b.close.first().copied().unwrap_or(f64::NAN);
        let drawn: Vec<f64> = keep.iter().map(|&i| b.close[i] * scale).collect();
        key(&mut out, "bench");
        j::series(&mut out, &drawn, SERIES_DIGITS);
        key(&mut out, "bench_name");
        j::string(&mut out, b.name);
        key(&mut out, "bench_stats");
        out.push(b'[');
        for (i, (_, label, v)) in b.stats.entries().into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'[');
            j::string(&mut out, label);
            out.push(b',');
            j::exact(&mut out, v);
            out.push(b']');
        }
        out.push(b']');
    }
    key(&mut out, "dd");
    j::series(&mut out, &points.dd, DD_DIGITS);
    key(&mut out, "pos");
    j::series(&mut out, &positions_at(run, keep), SERIES_DIGITS);

    key(&mut out, "markers");
    out.push(b'[');
    let mut levels = vec![b'['];
    let marker = |o: &mut Vec<u8>, t: i64, kind: &[u8], px: f64, extra: f64| {
        if o.last() != Some(&b'[') {
            o.push(b',');
        }
        o.push(b'[');
        j::int(o, t);
        o.extend_from_slice(b",\"");
        o.extend_from_slice(kind);
        o.extend_from_slice(b"\",");
        j::exact(o, px);
        o.push(b',');
        j::exact(o, extra);
        o.push(b']');
    };
    let mut level = |kind: &[u8], t0: i64, t1: i64, v: Option<f64>| {
        if let Some(v) = v {
            if levels.last() != Some(&b'[') {
                levels.push(b',');
            }
            levels.extend_from_slice(b"[\"");
            levels.extend_from_slice(kind);
            levels.extend_from_slice(b"\",");
            j::int(&mut levels, t0);
            levels.push(b',');
            j::int(&mut levels, t1);
            levels.push(b',');
            j::exact(&mut levels, v);
            levels.push(b']');
        }
    };
    for &k in &drawn_trades {
        let t = &run.trades[k];
        let side = if t.size > 0.0 { b"L" } else { b"S" };
        let (t0, t1) = (drawn(t.entry_bar), drawn(t.exit_bar));
        marker(&mut out, t0, side, t.entry_price, t.size);
        marker(&mut out, t1, b"X", t.exit_price, t.pnl());
        level(b"sl", t0, t1, t.sl);
        level(b"tp", t0, t1, t.tp);
    }
    for &k in &drawn_open {
        let t = &run.open_trades[k];
        let side = if t.size > 0.0 { b"L" } else { b"S" };
        let t0 = drawn(t.entry_bar);
        marker(&mut out, t0, side, t.entry_price, t.size);
        level(b"sl", t0, drawn(n.saturating_sub(1)), t.sl);
        level(b"tp", t0, drawn(n.saturating_sub(1)), t.tp);
    }
    out.push(b']');
    levels.push(b']');
    key(&mut out, "levels");
    out.extend_from_slice(&levels);
    key(&mut out, "chart_trades");
    j::int(&mut out, drawn_trades.len() as i64);
    key(&mut out, "chart_open");
    j::int(&mut out, drawn_open.len() as i64);
    key(&mut out, "open_total");
    j::int(&mut out, run.open_trades.len() as i64);

    key(&mut out, "stats");
    j::object(&mut out, r.stats);
    key(&mut out, "labels");
    j::value(&mut out, &crate::labels::labels_of(r.stats));
    key(&mut out, "trades");
    trade_table(&mut out, bars, &run.trades);
    key(&mut out, "trades_total");
    j::int(&mut out, run.trades.len() as i64);
    key(&mut out, "monthly");
    j::value(&mut out, &Value::Array(monthly(time, equity)));
    key(&mut out, "warnings");
    j::strings(
        &mut out,
        &run.warnings[..run.warnings.len().min(MAX_WARNINGS)],
    );
    key(&mut out, "warnings_total");
    j::int(&mut out, run.warnings.len() as i64);
    out.push(b'}');
    page_close(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtide_core::{BrokerConfig, Params, run, strategy::builtin};

    fn goog() -> (Bars, RunResult) {
        let bars = backtide_data::sample("GOOG").unwrap();
        let info = builtin::find("sma_cross").unwrap();
        let params = Params::from_pairs(info.params, [("fast", "10"), ("slow", "20")]).unwrap();
        let cfg = BrokerConfig::default();
        let r = run(&bars, info.build(&params).unwrap().as_mut(), &cfg).unwrap();
        (bars, r)
    }

    fn data_of(html: &str) -> Value {
        let tag = "type=\"application/json\">";
        let start = html.find(tag).unwrap() + tag.len();
        let end = start + html[start..].find("</script>").unwrap();
        serde_json::from_str(&html[start..end].replace("<\\/", "</")).unwrap()
    }

    /// The drawn points' times (seconds), from the first and the steps.
    fn times(d: &Value) -> Vec<i64> {
        let mut t = 0;
        d["dt"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                t += v.as_i64().unwrap();
                t
            })
            .collect()
    }

    #[test]
    fn small_reports_carry_every_bar_and_every_trade() {
        let (bars, r) = goog();
        let stats = Map::new();
        let html = backtest_html(&BacktestReport {
            title: "t",
            bars: &bars,
            run: &r,
            stats: &stats,
            cash: 10_000.0,
            benchmark: None,
        });
        let d = data_of(&html);
        assert_eq!(times(&d).len(), bars.len());
        assert!(d["full"].as_bool().unwrap());
        let markers = d["markers"].as_array().unwrap();
        assert_eq!(markers.len(), 2 * r.trades.len() + r.open_trades.len());
        assert_eq!(
            d["trades"]["size"].as_array().unwrap().len(),
            r.trades.len()
        );
        // Candles carry the CSV's prices exactly.
        assert_eq!(d["o"][5].as_f64().unwrap(), bars.open()[5]);
        // Position is the open trades' size sum: flat before the first entry.
        assert_eq!(d["pos"][0], json!(0));
    }

    /// A benchmark replaces buy-and-hold as the comparison line, starting from the cash,
    /// and its statistics come with their labels.
    #[test]
    fn a_benchmark_is_drawn_from_the_same_cash_with_its_statistics() {
        let (bars, r) = goog();
        let stats = Map::new();
        // The asset doubled: the line is the close times cash / first close, doubled.
        let close: Vec<f64> = bars.close().iter().map(|c| 2.0 * c).collect();
        let aligned =
            backtide_core::stats::AlignedBenchmark::align(bars.time(), &close, bars.time())
                .unwrap();
        let bs = backtide_core::stats::BenchmarkStats::compute(
            bars.time(),
            &r.equity,
            r.warmup,
            &aligned,
        );
        let html = backtest_html(&BacktestReport {
            title: "t",
            bars: &bars,
            run: &r,
            stats: &stats,
            cash: 10_000.0,
            benchmark: Some(ReportBenchmark {
                name: "index.csv",
                close: aligned.close(),
                stats: &bs,
            }),
        });
        let d = data_of(&html);
        let bench = d["bench"].as_array().unwrap();
        assert_eq!(bench.len(), bars.len());
        assert_eq!(bench[0].as_f64().unwrap(), 10_000.0);
        let last = 10_000.0 * bars.close()[bars.len() - 1] / bars.close()[0];
        assert!((bench[bars.len() - 1].as_f64().unwrap() - last).abs() < 1e-3 * last);
        assert_eq!(d["bench_name"], "index.csv");
        let rows = d["bench_stats"].as_array().unwrap();
        assert_eq!(rows.len(), 7);
        assert_eq!(rows[2][0], "Beta vs Benchmark");
        assert!((rows[2][1].as_f64().unwrap() - bs.beta).abs() < 1e-12);
    }

    /// `n` minute bars of a seeded random walk.
    fn walk(n: usize) -> Bars {
        let mut x: u64 = 42;
        let mut price = 100.0f64;
        let mut close = Vec::with_capacity(n);
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            price *= 1.0 + 0.002 * ((x % 2001) as f64 / 1000.0 - 1.0);
            close.push(price);
        }
        let open: Vec<f64> = std::iter::once(close[0])
            .chain(close[..n - 1].iter().copied())
            .collect();
        let high: Vec<f64> = open
            .iter()
            .zip(&close)
            .map(|(o, c)| o.max(*c) * 1.001)
            .collect();
        let low: Vec<f64> = open
            .iter()
            .zip(&close)
            .map(|(o, c)| o.min(*c) * 0.999)
            .collect();
        let time: Vec<i64> = (0..n as i64)
            .map(|i| 1_600_000_000_000_000_000 + i * 60_000_000_000)
            .collect();
        Bars::try_new(time, open, high, low, close, vec![f64::NAN; n]).unwrap()
    }

    fn sma_cross(bars: &Bars, fast: &str, slow: &str) -> RunResult {
        let info = builtin::find("sma_cross").unwrap();
        let params = Params::from_pairs(info.params, [("fast", fast), ("slow", slow)]).unwrap();
        let cfg = BrokerConfig::default();
        run(bars, info.build(&params).unwrap().as_mut(), &cfg).unwrap()
    }

    #[test]
    fn a_million_bar_report_stays_under_five_megabytes_with_every_trade() {
        let n = 1_000_000;
        let bars = walk(n);
        let r = sma_cross(&bars, "200", "900");
        assert!(r.trades.len() > 500, "{}", r.trades.len());
        let stats = Map::new();
        let html = backtest_html(&BacktestReport {
            title: "1M",
            bars: &bars,
            run: &r,
            stats: &stats,
            cash: 10_000.0,
            benchmark: None,
        });
        assert!(html.len() <= 5 * 1024 * 1024, "{} bytes", html.len());
        let d = data_of(&html);
        assert!(!d["full"].as_bool().unwrap());
        let t = times(&d);
        assert!(
            t.len() <= 7 * DISPLAY_BUCKETS + 2 * r.trades.len().min(MAX_CHART_TRADES) + 2,
            "{}",
            t.len()
        );
        assert!(t.windows(2).all(|w| w[0] < w[1]));
        // Every drawn trade's entry and exit bar is a drawn point.
        let drawn: std::collections::HashSet<i64> = t.iter().copied().collect();
        for tr in chart_trades(&r.trades).into_iter().map(|k| &r.trades[k]) {
            assert!(drawn.contains(&secs(bars.time()[tr.entry_bar])));
            assert!(drawn.contains(&secs(bars.time()[tr.exit_bar])));
        }
        // The series' extremes survive.
        let closes: Vec<f64> = d["c"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let max = bars.close().iter().copied().fold(f64::MIN, f64::max);
        let drawn_max = closes.iter().copied().fold(f64::MIN, f64::max);
        assert!(
            (drawn_max - max).abs() <= 1e-7 * max,
            "{drawn_max} vs {max}"
        );
    }

    /// Bytes a report may take: the page without data (chart library, renderer, style,
    /// statistics), plus per drawn point (its time step, close, equity, drawdown and
    /// position), per marker (with its SL/TP levels) and per listed trade (eight numbers,
    /// prices up to 17 digits). The README's figure for a million bars follows from it.
    fn size_bound(points: usize, markers: usize, trades: usize) -> usize {
        let page = crate::CHARTS_JS.len() + crate::REPORT_JS.len() + 64 * 1024;
        page + 48 * points + 96 * markers + 80 * trades
    }

    #[test]
    fn a_large_run_keeps_every_trade_in_the_table_and_thins_the_chart() {
        let bars = walk(200_000);
        let r = sma_cross(&bars, "4", "12");
        let m = r.trades.len();
        assert!((15_000..25_000).contains(&m), "{m} trades");
        let stats = Map::new();
        let html = backtest_html(&BacktestReport {
            title: "200k",
            bars: &bars,
            run: &r,
            stats: &stats,
            cash: 10_000.0,
            benchmark: None,
        });
        let d = data_of(&html);
        let points = times(&d).len();
        let markers = d["markers"].as_array().unwrap().len();
        // The chart: bounded points and markers, whatever the number of trades.
        assert!(
            points <= 7 * DISPLAY_BUCKETS + 2 * MAX_CHART_TRADES + 2,
            "{points}"
        );
        assert_eq!(markers, 2 * MAX_CHART_TRADES + r.open_trades.len());
        assert_eq!(d["chart_trades"], json!(MAX_CHART_TRADES));
        // The size: what the promise allows for these counts, and for a million bars with
        // 20,000 trades (the most points any run draws) under 5 MB.
        let bound = size_bound(points, markers, m);
        assert!(html.len() <= bound, "{} > {bound} bytes", html.len());
        let worst = size_bound(
            7 * DISPLAY_BUCKETS + 2 * MAX_CHART_TRADES + 2,
            2 * MAX_CHART_TRADES + MAX_CHART_OPEN,
            20_000,
        );
        assert!(worst <= 5 * 1024 * 1024, "{worst}");
        // The largest |PnL| is marked.
        let biggest = (0..m)
            .max_by(|&a, &b| r.trades[a].pnl().abs().total_cmp(&r.trades[b].pnl().abs()))
            .unwrap();
        assert!(chart_trades(&r.trades).contains(&biggest));

        // The table: every trade, its times and bars from the columns, size and prices
        // exactly, PnL and return % to the four decimals the table shows.
        let t = &d["trades"];
        let col = |k: &str| -> Vec<f64> {
            t[k].as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        };
        let (size, entry_px, exit_px, pnl, ret, held) = (
            col("size"),
            col("entry_px"),
            col("exit_px"),
            col("pnl"),
            col("ret"),
            col("bars"),
        );
        assert_eq!(d["trades_total"], json!(m));
        for c in [&size, &entry_px, &exit_px, &pnl, &ret, &held] {
            assert_eq!(c.len(), m);
        }
        assert_eq!(t["unit_ms"], json!(1000));
        let (mut entry, entry_t, exit_t) = (0, col("entry_t"), col("exit_t"));
        for (k, tr) in r.trades.iter().enumerate() {
            entry += entry_t[k] as i64;
            assert_eq!(entry, secs(bars.time()[tr.entry_bar]), "trade {k}");
            assert_eq!(entry + exit_t[k] as i64, secs(bars.time()[tr.exit_bar]));
            assert_eq!(held[k] as usize, tr.exit_bar - tr.entry_bar);
            assert_eq!(size[k], tr.size);
            assert_eq!(entry_px[k], tr.entry_price);
            assert_eq!(exit_px[k], tr.exit_price);
            assert!(
                (pnl[k] - tr.pnl()).abs() <= 0.5e-4 + 1e-12,
                "{} {}",
                pnl[k],
                tr.pnl()
            );
            let r100 = tr.return_frac() * 100.0;
            let tol = if r100.abs() < 1e-4 {
                1e-7
            } else {
                0.5e-4 + 1e-12
            };
            assert!((ret[k] - r100).abs() <= tol, "{} {r100}", ret[k]);
        }
    }

    #[test]
    fn trade_times_with_fractions_of_a_second_are_kept_in_milliseconds() {
        let goog = backtide_data::sample("GOOG").unwrap();
        let time: Vec<i64> = goog.time().iter().map(|t| t + 250_000_000).collect();
        let bars = Bars::try_new(
            time,
            goog.open().to_vec(),
            goog.high().to_vec(),
            goog.low().to_vec(),
            goog.close().to_vec(),
            goog.volume().to_vec(),
        )
        .unwrap();
        let r = sma_cross(&bars, "10", "20");
        let stats = Map::new();
        let d = data_of(&backtest_html(&BacktestReport {
            title: "t",
            bars: &bars,
            run: &r,
            stats: &stats,
            cash: 10_000.0,
            benchmark: None,
        }));
        let t = &d["trades"];
        assert_eq!(t["unit_ms"], json!(1));
        let tr = &r.trades[1];
        let entry = t["entry_t"][0].as_i64().unwrap() + t["entry_t"][1].as_i64().unwrap();
        assert_eq!(entry, bars.time()[tr.entry_bar] / 1_000_000);
        assert_eq!(
            entry + t["exit_t"][1].as_i64().unwrap(),
            bars.time()[tr.exit_bar] / 1_000_000
        );
    }

    #[test]
    fn monthly_returns_compound_to_the_total() {
        let (bars, r) = goog();
        let m = monthly(bars.time(), &r.equity);
        let total: f64 = m
            .iter()
            .map(|v| 1.0 + v[2].as_f64().unwrap())
            .product::<f64>()
            - 1.0;
        let expected = r.equity.last().unwrap() / r.equity[0] - 1.0;
        assert!(
            (total - expected).abs() < 1e-3 * (1.0 + expected.abs()),
            "{total} vs {expected}"
        );
        assert_eq!(m[0][0], json!(2004));
        assert_eq!(m[0][1], json!(8));
    }
}
