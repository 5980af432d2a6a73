//! Generated requests against the router: whatever arrives, the answer is never a 5xx.
//!
//! Bodies start from valid backtest and sweep requests and are mutated (fields removed,
//! replaced by values of every JSON type, unknown fields added), plus raw bytes and random
//! paths and queries. The router is driven in-process; jobs queue without workers, so
//! 429s are part of the space too.

use axum::body::Body;
use axum::http::Request;
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(1e308)),
        "[a-z_:,<> 0-9.]{0,12}".prop_map(Value::from),
        Just(json!("5:50:5")),
        Just(json!("sma_cross")),
        Just(json!("GOOG")),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn base_bodies() -> Vec<(&'static str, Value)> {
    vec![
        (
            "/v1/backtests",
            json!({
                "dataset": "GOOG",
                "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 20}},
                "broker": {"cash": 10000, "commission": 0.002, "margin": 1.0, "exclusive_orders": true},
                "profile": "backtesting_py"
            }),
        ),
        (
            "/v1/sweeps",
            json!({
                "dataset": "GOOG",
                "strategy": {"name": "sma_cross", "params": {"direction": "long_only"}},
                "grid": {"fast": "5:20:5", "slow": [30, 40]},
                "constraint": "fast < slow",
                "objective": {"key": "sharpe_ratio", "maximize": true},
                "method": {"kind": "random", "samples": 3, "seed": 1},
                "walk_forward": {"train": 500, "test": 250},
                "pbo_blocks": 4,
                "profile": "vectorbt"
            }),
        ),
        (
            "/v1/backtests",
            json!({
                "datasets": {"AAPL": "STOCKS", "GOOG": "GOOG"},
                "strategy": {"name": "momentum_rotation", "params": {"lookback": 20, "top": 1}},
                "broker": {"cash": 10000, "commission": 0.001, "call_seq": "auto", "fill": "next_open"},
                "profile": "vectorbt"
            }),
        ),
    ]
}

/// Paths to every field of a JSON value.
fn field_paths(v: &Value, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Value::Object(m) = v {
        for (k, child) in m {
            let mut p = prefix.clone();
            p.push(k.clone());
            out.push(p.clone());
            field_paths(child, p, out);
        }
    }
}

fn mutate(mut body: Value, pick: usize, action: u8, replacement: Value, extra: String) -> Value {
    let mut paths = Vec::new();
    field_paths(&body, vec![], &mut paths);
    let path = &paths[pick % paths.len()];
    let (last, parents) = path.split_last().unwrap();
    let mut node = &mut body;
    for p in parents {
        node = &mut node[p.as_str()];
    }
    let obj = node.as_object_mut().unwrap();
    match action % 3 {
        0 => {
            obj.remove(last);
        }
        1 => {
            obj.insert(last.clone(), replacement);
        }
        _ => {
            obj.insert(extra, replacement);
        }
    }
    body
}

#[derive(Debug, Clone)]
struct Req {
    method: &'static str,
    uri: String,
    body: Vec<u8>,
    content_type: Option<&'static str>,
}

fn request() -> impl Strategy<Value = Req> {
    let mutated = (
        0usize..3,
        prop::collection::vec(
            (any::<usize>(), any::<u8>(), json_value(), "[a-z]{1,6}"),
            1..4,
        ),
        prop_oneof![
            Just(""),
            Just("?wait=0.01"),
            Just("?wait=-1"),
            Just("?wait=abc"),
            Just("?wait=1e9")
        ],
    )
        .prop_map(|(which, muts, query)| {
            let (path, mut body) = base_bodies().swap_remove(which);
            for (pick, action, v, extra) in muts {
                body = mutate(body, pick, action, v, extra);
            }
            Req {
                method: "POST",
                uri: format!("{path}{query}"),
                body: serde_json::to_vec(&body).unwrap(),
                content_type: Some("application/json"),
            }
        });
    let raw = (
        prop_oneof![
            Just("/v1/backtests"),
            Just("/v1/sweeps"),
            Just("/v1/datasets?name=x"),
            Just("/v1/datasets")
        ],
        prop::collection::vec(any::<u8>(), 0..200),
        prop_oneof![
            Just(None),
            Just(Some("application/json")),
            Just(Some("multipart/form-data; boundary=b")),
            Just(Some("text/csv"))
        ],
    )
        .prop_map(|(uri, body, content_type)| Req {
            method: "POST",
            uri: uri.to_string(),
            body,
            content_type,
        });
    let reads = (
        prop_oneof![Just("GET"), Just("POST"), Just("DELETE"), Just("PUT")],
        prop_oneof![
            Just("/v1/jobs"),
            Just("/v1/jobs/"),
            Just("/v1/datasets/"),
            Just("/v1/strategies"),
            Just("/healthz"),
            Just("/metrics"),
            Just("/openapi.json")
        ],
        "[a-zA-Z0-9%._-]{0,40}",
        prop_oneof![
            Just(""),
            Just("/result"),
            Just("/events"),
            Just("/cancel"),
            Just("/trades.csv"),
            Just("/result.parquet")
        ],
        prop_oneof![
            Just(String::new()),
            "\\?(state|limit|offset|points)=[a-z0-9-]{0,6}".prop_map(String::from)
        ],
    )
        .prop_map(|(method, base, id, tail, query)| Req {
            method,
            uri: format!("{base}{id}{tail}{query}"),
            body: vec![],
            content_type: None,
        });
    prop_oneof![4 => mutated, 2 => raw, 2 => reads]
}

#[test]
fn no_generated_request_gets_a_5xx() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = crate::common::config(dir.path());
    cfg.max_combinations = 500;
    cfg.queue_limit = 20;
    cfg.max_wait_secs = 1;
    cfg.max_body_bytes = 64 * 1024;
    let state = rt
        .block_on(async {
            tokio::task::spawn_blocking(move || backtide_server::AppState::open(cfg)).await
        })
        .unwrap()
        .unwrap();
    let app = backtide_server::app(state);
    let config = ProptestConfig {
        cases: 600,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(req in request())| {
        // Skip URIs the HTTP layer itself would reject before reaching us.
        let Ok(uri) = req.uri.parse::<axum::http::Uri>() else { return Ok(()); };
        let mut b = Request::builder().method(req.method).uri(uri);
        if let Some(ct) = req.content_type {
            b = b.header("content-type", ct);
        }
        let request = b.body(Body::from(req.body.clone())).unwrap();
        let response = rt.block_on(app.clone().oneshot(request)).unwrap();
        let status = response.status();
        prop_assert!(
            !status.is_server_error(),
            "{} {} with body {:?} -> {}",
            req.method,
            req.uri,
            String::from_utf8_lossy(&req.body),
            status
        );
    });
}
