//! One test per finding of the outside review of `backtide serve` (the service-hardening
//! issue), each named for its finding and failing before the change that fixed it.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{TestServer, upload};
use crate::models::{fixture, upload as upload_model};

/// Uploads the tiny test model and returns its id.
async fn tiny_model(srv: &TestServer) -> String {
    let spec = std::fs::read_to_string(fixture("tiny.features.json")).unwrap();
    let tiny = std::fs::read(fixture("tiny.onnx")).unwrap();
    let (s, m) = upload_model(srv, "tiny", &tiny, Some(&spec)).await;
    assert_eq!(s, 201, "{m}");
    m["id"].as_str().unwrap().to_string()
}

/// Every text the server could show of a finished job: its view, its result in each form
/// and its report.
async fn everything_shown(srv: &TestServer, id: &str) -> String {
    let mut all = String::new();
    for path in [
        "",
        "/result",
        "/result.parquet",
        "/report.html",
        "/trades.csv",
    ] {
        let r = srv
            .http
            .get(srv.url(&format!("/v1/jobs/{id}{path}")))
            .send()
            .await
            .unwrap();
        all.push_str(&String::from_utf8_lossy(&r.bytes().await.unwrap()));
    }
    all
}

#[tokio::test]
async fn finding_01_a_grid_cannot_name_server_files() {
    let srv = TestServer::start(|_| {}).await;
    let model = tiny_model(&srv).await;
    for (param, values) in [
        ("features", json!(["/etc/passwd"])),
        ("features", json!("/dev/zero")),
        ("model", json!(["/etc/passwd", model])),
    ] {
        for walk_forward in [Value::Null, json!({"train": 500, "test": 250})] {
            let mut body = json!({
                "dataset": "GOOG",
                "strategy": {"name": "onnx_model", "params": {"model": model}},
                "grid": {param: values, "enter": [0.5, 0.6]},
                "pbo_blocks": 0,
            });
            if !walk_forward.is_null() {
                body["walk_forward"] = walk_forward.clone();
            }
            let (s, v) = srv.post("/v1/sweeps", &body).await;
            assert_eq!(s, 422, "{param}={values}: {v}");
            assert_eq!(v["detail"][0]["loc"], json!(["body", "grid", param]), "{v}");
            let msg = v["detail"][0]["msg"].as_str().unwrap();
            assert!(msg.contains("cannot be swept"), "{msg}");
        }
    }
    // Nor a fixed parameter, in a backtest or a sweep.
    for path in ["/v1/backtests", "/v1/sweeps"] {
        let mut body = json!({
            "dataset": "GOOG",
            "strategy": {"name": "onnx_model", "params": {"model": "/etc/passwd"}},
        });
        if path == "/v1/sweeps" {
            body["grid"] = json!({"enter": [0.5, 0.6]});
        }
        let (s, v) = srv.post(path, &body).await;
        assert_eq!(s, 422, "{v}");
        assert_eq!(
            v["detail"][0]["loc"],
            json!(["body", "strategy", "params", "model"])
        );
    }
    let (_, jobs) = srv.get("/v1/jobs").await;
    assert_eq!(jobs["total"], 0, "nothing was accepted: {jobs}");
    srv.stop().await;
}

