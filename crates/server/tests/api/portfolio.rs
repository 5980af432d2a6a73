//! Portfolios over HTTP: universes given as `datasets` (a list or symbol → dataset) or as a
//! long-format dataset, run as backtests and sweeps; results equal the library's (what
//! `backtide run --json` prints).

use std::time::Duration;

use backtide_core::portfolio::{self, CallSeq, FillAt, PortfolioConfig, builtin};
use backtide_core::{BrokerConfig, Commission, Params, Profile, Universe};
use serde_json::{Value, json};

use crate::common::{TestServer, upload};

/// The CSV of one member of the bundled STOCKS sample.
fn stock_csv(symbol: &str) -> &'static str {
    let (_, members) = backtide_data::SAMPLE_UNIVERSES
        .iter()
        .find(|(n, _)| *n == "STOCKS")
        .unwrap();
    members.iter().find(|(s, _)| *s == symbol).unwrap().1
}

/// What the library (the CLI's path) gives for a portfolio run.
fn library_json(
    u: &Universe,
    strategy: &str,
    params: &[(&str, &str)],
    broker: BrokerConfig,
    profile: Profile,
    fill: Option<FillAt>,
) -> Value {
    let info = builtin::find(strategy).unwrap();
    let pairs = profile.param_defaults(&info.params, params.to_vec());
    let params = Params::from_pairs(&info.params, pairs).unwrap();
    let broker = profile.configure(broker).unwrap();
    let cfg = PortfolioConfig::from_broker(&broker, profile, fill, CallSeq::Auto).unwrap();
    let res = portfolio::run(u, info.build(&params).unwrap().as_mut(), &cfg).unwrap();
    backtide_data::portfolio_json(
        u,
        &res,
        backtide_data::PortfolioRunInfo {
            profile,
            fill: cfg.fill,
            call_seq: cfg.call_seq,
            strategy: info.name,
            params: &params,
        },
    )
}

const RESULT_KEYS: [&str; 11] = [
    "stats",
    "trades",
    "open_trades",
    "equity",
    "warnings",
    "orders",
    "positions",
    "assets",
    "universe",
    "profile",
    "strategy",
];

