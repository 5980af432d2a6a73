//! Job life cycles over HTTP.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{TestServer, long_sweep, upload, walk_csv};

#[tokio::test]
async fn upload_backtest_and_fetch_every_result_form() {
    let srv = TestServer::start(|_| {}).await;
    let goog = backtide_data::sample_csv("GOOG").unwrap().to_string();
    let first = upload(&srv, "goog", goog.clone()).await;
    assert_eq!(first["rows"], 2148);
    assert_eq!(first["first"], "2004-08-19T00:00:00");
    assert_eq!(
        first["columns"],
        json!(["Open", "High", "Low", "Close", "Volume"])
    );
    // Same content, same id.
    let again = upload(&srv, "goog", goog).await;
    assert_eq!(first["id"], again["id"]);
    let id = first["id"].as_str().unwrap();
    // The bundled GOOG has the same bytes: one dataset, reachable by both names.
    let (_, by_sample) = srv.get("/v1/datasets/GOOG").await;
    let (_, by_upload) = srv.get("/v1/datasets/goog").await;
    assert_eq!(
        (by_sample["id"].as_str(), by_upload["id"].as_str()),
        (Some(id), Some(id))
    );
    assert_eq!(
        (by_sample["name"].as_str(), by_upload["name"].as_str()),
        (Some("GOOG"), Some("goog"))
    );

    let request = json!({
        "dataset": id,
        "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 20}},
        "broker": {"commission": 0.002, "exclusive_orders": true},
    });
    let (status, job) = srv.post("/v1/backtests?wait=30", &request).await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["state"], "succeeded");
    // backtesting.py's README result for this configuration.
    let stats = &job["result"]["stats"];
    assert_eq!(stats["num_trades"], 93);
    let ret = stats["return_pct"].as_f64().unwrap();
    assert!((ret - 462.635_193_4).abs() < 1e-6, "{ret}");

    // The same configuration through the library path the CLI uses.
    let bars = backtide_data::sample("GOOG").unwrap();
    let info = backtide_core::strategy::builtin::find("sma_cross").unwrap();
    let params =
        backtide_core::Params::from_pairs(info.params, [("fast", "10"), ("slow", "20")]).unwrap();
    let cfg = backtide_core::BrokerConfig {
        commission: backtide_core::Commission::Relative(0.002),
        exclusive_orders: true,
        ..Default::default()
    };
    let run = backtide_core::run(&bars, info.build(&params).unwrap().as_mut(), &cfg).unwrap();
    let expected = backtide_data::backtest_json(
        &bars,
        &run,
        &cfg,
        backtide_core::Profile::BacktestingPy,
        "sma_cross",
        &params,
    );
    let jid = job["id"].as_str().unwrap();
    let (s, full) = srv
        .get(&format!("/v1/jobs/{jid}/result?limit=10000&points=0"))
        .await;
    assert_eq!(s, 200);
    for key in [
        "stats",
        "trades",
        "open_trades",
        "equity",
        "strategy",
        "profile",
    ] {
        assert_eq!(full[key], expected[key], "{key}");
    }
    assert_eq!(full["trades_total"], 93);

    // Paging and downsampling.
    let (_, page) = srv
        .get(&format!(
            "/v1/jobs/{jid}/result?offset=90&limit=10&points=100"
        ))
        .await;
    assert_eq!(page["trades"].as_array().unwrap().len(), 3);
    assert_eq!(page["trades"][0], expected["trades"][90]);
    let eq = page["equity"].as_array().unwrap();
    assert!(eq.len() <= 102 && eq.len() > 50, "{}", eq.len());
    assert_eq!(eq[0], expected["equity"][0]);
    assert_eq!(eq[eq.len() - 1], expected["equity"][2147]);
    assert_eq!(page["equity_total"], 2148);

    let text = |path: String| {
        let http = srv.http.clone();
        let url = srv.url(&path);
        async move {
            let r = http.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            r.bytes().await.unwrap()
        }
    };
    let trades = text(format!("/v1/jobs/{jid}/trades.csv")).await;
    assert_eq!(String::from_utf8_lossy(&trades).lines().count(), 94);
    let equity = text(format!("/v1/jobs/{jid}/equity.csv")).await;
    assert_eq!(String::from_utf8_lossy(&equity).lines().count(), 2149);
    let parquet = text(format!("/v1/jobs/{jid}/result.parquet")).await;
    assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"));
    let report = text(format!("/v1/jobs/{jid}/report.html")).await;
    let report = String::from_utf8_lossy(&report);
    assert!(report.starts_with("<!DOCTYPE html>") && report.contains("data-kind=\"backtest\""));
    // The report's trades are the job's: it was drawn from the same run.
    let again = text(format!("/v1/jobs/{jid}/report.html")).await;
    assert_eq!(report.as_bytes(), &again[..]);
    srv.stop().await;
}

