//! Backtide's REST service: upload datasets, run backtests and sweeps as durable
//! background jobs, follow their progress, fetch their results; documented by OpenAPI.
//!
//! [`app`] builds the axum router over an [`AppState`] (tests drive it directly with
//! `tower::ServiceExt::oneshot`); [`serve`] binds a socket, starts the worker pool and
//! shuts down gracefully. Jobs live in a [`Store`]: one SQLite file by default, or a
//! PostgreSQL database that API replicas and workers on many hosts share; the [`Runner`]'s
//! worker threads claim them under leases, so CPU work never blocks the async runtime and
//! an accepted job survives a crash of any node. [`work`] runs a node with workers and no
//! HTTP (`backtide worker`).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let config = backtide_server::ServeConfig::new("./backtide-data");
//! backtide_server::serve(config, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

#![allow(
    clippy::disallowed_methods,
    reason = "a service times requests and jobs and stamps them with the wall clock; the \
              engine it calls stays clock-free"
)]

mod checkpoint;
pub mod container;
mod datasets;
mod error;
mod metrics;
mod openapi;
mod paging;
mod routes;
mod runner;
mod spec;
mod storage;
mod store;
mod work;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;

pub use error::{ApiError, Detail};
pub use metrics::Metrics;
pub use openapi::openapi;
pub use runner::{Runner, RunnerConfig};
pub use spec::{
    BacktestRequest, BrokerSettings, CallSeqName, DatasetsRef, FillName, JobSpec, Member,
    StrategyRef, SweepRequest,
};
pub use store::{
    Dataset, JobState, NameConflict, Node, PgStore, PutOutcome, SqliteStore, Store, StoreError,
    StoreLocation,
};

/// The bearer token clients must send: 1 to 4096 visible ASCII characters (what an
/// `Authorization` header carries unchanged). An empty token is not a token: it would
/// turn authentication off without anyone asking for that, so it cannot be made.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Checks `text` (a trailing line break, as token files end, is not part of it).
    pub fn new(text: &str) -> Result<Token, TokenError> {
        let t = text.trim_end_matches(['\n', '\r']);
        if t.is_empty() {
            return Err(TokenError::Empty);
        }
        if t.len() > 4096 || !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::Characters);
        }
        Ok(Token(t.to_string()))
    }

    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    // Never printed: logs and panics must not carry it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Nothing given.
    #[error(
        "the token is empty; give a non-empty token, or no token at all to serve without \
         authentication"
    )]
    Empty,
    /// Spaces, control or non-ASCII characters, or too long.
    #[error("a token is 1 to 4096 visible ASCII characters (no spaces or line breaks inside)")]
    Characters,
}

/// Everything `backtide serve` can be told.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// Folder for the SQLite file, datasets and results (created if missing). With a shared
    /// store, every node must see the same folder (a shared volume).
    pub data_dir: PathBuf,
    /// The job store; `None`: `backtide.sqlite` in `data_dir`.
    pub store: Option<StoreLocation>,
    /// Worker threads running jobs (0: an API node of a cluster that only accepts jobs).
    pub workers: usize,
    /// How long a claim holds a job without renewal (see [`RunnerConfig::lease`]).
    pub lease: Duration,
    /// Threads one sweep uses (0: one per core).
    pub sweep_threads: usize,
    /// Serve HTTP (false for `backtide worker`, a node that only runs jobs).
    pub http: bool,
    /// Most jobs waiting in the queue; more get 429.
    pub queue_limit: usize,
    /// Bearer token required on writes and job reads, if set.
    pub token: Option<Token>,
    /// Largest request body in bytes (uploads included); more gets 413.
    pub max_body_bytes: usize,
    /// Most bars in a dataset.
    pub max_bars: usize,
    /// Most combinations in a sweep.
    pub max_combinations: usize,
    /// Longest `?wait=` in seconds.
    pub max_wait_secs: u64,
    /// How long running jobs get to finish at shutdown.
    pub shutdown_grace: Duration,
    /// How long a client may take to send a request's headers, and may leave its body
    /// without sending more of it; then the connection is closed (headers) or the request
    /// answered 408 (body), so slow or stalled clients do not hold connections.
    pub read_timeout: Duration,
    /// Free space to keep on the data directory's disk: uploads and submissions that
    /// would leave less are answered 507, `/readyz` reports it, and workers wait for room
    /// before starting a job.
    pub min_free_bytes: u64,
    /// Memory the running jobs may take together, by estimate; 0 for no budget (see
    /// [`RunnerConfig::memory_budget`]).
    pub memory_budget_bytes: u64,
    /// Browser origins allowed to call the API (`https://app.example.com`); empty: no
    /// cross-origin headers are sent, so browsers keep other sites' pages out.
    pub cors_origins: Vec<axum::http::HeaderValue>,
}

