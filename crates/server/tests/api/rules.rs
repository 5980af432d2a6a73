//! `rules` through the service: the same strings as the CLI, the same numbers as the
//! built-in they restate, `$parameters` swept like any parameter, and every error class
//! a 422 at the expression's field with the column in the message.

use serde_json::{Value, json};

use crate::common::TestServer;

fn rules(params: Value) -> Value {
    json!({"dataset": "GOOG", "strategy": {"name": "rules", "params": params}})
}

#[tokio::test]
async fn a_rules_backtest_equals_the_builtin_it_restates() {
    let srv = TestServer::start(|_| {}).await;
    let (s, builtin) = srv
        .post(
            "/v1/backtests?wait=30",
            &json!({"dataset": "GOOG", "strategy": {"name": "rsi_reversion", "params": {"period": 14}}}),
        )
        .await;
    assert_eq!(s, 200, "{builtin}");
    let (s, ours) = srv
        .post(
            "/v1/backtests?wait=30",
            &rules(json!({"entry": "rsi(close, 14) < 30", "exit": "rsi(close, 14) > 70"})),
        )
        .await;
    assert_eq!(s, 200, "{ours}");
    assert_eq!(ours["state"], "succeeded");
    assert_eq!(ours["result"]["stats"], builtin["result"]["stats"]);
    assert!(ours["result"]["stats"]["num_trades"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn a_sweep_over_dollar_parameters() {
    let srv = TestServer::start(|_| {}).await;
    let body = json!({
        "dataset": "GOOG",
        "strategy": {"name": "rules", "params": {
            "entry": "crossover(ema(close, $fast), ema(close, $slow))",
            "exit": "crossunder(ema(close, $fast), ema(close, $slow))"}},
        "grid": {"fast": "5:15:5", "slow": [20, 40]},
        "constraint": "fast < slow",
    });
    let (s, job) = srv.post("/v1/sweeps?wait=60", &body).await;
    assert_eq!(s, 200, "{job}");
    assert_eq!(job["state"], "succeeded", "{job}");
    let id = job["id"].as_str().unwrap();
    let (s, result) = srv.get(&format!("/v1/jobs/{id}/result?limit=100")).await;
    assert_eq!(s, 200);
    assert_eq!(result["combos_total"], 6);
    let combo = &result["combos"][0];
    assert_eq!(combo["params"]["fast"], 5, "{combo}");
    assert_eq!(combo["params"]["slow"], 20, "{combo}");
}

async fn expect_422(srv: &TestServer, path: &str, body: &Value, loc: Value, words: &[&str]) {
    let (s, r) = srv.post(path, body).await;
    assert_eq!(s, 422, "{body} -> {r}");
    let d = &r["detail"][0];
    assert_eq!(d["loc"], loc, "{body} -> {r}");
    let msg = d["msg"].as_str().unwrap();
    for w in words {
        assert!(msg.contains(w), "{msg:?} lacks {w:?}");
    }
}

#[tokio::test]
async fn every_error_class_is_a_422_at_the_expression() {
    let srv = TestServer::start(|_| {}).await;
    let at = |p: &str| json!(["body", "strategy", "params", p]);
    let cases: Vec<(Value, Value, Vec<&str>)> = vec![
        (
            rules(json!({"entry": "rsi(close, ) < 30"})),
            at("entry"),
            vec!["expected an operand", "column 12", "rsi(close, ) < 30"],
        ),
        (
            rules(json!({"entry": "rsii(close, 14) < 30"})),
            at("entry"),
            vec!["unknown function `rsii`", "did you mean `rsi`", "column 1"],
        ),
        (
            rules(json!({"entry": "close > 1", "exit": "clsoe < 1"})),
            at("exit"),
            vec!["unknown series `clsoe`", "`close`"],
        ),
        (
            rules(json!({"entry": "sma(close, 20)"})),
            at("entry"),
            vec![
                "entry must be a condition",
                "got a number series",
                "column 1",
            ],
        ),
        (
            rules(json!({"entry": "close > 1 and volume"})),
            at("entry"),
            vec![
                "`and` needs conditions on both sides",
                "on the right",
                "column 15",
            ],
        ),
        (
            rules(json!({"entry": "close > shift(close, -3)"})),
            at("entry"),
            vec!["look-ahead", "column 22"],
        ),
        (
            rules(json!({"entry": "close > sma(close, $n)"})),
            at("n"),
            vec!["is required", "$n"],
        ),
        (
            rules(json!({"entry": "close > sma(close, $n)", "n": 2.5})),
            at("n"),
            vec!["expected an integer"],
        ),
    ];
    for (body, loc, words) in &cases {
        expect_422(&srv, "/v1/backtests", body, loc.clone(), words).await;
    }
    // A sweep's grid over a name the expressions do not use.
    let body = json!({
        "dataset": "GOOG",
        "strategy": {"name": "rules", "params": {"entry": "close > sma(close, $n)"}},
        "grid": {"m": "5:10:5"},
    });
    expect_422(
        &srv,
        "/v1/sweeps",
        &body,
        json!(["body", "grid", "m"]),
        &["not a parameter of rules"],
    )
    .await;
}
