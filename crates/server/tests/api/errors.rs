//! Every invalid request gets a 4xx in FastAPI's shape, naming the bad field.

use serde_json::{Value, json};

use crate::common::{TestServer, walk_csv};

fn backtest(strategy: Value, broker: Value) -> Value {
    json!({"dataset": "GOOG", "strategy": strategy, "broker": broker})
}

async fn expect_422(srv: &TestServer, path: &str, body: &Value, loc: Value, kind: &str) {
    let (s, r) = srv.post(path, body).await;
    assert_eq!(s, 422, "{body} -> {r}");
    let d = &r["detail"][0];
    assert_eq!(d["loc"], loc, "{body} -> {r}");
    assert_eq!(d["type"], kind, "{body} -> {r}");
    assert!(!d["msg"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn invalid_requests_name_the_field() {
    let srv = TestServer::start(|c| c.max_combinations = 100).await;
    let sma = |p: Value| json!({"name": "sma_cross", "params": p});
    let cases: Vec<(&str, Value, Value, &str)> = vec![
        (
            "unknown dataset",
            json!({"dataset": "NOPE", "strategy": sma(json!({}))}),
            json!(["body", "dataset"]),
            "value_error",
        ),
        (
            "missing strategy",
            json!({"dataset": "GOOG"}),
            json!(["body", "strategy"]),
            "missing",
        ),
        (
            "unknown strategy",
            backtest(json!({"name": "magic"}), json!({})),
            json!(["body", "strategy", "name"]),
            "value_error",
        ),
        (
            "unknown parameter",
            backtest(sma(json!({"fats": 5})), json!({})),
            json!(["body", "strategy", "params", "fats"]),
            "value_error",
        ),
        (
            "out of range",
            backtest(sma(json!({"fast": 0})), json!({})),
            json!(["body", "strategy", "params", "fast"]),
            "value_error",
        ),
        (
            "wrong type",
            backtest(sma(json!({"fast": "ten"})), json!({})),
            json!(["body", "strategy", "params", "fast"]),
            "value_error",
        ),
        (
            "not a scalar",
            backtest(sma(json!({"fast": [1]})), json!({})),
            json!(["body", "strategy", "params", "fast"]),
            "type_error",
        ),
        (
            "fast >= slow",
            backtest(sma(json!({"fast": 30, "slow": 20})), json!({})),
            json!(["body", "strategy", "params", "fast"]),
            "value_error",
        ),
        (
            "negative cash",
            backtest(sma(json!({})), json!({"cash": -5})),
            json!(["body", "broker", "cash"]),
            "value_error",
        ),
        (
            "cash as text",
            backtest(sma(json!({})), json!({"cash": "lots"})),
            json!(["body", "broker", "cash"]),
            "value_error",
        ),
        (
            "unknown broker field",
            backtest(sma(json!({})), json!({"leverage": 2})),
            json!(["body", "broker", "leverage"]),
            "extra_forbidden",
        ),
        (
            "bad profile",
            json!({"dataset": "GOOG", "strategy": sma(json!({})), "profile": "zipline"}),
            json!(["body", "profile"]),
            "value_error",
        ),
        (
            "vectorbt + trade_on_close",
            json!({"dataset": "GOOG", "strategy": sma(json!({})), "profile": "vectorbt", "broker": {"trade_on_close": true}}),
            json!(["body", "broker", "trade_on_close"]),
            "value_error",
        ),
    ];
    for (name, body, loc, kind) in cases {
        eprintln!("case: {name}");
        expect_422(&srv, "/v1/backtests", &body, loc, kind).await;
    }
    let sweep = |extra: Value| {
        let mut b = json!({"dataset": "GOOG", "strategy": {"name": "sma_cross"}, "grid": {"fast": "5:20:5"}});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases: Vec<(&str, Value, Value, &str)> = vec![
        (
            "grid over the maximum",
            sweep(json!({"grid": {"fast": "2:50:1", "slow": "51:100:1"}})),
            json!(["body", "grid"]),
            "too_many_combinations",
        ),
        (
            "grid of an unknown parameter",
            sweep(json!({"grid": {"speed": "1:3:1"}})),
            json!(["body", "grid", "speed"]),
            "value_error",
        ),
        (
            "bad range",
            sweep(json!({"grid": {"fast": "5:1:1"}})),
            json!(["body", "grid", "fast"]),
            "value_error",
        ),
        (
            "empty grid",
            sweep(json!({"grid": {}})),
            json!(["body", "grid"]),
            "value_error",
        ),
        (
            "unknown objective",
            sweep(json!({"objective": {"key": "happiness"}})),
            json!(["body", "objective", "key"]),
            "value_error",
        ),
        (
            "bad constraint",
            sweep(json!({"constraint": "fast ~ slow"})),
            json!(["body", "constraint"]),
            "value_error",
        ),
        (
            "nothing admitted",
            sweep(json!({"constraint": "fast > 100"})),
            json!(["body", "constraint"]),
            "value_error",
        ),
        (
            "bad method",
            sweep(json!({"method": {"kind": "annealing"}})),
            json!(["body", "method", "kind"]),
            "value_error",
        ),
        (
            "zero samples",
            sweep(json!({"method": {"kind": "random", "samples": 0}})),
            json!(["body", "method", "samples"]),
            "value_error",
        ),
        (
            "odd blocks",
            sweep(json!({"pbo_blocks": 3})),
            json!(["body", "pbo_blocks"]),
            "value_error",
        ),
        (
            "bad walk-forward",
            sweep(json!({"walk_forward": {"train": 0, "test": 10}})),
            json!(["body", "walk_forward"]),
            "value_error",
        ),
    ];
    for (name, body, loc, kind) in cases {
        eprintln!("case: {name}");
        expect_422(&srv, "/v1/sweeps", &body, loc, kind).await;
    }

    // Malformed JSON: where it broke.
    let r = srv
        .http
        .post(srv.url("/v1/backtests"))
        .header("content-type", "application/json")
        .body("{\"dataset\": \"GOOG\",\n  \"strategy\": }")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["detail"][0]["type"], "json_invalid");
    assert!(
        v["detail"][0]["msg"].as_str().unwrap().contains("line 2"),
        "{v}"
    );

    // Query problems.
    let (s, v) = srv
        .post(
            "/v1/backtests?wait=9999",
            &json!({"dataset": "GOOG", "strategy": {"name": "sma_cross"}}),
        )
        .await;
    assert_eq!(
        (s, v["detail"][0]["loc"].clone()),
        (422, json!(["query", "wait"]))
    );
    let (s, _) = srv.get("/v1/jobs?limit=0").await;
    assert_eq!(s, 422);
    let (s, _) = srv.get("/v1/jobs?state=sleeping").await;
    assert_eq!(s, 422);

    // Unknown things are 404 with a message.
    for path in [
        "/v1/jobs/nope",
        "/v1/jobs/nope/result",
        "/v1/datasets/nope",
        "/v2/anything",
    ] {
        let (s, v) = srv.get(path).await;
        assert_eq!(s, 404, "{path}");
        assert!(v["detail"].is_string(), "{path}: {v}");
    }
    let (s, _) = srv.post("/v1/jobs/nope/cancel", &json!({})).await;
    assert_eq!(s, 404);

    // A bad CSV: the row and rule, no dataset stored.
    let r = srv
        .http
        .post(srv.url("/v1/datasets?name=bad"))
        .body("Date,Open,High,Low,Close\n2024-01-02,10,11,9,10\n2024-01-03,10,9,9.5,10\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    let msg = v["detail"][0]["msg"].as_str().unwrap();
    assert!(msg.contains("line 3") && msg.contains("High"), "{msg}");
    let (_, list) = srv.get("/v1/datasets").await;
    assert!(list.as_array().unwrap().iter().all(|d| d["name"] != "bad"));
    // No name.
    let r = srv
        .http
        .post(srv.url("/v1/datasets"))
        .body(walk_csv(10))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    // A broken Parquet file: 422, and nothing of it left in the datasets folder.
    let before = std::fs::read_dir(srv.data_dir().join("datasets"))
        .unwrap()
        .count();
    let r = srv
        .http
        .post(srv.url("/v1/datasets?name=broken"))
        .body(b"PAR1 this is not parquet".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["detail"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("broken (upload)"),
        "{v}"
    );
    let after = std::fs::read_dir(srv.data_dir().join("datasets"))
        .unwrap()
        .count();
    assert_eq!(before, after);
    // A valid Parquet file is stored.
    let pq = srv.data_dir().join("goog.parquet");
    backtide_data::write_parquet(&backtide_data::sample("GOOG").unwrap(), &pq).unwrap();
    let r = srv
        .http
        .post(srv.url("/v1/datasets?name=goog-pq"))
        .body(std::fs::read(&pq).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["format"].as_str(), v["rows"].as_u64()),
        (Some("parquet"), Some(2148))
    );
    assert_eq!(
        std::fs::read_dir(srv.data_dir().join("datasets"))
            .unwrap()
            .count(),
        after + 1
    );
    srv.stop().await;
}

#[tokio::test]
async fn limits_answer_413() {
    let srv = TestServer::start(|c| {
        c.max_body_bytes = 4_096;
        c.max_bars = 50;
    })
    .await;
    let big = walk_csv(500);
    assert!(big.len() > 4_096);
    let r = srv
        .http
        .post(srv.url("/v1/datasets?name=big"))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.unwrap();
    assert!(v["detail"].is_string());
    // Multipart too.
    let form = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n\r\n{}\r\n--XyZ--\r\n",
        walk_csv(500)
    );
    let r = srv
        .http
        .post(srv.url("/v1/datasets"))
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // A JSON body over the limit.
    let padding = "x".repeat(5_000);
    let (s, _) = srv
        .post(
            "/v1/backtests",
            &json!({"dataset": padding, "strategy": {"name": "sma_cross"}}),
        )
        .await;
    assert_eq!(s, 413);
    // Under the byte limit but over the bar limit.
    let r = srv
        .http
        .post(srv.url("/v1/datasets?name=bars"))
        .body(walk_csv(60))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // A small multipart upload works and takes its name from the file.
    let form = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"small.csv\"\r\n\r\n{}\r\n--XyZ--\r\n",
        walk_csv(20)
    );
    let r = srv
        .http
        .post(srv.url("/v1/datasets"))
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["name"].as_str(), v["rows"].as_u64()),
        (Some("small"), Some(20))
    );
    srv.stop().await;
}

