//! Parameter sweeps: many backtests of one strategy on the same bars, across all cores.
//!
//! Combinations are enumerated in a fixed order (the grid's odometer order, or a seeded
//! random sample of it), run in chunks on a rayon pool, and handed to the caller's sink
//! **in combination order**, so the output is identical for any thread count. Only
//! statistics leave a worker (no equity curves), so memory does not grow with the number
//! of combinations. Indicators are shared between combinations through an
//! [`IndicatorCache`]. The caller can watch progress and cancel; a cancelled sweep still
//! delivers every combination that finished.

mod grid;
pub mod overfitting;
mod walk_forward;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub use grid::{Axis, Constraint};
use grid::{SplitMix, numeric};
pub use walk_forward::{
    WalkForward, WalkForwardResult, WindowResult, run_portfolio_walk_forward, run_walk_forward,
};

use crate::bars::Bars;
use crate::broker::BrokerConfig;
use crate::engine::{run_reusing, run_streaming};
use crate::error::Error;
use crate::portfolio::builtin::PortfolioStrategyInfo;
use crate::stats::{self, EquityWalk, Stats, StatsContext};
use crate::strategy::builtin::StrategyInfo;
use crate::strategy::{IndicatorCache, ParamValue, Params};

/// How combinations are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Every combination that meets the constraint.
    Grid,
    /// `samples` distinct combinations drawn (seeded) from those that meet the constraint.
    Random {
        /// How many to draw (all, if there are fewer).
        samples: usize,
        /// Seed of the draw.
        seed: u64,
    },
}

/// Which statistics a sweep reports and optimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// backtesting.py's statistics ([`Stats`]).
    #[default]
    BacktestingPy,
    /// vectorbt's `stats()` ([`crate::stats::VbtStats`]), computed per combination too.
    Vectorbt,
}

/// The statistic to optimise.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    /// The statistics dialect `key` belongs to.
    pub dialect: Dialect,
    /// A statistic key as in the `--json` output (`sharpe_ratio`, `equity_final`, `sqn`, …).
    pub key: &'static str,
    /// Maximise (true) or minimise.
    pub maximize: bool,
}

impl Objective {
    /// Checks that `key` names a backtesting.py-dialect statistic.
    pub fn new(key: &str, maximize: bool) -> Result<Objective, Error> {
        Self::in_dialect(Dialect::BacktestingPy, key, maximize)
    }

    /// Checks that `key` names a statistic of `dialect`.
    pub fn in_dialect(dialect: Dialect, key: &str, maximize: bool) -> Result<Objective, Error> {
        let keys: Vec<&'static str> = match dialect {
            Dialect::BacktestingPy => Stats::keys().to_vec(),
            Dialect::Vectorbt => crate::stats::VbtStats::keys().to_vec(),
        };
        match keys.iter().find(|k| **k == key) {
            Some(k) => Ok(Objective {
                dialect,
                key: k,
                maximize,
            }),
            None => Err(Error::Param {
                param: "objective".into(),
                message: format!("unknown statistic `{key}` (known: {})", keys.join(", ")),
            }),
        }
    }

    /// The objective's value in backtesting.py-dialect `stats` (NaN when undefined or of
    /// another dialect).
    pub fn value(&self, stats: &Stats) -> f64 {
        stats.get(self.key).map_or(f64::NAN, |v| v.as_f64())
    }

    /// The objective's value for a combination, in the objective's dialect.
    pub fn value_of(&self, r: &ComboResult) -> f64 {
        match (self.dialect, &r.vbt) {
            (Dialect::Vectorbt, Some(v)) => v.get(self.key).map_or(f64::NAN, |v| v.as_f64()),
            (Dialect::Vectorbt, None) => f64::NAN,
            (Dialect::BacktestingPy, _) => self.value(&r.stats),
        }
    }

    /// True if `a` is strictly better than `b`; NaN is never better than anything.
    pub fn better(&self, a: f64, b: f64) -> bool {
        if a.is_nan() {
            return false;
        }
        b.is_nan() || if self.maximize { a > b } else { a < b }
    }
}

/// The strategy a sweep runs: a single-asset strategy on bars, or a portfolio strategy on
/// a universe. Both share the grid, constraints, objective and ordered delivery.
#[derive(Clone, Copy)]
pub enum SweepStrategy {
    /// A single-asset strategy ([`run_sweep`]).
    Asset(&'static StrategyInfo),
    /// A portfolio strategy ([`run_portfolio_sweep`]).
    Portfolio(&'static PortfolioStrategyInfo),
}

impl SweepStrategy {
    /// The strategy's name.
    pub fn name(&self) -> &'static str {
        match self {
            SweepStrategy::Asset(i) => i.name,
            SweepStrategy::Portfolio(i) => i.name,
        }
    }

    /// The strategy's parameters.
    pub fn params(&self) -> &'static [crate::strategy::ParamSpec] {
        match self {
            SweepStrategy::Asset(i) => i.params,
            SweepStrategy::Portfolio(i) => &i.params,
        }
    }