impl ServeConfig {
    /// The defaults, with data under `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> ServeConfig {
        ServeConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8000)),
            data_dir: data_dir.into(),
            store: None,
            workers: 2,
            lease: Duration::from_secs(30),
            sweep_threads: 0,
            http: true,
            queue_limit: 1_000,
            token: None,
            max_body_bytes: 256 * 1024 * 1024,
            max_bars: 20_000_000,
            max_combinations: 1_000_000,
            max_wait_secs: 60,
            shutdown_grace: Duration::from_secs(30),
            read_timeout: Duration::from_secs(15),
            min_free_bytes: 64 << 20,
            memory_budget_bytes: 0,
            cors_origins: Vec::new(),
        }
    }
}

/// How many of the latest results a start checks against their digests (older ones are
/// checked when they are read).
const RECENT_CHECKED: usize = 20;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The worker pool.
    pub runner: Arc<Runner>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Configuration.
    pub config: Arc<ServeConfig>,
    /// Held while a dataset file is kept and recorded, or unrecorded and removed: a
    /// deletion never removes a file an upload of the same content just recorded.
    pub(crate) dataset_files: Arc<tokio::sync::Mutex<()>>,
}

impl AppState {
    /// Opens (or creates) the data folder: the SQLite file, the sample datasets, and the
    /// runner (not started). Jobs a crash left running are queued again.
    pub fn open(config: ServeConfig) -> anyhow::Result<AppState> {
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir.join("datasets"))
            .with_context(|| format!("creating {}", dir.display()))?;
        std::fs::create_dir_all(dir.join("results"))?;
        let location = config
            .store
            .clone()
            .unwrap_or_else(|| StoreLocation::Sqlite(dir.join("backtide.sqlite")));
        let (store, requeued) = location
            .open()
            .with_context(|| format!("opening the store {}", location.display()))?;
        tracing::info!(store = %location.display(), "store opened");
        if requeued > 0 {
            tracing::warn!(requeued, "jobs interrupted by a crash are queued again");
        }
        // With a shared store other nodes may be writing temporary files in the shared
        // folder right now; theirs are removed by the atomic writers' own clean-up.
        if !store.is_shared() {
            let (leftovers, bytes) = storage::remove_leftovers(dir);
            if leftovers > 0 {
                tracing::warn!(
                    leftovers,
                    bytes,
                    "removed temporary files a crash left behind"
                );
            }
        }
        for (id, format) in store.unreferenced_datasets()? {
            let _ = std::fs::remove_file(datasets::dataset_path(dir, &id, &format));
        }
        register_samples(&*store, dir)?;
        let metrics = Arc::new(Metrics::default());
        let runner = Runner::new(
            store.clone(),
            dir,
            RunnerConfig {
                workers: config.workers,
                max_combinations: config.max_combinations,
                min_free_bytes: config.min_free_bytes,
                memory_budget: config.memory_budget_bytes,
                lease: config.lease,
                role: match (config.http, config.workers) {
                    (false, _) => "worker",
                    (true, 0) => "api",
                    (true, _) => "api+worker",
                }
                .into(),
                sweep_threads: config.sweep_threads,
            },
            metrics.clone(),
        );
        match runner.check_recent(RECENT_CHECKED) {
            Ok(0) => {}
            Ok(damaged) => {
                tracing::warn!(
                    damaged,
                    "damaged results found at start-up; their jobs run again"
                );
            }
            // Checked again when read: not a reason to refuse to start.
            Err(e) => tracing::error!(error = format!("{e:#}"), "checking recent results"),
        }
        Ok(AppState {
            store,
            runner,
            metrics,
            config: Arc::new(config),
            dataset_files: Arc::default(),
        })
    }

    /// Runs blocking store work off the async runtime.
    pub(crate) async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> store::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)
    }
}