#[tokio::test]
async fn invalid_universe_requests_name_the_field() {
    let srv = TestServer::start(|c| c.max_combinations = 100).await;
    let ew = json!({"name": "equal_weight", "params": {"rebalance": "monthly"}});
    let with = |base: Value, extra: Value| {
        let mut b = base;
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let universe = |extra: Value| with(json!({"datasets": ["STOCKS"], "strategy": ew}), extra);
    let cases: Vec<(&str, Value, Value, &str)> = vec![
        (
            "dataset and datasets",
            universe(json!({"dataset": "GOOG"})),
            json!(["body", "datasets"]),
            "value_error",
        ),
        (
            "neither dataset nor datasets",
            json!({"strategy": ew}),
            json!(["body", "dataset"]),
            "missing",
        ),
        (
            "unknown dataset in the list",
            universe(json!({"datasets": ["STOCKS", "NOPE"]})),
            json!(["body", "datasets", 1]),
            "value_error",
        ),
        (
            "unknown dataset in the map",
            universe(json!({"datasets": {"AAPL": "STOCKS", "XOM": "NOPE"}})),
            json!(["body", "datasets", "XOM"]),
            "value_error",
        ),
        (
            "a numeric symbol stays text",
            universe(json!({"datasets": {"7203": "NOPE"}})),
            json!(["body", "datasets", "7203"]),
            "value_error",
        ),
        (
            "a symbol a long dataset lacks",
            universe(json!({"datasets": {"TSLA": "STOCKS"}})),
            json!(["body", "datasets", "TSLA"]),
            "value_error",
        ),
        (
            "a symbol twice (the GOOG sample and STOCKS' GOOG)",
            universe(json!({"datasets": ["GOOG", "STOCKS"]})),
            json!(["body", "datasets", 1]),
            "value_error",
        ),
        (
            "not a dataset reference",
            universe(json!({"datasets": [7]})),
            json!(["body", "datasets", 0]),
            "type_error",
        ),
        (
            "empty universe",
            universe(json!({"datasets": []})),
            json!(["body", "datasets"]),
            "value_error",
        ),
        (
            "datasets of the wrong type",
            universe(json!({"datasets": "STOCKS"})),
            json!(["body", "datasets"]),
            "value_error",
        ),
        (
            "allocation parameter out of range",
            universe(json!({"strategy": {"name": "momentum_rotation", "params": {"top": 0}}})),
            json!(["body", "strategy", "params", "top"]),
            "value_error",
        ),
        (
            "allocation parameter out of range, one dataset",
            json!({"dataset": "GOOG", "strategy": {"name": "inverse_volatility", "params": {"lookback": 1}}}),
            json!(["body", "strategy", "params", "lookback"]),
            "value_error",
        ),
        (
            "bad rebalance",
            universe(
                json!({"strategy": {"name": "equal_weight", "params": {"rebalance": "fortnightly"}}}),
            ),
            json!(["body", "strategy", "params", "rebalance"]),
            "value_error",
        ),
        (
            "not a portfolio strategy",
            universe(json!({"strategy": {"name": "magic"}})),
            json!(["body", "strategy", "name"]),
            "value_error",
        ),
        (
            "fill invalid",
            universe(json!({"broker": {"fill": "tomorrow"}})),
            json!(["body", "broker", "fill"]),
            "value_error",
        ),
        (
            "call_seq invalid",
            universe(json!({"broker": {"call_seq": "random"}})),
            json!(["body", "broker", "call_seq"]),
            "value_error",
        ),
        (
            "fill on one asset",
            json!({"dataset": "GOOG", "strategy": {"name": "sma_cross"}, "broker": {"fill": "close"}}),
            json!(["body", "broker", "fill"]),
            "value_error",
        ),
        (
            "margin on a portfolio",
            universe(json!({"broker": {"margin": 0.5}})),
            json!(["body", "broker", "margin"]),
            "value_error",
        ),
    ];
    for (name, body, loc, kind) in cases {
        eprintln!("case: {name}");
        expect_422(&srv, "/v1/backtests", &body, loc, kind).await;
    }
    let sweep = |extra: Value| {
        with(
            json!({"datasets": ["STOCKS"], "strategy": {"name": "momentum_rotation"},
                   "grid": {"lookback": "63,126"}}),
            extra,
        )
    };
    let cases: Vec<(&str, Value, Value, &str)> = vec![
        (
            "dataset and datasets",
            sweep(json!({"dataset": "STOCKS"})),
            json!(["body", "datasets"]),
            "value_error",
        ),
        (
            "unknown dataset",
            sweep(json!({"datasets": {"AAPL": "nope"}})),
            json!(["body", "datasets", "AAPL"]),
            "value_error",
        ),
        (
            "grid of a parameter the portfolio strategy lacks",
            sweep(json!({"grid": {"fast": "5:20:5"}})),
            json!(["body", "grid", "fast"]),
            "value_error",
        ),
        (
            "grid out of range",
            sweep(json!({"grid": {"top": "0:2:1"}})),
            json!(["body", "grid", "top"]),
            "value_error",
        ),
        (
            "walk-forward windows out of range on a universe",
            sweep(json!({"walk_forward": {"train": 1, "test": 250}})),
            json!(["body", "walk_forward"]),
            "value_error",
        ),
        (
            "fill invalid",
            sweep(json!({"broker": {"fill": "later"}})),
            json!(["body", "broker", "fill"]),
            "value_error",
        ),
    ];
    for (name, body, loc, kind) in cases {
        eprintln!("case: {name}");
        expect_422(&srv, "/v1/sweeps", &body, loc, kind).await;
    }
    // Nothing invalid was queued.
    let (_, jobs) = srv.get("/v1/jobs").await;
    assert_eq!(jobs["total"], 0);
    srv.stop().await;
}
