//! The shared store: a PostgreSQL database that API replicas and workers on any hosts use
//! at once.
//!
//! - **Claims** take the oldest claimable row with `FOR UPDATE SKIP LOCKED`, so concurrent
//!   workers never wait on each other's rows and never take the same job.
//! - **Leases** are measured by the database's clock, so the nodes' clocks need not agree.
//! - **Schema** changes are numbered migrations applied once, under an advisory lock, by
//!   whichever node starts first.
//! - **Connections** come from a pool that checks each one before use, so a restarted
//!   server costs the requests in flight at that moment, not the process.

use std::time::Duration;

use postgres::{NoTls, Row, Transaction};
use r2d2_postgres::PostgresConnectionManager;

use super::sqlite::{renewal, ttl_ms};
use super::{
    CancelOutcome, Dataset, DeleteOutcome, JobRow, JobState, Lease, Model, NameConflict, Node,
    PutOutcome, Renewal, Result, Shard, ShardEnd, ShardFinish, ShardRow, Store, StoreError,
    now_iso, shard_key,
};

/// A running job that was split and whose every shard has ended, but that nobody holds
/// (the node that would have merged it died in between): claimable like an expired one.
const ORPHANED: &str = "(lease_owner IS NULL \
     AND EXISTS (SELECT 1 FROM shards s WHERE s.job_id = jobs.id) \
     AND NOT EXISTS (SELECT 1 FROM shards s WHERE s.job_id = jobs.id \
                     AND s.state IN ('queued', 'running')))";

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// The PostgreSQL store.
pub struct PgStore {
    pool: Pool,
}

/// The database's clock in milliseconds since the Unix epoch (leases use it).
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// Advisory lock keys (arbitrary, fixed): migrations, and submissions (the queue limit).
const MIGRATION_LOCK: i64 = 0x6274_6964_6501;
const SUBMIT_LOCK: i64 = 0x6274_6964_6502;

/// The schema, one entry per version; a started database applies the ones it lacks.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE datasets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    format TEXT NOT NULL,
    rows BIGINT NOT NULL,
    first TEXT NOT NULL,
    last TEXT NOT NULL,
    columns TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    symbols TEXT
);
CREATE TABLE dataset_names (
    name TEXT PRIMARY KEY,
    id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE
);
CREATE TABLE dataset_history (
    seq BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    id TEXT NOT NULL REFERENCES datasets(id),
    replaced_at TEXT NOT NULL
);
CREATE INDEX dataset_history_name ON dataset_history(name);
CREATE TABLE models (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    width BIGINT NOT NULL,
    inputs TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE jobs (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    spec TEXT NOT NULL,
    dataset TEXT NOT NULL,
    progress DOUBLE PRECISION NOT NULL DEFAULT 0,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    completions INTEGER NOT NULL DEFAULT 0,
    result_digest TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    universe TEXT,
    lease_owner TEXT,
    lease_until BIGINT,
    cancel_requested BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX jobs_state ON jobs(state, seq);
CREATE INDEX jobs_dataset ON jobs(dataset, state);
CREATE INDEX jobs_lease_owner ON jobs(lease_owner) WHERE lease_owner IS NOT NULL;
CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    threads BIGINT NOT NULL,
    started_at TEXT NOT NULL,
    seen_ms BIGINT NOT NULL,
    running BIGINT NOT NULL,
    jobs_claimed BIGINT NOT NULL,
    lease_renewals BIGINT NOT NULL,
    leases_lost BIGINT NOT NULL
);
",
    "
CREATE TABLE shards (
    job_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, idx)
);
CREATE INDEX shards_open ON shards(state) WHERE state IN ('queued', 'running');
",
];

/// Jobs that still need a content id: queued or running, as their dataset, in their
/// universe, or as a backtest's benchmark (stored by content id in the request).
const ACTIVE_USERS: &str = "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running') \
     AND (dataset = $1 \
     OR (universe IS NOT NULL AND universe::jsonb @> jsonb_build_array(jsonb_build_object('dataset', $1::text))) \
     OR (spec::jsonb #>> '{request,benchmark}') = $1)";

const JOB_COLUMNS: &str = "id, kind, state, spec, dataset, progress, error, attempts, \
                           completions, result_digest, created_at, started_at, finished_at, \
                           universe";
