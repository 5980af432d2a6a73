//! Load on `backtide serve`: status reads and small synchronous backtests.
//!
//! Starts the release binary as its own process on a free loopback port with a fresh
//! data folder, then drives it with an in-process load generator (keep-alive HTTP/1.1
//! connections on a tokio runtime, each sending its next request when the last answer
//! arrived):
//! 1. idle RSS of the server after start-up (samples registered, nothing running);
//! 2. `GET /v1/jobs/{id}` of a finished job from 32 connections for 5 s;
//! 3. `POST /v1/backtests?wait=10` (sma_cross on the bundled GOOG, 2,148 bars) from
//!    4 connections for 5 s;
//!
//! reporting requests/s, p50 and p99 latency, errors, and the server's peak RSS. The
//! generator shares the machine's cores with the server, so the figures are a floor.
//!
//! Run: `cargo bench -p backtide-cli --bench serve`.

// A benchmark measures wall-clock time by definition; the ban protects the engine.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "common/server.rs"]
mod server;
use server::status_kb as rss_kb;

struct Report {
    requests: usize,
    errors: usize,
    latencies: Vec<Duration>,
    seconds: f64,
}

impl Report {
    fn print(&mut self, label: &str) {
        self.latencies.sort();
        let q = |p: f64| {
            let i = ((self.latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
            self.latencies
                .get(i)
                .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
        };
        println!(
            "{label:<44} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} requests, {} errors)",
            self.requests as f64 / self.seconds,
            q(0.50),
            q(0.99),
            self.requests,
            self.errors
        );
    }
}

async fn load<F, Fut>(connections: usize, duration: Duration, make: F) -> Report
where
    F: Fn(reqwest::Client) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let make = Arc::new(make);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            // One client per connection: its own keep-alive connection.
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            let (mut lat, mut errors) = (Vec::new(), 0);
            while Instant::now() < deadline {
                let t = Instant::now();
                let ok = make(client.clone()).await;
                lat.push(t.elapsed());
                errors += usize::from(!ok);
            }
            (lat, errors)
        }));
    }
    let mut report = Report {
        requests: 0,
        errors: 0,
        latencies: Vec::new(),
        seconds: 0.0,
    };
    for t in tasks {
        let (lat, errors) = t.await.unwrap();
        report.requests += lat.len();
        report.errors += errors;
        report.latencies.extend(lat);
    }
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// A 200 whose body arrived in full.
async fn ok(r: reqwest::Result<reqwest::Response>) -> bool {
    match r {
        Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
        Err(_) => false,
    }
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = server::start(dir.path(), &[]);
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(500));
    println!(
        "server idle RSS after start-up: {:.1} MB",
        rss_kb(pid, "VmRSS:") / 1024.0
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let body = serde_json::json!({
            "dataset": "GOOG",
            "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 20}},
            "broker": {"commission": 0.002, "exclusive_orders": true},
        });
        let job: serde_json::Value = http
            .post(format!("{base}/v1/backtests?wait=10"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let status_url = format!("{base}/v1/jobs/{}", job["id"].as_str().unwrap());

        let url = status_url.clone();
        let mut r = load(32, Duration::from_secs(5), move |c| {
            let url = url.clone();
            async move { ok(c.get(&url).send().await).await }
        })
        .await;
        r.print("GET /v1/jobs/{id}, 32 connections");

        let url = format!("{base}/v1/backtests?wait=10");
        let mut r = load(4, Duration::from_secs(5), move |c| {
            let (url, body) = (url.clone(), body.clone());
            async move { ok(c.post(&url).json(&body).send().await).await }
        })
        .await;
        r.print("POST /v1/backtests?wait=10, 4 connections");
    });
    println!("server peak RSS: {:.1} MB", rss_kb(pid, "VmHWM:") / 1024.0);
    let _ = child.kill();
    let _ = child.wait();
}
