//! The durable store: datasets' and models' metadata, and the job table that is the queue.
//!
//! Two implementations sit behind one [`Store`] trait and pass the same test suite:
//! - [`SqliteStore`], the default: one embedded file, for one process (`backtide serve`);
//! - [`PgStore`], a PostgreSQL database that any number of API replicas and workers on any
//!   hosts share (`--store postgres://…`).
//!
//! A job row is committed before the submitting request is answered. Workers claim the
//! oldest queued job under a **lease** (an owner and an expiry) that they renew while the
//! job runs; a claim also takes a running job whose lease expired, so the work of a worker
//! that died goes back to the others. Finishing checks the lease, so a worker that lost
//! its job to another cannot overwrite the other's outcome. The stores are synchronous:
//! async code calls them through `spawn_blocking`.
//!
//! Files (datasets and results) are not in the store: they live in the data directory,
//! which every node of a cluster mounts (see the README's "Scaling out").

mod postgres;
mod sqlite;
#[cfg(test)]
mod suite;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use self::postgres::PgStore;
pub use self::sqlite::SqliteStore;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Accepted and waiting for a worker.
    Queued,
    /// A worker is running it.
    Running,
    /// Finished; the result is available.
    Succeeded,
    /// Finished with an error (see `error`).
    Failed,
    /// Cancelled; a sweep keeps the combinations that finished.
    Cancelled,
}

impl JobState {
    /// Every state.
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// The state called `s`.
    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|j| j.as_str() == s)
    }

    /// Succeeded, failed or cancelled.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// A stored dataset.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "6f1c…", "name": "GOOG", "format": "csv", "rows": 2148,
    "first": "2004-08-19T00:00:00", "last": "2013-03-01T00:00:00",
    "columns": ["Open", "High", "Low", "Close", "Volume"], "bytes": 118000,
    "created_at": "2026-11-24T12:00:00Z"
}))]
pub struct Dataset {
    /// SHA-256 of the content (hex): the same file always gets the same id.
    pub id: String,
    /// The name given at upload.
    pub name: String,
    /// `csv` or `parquet`.
    pub format: String,
    /// Number of bars.
    pub rows: u64,
    /// First timestamp (ISO 8601).
    pub first: String,
    /// Last timestamp (ISO 8601).
    pub last: String,
    /// Columns read (besides the timestamp).
    pub columns: Vec<String>,
    /// File size in bytes.
    pub bytes: u64,
    /// When it was stored.
    pub created_at: String,
    /// A long-format file (a `symbol` or `ticker` column): its symbols, in byte order. Each
    /// is one asset when the dataset is used; absent for a single-asset file, whose one
    /// asset is named after the dataset.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["AAPL", "FB", "GOOG", "IBM", "MSFT"]))]
    pub symbols: Option<Vec<String>>,
    /// Seen through a name: the contents this name referred to before it was pointed at this
    /// one (`?replace=true`), newest first. They stay stored and usable by id while listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous: Vec<String>,
}

/// What to do when an upload's name already refers to other content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameConflict {
    /// Keep the name as it is and say so (a 409 for the client).
    Refuse,
    /// Point the name at the new content; the old id joins the name's history.
    Replace,
}

/// What storing a dataset did.
#[derive(Debug, Clone, PartialEq)]
pub enum PutOutcome {
    /// Stored (or already stored), as seen through its name.
    Stored(Box<Dataset>),
    /// The name refers to other content (its id) and was left alone.
    NameTaken(String),
}

/// An uploaded ONNX model with its feature spec.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "9b2e…", "name": "my-model", "width": 6,
    "inputs": ["ret_1", "ret_5", "rsi_14", "vol_20", "volz_20", "sma_10_over_sma_50"],
    "bytes": 1234, "created_at": "2026-11-24T12:00:00.000Z"
}))]
pub struct Model {
    /// SHA-256 of the model and its spec together.
    pub id: String,
    /// The name given at upload (the latest upload under a name wins).
    pub name: String,
    /// Features per row the model takes.
    pub width: u64,
    /// The feature columns, in the order the model takes them.
    pub inputs: Vec<String>,
    /// Size of the .onnx file.
    pub bytes: u64,
    /// When it was stored.
    pub created_at: String,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// Job id.
    pub id: String,
    /// `backtest` or `sweep`.
    pub kind: String,
    /// State.
    pub state: JobState,
    /// The stored request ([`crate::spec::JobSpec`] as JSON).
    pub spec: String,
    /// Resolved dataset id (a universe's first asset's).
    pub dataset: String,
    /// A portfolio job's universe as resolved at submission (JSON list of
    /// [`crate::spec::Member`]: symbol and dataset content id per asset); `None` for a
    /// single-asset job.
    pub universe: Option<String>,
    /// Last recorded progress, 0..1.
    pub progress: f64,
    /// Why it failed.
    pub error: Option<String>,
    /// How many times a worker started it.
    pub attempts: u32,
    /// How many times it ran to a terminal state (1 for a finished job; more would mean
    /// it was run again after finishing).
    pub completions: u32,
    /// SHA-256 of the result file written by the first completion.
    pub result_digest: Option<String>,
    /// Timestamps (ISO 8601, UTC).
    pub created_at: String,
    /// When a worker last started it.
    pub started_at: Option<String>,
    /// When it reached its terminal state.
    pub finished_at: Option<String>,
}