    /// The single-asset strategy, or an error naming the mismatch.
    fn asset(&self) -> Result<&'static StrategyInfo, Error> {
        match self {
            SweepStrategy::Asset(i) => Ok(i),
            SweepStrategy::Portfolio(i) => Err(Error::Param {
                param: "strategy".into(),
                message: format!(
                    "`{}` is a portfolio strategy: it sweeps over a universe",
                    i.name
                ),
            }),
        }
    }
}

impl From<&'static StrategyInfo> for SweepStrategy {
    fn from(i: &'static StrategyInfo) -> Self {
        SweepStrategy::Asset(i)
    }
}

impl From<&'static PortfolioStrategyInfo> for SweepStrategy {
    fn from(i: &'static PortfolioStrategyInfo) -> Self {
        SweepStrategy::Portfolio(i)
    }
}

/// What to sweep.
#[derive(Clone)]
pub struct SweepSpec {
    /// The strategy.
    pub strategy: SweepStrategy,
    /// Parameters held fixed (`name=value` text, validated like `--param`).
    pub fixed: Vec<(String, String)>,
    /// Swept parameters, outermost first.
    pub axes: Vec<Axis>,
    /// Conditions every combination must meet.
    pub constraint: Option<Constraint>,
    /// Grid or random search.
    pub method: Method,
}

/// One finished combination.
#[derive(Debug, Clone, PartialEq)]
pub struct ComboResult {
    /// Position in the sweep's combination order.
    pub index: usize,
    /// The swept parameters' values, in axis order.
    pub values: Vec<ParamValue>,
    /// All parameters, including fixed ones and defaults.
    pub params: Params,
    /// The backtest's statistics.
    pub stats: Stats,
    /// vectorbt-dialect statistics, when the objective is in that dialect.
    pub vbt: Option<crate::stats::VbtStats>,
    /// Its returns reduced for the overfitting checks (when
    /// [`SweepControl::profile_blocks`] is set).
    pub profile: Option<overfitting::ReturnProfile>,
}

/// How a sweep runs.
#[derive(Default)]
pub struct SweepControl<'a> {
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Set to stop early: running combinations finish, the rest are skipped.
    pub cancel: Option<&'a AtomicBool>,
    /// Called after each chunk with (finished, total).
    pub progress: Option<&'a (dyn Fn(usize, usize) + Sync)>,
    /// CSCV blocks for the overfitting checks (even, 2..=24); 0 keeps no return profile.
    pub profile_blocks: usize,
    /// Combinations already done (a sweep resumed from a checkpoint): the first `skip` of
    /// the sweep's order are neither run nor delivered, and progress counts them as done.
    pub skip: usize,
    /// Where to stop in the sweep's order (a shard of a sweep split across machines runs
    /// `skip..end`); `None`: to the end.
    pub end: Option<usize>,
}

/// The best combination by an objective, offered results in combination order: the
/// first of equals wins and NaN never does. One rule for a sweep and for whoever merges
/// the results of a resumed sweep with those it delivered before.
#[derive(Debug, Clone)]
pub struct BestOf<'o> {
    objective: &'o Objective,
    best: Option<ComboResult>,
    value: f64,
}

impl<'o> BestOf<'o> {
    /// Nothing offered yet.
    pub fn new(objective: &'o Objective) -> BestOf<'o> {
        BestOf {
            objective,
            best: None,
            value: f64::NAN,
        }
    }

    /// Offers the next result in combination order.
    pub fn offer(&mut self, r: &ComboResult) {
        let v = self.objective.value_of(r);
        if self.best.is_none() || self.objective.better(v, self.value) {
            self.value = v;
            self.best = Some(r.clone());
        }
    }

    /// The best so far.
    pub fn into_best(self) -> Option<ComboResult> {
        self.best
    }
}

/// The end of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepOutcome {
    /// Combinations in the sweep.
    pub total: usize,
    /// Combinations that finished and were delivered.
    pub completed: usize,
    /// Combinations whose backtest failed (e.g. an order the broker rejects), and the first
    /// such error.
    pub failed: (usize, Option<String>),
    /// True if the sweep was cancelled before the end.
    pub cancelled: bool,
    /// The best combination by the objective (lowest index among equals).
    pub best: Option<ComboResult>,
}

impl SweepSpec {
    /// The combinations in sweep order, as value lists (one value per axis), collected.
    /// Sweeps stream them instead ([`SweepSpec::stream`]).
    pub fn combinations(&self) -> Result<Vec<Vec<ParamValue>>, Error> {
        Ok(self.stream()?.collect())
    }

    /// How many combinations the sweep has: known for a random search, else one cheap walk
    /// of the grid (the constraint applied).
    pub fn count(&self) -> Result<usize, Error> {
        match self.stream()?.known_len() {
            Some(t) => Ok(t),
            None => Ok(self.grid()?.count()),
        }
    }

