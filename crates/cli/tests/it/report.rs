//! HTML reports opened in a real browser: headless Chromium through ChromeDriver's
//! WebDriver protocol. Each report must load without console errors, draw every chart
//! (non-blank canvases, the expected series and markers) and fill its tables; a screenshot
//! of each is saved under `target/report-screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (or BACKTIDE_CHROMIUM /
//! BACKTIDE_CHROMEDRIVER). Without them the test says it is skipped, unless
//! BACKTIDE_REQUIRE_BROWSER is set (as `.ci/run` does), where it fails instead.

#![allow(
    clippy::disallowed_methods,
    reason = "deadlines for a browser under test"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

fn tool(env: &str, default: &str) -> Option<PathBuf> {
    let p = std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from);
    p.exists().then_some(p)
}

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::blocking::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start(driver: &Path, chromium: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let until = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().is_err() {
            assert!(Instant::now() < until, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless", "--no-sandbox", "--disable-gpu",
                         "--disable-background-networking", "--window-size=1400,2200",
                         "--hide-scrollbars"],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_string();
        Driver {
            child,
            base,
            session,
            http,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let rq = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url).json(&body.unwrap_or(json!({}))),
        };
        let v: Value = rq.send().unwrap().json().unwrap();
        v["value"].clone()
    }

    fn script(&self, js: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
    }

    /// Opens a report, waits until it says it is drawn, returns what it drew.
    fn open(&self, file: &Path, shot: &Path) -> (Value, Vec<Value>) {
        self.call(
            "POST",
            "/url",
            Some(json!({"url": format!("file://{}", file.display())})),
        );
        let until = Instant::now() + Duration::from_secs(30);
        while self.script("return window.__reportReady === true") != json!(true) {
            assert!(Instant::now() < until, "report never finished drawing");
            std::thread::sleep(Duration::from_millis(50));
        }
        // Let the charts paint, then look at their pixels.
        std::thread::sleep(Duration::from_millis(500));
        let drawn = self.script(
            r#"
            const r = window.__report;
            const charts = r.charts.map((c) => {
              const box = document.querySelector(`[data-chart="${c.name}"]`);
              let inked = 0;
              for (const cv of box.querySelectorAll("canvas")) {
                if (!cv.width || !cv.height) continue;
                const px = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
                for (let i = 0; i < px.length; i += 4 * 7) {
                  if (px[i + 3] > 0 && (px[i] < 235 || px[i + 1] < 235 || px[i + 2] < 235)) inked++;
                }
              }
              return { name: c.name, series: c.series, points: c.points, markers: c.markers, stack: c.stack, inked };
            });
            return { kind: r.kind, charts, tables: r.tables, errors: window.__errors,
                     svgRects: document.querySelectorAll("svg[data-histogram] rect").length };
            "#,
        );
        let logs = self.call("POST", "/se/log", Some(json!({"type": "browser"})));
        let severe: Vec<Value> = logs
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|l| l["level"] == "SEVERE")
            .collect();
        let png = self.call("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        assert!(bytes.starts_with(b"\x89PNG"));
        std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
        std::fs::write(shot, bytes).unwrap();
        (drawn, severe)
    }
}

/// The backtest report's statistics table: (label, value) per row.
fn stat_rows(d: &Driver) -> Vec<(String, String)> {
    let rows = d.script(
        r#"return [...document.querySelectorAll("section.card.side table tr")]
             .map((r) => [...r.cells].map((c) => c.textContent))"#,
    );
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn backtide(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_backtide"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn chart<'a>(drawn: &'a Value, name: &str) -> &'a Value {
    drawn["charts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no chart {name}: {drawn}"))
}

/// Chromium and ChromeDriver, or `None` (after saying the test is skipped) without them.
fn browser(test: &str) -> Option<(PathBuf, PathBuf)> {
    let (Some(chromium), Some(driver)) = (
        tool("BACKTIDE_CHROMIUM", "/usr/bin/chromium"),
        tool("BACKTIDE_CHROMEDRIVER", "/usr/bin/chromedriver"),
    ) else {
        assert!(
            std::env::var_os("BACKTIDE_REQUIRE_BROWSER").is_none(),
            "BACKTIDE_REQUIRE_BROWSER is set but chromium/chromedriver were not found"
        );
        eprintln!(
            "SKIPPED {test}: install Debian's chromium and chromium-driver (or set \
             BACKTIDE_CHROMIUM/BACKTIDE_CHROMEDRIVER)"
        );
        return None;
    };
    Some((chromium, driver))
}