#[tokio::test]
async fn finding_02_results_and_errors_never_show_server_paths() {
    let srv = TestServer::start(|_| {}).await;
    let dir = srv.data_dir().to_string_lossy().into_owned();
    let model = tiny_model(&srv).await;
    let backtest = json!({"dataset": "GOOG",
        "strategy": {"name": "onnx_model", "params": {"model": model}}});
    let sweep = json!({"dataset": "GOOG",
        "strategy": {"name": "onnx_model", "params": {"model": model}},
        "grid": {"enter": [0.5, 0.55], "exit": [0.4, 0.45]}, "pbo_blocks": 0});
    let walk = json!({"dataset": "GOOG",
        "strategy": {"name": "onnx_model", "params": {"model": model}},
        "grid": {"enter": [0.5, 0.55]}, "walk_forward": {"train": 1000, "test": 500}});
    for (path, body) in [
        ("/v1/backtests", &backtest),
        ("/v1/sweeps", &sweep),
        ("/v1/sweeps", &walk),
    ] {
        let (s, job) = srv.post(path, body).await;
        assert_eq!(s, 202, "{job}");
        let id = job["id"].as_str().unwrap();
        let done = srv.wait_done(id, Duration::from_secs(120)).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        let (_, r) = srv.get(&format!("/v1/jobs/{id}/result")).await;
        let shown = match r.get("best") {
            Some(best) => &best["params"]["model"],
            None if r.get("walk_forward").is_some() => {
                &r["walk_forward"]["windows"][0]["params"]["model"]
            }
            None => &r["strategy"]["params"]["model"],
        };
        assert_eq!(shown, &json!(model), "{path}: {r}");
        let all = everything_shown(&srv, id).await;
        assert!(!all.contains(&dir), "{path} shows the data directory");
        assert!(!all.contains("model.onnx"), "{path} shows a stored file");
    }

    // A job whose stored data turns out unreadable fails with a message that names the
    // dataset's file within the store, never the data directory.
    let d = upload(&srv, "walk", crate::common::walk_csv(300)).await;
    let file = srv
        .data_dir()
        .join("datasets")
        .join(format!("{}.csv", d["id"].as_str().unwrap()));
    std::fs::write(&file, "Date,Open\nnot a date,1\n").unwrap();
    let (s, job) = srv
        .post(
            "/v1/backtests",
            &json!({"dataset": "walk", "strategy": {"name": "sma_cross"}}),
        )
        .await;
    assert_eq!(s, 202, "{job}");
    let done = srv
        .wait_done(job["id"].as_str().unwrap(), Duration::from_secs(60))
        .await;
    assert_eq!(done["state"], "failed", "{done}");
    let error = done["error"].as_str().unwrap();
    assert!(!error.contains(&dir), "{error}");
    assert!(error.contains("datasets/"), "{error}");
    srv.stop().await;
}

#[tokio::test]
async fn finding_05_walk_forward_windows_are_checked_before_acceptance() {
    let srv = TestServer::start(|_| {}).await;
    let body = |wf: Value| {
        json!({"dataset": "GOOG", "strategy": {"name": "sma_cross"},
               "grid": {"fast": [5, 10]}, "walk_forward": wf})
    };
    // A window no data can hold: refused before it is queued.
    let (s, v) = srv
        .post("/v1/sweeps", &body(json!({"train": 5000, "test": 100})))
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["detail"][0]["loc"], json!(["body", "walk_forward"]));
    assert!(
        v["detail"][0]["msg"].as_str().unwrap().contains("bars"),
        "{v}"
    );
    // The reviewer's case: a test window of 2^64-1 bars is the rest of the data.
    let (s, job) = srv
        .post("/v1/sweeps", &body(json!({"train": 2, "test": u64::MAX})))
        .await;
    assert_eq!(s, 202, "{job}");
    let done = srv
        .wait_done(job["id"].as_str().unwrap(), Duration::from_secs(120))
        .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let (_, jobs) = srv.get("/v1/jobs").await;
    assert_eq!(jobs["total"], 1, "{jobs}");
    srv.stop().await;
}