/// Registers the bundled samples (exempt from `max_bars`: they are part of the binary).
///
/// A multi-asset sample (`STOCKS`) is one long-format dataset under its name, holding every
/// symbol (see [`long_csv`]); its members are not registered one by one, since their names
/// would clash with the single-asset samples (`STOCKS`'s GOOG is an adjusted series, not
/// the GOOG sample's).
fn register_samples(store: &dyn Store, dir: &Path) -> anyhow::Result<()> {
    let universes = backtide_data::SAMPLE_UNIVERSES
        .iter()
        .map(|(name, members)| Ok((*name, long_csv(name, members)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let singles = backtide_data::SAMPLES
        .iter()
        .map(|(name, csv)| (*name, csv.to_string()));
    for (name, csv) in singles.chain(universes) {
        let d = datasets::stage_bytes(dir, csv.as_bytes())
            .and_then(|staged| datasets::ingest(dir, name, staged, usize::MAX))
            .map_err(|e| anyhow::anyhow!("registering sample {name}: {e}"))?;
        store.put_dataset(&d, store::NameConflict::Replace)?;
    }
    Ok(())
}

/// A multi-asset sample as one long-format CSV: `Symbol` then the members' shared header,
/// then each member's rows (in the sample's order) with its symbol in front. The same bytes
/// on every start, so the dataset's id is stable; parsing it gives the same bars as the
/// sample's own files (the numbers are the same text).
fn long_csv(name: &str, members: &[(&str, &str)]) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut header: Option<&str> = None;
    for (symbol, csv) in members {
        let mut lines = csv.lines();
        let head = lines.next().unwrap_or_default();
        match header {
            None => {
                header = Some(head);
                out.push_str("Symbol,");
                out.push_str(head);
                out.push('\n');
            }
            Some(h) if h == head => {}
            Some(h) => anyhow::bail!(
                "sample {name}: {symbol}'s header `{head}` differs from the first member's `{h}`"
            ),
        }
        for line in lines.filter(|l| !l.trim().is_empty()) {
            out.push_str(symbol);
            out.push(',');
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    routes::router(state)
}

/// Accepts connections until `signal` resolves, serving each with HTTP/1 (hyper's own
/// builder rather than `axum::serve`, which sets no timer and so no header read timeout),
/// then lets the open connections finish their requests.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: Router,
    read_timeout: Duration,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(signal);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        while connections.try_join_next().is_some() {}
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let mut closing = closing_rx.clone();
        connections.spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(read_timeout);
            let conn = http
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = closing.wait_for(|c| *c) => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    while connections.join_next().await.is_some() {}
}

/// Serves until `shutdown` resolves, then stops accepting, gives running jobs the grace
/// period and returns (jobs still queued run at the next start).
pub async fn serve(
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = config.addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    serve_on(listener, config, shutdown).await
}

/// [`serve`] on a bound listener (tests bind port 0).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let grace = config.shutdown_grace;
    let read_timeout = config.read_timeout;
    let state = tokio::task::spawn_blocking(move || AppState::open(config)).await??;
    let workers = state.runner.start();
    let local = listener.local_addr()?;
    tracing::info!(%local, docs = %format!("http://{local}/docs"), "listening");
    let runner = state.runner.clone();
    // On the signal, start stopping the workers at once (so event streams of running jobs
    // end) while axum drains the open requests.
    let stopping: Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>> = Arc::default();
    let signal = {
        let (runner, stopping) = (runner.clone(), stopping.clone());
        async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections; running jobs get {grace:?}");
            let handle = tokio::task::spawn_blocking(move || runner.shutdown(grace));
            *stopping.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        }
    };
    accept_loop(listener, app(state), read_timeout, signal).await;
    let handle = stopping.lock().unwrap_or_else(|p| p.into_inner()).take();
    match handle {
        Some(h) => h.await?,
        None => tokio::task::spawn_blocking(move || runner.shutdown(grace)).await?,
    }
    for w in workers {
        if w.is_finished() {
            let _ = w.join();
        }
    }
    tracing::info!("shut down");
    Ok(())
}

/// Runs a node that only runs jobs (`backtide worker`): it claims jobs from a shared store
/// until `shutdown` resolves, then gives running jobs the grace period and hands back the
/// leases of those still running.
pub fn work(
    mut config: ServeConfig,
    shutdown: impl FnOnce() + Send + 'static,
) -> anyhow::Result<()> {
    config.http = false;
    anyhow::ensure!(
        matches!(config.store, Some(StoreLocation::Postgres(_))),
        "a worker needs a store that other nodes share (--store postgres://…); with the \
         embedded SQLite store, `backtide serve --workers N` runs the jobs"
    );
    let grace = config.shutdown_grace;
    let state = AppState::open(config)?;
    let threads = state.runner.start();
    tracing::info!(node = %state.runner.node_id(), "worker running; waiting for jobs");
    shutdown();
    tracing::info!("shutting down: no new jobs; running jobs get {grace:?}");
    state.runner.shutdown(grace);
    // The lease keeper leaves the cluster list within a tick; a backtest that cannot be
    // interrupted is not waited for (its lease was handed back).
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while !threads.iter().all(|t| t.is_finished()) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    tracing::info!("shut down");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_never_empty_and_never_printed() {
        assert_eq!(Token::new(""), Err(TokenError::Empty));
        assert_eq!(Token::new("\n"), Err(TokenError::Empty));
        assert_eq!(Token::new("two words"), Err(TokenError::Characters));
        assert_eq!(Token::new("é"), Err(TokenError::Characters));
        let t = Token::new("s3cret\n").unwrap();
        assert_eq!(t.as_str(), "s3cret");
        assert!(!format!("{t:?}").contains("s3cret"));
    }
}
