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
