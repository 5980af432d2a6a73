//! Peak memory of `backtide serve` under hostile load.
//!
//! Starts the release binary as its own process (`--max-bars 3000000`), uploads a
//! 2,000,000-bar dataset and runs a backtest on it (its `result.json` holds an equity entry
//! per bar), then starts a fresh server on the same data directory (so the set-up's own
//! memory, such as the parsed upload, is not counted), reads the result once alone, resets
//! the server's peak-RSS counter (`/proc/PID/clear_refs`) and, all at once:
//! - uploads a CSV bomb (4,000,000 one-line rows: over the bar limit) and a Parquet bomb
//!   (a small file whose footer declares 3,500,000 rows of constant values);
//! - reads the 2M-bar result four times concurrently (`GET /v1/jobs/{id}/result`, default
//!   page and 2,000 equity points), and once more with `points=100000`;
//! - polls the job's status from 200 connections for 5 s.
//!
//! It prints the RSS before, the peak during (`VmHWM`), what each request answered and how
//! long the result reads took. The documented bound is 256 MB.
//!
//! Run: `cargo bench -p backtide-cli --bench serve_memory` (Linux; root for the peak reset,
//! else the peak includes the set-up).

// A benchmark measures wall-clock time by definition; the ban protects the engine.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

#[path = "common/server.rs"]
mod server;
use server::status_kb;

/// A random-walk CSV of `n` minute bars (fixed seed).
fn walk_csv(n: usize) -> Vec<u8> {
    let mut s = String::with_capacity(n * 60);
    s.push_str("Date,Open,High,Low,Close,Volume\n");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut price = 100.0f64;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let r = (x % 2001) as f64 / 1000.0 - 1.0;
        let open = price;
        price = (price * (1.0 + 0.001 * r)).max(1.0);
        let (hi, lo) = (open.max(price) * 1.0002, open.min(price) * 0.9998);
        let t = 946_684_800i64 + i as i64 * 60;
        s.push_str(&format!("{t},{open:.4},{hi:.4},{lo:.4},{price:.4},1000\n"));
    }
    s.into_bytes()
}

/// The release server on `dir`, with the limits this benchmark needs.
fn start(dir: &std::path::Path) -> (std::process::Child, String) {
    server::start(
        dir,
        &[
            "--workers",
            "1",
            "--max-bars",
            "3000000",
            "--max-wait",
            "600",
        ],
    )
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, mut base) = start(dir.path());
    let mut pid = child.id();

    // The Parquet bomb: constant columns compress to almost nothing.
    let bomb_rows = 3_500_000;
    let pq = dir.path().join("bomb.parquet");
    let names: Vec<String> = ["Open", "High", "Low", "Close"].map(String::from).to_vec();
    backtide_data::write_columns(
        &vec![0; bomb_rows],
        &names,
        &vec![vec![1.0; bomb_rows]; 4],
        &pq,
    )
    .unwrap();
    let pq_bytes = std::fs::read(&pq).unwrap();
    let mut csv_bomb = b"Date,Open,High,Low,Close\n".to_vec();
    for _ in 0..4_000_000 {
        csv_bomb.extend_from_slice(b"1,1,1,1,1\n");
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let t = Instant::now();
        let up: serde_json::Value = http
            .post(format!("{base}/v1/datasets?name=big"))
            .body(walk_csv(2_000_000))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(up["rows"], 2_000_000, "{up}");
        let job: serde_json::Value = http
            .post(format!("{base}/v1/backtests?wait=600"))
            .json(&serde_json::json!({"dataset": "big", "strategy": {"name": "sma_cross"}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(job["state"], "succeeded", "{job}");
        let id = job["id"].as_str().unwrap().to_string();
        let size = std::fs::metadata(dir.path().join("results").join(&id).join("result.json"))
            .map_or(0, |m| m.len());
        println!(
            "set-up: 2M-bar upload and backtest in {:.1} s; result.json {:.0} MB",
            t.elapsed().as_secs_f64(),
            size as f64 / 1e6
        );
        let _ = child.kill();
        let _ = child.wait();
        (child, base) = start(dir.path());
        pid = child.id();
        let t = Instant::now();
        let r = http
            .get(format!("{base}/v1/jobs/{id}/result"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await;
        println!(
            "fresh server: one result read alone in {:.2} s; RSS {:.1} MB",
            t.elapsed().as_secs_f64(),
            status_kb(pid, "VmRSS:") / 1024.0
        );

        let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
        println!(
            "server RSS before the load: {:.1} MB{}",
            status_kb(pid, "VmRSS:") / 1024.0,
            if reset {
                ""
            } else {
                " (peak counter not reset: not root)"
            }
        );

        let mut tasks = Vec::new();
        for (label, body) in [("CSV bomb", csv_bomb), ("Parquet bomb", pq_bytes)] {
            let (http, url) = (http.clone(), format!("{base}/v1/datasets?name=bomb"));
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                let r = http.post(url).body(body).send().await.unwrap();
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                format!(
                    "{label}: {status} in {:.2} s — {}",
                    t.elapsed().as_secs_f64(),
                    text.chars().take(110).collect::<String>()
                )
            }));
        }
        for (i, points) in [2000, 2000, 2000, 2000, 100_000].into_iter().enumerate() {
            let (http, url) = (
                http.clone(),
                format!("{base}/v1/jobs/{id}/result?points={points}"),
            );
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                let r = http.get(url).send().await.unwrap();
                let status = r.status().as_u16();
                let body = r.bytes().await.map_or(0, |b| b.len());
                format!(
                    "result read {i} (points={points}): {status}, {:.1} MB in {:.2} s",
                    body as f64 / 1e6,
                    t.elapsed().as_secs_f64()
                )
            }));
        }
        let status_url = format!("{base}/v1/jobs/{id}");
        let polls = tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(5);
            let mut clients = Vec::new();
            for _ in 0..200 {
                let url = status_url.clone();
                clients.push(tokio::spawn(async move {
                    let c = reqwest::Client::new();
                    let (mut n, mut bad) = (0usize, 0usize);
                    while Instant::now() < deadline {
                        match c.get(&url).send().await {
                            Ok(r) if r.status() == 200 => n += 1,
                            _ => bad += 1,
                        }
                    }
                    (n, bad)
                }));
            }
            let (mut n, mut bad) = (0, 0);
            for c in clients {
                let (a, b) = c.await.unwrap();
                n += a;
                bad += b;
            }
            format!("200 pollers: {n} status reads in 5 s, {bad} failed")
        });
        for t in tasks {
            println!("{}", t.await.unwrap());
        }
        println!("{}", polls.await.unwrap());
    });
    println!(
        "server peak RSS during the load: {:.1} MB (bound: 256 MB)",
        status_kb(pid, "VmHWM:") / 1024.0
    );
    let _ = child.kill();
    let _ = child.wait();
}