/// Reads server-sent events until the stream closes: `(event, data)` pairs.
async fn events(srv: &TestServer, id: &str) -> Vec<(String, Value)> {
    let mut r = srv
        .http
        .get(srv.url(&format!("/v1/jobs/{id}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut buf = String::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(60), r.chunk())
        .await
        .expect("events stalled")
        .unwrap()
    {
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
    buf.split("\n\n")
        .filter_map(|block| {
            let mut event = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = Some(e.to_string());
                }
                if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).ok();
                }
            }
            Some((event?, data?))
        })
        .collect()
}

#[tokio::test]
async fn sweep_reports_progress_events_then_its_result() {
    let srv = TestServer::start(|_| {}).await;
    let ds = upload(&srv, "walk", walk_csv(3_000)).await;
    let (status, job) = srv
        .post(
            "/v1/sweeps",
            &json!({
                "dataset": "walk",
                "strategy": {"name": "sma_cross"},
                "grid": {"fast": "5:50:5", "slow": [20, 40, 60, 80, 100]},
                "constraint": "fast < slow",
                "objective": {"key": "sharpe_ratio"},
            }),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["dataset"], ds["id"]);
    let id = job["id"].as_str().unwrap();
    let evs = events(&srv, id).await;
    let (last_event, last) = evs.last().unwrap();
    assert_eq!(last_event, "end");
    assert_eq!(last["state"], "succeeded");
    let progress: Vec<f64> = evs
        .iter()
        .filter(|(e, _)| e == "progress")
        .map(|(_, d)| d["progress"].as_f64().unwrap())
        .collect();
    assert!(!progress.is_empty());
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");

    // fast in 5..=50 step 5, slow in {20,...,100}: pairs with fast < slow.
    let expected: usize = [20, 40, 60, 80, 100]
        .iter()
        .map(|s| (5..=50).step_by(5).filter(|f| f < s).count())
        .sum();
    let (s, result) = srv.get(&format!("/v1/jobs/{id}/result?limit=1000")).await;
    assert_eq!(s, 200);
    assert_eq!(result["combos_total"], expected);
    let combos = result["combos"].as_array().unwrap();
    let best = combos
        .iter()
        .filter_map(|c| c["stats"]["sharpe_ratio"].as_f64())
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(
        result["best"]["stats"]["sharpe_ratio"].as_f64().unwrap(),
        best
    );
    assert!(result["overfitting"]["pbo"].is_number() || result["overfitting"]["pbo"].is_null());
    assert!(result["overfitting"]["dsr"].is_number());
    let r = srv
        .http
        .get(srv.url(&format!("/v1/jobs/{id}/report.html")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("data-kind=\"sweep\"") && html.contains("\"objective\":\"sharpe_ratio\"")
    );
    // Events of a finished job: just the end.
    let again = events(&srv, id).await;
    assert_eq!(again.len(), 1);
    srv.stop().await;
}

#[tokio::test]
async fn cancelling_a_running_sweep_stops_it_within_a_second_and_keeps_what_finished() {
    let srv = TestServer::start(|_| {}).await;
    upload(&srv, "walk", walk_csv(20_000)).await;
    let (status, job) = srv.post("/v1/sweeps", &long_sweep("walk")).await;
    assert_eq!(status, 202);
    let id = job["id"].as_str().unwrap().to_string();
    srv.wait_for(&id, Duration::from_secs(60), |j| {
        j["state"] == "running" && j["progress"].as_f64().unwrap() > 0.0
    })
    .await;
    let asked = std::time::Instant::now();
    let (s, j) = srv.post(&format!("/v1/jobs/{id}/cancel"), &json!({})).await;
    assert_eq!(s, 202, "{j}");
    let done = srv.wait_done(&id, Duration::from_secs(5)).await;
    let took = asked.elapsed();
    assert_eq!(done["state"], "cancelled");
    assert!(
        took < Duration::from_millis(1_500),
        "stopped after {took:?}"
    );
    let (s, result) = srv.get(&format!("/v1/jobs/{id}/result?limit=1")).await;
    assert_eq!(s, 200, "{result}");
    let kept = result["combos_total"].as_u64().unwrap();
    assert!(kept > 0 && kept < 24_651, "{kept}");
    // Finished jobs cannot be cancelled again.
    let (s, _) = srv.post(&format!("/v1/jobs/{id}/cancel"), &json!({})).await;
    assert_eq!(s, 409);
    srv.stop().await;
}

#[tokio::test]
async fn a_full_queue_answers_429_with_retry_after() {
    let srv = TestServer::start(|c| c.queue_limit = 2).await;
    upload(&srv, "walk", walk_csv(20_000)).await;
    let (_, sweep) = srv.post("/v1/sweeps", &long_sweep("walk")).await;
    let sid = sweep["id"].as_str().unwrap().to_string();
    srv.wait_for(&sid, Duration::from_secs(60), |j| j["state"] == "running")
        .await;
    let small = json!({"dataset": "GOOG", "strategy": {"name": "sma_cross"}});
    let mut queued = Vec::new();
    for _ in 0..2 {
        let (s, j) = srv.post("/v1/backtests", &small).await;
        assert_eq!(s, 202, "{j}");
        queued.push(j["id"].as_str().unwrap().to_string());
    }
    let r = srv
        .http
        .post(srv.url("/v1/backtests"))
        .json(&small)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    // A queued job has no result yet; cancelling it is immediate.
    let (s, _) = srv.get(&format!("/v1/jobs/{}/result", queued[0])).await;
    assert_eq!(s, 409);
    let (s, j) = srv
        .post(&format!("/v1/jobs/{}/cancel", queued[0]), &json!({}))
        .await;
    assert_eq!((s, j["state"].as_str()), (200, Some("cancelled")));
    let (_, list) = srv.get("/v1/jobs?state=queued").await;
    assert_eq!(list["total"], 1);
    srv.post(&format!("/v1/jobs/{sid}/cancel"), &json!({}))
        .await;
    let last = srv.wait_done(&queued[1], Duration::from_secs(60)).await;
    assert_eq!(last["state"], "succeeded");
    srv.stop().await;
}

#[tokio::test]
async fn a_hundred_parallel_submissions_are_each_accepted_or_refused_and_none_is_lost() {
    let srv = TestServer::start(|c| {
        c.queue_limit = 40;
        c.workers = 2;
    })
    .await;
    let body = json!({"dataset": "GOOG", "strategy": {"name": "sma_cross", "params": {"fast": 5, "slow": 30}}});
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let http = srv.http.clone();
        let url = srv.url("/v1/backtests");
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap())
        }));
    }
    let mut accepted = Vec::new();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            (202, j) => accepted.push(j["id"].as_str().unwrap().to_string()),
            (429, _) => refused += 1,
            (s, j) => panic!("unexpected {s}: {j}"),
        }
    }
    assert_eq!(accepted.len() + refused, 100);
    assert!(accepted.len() >= 40, "{}", accepted.len());
    let mut digests = std::collections::BTreeSet::new();
    for id in &accepted {
        let j = srv.wait_done(id, Duration::from_secs(120)).await;
        assert_eq!(j["state"], "succeeded", "{j}");
        let (_, r) = srv
            .get(&format!("/v1/jobs/{id}/result?limit=0&points=2"))
            .await;
        digests.insert(r["stats"].to_string());
    }
    // Identical requests, identical results.
    assert_eq!(digests.len(), 1);
    let (_, list) = srv.get("/v1/jobs?limit=1000").await;
    assert_eq!(list["total"].as_u64().unwrap() as usize, accepted.len());
    srv.stop().await;
}