#[test]
fn reports_render_in_headless_chromium() {
    let Some((chromium, driver)) = browser("reports_render_in_headless_chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    let run_html = dir.path().join("goog.html");
    let json = backtide(&[
        "run",
        "--data",
        "sample:GOOG",
        "--strategy",
        "sma_cross",
        "--param",
        "sl_pct=0.05",
        "--commission",
        "0.002",
        "--exclusive-orders",
        "--json",
        "--report",
        run_html.to_str().unwrap(),
    ]);
    let result: Value = serde_json::from_str(&json).unwrap();
    let trades = result["trades"].as_array().unwrap().len();
    let open = result["open_trades"].as_array().unwrap().len();
    let sweep_html = dir.path().join("sweep.html");
    backtide(&[
        "sweep",
        "--data",
        "sample:GOOG",
        "--strategy",
        "sma_cross",
        "--grid",
        "fast=5:50:5",
        "--grid",
        "slow=10:200:10",
        "--constraint",
        "fast < slow",
        "--maximize",
        "sharpe_ratio",
        "--report",
        sweep_html.to_str().unwrap(),
    ]);
    let wf_html = dir.path().join("wf.html");
    backtide(&[
        "sweep",
        "--data",
        "sample:GOOG",
        "--strategy",
        "sma_cross",
        "--grid",
        "fast=5:20:5",
        "--grid",
        "slow=30:60:10",
        "--walk-forward",
        "train=500,test=250",
        "--report",
        wf_html.to_str().unwrap(),
    ]);

    let d = Driver::start(&driver, &chromium);
    let (drawn, severe) = d.open(&run_html, &shots.join("backtest.png"));
    assert!(severe.is_empty(), "console errors: {severe:?}");
    assert_eq!(drawn["errors"], json!([]), "{drawn}");
    for name in ["price", "equity", "drawdown", "position"] {
        let c = chart(&drawn, name);
        assert!(
            c["inked"].as_u64().unwrap() > 100,
            "{name} looks blank: {c}"
        );
        // Every bar is drawn (2,148 bars: no downsampling below 10,000).
        assert!(c["points"].as_u64().unwrap() >= 2148, "{name}: {c}");
    }
    assert_eq!(chart(&drawn, "equity")["points"], 2 * 2148);
    assert_eq!(chart(&drawn, "drawdown")["points"], 2148);
    // Candles plus the SL level line; equity and buy-and-hold.
    assert_eq!(chart(&drawn, "price")["series"], 2);
    assert_eq!(chart(&drawn, "equity")["series"], 2);
    assert_eq!(
        chart(&drawn, "price")["markers"].as_u64().unwrap() as usize,
        2 * trades + open
    );
    assert_eq!(drawn["tables"]["trades"].as_u64().unwrap() as usize, trades);
    assert!(drawn["tables"]["monthly"].as_u64().unwrap() > 90);
    assert!(drawn["tables"]["stats"].as_u64().unwrap() > 25);
    // The statistics carry the CLI table's labels; durations of days print in days.
    let stats = stat_rows(&d);
    for (_, label) in &backtide_report::labels::BACKTESTING_PY {
        assert!(
            stats.iter().any(|(l, _)| l == label),
            "no `{label}`: {stats:?}"
        );
    }
    let cell = |label: &str| stats.iter().find(|(l, _)| l == label).unwrap().1.clone();
    assert_eq!(cell("Duration"), "3116.0 days");
    assert!(cell("Avg. Trade Duration").ends_with(" days"), "{stats:?}");

    // Hourly bars: durations below a day in hours and minutes.
    let hourly = crate::messages::btc_like(dir.path());
    let hourly_html = dir.path().join("hourly.html");
    backtide(&[
        "run",
        "--data",
        &hourly,
        "--strategy",
        "sma_cross",
        "--param",
        "fast=2",
        "--param",
        "slow=5",
        "--fractional-unit",
        "1e-4",
        "--report",
        hourly_html.to_str().unwrap(),
    ]);
    let (drawn, severe) = d.open(&hourly_html, &shots.join("hourly.png"));
    assert!(severe.is_empty(), "console errors: {severe:?}");
    assert_eq!(drawn["errors"], json!([]), "{drawn}");
    let stats = stat_rows(&d);
    let cell = |label: &str| stats.iter().find(|(l, _)| l == label).unwrap().1.clone();
    let short = cell("Avg. Trade Duration");
    assert!(
        short.ends_with('m') || short.ends_with('h'),
        "Avg. Trade Duration `{short}`: {stats:?}"
    );
    assert!(!short.contains("days"), "{stats:?}");

    // A benchmark: its line replaces buy-and-hold, its statistics follow the table's.
    let bench_html = dir.path().join("bench.html");
    backtide(&[
        "run",
        "--data",
        "sample:GOOG",
        "--strategy",
        "sma_cross",
        "--benchmark",
        crate::golden::testdata("benchmark/MSFT_gaps.csv")
            .to_str()
            .unwrap(),
        "--report",
        bench_html.to_str().unwrap(),
    ]);
    let (drawn, severe) = d.open(&bench_html, &shots.join("benchmark.png"));
    assert!(severe.is_empty(), "console errors: {severe:?}");
    assert_eq!(drawn["errors"], json!([]), "{drawn}");
    assert_eq!(chart(&drawn, "equity")["series"], 2);
    assert_eq!(chart(&drawn, "equity")["points"], 2 * 2148);
    let stats = stat_rows(&d);
    let cell = |label: &str| stats.iter().find(|(l, _)| l == label).map(|r| r.1.clone());
    assert!(
        cell("Benchmark").is_some_and(|v| v.ends_with("MSFT_gaps.csv")),
        "{stats:?}"
    );
    assert!(cell("Information Ratio").is_some(), "{stats:?}");

    let (drawn, severe) = d.open(&sweep_html, &shots.join("sweep.png"));
    assert!(severe.is_empty(), "console errors: {severe:?}");
    assert_eq!(drawn["errors"], json!([]), "{drawn}");
    // 10 fast values; slow values above each fast: the best's row and column are filled.
    assert!(
        drawn["tables"]["heatmap"].as_u64().unwrap() >= 100,
        "{drawn}"
    );
    assert!(drawn["svgRects"].as_u64().unwrap() == 30, "{drawn}");
    assert_eq!(drawn["tables"]["top"], 50);
    assert_eq!(drawn["tables"]["overfitting"], 8);

    let (drawn, severe) = d.open(&wf_html, &shots.join("walk-forward.png"));
    assert!(severe.is_empty(), "console errors: {severe:?}");
    assert_eq!(drawn["errors"], json!([]), "{drawn}");
    assert!(drawn["tables"]["windows"].as_u64().unwrap() >= 5, "{drawn}");
    assert!(chart(&drawn, "oos-equity")["inked"].as_u64().unwrap() > 100);
    eprintln!("screenshots in {}", shots.display());
}

/// `n` minute bars of a seeded random walk.
fn random_walk(n: usize) -> backtide_core::Bars {
    let mut x: u64 = 7;
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
    backtide_core::Bars::try_new(time, open, high, low, close, vec![f64::NAN; n]).unwrap()
}

/// A 200,000-bar run with about 20,000 trades: the chart carries a bounded number of
/// markers, and every trade is reachable in the table, page by page and sorted.
#[test]
fn a_large_report_pages_every_trade_in_headless_chromium() {
    use backtide_core::{BrokerConfig, Params, strategy::builtin};
    let Some((chromium, driver)) = browser("a_large_report_pages_every_trade_in_headless_chromium")
    else {
        return;
    };
    let bars = random_walk(200_000);
    let info = builtin::find("sma_cross").unwrap();
    let params = Params::from_pairs(info.params, [("fast", "4"), ("slow", "12")]).unwrap();
    let r = backtide_core::run(
        &bars,
        info.build(&params).unwrap().as_mut(),
        &BrokerConfig::default(),
    )
    .unwrap();
    let m = r.trades.len();
    assert!(m > 15_000, "{m} trades");
    let stats = serde_json::Map::new();
    let html = backtide_report::backtest_html(&backtide_report::BacktestReport {
        title: "random walk · sma_cross(4, 12)",
        bars: &bars,
        run: &r,
        stats: &stats,
        cash: 10_000.0,
        benchmark: None,
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("large.html");
    std::fs::write(&file, &html).unwrap();
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");

    let d = Driver::start(&driver, &chromium);
    let (drawn, severe) = d.open(&file, &shots.join("large.png"));
    assert!(severe.is_empty(), "console errors: {severe:?}");
    assert_eq!(drawn["errors"], json!([]), "{drawn}");
    for name in ["price", "equity", "drawdown", "position"] {
        let c = chart(&drawn, name);
        assert!(
            c["inked"].as_u64().unwrap() > 100,
            "{name} looks blank: {c}"
        );
    }
    assert_eq!(
        chart(&drawn, "price")["markers"].as_u64().unwrap() as usize,
        2 * backtide_report::MAX_CHART_TRADES + r.open_trades.len()
    );
    assert_eq!(drawn["tables"]["trades"].as_u64().unwrap() as usize, m);
    let pages = d.script("return [window.__report.pages.trades, window.__report.ms]");
    let per_page = 1000;
    assert_eq!(pages[0]["pages"], json!(m.div_ceil(per_page)), "{pages}");
    assert_eq!(pages[0]["shown"], json!(per_page), "{pages}");
    // Drawn (data parsed, table expanded, charts and one page built) in a few seconds.
    assert!(pages[1].as_f64().unwrap() < 10_000.0, "{pages}");

    // The first row is the first trade, its times as the bars' times.
    let first = d.script(
        r#"return [...document.querySelector("[data-pager=trades]").parentElement.querySelector("tbody tr").cells].map((td) => td.textContent)"#,
    );
    let t0 = &r.trades[0];
    let when = |bar: usize| backtide_data::format_timestamp(bars.time()[bar]).replace('T', " ");
    assert_eq!(first[0], json!(when(t0.entry_bar)), "{first}");
    assert_eq!(first[1], json!(when(t0.exit_bar)), "{first}");
    assert_eq!(
        first[8],
        json!((t0.exit_bar - t0.entry_bar).to_string()),
        "{first}"
    );

    // Every trade is reachable page by page: each entry time once.
    let walk = r#"
        const pager = document.querySelector("[data-pager=trades]");
        const body = pager.parentElement.querySelector("tbody");
        const st = window.__report.pages.trades;
        pager.querySelector("[data-page=first]").click();
        const cells = [];
        for (let p = 0; p < st.pages; p++) {
          for (const tr of body.rows) cells.push(tr.cells[COL].textContent);
          pager.querySelector("[data-page=next]").click();
        }
        return cells;
    "#;
    let entries = d.script(&walk.replace("COL", "0"));
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), m);
    let unique: std::collections::HashSet<&str> =
        entries.iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(unique.len(), m);

    // Sorting by PnL sorts every row, across the pages.
    d.script(
        r#"[...document.querySelectorAll("th")].find((h) => h.textContent === "PnL").click()"#,
    );
    let pnl: Vec<f64> = d
        .script(&walk.replace("COL", "6"))
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().replace(',', "").parse().unwrap())
        .collect();
    assert_eq!(pnl.len(), m);
    assert!(pnl.windows(2).all(|w| w[0] <= w[1]), "not sorted");
    let (lo, hi) = r
        .trades
        .iter()
        .map(|t| t.pnl())
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p), b.max(p)));
    assert!(
        (pnl[0] - lo).abs() <= 1e-4 + 1e-9 * lo.abs(),
        "{} vs {lo}",
        pnl[0]
    );
    assert!(
        (pnl[m - 1] - hi).abs() <= 1e-4 + 1e-9 * hi.abs(),
        "{} vs {hi}",
        pnl[m - 1]
    );
    eprintln!("screenshot in {}", shots.display());
}