#[tokio::test]
async fn finding_06_parsing_is_strict() {
    let srv = TestServer::start(|_| {}).await;
    let send = |body: &'static str, content_type: Option<&'static str>| {
        let mut r = srv.http.post(srv.url("/v1/backtests")).body(body);
        if let Some(ct) = content_type {
            r = r.header("content-type", ct);
        }
        r.send()
    };
    let good = r#"{"dataset": "GOOG", "strategy": {"name": "sma_cross"}}"#;
    // Trailing bytes after the JSON value.
    let r = send(
        r#"{"dataset": "GOOG", "strategy": {"name": "sma_cross"}} {"x": 1}"#,
        Some("application/json"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["detail"][0]["type"], "json_invalid", "{v}");
    // White space after it is fine.
    let r = send(
        "{\"dataset\": \"GOOG\", \"strategy\": {\"name\": \"sma_cross\"}}\n \n",
        Some("application/json"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    // JSON without a JSON content type, or with another one.
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let r = send(good, ct).await.unwrap();
        assert_eq!(r.status(), 415, "{ct:?}");
        let v: Value = r.json().await.unwrap();
        assert!(v["detail"].as_str().unwrap().contains("application/json"));
    }
    let r = send(good, Some("application/json; charset=utf-8"))
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // An offset past SQLite's range does not wrap to the first page.
    let (s, v) = srv.get("/v1/jobs?offset=18446744073709551615").await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["detail"][0]["loc"], json!(["query", "offset"]));
    let (s, v) = srv.get("/v1/jobs?offset=9223372036854775807").await;
    assert_eq!((s, v["jobs"].clone()), (200, json!([])), "{v}");
    // Query errors are 422s in the body errors' shape, naming the field.
    for (path, field) in [
        ("/v1/backtests?wait=true", "wait"),
        ("/v1/jobs?limit=x", "limit"),
        ("/v1/jobs?state=sleeping", "state"),
        ("/v1/strategies?universe=maybe", "universe"),
    ] {
        let r = if path.starts_with("/v1/backtests") {
            srv.http
                .post(srv.url(path))
                .header("content-type", "application/json")
                .body(good)
                .send()
                .await
                .unwrap()
        } else {
            srv.http.get(srv.url(path)).send().await.unwrap()
        };
        assert_eq!(r.status(), 422, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v["detail"][0]["loc"],
            json!(["query", field]),
            "{path}: {v}"
        );
    }
    srv.stop().await;
}

#[tokio::test]
async fn finding_07_dataset_names_are_aliases() {
    let srv = TestServer::start(|_| {}).await;
    let csv = crate::common::walk_csv(300);
    let alice = upload(&srv, "alice", csv.clone()).await;
    let bob = upload(&srv, "bob", csv).await;
    assert_eq!(alice["id"], bob["id"], "one content, two names");
    let id = alice["id"].as_str().unwrap().to_string();
    let file = srv.data_dir().join("datasets").join(format!("{id}.csv"));
    assert_eq!(srv.delete("/v1/datasets/alice").await, 204);
    assert_eq!(srv.get("/v1/datasets/alice").await.0, 404);
    assert_eq!(srv.get("/v1/datasets/bob").await.0, 200);
    assert!(file.exists(), "bob's data is still there");
    srv.sma_cross_done(&json!("bob")).await;
    // The last name goes: so does the content, which no job still needs.
    assert_eq!(srv.delete("/v1/datasets/bob").await, 204);
    assert!(!file.exists());
    assert_eq!(srv.get(&format!("/v1/datasets/{id}")).await.0, 404);
    // Deleting by id takes the content and all its names.
    let a = upload(&srv, "a", crate::common::walk_csv(200)).await;
    upload(&srv, "b", crate::common::walk_csv(200)).await;
    assert_eq!(
        srv.delete(&format!("/v1/datasets/{}", a["id"].as_str().unwrap()))
            .await,
        204
    );
    assert_eq!(srv.get("/v1/datasets/a").await.0, 404);
    assert_eq!(srv.get("/v1/datasets/b").await.0, 404);
    srv.stop().await;
}

#[tokio::test]
async fn finding_08_a_start_removes_what_a_crash_left() {
    let planted = [
        "datasets/.abc.upload-1234.parquet",
        "models/.upload-99/model.onnx",
        "results/job1/.result.json.tmp-4242-0",
        "results/job1/.result.parquet.tmp-4242-1",
    ];
    let srv = TestServer::start(|c| {
        for p in planted {
            let path = c.data_dir.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, vec![7u8; 4096]).unwrap();
        }
    })
    .await;
    for p in planted {
        assert!(!srv.data_dir().join(p).exists(), "{p} is still there");
    }
    assert!(!srv.data_dir().join("models/.upload-99").exists());
    srv.stop().await;
}

