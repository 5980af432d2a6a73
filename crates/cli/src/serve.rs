//! `backtide serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use backtide_server::ServeConfig;
use clap::Args;

/// Arguments of `backtide serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    addr: SocketAddr,
    /// Folder for the SQLite file, datasets and results (created on first start, sample
    /// datasets registered).
    #[arg(long, default_value = "./backtide-data")]
    data_dir: PathBuf,
    /// Jobs run at the same time (each sweep also uses every core).
    #[arg(long, default_value_t = 2)]
    workers: usize,
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
    /// Most combinations in one sweep.
    #[arg(long, default_value_t = 1_000_000)]
    max_combinations: usize,
    /// Longest `?wait=` in seconds.
    #[arg(long, default_value_t = 60)]
    max_wait: u64,
    /// Seconds running jobs get to finish on SIGINT/SIGTERM before they are put back in
    /// the queue for the next start.
    #[arg(long, default_value_t = 30)]
    grace: u64,
    /// Seconds a client may take to send its request headers, or pause while sending a
    /// body, before the connection is closed (headers) or the request answered 408.
    #[arg(long, default_value_t = 15)]
    read_timeout: u64,
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
    /// Let browser pages from this origin call the API (e.g. https://app.example.com);
    /// repeat for several. Off by default.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
}

pub(crate) fn serve(a: ServeArgs) -> Result<()> {
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
    if a.workers == 0 || a.queue_limit == 0 {
        anyhow::bail!("--workers and --queue-limit must be at least 1");
    }
    // Sized from the container's limits, not the host's, and said so.
    let limits = backtide_server::container::ContainerLimits::detect();
    let memory_budget_bytes = match a.memory_budget_mib {
        Some(mib) => mib.saturating_mul(1 << 20),
        None => limits.memory_budget().unwrap_or(0),
    };
    tracing::info!(
        memory_budget_mib = memory_budget_bytes >> 20,
        "{}",
        limits.summary()
    );
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
        data_dir: a.data_dir,
        workers: a.workers,
        queue_limit: a.queue_limit,
        token,
        max_body_bytes: a.max_body_mib.saturating_mul(1024 * 1024),
        max_bars: a.max_bars,
        max_combinations: a.max_combinations,
        max_wait_secs: a.max_wait,
        shutdown_grace: Duration::from_secs(a.grace),
        read_timeout: Duration::from_secs(a.read_timeout.max(1)),
        min_free_bytes: a.min_free_mib.saturating_mul(1 << 20),
        memory_budget_bytes,
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