/// A portfolio run made through the library, as `backtide run --data sample:STOCKS
/// --strategy equal_weight --commission 0.001 --profile vectorbt --json` makes it.
fn stocks_equal_weight() -> (backtide_core::Universe, Value) {
    use backtide_core::portfolio::{self, PortfolioConfig, builtin};
    let u = backtide_data::load_universe(&["sample:STOCKS"]).unwrap();
    let info = builtin::find("equal_weight").unwrap();
    let params =
        backtide_core::Params::from_pairs(&info.params, [("rebalance", "monthly")]).unwrap();
    let cfg = PortfolioConfig {
        fees: 0.001,
        ..PortfolioConfig::default()
    };
    let res = portfolio::run(&u, info.build(&params).unwrap().as_mut(), &cfg).unwrap();
    let json = backtide_data::portfolio_json(
        &u,
        &res,
        backtide_data::PortfolioRunInfo {
            profile: backtide_core::Profile::Vectorbt,
            fill: cfg.fill,
            call_seq: cfg.call_seq,
            strategy: info.name,
            params: &params,
        },
    );
    (u, json)
}

#[test]
fn portfolio_report_renders_in_headless_chromium() {
    let Some((chromium, driver)) = browser("portfolio_report_renders_in_headless_chromium") else {
        return;
    };
    let (u, result) = stocks_equal_weight();
    let html = backtide_report::portfolio_html(&backtide_report::PortfolioReport {
        title: "sample:STOCKS · equal_weight(rebalance=monthly)",
        universe: &u,
        result: &result,
        benchmark: None,
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("portfolio.html");
    std::fs::write(&file, &html).unwrap();
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    let n = u.len() as u64;
    let count = |key: &str| result[key].as_array().unwrap().len() as u64;

    let d = Driver::start(&driver, &chromium);
    let (drawn, severe) = d.open(&file, &shots.join("portfolio.png"));
    assert!(severe.is_empty(), "console errors: {severe:?}");
    assert_eq!(drawn["errors"], json!([]), "{drawn}");
    assert_eq!(drawn["kind"], "portfolio");
    for name in ["value", "drawdown", "allocation"] {
        let c = chart(&drawn, name);
        assert!(
            c["inked"].as_u64().unwrap() > 100,
            "{name} looks blank: {c}"
        );
    }
    // 3,270 bars: every bar drawn; value and the basket; five assets stacked.
    assert_eq!(chart(&drawn, "value")["series"], 2);
    assert_eq!(chart(&drawn, "value")["points"], 2 * n);
    assert_eq!(chart(&drawn, "drawdown")["points"], n);
    let alloc = chart(&drawn, "allocation");
    assert!(
        (5..=12).contains(&alloc["series"].as_u64().unwrap()),
        "{alloc}"
    );
    // The stacked allocation fills the chart: its top is 100 % at every bar.
    let top = alloc["stack"]["max"].as_f64().unwrap();
    let least = alloc["stack"]["min_top"].as_f64().unwrap();
    assert!((99.9..=100.1).contains(&top), "{alloc}");
    assert!((99.9..=100.1).contains(&least), "{alloc}");
    assert!(alloc["inked"].as_u64().unwrap() > 10_000, "{alloc}");
    assert_eq!(drawn["tables"]["trades"].as_u64().unwrap(), count("trades"));
    assert_eq!(
        drawn["tables"]["open"].as_u64().unwrap(),
        count("open_trades")
    );
    assert_eq!(drawn["tables"]["assets"], 5);
    assert_eq!(
        drawn["tables"]["stats"].as_u64().unwrap() as usize,
        result["stats"].as_object().unwrap().len()
    );
    assert!(drawn["tables"]["monthly"].as_u64().unwrap() > 150);
    let run_card = d.script(
        r#"return [...document.querySelectorAll(".side .card tr")].map((tr) => [...tr.cells].map((td) => td.textContent))"#,
    );
    for want in [
        ["Strategy", "equal_weight"],
        ["Parameters", "rebalance=monthly"],
        ["Assets", "AAPL, FB, GOOG, IBM, MSFT"],
        ["Fill", "close"],
        ["Call sequence", "auto"],
        ["Profile", "vectorbt"],
        ["Starting cash", "10,000"],
    ] {
        assert!(
            run_card.as_array().unwrap().contains(&json!(want)),
            "{want:?} not in {run_card}"
        );
    }

    // Filtering the trades by symbol lists that symbol's trades only.
    let goog = result["trades"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["symbol"] == "GOOG")
        .count();
    let listed = d.script(
        r#"const s = document.querySelector("select[data-filter=symbol]");
           s.value = "GOOG"; s.dispatchEvent(new Event("change"));
           return window.__report.tables.trades"#,
    );
    assert_eq!(listed, json!(goog));
    // Sorting the per-asset table by contribution puts the largest last after one click.
    let order = d.script(
        r#"const th = [...document.querySelectorAll("th")].find((h) => h.textContent === "Contribution %");
           th.click();
           return [...th.closest("table").querySelectorAll("tbody tr td:first-child")].map((td) => td.textContent)"#,
    );
    let mut by_contribution: Vec<(f64, String)> = result["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["contribution_pct"].as_f64().unwrap(),
                a["symbol"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    by_contribution.sort_by(|a, b| a.0.total_cmp(&b.0));
    let want: Vec<String> = by_contribution.into_iter().map(|(_, s)| s).collect();
    assert_eq!(order, json!(want));
    eprintln!("screenshot in {}", shots.display());
}