    /// The combinations in sweep order, generated lazily: memory does not grow with the
    /// grid. A random search first counts the combinations that meet the constraint, then
    /// draws a seeded sample of their ordinals (Floyd's algorithm: memory for the sample
    /// only) and keeps those, in grid order.
    pub fn stream(&self) -> Result<Combinations<'_>, Error> {
        let mut it = self.grid()?;
        if let Method::Random { samples, seed } = self.method {
            let valid = self.grid()?.count();
            if samples < valid {
                // Floyd's algorithm: `samples` distinct ordinals of `valid`, seeded.
                let mut rng = SplitMix(seed);
                let mut set = std::collections::BTreeSet::new();
                for j in (valid - samples)..valid {
                    let t = rng.below(j as u64 + 1) as usize;
                    if !set.insert(t) {
                        set.insert(j);
                    }
                }
                it.picked = Some(set.into_iter().collect::<Vec<_>>().into_iter().peekable());
            }
            it.known_len = Some(samples.min(valid));
        }
        Ok(it)
    }

    /// Every grid point that meets the constraint, in order.
    fn grid(&self) -> Result<Combinations<'_>, Error> {
        let sizes: Vec<usize> = self.axes.iter().map(|a| a.values.len()).collect();
        let total = sizes
            .iter()
            .try_fold(1usize, |acc, &s| acc.checked_mul(s))
            .ok_or_else(|| Error::Param {
                param: "grid".into(),
                message: "too many combinations".into(),
            })?;
        if total > 50_000_000 {
            return Err(Error::Param {
                param: "grid".into(),
                message: format!("{total} combinations (at most 50,000,000)"),
            });
        }
        let fixed = self
            .fixed
            .iter()
            .filter_map(|(k, v)| v.trim().parse::<f64>().ok().map(|x| (k.clone(), x)))
            .collect();
        Ok(Combinations {
            spec: self,
            idx: vec![0; sizes.len()],
            sizes,
            left: total,
            fixed,
            ordinal: 0,
            picked: None,
            known_len: None,
        })
    }

    /// True if `values` (one per axis) meet the constraint.
    fn admits(&self, values: &[ParamValue], fixed: &[(String, f64)]) -> bool {
        self.constraint.as_ref().is_none_or(|c| {
            c.holds(&|name: &str| {
                self.axes
                    .iter()
                    .position(|a| a.name == name)
                    .and_then(|k| numeric(&values[k]))
                    .or_else(|| fixed.iter().find(|(k, _)| k == name).map(|(_, v)| *v))
                    .or_else(|| {
                        let spec = self.strategy.params().iter().find(|p| p.name == name)?;
                        numeric(&spec.default_value()?)
                    })
            })
        })
    }

    /// Every parameter of the combination with these swept values (in axis order): the
    /// fixed ones, the defaults and these, validated.
    pub fn params_for(&self, values: &[ParamValue]) -> Result<Params, Error> {
        let mut all: Vec<(String, ParamValue)> = Vec::new();
        for (k, v) in &self.fixed {
            let spec = self
                .strategy
                .params()
                .iter()
                .find(|p| p.name == k)
                .ok_or_else(|| Error::Param {
                    param: k.clone(),
                    message: format!("unknown parameter of {}", self.strategy.name()),
                })?;
            all.push((k.clone(), spec.parse(v)?));
        }
        for (a, v) in self.axes.iter().zip(values) {
            all.retain(|(k, _)| *k != a.name);
            all.push((a.name.clone(), v.clone()));
        }
        Params::from_values(self.strategy.params(), all)
    }
}

/// The combinations of a sweep, in order (see [`SweepSpec::stream`]).
pub struct Combinations<'a> {
    spec: &'a SweepSpec,
    sizes: Vec<usize>,
    /// Odometer position (the last axis turns fastest).
    idx: Vec<usize>,
    /// Grid points not yet visited.
    left: usize,
    fixed: Vec<(String, f64)>,
    /// Ordinal of the next admitted combination.
    ordinal: usize,
    /// Random search: the sampled ordinals, ascending.
    picked: Option<std::iter::Peekable<std::vec::IntoIter<usize>>>,
    /// Random search: the number of combinations it yields.
    known_len: Option<usize>,
}

impl Combinations<'_> {
    /// How many combinations the stream yields, when known without walking the grid
    /// (a random search).
    pub fn known_len(&self) -> Option<usize> {
        self.known_len
    }
}

impl Iterator for Combinations<'_> {
    type Item = Vec<ParamValue>;

    fn next(&mut self) -> Option<Vec<ParamValue>> {
        while self.left > 0 {
            self.left -= 1;
            let values: Vec<ParamValue> = self
                .idx
                .iter()
                .zip(&self.spec.axes)
                .map(|(&i, a)| a.values[i].clone())
                .collect();
            for k in (0..self.idx.len()).rev() {
                self.idx[k] += 1;
                if self.idx[k] < self.sizes[k] {
                    break;
                }
                self.idx[k] = 0;
            }
            if !self.spec.admits(&values, &self.fixed) {
                continue;
            }
            let ordinal = self.ordinal;
            self.ordinal += 1;
            match &mut self.picked {
                None => return Some(values),
                Some(p) => {
                    if p.peek() == Some(&ordinal) {
                        p.next();
                        return Some(values);
                    }
                    if p.peek().is_none() {
                        self.left = 0;
                    }
                }
            }
        }
        None
    }
}

