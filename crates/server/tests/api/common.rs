//! A server on an ephemeral port with its own data folder.

use std::time::Duration;

use backtide_server::ServeConfig;
use serde_json::Value;

pub(crate) struct TestServer {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    data: std::path::PathBuf,
    _dir: Option<tempfile::TempDir>,
}

pub(crate) fn config(dir: &std::path::Path) -> ServeConfig {
    let mut c = ServeConfig::new(dir);
    c.workers = 1;
    c.shutdown_grace = Duration::from_secs(2);
    c
}

impl TestServer {
    pub(crate) async fn start(tweak: impl FnOnce(&mut ServeConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut srv = Self::start_in(dir.path(), tweak).await;
        srv._dir = Some(dir);
        srv
    }

    /// A server on a data folder the test chose (e.g. on a small disk).
    pub(crate) async fn start_in(
        dir: &std::path::Path,
        tweak: impl FnOnce(&mut ServeConfig),
    ) -> TestServer {
        let mut cfg = config(dir);
        tweak(&mut cfg);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(backtide_server::serve_on(listener, cfg, async {
            let _ = rx.await;
        }));
        let http = reqwest::Client::new();
        // Ready once the samples are registered.
        for _ in 0..200 {
            assert!(
                !done.is_finished(),
                "the server stopped during start-up: {:?}",
                done.await
            );
            // Ready, or up but short of disk (what a test of that case asks for).
            if let Ok(r) = http.get(format!("{base}/readyz")).send().await
                && (r.status() == 200 || r.text().await.is_ok_and(|t| t.contains("disk is full")))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        TestServer {
            base,
            http,
            stop: Some(tx),
            done: Some(done),
            data: dir.to_path_buf(),
            _dir: None,
        }
    }

    pub(crate) fn data_dir(&self) -> &std::path::Path {
        &self.data
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Posts a raw body (an upload); the status and the JSON answer.
    pub(crate) async fn post_bytes(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// An `sma_cross` backtest on `dataset` (an id or name), waited for; its job, which
    /// must have succeeded.
    pub(crate) async fn sma_cross_done(&self, dataset: &Value) -> Value {
        let body = serde_json::json!({"dataset": dataset, "strategy": {"name": "sma_cross"}});
        let (s, job) = self.post("/v1/backtests?wait=60", &body).await;
        assert_eq!(
            (s, job["state"].as_str()),
            (200, Some("succeeded")),
            "{job}"
        );
        job
    }

    /// `DELETE path`; the status.
    pub(crate) async fn delete(&self, path: &str) -> u16 {
        let r = self.http.delete(self.url(path)).send().await.unwrap();
        r.status().as_u16()
    }

    /// Polls a job until it is in a terminal state.
    pub(crate) async fn wait_done(&self, id: &str, within: Duration) -> Value {
        let until = tokio::time::Instant::now() + within;
        loop {
            let (s, job) = self.get(&format!("/v1/jobs/{id}")).await;
            assert_eq!(s, 200, "{job}");
            if ["succeeded", "failed", "cancelled"].contains(&job["state"].as_str().unwrap()) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "job {id} did not finish: {job}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls until `pred` holds for the job.
    pub(crate) async fn wait_for(
        &self,
        id: &str,
        within: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let until = tokio::time::Instant::now() + within;
        loop {
            let (_, job) = self.get(&format!("/v1/jobs/{id}")).await;
            if pred(&job) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "condition not met: {job}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(done) = self.done.take() {
            done.await.unwrap().unwrap();
        }
    }
}

/// A random-walk CSV of `n` daily bars (fixed seed), big enough to keep a sweep busy.
pub(crate) fn walk_csv(n: usize) -> String {
    let mut s = String::from("Date,Open,High,Low,Close,Volume\n");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut price = 100.0f64;
    let start = 946_684_800i64; // 2000-01-01
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let r = (x % 2001) as f64 / 1000.0 - 1.0;
        let open = price;
        price = (price * (1.0 + 0.01 * r)).max(1.0);
        let (hi, lo) = (open.max(price) * 1.002, open.min(price) * 0.998);
        let t = start + i as i64 * 86_400;
        let d = backtide_data::format_timestamp(t * 1_000_000_000);
        s.push_str(&format!(
            "{},{open:.4},{hi:.4},{lo:.4},{price:.4},1000\n",
            &d[..10]
        ));
    }
    s
}

/// A sweep that takes many seconds in a debug build.
pub(crate) fn long_sweep(dataset: &str) -> Value {
    serde_json::json!({
        "dataset": dataset,
        "strategy": {"name": "sma_cross"},
        "grid": {"fast": "2:100:1", "slow": "3:300:1"},
        "constraint": "fast < slow",
        "pbo_blocks": 0
    })
}

pub(crate) async fn upload(srv: &TestServer, name: &str, body: String) -> Value {
    let r = srv
        .http
        .post(srv.url(&format!("/v1/datasets?name={name}")))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}