impl JobRow {
    /// True when a result was written: it succeeded, or it was cancelled after writing
    /// the part that finished (a cancelled sweep).
    pub fn has_result(&self) -> bool {
        self.state == JobState::Succeeded
            || (self.state == JobState::Cancelled && self.result_digest.is_some())
    }
}

/// What a cancel request did.
#[derive(Debug, Clone, PartialEq)]
pub enum CancelOutcome {
    /// It was queued: now cancelled.
    Cancelled,
    /// It is running: the worker was asked to stop.
    Requested,
    /// Already finished in this state.
    AlreadyFinished(JobState),
    /// No such job.
    NotFound,
}

/// What deleting a dataset did.
#[derive(Debug, Clone, PartialEq)]
pub enum DeleteOutcome {
    /// The name (or, by id, the content and every name of it) is gone; `removed` lists
    /// the contents (id, format) that no name and no queued or running job refers to any
    /// more, whose files the caller deletes.
    Deleted {
        /// Contents no longer referred to.
        removed: Vec<(String, String)>,
    },
    /// Deleting by id: queued or running jobs use the content.
    InUse(u64),
    /// No such dataset.
    NotFound,
}

/// Now as ISO 8601 UTC with milliseconds.
pub(crate) fn now_iso() -> String {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    let ms = ns / 1_000_000 * 1_000_000;
    let s = backtide_data::format_timestamp(ms);
    let s = if s.len() > 23 { s[..23].to_string() } else { s };
    format!("{s}Z")
}

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The SQLite file.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The PostgreSQL server.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] ::postgres::Error),
    /// No PostgreSQL connection could be had in time.
    #[error("PostgreSQL connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// A stored value is not what this version expects.
    #[error("the store holds {0}")]
    Corrupt(String),
}

/// A store result.
pub(crate) type Result<T> = std::result::Result<T, StoreError>;

/// Who holds a claimed job, and for how long without renewing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The node's id (unique per process: host, pid and a random part).
    pub owner: String,
    /// How long a claim or a renewal holds the job.
    pub ttl: Duration,
}

/// What renewing a node's leases found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Renewal {
    /// Jobs this node still holds, renewed.
    pub held: Vec<String>,
    /// Held jobs a client asked to cancel (on any node).
    pub cancel: Vec<String>,
}

/// A claimed part of a sweep job: combinations `start..end` of its order.
#[derive(Debug, Clone, PartialEq)]
pub struct Shard {
    /// The sweep job.
    pub job: JobRow,
    /// Its place among the job's shards.
    pub index: u32,
    /// First combination.
    pub start: u64,
    /// One past the last combination.
    pub end: u64,
}

impl Shard {
    /// The key a renewal reports it under (`job#index`).
    pub fn key(&self) -> String {
        shard_key(&self.job.id, self.index)
    }
}

/// A shard's key in a [`Renewal`].
pub(crate) fn shard_key(job: &str, index: u32) -> String {
    format!("{job}#{index}")
}

/// How a shard's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardEnd {
    /// Every combination ran; its part of the result is written.
    Done,
    /// Stopped by a cancel.
    Cancelled,
    /// Interrupted (shutdown): another node runs it again.
    Requeue,
}

/// What finishing a shard left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardFinish {
    /// The node no longer held it.
    NotHeld,
    /// Shards of the job that have not ended yet.
    Remaining(u64),
    /// It was the last: every shard has ended, and the caller now holds the job itself
    /// (to merge the parts, or to record the cancel).
    Last,
}

/// A shard as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardRow {
    /// Its place among the job's shards.
    pub index: u32,
    /// First combination.
    pub start: u64,
    /// One past the last combination.
    pub end: u64,
    /// `queued`, `running`, `done` or `cancelled`.
    pub state: String,
}

