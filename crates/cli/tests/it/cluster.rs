//! A cluster of real processes sharing one PostgreSQL store and one data folder: an API
//! node without workers, and `backtide worker` nodes. The chaos test kills a worker while it
//! holds a shard's lease, kills the API, and restarts PostgreSQL, and checks that every
//! accepted job ends `succeeded` exactly once, that the sweep equals `backtide sweep --out`
//! combination by combination, and that no lease is left.
//!
//! Needs the server `scripts/with-postgres.sh` starts (`BACKTIDE_TEST_POSTGRES`); the chaos
//! test starts a server of its own from the same binaries (`BACKTIDE_PG_BIN`), since it
//! restarts it. Without them the tests say so and pass, unless `BACKTIDE_REQUIRE_POSTGRES=1`
//! (CI).

#![allow(
    clippy::disallowed_methods,
    reason = "deadlines for processes under test"
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::serve::walk_csv;

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
}

/// A PostgreSQL server of the test's own (a cluster in a temporary folder on a free loopback
/// port), so that restarting it disturbs no other test.
struct PrivateServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    root: bool,
}

impl PrivateServer {
    fn start() -> PrivateServer {
        let bin = PathBuf::from(std::env::var("BACKTIDE_PG_BIN").expect("BACKTIDE_PG_BIN"));
        let dir = tempfile::tempdir().unwrap();
        // PostgreSQL refuses to run as root: with-postgres.sh made a `postgres` user.
        let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        });
        let server = PrivateServer { bin, dir, root };
        if root {
            let uid = Command::new("id")
                .args(["-u", "postgres"])
                .output()
                .unwrap();
            let uid: u32 = String::from_utf8_lossy(&uid.stdout).trim().parse().unwrap();
            std::os::unix::fs::chown(server.dir.path(), Some(uid), None).unwrap();
        }
        let data = server.data();
        let ok = server
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "--no-sync"])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "initdb failed");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off",
            server.dir.path().display()
        );
        server.pg_ctl(&["-o", &opts, "start"]);
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.batch_execute("CREATE DATABASE backtide").unwrap();
        std::fs::write(server.dir.path().join("url"), url).unwrap();
        server
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, tool: &str) -> Command {
        if self.root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join(tool));
            c
        } else {
            Command::new(self.bin.join(tool))
        }
    }

    /// Runs pg_ctl; the server logs to a file (on our pipes it would hold them open).
    fn pg_ctl(&self, args: &[&str]) {
        let ok = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-m", "fast"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "pg_ctl {args:?} failed");
    }

    /// The `backtide` database on it.
    fn database(&self) -> Database {
        let admin = std::fs::read_to_string(self.dir.path().join("url")).unwrap();
        let url = format!("{}/backtide", admin.rsplit_once('/').unwrap().0);
        Database {
            admin,
            name: "backtide".into(),
            url,
        }
    }

    /// Restarts it (fast shutdown: connections are cut, as in a real restart).
    fn restart(&self) {
        self.pg_ctl(&["restart"]);
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
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

/// One test's folders: the data folder every node shares, and the nodes' logs.
struct Site {
    dir: tempfile::TempDir,
    data: PathBuf,
    logs: PathBuf,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
        std::fs::create_dir_all(&logs).unwrap();
        Site { dir, data, logs }
    }
}

/// Uploads `csv` through `api` as the dataset `walk`.
fn upload_walk(api: &Node, csv: String) {
    let r = http()
        .post(format!("{}/v1/datasets?name=walk", api.base()))
        .body(csv)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
}