async fn text(srv: &TestServer, path: &str) -> String {
    let r = srv.http.get(srv.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

#[tokio::test]
async fn stocks_equal_weight_equals_the_golden_case_and_the_library() {
    let srv = TestServer::start(|_| {}).await;
    // The preloaded STOCKS sample: one long-format dataset of five symbols.
    let (s, stocks) = srv.get("/v1/datasets/STOCKS").await;
    assert_eq!(s, 200);
    assert_eq!(
        stocks["symbols"],
        json!(["AAPL", "FB", "GOOG", "IBM", "MSFT"])
    );
    assert_eq!(stocks["rows"], 3270 * 3 + 2148 + 196);
    // The single-asset samples show no symbols.
    let (_, goog) = srv.get("/v1/datasets/GOOG").await;
    assert!(goog.get("symbols").is_none(), "{goog}");

    let request = json!({
        "dataset": "STOCKS",
        "strategy": {"name": "equal_weight", "params": {"rebalance": "monthly"}},
        "broker": {"cash": 100000, "commission": 0.001, "slippage": 0.0005,
                   "call_seq": "auto", "fill": "close"},
        "profile": "vectorbt"
    });
    let (status, job) = srv.post("/v1/backtests?wait=60", &request).await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["state"], "succeeded", "{job}");
    let members: Vec<&str> = job["universe"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["AAPL", "FB", "GOOG", "IBM", "MSFT"]);
    assert!(job["universe"][0]["dataset"] == stocks["id"]);

    // vectorbt's numbers (testdata/golden/portfolio/vbtpf_equal_weight_monthly.json).
    let golden_end = 501_519.180_430_246_8;
    let end = job["result"]["stats"]["end_value"].as_f64().unwrap();
    assert!(
        ((end - golden_end) / golden_end).abs() < 1e-9,
        "{end} vs {golden_end}"
    );
    assert_eq!(job["result"]["orders_total"], 584);

    // The same run through the library, as `backtide run --data sample:STOCKS --json`.
    let u = backtide_data::load_universe(&["sample:STOCKS"]).unwrap();
    let broker = BrokerConfig {
        cash: 100_000.0,
        commission: Commission::Relative(0.001),
        slippage: 0.0005,
        ..BrokerConfig::default()
    };
    let expected = library_json(
        &u,
        "equal_weight",
        &[("rebalance", "monthly")],
        broker,
        Profile::Vectorbt,
        Some(FillAt::Close),
    );
    let jid = job["id"].as_str().unwrap();
    let (s, full) = srv
        .get(&format!("/v1/jobs/{jid}/result?limit=10000&points=0"))
        .await;
    assert_eq!(s, 200);
    for key in RESULT_KEYS {
        assert_eq!(full[key], expected[key], "{key}");
    }
    assert_eq!(
        full["equity"].as_array().unwrap().last().unwrap()["equity"],
        expected["stats"]["end_value"]
    );
    assert_eq!(full["orders"].as_array().unwrap().len(), 584);

    // Paging: orders like trades; positions downsampled with the equity.
    let (_, page) = srv
        .get(&format!(
            "/v1/jobs/{jid}/result?offset=580&limit=10&points=100"
        ))
        .await;
    assert_eq!(page["orders"].as_array().unwrap().len(), 4);
    assert_eq!(page["orders"][0], expected["orders"][580]);
    let kept = page["equity"].as_array().unwrap().len();
    assert!(kept <= 102 && kept > 50, "{kept}");
    assert_eq!(page["equity_total"], 3270);
    for (symbol, units) in page["positions"].as_object().unwrap() {
        assert_eq!(units.as_array().unwrap().len(), kept, "{symbol}");
    }
    assert_eq!(
        page["positions"]["MSFT"].as_array().unwrap().last(),
        expected["positions"]["MSFT"].as_array().unwrap().last()
    );

    // The files: the library's writers, byte for byte.
    let dir = tempfile::tempdir().unwrap();
    let res = {
        let info = builtin::find("equal_weight").unwrap();
        let params = Params::from_pairs(&info.params, [("rebalance", "monthly")]).unwrap();
        let broker = Profile::Vectorbt
            .configure(BrokerConfig {
                cash: 100_000.0,
                commission: Commission::Relative(0.001),
                slippage: 0.0005,
                ..BrokerConfig::default()
            })
            .unwrap();
        let cfg = PortfolioConfig::from_broker(
            &broker,
            Profile::Vectorbt,
            Some(FillAt::Close),
            CallSeq::Auto,
        )
        .unwrap();
        portfolio::run(&u, info.build(&params).unwrap().as_mut(), &cfg).unwrap()
    };
    let trades = dir.path().join("trades.csv");
    backtide_data::write_portfolio_trades_csv(&u, &res, &trades).unwrap();
    let served = text(&srv, &format!("/v1/jobs/{jid}/trades.csv")).await;
    assert!(served.starts_with("symbol,entry_bar,"));
    assert_eq!(served, std::fs::read_to_string(&trades).unwrap());
    let equity = dir.path().join("equity.csv");
    backtide_data::write_portfolio_equity_csv(u.time(), &res, &equity).unwrap();
    let served = text(&srv, &format!("/v1/jobs/{jid}/equity.csv")).await;
    assert_eq!(served, std::fs::read_to_string(&equity).unwrap());
    let orders = text(&srv, &format!("/v1/jobs/{jid}/orders.csv")).await;
    assert_eq!(orders.lines().count(), 585);
    assert!(orders.starts_with("bar,time,symbol,side,size,price,fees\n"));
    let r = srv
        .http
        .get(srv.url(&format!("/v1/jobs/{jid}/result.parquet")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
    let report = text(&srv, &format!("/v1/jobs/{jid}/report.html")).await;
    assert!(report.starts_with("<!DOCTYPE html>"));
    assert!(report.contains("MSFT") && report.contains("equal_weight"));
    // A single-asset backtest has no orders.csv.
    let (_, single) = srv
        .post(
            "/v1/backtests?wait=30",
            &json!({"dataset": "GOOG", "strategy": {"name": "sma_cross"}}),
        )
        .await;
    assert_eq!(single["state"], "succeeded");
    assert!(single.get("universe").is_none(), "{single}");
    let (s, _) = srv
        .get(&format!(
            "/v1/jobs/{}/orders.csv",
            single["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(s, 404);
    srv.stop().await;
}

#[tokio::test]
async fn uploads_named_by_symbol_run_as_a_portfolio() {
    let srv = TestServer::start(|_| {}).await;
    let aapl = upload(&srv, "aapl-daily", stock_csv("AAPL").to_string()).await;
    let msft = upload(&srv, "MSFT", stock_csv("MSFT").to_string()).await;
    assert!(aapl.get("symbols").is_none(), "{aapl}");
    let (aid, mid) = (aapl["id"].as_str().unwrap(), msft["id"].as_str().unwrap());
    let body = |datasets: Value| {
        json!({
            "datasets": datasets,
            "strategy": {"name": "momentum_rotation", "params": {"lookback": 63, "top": 1}},
            "broker": {"cash": 50000, "commission": 0.001},
            "profile": "vectorbt"
        })
    };
    let (status, job) = srv
        .post(
            "/v1/backtests?wait=60",
            &body(json!({"AAPL": aid, "MSFT": mid})),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        job["universe"],
        json!([{"symbol": "AAPL", "dataset": aid}, {"symbol": "MSFT", "dataset": mid}])
    );
    let jid = job["id"].as_str().unwrap();
    let (_, full) = srv
        .get(&format!("/v1/jobs/{jid}/result?limit=10000&points=0"))
        .await;
    let bars = |s: &str| backtide_data::parse_csv(stock_csv(s).as_bytes(), s).unwrap();
    let u = Universe::try_new([
        ("AAPL".to_string(), "a".to_string(), bars("AAPL")),
        ("MSFT".to_string(), "m".to_string(), bars("MSFT")),
    ])
    .unwrap();
    let expected = library_json(
        &u,
        "momentum_rotation",
        &[("lookback", "63"), ("top", "1")],
        BrokerConfig {
            cash: 50_000.0,
            commission: Commission::Relative(0.001),
            ..BrokerConfig::default()
        },
        Profile::Vectorbt,
        None,
    );
    for key in RESULT_KEYS {
        assert_eq!(full[key], expected[key], "{key}");
    }
    assert_eq!(full["universe"]["symbols"], json!(["AAPL", "MSFT"]));

    // As a list of ids and names: each asset is named after its dataset.
    let (status, listed) = srv
        .post("/v1/backtests?wait=60", &body(json!([aid, "MSFT"])))
        .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        listed["universe"],
        json!([{"symbol": "aapl-daily", "dataset": aid}, {"symbol": "MSFT", "dataset": mid}])
    );
    assert_eq!(listed["result"]["stats"], full["stats"]);

    // A dataset a queued or running portfolio job uses cannot be deleted.
    let (s, j) = srv
        .post(
            "/v1/sweeps",
            &json!({
                "datasets": {"AAPL": aid, "MSFT": mid},
                "strategy": {"name": "sma_cross"},
                "grid": {"fast": "2:60:1", "slow": "61:200:1"},
                "pbo_blocks": 0
            }),
        )
        .await;
    assert_eq!(s, 202, "{j}");
    let sid = j["id"].as_str().unwrap().to_string();
    let r = srv
        .http
        .delete(srv.url(&format!("/v1/datasets/{mid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    srv.post(&format!("/v1/jobs/{sid}/cancel"), &json!({}))
        .await;
    srv.wait_done(&sid, Duration::from_secs(60)).await;
    srv.stop().await;
}

/// Rows of several stocks interleaved by date, as a long-format CSV.
fn long_csv(symbols: &[&str]) -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    for s in symbols {
        for line in stock_csv(s).lines().skip(1) {
            let (date, rest) = line.split_once(',').unwrap();
            rows.push((format!("{date},{s}"), format!("{date},{s},{rest}")));
        }
    }
    rows.sort();
    let mut out = String::from("Date,Ticker,Open,High,Low,Close,Volume\n");
    for (_, r) in rows {
        out.push_str(&r);
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn a_long_format_upload_registers_its_symbols() {
    let srv = TestServer::start(|_| {}).await;
    let ds = upload(&srv, "pair", long_csv(&["IBM", "FB"])).await;
    assert_eq!(ds["symbols"], json!(["FB", "IBM"]));
    assert_eq!(ds["rows"], 3270 + 196);
    assert_eq!(ds["first"], "2000-03-01T00:00:00");
    assert_eq!(
        ds["columns"],
        json!(["Open", "High", "Low", "Close", "Volume"])
    );
    let id = ds["id"].as_str().unwrap();
    let (_, shown) = srv.get(&format!("/v1/datasets/{id}")).await;
    assert_eq!(shown["symbols"], json!(["FB", "IBM"]));
    let (_, list) = srv.get("/v1/datasets").await;
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "pair")
        .unwrap();
    assert_eq!(listed["symbols"], json!(["FB", "IBM"]));

    // Named as the one dataset, a long file is a portfolio of its symbols (as `backtide run
    // --data FILE` with a symbol column), here with a signal strategy applied per asset.
    let (status, job) = srv
        .post(
            "/v1/backtests?wait=60",
            &json!({"dataset": "pair", "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 30}}}),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["result"]["universe"]["symbols"], json!(["FB", "IBM"]));
    assert_eq!(job["result"]["universe"]["fill"], "next_open");
    // One symbol taken out of it by name.
    let (status, job) = srv
        .post(
            "/v1/backtests?wait=60",
            &json!({"datasets": {"IBM": "pair", "MSFT": "STOCKS"}, "strategy": {"name": "equal_weight"}}),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["result"]["universe"]["symbols"], json!(["IBM", "MSFT"]));
    let bars = |s: &str| backtide_data::parse_csv(stock_csv(s).as_bytes(), s).unwrap();
    let u = Universe::try_new([
        ("IBM".to_string(), "i".to_string(), bars("IBM")),
        ("MSFT".to_string(), "m".to_string(), bars("MSFT")),
    ])
    .unwrap();
    let expected = library_json(
        &u,
        "equal_weight",
        &[],
        BrokerConfig::default(),
        Profile::BacktestingPy,
        None,
    );
    assert_eq!(job["result"]["stats"], expected["stats"]);

    // A bad row names its symbol and line; nothing is stored.
    let mut bad = long_csv(&["FB"]);
    bad.push_str("2012-05-18,FB,42.05,45.0,38.0,38.2318,573576400\n");
    let r = srv
        .http
        .post(srv.url("/v1/datasets?name=bad-long"))
        .body(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    let msg = v["detail"][0]["msg"].as_str().unwrap();
    assert!(
        msg.contains("FB") && msg.contains("bad-long (upload)") && !msg.contains(".upload-"),
        "{msg}"
    );
    let (s, _) = srv.get("/v1/datasets/bad-long").await;
    assert_eq!(s, 404);
    let leftovers: Vec<_> = std::fs::read_dir(srv.data_dir().join("datasets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".upload-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Portfolio strategies are listed with their parameters.
    let (_, strategies) = srv.get("/v1/strategies?universe=true").await;
    let names: Vec<&str> = strategies
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        names.starts_with(&["equal_weight", "momentum_rotation", "inverse_volatility"]),
        "{names:?}"
    );
    assert!(names.contains(&"sma_cross"));
    assert_eq!(
        strategies[1]["params"]["properties"]["top"]["minimum"],
        json!(1)
    );
    srv.stop().await;
}

#[tokio::test]
async fn a_portfolio_sweep_runs_every_combination_as_the_library_does() {
    let srv = TestServer::start(|_| {}).await;
    let (status, job) = srv
        .post(
            "/v1/sweeps?wait=60",
            &json!({
                "datasets": ["STOCKS"],
                "strategy": {"name": "momentum_rotation"},
                "grid": {"lookback": [63, 126], "top": "1,2"},
                "objective": {"key": "sharpe_ratio"},
                "pbo_blocks": 4,
                "broker": {"cash": 100000, "commission": 0.001},
                "profile": "vectorbt"
            }),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["universe"].as_array().unwrap().len(), 5);
    let result = &job["result"];
    assert_eq!(result["combos_total"], 4);

    // The library's sweep, as `backtide sweep --data sample:STOCKS`.
    use backtide_core::sweep::{
        Axis, Method, Objective, SweepControl, SweepSpec, run_portfolio_sweep,
    };
    let info = builtin::find("momentum_rotation").unwrap();
    let axis = |name: &str, values: &str| {
        Axis::parse(info.params.iter().find(|p| p.name == name).unwrap(), values).unwrap()
    };
    let spec = SweepSpec {
        strategy: info.into(),
        fixed: vec![],
        axes: vec![axis("lookback", "63,126"), axis("top", "1,2")],
        constraint: None,
        method: Method::Grid,
    };
    let profile = Profile::Vectorbt;
    let broker = profile
        .configure(BrokerConfig {
            cash: 100_000.0,
            commission: Commission::Relative(0.001),
            ..BrokerConfig::default()
        })
        .unwrap();
    let cfg = PortfolioConfig::from_broker(&broker, profile, None, CallSeq::Auto).unwrap();
    let objective = Objective::in_dialect(profile.dialect(), "sharpe_ratio", true).unwrap();
    let u = backtide_data::load_universe(&["sample:STOCKS"]).unwrap();
    let mut combos = Vec::new();
    let outcome = run_portfolio_sweep::<backtide_core::Error>(
        &u,
        &spec,
        &cfg,
        &objective,
        &SweepControl {
            threads: 1,
            cancel: None,
            progress: None,
            profile_blocks: 4,
            skip: 0,
            end: None,
        },
        &mut |c| {
            combos.push(backtide_data::combo_json_in(c, profile.dialect()));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(result["combos"], Value::from(combos));
    let best = outcome.best.unwrap();
    assert_eq!(
        result["best"],
        backtide_data::combo_json_in(&best, profile.dialect())
    );
    // The same result files as a single-asset sweep.
    let jid = job["id"].as_str().unwrap();
    let report = text(&srv, &format!("/v1/jobs/{jid}/report.html")).await;
    assert!(report.contains("data-kind=\"sweep\""));
    let r = srv
        .http
        .get(srv.url(&format!("/v1/jobs/{jid}/result.parquet")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    srv.stop().await;
}

#[tokio::test]
async fn a_queued_portfolio_job_survives_a_restart() {
    use tower::ServiceExt as _;
    let dir = tempfile::tempdir().unwrap();
    // Accepted by a server whose workers never start (it stops before running anything).
    let cfg = crate::common::config(dir.path());
    let state = tokio::task::spawn_blocking(move || backtide_server::AppState::open(cfg))
        .await
        .unwrap()
        .unwrap();
    let body = json!({
        "datasets": {"IBM": "STOCKS", "EURUSD": "EURUSD"},
        "strategy": {"name": "inverse_volatility", "params": {"lookback": 20}},
        "broker": {"call_seq": "default"},
        "profile": "vectorbt"
    });
    let response = backtide_server::app(state)
        .oneshot(
            axum::http::Request::post("/v1/backtests")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let job: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(job["state"], "queued");
    let id = job["id"].as_str().unwrap().to_string();

    // The next start runs it from what the job row holds.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(backtide_server::serve_on(
        listener,
        crate::common::config(dir.path()),
        async {
            let _ = rx.await;
        },
    ));
    let http = reqwest::Client::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    let done = loop {
        if let Ok(r) = http.get(format!("{base}/v1/jobs/{id}")).send().await
            && let Ok(j) = r.json::<Value>().await
            && ["succeeded", "failed"].contains(&j["state"].as_str().unwrap_or(""))
        {
            break j;
        }
        assert!(tokio::time::Instant::now() < until, "job {id} did not run");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(done["state"], "succeeded", "{done}");
    let result: Value = http
        .get(format!("{base}/v1/jobs/{id}/result?limit=10000&points=0"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ibm = backtide_data::parse_csv(stock_csv("IBM").as_bytes(), "IBM").unwrap();
    let u = Universe::try_new([
        ("IBM".to_string(), "i".to_string(), ibm),
        (
            "EURUSD".to_string(),
            "e".to_string(),
            backtide_data::sample("EURUSD").unwrap(),
        ),
    ])
    .unwrap();
    let info = builtin::find("inverse_volatility").unwrap();
    let params = Params::from_pairs(&info.params, [("lookback", "20")]).unwrap();
    let broker = Profile::Vectorbt
        .configure(BrokerConfig::default())
        .unwrap();
    let cfg =
        PortfolioConfig::from_broker(&broker, Profile::Vectorbt, None, CallSeq::Default).unwrap();
    let res = portfolio::run(&u, info.build(&params).unwrap().as_mut(), &cfg).unwrap();
    let expected = backtide_data::portfolio_json(
        &u,
        &res,
        backtide_data::PortfolioRunInfo {
            profile: Profile::Vectorbt,
            fill: cfg.fill,
            call_seq: cfg.call_seq,
            strategy: info.name,
            params: &params,
        },
    );
    for key in RESULT_KEYS {
        assert_eq!(result[key], expected[key], "{key}");
    }
    assert_eq!(result["universe"]["call_seq"], "default");
    let _ = tx.send(());
    server.await.unwrap().unwrap();
}

/// A walk-forward over a portfolio strategy runs as a job and equals the library's.
#[tokio::test]
async fn a_portfolio_walk_forward_runs_as_the_library_does() {
    let srv = TestServer::start(|_| {}).await;
    let (status, job) = srv
        .post(
            "/v1/sweeps?wait=60",
            &json!({
                "dataset": "STOCKS",
                "strategy": {"name": "momentum_rotation", "params": {"top": 2}},
                "grid": {"lookback": [63, 126]},
                "objective": {"key": "equity_final"},
                "walk_forward": {"train": 1000, "test": 500},
                "broker": {"cash": 100000, "commission": 0.001}
            }),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["state"], "succeeded", "{job}");
    let wf = &job["result"]["walk_forward"];

    use backtide_core::sweep::{
        Axis, Method, Objective, SweepControl, SweepSpec, WalkForward, run_portfolio_walk_forward,
    };
    let info = builtin::find("momentum_rotation").unwrap();
    let spec = SweepSpec {
        strategy: info.into(),
        fixed: vec![("top".into(), "2".into())],
        axes: vec![
            Axis::parse(
                info.params.iter().find(|p| p.name == "lookback").unwrap(),
                "63,126",
            )
            .unwrap(),
        ],
        constraint: None,
        method: Method::Grid,
    };
    let broker = Profile::BacktestingPy
        .configure(BrokerConfig {
            cash: 100_000.0,
            commission: Commission::Relative(0.001),
            ..BrokerConfig::default()
        })
        .unwrap();
    let pcfg =
        PortfolioConfig::from_broker(&broker, Profile::BacktestingPy, None, CallSeq::Auto).unwrap();
    let u = backtide_data::load_universe(&["sample:STOCKS"]).unwrap();
    let objective = Objective::new("equity_final", true).unwrap();
    let w = WalkForward::parse("train=1000,test=500").unwrap();
    let lib =
        run_portfolio_walk_forward(&u, &spec, &pcfg, &objective, &w, &SweepControl::default())
            .unwrap();
    let basket = backtide_core::portfolio::stats::basket_bars(&u, pcfg.cash);
    let want = backtide_data::walk_forward_json(&basket, &lib);
    assert_eq!(wf, &want["walk_forward"]);
    assert_eq!(wf["windows"].as_array().unwrap().len(), 5);
    srv.stop().await;
}
