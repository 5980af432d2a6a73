//! `backtide serve` and `backtide worker`: a node of the service, with HTTP or without.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use backtide_server::{ServeConfig, StoreLocation};
use clap::Args;

/// What every node takes: where the data and the jobs are, and how it runs them.
#[derive(Debug, Args)]
pub(crate) struct NodeArgs {
    /// Folder for the SQLite file, datasets and results (created on first start, sample
    /// datasets registered). With --store postgres://…, every node must mount the same
    /// folder (a shared volume): it holds the datasets and results all nodes read.
    #[arg(long, default_value = "./backtide-data")]
    data_dir: PathBuf,
    /// The job store: postgres://user@host:port/database for one that API replicas and
    /// workers on many hosts share (also read from BACKTIDE_STORE, which keeps a password
    /// off the command line), or sqlite:PATH. Default: backtide.sqlite in --data-dir.
    #[arg(long, env = "BACKTIDE_STORE", hide_env_values = true, value_parser = parse_store)]
    store: Option<StoreLocation>,
    /// Jobs run at the same time (each sweep also uses --threads cores). 0 with a shared
    /// store: an API node that only accepts jobs and leaves them to workers.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Seconds a claimed job stays with this node without renewal (renewed every third of
    /// it); if the node dies, another takes the job after at most this long.
    #[arg(long, default_value_t = 30)]
    lease: u64,
    /// Threads one sweep uses. Default: the container's CPU quota, else every core.
    #[arg(long)]
    threads: Option<usize>,
    /// Seconds running jobs get to finish on SIGINT/SIGTERM before they are put back in
    /// the queue (for the next start, or for another node).
    #[arg(long, default_value_t = 30)]
    grace: u64,
    /// Most combinations in one sweep.
    #[arg(long, default_value_t = 1_000_000)]
    max_combinations: usize,
    /// MiB to keep free on the data directory's disk: uploads and submissions that would
    /// leave less get 507, /readyz reports it, and jobs wait for room before they start.
    #[arg(long, default_value_t = 64)]
    min_free_mib: u64,
    /// MiB the running jobs may take together, by estimate (bars × bytes per bar, plus a
    /// sweep's indicator cache); a job that would exceed it waits for running jobs to end,
    /// one larger than it runs alone. 0: no budget, only --workers limits. Default: 60 % of
    /// the container's memory limit (cgroup v1 or v2) when there is one, else no budget.
    #[arg(long)]
    memory_budget_mib: Option<u64>,
}

fn parse_store(text: &str) -> std::result::Result<StoreLocation, String> {
    StoreLocation::parse(text)
}

/// Arguments of `backtide worker`.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    #[command(flatten)]
    node: NodeArgs,
}

/// Arguments of `backtide serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    addr: SocketAddr,
    #[command(flatten)]
    node: NodeArgs,
    /// Most queued jobs; further submissions get 429 with Retry-After.
    #[arg(long, default_value_t = 1_000)]
    queue_limit: usize,
    /// Require `Authorization: Bearer TOKEN` on writes and job reads (also read from
    /// BACKTIDE_TOKEN). Other users of the machine can read a command line; prefer
    /// --token-file or the variable.
    #[arg(
        long,
        env = "BACKTIDE_TOKEN",
        hide_env_values = true,
        conflicts_with = "token_file"
    )]
    token: Option<String>,
    /// Read the token from this file (its first line), e.g. a mounted secret.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Largest request body (uploads included), in MiB.
    #[arg(long, default_value_t = 256)]
    max_body_mib: usize,
    /// Most bars in an uploaded dataset.
    #[arg(long, default_value_t = 20_000_000)]
    max_bars: usize,
    /// Longest `?wait=` in seconds.
    #[arg(long, default_value_t = 60)]
    max_wait: u64,
    /// Seconds a client may take to send its request headers, or pause while sending a
    /// body, before the connection is closed (headers) or the request answered 408.
    #[arg(long, default_value_t = 15)]
    read_timeout: u64,
    /// Let browser pages from this origin call the API (e.g. https://app.example.com);
    /// repeat for several. Off by default.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
}

/// Logs on stderr (stdout carries the address line that scripts read), as text or, with
/// BACKTIDE_LOG_FORMAT=json, one JSON object per line for log collectors.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BACKTIDE_LOG")
        .unwrap_or_else(|_| "info".into());
    // Logs on stderr: stdout carries the address line that scripts read.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    // BACKTIDE_LOG_FORMAT=json: one JSON object per line, for log collectors.
    if std::env::var("BACKTIDE_LOG_FORMAT").is_ok_and(|f| f == "json") {
        logs.json().init();
    } else {
        logs.init();
    }
}

