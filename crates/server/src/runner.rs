//! The job runner: a fixed pool of worker threads fed by the job table.
//!
//! Workers are plain threads (the engine is synchronous and CPU-bound; sweeps fan out on
//! rayon inside), so the async runtime that serves HTTP is never blocked. The runner keeps
//! only what must be fast and need not survive a restart in memory: each active job's
//! progress (a `watch` channel that server-sent events follow) and its stop flags.
//!
//! Each claim is a lease in the store. A keeper thread renews this node's leases (a third
//! of the lease's length apart), passes on cancel requests made on other nodes, stops the
//! jobs whose lease was lost (the node stalled and another took the job), and reports the
//! node's heartbeat for `GET /v1/cluster`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use backtide_core::{Bars, Universe};
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::spec::{JobSpec, Member};
use crate::store::{JobRow, JobState, Lease, Node, Shard, ShardEnd, ShardFinish, Store};
use crate::work::{JobData, Outcome, Signals, execute, finished_digest};

/// A job's live status, as server-sent events report it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Live {
    /// State.
    pub state: JobState,
    /// Progress 0..1.
    pub progress: f64,
}

/// In-memory handle of a queued or running job.
pub(crate) struct Active {
    tx: watch::Sender<Live>,
    stop: AtomicBool,
    shutdown: AtomicBool,
    /// This node holds it (claimed, not yet finished).
    claimed: AtomicBool,
    /// Its lease was lost to another node.
    lost: AtomicBool,
}

/// Limits that apply to job execution.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Worker threads.
    pub workers: usize,
    /// Most combinations per sweep.
    pub max_combinations: usize,
    /// Free space a job needs on the data directory's disk before it starts.
    pub min_free_bytes: u64,
    /// Memory the running jobs may take together, by estimate (see
    /// [`Runner::memory_estimate`]); 0 for no budget. A job that would exceed it waits
    /// until running jobs end; one larger than the budget runs alone.
    pub memory_budget: u64,
    /// How long a claim holds a job without renewal; a node that dies gives its jobs back
    /// after at most this long.
    pub lease: Duration,
    /// What this process is (`api`, `worker`, `api+worker`), as `/v1/cluster` shows it.
    pub role: String,
    /// Threads one sweep uses (0: one per core).
    pub sweep_threads: usize,
}

/// This process as the cluster knows it.
#[derive(Debug, Clone)]
pub(crate) struct NodeId {
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub started_at: String,
}

impl NodeId {
    fn new() -> NodeId {
        let host = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        let pid = std::process::id();
        let random = uuid::Uuid::new_v4().simple().to_string();
        NodeId {
            id: format!("{host}-{pid}-{}", &random[..8]),
            host,
            pid,
            started_at: crate::store::now_iso(),
        }
    }
}

/// This node's cluster counters.
#[derive(Debug, Default)]
pub(crate) struct NodeCounters {
    pub claimed: AtomicU64,
    pub renewals: AtomicU64,
    pub lost: AtomicU64,
}

/// The pool.
pub struct Runner {
    store: Arc<dyn Store>,
    node: NodeId,
    pub(crate) counters: NodeCounters,
    data_dir: PathBuf,
    config: RunnerConfig,
    metrics: Arc<Metrics>,
    active: Mutex<HashMap<String, Arc<Active>>>,
    wake: (Mutex<u64>, Condvar),
    closing: AtomicBool,
    running: AtomicU64,
    bars: Mutex<Vec<(String, Arc<Bars>)>>,
    /// Result files found intact since the start.
    pub(crate) checked: crate::storage::Checked,
    /// Memory reserved by the running jobs' estimates (claims are made under this lock).
    admitted: Mutex<u64>,
    /// Held while a damaged result is removed and its job requeued.
    damage: Mutex<()>,
}

/// What splitting a sweep job did.
enum Split {
    /// Not split: it runs whole here.
    Whole,
    /// Its shards run it now (how many).
    HandedOver(usize),
    /// Its shards had all ended already: merge now.
    Ended,
}

/// What a worker thread took from the store.
enum Claimed {
    /// A whole job.
    Job(JobRow),
    /// Part of a split sweep.
    Shard(Shard),
}

/// Attempts after which a job whose result does not fit on the disk fails (with the
/// reason) rather than being queued again.
const DISK_FULL_TRIES: u32 = 10;

/// Loaded datasets kept in memory (small backtests should not re-parse their CSV).
const BARS_CACHE: usize = 4;

