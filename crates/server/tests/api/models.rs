//! `/v1/models` and `onnx_model` jobs.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::TestServer;

pub(crate) fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/models")
        .join(name)
}

pub(crate) async fn upload(
    srv: &TestServer,
    name: &str,
    model: &[u8],
    spec: Option<&str>,
) -> (u16, Value) {
    let mut body = Vec::new();
    body.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"model\"; filename=\"m.onnx\"\r\nContent-Type: application/octet-stream\r\n\r\n");
    body.extend_from_slice(model);
    body.extend_from_slice(b"\r\n");
    if let Some(spec) = spec {
        body.extend_from_slice(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"features\"\r\n\r\n",
        );
        body.extend_from_slice(spec.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--XyZ--\r\n");
    let r = srv
        .http
        .post(srv.url(&format!("/v1/models?name={name}")))
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn uploaded_models_run_backtests_and_threshold_sweeps() {
    let srv = TestServer::start(|_| {}).await;
    let spec = std::fs::read_to_string(fixture("tiny.features.json")).unwrap();
    let tiny = std::fs::read(fixture("tiny.onnx")).unwrap();
    let (s, m) = upload(&srv, "tiny", &tiny, Some(&spec)).await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(m["width"], 6);
    assert_eq!(m["inputs"][5], "sma_10_over_sma_50");
    let id = m["id"].as_str().unwrap().to_string();
    let (s, list) = srv.get("/v1/models").await;
    assert_eq!((s, list.as_array().unwrap().len()), (200, 1));

    let body = json!({"dataset": "GOOG", "strategy": {"name": "onnx_model", "params": {"model": "tiny", "direction": "long_short"}}});
    let (s, job) = srv.post("/v1/backtests?wait=60", &body).await;
    assert_eq!(s, 200, "{job}");
    let result = &job["result"];
    assert_eq!(result["strategy"]["params"]["model"], json!(id));

    // The same run in-process with the files.
    let bars = backtide_data::sample("GOOG").unwrap();
    let info = backtide_models::find_strategy("onnx_model").unwrap();
    let (mp, sp) = (fixture("tiny.onnx"), fixture("tiny.features.json"));
    let params = backtide_core::Params::from_pairs(
        info.params,
        [
            ("model", mp.to_str().unwrap()),
            ("features", sp.to_str().unwrap()),
            ("direction", "long_short"),
        ],
    )
    .unwrap();
    let run = backtide_core::run(
        &bars,
        info.build(&params).unwrap().as_mut(),
        &Default::default(),
    )
    .unwrap();
    let stats = backtide_data::stats_json(&backtide_core::stats::compute(&bars, &run));
    assert_eq!(result["stats"], Value::Object(stats));
    assert_eq!(
        result["trades_total"].as_u64().unwrap() as usize,
        run.trades.len()
    );

    let sweep = json!({
        "dataset": "GOOG",
        "strategy": {"name": "onnx_model", "params": {"model": id}},
        "grid": {"enter": "0.5:0.6:0.05", "exit": [0.4, 0.45]},
        "constraint": "exit <= enter",
        "objective": {"key": "sharpe_ratio"},
        "pbo_blocks": 0,
    });
    let (s, job) = srv.post("/v1/sweeps", &sweep).await;
    assert_eq!(s, 202, "{job}");
    let done = srv
        .wait_done(job["id"].as_str().unwrap(), Duration::from_secs(120))
        .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let (_, r) = srv
        .get(&format!("/v1/jobs/{}/result", done["id"].as_str().unwrap()))
        .await;
    assert_eq!(r["combos_total"], 6);
    srv.stop().await;
}

#[tokio::test]
async fn bad_models_and_references_are_422() {
    let srv = TestServer::start(|_| {}).await;
    let spec = std::fs::read_to_string(fixture("tiny.features.json")).unwrap();
    for (file, needle) in [
        ("bad_corrupt.onnx", "not a valid ONNX model"),
        (
            "bad_width.onnx",
            "takes 4 features per row, the feature spec gives 6",
        ),
        ("bad_operator.onnx", "FooBar"),
        ("bad_output.onnx", "one value per row"),
    ] {
        let (s, v) = upload(
            &srv,
            "bad",
            &std::fs::read(fixture(file)).unwrap(),
            Some(&spec),
        )
        .await;
        assert_eq!(s, 422, "{file}: {v}");
        assert_eq!(v["detail"][0]["loc"], json!(["body", "model"]), "{file}");
        let msg = v["detail"][0]["msg"].as_str().unwrap();
        assert!(msg.contains(needle), "{file}: {msg}");
        assert!(
            !msg.contains(".upload-"),
            "{file} leaks a server path: {msg}"
        );
    }
    let tiny = std::fs::read(fixture("tiny.onnx")).unwrap();
    let (s, v) = upload(
        &srv,
        "x",
        &tiny,
        Some("{\"features\": [{\"kind\": \"nope\"}]}"),
    )
    .await;
    assert_eq!(
        (s, v["detail"][0]["loc"].clone()),
        (422, json!(["body", "features"])),
        "{v}"
    );
    let (s, v) = upload(&srv, "x", &tiny, None).await;
    assert_eq!(
        (s, v["detail"][0]["type"].as_str()),
        (422, Some("missing")),
        "{v}"
    );
    let (_, list) = srv.get("/v1/models").await;
    assert_eq!(list, json!([]));
    // No model directory is left behind by refused uploads.
    let leftovers = std::fs::read_dir(srv.data_dir().join("models"))
        .unwrap()
        .count();
    assert_eq!(leftovers, 0);

    let (s, v) = srv
        .post("/v1/backtests", &json!({"dataset": "GOOG", "strategy": {"name": "onnx_model", "params": {"model": "nope"}}}))
        .await;
    assert_eq!(
        (s, v["detail"][0]["loc"].clone()),
        (422, json!(["body", "strategy", "params", "model"])),
        "{v}"
    );
    let (s, v) = srv
        .post("/v1/backtests", &json!({"dataset": "GOOG", "strategy": {"name": "onnx_model", "params": {"model": "nope", "features": "/etc/passwd"}}}))
        .await;
    assert_eq!(
        (s, v["detail"][0]["loc"].clone()),
        (422, json!(["body", "strategy", "params", "features"])),
        "{v}"
    );
    srv.stop().await;
}
