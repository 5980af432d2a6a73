//! `backtide serve` as a separate process: results equal `backtide run`/`sweep`, a
//! SIGKILL loses no accepted job, SIGTERM leaves unfinished work queued for the next start.

#![allow(
    clippy::disallowed_methods,
    reason = "deadlines for a server process under test"
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(data: &Path) -> Server {
        Self::start_with_grace(data, 1)
    }

    /// A server whose running jobs get `grace` seconds after SIGTERM before they are
    /// interrupted.
    fn start_with_grace(data: &Path, grace: u64) -> Server {
        Self::spawn(
            data,
            &["--grace", &grace.to_string()],
            Stdio::null(),
            "warn",
        )
    }

    /// A server whose info-level log goes to `log` (appended).
    fn start_logged(data: &Path, log: &Path) -> Server {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        Self::spawn(data, &["--grace", "1"], Stdio::from(file), "info")
    }

    /// A server on `data` with one worker and `args`, logging at `level` to `stderr`.
    fn spawn(data: &Path, args: &[&str], stderr: Stdio, level: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_backtide"))
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--workers",
                "1",
                "--data-dir",
            ])
            .arg(data)
            .args(args)
            .env_remove("BACKTIDE_TOKEN")
            .env("BACKTIDE_LOG", level)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "backtide serving on http://127.0.0.1:PORT  (docs: …)"
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server { child, base }
    }

    fn signal(&mut self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    fn wait_exit(&mut self, within: Duration) {
        let until = Instant::now() + within;
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < until, "server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get(http: &reqwest::Client, url: String) -> Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

async fn post(http: &reqwest::Client, url: String, body: &Value) -> (u16, Value) {
    let r = http.post(url).json(body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn wait_done(http: &reqwest::Client, base: &str, id: &str, within: Duration) -> Value {
    let until = Instant::now() + within;
    loop {
        let j = get(http, format!("{base}/v1/jobs/{id}")).await;
        if ["succeeded", "failed", "cancelled"].contains(&j["state"].as_str().unwrap_or("")) {
            return j;
        }
        assert!(Instant::now() < until, "job {id} not finished: {j}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn cli_json(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_backtide"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A random-walk CSV (fixed seed).
pub(crate) fn walk_csv(n: usize) -> String {
    let mut s = String::from("Date,Open,High,Low,Close,Volume\n");
    let (mut x, mut price) = (0x2545_F491_4F6C_DD1Du64, 100.0f64);
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let open = price;
        price = (price * (1.0 + 0.01 * ((x % 2001) as f64 / 1000.0 - 1.0))).max(1.0);
        let day =
            backtide_data::format_timestamp((946_684_800 + i as i64 * 86_400) * 1_000_000_000);
        s.push_str(&format!(
            "{},{open:.4},{:.4},{:.4},{price:.4},1000\n",
            &day[..10],
            open.max(price) * 1.002,
            open.min(price) * 0.998
        ));
    }
    s
}

#[tokio::test]
async fn served_backtest_equals_the_cli_run() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path());
    let http = reqwest::Client::new();
    let goog = backtide_data::sample_csv("GOOG").unwrap();
    let r = http
        .post(format!("{}/v1/datasets?name=goog", srv.base))
        .body(goog)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    for (profile, extra) in [
        ("backtesting_py", vec!["--exclusive-orders"]),
        ("vectorbt", vec![]),
    ] {
        let body = json!({
            "dataset": "goog",
            "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 20}},
            "broker": {"commission": 0.002, "exclusive_orders": profile == "backtesting_py"},
            "profile": profile,
        });
        let (s, job) = post(&http, format!("{}/v1/backtests?wait=60", srv.base), &body).await;
        assert_eq!(s, 200, "{job}");
        let id = job["id"].as_str().unwrap();
        let served = get(
            &http,
            format!("{}/v1/jobs/{id}/result?limit=10000&points=0", srv.base),
        )
        .await;
        let mut args = vec![
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--param",
            "fast=10",
            "--param",
            "slow=20",
            "--commission",
            "0.002",
            "--profile",
            profile,
            "--json",
        ];
        args.extend(extra);
        let cli = cli_json(&args);
        for key in [
            "stats",
            "trades",
            "open_trades",
            "equity",
            "warnings",
            "strategy",
            "profile",
        ] {
            assert_eq!(served[key], cli[key], "{profile}: {key}");
        }
    }
}

fn sweep_body() -> Value {
    json!({
        "dataset": "walk",
        "strategy": {"name": "sma_cross"},
        "grid": {"fast": "2:40:1", "slow": "5:150:1"},
        "constraint": "fast < slow",
        "objective": {"key": "sharpe_ratio"},
        "pbo_blocks": 0,
    })
}

#[tokio::test]
async fn a_sigkill_loses_no_accepted_job_and_nothing_completes_twice() {
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("walk.csv");
    let csv = walk_csv(3_000);
    std::fs::write(&csv_path, &csv).unwrap();
    let data = dir.path().join("data");
    let http = reqwest::Client::new();

    let mut srv = Server::start(&data);
    let r = http
        .post(format!("{}/v1/datasets?name=walk", srv.base))
        .body(csv.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (s, sweep) = post(&http, format!("{}/v1/sweeps", srv.base), &sweep_body()).await;
    assert_eq!(s, 202, "{sweep}");
    let sweep_id = sweep["id"].as_str().unwrap().to_string();
    let mut backtests = Vec::new();
    for fast in [5, 10] {
        let body = json!({"dataset": "walk", "strategy": {"name": "sma_cross", "params": {"fast": fast, "slow": 40}}});
        let (s, j) = post(&http, format!("{}/v1/backtests", srv.base), &body).await;
        assert_eq!(s, 202);
        backtests.push((fast, j["id"].as_str().unwrap().to_string()));
    }
    // Kill it while the sweep runs.
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let j = get(&http, format!("{}/v1/jobs/{sweep_id}", srv.base)).await;
        if j["state"] == "running" && j["progress"].as_f64().unwrap() > 0.0 {
            break;
        }
        assert!(
            j["state"] != "succeeded",
            "the sweep finished before the kill; make it longer"
        );
        assert!(Instant::now() < until);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    srv.child.kill().unwrap();
    srv.child.wait().unwrap();

    let srv = Server::start(&data);
    let sweep_done = wait_done(&http, &srv.base, &sweep_id, Duration::from_secs(300)).await;
    assert_eq!(sweep_done["state"], "succeeded", "{sweep_done}");
    assert_eq!(sweep_done["attempts"], 2);
    let csv_arg = csv_path.to_str().unwrap();
    for (fast, id) in &backtests {
        let j = wait_done(&http, &srv.base, id, Duration::from_secs(120)).await;
        assert_eq!(j["state"], "succeeded", "{j}");
        let served = get(
            &http,
            format!("{}/v1/jobs/{id}/result?limit=10000&points=0", srv.base),
        )
        .await;
        let f = format!("fast={fast}");
        let cli = cli_json(&[
            "run",
            "--data",
            csv_arg,
            "--strategy",
            "sma_cross",
            "--param",
            &f,
            "--param",
            "slow=40",
            "--json",
        ]);
        assert_eq!(served["stats"], cli["stats"]);
        assert_eq!(served["trades"], cli["trades"]);
    }
    // The re-run sweep equals the CLI's sweep, combination by combination.
    let out = dir.path().join("cli-sweep.json");
    let status = Command::new(env!("CARGO_BIN_EXE_backtide"))
        .args([
            "sweep",
            "--data",
            csv_arg,
            "--strategy",
            "sma_cross",
            "--grid",
            "fast=2:40:1",
            "--grid",
            "slow=5:150:1",
            "--constraint",
            "fast < slow",
            "--maximize",
            "sharpe_ratio",
            "--pbo-blocks",
            "0",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let cli: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let served = get(
        &http,
        format!("{}/v1/jobs/{sweep_id}/result?limit=10000", srv.base),
    )
    .await;
    assert_eq!(served["combos"], cli["combos"]);
    assert_eq!(served["best"], cli["best"]);

    // Straight from the store: each job completed once, and its recorded digest is that
    // of the result on disk.
    let db = rusqlite::Connection::open(data.join("backtide.sqlite")).unwrap();
    let mut st = db
        .prepare("SELECT id, state, completions, result_digest FROM jobs")
        .unwrap();
    let rows: Vec<(String, String, u32, Option<String>)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 3);
    for (id, state, completions, digest) in rows {
        assert_eq!((state.as_str(), completions), ("succeeded", 1), "{id}");
        let bytes = std::fs::read(data.join("results").join(&id).join("result.json")).unwrap();
        let hex: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(digest.as_deref(), Some(hex.as_str()), "{id}");
    }
}

#[tokio::test]
async fn sigterm_stops_gracefully_and_leaves_unfinished_jobs_queued() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let http = reqwest::Client::new();
    // No grace: the sweep is interrupted at once, however fast this build runs it.
    let mut srv = Server::start_with_grace(&data, 0);
    let r = http
        .post(format!("{}/v1/datasets?name=walk", srv.base))
        .body(walk_csv(3_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (_, sweep) = post(&http, format!("{}/v1/sweeps", srv.base), &sweep_body()).await;
    let sweep_id = sweep["id"].as_str().unwrap().to_string();
    let (_, queued) = post(
        &http,
        format!("{}/v1/backtests", srv.base),
        &json!({"dataset": "walk", "strategy": {"name": "sma_cross"}}),
    )
    .await;
    let queued_id = queued["id"].as_str().unwrap().to_string();
    let until = Instant::now() + Duration::from_secs(60);
    while get(&http, format!("{}/v1/jobs/{sweep_id}", srv.base)).await["state"] != "running" {
        assert!(Instant::now() < until);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    srv.signal("-TERM");
    // The sweep is interrupted and the process exits.
    srv.wait_exit(Duration::from_secs(20));
    let db = rusqlite::Connection::open(data.join("backtide.sqlite")).unwrap();
    let state = |id: &str| -> String {
        db.query_row("SELECT state FROM jobs WHERE id = ?1", [id], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(state(&sweep_id), "queued");
    assert_eq!(state(&queued_id), "queued");
    drop(db);

    let srv = Server::start(&data);
    for id in [&sweep_id, &queued_id] {
        let j = wait_done(&http, &srv.base, id, Duration::from_secs(300)).await;
        assert_eq!(j["state"], "succeeded", "{j}");
    }
}

/// Finding 14 of the service review: an empty token silently turned authentication off,
/// and the only way to give one was a command line anyone on the machine can read.
#[tokio::test]
async fn finding_14_an_empty_token_is_refused_and_a_token_file_works() {
    let dir = tempfile::tempdir().unwrap();
    let refused = |args: &[&str], env: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_backtide"));
        c.args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("d"))
            .args(args)
            .env_remove("BACKTIDE_TOKEN");
        if let Some(v) = env {
            c.env("BACKTIDE_TOKEN", v);
        }
        let out = c.output().unwrap();
        assert!(!out.status.success(), "{args:?} started");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = refused(&["--token", ""], None);
    assert!(e.contains("--token") && e.contains("empty"), "{e}");
    let e = refused(&[], Some(""));
    assert!(e.contains("BACKTIDE_TOKEN") && e.contains("empty"), "{e}");
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let e = refused(&["--token-file", empty.to_str().unwrap()], None);
    assert!(e.contains("--token-file") && e.contains("empty"), "{e}");
    let e = refused(&["--token-file", "/nonexistent/token"], None);
    assert!(e.contains("/nonexistent/token"), "{e}");

    // A token from a file (a mounted secret ends with a line break).
    let file = dir.path().join("token");
    std::fs::write(&file, "s3cret\n").unwrap();
    let srv = Server::spawn(
        &dir.path().join("d"),
        &["--token-file", file.to_str().unwrap()],
        Stdio::null(),
        "warn",
    );
    let base = srv.base.clone();
    let http = reqwest::Client::new();
    let status = |token: Option<&'static str>| {
        let mut r = http.get(format!("{base}/v1/jobs"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_eq!(status(None).await.unwrap().status(), 401);
    assert_eq!(status(Some("s3cre")).await.unwrap().status(), 401);
    assert_eq!(status(Some("s3cret")).await.unwrap().status(), 200);
}

/// The service review's crash-loop case (finding 8): a long sweep killed with SIGKILL five
/// times resumes each time from its checkpoint instead of starting again, completes once,
/// equals the sweep run without a crash, and leaves no temporary file.
#[tokio::test]
async fn finding_08_a_sweep_killed_five_times_resumes_and_completes_once() {
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("walk.csv");
    let csv = walk_csv(3_000);
    std::fs::write(&csv_path, &csv).unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let http = reqwest::Client::new();
    let grid = ("2:60:1", "5:200:1");
    let body = json!({
        "dataset": "walk",
        "strategy": {"name": "sma_cross"},
        "grid": {"fast": grid.0, "slow": grid.1},
        "constraint": "fast < slow",
        "objective": {"key": "sharpe_ratio"},
        "pbo_blocks": 8,
    });

    let mut srv = Server::start_logged(&data, &log);
    let r = http
        .post(format!("{}/v1/datasets?name=walk", srv.base))
        .body(csv.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (s, sweep) = post(&http, format!("{}/v1/sweeps", srv.base), &body).await;
    assert_eq!(s, 202, "{sweep}");
    let id = sweep["id"].as_str().unwrap().to_string();
    let mut before_kill = Vec::new();
    for kill in 0..5 {
        // Let it get further than where this attempt started, then kill it.
        let floor = before_kill.last().copied().unwrap_or(0.0);
        let until = Instant::now() + Duration::from_secs(120);
        let progress = loop {
            let j = get(&http, format!("{}/v1/jobs/{id}", srv.base)).await;
            assert_ne!(
                j["state"], "succeeded",
                "finished before kill {kill}; make it longer"
            );
            let p = j["progress"].as_f64().unwrap();
            if j["state"] == "running" && p > floor + 0.02 {
                break p;
            }
            assert!(
                Instant::now() < until,
                "no progress before kill {kill}: {j}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        srv.child.kill().unwrap();
        srv.child.wait().unwrap();
        before_kill.push(progress);
        srv = Server::start_logged(&data, &log);
    }
    let done = wait_done(&http, &srv.base, &id, Duration::from_secs(600)).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["attempts"], 6, "{done}");

    // Each restart resumed at or after the progress last seen before its kill: a chunk's
    // checkpoint marker is written before its progress is reported, so whatever a client
    // saw finished is never run again (half a combination's slack for the float ratio).
    let text = std::fs::read_to_string(&log).unwrap();
    let resumed: Vec<usize> = text
        .lines()
        .filter(|l| l.contains("resuming the sweep"))
        .filter_map(|l| {
            l.split("skip=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(resumed.len(), 5, "{text}");
    let r = get(&http, format!("{}/v1/jobs/{id}/result?limit=1", srv.base)).await;
    let combos = r["combos_total"].as_u64().unwrap() as f64;
    for (k, (&skip, &p)) in resumed.iter().zip(&before_kill).enumerate() {
        assert!(skip > 0, "restart {k} started from zero");
        assert!(
            skip as f64 >= p * combos - 0.5,
            "restart {k} resumed at {skip} of {combos}, but {p} was done before the kill"
        );
        if k > 0 {
            assert!(skip >= resumed[k - 1], "{resumed:?}");
        }
    }

    // The same sweep without a crash (the CLI's), combination by combination.
    let out = dir.path().join("cli-sweep.json");
    let status = Command::new(env!("CARGO_BIN_EXE_backtide"))
        .args([
            "sweep",
            "--data",
            csv_path.to_str().unwrap(),
            "--strategy",
            "sma_cross",
        ])
        .args([
            "--grid",
            &format!("fast={}", grid.0),
            "--grid",
            &format!("slow={}", grid.1),
        ])
        .args(["--constraint", "fast < slow", "--maximize", "sharpe_ratio"])
        .args(["--pbo-blocks", "8", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let cli: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    // A new client: the blocking CLI run kept this runtime from noticing that the server
    // closed the pooled connection after its idle timeout.
    let http = reqwest::Client::new();
    let served = get(
        &http,
        format!("{}/v1/jobs/{id}/result?limit=10000", srv.base),
    )
    .await;
    assert_eq!(
        served["combos_total"],
        cli["combos"].as_array().unwrap().len()
    );
    assert_eq!(served["combos"], cli["combos"]);
    assert_eq!(served["best"], cli["best"]);
    assert_eq!(served["overfitting"], cli["overfitting"]);

    // Completed once; nothing temporary left.
    let db = rusqlite::Connection::open(data.join("backtide.sqlite")).unwrap();
    let completions: u32 = db
        .query_row("SELECT completions FROM jobs WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(completions, 1);
    for folder in [data.join("results").join(&id), data.join("datasets")] {
        let left: Vec<String> = std::fs::read_dir(&folder)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.') || n == "CHECKPOINT")
            .collect();
        assert_eq!(left, Vec::<String>::new(), "{}", folder.display());
    }
}