#[tokio::test]
async fn finding_12_slow_clients_do_not_hold_connections() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let srv = TestServer::start(|c| c.read_timeout = Duration::from_secs(1)).await;
    let addr = srv.base.trim_start_matches("http://").to_string();
    // Headers that never end: the connection is closed.
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /v1/jobs HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "still open after 10 s");
    assert!(started.elapsed() < Duration::from_secs(5));
    // A body that stops arriving: 408.
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(
        b"POST /v1/backtests HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"data",
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "still open after 10 s");
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("stopped arriving"), "{text}");
    // The server still answers others.
    assert_eq!(srv.get("/healthz").await.0, 200);
    srv.stop().await;
}

#[tokio::test]
async fn finding_13_metrics_labels_come_from_closed_sets() {
    let srv = TestServer::start(|_| {}).await;
    for i in 0..300 {
        let method = reqwest::Method::from_bytes(format!("MADEUP{i}").as_bytes()).unwrap();
        let _ = srv
            .http
            .request(method, srv.url(&format!("/v1/nowhere/{i}")))
            .send()
            .await
            .unwrap();
    }
    let text = srv
        .http
        .get(srv.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("MADEUP"), "a made-up method became a label");
    assert!(
        !text.contains("/v1/nowhere"),
        "an unknown path became a label"
    );
    assert!(text.contains("method=\"other\""), "{text}");
    assert!(text.len() < 20_000, "{} bytes", text.len());
    srv.stop().await;
}

