//! The embedded store: one SQLite file (WAL, `synchronous=FULL`) for one process.
//!
//! Workers claim the oldest queued row with one `UPDATE … RETURNING`, so two workers never
//! take the same job. Nobody else can hold this file's jobs, so rows left `running` by a
//! crash go back to `queued` when the store opens.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    CancelOutcome, Dataset, DeleteOutcome, JobRow, JobState, Lease, Model, NameConflict, Node,
    PutOutcome, Renewal, Result, Shard, ShardEnd, ShardFinish, ShardRow, Store, now_iso, now_ms,
    shard_key,
};

/// A running job that was split and whose every shard has ended, but that nobody holds
/// (the node that would have merged it died in between): claimable like an expired one.
const ORPHANED: &str = "(lease_owner IS NULL \
     AND EXISTS (SELECT 1 FROM shards s WHERE s.job_id = jobs.id) \
     AND NOT EXISTS (SELECT 1 FROM shards s WHERE s.job_id = jobs.id \
                     AND s.state IN ('queued', 'running')))";

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
pub struct SqliteStore {
    conn: Mutex<Connection>,
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
    universe TEXT,
    lease_owner TEXT,
    lease_until INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, seq);
CREATE TABLE IF NOT EXISTS shards (
    job_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    start_at INTEGER NOT NULL,
    end_at INTEGER NOT NULL,
    state TEXT NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, idx)
);
CREATE TABLE IF NOT EXISTS nodes (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    threads INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    seen_ms INTEGER NOT NULL,
    running INTEGER NOT NULL,
    jobs_claimed INTEGER NOT NULL,
    lease_renewals INTEGER NOT NULL,
    leases_lost INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_dataset ON jobs(dataset, state);
";

const JOB_COLUMNS: &str = "id, kind, state, spec, dataset, progress, error, attempts, \
                           completions, result_digest, created_at, started_at, finished_at, \
                           universe";

/// Columns added after the first release, with their declarations: a store created
/// before them gets them on open (`CREATE TABLE IF NOT EXISTS` leaves old tables alone).
const ADDED_COLUMNS: [(&str, &str, &str); 5] = [
    ("datasets", "symbols", "TEXT"),
    ("jobs", "universe", "TEXT"),
    ("jobs", "lease_owner", "TEXT"),
    ("jobs", "lease_until", "INTEGER"),
    ("jobs", "cancel_requested", "INTEGER NOT NULL DEFAULT 0"),
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

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and puts jobs a crash left running
    /// back in the queue. Returns the store and how many jobs were requeued.
    pub fn open(path: &Path) -> rusqlite::Result<(SqliteStore, usize)> {
        let conn = Connection::open(path)?;
        // The busy timeout first: switching to WAL takes a lock too.
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
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
            "UPDATE jobs SET state = 'queued', progress = 0, lease_owner = NULL
             WHERE state = 'running'",
            [],
        )?;
        Ok((
            SqliteStore {
                conn: Mutex::new(conn),
            },
            requeued,
        ))
    }

    /// Runs `f` on the connection. Every transaction `f` starts is `BEGIN IMMEDIATE`: it
    /// takes the write lock at its start, waiting out another process's writer under the
    /// busy timeout. A deferred one that read first and then wrote could get `database is
    /// locked` at once, with no wait, when another connection wrote in between (seen when a
    /// server started on a store whose previous server was still winding down).
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        // A panic while holding the lock cannot leave SQLite inconsistent (statements
        // are atomic), so a poisoned lock is still usable.
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        Ok(f(&mut conn)?)
    }
}

impl Store for SqliteStore {
    fn is_shared(&self) -> bool {
        false
    }

    fn put_dataset(&self, d: &Dataset, conflict: NameConflict) -> Result<PutOutcome> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
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