impl Runner {
    /// A runner over `store`; call [`Runner::start`] to launch the workers.
    pub fn new(
        store: Arc<dyn Store>,
        data_dir: &Path,
        config: RunnerConfig,
        metrics: Arc<Metrics>,
    ) -> Arc<Runner> {
        Arc::new(Runner {
            store,
            node: NodeId::new(),
            counters: NodeCounters::default(),
            data_dir: data_dir.to_path_buf(),
            config,
            metrics,
            active: Mutex::new(HashMap::new()),
            wake: (Mutex::new(0), Condvar::new()),
            closing: AtomicBool::new(false),
            running: AtomicU64::new(0),
            bars: Mutex::new(Vec::new()),
            checked: crate::storage::Checked::default(),
            admitted: Mutex::new(0),
            damage: Mutex::new(()),
        })
    }

    /// Launches the worker threads (none for an API-only node of a cluster) and the lease
    /// keeper.
    pub fn start(self: &Arc<Self>) -> Vec<std::thread::JoinHandle<()>> {
        let mut threads: Vec<_> = (0..self.config.workers)
            .map(|i| {
                let me = self.clone();
                std::thread::Builder::new()
                    .name(format!("backtide-worker-{i}"))
                    .spawn(move || me.work())
                    .expect("spawning a worker thread")
            })
            .collect();
        let me = self.clone();
        threads.push(
            std::thread::Builder::new()
                .name("backtide-leases".into())
                .spawn(move || me.keep_leases())
                .expect("spawning the lease keeper"),
        );
        tracing::info!(node = %self.node.id, role = %self.config.role,
            workers = self.config.workers, lease = ?self.config.lease, "node started");
        threads
    }

    /// This node's lease.
    fn lease(&self) -> Lease {
        Lease {
            owner: self.node.id.clone(),
            ttl: self.config.lease,
        }
    }

    /// This node's id in the store.
    pub fn node_id(&self) -> &str {
        &self.node.id
    }

    /// How long nodes wait before a silent node's jobs go to another.
    pub fn lease_ttl(&self) -> Duration {
        self.config.lease
    }

    /// Appends this node's cluster counters to a Prometheus exposition.
    pub fn render_node_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let c = &self.counters;
        for (name, help, v) in [
            (
                "backtide_node_jobs_claimed_total",
                "Jobs this node claimed.",
                &c.claimed,
            ),
            (
                "backtide_node_lease_renewals_total",
                "Lease renewals this node made.",
                &c.renewals,
            ),
            (
                "backtide_node_leases_lost_total",
                "Jobs this node lost because its lease ran out.",
                &c.lost,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP backtide_node_running Jobs running on this node.\n# TYPE backtide_node_running gauge\nbacktide_node_running {}",
            self.running()
        );
    }

    /// This node as `/v1/cluster` shows it.
    fn node(&self) -> Node {
        Node {
            id: self.node.id.clone(),
            role: self.config.role.clone(),
            host: self.node.host.clone(),
            pid: self.node.pid,
            threads: self.config.workers as u32,
            started_at: self.node.started_at.clone(),
            seen_ms_ago: 0,
            running: self.running(),
            jobs_claimed: self.counters.claimed.load(Ordering::Relaxed),
            lease_renewals: self.counters.renewals.load(Ordering::Relaxed),
            leases_lost: self.counters.lost.load(Ordering::Relaxed),
        }
    }

    /// Renews this node's leases and reports its heartbeat until shutdown has finished;
    /// with a shared store, also follows the jobs watched here that other nodes run.
    fn keep_leases(self: Arc<Self>) {
        let every = (self.config.lease / 3).max(Duration::from_millis(50));
        let tick = every.min(Duration::from_millis(250));
        let mut renewed: Option<Instant> = None;
        loop {
            let done = self.closing.load(Ordering::SeqCst) && self.running() == 0;
            if done {
                if let Err(e) = self.store.leave(&self.node.id) {
                    tracing::warn!(error = %e, "could not remove this node from the cluster list");
                }
                return;
            }
            if renewed.is_none_or(|t| t.elapsed() >= every) {
                renewed = Some(Instant::now());
                self.renew_once();
            }
            if self.store.is_shared() {
                self.follow_remote();
            }
            std::thread::sleep(tick);
        }
    }

    /// Passes the stored progress and end of jobs that are watched here (a client waits
    /// or follows events) but run on another node to their watchers.
    fn follow_remote(&self) {
        let watched: Vec<(String, Arc<Active>)> = self
            .lock_active()
            .iter()
            .filter(|(_, a)| !a.claimed.load(Ordering::SeqCst))
            .map(|(id, a)| (id.clone(), a.clone()))
            .collect();
        for (id, a) in watched {
            let Ok(Some(row)) = self.store.job(&id) else {
                continue;
            };
            if row.state.is_terminal() {
                self.ended(&id, row.state);
            } else {
                a.tx.send_if_modified(|l| {
                    let changed = l.state != row.state || l.progress != row.progress;
                    *l = Live {
                        state: row.state,
                        progress: row.progress,
                    };
                    changed
                });
            }
        }
    }