#[tokio::test]
async fn auth_guards_writes_and_job_reads_but_not_health_or_docs() {
    let srv =
        TestServer::start(|c| c.token = Some(backtide_server::Token::new("s3cret").unwrap())).await;
    let status = |path: &'static str, token: Option<&'static str>| {
        let http = srv.http.clone();
        let url = srv.url(path);
        async move {
            let mut rq = http.get(url);
            if let Some(t) = token {
                rq = rq.bearer_auth(t);
            }
            rq.send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(status("/v1/jobs", None).await, 401);
    assert_eq!(status("/v1/jobs", Some("wrong")).await, 401);
    assert_eq!(status("/v1/jobs", Some("s3cre")).await, 401);
    assert_eq!(status("/v1/jobs", Some("s3cret")).await, 200);
    assert_eq!(status("/v1/datasets", None).await, 401);
    for open in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs/",
        "/v1/strategies",
    ] {
        assert_eq!(status(open, None).await, 200, "{open}");
    }
    let body = json!({"dataset": "GOOG", "strategy": {"name": "sma_cross"}});
    let r = srv
        .http
        .post(srv.url("/v1/backtests"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let r = srv
        .http
        .post(srv.url("/v1/backtests?wait=30"))
        .bearer_auth("s3cret")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    srv.stop().await;

    let open = TestServer::start(|_| {}).await;
    let (s, _) = open.get("/v1/jobs").await;
    assert_eq!(s, 200);
    open.stop().await;
}

#[tokio::test]
async fn a_dataset_in_use_cannot_be_deleted() {
    let srv = TestServer::start(|_| {}).await;
    let ds = upload(&srv, "walk", walk_csv(20_000)).await;
    let id = ds["id"].as_str().unwrap();
    let (_, sweep) = srv.post("/v1/sweeps", &long_sweep(id)).await;
    let sid = sweep["id"].as_str().unwrap().to_string();
    let r = srv
        .http
        .delete(srv.url(&format!("/v1/datasets/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    srv.post(&format!("/v1/jobs/{sid}/cancel"), &json!({}))
        .await;
    srv.wait_done(&sid, Duration::from_secs(30)).await;
    let r = srv
        .http
        .delete(srv.url(&format!("/v1/datasets/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (s, _) = srv.get(&format!("/v1/datasets/{id}")).await;
    assert_eq!(s, 404);
    srv.stop().await;
}

#[tokio::test]
async fn metrics_count_jobs_and_requests() {
    let srv = TestServer::start(|_| {}).await;
    let (s, _) = srv
        .post(
            "/v1/backtests?wait=30",
            &json!({"dataset": "GOOG", "strategy": {"name": "sma_cross"}}),
        )
        .await;
    assert_eq!(s, 200);
    let text = srv
        .http
        .get(srv.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("backtide_jobs{state=\"succeeded\"} 1"),
        "{text}"
    );
    assert!(text.contains("backtide_queue_depth 0"));
    assert!(text.contains("backtide_job_run_seconds_count{kind=\"backtest\"} 1"));
    assert!(text.contains("route=\"/v1/backtests\",status=\"200\""));
    srv.stop().await;
}