impl NodeArgs {
    /// The node's part of the configuration, sized from the container's limits (not the
    /// host's) and said so.
    fn config(
        self,
        limits: &backtide_server::container::ContainerLimits,
        http: bool,
    ) -> Result<ServeConfig> {
        let shared = matches!(self.store, Some(StoreLocation::Postgres(_)));
        if self.workers == 0 && !(shared && http) {
            anyhow::bail!(
                "--workers must be at least 1 (0 is for an API node beside workers sharing a \
                 --store postgres://…)"
            );
        }
        anyhow::ensure!(self.lease >= 1, "--lease must be at least 1 second");
        anyhow::ensure!(
            self.threads != Some(0),
            "--threads must be at least 1 (leave it out for the CPU quota)"
        );
        let memory_budget_bytes = match self.memory_budget_mib {
            Some(mib) => mib.saturating_mul(1 << 20),
            None => limits.memory_budget().unwrap_or(0),
        };
        tracing::info!(
            memory_budget_mib = memory_budget_bytes >> 20,
            "{}",
            limits.summary()
        );
        let mut c = ServeConfig::new(self.data_dir);
        c.store = self.store;
        c.workers = self.workers;
        c.lease = Duration::from_secs(self.lease);
        c.sweep_threads = self.threads.unwrap_or_else(|| limits.threads());
        c.shutdown_grace = Duration::from_secs(self.grace);
        c.max_combinations = self.max_combinations;
        c.min_free_bytes = self.min_free_mib.saturating_mul(1 << 20);
        c.memory_budget_bytes = memory_budget_bytes;
        c.http = http;
        Ok(c)
    }
}

/// `backtide worker`: runs jobs from a shared store until SIGINT or SIGTERM.
pub(crate) fn worker(a: WorkerArgs) -> Result<()> {
    init_logs();
    let limits = backtide_server::container::ContainerLimits::detect();
    let config = a.node.config(&limits, false)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    backtide_server::work(config, move || runtime.block_on(shutdown_signal()))
}

pub(crate) fn serve(a: ServeArgs) -> Result<()> {
    init_logs();
    if a.queue_limit == 0 {
        anyhow::bail!("--queue-limit must be at least 1");
    }
    let limits = backtide_server::container::ContainerLimits::detect();
    let node = a.node.config(&limits, true)?;
    let token = match (&a.token, &a.token_file) {
        (Some(t), _) => {
            Some(backtide_server::Token::new(t).context("--token (or BACKTIDE_TOKEN)")?)
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--token-file {}", path.display()))?;
            let first = text.lines().next().unwrap_or_default();
            Some(
                backtide_server::Token::new(first)
                    .with_context(|| format!("--token-file {}", path.display()))?,
            )
        }
        // clap takes an empty variable for an absent one; an empty token must not turn
        // authentication off unnoticed.
        (None, None) if std::env::var_os("BACKTIDE_TOKEN").is_some() => {
            Some(backtide_server::Token::new("").context("BACKTIDE_TOKEN")?)
        }
        (None, None) => None,
    };
    let config = ServeConfig {
        addr: a.addr,
        queue_limit: a.queue_limit,
        token,
        max_body_bytes: a.max_body_mib.saturating_mul(1024 * 1024),
        max_bars: a.max_bars,
        max_wait_secs: a.max_wait,
        read_timeout: Duration::from_secs(a.read_timeout.max(1)),
        cors_origins: a
            .cors_origins
            .iter()
            .map(|o| {
                let ok = (o.starts_with("http://") || o.starts_with("https://"))
                    && !o.ends_with('/');
                anyhow::ensure!(
                    ok,
                    "--cors-origin {o}: give an origin as a browser sends it: scheme://host[:port], no path"
                );
                o.parse().with_context(|| format!("--cors-origin {o}"))
            })
            .collect::<Result<_>>()?,
        ..node
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(limits.threads())
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("binding {}", config.addr))?;
        // The bound address (port 0 picks a free one), on stdout for people and scripts.
        let local = listener.local_addr()?;
        println!(
            "backtide serving on http://{local}  (docs: http://{local}/docs, data: {})",
            config.data_dir.display()
        );
        backtide_server::serve_on(listener, config, shutdown_signal()).await
    })
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