/// A tmpfs of `mib` MiB mounted for the test's life (root only; `None` elsewhere).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mib: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then_some(SmallDisk { dir })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test]
async fn finding_09_a_full_disk_answers_507_and_readyz_says_so() {
    // Below the configured reserve: refused before anything is written.
    let srv = TestServer::start(|c| c.min_free_bytes = u64::MAX / 4).await;
    let r = srv.http.get(srv.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["status"].as_str().unwrap().contains("disk is full"),
        "{v}"
    );
    let (s, v) = srv
        .post_bytes("/v1/datasets?name=x", crate::common::walk_csv(50))
        .await;
    assert_eq!(s, 507, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("retry"), "{v}");
    let (s, v) = srv
        .post(
            "/v1/backtests",
            &json!({"dataset": "GOOG", "strategy": {"name": "sma_cross"}}),
        )
        .await;
    assert_eq!(s, 507, "{v}");
    let (_, jobs) = srv.get("/v1/jobs").await;
    assert_eq!(jobs["total"], 0);
    srv.stop().await;

    // A disk that really fills up (root only: a small tmpfs), with no reserve.
    let Some(disk) = SmallDisk::mount(24) else {
        eprintln!("not root: the ENOSPC half of this test needs a tmpfs mount");
        return;
    };
    let data = disk.dir.path().join("data");
    let srv = TestServer::start_in(&data, |c| c.min_free_bytes = 0).await;
    let filler = disk.dir.path().join("filler");
    let free = {
        let s = rustix::fs::statvfs(disk.dir.path()).unwrap();
        s.f_bavail * s.f_frsize
    };
    std::fs::write(&filler, vec![0u8; (free - 384 * 1024) as usize]).unwrap();
    // An upload that cannot fit is refused before it is written.
    let (s, v) = srv
        .post_bytes("/v1/datasets?name=big", crate::common::walk_csv(20_000))
        .await;
    assert_eq!(s, 507, "{v}");
    let leftovers: Vec<_> = std::fs::read_dir(data.join("datasets"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new(), "a half-written upload");
    // A job whose result does not fit (its report alone is larger than what is left): the
    // write fails with ENOSPC; the job is not failed but queued again, with no partial file.
    let (s, job) = srv
        .post(
            "/v1/backtests",
            &json!({"dataset": "GOOG", "strategy": {"name": "sma_cross"}}),
        )
        .await;
    assert_eq!(s, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let again = srv
        .wait_for(&id, Duration::from_secs(60), |j| {
            j["state"] == "queued" && j["attempts"].as_u64() >= Some(1)
        })
        .await;
    assert!(again["error"].is_null(), "{again}");
    let partial: Vec<_> = std::fs::read_dir(data.join("results").join(&id))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.') || n == "DONE")
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(partial, Vec::<String>::new());
    // Room again: the job finishes and the upload is accepted.
    std::fs::remove_file(&filler).unwrap();
    let done = srv.wait_done(&id, Duration::from_secs(60)).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let (s, v) = srv
        .post_bytes("/v1/datasets?name=big", crate::common::walk_csv(20_000))
        .await;
    assert_eq!(s, 201, "{v}");
    srv.stop().await;
}

/// A finished job's result text.
async fn result_of(srv: &TestServer, id: &str) -> Value {
    let (s, r) = srv.get(&format!("/v1/jobs/{id}/result?points=0")).await;
    assert_eq!(s, 200, "{r}");
    r
}

#[tokio::test]
async fn finding_10_damaged_results_run_again_never_a_500() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let srv = TestServer::start_in(&data, |_| {}).await;
    async fn run(srv: &TestServer) -> String {
        let job = srv.sma_cross_done(&json!("GOOG")).await;
        job["id"].as_str().unwrap().to_string()
    }
    let results = |id: &str| data.join("results").join(id);

    // A truncated result.json: 409 saying so, and the job runs again to the same result.
    let a = run(&srv).await;
    let original = result_of(&srv, &a).await;
    let path = results(&a).join("result.json");
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let (s, v) = srv.get(&format!("/v1/jobs/{a}/result")).await;
    assert_eq!(s, 409, "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("queued to run again"),
        "{v}"
    );
    let done = srv.wait_done(&a, Duration::from_secs(60)).await;
    assert_eq!(
        (done["state"].as_str(), done["attempts"].as_u64()),
        (Some("succeeded"), Some(2))
    );
    assert_eq!(result_of(&srv, &a).await, original);

    // One flipped byte in another file of the result: found when that file is read.
    let b = run(&srv).await;
    let trades = results(&b).join("trades.csv");
    let mut bytes = std::fs::read(&trades).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 1;
    std::fs::write(&trades, bytes).unwrap();
    let r = srv
        .http
        .get(srv.url(&format!("/v1/jobs/{b}/trades.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let done = srv.wait_done(&b, Duration::from_secs(60)).await;
    assert_eq!(done["state"], "succeeded");
    let r = srv
        .http
        .get(srv.url(&format!("/v1/jobs/{b}/trades.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Damaged, and its dataset is gone: failed, with the reason.
    let csv = crate::common::walk_csv(300);
    upload(&srv, "gone", csv).await;
    let v = srv.sma_cross_done(&json!("gone")).await;
    let c = v["id"].as_str().unwrap().to_string();
    assert_eq!(srv.delete("/v1/datasets/gone").await, 204);
    std::fs::write(results(&c).join("result.json"), b"{}").unwrap();
    let (s, v) = srv.get(&format!("/v1/jobs/{c}/result")).await;
    assert_eq!(s, 409, "{v}");
    let (_, job) = srv.get(&format!("/v1/jobs/{c}")).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert!(
        job["error"].as_str().unwrap().contains("was deleted"),
        "{job}"
    );
    srv.stop().await;

    // While stopped: a recent result is damaged, and a job the crash left running has its
    // DONE marker beside a damaged result. The next start runs both again.
    let d = a.clone();
    std::fs::write(results(&d).join("result.json"), b"{\"damaged\": true}").unwrap();
    let e = b.clone();
    std::fs::write(results(&e).join("result.json"), b"{\"damaged\": true}").unwrap();
    {
        let db = rusqlite::Connection::open(data.join("backtide.sqlite")).unwrap();
        db.execute("UPDATE jobs SET state = 'running' WHERE id = ?1", [&e])
            .unwrap();
    }
    let srv = TestServer::start_in(&data, |_| {}).await;
    for id in [&d, &e] {
        let done = srv.wait_done(id, Duration::from_secs(60)).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        assert_eq!(result_of(&srv, id).await["stats"], original["stats"]);
    }
    srv.stop().await;
}

/// Entries a refused upload could have left in the datasets folder.
fn staged_leftovers(srv: &TestServer) -> Vec<String> {
    std::fs::read_dir(srv.data_dir().join("datasets"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[tokio::test]
async fn finding_03_bombs_are_refused_before_they_are_decoded() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let srv = TestServer::start(|c| {
        c.max_bars = 1_000;
        c.max_body_bytes = 1 << 20;
    })
    .await;
    // A Parquet file whose footer declares more rows than allowed: refused from the footer.
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("many.parquet");
    let bars = backtide_data::parse_csv(crate::common::walk_csv(5_000).as_bytes(), "w").unwrap();
    backtide_data::write_parquet(&bars, &pq).unwrap();
    let (s, v) = srv
        .post_bytes("/v1/datasets?name=bomb", std::fs::read(&pq).unwrap())
        .await;
    assert_eq!(s, 413, "{v}");
    let msg = v["detail"].as_str().unwrap();
    assert!(
        msg.contains("footer says 5000") && msg.contains("1000"),
        "{msg}"
    );
    // A CSV with more lines than allowed: refused from its line count.
    let (s, v) = srv
        .post_bytes("/v1/datasets?name=bomb", crate::common::walk_csv(5_000))
        .await;
    assert_eq!(s, 413, "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("line count says 5000"),
        "{v}"
    );
    // A body without a declared length, longer than the limit: cut off while staging.
    let addr = srv.base.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(
        b"POST /v1/datasets?name=bomb HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n\r\n",
    )
    .await
    .unwrap();
    let chunk = vec![b'1'; 64 * 1024];
    let mut written = 0;
    while written <= (2 << 20) {
        let head = format!("{:x}\r\n", chunk.len());
        if s.write_all(head.as_bytes()).await.is_err()
            || s.write_all(&chunk).await.is_err()
            || s.write_all(b"\r\n").await.is_err()
        {
            break;
        }
        written += chunk.len();
    }
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert_eq!(staged_leftovers(&srv), Vec::<String>::new());
    // Within the limits, the same kinds of files load.
    let ok = upload(&srv, "ok", crate::common::walk_csv(900)).await;
    assert_eq!(ok["rows"], 900);
    assert_eq!(staged_leftovers(&srv), Vec::<String>::new());
    srv.stop().await;
}

#[tokio::test]
async fn jobs_are_admitted_within_the_memory_budget() {
    // Two workers, and a budget smaller than any job: one job runs at a time.
    let srv = TestServer::start(|c| {
        c.workers = 2;
        c.memory_budget_bytes = 1;
    })
    .await;
    upload(&srv, "walk", crate::common::walk_csv(3_000)).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (s, job) = srv
            .post("/v1/sweeps", &crate::common::long_sweep("walk"))
            .await;
        assert_eq!(s, 202, "{job}");
        ids.push(job["id"].as_str().unwrap().to_string());
    }
    srv.wait_for(&ids[0], Duration::from_secs(30), |j| {
        j["state"] == "running"
    })
    .await;
    for _ in 0..20 {
        let (_, second) = srv.get(&format!("/v1/jobs/{}", ids[1])).await;
        assert_eq!(
            second["state"], "queued",
            "admitted over the budget: {second}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // The first ends: the second is admitted.
    let (s, _) = srv
        .post(&format!("/v1/jobs/{}/cancel", ids[0]), &json!({}))
        .await;
    assert_eq!(s, 202);
    srv.wait_for(&ids[1], Duration::from_secs(30), |j| {
        j["state"] == "running"
    })
    .await;
    srv.post(&format!("/v1/jobs/{}/cancel", ids[1]), &json!({}))
        .await;
    srv.wait_done(&ids[1], Duration::from_secs(30)).await;
    srv.stop().await;
}

/// A random walk of `n` minute bars (epoch seconds), longer than daily bars can be.
fn minute_csv(n: usize) -> String {
    let mut s = String::from("Date,Open,High,Low,Close\n");
    let (mut x, mut price) = (0x2545_F491_4F6C_DD1Du64, 100.0f64);
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let open = price;
        price *= 1.0 + ((x % 2001) as f64 / 1000.0 - 1.0) * 0.002;
        let (hi, lo) = (open.max(price) * 1.0005, open.min(price) * 0.9995);
        let t = 1_600_000_000 + 60 * i as i64;
        s.push_str(&format!("{t},{open:.5},{hi:.5},{lo:.5},{price:.5}\n"));
    }
    s
}

#[tokio::test]
async fn finding_04_a_result_read_is_bounded_whatever_the_result_size() {
    let srv = TestServer::start(|_| {}).await;
    upload(&srv, "long", minute_csv(100_500)).await;
    let job = srv.sma_cross_done(&json!("long")).await;
    let id = job["id"].as_str().unwrap();
    // Every bar of a result this long is not one answer: the files hold every bar.
    let (s, v) = srv.get(&format!("/v1/jobs/{id}/result?points=0")).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["detail"][0]["loc"], json!(["query", "points"]));
    assert!(
        v["detail"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("equity.csv"),
        "{v}"
    );
    let (s, v) = srv
        .get(&format!("/v1/jobs/{id}/result?points=100001"))
        .await;
    assert_eq!(s, 422, "{v}");
    // A page: the kept points and the trades asked for, streamed from the stored file.
    let (s, v) = srv
        .get(&format!("/v1/jobs/{id}/result?points=500&limit=3&offset=2"))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["equity_total"], 100_500);
    assert!(v["equity"].as_array().unwrap().len() <= 502);
    assert_eq!(v["trades"].as_array().unwrap().len(), 3);
    assert!(
        v["trades_total"].as_u64().unwrap() > 5,
        "{}",
        v["trades_total"]
    );
    // The equity kept is the stored file's, at the bars the downsampling chose.
    let csv = srv
        .http
        .get(srv.url(&format!("/v1/jobs/{id}/equity.csv")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let all: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    let keep = backtide_data::downsample_minmax(&all, 500);
    let kept: Vec<f64> = v["equity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["equity"].as_f64().unwrap())
        .collect();
    let expected: Vec<f64> = keep.iter().map(|&i| all[i]).collect();
    assert_eq!(kept.len(), expected.len());
    for (a, b) in kept.iter().zip(&expected) {
        assert!((a - b).abs() <= 1e-9 * b.abs(), "{a} vs {b}");
    }
    srv.stop().await;
}

#[tokio::test]
async fn browser_origins_are_allowed_only_when_configured() {
    let origin = "https://app.example.com";
    let preflight = |srv: &TestServer, from: &'static str| {
        srv.http
            .request(reqwest::Method::OPTIONS, srv.url("/v1/jobs"))
            .header("origin", from)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let allowed = |r: &reqwest::Response| {
        r.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_string())
    };
    let srv = TestServer::start(|c| {
        c.cors_origins = vec![origin.parse().unwrap()];
        c.token = Some(backtide_server::Token::new("s3cret").unwrap());
    })
    .await;
    let r = preflight(&srv, origin).await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(allowed(&r).as_deref(), Some(origin));
    let r = preflight(&srv, "https://evil.example.com").await.unwrap();
    assert_eq!(allowed(&r), None);
    srv.stop().await;
    // Off by default.
    let srv = TestServer::start(|_| {}).await;
    let r = preflight(&srv, origin).await.unwrap();
    assert_eq!(allowed(&r), None);
    srv.stop().await;
}