/// Runs a sweep, delivering each finished combination to `sink` in combination order.
///
/// The sink's error stops the sweep and is returned. Results do not depend on
/// `control.threads`.
pub fn run_sweep<E: From<Error>>(
    bars: &Bars,
    spec: &SweepSpec,
    cfg: &BrokerConfig,
    objective: &Objective,
    control: &SweepControl<'_>,
    sink: &mut dyn FnMut(&ComboResult) -> Result<(), E>,
) -> Result<SweepOutcome, E> {
    let budget = cache_budget(bars);
    run_sweep_within(bars, spec, cfg, objective, control, budget, sink)
}

/// [`run_sweep`] with an indicator cache of `budget` bytes.
fn run_sweep_within<E: From<Error>>(
    bars: &Bars,
    spec: &SweepSpec,
    cfg: &BrokerConfig,
    objective: &Objective,
    control: &SweepControl<'_>,
    budget: usize,
    sink: &mut dyn FnMut(&ComboResult) -> Result<(), E>,
) -> Result<SweepOutcome, E> {
    cfg.validate()?;
    let cache = IndicatorCache::with_budget(budget);
    let stats_ctx = StatsContext::new(bars);
    // A cross strategy's group of neighbouring combinations (a tile of the grid) finds its
    // crosses in one pass over its distinct lines: a line the cache has no room for is
    // computed once for the group, and a cached one is read once for the group (from cache
    // for the other pairs that use it). Other strategies gain nothing from groups: single
    // combinations keep both cores busy to the end of a chunk.
    let group_max = if spec.strategy.asset().is_ok_and(|i| i.crosses_together()) {
        CROSS_GROUP
    } else {
        1
    };
    let how = (control.profile_blocks, objective.dialect);
    drive(
        spec,
        objective,
        control,
        group_max,
        sink,
        &|scratch: &mut Scratch, indices: &[usize], group: &Group| {
            let shared = (&cache, &stats_ctx, scratch);
            run_group(bars, spec, cfg, shared, how, indices, group)
        },
    )
}

/// Runs a sweep of a portfolio strategy over `universe`, delivering each finished
/// combination to `sink` in combination order; as [`run_sweep`] otherwise. Each
/// combination's statistics are the portfolio's (both dialects are computed on its value
/// curve); the overfitting profile comes from the same curve.
pub fn run_portfolio_sweep<E: From<Error>>(
    universe: &crate::universe::Universe,
    spec: &SweepSpec,
    cfg: &crate::portfolio::PortfolioConfig,
    objective: &Objective,
    control: &SweepControl<'_>,
    sink: &mut dyn FnMut(&ComboResult) -> Result<(), E>,
) -> Result<SweepOutcome, E> {
    cfg.validate()?;
    let SweepStrategy::Portfolio(info) = spec.strategy else {
        return Err(E::from(Error::Param {
            param: "strategy".into(),
            message: format!(
                "`{}` is a single-asset strategy; a universe sweeps portfolio strategies",
                spec.strategy.name()
            ),
        }));
    };
    let how = (objective.dialect, control.profile_blocks);
    drive(
        spec,
        objective,
        control,
        1,
        sink,
        &|_: &mut (), indices: &[usize], group: &Group| {
            let one = |(&index, values): (&usize, &Vec<ParamValue>)| {
                run_portfolio_one(universe, spec, cfg, info, how, index, values)
            };
            indices.iter().zip(group).map(one).collect()
        },
    )
}

/// One combination of a portfolio sweep.
fn run_portfolio_one(
    universe: &crate::universe::Universe,
    spec: &SweepSpec,
    cfg: &crate::portfolio::PortfolioConfig,
    info: &PortfolioStrategyInfo,
    (dialect, profile_blocks): (Dialect, usize),
    index: usize,
    values: &[ParamValue],
) -> Result<ComboResult, Error> {
    use crate::portfolio;
    let params = spec.params_for(values)?;
    let mut strategy = info.build(&params)?;
    let res = portfolio::run(universe, strategy.as_mut(), cfg)?;
    let trades = portfolio::exit_trades(universe, &res);
    let stats = portfolio::stats::backtesting_py(universe, &res, &trades);
    let vbt =
        (dialect == Dialect::Vectorbt).then(|| portfolio::stats::vectorbt(universe, &res, &trades));
    let profile = (profile_blocks > 0)
        .then(|| overfitting::ReturnProfile::of_equity(&res.value, profile_blocks));
    Ok(ComboResult {
        index,
        values: values.to_vec(),
        params,
        stats,
        vbt,
        profile,
    })
}

/// Most combinations in a cross strategy's group (an 8 × 8 tile of two lines each: 16
/// lines read once a block for 64 pairs). The pairs' crosses are all that a group keeps
/// together (a few kB each), so larger tiles cost little memory; they read each cached
/// line fewer times, and compute a streamed one fewer times.
const CROSS_GROUP: usize = 64;