/// A node of the cluster as it last reported itself.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "worker-1-7-03bd77c1", "role": "worker", "host": "worker-1", "pid": 7, "threads": 2,
    "started_at": "2026-12-05T09:00:00.000Z", "seen_ms_ago": 4210, "running": 1,
    "jobs_claimed": 12, "lease_renewals": 96, "leases_lost": 0
}))]
pub struct Node {
    /// Unique per process.
    pub id: String,
    /// `api`, `worker` or `api+worker`.
    pub role: String,
    /// Host name.
    pub host: String,
    /// Process id on its host.
    pub pid: u32,
    /// Worker threads (jobs run at once); 0 for an API without workers.
    pub threads: u32,
    /// When it started (ISO 8601).
    pub started_at: String,
    /// Milliseconds since its last heartbeat.
    pub seen_ms_ago: u64,
    /// Jobs running on it now.
    pub running: u64,
    /// Jobs it claimed since it started.
    pub jobs_claimed: u64,
    /// Lease renewals it made.
    pub lease_renewals: u64,
    /// Jobs it lost because its lease expired before it could renew.
    pub leases_lost: u64,
}

/// The job store. Every method is one transaction.
pub trait Store: Send + Sync {
    /// True when other processes may share it (workers on other hosts).
    fn is_shared(&self) -> bool;

    /// Records a dataset and points its name at it (the same content under two names is
    /// stored once). A name that refers to other content is left alone with
    /// [`NameConflict::Refuse`], or repointed with [`NameConflict::Replace`], the old id
    /// joining the name's history.
    fn put_dataset(&self, d: &Dataset, conflict: NameConflict) -> Result<PutOutcome>;
    /// A dataset by id, or else by name.
    fn dataset(&self, id_or_name: &str) -> Result<Option<Dataset>>;
    /// Every dataset under each of its names, by name.
    fn datasets(&self) -> Result<Vec<Dataset>>;
    /// Deletes a dataset name, or by content id the content and every name of it (refused
    /// while queued or running jobs use it). Names are aliases: deleting one never touches
    /// what another name refers to, and content goes only once no name and no queued or
    /// running job refers to it (see [`Store::unreferenced_datasets`]).
    fn delete_dataset(&self, key: &str) -> Result<DeleteOutcome>;
    /// Removes the records of contents that no name and no queued or running job refers
    /// to (left by deleted names whose jobs have since finished) and returns them (id,
    /// format) so that their files can go too.
    fn unreferenced_datasets(&self) -> Result<Vec<(String, String)>>;

    /// Commits a new queued job unless `queue_limit` jobs are already queued; false means
    /// the queue is full. Concurrent submissions cannot overfill the queue. `universe` is
    /// a portfolio job's resolved universe (see [`JobRow::universe`]).
    fn submit(
        &self,
        id: &str,
        kind: &str,
        spec: &str,
        dataset: &str,
        universe: Option<&str>,
        queue_limit: usize,
    ) -> Result<bool>;
    /// Claims the oldest queued job, or a running one whose lease expired, under `lease`.
    /// An expired job that a client asked to cancel is cancelled instead of claimed.
    fn claim(&self, lease: &Lease) -> Result<Option<JobRow>>;
    /// The job a claim would take next (the oldest queued), without taking it.
    fn next_queued(&self) -> Result<Option<JobRow>>;
    /// Extends every lease `lease.owner` holds, on jobs and on shards; says which it still
    /// holds (job ids and [`shard_key`]s) and which of them a client asked to cancel.
    fn renew(&self, lease: &Lease) -> Result<Renewal>;
    /// Puts every job and shard `owner` holds back in the queue (a node shutting down);
    /// returns how many.
    fn release(&self, owner: &str) -> Result<usize>;