    fn dataset(&self, id_or_name: &str) -> Result<Option<Dataset>> {
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

    fn datasets(&self) -> Result<Vec<Dataset>> {
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

    fn delete_dataset(&self, key: &str) -> Result<DeleteOutcome> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
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

    fn unreferenced_datasets(&self) -> Result<Vec<(String, String)>> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let removed = unreferenced(&tx)?;
            tx.commit()?;
            Ok(removed)
        })
    }

    fn submit(
        &self,
        id: &str,
        kind: &str,
        spec: &str,
        dataset: &str,
        universe: Option<&str>,
        queue_limit: usize,
    ) -> Result<bool> {
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

    fn claim(&self, lease: &Lease) -> Result<Option<JobRow>> {
        let now = now_ms();
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                &format!(
                    "UPDATE jobs SET state = 'cancelled', finished_at = ?2, lease_owner = NULL
                     WHERE state = 'running' AND cancel_requested = 1
                       AND (lease_until < ?1 OR {ORPHANED})"
                ),
                params![now, now_iso()],
            )?;
            let job = tx
                .query_row(
                    &format!(
                        "UPDATE jobs SET state = 'running', attempts = attempts + 1, progress = 0,
                             started_at = ?1, lease_owner = ?2, lease_until = ?3 + ?4,
                             cancel_requested = 0
                         WHERE seq = (SELECT seq FROM jobs WHERE state = 'queued'
                                          OR (state = 'running'
                                              AND (lease_until < ?3 OR {ORPHANED}))
                                      ORDER BY seq LIMIT 1)
                         RETURNING {JOB_COLUMNS}"
                    ),
                    params![now_iso(), lease.owner, now, ttl_ms(lease.ttl)],
                    job_row,
                )
                .optional()?;
            tx.commit()?;
            Ok(job)
        })
    }

    fn renew(&self, lease: &Lease) -> Result<Renewal> {
        let now = now_ms();
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut rows = tx
                .prepare(
                    "UPDATE jobs SET lease_until = ?2 + ?3
                     WHERE lease_owner = ?1 AND state = 'running'
                     RETURNING id, cancel_requested",
                )?
                .query_map(params![lease.owner, now, ttl_ms(lease.ttl)], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            tx.execute(
                "UPDATE shards SET lease_until = ?2 + ?3 WHERE lease_owner = ?1 AND state = 'running'",
                params![lease.owner, now, ttl_ms(lease.ttl)],
            )?;
            let shards = tx
                .prepare(
                    "SELECT s.job_id, s.idx, j.cancel_requested FROM shards s
                     JOIN jobs j ON j.id = s.job_id
                     WHERE s.lease_owner = ?1 AND s.state = 'running'",
                )?
                .query_map([&lease.owner], |r| {
                    Ok((
                        shard_key(&r.get::<_, String>(0)?, r.get(1)?),
                        r.get::<_, bool>(2)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            tx.commit()?;
            rows.extend(shards);
            Ok(renewal(rows))
        })
    }

    fn release(&self, owner: &str) -> Result<usize> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let jobs = tx.execute(
                "UPDATE jobs SET state = 'queued', progress = 0, lease_owner = NULL
                 WHERE lease_owner = ?1 AND state = 'running'",
                [owner],
            )?;
            let shards = tx.execute(
                "UPDATE shards SET state = 'queued', lease_owner = NULL
                 WHERE lease_owner = ?1 AND state = 'running'",
                [owner],
            )?;
            tx.commit()?;
            Ok(jobs + shards)
        })
    }

    fn next_queued(&self) -> Result<Option<JobRow>> {
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

    fn split(&self, job: &str, ranges: &[(u64, u64)]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let has: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM shards WHERE job_id = ?1)",
                [job],
                |r| r.get(0),
            )?;
            if !has {
                for (i, (start, end)) in ranges.iter().enumerate() {
                    tx.execute(
                        "INSERT INTO shards (job_id, idx, start_at, end_at, state)
                         VALUES (?1, ?2, ?3, ?4, 'queued')",
                        params![job, i as i64, *start as i64, *end as i64],
                    )?;
                }
            }
            tx.commit()
        })
    }

    fn shards(&self, job: &str) -> Result<Vec<ShardRow>> {
        self.with(|c| {
            c.prepare(
                "SELECT idx, start_at, end_at, state FROM shards WHERE job_id = ?1 ORDER BY idx",
            )?
            .query_map([job], |r| {
                Ok(ShardRow {
                    index: r.get(0)?,
                    start: r.get::<_, i64>(1)? as u64,
                    end: r.get::<_, i64>(2)? as u64,
                    state: r.get(3)?,
                })
            })?
            .collect()
        })
    }

    fn hand_over(&self, job: &str, owner: &str) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET lease_owner = NULL, lease_until = NULL
                 WHERE id = ?1 AND state = 'running' AND lease_owner = ?2
                   AND EXISTS (SELECT 1 FROM shards s WHERE s.job_id = ?1
                               AND s.state IN ('queued', 'running'))",
                params![job, owner],
            )
            .map(|n| n == 1)
        })
    }

    fn claim_shard(&self, lease: &Lease) -> Result<Option<Shard>> {
        let now = now_ms();
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let claimed: Option<(String, u32, i64, i64)> = tx
                .query_row(
                    "UPDATE shards SET state = 'running', lease_owner = ?1, lease_until = ?2 + ?3,
                         attempts = attempts + 1
                     WHERE rowid = (SELECT s.rowid FROM shards s JOIN jobs j ON j.id = s.job_id
                                    WHERE j.state = 'running' AND j.cancel_requested = 0
                                      AND (s.state = 'queued'
                                           OR (s.state = 'running' AND s.lease_until < ?2))
                                    ORDER BY j.seq, s.idx LIMIT 1)
                     RETURNING job_id, idx, start_at, end_at",
                    params![lease.owner, now, ttl_ms(lease.ttl)],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((job, index, start, end)) = claimed else {
                return Ok(None);
            };
            let job = tx.query_row(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
                [&job],
                job_row,
            )?;
            tx.commit()?;
            Ok(Some(Shard {
                job,
                index,
                start: start as u64,
                end: end as u64,
            }))
        })
    }

    fn finish_shard(
        &self,
        job: &str,
        index: u32,
        lease: &Lease,
        end: ShardEnd,
    ) -> Result<ShardFinish> {
        let now = now_ms();
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let state = match end {
                ShardEnd::Done => "done",
                ShardEnd::Cancelled => "cancelled",
                ShardEnd::Requeue => "queued",
            };
            let n = tx.execute(
                "UPDATE shards SET state = ?4, lease_owner = NULL, lease_until = NULL
                 WHERE job_id = ?1 AND idx = ?2 AND state = 'running' AND lease_owner = ?3",
                params![job, index, lease.owner, state],
            )?;
            if n == 0 {
                return Ok(ShardFinish::NotHeld);
            }
            let (total, done, open): (i64, i64, i64) = tx.query_row(
                "SELECT count(*), coalesce(sum(state = 'done'), 0),
                     coalesce(sum(state IN ('queued', 'running')), 0)
                 FROM shards WHERE job_id = ?1",
                [job],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            tx.execute(
                "UPDATE jobs SET progress = ?2 WHERE id = ?1 AND state = 'running'",
                params![job, done as f64 / total.max(1) as f64],
            )?;
            let out = if open > 0 {
                ShardFinish::Remaining(open as u64)
            } else {
                let took = tx.execute(
                    "UPDATE jobs SET lease_owner = ?2, lease_until = ?3 + ?4
                     WHERE id = ?1 AND state = 'running' AND lease_owner IS NULL",
                    params![job, lease.owner, now, ttl_ms(lease.ttl)],
                )?;
                if took == 1 {
                    ShardFinish::Last
                } else {
                    ShardFinish::Remaining(0)
                }
            };
            tx.commit()?;
            Ok(out)
        })
    }

    fn set_progress(&self, id: &str, progress: f64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET progress = ?2 WHERE id = ?1 AND state = 'running'",
                params![id, progress],
            )
            .map(drop)
        })
    }

    fn finish(
        &self,
        id: &str,
        owner: &str,
        state: JobState,
        error: Option<&str>,
        digest: Option<&str>,
    ) -> Result<bool> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "UPDATE jobs SET state = ?2, error = ?3, progress = CASE WHEN ?2 = 'succeeded' THEN 1 ELSE progress END,
                     completions = completions + 1,
                     result_digest = COALESCE(result_digest, ?4), finished_at = ?5,
                     lease_owner = NULL
                 WHERE id = ?1 AND state = 'running' AND lease_owner = ?6",
                params![id, state.as_str(), error, digest, now_iso(), owner],
            )?;
            if n == 1 {
                tx.execute("DELETE FROM shards WHERE job_id = ?1", [id])?;
            }
            tx.commit()?;
            Ok(n == 1)
        })
    }

    fn requeue_damaged(&self, id: &str) -> Result<bool> {
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

    fn fail_damaged(&self, id: &str, error: &str) -> Result<bool> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE jobs SET state = 'failed', result_digest = NULL, error = ?2
                 WHERE id = ?1 AND state IN ('succeeded', 'cancelled')",
                params![id, error],
            )?;
            Ok(n > 0)
        })
    }

    fn recent_results(&self, n: usize) -> Result<Vec<JobRow>> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE result_digest IS NOT NULL
                 AND state IN ('succeeded', 'cancelled') ORDER BY seq DESC LIMIT ?1"
            ))?;
            st.query_map([n as i64], job_row)?.collect()
        })
    }

    fn requeue(&self, id: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET state = 'queued', progress = 0, lease_owner = NULL
                 WHERE id = ?1 AND state = 'running'",
                [id],
            )
            .map(drop)
        })
    }

    fn requeue_last(&self, id: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET state = 'queued', progress = 0, lease_owner = NULL,
                     seq = (SELECT max(seq) + 1 FROM jobs)
                 WHERE id = ?1 AND state = 'running'",
                [id],
            )
            .map(drop)
        })
    }

    fn cancel(&self, id: &str) -> Result<CancelOutcome> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
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
                Some(JobState::Running) => {
                    tx.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?1", [id])?;
                    // A split job's waiting shards never run; running ones hear of it.
                    tx.execute(
                        "UPDATE shards SET state = 'cancelled' WHERE job_id = ?1 AND state = 'queued'",
                        [id],
                    )?;
                    CancelOutcome::Requested
                }
                Some(s) => CancelOutcome::AlreadyFinished(s),
            };
            tx.commit()?;
            Ok(out)
        })
    }

    fn job(&self, id: &str) -> Result<Option<JobRow>> {
        self.with(|c| {
            c.prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"))?
                .query_row([id], job_row)
                .optional()
        })
    }

    fn jobs(
        &self,
        state: Option<JobState>,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<JobRow>, u64)> {
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

    fn counts(&self) -> Result<Vec<(JobState, u64)>> {
        self.with(|c| {
            let mut st = c.prepare("SELECT state, count(*) FROM jobs GROUP BY state")?;
            let found: Vec<(String, u64)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(super::counts_by_state(&found))
        })
    }

    fn put_model(&self, m: &Model) -> Result<Model> {
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

    fn model(&self, id_or_name: &str) -> Result<Option<Model>> {
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

    fn models(&self) -> Result<Vec<Model>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, name, width, inputs, bytes, created_at FROM models ORDER BY name, id",
            )?;
            st.query_map([], model_row)?.collect()
        })
    }

    fn expired_leases(&self) -> Result<u64> {
        self.with(|c| {
            c.query_row(
                "SELECT count(*) FROM jobs WHERE state = 'running' AND lease_until < ?1",
                [now_ms()],
                |r| r.get(0),
            )
        })
    }

    fn heartbeat(&self, n: &Node) -> Result<()> {
        self.with(|c| {
            // Nodes that died without leaving: gone from the list after a day.
            c.execute(
                "DELETE FROM nodes WHERE seen_ms < ?1",
                [now_ms() - 86_400_000],
            )?;
            c.execute(
                "INSERT INTO nodes (id, role, host, pid, threads, started_at, seen_ms, running,
                     jobs_claimed, lease_renewals, leases_lost)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT(id) DO UPDATE SET seen_ms = excluded.seen_ms,
                     running = excluded.running, jobs_claimed = excluded.jobs_claimed,
                     lease_renewals = excluded.lease_renewals, leases_lost = excluded.leases_lost",
                params![
                    n.id,
                    n.role,
                    n.host,
                    n.pid,
                    n.threads,
                    n.started_at,
                    now_ms(),
                    n.running as i64,
                    n.jobs_claimed as i64,
                    n.lease_renewals as i64,
                    n.leases_lost as i64
                ],
            )
            .map(drop)
        })
    }

    fn nodes(&self, within: Duration) -> Result<Vec<Node>> {
        let now = now_ms();
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, role, host, pid, threads, started_at, ?1 - seen_ms, running,
                     jobs_claimed, lease_renewals, leases_lost
                 FROM nodes WHERE seen_ms >= ?1 - ?2 ORDER BY id",
            )?;
            st.query_map(params![now, ttl_ms(within)], |r| {
                Ok(Node {
                    id: r.get(0)?,
                    role: r.get(1)?,
                    host: r.get(2)?,
                    pid: r.get(3)?,
                    threads: r.get(4)?,
                    started_at: r.get(5)?,
                    seen_ms_ago: r.get::<_, i64>(6)?.max(0) as u64,
                    running: r.get::<_, i64>(7)? as u64,
                    jobs_claimed: r.get::<_, i64>(8)? as u64,
                    lease_renewals: r.get::<_, i64>(9)? as u64,
                    leases_lost: r.get::<_, i64>(10)? as u64,
                })
            })?
            .collect()
        })
    }

    fn leave(&self, id: &str) -> Result<()> {
        self.with(|c| c.execute("DELETE FROM nodes WHERE id = ?1", [id]).map(drop))
    }

    fn ping(&self) -> bool {
        self.with(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)))
            .is_ok()
    }
}