/// Combinations a sweep's worker takes at once ([`drive`]).
type Group = [Vec<ParamValue>];

/// A worker's finished groups: each group's number and its combinations' results.
type Finished = Vec<(usize, Vec<Result<ComboResult, Error>>)>;

/// The chunked, ordered, cancellable loop shared by every kind of sweep: `run` computes a
/// group of combinations (their indices and values; at most `group_max`), one result each
/// in order, with a worker's reusable scratch `S`. Groups let the runs of neighbouring
/// combinations share work (a cross strategy's lines are read or computed once for the
/// group): a group is a tile of the grid, neighbouring values on every axis
/// ([`tiles`]), and there are at least eight a worker in a chunk, so both cores stay busy
/// to its end. Results are delivered in combination order whatever the groups.
fn drive<E, S, F>(
    spec: &SweepSpec,
    objective: &Objective,
    control: &SweepControl<'_>,
    group_max: usize,
    sink: &mut dyn FnMut(&ComboResult) -> Result<(), E>,
    run: &F,
) -> Result<SweepOutcome, E>
where
    E: From<Error>,
    S: Default + Send,
    F: Fn(&mut S, &[usize], &Group) -> Vec<Result<ComboResult, Error>> + Sync,
{
    // Validate the fixed parameters once, up front, with a clear error.
    spec.params_for(&[]).map_err(E::from)?;
    let mut combos = spec.stream()?;
    // The total for progress.
    let total = spec.count()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(control.threads)
        .build()
        .map_err(|e| Error::Config {
            field: "threads",
            message: e.to_string(),
        })?;
    let workers = pool.current_num_threads();
    let group_max = group_max.max(1);
    // Room for eight groups a worker of at least sixteen combinations (4 × 4 tiles), and
    // at least 1,024 combinations: a 20 × 50 grid's chunk is the whole grid, in 7 × 7
    // tiles on two threads. Not more, so a chunk's results stay a few MB and a resumed
    // service sweep redoes at most a few seconds.
    let chunk = if group_max > 1 {
        (workers * 8 * 16).max(1024)
    } else {
        (workers * 64).max(64)
    };
    let cancelled = || control.cancel.is_some_and(|c| c.load(Ordering::Relaxed));

    let mut outcome = SweepOutcome {
        total,
        completed: 0,
        failed: (0, None),
        cancelled: false,
        best: None,
    };
    let mut best = BestOf::new(objective);
    let mut base = combos.by_ref().take(control.skip).count();
    let end = control.end.unwrap_or(usize::MAX);
    loop {
        let part: Vec<Vec<ParamValue>> = combos
            .by_ref()
            .take(chunk.min(end.saturating_sub(base)))
            .collect();
        if part.is_empty() {
            break;
        }
        if cancelled() {
            outcome.cancelled = true;
            break;
        }
        // At least eight groups a worker, of at most `group_max` combinations.
        let group = (part.len() / (workers * 8)).clamp(1, group_max);
        let mut groups = tiles(spec, &part, group);
        if workers > 1 && group > TAIL_GROUP {
            split_tail(spec, &part, &mut groups);
        }
        // Every worker takes the next group in order until none is left: the heavy first
        // combinations of a grid (its fastest lines trade most) go first, and a chunk ends
        // on light ones, so no core waits long on the other (a fixed split of the groups
        // left one idle for most of a group).
        let next = AtomicUsize::new(0);
        let done: Vec<Finished> = pool.broadcast(|_| {
            let mut scratch = S::default();
            let mut mine = Vec::new();
            loop {
                let g = next.fetch_add(1, Ordering::Relaxed);
                let Some(positions) = groups.get(g) else {
                    break;
                };
                if cancelled() {
                    break;
                }
                let indices: Vec<usize> = positions.iter().map(|&k| base + k).collect();
                let values: Vec<Vec<ParamValue>> =
                    positions.iter().map(|&k| part[k].clone()).collect();
                mine.push((g, run(&mut scratch, &indices, &values)));
            }
            mine
        });
        // Back into combination order; a cancelled group leaves its combinations empty.
        let mut results: Vec<Option<Result<ComboResult, Error>>> =
            (0..part.len()).map(|_| None).collect();
        for (g, done) in done.into_iter().flatten() {
            for (&k, r) in groups[g].iter().zip(done) {
                results[k] = Some(r);
            }
        }
        // Only the finished first combinations are delivered: a cancelled chunk ends at its
        // first combination that did not run (what a resumed sweep skips is a prefix).
        for r in results {
            match r {
                None => {
                    outcome.cancelled = true;
                    break;
                }
                Some(Err(e)) => {
                    outcome.failed.0 += 1;
                    outcome.failed.1.get_or_insert_with(|| e.to_string());
                }
                Some(Ok(res)) => {
                    best.offer(&res);
                    sink(&res)?;
                    outcome.completed += 1;
                }
            }
        }
        if outcome.cancelled {
            break;
        }
        if let Some(p) = control.progress {
            p(base + part.len(), total);
        }
        base += part.len();
    }
    outcome.best = best.into_best();
    Ok(outcome)
}