    /// One renewal: extends the leases, stops cancelled and lost jobs, beats.
    fn renew_once(&self) {
        // Only what this node held before the renewal can have been lost: a claim made
        // meanwhile is committed after the renewal read the table, and must not be taken
        // for a job another node took.
        let before: Vec<String> = self
            .lock_active()
            .iter()
            .filter(|(_, a)| a.claimed.load(Ordering::SeqCst))
            .map(|(id, _)| id.clone())
            .collect();
        match self.store.renew(&self.lease()) {
            Ok(r) => {
                self.counters.renewals.fetch_add(1, Ordering::Relaxed);
                let active = self.lock_active();
                for id in &r.cancel {
                    if let Some(a) = active.get(id) {
                        a.stop.store(true, Ordering::Relaxed);
                    }
                }
                for id in before {
                    let Some(a) = active.get(&id) else {
                        continue;
                    };
                    if a.claimed.load(Ordering::SeqCst) && r.held.binary_search(&id).is_err() {
                        // Another node took it after our lease ran out: stop, and do not
                        // record an outcome (the store would refuse it anyway).
                        if !a.lost.swap(true, Ordering::SeqCst) {
                            self.counters.lost.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(job = %id, "lease lost; stopping the job here");
                            a.stop.store(true, Ordering::SeqCst);
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "renewing leases failed; retrying"),
        }
        if let Err(e) = self.store.heartbeat(&self.node()) {
            tracing::warn!(error = %e, "heartbeat failed");
        }
    }

    /// Wakes a worker: a job was queued.
    pub fn notify(&self) {
        let (m, cv) = &self.wake;
        *m.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        cv.notify_one();
    }

    /// Follows a job's live status; `None` when the job is not active in this process.
    pub fn watch(&self, id: &str) -> Option<watch::Receiver<Live>> {
        self.lock_active().get(id).map(|a| a.tx.subscribe())
    }

    /// Registers a queued job so that watchers can follow it from the start.
    pub fn register(&self, id: &str) -> watch::Receiver<Live> {
        self.active_entry(id, JobState::Queued).tx.subscribe()
    }

    /// The live progress of an active job.
    pub fn progress(&self, id: &str) -> Option<f64> {
        self.lock_active().get(id).map(|a| a.tx.borrow().progress)
    }

    /// Asks a running job to stop; true if it was running here.
    pub fn cancel(&self, id: &str) -> bool {
        match self.lock_active().get(id) {
            Some(a) => {
                a.stop.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Drops a registration whose job was never committed.
    pub fn forget(&self, id: &str) {
        self.lock_active().remove(id);
    }

    /// Marks a job's end for its watchers (e.g. a queued job cancelled).
    pub fn ended(&self, id: &str, state: JobState) {
        if let Some(a) = self.lock_active().remove(id) {
            // Read first: a watch borrow held across the send would deadlock.
            let progress = a.tx.borrow().progress;
            a.tx.send_replace(Live { state, progress });
        }
    }

    /// True once shutdown began: no new jobs are taken.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Jobs running now.
    pub fn running(&self) -> u64 {
        self.running.load(Ordering::Relaxed)
    }

    /// Stops taking jobs; running ones get `grace` to finish, then are interrupted and put
    /// back in the queue for the next start. Returns once every worker is idle.
    pub fn shutdown(&self, grace: Duration) {
        self.closing.store(true, Ordering::SeqCst);
        self.wake.1.notify_all();
        let deadline = Instant::now() + grace;
        while self.running() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.running() > 0 {
            for a in self.lock_active().values() {
                a.shutdown.store(true, Ordering::SeqCst);
                a.stop.store(true, Ordering::SeqCst);
            }
            // A sweep notices within one chunk; a backtest cannot be interrupted, so wait
            // a little and then leave it: the store still says running, and the next
            // start puts it back in the queue.
            let hard = Instant::now() + Duration::from_secs(5);
            while self.running() > 0 && Instant::now() < hard {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if self.running() > 0 {
            // Still running (a backtest cannot be interrupted): give its lease back now so
            // that another node takes it at once, instead of after the lease runs out.
            match self.store.release(&self.node.id) {
                Ok(n) => tracing::info!(released = n, "jobs still running were given back"),
                Err(e) => tracing::warn!(error = %e, "giving back the leases failed; they expire"),
            }
        }
    }

    fn lock_active(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Active>>> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn active_entry(&self, id: &str, state: JobState) -> Arc<Active> {
        self.lock_active()
            .entry(id.to_string())
            .or_insert_with(|| {
                Arc::new(Active {
                    tx: watch::Sender::new(Live {
                        state,
                        progress: 0.0,
                    }),
                    stop: AtomicBool::new(false),
                    shutdown: AtomicBool::new(false),
                    claimed: AtomicBool::new(false),
                    lost: AtomicBool::new(false),
                })
            })
            .clone()
    }

    fn work(self: Arc<Self>) {
        loop {
            if self.closing.load(Ordering::SeqCst) {
                return;
            }
            let seen = *self.wake.0.lock().unwrap_or_else(|p| p.into_inner());
            // A full disk would fail the job's result: leave it queued until there is room.
            let room =
                crate::storage::ensure_room(&self.data_dir, 0, self.config.min_free_bytes).is_ok();
            let claimed = match room.then(|| self.admit()).transpose() {
                Ok(j) => j,
                Err(e) => {
                    tracing::error!(error = %e, "claiming a job failed");
                    None
                }
            }
            .flatten();
            match claimed {
                Some((work, reserved)) => {
                    self.running.fetch_add(1, Ordering::SeqCst);
                    match work {
                        Claimed::Job(job) => self.run_one(job),
                        Claimed::Shard(shard) => self.run_shard(shard),
                    }
                    self.running.fetch_sub(1, Ordering::SeqCst);
                    *self.admitted.lock().unwrap_or_else(|p| p.into_inner()) -= reserved;
                    // A job held back by the budget may fit now.
                    self.notify();
                }
                None => {
                    let (m, cv) = &self.wake;
                    let guard = m.lock().unwrap_or_else(|p| p.into_inner());
                    // Other nodes' submissions wake nobody here: poll a shared store sooner.
                    let idle = if self.store.is_shared() {
                        Duration::from_millis(100)
                    } else {
                        Duration::from_millis(500)
                    };
                    if *guard == seen && !self.closing.load(Ordering::SeqCst) {
                        let _ = cv.wait_timeout(guard, idle);
                    }
                }
            }
        }
    }

    /// Claims the next job if the memory budget admits it (always when nothing runs), with
    /// the estimate reserved for it.
    fn admit(&self) -> anyhow::Result<Option<(Claimed, u64)>> {
        let mut admitted = self.admitted.lock().unwrap_or_else(|p| p.into_inner());
        let budget = self.config.memory_budget;
        // Shards of split sweeps first: they finish jobs already under way. Under a memory
        // budget, only when nothing else runs here (a shard's size is its sweep's).
        if self.store.is_shared()
            && (budget == 0 || *admitted == 0)
            && let Some(shard) = self.store.claim_shard(&self.lease())?
        {
            self.counters.claimed.fetch_add(1, Ordering::Relaxed);
            let reserved = if budget > 0 {
                self.memory_estimate(&shard.job)
            } else {
                0
            };
            *admitted += reserved;
            return Ok(Some((Claimed::Shard(shard), reserved)));
        }
        if budget > 0 && *admitted > 0 {
            let Some(next) = self.store.next_queued()? else {
                return Ok(None);
            };
            if admitted.saturating_add(self.memory_estimate(&next)) > budget {
                return Ok(None);
            }
        }
        let Some(job) = self.store.claim(&self.lease())? else {
            return Ok(None);
        };
        self.counters.claimed.fetch_add(1, Ordering::Relaxed);
        let reserved = if budget > 0 {
            self.memory_estimate(&job)
        } else {
            0
        };
        *admitted += reserved;
        Ok(Some((Claimed::Job(job), reserved)))
    }

    /// A job's memory, estimated from its data's bar count: a backtest keeps its bars
    /// (48 bytes a bar), the loaded file and its per-bar results (about 256 bytes a bar in
    /// all); a sweep its bars, the indicator cache (at most 64 MiB) and each core's
    /// per-bar buffers (16 bytes a bar each).
    pub(crate) fn memory_estimate(&self, job: &JobRow) -> u64 {
        let ids: Vec<String> = match job
            .universe
            .as_deref()
            .and_then(|u| serde_json::from_str::<Vec<Member>>(u).ok())
        {
            Some(members) => {
                let mut ids: Vec<String> = members.into_iter().map(|m| m.dataset).collect();
                ids.sort();
                ids.dedup();
                ids
            }
            None => vec![job.dataset.clone()],
        };
        let rows: u64 = ids
            .iter()
            .filter_map(|id| self.store.dataset(id).ok().flatten())
            .map(|d| d.rows)
            .sum();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
        if job.kind == "sweep" {
            rows * (64 + 16 * cores) + (80 << 20)
        } else {
            rows * 256 + (16 << 20)
        }
    }

    /// A finished job's result turned out damaged (`why`): its folder goes, and the job
    /// goes back to the queue, or to `failed` when what it ran on is gone. Returns what to
    /// tell the client who asked for the result.
    pub(crate) fn result_damaged(&self, job: &JobRow, why: &str) -> anyhow::Result<String> {
        // One at a time, and only while the job still has the result found damaged: a
        // second reader of the same damage must not remove the folder of the run the
        // first one queued (no worker can claim it before the state changes below).
        let _one = self.damage.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.store.job(&job.id)?;
        if now.as_ref().and_then(|j| j.result_digest.as_deref()) != job.result_digest.as_deref()
            || !now.as_ref().is_some_and(JobRow::has_result)
        {
            return Ok(format!(
                "job `{}`'s result was damaged ({why}) and is being made again",
                job.id
            ));
        }
        tracing::error!(job = %job.id, why, "a stored result is damaged");
        let dir = self.result_dir(&job.id);
        self.checked.forget(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        let inputs = self.inputs_present(job)?;
        if let Err(missing) = inputs {
            let error = format!(
                "its result was damaged ({why}) and cannot be made again: {missing}; submit it \
                 again"
            );
            self.store.fail_damaged(&job.id, &error)?;
            return Ok(format!("job `{}` {error}", job.id));
        }
        let queued = self.store.requeue_damaged(&job.id)?;
        if queued && job.state == JobState::Succeeded {
            self.active_entry(&job.id, JobState::Queued);
            self.notify();
            Ok(format!(
                "job `{}`'s result was damaged ({why}); the job is queued to run again",
                job.id
            ))
        } else {
            Ok(format!(
                "job `{}`'s partial result was damaged ({why}) and was removed",
                job.id
            ))
        }
    }

    /// `Err(what is missing)` when a job's datasets (or uploaded model) are gone.
    fn inputs_present(&self, job: &JobRow) -> anyhow::Result<Result<(), String>> {
        let ids: Vec<String> = match &job.universe {
            Some(u) => serde_json::from_str::<Vec<Member>>(u)?
                .into_iter()
                .map(|m| m.dataset)
                .collect(),
            None => vec![job.dataset.clone()],
        };
        for id in ids {
            if self.store.dataset(&id)?.is_none() {
                return Ok(Err(format!("its dataset {id} was deleted")));
            }
        }
        let mut spec: JobSpec = serde_json::from_str(&job.spec)?;
        if let Some(id) = spec.benchmark()
            && self.store.dataset(id)?.is_none()
        {
            return Ok(Err(format!("its benchmark dataset {id} was deleted")));
        }
        if let Err(e) =
            crate::spec::resolve_model(spec.strategy_mut(), &*self.store, &self.data_dir)
        {
            return Ok(Err(crate::work::describe(e)));
        }
        Ok(Ok(()))
    }

    /// Checks the results of the `n` most recent finished jobs (a crash or a bad disk may
    /// have damaged them since they were written); returns how many were damaged.
    pub fn check_recent(&self, n: usize) -> anyhow::Result<usize> {
        let mut damaged = 0;
        for job in self.store.recent_results(n)? {
            let Some(digest) = &job.result_digest else {
                continue;
            };
            let dir = self.result_dir(&job.id);
            if let Err(why) = crate::storage::check_result(&dir, digest) {
                self.result_damaged(&job, &why)?;
                damaged += 1;
            }
        }
        Ok(damaged)
    }

    /// The job's result folder.
    pub fn result_dir(&self, id: &str) -> PathBuf {
        self.data_dir.join("results").join(id)
    }

    /// Loads a dataset's bars (cached).
    pub fn bars(&self, dataset_id: &str, format: &str) -> anyhow::Result<Arc<Bars>> {
        {
            let cache = self.bars.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, b)) = cache.iter().find(|(k, _)| k == dataset_id) {
                return Ok(b.clone());
            }
        }
        let path = crate::datasets::dataset_path(&self.data_dir, dataset_id, format);
        let bars = Arc::new(backtide_data::load(&path.to_string_lossy())?);
        let mut cache = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        if !cache.iter().any(|(k, _)| k == dataset_id) {
            if cache.len() >= BARS_CACHE {
                cache.remove(0);
            }
            cache.push((dataset_id.to_string(), bars.clone()));
        }
        Ok(bars)
    }

    /// Loads a portfolio job's universe from its members (symbol and dataset content id
    /// each): a single-asset dataset's bars, or a long-format dataset's rows of the symbol.
    pub fn universe(&self, members: &[Member]) -> anyhow::Result<Universe> {
        let mut long: Vec<(String, Universe)> = Vec::new();
        let mut assets = Vec::with_capacity(members.len());
        for m in members {
            let d = self
                .store
                .dataset(&m.dataset)?
                .ok_or_else(|| anyhow::anyhow!("dataset {} was deleted", m.dataset))?;
            let bars = if d.symbols.is_some() {
                if !long.iter().any(|(id, _)| *id == d.id) {
                    let path = crate::datasets::dataset_path(&self.data_dir, &d.id, &d.format);
                    let u = backtide_data::load_universe(&[path.to_string_lossy()])?;
                    long.push((d.id.clone(), u));
                }
                let (_, u) = long
                    .iter()
                    .find(|(id, _)| *id == d.id)
                    .ok_or_else(|| anyhow::anyhow!("dataset {} not loaded", d.id))?;
                u.assets()
                    .iter()
                    .find(|a| a.symbol() == m.symbol)
                    .ok_or_else(|| {
                        anyhow::anyhow!("dataset {} has no symbol `{}`", d.id, m.symbol)
                    })?
                    .bars()
                    .clone()
            } else {
                (*self.bars(&d.id, &d.format)?).clone()
            };
            assets.push((m.symbol.clone(), format!("dataset {}", d.id), bars));
        }
        Ok(Universe::try_new(assets)?)
    }

    /// The data of a job: its universe (a portfolio job) or its dataset's bars.
    pub(crate) fn job_data(&self, job: &JobRow) -> anyhow::Result<JobData> {
        if let Some(text) = &job.universe {
            let members: Vec<Member> = serde_json::from_str(text)?;
            return Ok(JobData::Universe(self.universe(&members)?));
        }
        let dataset = self
            .store
            .dataset(&job.dataset)?
            .ok_or_else(|| anyhow::anyhow!("dataset {} was deleted", job.dataset))?;
        Ok(JobData::Bars(self.bars(&dataset.id, &dataset.format)?))
    }

    /// The bars of a backtest's benchmark dataset, if it names one.
    pub(crate) fn benchmark_bars(&self, spec: &JobSpec) -> anyhow::Result<Option<Arc<Bars>>> {
        let Some(id) = spec.benchmark() else {
            return Ok(None);
        };
        let d = self
            .store
            .dataset(id)?
            .ok_or_else(|| anyhow::anyhow!("benchmark dataset {id} was deleted"))?;
        Ok(Some(self.bars(&d.id, &d.format)?))
    }

    /// Forgets a deleted dataset's cached bars.
    pub fn forget_bars(&self, dataset_id: &str) {
        self.bars
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(k, _)| k != dataset_id);
    }

    fn run_one(&self, job: JobRow) {
        let started = Instant::now();
        let id = job.id.clone();
        let active = self.active_entry(&id, JobState::Running);
        active.claimed.store(true, Ordering::SeqCst);
        active.lost.store(false, Ordering::SeqCst);
        active.stop.store(false, Ordering::SeqCst);
        active.tx.send_replace(Live {
            state: JobState::Running,
            progress: 0.0,
        });
        let dir = self.result_dir(&id);
        let span = tracing::info_span!("job", id = %id, kind = %job.kind, attempt = job.attempts);
        let _enter = span.enter();

        // Finished before a crash: keep that result, do not run again — if it is whole.
        if let Some(digest) = finished_digest(&dir) {
            match crate::storage::check_result(&dir, &digest) {
                Ok(()) => {
                    tracing::info!("result already written before a restart; not running again");
                    self.finish(&id, JobState::Succeeded, None, Some(&digest));
                    return;
                }
                Err(why) => {
                    tracing::warn!(
                        why,
                        "a result written before a restart is damaged; running again"
                    );
                    self.checked.forget(&dir);
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
        }
        if self.store.is_shared() && job.kind == "sweep" {
            match self.split(&job) {
                Ok(Split::Whole) => {}
                Ok(Split::HandedOver(n)) => {
                    tracing::info!(shards = n, "split into shards for the cluster's workers");
                    // Watchers here follow it through the store from now on.
                    active.claimed.store(false, Ordering::SeqCst);
                    return;
                }
                Ok(Split::Ended) => {
                    self.merge_split(&job, &dir);
                    return;
                }
                Err(e) => {
                    // Not split: it runs whole here, as on a single node.
                    tracing::warn!(error = format!("{e:#}"), "could not split the sweep");
                }
            }
        }
        tracing::info!("started");
        let last_saved = Mutex::new(Instant::now());
        let progress = |p: f64| {
            active.tx.send_if_modified(|l| {
                // Report in steps of 0.1 % so watchers are not flooded.
                if (p - l.progress).abs() >= 0.001 || p >= 1.0 {
                    l.progress = p;
                    true
                } else {
                    false
                }
            });
            let mut last = last_saved.lock().unwrap_or_else(|x| x.into_inner());
            if last.elapsed() >= Duration::from_millis(500) {
                *last = Instant::now();
                let _ = self.store.set_progress(&id, p);
            }
        };
        let signals = Signals {
            stop: &active.stop,
            shutdown: &active.shutdown,
            progress: &progress,
            threads: self.config.sweep_threads,
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut spec: JobSpec = serde_json::from_str(&job.spec)?;
            let model =
                crate::spec::resolve_model(spec.strategy_mut(), &*self.store, &self.data_dir)
                    .map_err(|e| anyhow::anyhow!("{}", crate::work::describe(e)))?;
            let data = self.job_data(&job)?;
            let benchmark = self.benchmark_bars(&spec)?;
            execute(
                &spec,
                &data,
                benchmark.as_deref(),
                &dir,
                self.config.max_combinations,
                &signals,
                model.as_deref(),
            )
        }));
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(Ok((Outcome::Succeeded, digest))) => {
                self.metrics.job(&job.kind, seconds);
                tracing::info!(seconds, "succeeded");
                self.finish(&id, JobState::Succeeded, None, digest.as_deref());
            }
            Ok(Ok((Outcome::Cancelled, digest))) => {
                tracing::info!(seconds, "cancelled");
                self.finish(&id, JobState::Cancelled, None, digest.as_deref());
            }
            Ok(Ok((Outcome::Interrupted, _))) => {
                tracing::info!("interrupted by shutdown; queued again for the next start");
                if let Err(e) = self.store.requeue(&id) {
                    tracing::error!(error = %e, "requeueing failed");
                }
                self.lock_active().remove(&id);
            }
            Ok(Err(e)) if crate::storage::is_disk_full(&e) && job.attempts < DISK_FULL_TRIES => {
                // Not the job's fault: it runs again once there is room, behind the jobs
                // queued meanwhile (a result larger than the room must not hold up the
                // queue); its result files are written atomically, so none is half-written.
                tracing::error!(
                    error = format!("{e:#}"),
                    "disk full; the job is queued again"
                );
                if let Err(e) = self.store.requeue_last(&id) {
                    tracing::error!(error = %e, "requeueing failed");
                }
                self.lock_active().remove(&id);
                // Room is short even above the reserve: do not spin on the same job.
                std::thread::sleep(Duration::from_secs(1));
            }
            Ok(Err(e)) => {
                tracing::warn!(error = format!("{e:#}"), "failed");
                crate::work::remove_checkpoint(&dir);
                let shown = crate::work::redact(&format!("{e:#}"), &self.data_dir);
                self.finish(&id, JobState::Failed, Some(&shown), None);
            }
            Err(panic) => {
                crate::work::remove_checkpoint(&dir);
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                tracing::error!(panic = %msg, "job panicked");
                let shown = crate::work::redact(&msg, &self.data_dir);
                self.finish(
                    &id,
                    JobState::Failed,
                    Some(&format!("internal error: {shown}")),
                    None,
                );
            }
        }
    }

    /// Splits a sweep job this node holds into shards (kept if it was split before) and
    /// hands it to them.
    fn split(&self, job: &JobRow) -> anyhow::Result<Split> {
        let spec: JobSpec = serde_json::from_str(&job.spec)?;
        let data = self.job_data(job)?;
        let Some(plan) = crate::work::shard_plan(&spec, &data, self.config.max_combinations)?
        else {
            return Ok(Split::Whole);
        };
        self.store.split(&job.id, &plan)?;
        if self.store.hand_over(&job.id, &self.node.id)? {
            Ok(Split::HandedOver(self.store.shards(&job.id)?.len()))
        } else {
            Ok(Split::Ended)
        }
    }

    /// Runs one shard of a split sweep; the node that ends the last one merges the parts.
    fn run_shard(&self, shard: Shard) {
        let key = shard.key();
        let active = self.active_entry(&key, JobState::Running);
        active.claimed.store(true, Ordering::SeqCst);
        active.lost.store(false, Ordering::SeqCst);
        active.stop.store(false, Ordering::SeqCst);
        let dir = self.result_dir(&shard.job.id);
        let span = tracing::info_span!("shard", job = %shard.job.id, index = shard.index,
            combinations = %format!("{}..{}", shard.start, shard.end));
        let _enter = span.enter();
        let started = Instant::now();
        let signals = Signals {
            stop: &active.stop,
            shutdown: &active.shutdown,
            progress: &|_| {},
            threads: self.config.sweep_threads,
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut spec: JobSpec = serde_json::from_str(&shard.job.spec)?;
            crate::spec::resolve_model(spec.strategy_mut(), &*self.store, &self.data_dir)
                .map_err(|e| anyhow::anyhow!("{}", crate::work::describe(e)))?;
            let data = self.job_data(&shard.job)?;
            crate::work::run_shard(
                &spec,
                &data,
                &crate::work::shard_dir(&dir, shard.index),
                (shard.start, shard.end),
                self.config.max_combinations,
                &signals,
            )
        }));
        let mut failure = None;
        let end = match result {
            Ok(Ok(true)) => ShardEnd::Done,
            Ok(Ok(false)) if active.shutdown.load(Ordering::SeqCst) => ShardEnd::Requeue,
            Ok(Ok(false)) => ShardEnd::Cancelled,
            Ok(Err(e)) => {
                failure = Some(crate::work::redact(&format!("{e:#}"), &self.data_dir));
                ShardEnd::Cancelled
            }
            Err(_) => {
                failure = Some("internal error: a shard panicked".to_string());
                ShardEnd::Cancelled
            }
        };
        if let Some(f) = &failure {
            // One part failing fails the sweep: stop the other parts.
            tracing::warn!(error = %f, "shard failed; cancelling its sweep");
            let _ = self.store.cancel(&shard.job.id);
        }
        self.lock_active().remove(&key);
        if active.lost.load(Ordering::SeqCst) {
            return;
        }
        let finished = self
            .store
            .finish_shard(&shard.job.id, shard.index, &self.lease(), end);
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            ?end,
            "shard ended"
        );
        match finished {
            Ok(ShardFinish::Last) => {
                let active = self.active_entry(&shard.job.id, JobState::Running);
                active.claimed.store(true, Ordering::SeqCst);
                active.lost.store(false, Ordering::SeqCst);
                if let Some(f) = failure {
                    self.finish(&shard.job.id, JobState::Failed, Some(&f), None);
                } else {
                    self.merge_split(&shard.job, &dir);
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "recording the shard's end failed; its lease expires")
            }
        }
    }

    /// Ends a split sweep whose every shard has ended and that this node now holds: its
    /// result merged from the parts, or its cancel recorded.
    fn merge_split(&self, job: &JobRow, dir: &Path) {
        let started = Instant::now();
        let result = (|| -> anyhow::Result<(crate::work::Outcome, Option<String>)> {
            let shards = self.store.shards(&job.id)?;
            if shards.iter().any(|s| s.state != "done") {
                let _ = std::fs::remove_dir_all(dir.join("shards"));
                return Ok((crate::work::Outcome::Cancelled, None));
            }
            let mut spec: JobSpec = serde_json::from_str(&job.spec)?;
            let model =
                crate::spec::resolve_model(spec.strategy_mut(), &*self.store, &self.data_dir)
                    .map_err(|e| anyhow::anyhow!("{}", crate::work::describe(e)))?;
            let data = self.job_data(job)?;
            let parts: Vec<(u32, u64, u64)> =
                shards.iter().map(|s| (s.index, s.start, s.end)).collect();
            crate::work::merge_shards(
                &spec,
                &data,
                dir,
                &parts,
                self.config.max_combinations,
                model.as_deref(),
            )
        })();
        match result {
            Ok((crate::work::Outcome::Succeeded, digest)) => {
                self.metrics.job(&job.kind, started.elapsed().as_secs_f64());
                tracing::info!(job = %job.id, "merged the shards");
                self.finish(&job.id, JobState::Succeeded, None, digest.as_deref());
            }
            Ok((_, digest)) => {
                tracing::info!(job = %job.id, "cancelled");
                self.finish(&job.id, JobState::Cancelled, None, digest.as_deref());
            }
            Err(e) => {
                tracing::warn!(job = %job.id, error = format!("{e:#}"), "merging failed");
                let shown = crate::work::redact(&format!("{e:#}"), &self.data_dir);
                self.finish(&job.id, JobState::Failed, Some(&shown), None);
            }
        }
    }

    fn finish(&self, id: &str, state: JobState, error: Option<&str>, digest: Option<&str>) {
        // No longer held once its end is recorded: the lease keeper must not take the
        // recorded end for a lost lease.
        let lost = self.lock_active().get(id).is_some_and(|a| {
            a.claimed.store(false, Ordering::SeqCst);
            a.lost.load(Ordering::SeqCst)
        });
        if !lost {
            // The store may be restarting: try for as long as the lease would last, so an
            // outcome is not dropped for a moment's outage.
            let deadline = Instant::now() + self.config.lease;
            let mut pause = Duration::from_millis(50);
            loop {
                match self.store.finish(id, &self.node.id, state, error, digest) {
                    Ok(true) => break,
                    Ok(false) => {
                        tracing::warn!(job = %id, "the job is no longer held here; outcome not recorded");
                        break;
                    }
                    Err(e) if Instant::now() < deadline => {
                        tracing::warn!(error = %e, "recording the job's end failed; retrying");
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(Duration::from_secs(2));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "recording the job's end failed");
                        break;
                    }
                }
            }
        }
        self.ended(id, state);
    }
}