/// A lease's length in milliseconds.
pub(super) fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 4)
}

/// The renewal of the rows a node still holds (id, cancel requested).
pub(super) fn renewal(rows: Vec<(String, bool)>) -> Renewal {
    let mut r = Renewal::default();
    for (id, cancel) in rows {
        if cancel {
            r.cancel.push(id.clone());
        }
        r.held.push(id);
    }
    r.held.sort();
    r.cancel.sort();
    r
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn lease() -> Lease {
        Lease {
            owner: "node".into(),
            ttl: Duration::from_secs(60),
        }
    }

    /// A write that starts while another connection (another server on the same file,
    /// still winding down) holds the write lock waits for it, and succeeds after that
    /// writer commits. A deferred transaction read its snapshot first and then failed at
    /// once with `database is locked` when it tried to write.
    #[test]
    fn a_write_waits_for_another_connections_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let (s, _) = SqliteStore::open(&path).unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        other
            .execute_batch("CREATE TABLE other_writer (x INTEGER)")
            .unwrap();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            other.execute_batch("COMMIT").unwrap();
        });
        let d = Dataset {
            id: "d1".into(),
            name: "mine".into(),
            format: "csv".into(),
            rows: 1,
            first: "2020-01-01".into(),
            last: "2020-01-01".into(),
            columns: vec!["Close".into()],
            bytes: 1,
            created_at: "now".into(),
            symbols: None,
            previous: Vec::new(),
        };
        let put = s.put_dataset(&d, NameConflict::Replace);
        writer.join().unwrap();
        assert!(put.is_ok(), "{:?}", put.err().map(|e| e.to_string()));
        assert!(s.dataset("mine").unwrap().is_some());
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
        let (s, _) = SqliteStore::open(&path).unwrap();
        let old = s.claim(&lease()).unwrap().unwrap();
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
        SqliteStore::open(&path).unwrap();
    }

    #[test]
    fn a_crash_puts_running_jobs_back_in_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            let (s, _) = SqliteStore::open(&path).unwrap();
            s.submit("a", "sweep", "{}", "d", None, 10).unwrap();
            s.claim(&lease()).unwrap();
            // dropped without finishing: a crash
        }
        let (s, requeued) = SqliteStore::open(&path).unwrap();
        assert_eq!(requeued, 1);
        let again = s.claim(&lease()).unwrap().unwrap();
        assert_eq!((again.id.as_str(), again.attempts), ("a", 2));
    }
}