/// Most combinations in a group at the end of a chunk ([`split_tail`]): 2 × 2 tiles still
/// share their lines (a line streamed for the tile is computed once for its four pairs).
const TAIL_GROUP: usize = 4;

/// Cuts the last groups of a chunk, at most an eighth of its combinations, into tiles of
/// [`TAIL_GROUP`]: a worker that finds no group left then waits at most for one small
/// tile of another's, not a whole large one (measured: a tenth of a 1,000-combination
/// sweep on two cores was one core waiting for the other's last 7 × 7 tile).
fn split_tail(spec: &SweepSpec, part: &[Vec<ParamValue>], groups: &mut Vec<Vec<usize>>) {
    let (mut cut, mut tail) = (groups.len(), 0);
    while cut > 1 && tail + groups[cut - 1].len() <= part.len() / 8 {
        cut -= 1;
        tail += groups[cut].len();
    }
    let mut positions: Vec<usize> = groups.drain(cut..).flatten().collect();
    positions.sort_unstable();
    let values: Vec<Vec<ParamValue>> = positions.iter().map(|&k| part[k].clone()).collect();
    groups.extend(
        tiles(spec, &values, TAIL_GROUP)
            .into_iter()
            .map(|g| g.into_iter().map(|k| positions[k]).collect()),
    );
}

/// Cuts a chunk of combinations into groups of at most `group` (their positions in
/// `part`): tiles of the grid, `side` neighbouring values on every axis of more than one
/// value (`side^axes ≤ group`), so a group's combinations share their values, and a cross
/// strategy's lines, along each axis (an 8 × 8 tile of two lines each: 16 lines for 64
/// pairs). A tile the chunk cuts short stays a smaller group; a value not on its axis (a
/// sampled combination is always on it) counts as its own tile.
fn tiles(spec: &SweepSpec, part: &[Vec<ParamValue>], group: usize) -> Vec<Vec<usize>> {
    let axes: Vec<(usize, &Axis)> = (spec.axes.iter().enumerate())
        .filter(|(_, a)| a.values.len() > 1)
        .collect();
    let mut side = group;
    if !axes.is_empty() && group > 1 {
        // The largest side whose tile has at most `group` combinations.
        side = (1..=group)
            .take_while(|s| {
                s.checked_pow(axes.len() as u32)
                    .is_some_and(|cells| cells <= group)
            })
            .last()
            .unwrap_or(1);
    }
    let key = |values: &[ParamValue]| -> Vec<usize> {
        axes.iter()
            .map(|&(i, axis)| {
                values
                    .get(i)
                    .and_then(|v| axis.values.iter().position(|x| x == v))
                    .map_or(usize::MAX, |k| k / side)
            })
            .collect()
    };
    let mut order: Vec<(Vec<usize>, usize)> = part
        .iter()
        .enumerate()
        .map(|(k, values)| (key(values), k))
        .collect();
    // By tile, and within one in combination order.
    order.sort();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut last: Option<&[usize]> = None;
    for (tile, k) in &order {
        match groups.last_mut() {
            Some(g) if last == Some(tile.as_slice()) && g.len() < group => g.push(*k),
            _ => groups.push(vec![*k]),
        }
        last = Some(tile);
    }
    groups
}

/// Bytes of indicator series a sweep on `bars` keeps: what is left of 64 MiB after the
/// bars themselves, and at least 8 MiB. Small data gets every series of a typical grid
/// cached (70 SMAs of 100k bars are 56 MB); on large data the series that do not fit are
/// computed as they are read, so the sweep's peak memory stays near the data's own size.
fn cache_budget(bars: &Bars) -> usize {
    // Timestamps and five price/volume columns, 8 bytes each.
    let data = bars.len() * 6 * 8;
    (64usize << 20).saturating_sub(data).max(8 << 20)
}

/// A worker's buffers, reused from one combination to the next: allocating them afresh
/// for every run cost page faults and copies as they grew.
#[derive(Default)]
struct Scratch {
    /// The equity curve (only vectorbt's statistics need one).
    equity: Vec<f64>,
    /// Closed trades.
    closed: Vec<crate::broker::ClosedTrade>,
}

