//! The durable store: one SQLite file holding datasets' metadata and the job table.
//!
//! The job table is the queue. A job row is committed (WAL, `synchronous=FULL`) before
//! the submitting request is answered; workers claim the oldest queued row with one
//! `UPDATE … RETURNING`, so two workers never take the same job; rows left `running` by a
//! crash go back to `queued` when the store opens. The store is synchronous: async code
//! calls it through `spawn_blocking`.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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

/// Jobs that still need a content id: queued or running, as their dataset, in their
/// universe, or as a backtest's benchmark (stored by content id in the request).
const ACTIVE_USERS: &str = "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running') \
     AND (dataset = ?1 OR (universe IS NOT NULL AND EXISTS (SELECT 1 FROM json_each(jobs.universe) \
     WHERE json_extract(value, '$.dataset') = ?1)) \
     OR json_extract(jobs.spec, '$.request.benchmark') = ?1)";

/// Deletes, within `tx`, the dataset records no name and no queued or running job refers
/// to; returns their (id, format).
fn unreferenced(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<Vec<(String, String)>> {
    let candidates: Vec<(String, String)> = tx
        .prepare(
            "SELECT id, format FROM datasets d
             WHERE NOT EXISTS (SELECT 1 FROM dataset_names n WHERE n.id = d.id)
               AND NOT EXISTS (SELECT 1 FROM dataset_history h WHERE h.id = d.id)",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut removed = Vec::new();
    for (id, format) in candidates {
        let users: u64 = tx.query_row(ACTIVE_USERS, [&id], |r| r.get(0))?;
        if users == 0 {
            tx.execute("DELETE FROM datasets WHERE id = ?1", [&id])?;
            removed.push((id, format));
        }
    }
    Ok(removed)
}

/// The ids a dataset name referred to before its current content, newest first.
fn history(c: &Connection, name: &str) -> rusqlite::Result<Vec<String>> {
    c.prepare("SELECT id FROM dataset_history WHERE name = ?1 ORDER BY rowid DESC")?
        .query_map([name], |r| r.get(0))?
        .collect()
}

/// The SQLite store.
pub struct Store {
    conn: Mutex<Connection>,
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

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    format TEXT NOT NULL,
    rows INTEGER NOT NULL,
    first TEXT NOT NULL,
    last TEXT NOT NULL,
    columns TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    symbols TEXT
);
CREATE TABLE IF NOT EXISTS dataset_names (
    name TEXT PRIMARY KEY,
    id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS dataset_history (
    name TEXT NOT NULL,
    id TEXT NOT NULL REFERENCES datasets(id),
    replaced_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dataset_history_name ON dataset_history(name);
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    width INTEGER NOT NULL,
    inputs TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    spec TEXT NOT NULL,
    dataset TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    completions INTEGER NOT NULL DEFAULT 0,
    result_digest TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    universe TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, seq);
CREATE INDEX IF NOT EXISTS jobs_dataset ON jobs(dataset, state);
";

const JOB_COLUMNS: &str = "id, kind, state, spec, dataset, progress, error, attempts, \
                           completions, result_digest, created_at, started_at, finished_at, \
                           universe";

/// Columns added after the first release, with their declarations: a store created
/// before them gets them on open (`CREATE TABLE IF NOT EXISTS` leaves old tables alone).
const ADDED_COLUMNS: [(&str, &str, &str); 2] = [
    ("datasets", "symbols", "TEXT"),
    ("jobs", "universe", "TEXT"),
];

fn job_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRow> {
    let state: String = r.get(2)?;
    Ok(JobRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        state: JobState::parse(&state).unwrap_or(JobState::Failed),
        spec: r.get(3)?,
        dataset: r.get(4)?,
        progress: r.get(5)?,
        error: r.get(6)?,
        attempts: r.get(7)?,
        completions: r.get(8)?,
        result_digest: r.get(9)?,
        created_at: r.get(10)?,
        started_at: r.get(11)?,
        finished_at: r.get(12)?,
        universe: r.get(13)?,
    })
}

fn dataset_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Dataset> {
    let columns: String = r.get(6)?;
    Ok(Dataset {
        id: r.get(0)?,
        name: r.get(1)?,
        format: r.get(2)?,
        rows: r.get(3)?,
        first: r.get(4)?,
        last: r.get(5)?,
        columns: serde_json::from_str(&columns).unwrap_or_default(),
        bytes: r.get(7)?,
        created_at: r.get(8)?,
        symbols: r
            .get::<_, Option<String>>(9)?
            .and_then(|s| serde_json::from_str(&s).ok()),
        previous: Vec::new(),
    })
}

fn model_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Model> {
    let inputs: String = r.get(3)?;
    Ok(Model {
        id: r.get(0)?,
        name: r.get(1)?,
        width: r.get(2)?,
        inputs: serde_json::from_str(&inputs).unwrap_or_default(),
        bytes: r.get(4)?,
        created_at: r.get(5)?,
    })
}

const DATASET_COLUMNS: &str =
    "id, name, format, rows, first, last, columns, bytes, created_at, symbols";
const DATASET_COLUMNS_D: &str = "d.id, d.name, d.format, d.rows, d.first, d.last, d.columns, \
                                 d.bytes, d.created_at, d.symbols";

impl Store {
    /// Opens (creating if needed) the store at `path` and puts jobs a crash left running
    /// back in the queue. Returns the store and how many jobs were requeued.
    pub fn open(path: &Path) -> rusqlite::Result<(Store, usize)> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        for (table, column, decl) in ADDED_COLUMNS {
            let has: bool = conn.query_row(
                &format!("SELECT count(*) > 0 FROM pragma_table_info('{table}') WHERE name = ?1"),
                [column],
                |r| r.get(0),
            )?;
            if !has {
                conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
            }
        }
        let requeued = conn.execute(
            "UPDATE jobs SET state = 'queued', progress = 0 WHERE state = 'running'",
            [],
        )?;
        Ok((
            Store {
                conn: Mutex::new(conn),
            },
            requeued,
        ))
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        // A panic while holding the lock cannot leave SQLite inconsistent (statements
        // are atomic), so a poisoned lock is still usable.
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }

    /// Records a dataset and points its name at it (the same content under two names is
    /// stored once). A name that refers to other content is left alone with
    /// [`NameConflict::Refuse`], or repointed with [`NameConflict::Replace`], the old id
    /// joining the name's history.
    pub fn put_dataset(&self, d: &Dataset, conflict: NameConflict) -> rusqlite::Result<PutOutcome> {
        self.with(|c| {
            let tx = c.transaction()?;
            let current: Option<String> = tx
                .query_row(
                    "SELECT id FROM dataset_names WHERE name = ?1",
                    [&d.name],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(old) = current.as_ref().filter(|old| **old != d.id) {
                if conflict == NameConflict::Refuse {
                    return Ok(PutOutcome::NameTaken(old.clone()));
                }
                tx.execute(
                    "INSERT INTO dataset_history (name, id, replaced_at) VALUES (?1, ?2, ?3)",
                    params![d.name, old, now_iso()],
                )?;
            }
            tx.execute(
                "INSERT OR IGNORE INTO datasets (id, name, format, rows, first, last, columns, bytes, created_at, symbols)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    d.id,
                    d.name,
                    d.format,
                    d.rows,
                    d.first,
                    d.last,
                    serde_json::to_string(&d.columns).unwrap_or_default(),
                    d.bytes,
                    d.created_at,
                    d.symbols
                        .as_ref()
                        .map(|s| serde_json::to_string(s).unwrap_or_default())
                ],
            )?;
            tx.execute(
                "INSERT INTO dataset_names (name, id) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET id = excluded.id",
                params![d.name, d.id],
            )?;
            let mut stored = tx.query_row(
                &format!("SELECT {DATASET_COLUMNS} FROM datasets WHERE id = ?1"),
                [&d.id],
                dataset_row,
            )?;
            stored.name = d.name.clone();
            stored.previous = history(&tx, &d.name)?;
            tx.commit()?;
            Ok(PutOutcome::Stored(Box::new(stored)))
        })
    }

    /// A dataset by id, or else by name.
    pub fn dataset(&self, id_or_name: &str) -> rusqlite::Result<Option<Dataset>> {
        self.with(|c| {
            let by_id = c
                .query_row(
                    &format!("SELECT {DATASET_COLUMNS} FROM datasets WHERE id = ?1"),
                    [id_or_name],
                    dataset_row,
                )
                .optional()?;
            if by_id.is_some() {
                return Ok(by_id);
            }
            let by_name = c
                .query_row(
                    &format!(
                        "SELECT {} FROM dataset_names n JOIN datasets d ON d.id = n.id WHERE n.name = ?1",
                        DATASET_COLUMNS_D
                    ),
                    [id_or_name],
                    dataset_row,
                )
                .optional()?;
            let Some(mut d) = by_name else {
                return Ok(None);
            };
            d.name = id_or_name.to_string();
            d.previous = history(c, id_or_name)?;
            Ok(Some(d))
        })
    }

    /// Every dataset under each of its names, by name.
    pub fn datasets(&self) -> rusqlite::Result<Vec<Dataset>> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {DATASET_COLUMNS_D}, n.name FROM dataset_names n JOIN datasets d ON d.id = n.id
                 ORDER BY n.name"
            ))?;
            let mut all: Vec<Dataset> = st
                .query_map([], |r| {
                    let mut d = dataset_row(r)?;
                    d.name = r.get(10)?;
                    Ok(d)
                })?
                .collect::<rusqlite::Result<_>>()?;
            for d in &mut all {
                d.previous = history(c, &d.name)?;
            }
            Ok(all)
        })
    }

    /// Deletes a dataset name, or by content id the content and every name of it (refused
    /// while queued or running jobs use it). Names are aliases: deleting one never touches
    /// what another name refers to, and content goes only once no name and no queued or
    /// running job refers to it (see [`Store::unreferenced_datasets`]).
    pub fn delete_dataset(&self, key: &str) -> rusqlite::Result<DeleteOutcome> {
        self.with(|c| {
            let tx = c.transaction()?;
            let named = tx.execute("DELETE FROM dataset_names WHERE name = ?1", [key])?;
            // A name's history goes with it.
            tx.execute("DELETE FROM dataset_history WHERE name = ?1", [key])?;
            if named == 0 {
                let exists: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM datasets WHERE id = ?1)",
                    [key],
                    |r| r.get(0),
                )?;
                if !exists {
                    return Ok(DeleteOutcome::NotFound);
                }
                let users: u64 = tx.query_row(ACTIVE_USERS, [key], |r| r.get(0))?;
                if users > 0 {
                    return Ok(DeleteOutcome::InUse(users));
                }
                tx.execute("DELETE FROM dataset_names WHERE id = ?1", [key])?;
                tx.execute("DELETE FROM dataset_history WHERE id = ?1", [key])?;
            }
            let removed = unreferenced(&tx)?;
            tx.commit()?;
            Ok(DeleteOutcome::Deleted { removed })
        })
    }

    /// Removes the records of contents that no name and no queued or running job refers
    /// to (left by deleted names whose jobs have since finished) and returns them (id,
    /// format) so that their files can go too.
    pub fn unreferenced_datasets(&self) -> rusqlite::Result<Vec<(String, String)>> {
        self.with(|c| {
            let tx = c.transaction()?;
            let removed = unreferenced(&tx)?;
            tx.commit()?;
            Ok(removed)
        })
    }

    /// Commits a new queued job unless `queue_limit` jobs are already queued; false means
    /// the queue is full. The count and the insert are one statement, so concurrent
    /// submissions cannot overfill the queue. `universe` is a portfolio job's resolved
    /// universe (see [`JobRow::universe`]).
    pub fn submit(
        &self,
        id: &str,
        kind: &str,
        spec: &str,
        dataset: &str,
        universe: Option<&str>,
        queue_limit: usize,
    ) -> rusqlite::Result<bool> {
        self.with(|c| {
            let n = c.execute(
                "INSERT INTO jobs (id, kind, state, spec, dataset, universe, created_at)
                 SELECT ?1, ?2, 'queued', ?3, ?4, ?5, ?6
                 WHERE (SELECT count(*) FROM jobs WHERE state = 'queued') < ?7",
                params![
                    id,
                    kind,
                    spec,
                    dataset,
                    universe,
                    now_iso(),
                    queue_limit as i64
                ],
            )?;
            Ok(n == 1)
        })
    }

    /// Claims the oldest queued job for a worker.
    pub fn claim(&self) -> rusqlite::Result<Option<JobRow>> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "UPDATE jobs SET state = 'running', attempts = attempts + 1, progress = 0,
                         started_at = ?1
                     WHERE seq = (SELECT seq FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 1)
                     RETURNING {JOB_COLUMNS}"
                ),
                [now_iso()],
                job_row,
            )
            .optional()
        })
    }

    /// The job a claim would take next (the oldest queued), without taking it.
    pub fn next_queued(&self) -> rusqlite::Result<Option<JobRow>> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 1"
                ),
                [],
                job_row,
            )
            .optional()
        })
    }

    /// Records a running job's progress.
    pub fn set_progress(&self, id: &str, progress: f64) -> rusqlite::Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET progress = ?2 WHERE id = ?1 AND state = 'running'",
                params![id, progress],
            )
            .map(drop)
        })
    }

    /// Moves a running job to its terminal state. The first completion's result digest
    /// is kept (results are immutable); `completions` counts every completion.
    pub fn finish(
        &self,
        id: &str,
        state: JobState,
        error: Option<&str>,
        digest: Option<&str>,
    ) -> rusqlite::Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET state = ?2, error = ?3, progress = CASE WHEN ?2 = 'succeeded' THEN 1 ELSE progress END,
                     completions = completions + 1,
                     result_digest = COALESCE(result_digest, ?4), finished_at = ?5
                 WHERE id = ?1 AND state = 'running'",
                params![id, state.as_str(), error, digest, now_iso()],
            )
            .map(drop)
        })
    }

    /// Sends a finished job whose result turned out damaged back to the queue, without
    /// its result (a cancelled job just loses its partial result: it was not asked to run
    /// to the end). False when the job is not finished with a result.
    pub fn requeue_damaged(&self, id: &str) -> rusqlite::Result<bool> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE jobs SET state = CASE WHEN state = 'succeeded' THEN 'queued' ELSE state END,
                     progress = CASE WHEN state = 'succeeded' THEN 0 ELSE progress END,
                     result_digest = NULL, error = NULL,
                     finished_at = CASE WHEN state = 'succeeded' THEN NULL ELSE finished_at END
                 WHERE id = ?1 AND state IN ('succeeded', 'cancelled') AND result_digest IS NOT NULL",
                [id],
            )?;
            Ok(n > 0)
        })
    }

    /// Marks a finished job whose result is damaged and cannot be made again (its inputs
    /// are gone) as failed, saying why.
    pub fn fail_damaged(&self, id: &str, error: &str) -> rusqlite::Result<bool> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE jobs SET state = 'failed', result_digest = NULL, error = ?2
                 WHERE id = ?1 AND state IN ('succeeded', 'cancelled')",
                params![id, error],
            )?;
            Ok(n > 0)
        })
    }

    /// The most recent finished jobs with a result, newest first (what a start checks).
    pub fn recent_results(&self, n: usize) -> rusqlite::Result<Vec<JobRow>> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE result_digest IS NOT NULL
                 AND state IN ('succeeded', 'cancelled') ORDER BY seq DESC LIMIT ?1"
            ))?;
            st.query_map([n as i64], job_row)?.collect()
        })
    }

    /// Puts a running job back in the queue (shutdown interrupted it).
    pub fn requeue(&self, id: &str) -> rusqlite::Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET state = 'queued', progress = 0 WHERE id = ?1 AND state = 'running'",
                [id],
            )
            .map(drop)
        })
    }

    /// Puts a running job back at the end of the queue (its result did not fit on the
    /// disk: the jobs queued meanwhile go first).
    pub fn requeue_last(&self, id: &str) -> rusqlite::Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET state = 'queued', progress = 0,
                     seq = (SELECT max(seq) + 1 FROM jobs)
                 WHERE id = ?1 AND state = 'running'",
                [id],
            )
            .map(drop)
        })
    }

    /// Cancels a queued job, or reports that it is running or finished.
    pub fn cancel(&self, id: &str) -> rusqlite::Result<CancelOutcome> {
        self.with(|c| {
            let tx = c.transaction()?;
            let state: Option<String> = tx
                .query_row("SELECT state FROM jobs WHERE id = ?1", [id], |r| r.get(0))
                .optional()?;
            let out = match state.as_deref().and_then(JobState::parse) {
                None => CancelOutcome::NotFound,
                Some(JobState::Queued) => {
                    tx.execute(
                        "UPDATE jobs SET state = 'cancelled', finished_at = ?2 WHERE id = ?1",
                        params![id, now_iso()],
                    )?;
                    CancelOutcome::Cancelled
                }
                Some(JobState::Running) => CancelOutcome::Requested,
                Some(s) => CancelOutcome::AlreadyFinished(s),
            };
            tx.commit()?;
            Ok(out)
        })
    }

    /// One job.
    pub fn job(&self, id: &str) -> rusqlite::Result<Option<JobRow>> {
        self.with(|c| {
            c.prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"))?
                .query_row([id], job_row)
                .optional()
        })
    }

    /// A page of jobs, newest first, optionally in one state; with the total count.
    pub fn jobs(
        &self,
        state: Option<JobState>,
        limit: usize,
        offset: usize,
    ) -> rusqlite::Result<(Vec<JobRow>, u64)> {
        self.with(|c| {
            let filter = state.map(JobState::as_str);
            let total: u64 = c.query_row(
                "SELECT count(*) FROM jobs WHERE ?1 IS NULL OR state = ?1",
                [filter],
                |r| r.get(0),
            )?;
            let mut st = c.prepare(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE ?1 IS NULL OR state = ?1
                 ORDER BY seq DESC LIMIT ?2 OFFSET ?3"
            ))?;
            let rows = st
                .query_map(params![filter, limit as i64, offset as i64], job_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, total))
        })
    }

    /// How many jobs are in each state.
    pub fn counts(&self) -> rusqlite::Result<Vec<(JobState, u64)>> {
        self.with(|c| {
            let mut st = c.prepare("SELECT state, count(*) FROM jobs GROUP BY state")?;
            let found: Vec<(String, u64)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(JobState::ALL
                .into_iter()
                .map(|s| {
                    let n = found
                        .iter()
                        .find(|(k, _)| k == s.as_str())
                        .map_or(0, |(_, n)| *n);
                    (s, n)
                })
                .collect())
        })
    }

    /// Records a model (an existing id keeps its record, the name is updated).
    pub fn put_model(&self, m: &Model) -> rusqlite::Result<Model> {
        self.with(|c| {
            c.execute(
                "INSERT INTO models (id, name, width, inputs, bytes, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name",
                params![
                    m.id,
                    m.name,
                    m.width,
                    serde_json::to_string(&m.inputs).unwrap_or_default(),
                    m.bytes,
                    m.created_at
                ],
            )?;
            Ok(m.clone())
        })
    }

    /// A model by id, or else the latest one with that name.
    pub fn model(&self, id_or_name: &str) -> rusqlite::Result<Option<Model>> {
        self.with(|c| {
            c.query_row(
                "SELECT id, name, width, inputs, bytes, created_at FROM models
                 WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC, created_at DESC LIMIT 1",
                [id_or_name],
                model_row,
            )
            .optional()
        })
    }

    /// Every model, by name.
    pub fn models(&self) -> rusqlite::Result<Vec<Model>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, name, width, inputs, bytes, created_at FROM models ORDER BY name, id",
            )?;
            st.query_map([], model_row)?.collect()
        })
    }

    /// True if SQLite answers.
    pub fn ping(&self) -> bool {
        self.with(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = Store::open(&dir.path().join("db.sqlite")).unwrap();
        (dir, s)
    }

    #[test]
    fn a_store_from_before_universes_gains_their_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            // The first release's tables.
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE datasets (id TEXT PRIMARY KEY, name TEXT NOT NULL,
                     format TEXT NOT NULL, rows INTEGER NOT NULL, first TEXT NOT NULL,
                     last TEXT NOT NULL, columns TEXT NOT NULL, bytes INTEGER NOT NULL,
                     created_at TEXT NOT NULL);
                 CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
                     kind TEXT NOT NULL, state TEXT NOT NULL, spec TEXT NOT NULL,
                     dataset TEXT NOT NULL, progress REAL NOT NULL DEFAULT 0, error TEXT,
                     attempts INTEGER NOT NULL DEFAULT 0, completions INTEGER NOT NULL DEFAULT 0,
                     result_digest TEXT, created_at TEXT NOT NULL, started_at TEXT,
                     finished_at TEXT);
                 INSERT INTO jobs (id, kind, state, spec, dataset, created_at)
                     VALUES ('old', 'backtest', 'queued', '{}', 'd1', 'then');",
            )
            .unwrap();
        }
        let (s, _) = Store::open(&path).unwrap();
        let old = s.claim().unwrap().unwrap();
        assert_eq!((old.id.as_str(), old.universe), ("old", None));
        let universe = r#"[{"symbol":"A","dataset":"d2"},{"symbol":"B","dataset":"d3"}]"#;
        assert!(
            s.submit("new", "backtest", "{}", "d2", Some(universe), 10)
                .unwrap()
        );
        assert_eq!(
            s.job("new").unwrap().unwrap().universe.as_deref(),
            Some(universe)
        );
        let d = |id: &str, symbols: Option<Vec<String>>| Dataset {
            id: id.into(),
            name: id.to_uppercase(),
            format: "csv".into(),
            rows: 1,
            first: String::new(),
            last: String::new(),
            columns: vec![],
            bytes: 1,
            created_at: now_iso(),
            symbols,
            previous: vec![],
        };
        s.put_dataset(
            &d("d3", Some(vec!["B".into(), "C".into()])),
            NameConflict::Replace,
        )
        .unwrap();
        s.put_dataset(&d("d4", None), NameConflict::Replace)
            .unwrap();
        assert_eq!(
            s.dataset("D3").unwrap().unwrap().symbols,
            Some(vec!["B".to_string(), "C".to_string()])
        );
        assert_eq!(s.dataset("d4").unwrap().unwrap().symbols, None);
        // A dataset a queued job's universe uses is in use; opening twice is harmless.
        assert_eq!(s.delete_dataset("d3").unwrap(), DeleteOutcome::InUse(1));
        assert!(matches!(
            s.delete_dataset("d4").unwrap(),
            DeleteOutcome::Deleted { removed } if removed.len() == 1
        ));
        drop(s);
        Store::open(&path).unwrap();
    }

    #[test]
    fn queue_limit_is_enforced_atomically() {
        let (_d, s) = store();
        assert!(s.submit("a", "backtest", "{}", "d", None, 2).unwrap());
        assert!(s.submit("b", "backtest", "{}", "d", None, 2).unwrap());
        assert!(!s.submit("c", "backtest", "{}", "d", None, 2).unwrap());
        // Claiming frees a queue slot.
        assert_eq!(s.claim().unwrap().unwrap().id, "a");
        assert!(s.submit("c", "backtest", "{}", "d", None, 2).unwrap());
    }

    #[test]
    fn jobs_are_claimed_oldest_first_and_once() {
        let (_d, s) = store();
        for id in ["a", "b"] {
            s.submit(id, "backtest", "{}", "d", None, 10).unwrap();
        }
        let a = s.claim().unwrap().unwrap();
        assert_eq!(
            (a.id.as_str(), a.state, a.attempts),
            ("a", JobState::Running, 1)
        );
        assert_eq!(s.claim().unwrap().unwrap().id, "b");
        assert!(s.claim().unwrap().is_none());
    }

    #[test]
    fn a_crash_puts_running_jobs_back_in_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            let (s, _) = Store::open(&path).unwrap();
            s.submit("a", "sweep", "{}", "d", None, 10).unwrap();
            s.claim().unwrap();
            // dropped without finishing: a crash
        }
        let (s, requeued) = Store::open(&path).unwrap();
        assert_eq!(requeued, 1);
        let again = s.claim().unwrap().unwrap();
        assert_eq!((again.id.as_str(), again.attempts), ("a", 2));
    }

    #[test]
    fn finishing_keeps_the_first_digest_and_counts_completions() {
        let (_d, s) = store();
        s.submit("a", "backtest", "{}", "d", None, 10).unwrap();
        s.claim().unwrap();
        s.finish("a", JobState::Succeeded, None, Some("x")).unwrap();
        let j = s.job("a").unwrap().unwrap();
        assert_eq!(
            (j.state, j.completions, j.result_digest.as_deref()),
            (JobState::Succeeded, 1, Some("x"))
        );
        assert_eq!(j.progress, 1.0);
        // A finished job is not finished again.
        s.finish("a", JobState::Failed, Some("late"), Some("y"))
            .unwrap();
        assert_eq!(s.job("a").unwrap().unwrap().state, JobState::Succeeded);
    }

    #[test]
    fn names_are_aliases_with_their_own_lifecycle() {
        let (_d, s) = store();
        let d = |name: &str| Dataset {
            id: "same".into(),
            name: name.into(),
            format: "csv".into(),
            rows: 1,
            first: String::new(),
            last: String::new(),
            columns: vec![],
            bytes: 1,
            created_at: now_iso(),
            symbols: None,
            previous: vec![],
        };
        s.put_dataset(&d("alice"), NameConflict::Replace).unwrap();
        s.put_dataset(&d("bob"), NameConflict::Replace).unwrap();
        s.submit("j", "backtest", "{}", "same", None, 10).unwrap();
        // One name goes; the other still reaches the content.
        let none = DeleteOutcome::Deleted { removed: vec![] };
        assert_eq!(s.delete_dataset("alice").unwrap(), none);
        assert!(s.dataset("alice").unwrap().is_none());
        assert_eq!(s.dataset("bob").unwrap().unwrap().id, "same");
        // The last name goes while a job still needs the content: it stays until then.
        assert_eq!(s.delete_dataset("bob").unwrap(), none);
        assert_eq!(s.dataset("same").unwrap().unwrap().id, "same");
        assert_eq!(s.unreferenced_datasets().unwrap(), vec![]);
        s.claim().unwrap();
        s.finish("j", JobState::Succeeded, None, Some("x")).unwrap();
        assert_eq!(
            s.unreferenced_datasets().unwrap(),
            vec![("same".into(), "csv".into())]
        );
        assert!(s.dataset("same").unwrap().is_none());
        assert_eq!(s.delete_dataset("bob").unwrap(), DeleteOutcome::NotFound);
    }

    #[test]
    fn cancel_and_delete_respect_states() {
        let (_d, s) = store();
        s.submit("a", "backtest", "{}", "d1", None, 10).unwrap();
        s.submit("b", "backtest", "{}", "d1", None, 10).unwrap();
        assert_eq!(s.cancel("b").unwrap(), CancelOutcome::Cancelled);
        assert_eq!(s.cancel("nope").unwrap(), CancelOutcome::NotFound);
        s.claim().unwrap();
        assert_eq!(s.cancel("a").unwrap(), CancelOutcome::Requested);
        let d = Dataset {
            id: "d1".into(),
            name: "X".into(),
            format: "csv".into(),
            rows: 1,
            first: String::new(),
            last: String::new(),
            columns: vec![],
            bytes: 1,
            created_at: now_iso(),
            symbols: None,
            previous: vec![],
        };
        s.put_dataset(&d, NameConflict::Replace).unwrap();
        assert_eq!(s.delete_dataset("d1").unwrap(), DeleteOutcome::InUse(1));
        s.finish("a", JobState::Cancelled, None, None).unwrap();
        assert_eq!(
            s.cancel("a").unwrap(),
            CancelOutcome::AlreadyFinished(JobState::Cancelled)
        );
        assert_eq!(
            s.delete_dataset("d1").unwrap(),
            DeleteOutcome::Deleted {
                removed: vec![("d1".into(), "csv".into())]
            }
        );
        assert_eq!(s.delete_dataset("d1").unwrap(), DeleteOutcome::NotFound);
        let counts = s.counts().unwrap();
        assert_eq!(
            counts
                .iter()
                .find(|(k, _)| *k == JobState::Cancelled)
                .unwrap()
                .1,
            2
        );
    }
}
