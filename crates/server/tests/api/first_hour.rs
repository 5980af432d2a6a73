//! The service's part of the "first hour with your own data" issue: sweep results in the
//! order a user asks for, and dataset names that do not silently change what they mean.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{TestServer, upload, walk_csv};

#[tokio::test]
async fn sweep_results_sort_by_a_statistic() {
    let srv = TestServer::start(|_| {}).await;
    let body = json!({"dataset": "GOOG", "strategy": {"name": "sma_cross"},
        "grid": {"fast": "5:30:5", "slow": "40:80:20"}, "pbo_blocks": 0});
    let (s, job) = srv.post("/v1/sweeps?wait=60", &body).await;
    assert_eq!(
        (s, job["state"].as_str()),
        (200, Some("succeeded")),
        "{job}"
    );
    let id = job["id"].as_str().unwrap();
    let (_, all) = srv.get(&format!("/v1/jobs/{id}/result?limit=10000")).await;
    let sharpe = |c: &Value| c["stats"]["sharpe_ratio"].as_f64().unwrap_or(f64::NAN);
    let mut expected: Vec<Value> = all["combos"].as_array().unwrap().clone();
    // Largest first; ties keep the grid's order (a stable sort of the grid's order).
    expected.sort_by(|a, b| sharpe(b).total_cmp(&sharpe(a)));
    let (s, top) = srv
        .get(&format!("/v1/jobs/{id}/result?sort=sharpe_ratio&limit=3"))
        .await;
    assert_eq!(s, 200, "{top}");
    assert_eq!(top["combos"], json!(expected[..3]), "{top}");
    assert_eq!(
        (top["sort"].as_str(), top["order"].as_str()),
        (Some("sharpe_ratio"), Some("desc"))
    );
    assert_eq!(top["combos_total"], all["combos_total"]);
    let (_, worst) = srv
        .get(&format!(
            "/v1/jobs/{id}/result?sort=sharpe_ratio&order=asc&limit=1&offset=0"
        ))
        .await;
    assert_eq!(worst["combos"][0], expected[expected.len() - 1]);
    // Unknown keys and misplaced options are 422s naming the field.
    for (query, field) in [
        ("sort=sharp_ratio", "sort"),
        ("order=desc", "order"),
        ("sort=sharpe_ratio&order=down", "order"),
        ("sortt=sharpe_ratio", "sortt"),
    ] {
        let (s, v) = srv.get(&format!("/v1/jobs/{id}/result?{query}")).await;
        assert_eq!(s, 422, "{query}: {v}");
        assert_eq!(
            v["detail"][0]["loc"],
            json!(["query", field]),
            "{query}: {v}"
        );
    }
    let (_, v) = srv
        .get(&format!("/v1/jobs/{id}/result?sort=sharp_ratio"))
        .await;
    assert!(
        v["detail"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("sharpe_ratio"),
        "the known keys are listed: {v}"
    );
    // A backtest has no combinations to sort.
    let bt = srv.sma_cross_done(&json!("GOOG")).await;
    let (s, v) = srv
        .get(&format!(
            "/v1/jobs/{}/result?sort=sharpe_ratio",
            bt["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        (s, v["detail"][0]["loc"].clone()),
        (422, json!(["query", "sort"])),
        "{v}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn a_name_keeps_its_meaning_unless_replaced() {
    let srv = TestServer::start(|_| {}).await;
    let first = upload(&srv, "mine", walk_csv(300)).await;
    // The same content again: the same dataset.
    let again = upload(&srv, "mine", walk_csv(300)).await;
    assert_eq!(again["id"], first["id"]);
    // Other content under the name: 409, nothing changes, nothing is kept.
    let other = walk_csv(400);
    let (s, v) = srv
        .post_bytes("/v1/datasets?name=mine", other.clone())
        .await;
    assert_eq!(s, 409, "{v}");
    let msg = v["detail"].as_str().unwrap();
    assert!(
        msg.contains("replace=true") && msg.contains(first["id"].as_str().unwrap()),
        "{msg}"
    );
    let (_, d) = srv.get("/v1/datasets/mine").await;
    assert_eq!(d["id"], first["id"]);
    let files = std::fs::read_dir(srv.data_dir().join("datasets"))
        .unwrap()
        .count();
    // With ?replace=true the name moves; its history lists the old id, still usable.
    let (s, v) = srv
        .post_bytes("/v1/datasets?name=mine&replace=true", other)
        .await;
    assert_eq!(s, 201, "{v}");
    assert_ne!(v["id"], first["id"]);
    assert_eq!(v["previous"], json!([first["id"]]));
    let (_, d) = srv.get("/v1/datasets/mine").await;
    assert_eq!(
        (d["rows"].as_u64(), d["previous"].clone()),
        (Some(400), json!([first["id"]]))
    );
    let (_, list) = srv.get("/v1/datasets").await;
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "mine")
        .unwrap();
    assert_eq!(listed["previous"], json!([first["id"]]));
    assert_eq!(
        std::fs::read_dir(srv.data_dir().join("datasets"))
            .unwrap()
            .count(),
        files + 1
    );
    let job = srv.sma_cross_done(&json!(first["id"])).await;
    // Deleting the name takes its history: both contents go (no other name uses them).
    assert_eq!(srv.delete("/v1/datasets/mine").await, 204);
    srv.wait_done(job["id"].as_str().unwrap(), Duration::from_secs(5))
        .await;
    assert_eq!(
        srv.get(&format!("/v1/datasets/{}", first["id"].as_str().unwrap()))
            .await
            .0,
        404
    );
    srv.stop().await;
}

/// A backtest measured against an uploaded benchmark: the result's `benchmark` block is the
/// CLI's (`backtide run --benchmark`, checked there against pandas), the name is pinned to
/// its content at submission, and what cannot work is a 422 at `["body","benchmark"]`.
#[tokio::test]
async fn a_backtest_measured_against_a_benchmark_dataset() {
    let srv = TestServer::start(|_| {}).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let msft = std::fs::read_to_string(root.join("crates/data/samples/stocks/MSFT.csv")).unwrap();
    let up = upload(&srv, "MSFT", msft).await;
    let body = json!({
        "dataset": "GOOG",
        "strategy": {"name": "sma_cross",
                     "params": {"fast": 10, "slow": 20, "direction": "long_short"}},
        "broker": {"commission": 0.002, "exclusive_orders": true},
        "benchmark": "MSFT"
    });
    let (s, job) = srv.post("/v1/backtests?wait=60", &body).await;
    assert_eq!(
        (s, job["state"].as_str()),
        (200, Some("succeeded")),
        "{}",
        job["error"]
    );
    let b = &job["result"]["benchmark"];
    // Pinned to its content at submission: a later upload under the name changes nothing.
    assert_eq!(b["name"], up["id"], "{b}");
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("testdata/benchmark/reference.json")).unwrap(),
    )
    .unwrap();
    let want = &reference["cases"][0];
    assert_eq!(want["benchmark"], "crates/data/samples/stocks/MSFT.csv");
    assert_eq!(b["bars_filled"], want["filled"]);
    for (k, v) in want["stats"].as_object().unwrap() {
        let (x, y) = (b["stats"][k].as_f64().unwrap(), v.as_f64().unwrap());
        assert!((x - y).abs() <= 1e-9 * y.abs().max(1.0), "{k}: {x} vs {y}");
    }
    // The report draws it.
    let id = job["id"].as_str().unwrap();
    let html = srv
        .http
        .get(srv.url(&format!("/v1/jobs/{id}/report.html")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("\"bench_name\":"),
        "no benchmark in the report: {}",
        &html[..html.len().min(300)]
    );

    for (benchmark, data, says) in [
        (json!("NOPE"), json!("GOOG"), "dataset `NOPE` not found"),
        (
            json!("BTCUSD"),
            json!("GOOG"),
            "the benchmark starts 2012-01-31, after the run's first bar 2004-08-19",
        ),
        (json!("STOCKS"), json!("GOOG"), "is long-format"),
        (json!("MSFT"), json!("STOCKS"), "one-asset backtests"),
    ] {
        let body = json!({"dataset": data, "strategy": {"name": "sma_cross"},
                          "benchmark": benchmark});
        let (s, v) = srv.post("/v1/backtests", &body).await;
        assert_eq!(s, 422, "{v}");
        assert_eq!(v["detail"][0]["loc"], json!(["body", "benchmark"]), "{v}");
        let msg = v["detail"][0]["msg"].as_str().unwrap();
        assert!(msg.contains(says), "`{msg}` lacks `{says}`");
    }
    let sweep = json!({"dataset": "GOOG", "strategy": {"name": "sma_cross"},
        "grid": {"fast": "5,10"}, "benchmark": "MSFT"});
    let (s, v) = srv.post("/v1/sweeps", &sweep).await;
    assert_eq!(s, 422, "a sweep takes no benchmark: {v}");
    srv.stop().await;
}
