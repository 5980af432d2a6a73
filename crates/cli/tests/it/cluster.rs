//! A cluster of real processes sharing one PostgreSQL store and one data folder: an API
//! node without workers, and `backtide worker` nodes. The chaos test kills a worker while it
//! holds a shard's lease, kills the API, and restarts PostgreSQL, and checks that every
//! accepted job ends `succeeded` exactly once, that the sweep equals `backtide sweep --out`
//! combination by combination, and that no lease is left.
//!
//! Needs the server `scripts/with-postgres.sh` starts (`BACKTIDE_TEST_POSTGRES`, and
//! `BACKTIDE_PG_BIN`/`BACKTIDE_PG_DATA` to restart it); without it the tests say so and
//! pass, unless `BACKTIDE_REQUIRE_POSTGRES=1` (CI).

#![allow(
    clippy::disallowed_methods,
    reason = "deadlines for processes under test"
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A throwaway database on the test server, dropped at the end.
struct Database {
    admin: String,
    name: String,
    url: String,
}

impl Database {
    fn create() -> Option<Database> {
        let Ok(admin) = std::env::var("BACKTIDE_TEST_POSTGRES") else {
            assert!(
                std::env::var("BACKTIDE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "BACKTIDE_REQUIRE_POSTGRES=1 but BACKTIDE_TEST_POSTGRES names no server"
            );
            eprintln!("skipped: BACKTIDE_TEST_POSTGRES is not set (see scripts/with-postgres.sh)");
            return None;
        };
        let name = format!(
            "backtide_cluster_{}_{}",
            std::process::id(),
            Instant::now().elapsed().subsec_nanos()
        );
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let base = admin.rsplit_once('/').unwrap().0;
        let url = format!("{base}/{name}");
        Some(Database { admin, name, url })
    }

    fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }

    /// Restarts the server (fast shutdown: connections are cut, as a real restart would).
    fn restart_server() {
        let bin = std::env::var("BACKTIDE_PG_BIN").expect("BACKTIDE_PG_BIN");
        let data = std::env::var("BACKTIDE_PG_DATA").expect("BACKTIDE_PG_DATA");
        let pg_ctl = Path::new(&bin).join("pg_ctl");
        // PostgreSQL refuses to run as root: with-postgres.sh runs it as `postgres`.
        let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        });
        let mut cmd = if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(pg_ctl);
            c
        } else {
            Command::new(pg_ctl)
        };
        // The new server logs to a file: on our pipes it would hold them open for ever.
        let log = Path::new(&data).with_file_name("server.log");
        let status = cmd
            .args(["-D", &data, "-m", "fast", "-w", "-l"])
            .arg(&log)
            .arg("restart")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "restarting PostgreSQL failed");
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A node process whose log goes to a file (shown when the test fails).
struct Node {
    child: Child,
    log: PathBuf,
    base: Option<String>,
}