    /// Splits a running sweep job into shards (combination ranges, in order); a job that
    /// already has shards keeps them (a node that took over a split job).
    fn split(&self, job: &str, ranges: &[(u64, u64)]) -> Result<()>;
    /// The job's shards, in order.
    fn shards(&self, job: &str) -> Result<Vec<ShardRow>>;
    /// Lets go of a split job that `owner` holds: it stays running, held by its shards,
    /// until the last of them ends ([`ShardFinish::Last`]). False when `owner` does not
    /// hold it.
    fn hand_over(&self, job: &str, owner: &str) -> Result<bool>;
    /// Claims the first shard waiting (or whose lease expired) of the oldest split job
    /// that is not being cancelled.
    fn claim_shard(&self, lease: &Lease) -> Result<Option<Shard>>;
    /// Ends a shard `lease.owner` holds. When it is the job's last, the job's lease passes
    /// to `lease.owner` in the same transaction, so exactly one node merges.
    fn finish_shard(
        &self,
        job: &str,
        index: u32,
        lease: &Lease,
        end: ShardEnd,
    ) -> Result<ShardFinish>;
    /// Records a running job's progress.
    fn set_progress(&self, id: &str, progress: f64) -> Result<()>;
    /// Moves a running job that `owner` holds to its terminal state. The first
    /// completion's result digest is kept (results are immutable); `completions` counts
    /// every completion. False when `owner` no longer holds it.
    fn finish(
        &self,
        id: &str,
        owner: &str,
        state: JobState,
        error: Option<&str>,
        digest: Option<&str>,
    ) -> Result<bool>;
    /// Sends a finished job whose result turned out damaged back to the queue, without
    /// its result (a cancelled job just loses its partial result: it was not asked to run
    /// to the end). False when the job is not finished with a result.
    fn requeue_damaged(&self, id: &str) -> Result<bool>;
    /// Marks a finished job whose result is damaged and cannot be made again (its inputs
    /// are gone) as failed, saying why.
    fn fail_damaged(&self, id: &str, error: &str) -> Result<bool>;
    /// The most recent finished jobs with a result, newest first (what a start checks).
    fn recent_results(&self, n: usize) -> Result<Vec<JobRow>>;
    /// Puts a running job back in the queue (shutdown interrupted it).
    fn requeue(&self, id: &str) -> Result<()>;
    /// Puts a running job back at the end of the queue (its result did not fit on the
    /// disk: the jobs queued meanwhile go first).
    fn requeue_last(&self, id: &str) -> Result<()>;
    /// Cancels a queued job; asks the holder of a running one to stop (it learns so when
    /// it renews its lease); or reports that it is finished.
    fn cancel(&self, id: &str) -> Result<CancelOutcome>;
    /// One job.
    fn job(&self, id: &str) -> Result<Option<JobRow>>;
    /// A page of jobs, newest first, optionally in one state; with the total count.
    fn jobs(
        &self,
        state: Option<JobState>,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<JobRow>, u64)>;
    /// How many jobs are in each state.
    fn counts(&self) -> Result<Vec<(JobState, u64)>>;
    /// Jobs in a running state whose lease has expired (a node died holding them).
    fn expired_leases(&self) -> Result<u64>;

    /// Records a model (an existing id keeps its record, the name is updated).
    fn put_model(&self, m: &Model) -> Result<Model>;
    /// A model by id, or else the latest one with that name.
    fn model(&self, id_or_name: &str) -> Result<Option<Model>>;
    /// Every model, by name.
    fn models(&self) -> Result<Vec<Model>>;

    /// Records a node's heartbeat (its counters with it).
    fn heartbeat(&self, node: &Node) -> Result<()>;
    /// The nodes heard from within `within`, by id.
    fn nodes(&self, within: Duration) -> Result<Vec<Node>>;
    /// Forgets a node that shut down.
    fn leave(&self, id: &str) -> Result<()>;

    /// True if the database answers.
    fn ping(&self) -> bool;
}

/// Where the store lives: `--store`'s value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite file (`backtide.sqlite` in the data directory by default).
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL connection string (`postgres://user@host:port/db`).
    Postgres(String),
}

impl StoreLocation {
    /// Reads `--store`: a `postgres://` or `postgresql://` URL, or `sqlite:PATH`.
    pub fn parse(text: &str) -> std::result::Result<StoreLocation, String> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            text.parse::<::postgres::Config>()
                .map_err(|e| format!("`{}` is not a PostgreSQL URL: {e}", redact_url(text)))?;
            Ok(StoreLocation::Postgres(text.to_string()))
        } else if let Some(path) = text.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err("sqlite: needs a file path (sqlite:/data/backtide.sqlite)".into());
            }
            Ok(StoreLocation::Sqlite(path.into()))
        } else {
            Err(format!(
                "expected postgres://user@host:port/database or sqlite:PATH, got `{}`",
                redact_url(text)
            ))
        }
    }

    /// What to show in logs (a password in the URL is hidden).
    pub fn display(&self) -> String {
        match self {
            StoreLocation::Sqlite(p) => format!("sqlite:{}", p.display()),
            StoreLocation::Postgres(url) => redact_url(url),
        }
    }

    /// Opens it; for SQLite also returns how many jobs a crash left running (queued again
    /// now: nobody else can hold them).
    pub fn open(&self) -> Result<(std::sync::Arc<dyn Store>, usize)> {
        match self {
            StoreLocation::Sqlite(path) => {
                let (s, requeued) = SqliteStore::open(path)?;
                Ok((std::sync::Arc::new(s), requeued))
            }
            StoreLocation::Postgres(url) => Ok((std::sync::Arc::new(PgStore::open(url)?), 0)),
        }
    }
}

/// A connection string with its password replaced by `***`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (a, h),
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// Every state with its count, from the `(state, count)` rows a store found (absent: 0).
pub(crate) fn counts_by_state(found: &[(String, u64)]) -> Vec<(JobState, u64)> {
    JobState::ALL
        .into_iter()
        .map(|s| {
            let n = found
                .iter()
                .find(|(k, _)| k == s.as_str())
                .map_or(0, |(_, n)| *n);
            (s, n)
        })
        .collect()
}

/// Milliseconds since the Unix epoch by this host's clock.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