/// Runs a group of combinations (numbers `indices`), with their strategies built
/// together ([`StrategyInfo::build_signals_group`]).
fn run_group(
    bars: &Bars,
    spec: &SweepSpec,
    cfg: &BrokerConfig,
    (cache, stats_ctx, scratch): (&IndicatorCache, &StatsContext, &mut Scratch),
    (profile_blocks, dialect): (usize, Dialect),
    indices: &[usize],
    group: &Group,
) -> Vec<Result<ComboResult, Error>> {
    let info = match spec.strategy.asset() {
        Ok(info) => info,
        Err(e) => return group.iter().map(|_| Err(e.clone())).collect(),
    };
    let params: Vec<Result<Params, Error>> = group.iter().map(|v| spec.params_for(v)).collect();
    let valid: Vec<Params> = params
        .iter()
        .filter_map(|p| p.as_ref().ok().cloned())
        .collect();
    let ctx = crate::strategy::Init::new(bars, Some(cache)).in_session(cfg.session);
    let mut built = info.build_signals_group(&valid, &ctx).into_iter();
    params
        .into_iter()
        .zip(group)
        .zip(indices)
        .map(|((params, values), &index)| {
            let params = params?;
            let strategy = built.next().expect("one strategy a valid combination")?;
            run_one(
                bars,
                cfg,
                (cache, stats_ctx, &mut *scratch),
                (profile_blocks, dialect),
                index,
                (values, params, strategy),
            )
        })
        .collect()
}