/// Waits until a shard of sweep `id` runs; returns the node holding its lease.
fn running_shard_holder(db: &Database, id: &str, nodes: &[&Node]) -> String {
    let mut pg = db.client();
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let row = pg
            .query_opt(
                "SELECT lease_owner FROM shards WHERE state = 'running' AND job_id = $1 LIMIT 1",
                &[&id],
            )
            .unwrap();
        if let Some(r) = row {
            return r.get(0);
        }
        assert!(Instant::now() < until, "no shard ran: {}", logs_of(nodes));
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The pid in a node id (`host-pid-random`).
fn pid_of(node: &str) -> u32 {
    let mut parts = node.rsplitn(3, '-');
    parts.next();
    parts.next().unwrap().parse().unwrap()
}

#[test]
fn chaos_every_accepted_job_succeeds_once_and_the_sweep_equals_one_machines() {
    // The server must be this test's own: it is restarted below.
    if Database::create().is_none() {
        return;
    }
    let server = PrivateServer::start();
    let db = server.database();
    let Site { dir, data, logs } = Site::new();
    let csv_path = dir.path().join("walk.csv");
    let csv = walk_csv(3_000);
    std::fs::write(&csv_path, &csv).unwrap();

    let mut api = Node::api(&db, &data, &logs, 0);
    let mut workers: Vec<Node> = (0..3).map(|i| Node::worker(&db, &data, &logs, i)).collect();
    upload_walk(&api, csv);

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
    let holder = running_shard_holder(&db, &sweep_id, &workers.iter().collect::<Vec<_>>());
    let pid = pid_of(&holder);
    let victim = workers
        .iter_mut()
        .find(|w| w.child.id() == pid)
        .expect("the shard's holder is one of our workers");
    victim.kill();
    // SIGKILL the API, and restart PostgreSQL while the other workers run.
    api.kill();
    server.restart();
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

#[test]
fn a_worker_stopped_with_sigterm_gives_its_shard_back_at_once() {
    let Some(db) = Database::create() else {
        return;
    };
    let Site {
        dir: _dir,
        data,
        logs,
    } = Site::new();
    let api = Node::api(&db, &data, &logs, 0);
    upload_walk(&api, walk_csv(20_000));
    let mut worker = Node::worker(&db, &data, &logs, 0);
    let sweep = post(
        api.base(),
        "/v1/sweeps",
        &json!({"dataset": "walk", "strategy": {"name": "sma_cross"},
                "grid": {"fast": "2:41:1", "slow": "60:109:1"}, "pbo_blocks": 0,
                "objective": {"key": "sharpe_ratio"}}),
    );
    let id = sweep["id"].as_str().unwrap().to_string();
    running_shard_holder(&db, &id, &[&worker]);
    let mut pg = db.client();
    let term = Command::new("kill")
        .args(["-TERM", &worker.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    // It exits within its grace (1 s) plus a chunk, and holds nothing afterwards: the
    // shard is queued again without waiting for the lease to run out.
    let until = Instant::now() + Duration::from_secs(30);
    while worker.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < until, "{}", tail(&worker.log));
        std::thread::sleep(Duration::from_millis(20));
    }
    let held: i64 = pg
        .query_one(
            "SELECT count(*) FROM shards WHERE lease_owner IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(held, 0, "{}", tail(&worker.log));
    let nodes = get(api.base(), "/v1/cluster")["nodes"].clone();
    assert!(
        nodes
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["role"] != "worker"),
        "{nodes}"
    );
    // Another worker finishes the sweep from the checkpoints.
    let _next = Node::worker(&db, &data, &logs, 1);
    let until = Instant::now() + Duration::from_secs(300);
    loop {
        let j = get(api.base(), &format!("/v1/jobs/{id}"));
        if j["state"] == "succeeded" {
            break;
        }
        assert!(j["state"] != "failed" && Instant::now() < until, "{j}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let metrics = http()
        .get(format!("{}/metrics", api.base()))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("backtide_node_jobs_claimed_total 0"),
        "{metrics}"
    );
    drop(worker);
}

#[test]
fn api_only_nodes_and_workers_need_a_shared_store() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["serve", "--workers", "0"],
        vec!["worker"],
        vec!["worker", "--store", "sqlite:x.sqlite"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_backtide"))
            .args(&args)
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("BACKTIDE_STORE")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains("postgres://"), "{args:?}: {err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_backtide"))
        .args(["worker", "--store", "mysql://x"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expected postgres://"), "{err}");
}

#[test]
fn a_cancel_on_the_api_node_stops_a_sweep_running_on_the_workers() {
    let Some(db) = Database::create() else {
        return;
    };
    let Site {
        dir: _dir,
        data,
        logs,
    } = Site::new();
    let api = Node::api(&db, &data, &logs, 0);
    upload_walk(&api, walk_csv(20_000));
    let workers: Vec<Node> = (0..2).map(|i| Node::worker(&db, &data, &logs, i)).collect();
    let sweep = post(
        api.base(),
        "/v1/sweeps",
        &json!({"dataset": "walk", "strategy": {"name": "sma_cross"},
                "grid": {"fast": "2:61:1", "slow": "70:149:1"}, "pbo_blocks": 0,
                "objective": {"key": "sharpe_ratio"}}),
    );
    let id = sweep["id"].as_str().unwrap().to_string();
    running_shard_holder(&db, &id, &workers.iter().collect::<Vec<_>>());
    let mut pg = db.client();
    let r = http()
        .post(format!("{}/v1/jobs/{id}/cancel", api.base()))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 202, "{}", r.text().unwrap());
    // The workers hear of it at their next renewal (a third of the 3 s lease) and stop
    // within a chunk; the job ends cancelled, long before the sweep could have finished.
    let until = Instant::now() + Duration::from_secs(60);
    let done = loop {
        let j = get(api.base(), &format!("/v1/jobs/{id}"));
        if j["state"] != "running" {
            break j;
        }
        assert!(Instant::now() < until, "{j}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(done["state"], "cancelled", "{done}");
    let left: i64 = pg
        .query_one(
            "SELECT count(*) FROM shards WHERE job_id = $1 AND state <> 'cancelled' AND state <> 'done'",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    let held: i64 = pg
        .query_one(
            "SELECT count(*) FROM jobs WHERE lease_owner IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(held, 0);
}