const DATASET_COLUMNS: &str =
    "id, name, format, rows, first, last, columns, bytes, created_at, symbols";
const DATASET_COLUMNS_D: &str = "d.id, d.name, d.format, d.rows, d.first, d.last, d.columns, \
                                 d.bytes, d.created_at, d.symbols";
const MODEL_COLUMNS: &str = "id, name, width, inputs, bytes, created_at";

fn job_row(r: &Row) -> JobRow {
    let state: String = r.get(2);
    JobRow {
        id: r.get(0),
        kind: r.get(1),
        state: JobState::parse(&state).unwrap_or(JobState::Failed),
        spec: r.get(3),
        dataset: r.get(4),
        progress: r.get(5),
        error: r.get(6),
        attempts: r.get::<_, i32>(7).max(0) as u32,
        completions: r.get::<_, i32>(8).max(0) as u32,
        result_digest: r.get(9),
        created_at: r.get(10),
        started_at: r.get(11),
        finished_at: r.get(12),
        universe: r.get(13),
    }
}

fn dataset_row(r: &Row) -> Dataset {
    let columns: String = r.get(6);
    Dataset {
        id: r.get(0),
        name: r.get(1),
        format: r.get(2),
        rows: r.get::<_, i64>(3).max(0) as u64,
        first: r.get(4),
        last: r.get(5),
        columns: serde_json::from_str(&columns).unwrap_or_default(),
        bytes: r.get::<_, i64>(7).max(0) as u64,
        created_at: r.get(8),
        symbols: r
            .get::<_, Option<String>>(9)
            .and_then(|s| serde_json::from_str(&s).ok()),
        previous: Vec::new(),
    }
}

fn model_row(r: &Row) -> Model {
    let inputs: String = r.get(3);
    Model {
        id: r.get(0),
        name: r.get(1),
        width: r.get::<_, i64>(2).max(0) as u64,
        inputs: serde_json::from_str(&inputs).unwrap_or_default(),
        bytes: r.get::<_, i64>(4).max(0) as u64,
        created_at: r.get(5),
    }
}