impl Node {
    fn api(db: &Database, data: &Path, logs: &Path, n: usize) -> Node {
        let log = logs.join(format!("api-{n}.log"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_backtide"))
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--workers",
                "0",
                "--lease",
                "3",
            ])
            .arg("--data-dir")
            .arg(data)
            .env("BACKTIDE_STORE", &db.url)
            .env_remove("BACKTIDE_TOKEN")
            .env("BACKTIDE_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}: {}", tail(&log)))
            .to_string();
        Node {
            child,
            log,
            base: Some(base),
        }
    }

    fn worker(db: &Database, data: &Path, logs: &Path, n: usize) -> Node {
        let log = logs.join(format!("worker-{n}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_backtide"))
            .args(["worker", "--workers", "1", "--threads", "1", "--lease", "3"])
            .args(["--grace", "1", "--data-dir"])
            .arg(data)
            .env("BACKTIDE_STORE", &db.url)
            .env("BACKTIDE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Node {
            child,
            log,
            base: None,
        }
    }

    fn base(&self) -> &str {
        self.base.as_deref().unwrap()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

fn logs_of(nodes: &[&Node]) -> String {
    nodes
        .iter()
        .map(|n| format!("--- {}\n{}", n.log.display(), tail(&n.log)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A random-walk CSV (fixed seed).
fn walk_csv(n: usize) -> String {
    let mut s = String::from("Date,Open,High,Low,Close,Volume\n");
    let (mut x, mut price) = (0x9E37_79B9_7F4A_7C15u64, 100.0f64);
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

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// GET with retries: the API node may be restarting.
fn get(base: &str, path: &str) -> Value {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        match http().get(format!("{base}{path}")).send() {
            Ok(r) if r.status().is_success() => return r.json().unwrap(),
            other if Instant::now() > until => panic!("GET {path}: {other:?}"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn post(base: &str, path: &str, body: &Value) -> Value {
    let r = http()
        .post(format!("{base}{path}"))
        .json(body)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 202, "POST {path}");
    r.json().unwrap()
}

/// The pid in a node id (`host-pid-random`).
fn pid_of(node: &str) -> u32 {
    let mut parts = node.rsplitn(3, '-');
    parts.next();
    parts.next().unwrap().parse().unwrap()
}

#[test]
fn chaos_every_accepted_job_succeeds_once_and_the_sweep_equals_one_machines() {
    let Some(db) = Database::create() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    std::fs::create_dir_all(&logs).unwrap();
    let csv_path = dir.path().join("walk.csv");
    let csv = walk_csv(3_000);
    std::fs::write(&csv_path, &csv).unwrap();

    let mut api = Node::api(&db, &data, &logs, 0);
    let mut workers: Vec<Node> = (0..3).map(|i| Node::worker(&db, &data, &logs, i)).collect();
    let r = http()
        .post(format!("{}/v1/datasets?name=walk", api.base()))
        .body(csv)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);

    // 50 × 100 = 5,000 combinations, with the overfitting checks (8 blocks: 16 would take
    // most of a minute in a debug build, the same on one node and on many).
    let sweep = post(
        api.base(),
        "/v1/sweeps",
        &json!({
            "dataset": "walk",
            "strategy": {"name": "sma_cross"},
            "grid": {"fast": "2:51:1", "slow": "60:159:1"},
            "objective": {"key": "sharpe_ratio"},
            "pbo_blocks": 8,
        }),
    );
    let sweep_id = sweep["id"].as_str().unwrap().to_string();
    let mut accepted = vec![sweep_id.clone()];
    let mut backtests = Vec::new();
    for i in 0..50 {
        let (fast, slow) = (3 + i % 10, 30 + i);
        let j = post(
            api.base(),
            "/v1/backtests",
            &json!({"dataset": "walk",
                    "strategy": {"name": "sma_cross", "params": {"fast": fast, "slow": slow}}}),
        );
        let id = j["id"].as_str().unwrap().to_string();
        accepted.push(id.clone());
        backtests.push((fast, slow, id));
    }

    // SIGKILL a worker while it holds a shard's lease.
    let mut pg = db.client();
    let until = Instant::now() + Duration::from_secs(120);
    let holder = loop {
        let row = pg
            .query_opt(
                "SELECT lease_owner FROM shards WHERE state = 'running' AND job_id = $1 LIMIT 1",
                &[&sweep_id],
            )
            .unwrap();
        if let Some(r) = row {
            break r.get::<_, String>(0);
        }
        assert!(
            Instant::now() < until,
            "no shard ran: {}",
            logs_of(&workers.iter().collect::<Vec<_>>())
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let pid = pid_of(&holder);
    let victim = workers
        .iter_mut()
        .find(|w| w.child.id() == pid)
        .expect("the shard's holder is one of our workers");
    victim.kill();
    // SIGKILL the API, and restart PostgreSQL while the other workers run.
    api.kill();
    Database::restart_server();
    let api = Node::api(&db, &data, &logs, 1);

    // Every accepted job ends, succeeded.
    let until = Instant::now() + Duration::from_secs(600);
    for id in &accepted {
        loop {
            let j = get(api.base(), &format!("/v1/jobs/{id}"));
            let state = j["state"].as_str().unwrap_or_default().to_string();
            if state == "succeeded" {
                break;
            }
            let all: Vec<&Node> = std::iter::once(&api).chain(workers.iter()).collect();
            assert!(
                state != "failed" && state != "cancelled",
                "{j}\n{}",
                logs_of(&all)
            );
            assert!(Instant::now() < until, "{j}\n{}", logs_of(&all));
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    // Exactly once, with no lease or shard left behind.
    let mut pg = db.client();
    let rows = pg
        .query(
            "SELECT id, state, completions, lease_owner FROM jobs ORDER BY seq",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), accepted.len());
    for r in &rows {
        let (id, state, completions, owner): (String, String, i32, Option<String>) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        assert_eq!(
            (state.as_str(), completions, owner),
            ("succeeded", 1, None),
            "{id}"
        );
    }
    let shards: i64 = pg
        .query_one("SELECT count(*) FROM shards", &[])
        .unwrap()
        .get(0);
    assert_eq!(shards, 0);
    let lost: i64 = pg
        .query_one(
            "SELECT count(*) FROM jobs WHERE lease_until IS NOT NULL AND state = 'running'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(lost, 0);

    // The sweep equals one machine's `backtide sweep`, combination by combination, with
    // the best and the overfitting checks.
    let out = dir.path().join("cli-sweep.json");
    let status = Command::new(env!("CARGO_BIN_EXE_backtide"))
        .args(["sweep", "--data"])
        .arg(&csv_path)
        .args(["--strategy", "sma_cross", "--grid", "fast=2:51:1"])
        .args(["--grid", "slow=60:159:1", "--maximize", "sharpe_ratio"])
        .args(["--pbo-blocks", "8", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let cli: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let served = get(
        api.base(),
        &format!("/v1/jobs/{sweep_id}/result?limit=10000"),
    );
    assert_eq!(served["combos"].as_array().unwrap().len(), 5_000);
    assert_eq!(served["combos"], cli["combos"]);
    assert_eq!(served["best"], cli["best"]);
    assert_eq!(served["overfitting"], cli["overfitting"]);

    // Backtests equal the CLI's runs (a sample).
    for (fast, slow, id) in backtests.iter().step_by(10) {
        let served = get(
            api.base(),
            &format!("/v1/jobs/{id}/result?limit=10000&points=0"),
        );
        let cli = Command::new(env!("CARGO_BIN_EXE_backtide"))
            .args(["run", "--data"])
            .arg(&csv_path)
            .args(["--strategy", "sma_cross", "--param"])
            .arg(format!("fast={fast}"))
            .arg("--param")
            .arg(format!("slow={slow}"))
            .arg("--json")
            .output()
            .unwrap();
        let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
        assert_eq!(served["stats"], cli["stats"], "{id}");
        assert_eq!(served["trades"], cli["trades"], "{id}");
    }

    // The cluster view lists the live workers (two, after the kill) with their counters,
    // and the killed one's lease was lost and taken over.
    let cluster = get(api.base(), "/v1/cluster");
    assert_eq!(cluster["store"], "postgres");
    let nodes = cluster["nodes"].as_array().unwrap();
    let live_workers = nodes.iter().filter(|n| n["role"] == "worker").count();
    assert_eq!(live_workers, 2, "{cluster}");
    let claimed: u64 = nodes
        .iter()
        .map(|n| n["jobs_claimed"].as_u64().unwrap())
        .sum();
    assert!(claimed >= 51, "{cluster}");
    drop(workers);
}
