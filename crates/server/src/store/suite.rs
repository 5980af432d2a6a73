//! The store's test suite, run against every implementation: SQLite in a temporary file,
//! and PostgreSQL in a fresh database on the server that `BACKTIDE_TEST_POSTGRES` names
//! (`.ci/run` starts one; `scripts/with-postgres.sh` does the same by hand). Without that
//! variable the PostgreSQL half says so and passes, unless `BACKTIDE_REQUIRE_POSTGRES=1`
//! (set in CI) makes the absence a failure.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::*;

/// A store for one test, with what must outlive it (a folder, a database to drop).
pub(crate) struct TestStore {
    pub store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    database: Option<(String, String)>,
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.database.take() {
            // Every pooled connection must be gone before the database can be.
            self.store = Arc::new(NoStore);
            if let Ok(mut c) = ::postgres::Client::connect(&admin, ::postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

pub(crate) fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    TestStore {
        store: Arc::new(s),
        _dir: Some(dir),
        database: None,
    }
}

/// A store in a new database on the test server, or `None` (with a message) when no
/// server was given.
pub(crate) fn postgres() -> Option<TestStore> {
    let Ok(admin) = std::env::var("BACKTIDE_TEST_POSTGRES") else {
        assert!(
            std::env::var("BACKTIDE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "BACKTIDE_REQUIRE_POSTGRES=1 but BACKTIDE_TEST_POSTGRES names no server"
        );
        eprintln!(
            "skipped: BACKTIDE_TEST_POSTGRES is not set (scripts/with-postgres.sh starts a \
             server and sets it)"
        );
        return None;
    };
    let name = format!("backtide_test_{}", uuid::Uuid::new_v4().simple());
    let mut c = ::postgres::Client::connect(&admin, ::postgres::NoTls).unwrap();
    c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let url = database_url(&admin, &name);
    Some(TestStore {
        store: Arc::new(PgStore::open(&url).unwrap()),
        _dir: None,
        database: Some((admin, name)),
    })
}

/// `admin`'s URL with its database replaced by `name`.
pub(crate) fn database_url(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{host_part}/{name}{query}")
}

/// Stands in for a dropped store.
struct NoStore;

macro_rules! unreachable_store {
    ($($name:ident($($arg:ty),*) -> $ret:ty;)*) => {
        $(fn $name(&self, $(_: $arg),*) -> $ret { unreachable!("the test's store is gone") })*
    };
}

impl Store for NoStore {
    unreachable_store! {
        is_shared() -> bool;
        put_dataset(&Dataset, NameConflict) -> Result<PutOutcome>;
        dataset(&str) -> Result<Option<Dataset>>;
        datasets() -> Result<Vec<Dataset>>;
        delete_dataset(&str) -> Result<DeleteOutcome>;
        unreferenced_datasets() -> Result<Vec<(String, String)>>;
        submit(&str, &str, &str, &str, Option<&str>, usize) -> Result<bool>;
        claim(&Lease) -> Result<Option<JobRow>>;
        next_queued() -> Result<Option<JobRow>>;
        renew(&Lease) -> Result<Renewal>;
        release(&str) -> Result<usize>;
        split(&str, &[(u64, u64)]) -> Result<()>;
        shards(&str) -> Result<Vec<ShardRow>>;
        hand_over(&str, &str) -> Result<bool>;
        claim_shard(&Lease) -> Result<Option<Shard>>;
        finish_shard(&str, u32, &Lease, ShardEnd) -> Result<ShardFinish>;
        set_progress(&str, f64) -> Result<()>;
        finish(&str, &str, JobState, Option<&str>, Option<&str>) -> Result<bool>;
        requeue_damaged(&str) -> Result<bool>;
        fail_damaged(&str, &str) -> Result<bool>;
        recent_results(usize) -> Result<Vec<JobRow>>;
        requeue(&str) -> Result<()>;
        requeue_last(&str) -> Result<()>;
        cancel(&str) -> Result<CancelOutcome>;
        job(&str) -> Result<Option<JobRow>>;
        jobs(Option<JobState>, usize, usize) -> Result<(Vec<JobRow>, u64)>;
        counts() -> Result<Vec<(JobState, u64)>>;
        expired_leases() -> Result<u64>;
        put_model(&Model) -> Result<Model>;
        model(&str) -> Result<Option<Model>>;
        models() -> Result<Vec<Model>>;
        heartbeat(&Node) -> Result<()>;
        nodes(Duration) -> Result<Vec<Node>>;
        leave(&str) -> Result<()>;
        ping() -> bool;
    }
}

fn lease(owner: &str) -> Lease {
    Lease {
        owner: owner.into(),
        ttl: Duration::from_secs(60),
    }
}

fn dataset(id: &str, name: &str) -> Dataset {
    Dataset {
        id: id.into(),
        name: name.into(),
        format: "csv".into(),
        rows: 1,
        first: String::new(),
        last: String::new(),
        columns: vec!["Close".into()],
        bytes: 1,
        created_at: now_iso(),
        symbols: None,
        previous: vec![],
    }
}

fn queue_limit_is_enforced_atomically(s: &dyn Store) {
    assert!(s.submit("a", "backtest", "{}", "d", None, 2).unwrap());
    assert!(s.submit("b", "backtest", "{}", "d", None, 2).unwrap());
    assert!(!s.submit("c", "backtest", "{}", "d", None, 2).unwrap());
    // Claiming frees a queue slot.
    assert_eq!(s.claim(&lease("w")).unwrap().unwrap().id, "a");
    assert!(s.submit("c", "backtest", "{}", "d", None, 2).unwrap());
}

fn concurrent_submissions_never_overfill_the_queue(s: Arc<dyn Store>) {
    let accepted: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let s = s.clone();
                scope.spawn(move || {
                    (0..10)
                        .filter(|i| {
                            s.submit(&format!("j{t}-{i}"), "backtest", "{}", "d", None, 25)
                                .unwrap()
                        })
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(accepted, 25);
    let queued = s.counts().unwrap()[0];
    assert_eq!(queued, (JobState::Queued, 25));
}

fn jobs_are_claimed_oldest_first_and_once(s: &dyn Store) {
    for id in ["a", "b"] {
        s.submit(id, "backtest", "{}", "d", None, 10).unwrap();
    }
    let a = s.claim(&lease("w")).unwrap().unwrap();
    assert_eq!(
        (a.id.as_str(), a.state, a.attempts),
        ("a", JobState::Running, 1)
    );
    assert_eq!(s.next_queued().unwrap().unwrap().id, "b");
    assert_eq!(s.claim(&lease("w")).unwrap().unwrap().id, "b");
    assert!(s.claim(&lease("w")).unwrap().is_none());
    assert!(s.next_queued().unwrap().is_none());
}

fn concurrent_claims_take_each_job_exactly_once(s: Arc<dyn Store>) {
    for i in 0..60 {
        s.submit(&format!("j{i:02}"), "backtest", "{}", "d", None, 100)
            .unwrap();
    }
    let claimed: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|t| {
                let s = s.clone();
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    while let Some(j) = s.claim(&lease(&format!("w{t}"))).unwrap() {
                        mine.push(j.id);
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let distinct: HashSet<&String> = claimed.iter().collect();
    assert_eq!((claimed.len(), distinct.len()), (60, 60));
}

fn finishing_keeps_the_first_digest_and_counts_completions(s: &dyn Store) {
    s.submit("a", "backtest", "{}", "d", None, 10).unwrap();
    s.claim(&lease("w")).unwrap();
    assert!(
        s.finish("a", "w", JobState::Succeeded, None, Some("x"))
            .unwrap()
    );
    let j = s.job("a").unwrap().unwrap();
    assert_eq!(
        (j.state, j.completions, j.result_digest.as_deref()),
        (JobState::Succeeded, 1, Some("x"))
    );
    assert_eq!(j.progress, 1.0);
    assert!(j.finished_at.is_some() && j.started_at.is_some());
    // A finished job is not finished again.
    assert!(
        !s.finish("a", "w", JobState::Failed, Some("late"), Some("y"))
            .unwrap()
    );
    assert_eq!(s.job("a").unwrap().unwrap().state, JobState::Succeeded);
    assert_eq!(s.recent_results(5).unwrap()[0].id, "a");
}

fn an_expired_lease_puts_the_job_back_and_its_old_holder_cannot_finish(s: &dyn Store) {
    s.submit("a", "sweep", "{}", "d", None, 10).unwrap();
    let short = Lease {
        owner: "dead".into(),
        ttl: Duration::ZERO,
    };
    s.claim(&short).unwrap().unwrap();
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(s.expired_leases().unwrap(), 1);
    let again = s.claim(&lease("alive")).unwrap().unwrap();
    assert_eq!((again.id.as_str(), again.attempts), ("a", 2));
    assert_eq!(s.expired_leases().unwrap(), 0);
    // The first holder comes back: it holds nothing and may not record an outcome.
    assert_eq!(s.renew(&short).unwrap(), Renewal::default());
    assert!(
        !s.finish("a", "dead", JobState::Failed, Some("x"), None)
            .unwrap()
    );
    assert!(
        s.finish("a", "alive", JobState::Succeeded, None, Some("d"))
            .unwrap()
    );
    let j = s.job("a").unwrap().unwrap();
    assert_eq!((j.state, j.completions), (JobState::Succeeded, 1));
}

fn renewing_keeps_the_lease_and_carries_cancel_requests(s: &dyn Store) {
    for id in ["a", "b", "c"] {
        s.submit(id, "sweep", "{}", "d", None, 10).unwrap();
    }
    let short = Lease {
        owner: "w".into(),
        ttl: Duration::from_millis(300),
    };
    s.claim(&short).unwrap();
    s.claim(&short).unwrap();
    s.claim(&lease("other")).unwrap();
    assert_eq!(s.cancel("b").unwrap(), CancelOutcome::Requested);
    std::thread::sleep(Duration::from_millis(150));
    let r = s.renew(&short).unwrap();
    assert_eq!(r.held, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(r.cancel, vec!["b".to_string()]);
    // Renewed: still held after the first lease would have run out.
    std::thread::sleep(Duration::from_millis(200));
    assert!(s.claim(&lease("thief")).unwrap().is_none());
    // A node that shuts down gives its jobs back.
    assert_eq!(s.release("w").unwrap(), 2);
    assert_eq!(s.renew(&short).unwrap().held, Vec::<String>::new());
    let next = s.claim(&lease("next")).unwrap().unwrap();
    assert_eq!((next.id.as_str(), next.attempts), ("a", 2));
}

fn a_dead_nodes_cancelled_job_is_cancelled_not_run_again(s: &dyn Store) {
    s.submit("a", "sweep", "{}", "d", None, 10).unwrap();
    let short = Lease {
        owner: "dead".into(),
        ttl: Duration::ZERO,
    };
    s.claim(&short).unwrap();
    assert_eq!(s.cancel("a").unwrap(), CancelOutcome::Requested);
    std::thread::sleep(Duration::from_millis(5));
    assert!(s.claim(&lease("alive")).unwrap().is_none());
    assert_eq!(s.job("a").unwrap().unwrap().state, JobState::Cancelled);
}

fn requeued_jobs_keep_or_lose_their_place(s: &dyn Store) {
    for id in ["a", "b", "c"] {
        s.submit(id, "backtest", "{}", "d", None, 10).unwrap();
    }
    s.claim(&lease("w")).unwrap();
    s.requeue_last("a").unwrap();
    assert_eq!(s.claim(&lease("w")).unwrap().unwrap().id, "b");
    s.requeue("b").unwrap();
    assert_eq!(s.claim(&lease("w")).unwrap().unwrap().id, "b");
    assert_eq!(s.claim(&lease("w")).unwrap().unwrap().id, "c");
    assert_eq!(s.claim(&lease("w")).unwrap().unwrap().id, "a");
    s.set_progress("a", 0.5).unwrap();
    assert_eq!(s.job("a").unwrap().unwrap().progress, 0.5);
    let (page, total) = s.jobs(Some(JobState::Running), 2, 0).unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        page.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        ["a", "c"]
    );
    let (page, total) = s.jobs(None, 10, 1).unwrap();
    assert_eq!((page.len(), total), (2, 3));
}

fn damaged_results_go_back_or_fail(s: &dyn Store) {
    for id in ["a", "b"] {
        s.submit(id, "backtest", "{}", "d", None, 10).unwrap();
        s.claim(&lease("w")).unwrap();
        s.finish(id, "w", JobState::Succeeded, None, Some("x"))
            .unwrap();
    }
    assert!(s.requeue_damaged("a").unwrap());
    let a = s.job("a").unwrap().unwrap();
    assert_eq!((a.state, a.result_digest), (JobState::Queued, None));
    assert!(!s.requeue_damaged("a").unwrap());
    assert!(s.fail_damaged("b", "gone").unwrap());
    let b = s.job("b").unwrap().unwrap();
    assert_eq!(
        (b.state, b.error.as_deref()),
        (JobState::Failed, Some("gone"))
    );
}

fn names_are_aliases_with_their_own_lifecycle(s: &dyn Store) {
    s.put_dataset(&dataset("same", "alice"), NameConflict::Replace)
        .unwrap();
    s.put_dataset(&dataset("same", "bob"), NameConflict::Replace)
        .unwrap();
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
    s.claim(&lease("w")).unwrap();
    s.finish("j", "w", JobState::Succeeded, None, Some("x"))
        .unwrap();
    assert_eq!(
        s.unreferenced_datasets().unwrap(),
        vec![("same".into(), "csv".into())]
    );
    assert!(s.dataset("same").unwrap().is_none());
    assert_eq!(s.delete_dataset("bob").unwrap(), DeleteOutcome::NotFound);
}

fn a_replaced_name_keeps_its_history_and_a_refused_one_is_untouched(s: &dyn Store) {
    let mut v1 = dataset("v1", "px");
    v1.symbols = Some(vec!["A".into(), "B".into()]);
    s.put_dataset(&v1, NameConflict::Replace).unwrap();
    assert_eq!(
        s.put_dataset(&dataset("v2", "px"), NameConflict::Refuse)
            .unwrap(),
        PutOutcome::NameTaken("v1".into())
    );
    s.put_dataset(&dataset("v2", "px"), NameConflict::Replace)
        .unwrap();
    s.put_dataset(&dataset("v3", "px"), NameConflict::Replace)
        .unwrap();
    let d = s.dataset("px").unwrap().unwrap();
    assert_eq!(
        (d.id.as_str(), d.previous.clone()),
        ("v3", vec!["v2".to_string(), "v1".into()])
    );
    let old = s.dataset("v1").unwrap().unwrap();
    assert_eq!(old.symbols, Some(vec!["A".to_string(), "B".into()]));
    assert_eq!(old.columns, vec!["Close".to_string()]);
    s.put_dataset(&dataset("v1", "other"), NameConflict::Replace)
        .unwrap();
    let all = s.datasets().unwrap();
    assert_eq!(
        all.iter()
            .map(|d| (d.name.as_str(), d.id.as_str()))
            .collect::<Vec<_>>(),
        [("other", "v1"), ("px", "v3")]
    );
}

fn datasets_used_by_universes_and_benchmarks_are_in_use(s: &dyn Store) {
    for id in ["u1", "u2", "bench"] {
        s.put_dataset(&dataset(id, &id.to_uppercase()), NameConflict::Replace)
            .unwrap();
    }
    let universe = r#"[{"symbol":"A","dataset":"u1"},{"symbol":"B","dataset":"u2"}]"#;
    s.submit("p", "backtest", "{}", "u1", Some(universe), 10)
        .unwrap();
    s.submit(
        "b",
        "backtest",
        r#"{"kind":"backtest","request":{"benchmark":"bench"}}"#,
        "other",
        None,
        10,
    )
    .unwrap();
    assert_eq!(s.delete_dataset("u2").unwrap(), DeleteOutcome::InUse(1));
    assert_eq!(s.delete_dataset("bench").unwrap(), DeleteOutcome::InUse(1));
    assert_eq!(
        s.job("p").unwrap().unwrap().universe.as_deref(),
        Some(universe)
    );
}

fn cancel_and_delete_respect_states(s: &dyn Store) {
    s.submit("a", "backtest", "{}", "d1", None, 10).unwrap();
    s.submit("b", "backtest", "{}", "d1", None, 10).unwrap();
    assert_eq!(s.cancel("b").unwrap(), CancelOutcome::Cancelled);
    assert_eq!(s.cancel("nope").unwrap(), CancelOutcome::NotFound);
    s.claim(&lease("w")).unwrap();
    assert_eq!(s.cancel("a").unwrap(), CancelOutcome::Requested);
    s.put_dataset(&dataset("d1", "X"), NameConflict::Replace)
        .unwrap();
    assert_eq!(s.delete_dataset("d1").unwrap(), DeleteOutcome::InUse(1));
    s.finish("a", "w", JobState::Cancelled, None, None).unwrap();
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

fn models_keep_their_record_and_take_new_names(s: &dyn Store) {
    let m = |id: &str, name: &str, at: &str| Model {
        id: id.into(),
        name: name.into(),
        width: 3,
        inputs: vec!["a".into(), "b".into(), "c".into()],
        bytes: 10,
        created_at: at.into(),
    };
    s.put_model(&m("m1", "net", "2026-01-01T00:00:00.000Z"))
        .unwrap();
    s.put_model(&m("m2", "net", "2026-01-02T00:00:00.000Z"))
        .unwrap();
    assert_eq!(s.model("net").unwrap().unwrap().id, "m2");
    assert_eq!(s.model("m1").unwrap().unwrap().inputs.len(), 3);
    s.put_model(&m("m1", "renamed", "2026-01-03T00:00:00.000Z"))
        .unwrap();
    let all = s.models().unwrap();
    assert_eq!(
        all.iter()
            .map(|m| (m.name.as_str(), m.created_at.as_str()))
            .collect::<Vec<_>>(),
        [
            ("net", "2026-01-02T00:00:00.000Z"),
            ("renamed", "2026-01-01T00:00:00.000Z")
        ]
    );
    assert!(s.model("nope").unwrap().is_none());
    assert!(s.ping());
}

fn nodes_are_listed_while_they_beat(s: &dyn Store) {
    let node = |id: &str, claimed: u64| Node {
        id: id.into(),
        role: "worker".into(),
        host: "h".into(),
        pid: 7,
        threads: 2,
        started_at: now_iso(),
        seen_ms_ago: 0,
        running: 1,
        jobs_claimed: claimed,
        lease_renewals: 3,
        leases_lost: 0,
    };
    s.heartbeat(&node("b", 1)).unwrap();
    s.heartbeat(&node("a", 1)).unwrap();
    s.heartbeat(&node("a", 5)).unwrap();
    let live = s.nodes(Duration::from_secs(60)).unwrap();
    assert_eq!(
        live.iter()
            .map(|n| (n.id.as_str(), n.jobs_claimed))
            .collect::<Vec<_>>(),
        [("a", 5), ("b", 1)]
    );
    assert!(live[0].seen_ms_ago < 60_000);
    s.leave("b").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(s.nodes(Duration::from_secs(60)).unwrap().len(), 1);
    assert!(s.nodes(Duration::from_millis(5)).unwrap().is_empty());
}

fn a_split_job_is_run_by_its_shards_and_merged_once(s: &dyn Store) {
    s.submit("sw", "sweep", "{}", "d", None, 10).unwrap();
    s.submit("bt", "backtest", "{}", "d", None, 10).unwrap();
    let owner = lease("first");
    assert_eq!(s.claim(&owner).unwrap().unwrap().id, "sw");
    s.split("sw", &[(0, 10), (10, 20), (20, 25)]).unwrap();
    // A second split (a node that took the job over) keeps the first one's shards.
    s.split("sw", &[(0, 25)]).unwrap();
    assert_eq!(s.shards("sw").unwrap().len(), 3);
    assert!(s.hand_over("sw", "first").unwrap());
    // Held by its shards now: not claimable as a job, and nobody renews it.
    assert_eq!(s.claim(&lease("x")).unwrap().unwrap().id, "bt");
    assert!(s.claim(&lease("x")).unwrap().is_none());
    assert_eq!(s.renew(&owner).unwrap(), Renewal::default());
    let a = s.claim_shard(&lease("a")).unwrap().unwrap();
    let b = s.claim_shard(&lease("b")).unwrap().unwrap();
    assert_eq!(
        (a.job.id.as_str(), a.index, a.start, a.end, b.index),
        ("sw", 0, 0, 10, 1)
    );
    assert_eq!(s.renew(&lease("a")).unwrap().held, vec!["sw#0".to_string()]);
    // A shard handed back (shutdown) is taken again; a stranger cannot end one.
    assert_eq!(
        s.finish_shard("sw", 1, &lease("b"), ShardEnd::Requeue)
            .unwrap(),
        ShardFinish::Remaining(3)
    );
    assert_eq!(
        s.finish_shard("sw", 0, &lease("z"), ShardEnd::Done)
            .unwrap(),
        ShardFinish::NotHeld
    );
    let b = s.claim_shard(&lease("b")).unwrap().unwrap();
    let c = s.claim_shard(&lease("c")).unwrap().unwrap();
    assert_eq!((b.index, c.index), (1, 2));
    assert!(s.claim_shard(&lease("d")).unwrap().is_none());
    assert_eq!(
        s.finish_shard("sw", 0, &lease("a"), ShardEnd::Done)
            .unwrap(),
        ShardFinish::Remaining(2)
    );
    assert_eq!(
        s.finish_shard("sw", 2, &lease("c"), ShardEnd::Done)
            .unwrap(),
        ShardFinish::Remaining(1)
    );
    assert!((s.job("sw").unwrap().unwrap().progress - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(
        s.finish_shard("sw", 1, &lease("b"), ShardEnd::Done)
            .unwrap(),
        ShardFinish::Last
    );
    // The last one holds the job and records its end; the shards go with it.
    assert_eq!(s.renew(&lease("b")).unwrap().held, vec!["sw".to_string()]);
    assert!(
        s.finish("sw", "b", JobState::Succeeded, None, Some("x"))
            .unwrap()
    );
    assert!(s.shards("sw").unwrap().is_empty());
    let j = s.job("sw").unwrap().unwrap();
    assert_eq!((j.state, j.completions), (JobState::Succeeded, 1));
}

fn a_dead_shard_holder_and_a_dead_merger_lose_nothing(s: &dyn Store) {
    s.submit("sw", "sweep", "{}", "d", None, 10).unwrap();
    s.claim(&lease("first")).unwrap();
    s.split("sw", &[(0, 5), (5, 10)]).unwrap();
    assert!(s.hand_over("sw", "first").unwrap());
    let dead = Lease {
        owner: "dead".into(),
        ttl: Duration::ZERO,
    };
    s.claim_shard(&dead).unwrap().unwrap();
    std::thread::sleep(Duration::from_millis(5));
    // The dead node's shard goes to the next claimer.
    let again = s.claim_shard(&lease("b")).unwrap().unwrap();
    assert_eq!(again.index, 0);
    assert_eq!(
        s.finish_shard("sw", 0, &dead, ShardEnd::Done).unwrap(),
        ShardFinish::NotHeld
    );
    s.claim_shard(&lease("c")).unwrap().unwrap();
    s.finish_shard("sw", 0, &lease("b"), ShardEnd::Done)
        .unwrap();
    // The last shard's node dies right after it took the job to merge: its lease runs
    // out and the job is claimed again like any expired one.
    let dying = Lease {
        owner: "c".into(),
        ttl: Duration::ZERO,
    };
    assert_eq!(
        s.finish_shard("sw", 1, &dying, ShardEnd::Done).unwrap(),
        ShardFinish::Last
    );
    std::thread::sleep(Duration::from_millis(5));
    let merger = s.claim(&lease("m")).unwrap().unwrap();
    assert_eq!((merger.id.as_str(), merger.attempts), ("sw", 2));
    assert!(s.shards("sw").unwrap().iter().all(|r| r.state == "done"));
}

fn cancelling_a_split_job_ends_it_once_its_running_shards_stop(s: &dyn Store) {
    s.submit("sw", "sweep", "{}", "d", None, 10).unwrap();
    s.claim(&lease("first")).unwrap();
    s.split("sw", &[(0, 5), (5, 10), (10, 15)]).unwrap();
    assert!(s.hand_over("sw", "first").unwrap());
    s.claim_shard(&lease("a")).unwrap().unwrap();
    assert_eq!(s.cancel("sw").unwrap(), CancelOutcome::Requested);
    assert_eq!(
        s.renew(&lease("a")).unwrap().cancel,
        vec!["sw#0".to_string()]
    );
    assert!(s.claim_shard(&lease("b")).unwrap().is_none());
    assert_eq!(
        s.finish_shard("sw", 0, &lease("a"), ShardEnd::Cancelled)
            .unwrap(),
        ShardFinish::Last
    );
    assert!(
        s.finish("sw", "a", JobState::Cancelled, None, None)
            .unwrap()
    );
    assert_eq!(s.job("sw").unwrap().unwrap().state, JobState::Cancelled);
}

fn a_split_job_whose_shards_all_ended_unheld_is_claimed_again(s: &dyn Store) {
    s.submit("sw", "sweep", "{}", "d", None, 10).unwrap();
    s.claim(&lease("first")).unwrap();
    s.split("sw", &[(0, 5)]).unwrap();
    assert!(s.hand_over("sw", "first").unwrap());
    s.claim_shard(&lease("a")).unwrap();
    // The shard ends while nobody holds the job and the taking over fails (a node held
    // it): the job is claimable once every shard has ended.
    s.finish_shard("sw", 0, &lease("a"), ShardEnd::Done)
        .unwrap();
    let j = s.claim(&lease("m")).unwrap();
    assert!(j.is_none() || j.unwrap().id == "sw");
    // hand_over refuses a job whose shards have all ended: its holder merges at once.
    s.submit("s2", "sweep", "{}", "d", None, 10).unwrap();
    s.claim(&lease("h")).unwrap();
    s.split("s2", &[(0, 5)]).unwrap();
    s.claim_shard(&lease("q")).unwrap();
    assert_eq!(
        s.finish_shard("s2", 0, &lease("q"), ShardEnd::Done)
            .unwrap(),
        ShardFinish::Remaining(0)
    );
    assert!(!s.hand_over("s2", "h").unwrap());
}

macro_rules! suite {
    (refs: $($name:ident),*; shared: $($shared:ident),*) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                let t = super::sqlite();
                super::$name(&*t.store);
            })*
            $(#[test]
            fn $shared() {
                let t = super::sqlite();
                super::$shared(t.store.clone());
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                if let Some(t) = super::postgres() {
                    super::$name(&*t.store);
                }
            })*
            $(#[test]
            fn $shared() {
                if let Some(t) = super::postgres() {
                    super::$shared(t.store.clone());
                }
            })*
        }
    };
}

suite! {
    refs: queue_limit_is_enforced_atomically, jobs_are_claimed_oldest_first_and_once,
        finishing_keeps_the_first_digest_and_counts_completions,
        an_expired_lease_puts_the_job_back_and_its_old_holder_cannot_finish,
        renewing_keeps_the_lease_and_carries_cancel_requests,
        a_dead_nodes_cancelled_job_is_cancelled_not_run_again,
        requeued_jobs_keep_or_lose_their_place, damaged_results_go_back_or_fail,
        names_are_aliases_with_their_own_lifecycle,
        a_replaced_name_keeps_its_history_and_a_refused_one_is_untouched,
        datasets_used_by_universes_and_benchmarks_are_in_use,
        cancel_and_delete_respect_states, models_keep_their_record_and_take_new_names,
        nodes_are_listed_while_they_beat, a_split_job_is_run_by_its_shards_and_merged_once,
        a_dead_shard_holder_and_a_dead_merger_lose_nothing,
        cancelling_a_split_job_ends_it_once_its_running_shards_stop,
        a_split_job_whose_shards_all_ended_unheld_is_claimed_again;
    shared: concurrent_submissions_never_overfill_the_queue,
        concurrent_claims_take_each_job_exactly_once
}