fn history(
    tx: &mut impl postgres::GenericClient,
    name: &str,
) -> std::result::Result<Vec<String>, postgres::Error> {
    Ok(tx
        .query(
            "SELECT id FROM dataset_history WHERE name = $1 ORDER BY seq DESC",
            &[&name],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

fn unreferenced(
    tx: &mut Transaction<'_>,
) -> std::result::Result<Vec<(String, String)>, postgres::Error> {
    let candidates: Vec<(String, String)> = tx
        .query(
            "SELECT id, format FROM datasets d
             WHERE NOT EXISTS (SELECT 1 FROM dataset_names n WHERE n.id = d.id)
               AND NOT EXISTS (SELECT 1 FROM dataset_history h WHERE h.id = d.id)
             ORDER BY id",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut removed = Vec::new();
    for (id, format) in candidates {
        let users: i64 = tx.query_one(ACTIVE_USERS, &[&id])?.get(0);
        if users == 0 {
            tx.execute("DELETE FROM datasets WHERE id = $1", &[&id])?;
            removed.push((id, format));
        }
    }
    Ok(removed)
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PgStore {
    /// Connects to `url`, applies the migrations this database lacks, and keeps a pool.
    pub fn open(url: &str) -> Result<PgStore> {
        let config: postgres::Config = url.parse()?;
        let manager = PostgresConnectionManager::new(config, NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(16)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)?;
        let store = PgStore { pool };
        store.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS backtide_migrations (
                     version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
            )?;
            let done: i32 = tx
                .query_one(
                    "SELECT coalesce(max(version), 0) FROM backtide_migrations",
                    &[],
                )?
                .get(0);
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(done.max(0) as usize) {
                tx.batch_execute(sql)?;
                tx.execute(
                    "INSERT INTO backtide_migrations (version, applied_at) VALUES ($1, $2)",
                    &[&(i as i32 + 1), &now_iso()],
                )?;
            }
            tx.commit()
        })?;
        Ok(store)
    }

    /// The schema version this build writes (tests and `backtide limits` show it).
    pub fn schema_version() -> usize {
        MIGRATIONS.len()
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        let mut conn = self.pool.get()?;
        f(&mut conn).map_err(StoreError::from)
    }
}

impl Store for PgStore {
    fn is_shared(&self) -> bool {
        true
    }

    fn put_dataset(&self, d: &Dataset, conflict: NameConflict) -> Result<PutOutcome> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let current: Option<String> = tx
                .query_opt(
                    "SELECT id FROM dataset_names WHERE name = $1 FOR UPDATE",
                    &[&d.name],
                )?
                .map(|r| r.get(0));
            if let Some(old) = current.as_ref().filter(|old| **old != d.id) {
                if conflict == NameConflict::Refuse {
                    return Ok(PutOutcome::NameTaken(old.clone()));
                }
                tx.execute(
                    "INSERT INTO dataset_history (name, id, replaced_at) VALUES ($1, $2, $3)",
                    &[&d.name, old, &now_iso()],
                )?;
            }
            let columns = serde_json::to_string(&d.columns).unwrap_or_default();
            let symbols = d
                .symbols
                .as_ref()
                .map(|s| serde_json::to_string(s).unwrap_or_default());
            tx.execute(
                "INSERT INTO datasets (id, name, format, rows, first, last, columns, bytes, created_at, symbols)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
                &[
                    &d.id,
                    &d.name,
                    &d.format,
                    &(d.rows as i64),
                    &d.first,
                    &d.last,
                    &columns,
                    &(d.bytes as i64),
                    &d.created_at,
                    &symbols,
                ],
            )?;
            tx.execute(
                "INSERT INTO dataset_names (name, id) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET id = excluded.id",
                &[&d.name, &d.id],
            )?;
            let row = tx.query_one(
                &format!("SELECT {DATASET_COLUMNS} FROM datasets WHERE id = $1"),
                &[&d.id],
            )?;
            let mut stored = dataset_row(&row);
            stored.name = d.name.clone();
            stored.previous = history(&mut tx, &d.name)?;
            tx.commit()?;
            Ok(PutOutcome::Stored(Box::new(stored)))
        })
    }

    fn dataset(&self, id_or_name: &str) -> Result<Option<Dataset>> {
        self.with(|c| {
            if let Some(r) = c.query_opt(
                &format!("SELECT {DATASET_COLUMNS} FROM datasets WHERE id = $1"),
                &[&id_or_name],
            )? {
                return Ok(Some(dataset_row(&r)));
            }
            let Some(r) = c.query_opt(
                &format!(
                    "SELECT {DATASET_COLUMNS_D} FROM dataset_names n JOIN datasets d ON d.id = n.id
                     WHERE n.name = $1"
                ),
                &[&id_or_name],
            )?
            else {
                return Ok(None);
            };
            let mut d = dataset_row(&r);
            d.name = id_or_name.to_string();
            d.previous = history(c, id_or_name)?;
            Ok(Some(d))
        })
    }

    fn datasets(&self) -> Result<Vec<Dataset>> {
        self.with(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {DATASET_COLUMNS_D}, n.name FROM dataset_names n
                     JOIN datasets d ON d.id = n.id ORDER BY n.name"
                ),
                &[],
            )?;
            let mut all = Vec::with_capacity(rows.len());
            for r in &rows {
                let mut d = dataset_row(r);
                d.name = r.get(10);
                d.previous = history(c, &d.name)?;
                all.push(d);
            }
            Ok(all)
        })
    }

    fn delete_dataset(&self, key: &str) -> Result<DeleteOutcome> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let named = tx.execute("DELETE FROM dataset_names WHERE name = $1", &[&key])?;
            // A name's history goes with it.
            tx.execute("DELETE FROM dataset_history WHERE name = $1", &[&key])?;
            if named == 0 {
                let exists: bool = tx
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM datasets WHERE id = $1)",
                        &[&key],
                    )?
                    .get(0);
                if !exists {
                    return Ok(DeleteOutcome::NotFound);
                }
                let users: i64 = tx.query_one(ACTIVE_USERS, &[&key])?.get(0);
                if users > 0 {
                    return Ok(DeleteOutcome::InUse(users as u64));
                }
                tx.execute("DELETE FROM dataset_names WHERE id = $1", &[&key])?;
                tx.execute("DELETE FROM dataset_history WHERE id = $1", &[&key])?;
            }
            let removed = unreferenced(&mut tx)?;
            tx.commit()?;
            Ok(DeleteOutcome::Deleted { removed })
        })
    }

    fn unreferenced_datasets(&self) -> Result<Vec<(String, String)>> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let removed = unreferenced(&mut tx)?;
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
            let mut tx = c.transaction()?;
            // Count and insert under one lock: concurrent submissions on any replica
            // cannot both see the last free slot.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SUBMIT_LOCK])?;
            let n = tx.execute(
                "INSERT INTO jobs (id, kind, state, spec, dataset, universe, created_at)
                 SELECT $1, $2, 'queued', $3, $4, $5, $6
                 WHERE (SELECT count(*) FROM jobs WHERE state = 'queued') < $7",
                &[
                    &id,
                    &kind,
                    &spec,
                    &dataset,
                    &universe,
                    &now_iso(),
                    &to_i64(queue_limit),
                ],
            )?;
            tx.commit()?;
            Ok(n == 1)
        })
    }

    fn claim(&self, lease: &Lease) -> Result<Option<JobRow>> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                &format!(
                    "UPDATE jobs SET state = 'cancelled', finished_at = $1, lease_owner = NULL
                     WHERE state = 'running' AND cancel_requested
                       AND (lease_until < {NOW_MS} OR {ORPHANED})"
                ),
                &[&now_iso()],
            )?;
            let row = tx.query_opt(
                &format!(
                    "UPDATE jobs SET state = 'running', attempts = attempts + 1, progress = 0,
                         started_at = $1, lease_owner = $2, lease_until = {NOW_MS} + $3,
                         cancel_requested = false
                     WHERE seq = (SELECT seq FROM jobs
                                  WHERE state = 'queued'
                                     OR (state = 'running'
                                         AND (lease_until < {NOW_MS} OR {ORPHANED}))
                                  ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
                     RETURNING {JOB_COLUMNS}"
                ),
                &[&now_iso(), &lease.owner, &ttl_ms(lease.ttl)],
            )?;
            tx.commit()?;
            Ok(row.as_ref().map(job_row))
        })
    }

    fn next_queued(&self) -> Result<Option<JobRow>> {
        self.with(|c| {
            Ok(c.query_opt(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 1"
                ),
                &[],
            )?
            .as_ref()
            .map(job_row))
        })
    }

    fn renew(&self, lease: &Lease) -> Result<Renewal> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let mut held: Vec<(String, bool)> = tx
                .query(
                    &format!(
                        "UPDATE jobs SET lease_until = {NOW_MS} + $2
                         WHERE lease_owner = $1 AND state = 'running'
                         RETURNING id, cancel_requested"
                    ),
                    &[&lease.owner, &ttl_ms(lease.ttl)],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let shards = tx.query(
                &format!(
                    "UPDATE shards s SET lease_until = {NOW_MS} + $2 FROM jobs j
                     WHERE j.id = s.job_id AND s.lease_owner = $1 AND s.state = 'running'
                     RETURNING s.job_id, s.idx, j.cancel_requested"
                ),
                &[&lease.owner, &ttl_ms(lease.ttl)],
            )?;
            held.extend(shards.iter().map(|r| {
                (
                    shard_key(&r.get::<_, String>(0), r.get::<_, i32>(1) as u32),
                    r.get(2),
                )
            }));
            tx.commit()?;
            Ok(renewal(held))
        })
    }

    fn release(&self, owner: &str) -> Result<usize> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let jobs = tx.execute(
                "UPDATE jobs SET state = 'queued', progress = 0, lease_owner = NULL
                 WHERE lease_owner = $1 AND state = 'running'",
                &[&owner],
            )?;
            let shards = tx.execute(
                "UPDATE shards SET state = 'queued', lease_owner = NULL
                 WHERE lease_owner = $1 AND state = 'running'",
                &[&owner],
            )?;
            tx.commit()?;
            Ok((jobs + shards) as usize)
        })
    }

    fn split(&self, job: &str, ranges: &[(u64, u64)]) -> Result<()> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            // The job's row lock orders concurrent splits of the same job.
            tx.execute("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", &[&job])?;
            let has: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM shards WHERE job_id = $1)",
                    &[&job],
                )?
                .get(0);
            if !has {
                for (i, (start, end)) in ranges.iter().enumerate() {
                    tx.execute(
                        "INSERT INTO shards (job_id, idx, start_at, end_at, state)
                         VALUES ($1, $2, $3, $4, 'queued')",
                        &[&job, &(i as i32), &(*start as i64), &(*end as i64)],
                    )?;
                }
            }
            tx.commit()
        })
    }

    fn shards(&self, job: &str) -> Result<Vec<ShardRow>> {
        self.with(|c| {
            Ok(c.query(
                "SELECT idx, start_at, end_at, state FROM shards WHERE job_id = $1 ORDER BY idx",
                &[&job],
            )?
            .iter()
            .map(|r| ShardRow {
                index: r.get::<_, i32>(0).max(0) as u32,
                start: r.get::<_, i64>(1).max(0) as u64,
                end: r.get::<_, i64>(2).max(0) as u64,
                state: r.get(3),
            })
            .collect())
        })
    }

    fn hand_over(&self, job: &str, owner: &str) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET lease_owner = NULL, lease_until = NULL
                 WHERE id = $1 AND state = 'running' AND lease_owner = $2
                   AND EXISTS (SELECT 1 FROM shards s WHERE s.job_id = $1
                               AND s.state IN ('queued', 'running'))",
                &[&job, &owner],
            )
            .map(|n| n == 1)
        })
    }

    fn claim_shard(&self, lease: &Lease) -> Result<Option<Shard>> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let Some(r) = tx.query_opt(
                &format!(
                    "UPDATE shards SET state = 'running', lease_owner = $1,
                         lease_until = {NOW_MS} + $2, attempts = attempts + 1
                     WHERE (job_id, idx) = (
                         SELECT s.job_id, s.idx FROM shards s JOIN jobs j ON j.id = s.job_id
                         WHERE j.state = 'running' AND NOT j.cancel_requested
                           AND (s.state = 'queued'
                                OR (s.state = 'running' AND s.lease_until < {NOW_MS}))
                         ORDER BY j.seq, s.idx LIMIT 1 FOR UPDATE OF s SKIP LOCKED)
                     RETURNING job_id, idx, start_at, end_at"
                ),
                &[&lease.owner, &ttl_ms(lease.ttl)],
            )?
            else {
                return Ok(None);
            };
            let job_id: String = r.get(0);
            let job = tx.query_one(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
                &[&job_id],
            )?;
            tx.commit()?;
            Ok(Some(Shard {
                job: job_row(&job),
                index: r.get::<_, i32>(1).max(0) as u32,
                start: r.get::<_, i64>(2).max(0) as u64,
                end: r.get::<_, i64>(3).max(0) as u64,
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
        self.with(|c| {
            let mut tx = c.transaction()?;
            let state = match end {
                ShardEnd::Done => "done",
                ShardEnd::Cancelled => "cancelled",
                ShardEnd::Requeue => "queued",
            };
            let n = tx.execute(
                "UPDATE shards SET state = $4, lease_owner = NULL, lease_until = NULL
                 WHERE job_id = $1 AND idx = $2 AND state = 'running' AND lease_owner = $3",
                &[&job, &(index as i32), &lease.owner, &state],
            )?;
            if n == 0 {
                return Ok(ShardFinish::NotHeld);
            }
            // Concurrent finishers of one job count one after the other, so the last one
            // sees every other shard ended.
            tx.execute("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", &[&job])?;
            let r = tx.query_one(
                "SELECT count(*), count(*) FILTER (WHERE state = 'done'),
                     count(*) FILTER (WHERE state IN ('queued', 'running'))
                 FROM shards WHERE job_id = $1",
                &[&job],
            )?;
            let (total, done, open): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
            tx.execute(
                "UPDATE jobs SET progress = $2 WHERE id = $1 AND state = 'running'",
                &[&job, &(done as f64 / total.max(1) as f64)],
            )?;
            let out = if open > 0 {
                ShardFinish::Remaining(open as u64)
            } else {
                let took = tx.execute(
                    &format!(
                        "UPDATE jobs SET lease_owner = $2, lease_until = {NOW_MS} + $3
                         WHERE id = $1 AND state = 'running' AND lease_owner IS NULL"
                    ),
                    &[&job, &lease.owner, &ttl_ms(lease.ttl)],
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
                "UPDATE jobs SET progress = $2 WHERE id = $1 AND state = 'running'",
                &[&id, &progress],
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
            let mut tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE jobs SET state = $2, error = $3,
                     progress = CASE WHEN $2 = 'succeeded' THEN 1 ELSE progress END,
                     completions = completions + 1,
                     result_digest = COALESCE(result_digest, $4), finished_at = $5,
                     lease_owner = NULL
                 WHERE id = $1 AND state = 'running' AND lease_owner = $6",
                &[&id, &state.as_str(), &error, &digest, &now_iso(), &owner],
            )?;
            if n == 1 {
                tx.execute("DELETE FROM shards WHERE job_id = $1", &[&id])?;
            }
            tx.commit()?;
            Ok(n == 1)
        })
    }

    fn requeue_damaged(&self, id: &str) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET state = CASE WHEN state = 'succeeded' THEN 'queued' ELSE state END,
                     progress = CASE WHEN state = 'succeeded' THEN 0 ELSE progress END,
                     result_digest = NULL, error = NULL,
                     finished_at = CASE WHEN state = 'succeeded' THEN NULL ELSE finished_at END
                 WHERE id = $1 AND state IN ('succeeded', 'cancelled') AND result_digest IS NOT NULL",
                &[&id],
            )
            .map(|n| n > 0)
        })
    }

    fn fail_damaged(&self, id: &str, error: &str) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET state = 'failed', result_digest = NULL, error = $2
                 WHERE id = $1 AND state IN ('succeeded', 'cancelled')",
                &[&id, &error],
            )
            .map(|n| n > 0)
        })
    }

    fn recent_results(&self, n: usize) -> Result<Vec<JobRow>> {
        self.with(|c| {
            Ok(c.query(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE result_digest IS NOT NULL
                     AND state IN ('succeeded', 'cancelled') ORDER BY seq DESC LIMIT $1"
                ),
                &[&to_i64(n)],
            )?
            .iter()
            .map(job_row)
            .collect())
        })
    }

    fn requeue(&self, id: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET state = 'queued', progress = 0, lease_owner = NULL
                 WHERE id = $1 AND state = 'running'",
                &[&id],
            )
            .map(drop)
        })
    }

    fn requeue_last(&self, id: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET state = 'queued', progress = 0, lease_owner = NULL,
                     seq = nextval(pg_get_serial_sequence('jobs', 'seq'))
                 WHERE id = $1 AND state = 'running'",
                &[&id],
            )
            .map(drop)
        })
    }

    fn cancel(&self, id: &str) -> Result<CancelOutcome> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let state: Option<String> = tx
                .query_opt("SELECT state FROM jobs WHERE id = $1 FOR UPDATE", &[&id])?
                .map(|r| r.get(0));
            let out = match state.as_deref().and_then(JobState::parse) {
                None => CancelOutcome::NotFound,
                Some(JobState::Queued) => {
                    tx.execute(
                        "UPDATE jobs SET state = 'cancelled', finished_at = $2 WHERE id = $1",
                        &[&id, &now_iso()],
                    )?;
                    CancelOutcome::Cancelled
                }
                Some(JobState::Running) => {
                    tx.execute(
                        "UPDATE jobs SET cancel_requested = true WHERE id = $1",
                        &[&id],
                    )?;
                    // A split job's waiting shards never run; running ones hear of it.
                    tx.execute(
                        "UPDATE shards SET state = 'cancelled' WHERE job_id = $1 AND state = 'queued'",
                        &[&id],
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
            Ok(c.query_opt(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
                &[&id],
            )?
            .as_ref()
            .map(job_row))
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
            let total: i64 = c
                .query_one(
                    "SELECT count(*) FROM jobs WHERE $1::text IS NULL OR state = $1::text",
                    &[&filter],
                )?
                .get(0);
            let rows = c.query(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE $1::text IS NULL OR state = $1::text
                     ORDER BY seq DESC LIMIT $2 OFFSET $3"
                ),
                &[&filter, &to_i64(limit), &to_i64(offset)],
            )?;
            Ok((rows.iter().map(job_row).collect(), total.max(0) as u64))
        })
    }

    fn counts(&self) -> Result<Vec<(JobState, u64)>> {
        self.with(|c| {
            let found: Vec<(String, u64)> = c
                .query("SELECT state, count(*) FROM jobs GROUP BY state", &[])?
                .iter()
                .map(|r| (r.get(0), r.get::<_, i64>(1).max(0) as u64))
                .collect();
            Ok(super::counts_by_state(&found))
        })
    }

    fn expired_leases(&self) -> Result<u64> {
        self.with(|c| {
            let n: i64 = c
                .query_one(
                    &format!(
                        "SELECT count(*) FROM jobs WHERE state = 'running' AND lease_until < {NOW_MS}"
                    ),
                    &[],
                )?
                .get(0);
            Ok(n.max(0) as u64)
        })
    }

    fn put_model(&self, m: &Model) -> Result<Model> {
        self.with(|c| {
            c.execute(
                "INSERT INTO models (id, name, width, inputs, bytes, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                &[
                    &m.id,
                    &m.name,
                    &(m.width as i64),
                    &serde_json::to_string(&m.inputs).unwrap_or_default(),
                    &(m.bytes as i64),
                    &m.created_at,
                ],
            )?;
            Ok(m.clone())
        })
    }

    fn model(&self, id_or_name: &str) -> Result<Option<Model>> {
        self.with(|c| {
            Ok(c.query_opt(
                &format!(
                    "SELECT {MODEL_COLUMNS} FROM models WHERE id = $1 OR name = $1
                     ORDER BY (id = $1) DESC, created_at DESC LIMIT 1"
                ),
                &[&id_or_name],
            )?
            .as_ref()
            .map(model_row))
        })
    }

    fn models(&self) -> Result<Vec<Model>> {
        self.with(|c| {
            Ok(c.query(
                &format!("SELECT {MODEL_COLUMNS} FROM models ORDER BY name, id"),
                &[],
            )?
            .iter()
            .map(model_row)
            .collect())
        })
    }

    fn heartbeat(&self, n: &Node) -> Result<()> {
        self.with(|c| {
            // Nodes that died without leaving: gone from the list after a day.
            c.execute(
                &format!("DELETE FROM nodes WHERE seen_ms < {NOW_MS} - 86400000"),
                &[],
            )?;
            c.execute(
                &format!(
                    "INSERT INTO nodes (id, role, host, pid, threads, started_at, seen_ms, running,
                         jobs_claimed, lease_renewals, leases_lost)
                     VALUES ($1, $2, $3, $4, $5, $6, {NOW_MS}, $7, $8, $9, $10)
                     ON CONFLICT (id) DO UPDATE SET seen_ms = excluded.seen_ms,
                         running = excluded.running, jobs_claimed = excluded.jobs_claimed,
                         lease_renewals = excluded.lease_renewals,
                         leases_lost = excluded.leases_lost"
                ),
                &[
                    &n.id,
                    &n.role,
                    &n.host,
                    &i64::from(n.pid),
                    &i64::from(n.threads),
                    &n.started_at,
                    &(n.running as i64),
                    &(n.jobs_claimed as i64),
                    &(n.lease_renewals as i64),
                    &(n.leases_lost as i64),
                ],
            )
            .map(drop)
        })
    }

    fn nodes(&self, within: Duration) -> Result<Vec<Node>> {
        self.with(|c| {
            Ok(c.query(
                &format!(
                    "SELECT id, role, host, pid, threads, started_at, {NOW_MS} - seen_ms, running,
                         jobs_claimed, lease_renewals, leases_lost
                     FROM nodes WHERE seen_ms >= {NOW_MS} - $1 ORDER BY id"
                ),
                &[&ttl_ms(within)],
            )?
            .iter()
            .map(|r| Node {
                id: r.get(0),
                role: r.get(1),
                host: r.get(2),
                pid: r.get::<_, i64>(3).clamp(0, u32::MAX as i64) as u32,
                threads: r.get::<_, i64>(4).clamp(0, u32::MAX as i64) as u32,
                started_at: r.get(5),
                seen_ms_ago: r.get::<_, i64>(6).max(0) as u64,
                running: r.get::<_, i64>(7).max(0) as u64,
                jobs_claimed: r.get::<_, i64>(8).max(0) as u64,
                lease_renewals: r.get::<_, i64>(9).max(0) as u64,
                leases_lost: r.get::<_, i64>(10).max(0) as u64,
            })
            .collect())
        })
    }

    fn leave(&self, id: &str) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM nodes WHERE id = $1", &[&id])
                .map(drop)
        })
    }

    fn ping(&self) -> bool {
        self.with(|c| c.simple_query("SELECT 1").map(drop)).is_ok()
    }
}