fn run_one(
    bars: &Bars,
    cfg: &BrokerConfig,
    (cache, stats_ctx, scratch): (&IndicatorCache, &StatsContext, &mut Scratch),
    (profile_blocks, dialect): (usize, Dialect),
    index: usize,
    (values, params, mut strategy): (&[ParamValue], Params, Box<dyn crate::Strategy>),
) -> Result<ComboResult, Error> {
    let (stats, vbt, profile) = if dialect == Dialect::Vectorbt {
        // vectorbt's statistics read the whole curve. The worker's equity buffer goes
        // through the run and comes back for the next one.
        let mut run = run_reusing(
            bars,
            strategy.as_mut(),
            cfg,
            Some(cache),
            std::mem::take(&mut scratch.equity),
        )?;
        let stats = stats::compute_with(stats_ctx, bars, &run.trades, &run.equity, run.warmup);
        let profile = (profile_blocks > 0)
            .then(|| overfitting::ReturnProfile::of_equity(&run.equity, profile_blocks));
        let vbt = crate::stats::compute_vectorbt(bars, &run, cfg);
        scratch.equity = std::mem::take(&mut run.equity);
        (stats, Some(vbt), profile)
    } else {
        // The statistics take each block of equity as the run marks it: no curve is kept.
        let mut walk = EquityWalk::new(stats_ctx, bars, bars.len(), profile_blocks);
        let mut run = run_streaming(
            bars,
            strategy.as_mut(),
            cfg,
            Some(cache),
            std::mem::take(&mut scratch.closed),
            &mut |block, _| walk.feed(block),
        )?;
        let mut summary = walk.finish();
        let profile = summary.profile.take();
        let stats = summary.stats(stats_ctx, bars, &run.trades, run.warmup);
        scratch.closed = std::mem::take(&mut run.trades);
        (stats, None, profile)
    };
    Ok(ComboResult {
        index,
        values: values.to_vec(),
        params,
        stats,
        vbt,
        profile,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::builtin;

    /// A grid of `sma_cross` over `axes` (parameter name, values).
    fn sma_cross_grid(axes: &[(&str, &str)]) -> SweepSpec {
        let info = builtin::find("sma_cross").unwrap();
        let p = |n: &str| info.params.iter().find(|p| p.name == n).unwrap();
        SweepSpec {
            strategy: info.into(),
            fixed: vec![],
            axes: axes
                .iter()
                .map(|(n, v)| Axis::parse(p(n), v).unwrap())
                .collect(),
            constraint: None,
            method: Method::Grid,
        }
    }

    /// Workers take tiles of the grid and find their crosses in one pass over the tile's
    /// lines (computed as they stream when the cache has no room, read from it when it
    /// has): each combination's statistics and overfitting profile are still those of
    /// running it alone, bar by bar and without a cache, on one thread and on two, and they
    /// arrive in combination order.
    #[test]
    fn tiles_of_combinations_equal_runs_alone() {
        // A random walk (xorshift): crosses every few dozen bars, wins and losses.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let close: Vec<f64> = (0..5_000)
            .scan(100.0f64, |c, _| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let r = (x >> 11) as f64 / (1u64 << 53) as f64;
                *c = (*c * (1.0 + (r - 0.5) * 0.04)).max(0.5);
                Some(*c)
            })
            .collect();
        let bars = Bars::from_closes(&close);
        let info = builtin::find("sma_cross").unwrap();
        let spec = sma_cross_grid(&[("fast", "2:9:1"), ("slow", "20:55:5")]);
        let cfg = BrokerConfig {
            commission: crate::Commission::Relative(0.001),
            ..BrokerConfig::default()
        };
        let objective = Objective::new("sharpe_ratio", true).unwrap();
        let grid: Vec<Vec<ParamValue>> = spec.combinations().unwrap();
        // No room in the cache (every line streams) and room for all (every line cached).
        for (threads, budget) in [(1, 0), (2, 0), (1, 64 << 20), (2, 64 << 20)] {
            let control = SweepControl {
                threads,
                profile_blocks: 4,
                ..SweepControl::default()
            };
            let mut got = Vec::new();
            run_sweep_within(&bars, &spec, &cfg, &objective, &control, budget, &mut |r| {
                got.push(r.clone());
                Ok::<(), Error>(())
            })
            .unwrap();
            assert_eq!(got.len(), 64);
            // Delivered in combination order, whatever the tiles.
            for (k, r) in got.iter().enumerate() {
                assert_eq!((r.index, &r.values), (k, &grid[k]));
            }
            for r in &got {
                let mut alone = info.build(&r.params).unwrap();
                let run = crate::engine::run(&bars, alone.as_mut(), &cfg).unwrap();
                assert!(
                    run.trades.len() > 20,
                    "{:?}: the walk crosses often",
                    r.values
                );
                // Debug prints each float's shortest round-trip form, and NaN as NaN.
                let want = stats::compute(&bars, &run);
                assert_eq!(
                    format!("{:?}", r.stats),
                    format!("{want:?}"),
                    "{:?}",
                    r.values
                );
                let profile = overfitting::ReturnProfile::of_equity(&run.equity, 4);
                assert_eq!(format!("{:?}", r.profile), format!("{:?}", Some(profile)));
            }
        }
    }

    /// The last eighth of a chunk's combinations, in whole groups, goes in 2 × 2 tiles; the
    /// groups before it stay, and every combination is in one group.
    #[test]
    fn the_tail_of_a_chunk_goes_in_small_tiles() {
        let spec = sma_cross_grid(&[("fast", "1:16:1"), ("slow", "30:180:10")]);
        let part: Vec<Vec<ParamValue>> = spec.stream().unwrap().collect();
        assert_eq!(part.len(), 256);
        let mut groups = tiles(&spec, &part, 64);
        let before = groups.clone();
        assert_eq!(groups.len(), 4);
        split_tail(&spec, &part, &mut groups);
        // 256 combinations: up to 32 go in small tiles, which no whole 8 × 8 tile fits.
        assert_eq!(groups, before);
        let mut groups = tiles(&spec, &part, 16);
        split_tail(&spec, &part, &mut groups);
        // Sixteen 4 × 4 tiles: the last two (32 combinations) are cut into 2 × 2 ones.
        assert_eq!(groups.len(), 14 + 8);
        assert!(groups[..14].iter().all(|g| g.len() == 16));
        assert!(groups[14..].iter().all(|g| g.len() == 4));
        let mut all: Vec<usize> = groups.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..256).collect::<Vec<_>>());
        // A tile of the tail: neighbouring fast and slow values.
        let tile = &groups[14];
        let fast: Vec<&ParamValue> = tile.iter().map(|&k| &part[k][0]).collect();
        assert_eq!(fast[0], fast[1]);
        assert_ne!(fast[0], fast[2]);
    }

    /// A chunk's groups are its combinations, each once, in tiles of neighbouring values:
    /// 4 × 4 on a grid of two axes (cut short at the chunk's and the grid's edges), runs of
    /// 16 on one axis, and single combinations when groups are off.
    #[test]
    fn a_chunk_is_cut_into_tiles_of_the_grid() {
        let two = sma_cross_grid(&[("fast", "1:10:1"), ("slow", "30:120:10")]);
        let part = two.combinations().unwrap();
        // The 40 combinations from fast = 3 on (slow fastest).
        let part = &part[20..60];
        let groups = tiles(&two, part, 16);
        let mut seen: Vec<usize> = groups.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..40).collect::<Vec<_>>());
        let value = |v: &ParamValue| match v {
            ParamValue::Int(i) => *i,
            other => panic!("{other:?}"),
        };
        for g in &groups {
            assert!(g.len() <= 16 && g.windows(2).all(|w| w[0] < w[1]));
            let fasts: std::collections::BTreeSet<i64> =
                g.iter().map(|&k| value(&part[k][0])).collect();
            let slows: std::collections::BTreeSet<i64> =
                g.iter().map(|&k| value(&part[k][1])).collect();
            // Every fast with every slow of the tile, at most four of each, neighbours.
            assert_eq!(fasts.len() * slows.len(), g.len(), "{g:?}");
            assert!(fasts.len() <= 4 && slows.len() <= 4);
            let (f0, s0) = (fasts.first().unwrap(), slows.first().unwrap());
            assert!(fasts.iter().all(|f| (f - 1) / 4 == (f0 - 1) / 4));
            assert!(slows.iter().all(|s| (s - 30) / 40 == (s0 - 30) / 40));
        }
        // fast 3..=4 and 5..=6 (tile rows 0 and 1) × slow tiles 30–60, 70–100, 110–120.
        assert_eq!(groups.len(), 6);
        assert_eq!(groups.iter().map(Vec::len).max(), Some(8));

        let one = sma_cross_grid(&[("slow", "30:400:10")]);
        let part = one.combinations().unwrap();
        let groups = tiles(&one, &part, 16);
        assert_eq!(groups.iter().map(Vec::len).collect::<Vec<_>>(), [16, 16, 6]);
        assert_eq!(groups[0], (0..16).collect::<Vec<_>>());
        assert_eq!(tiles(&two, &two.combinations().unwrap(), 1).len(), 100);
    }
}
