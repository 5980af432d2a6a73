//! Walk-forward validation: optimise on a training window, trade the winner on the window
//! that follows, roll forward, and judge the strategy only by the stitched out-of-sample
//! results.

use std::ops::Range;

use super::{ComboResult, Objective, SweepControl, SweepSpec, run_sweep};
use crate::bars::Bars;
use crate::broker::{BrokerConfig, ClosedTrade};
use crate::engine::run;
use crate::error::Error;
use crate::portfolio::{self, PortfolioConfig, PortfolioContext, PortfolioStrategy};
use crate::stats::{self, Stats};
use crate::strategy::{Context, Init, Strategy};
use crate::universe::Universe;

/// Window lengths in bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkForward {
    /// Training window length.
    pub train: usize,
    /// Test (out-of-sample) window length; windows advance by this much.
    pub test: usize,
    /// Training windows all start at the first bar (expanding) instead of rolling.
    pub anchored: bool,
}

impl WalkForward {
    /// Parses `train=N,test=M[,anchored]`.
    pub fn parse(text: &str) -> Result<WalkForward, Error> {
        let err = |m: String| Error::Param {
            param: "walk_forward".into(),
            message: m,
        };
        let (mut train, mut test, mut anchored) = (None, None, false);
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some(("train", v)) => train = v.trim().parse::<usize>().ok(),
                Some(("test", v)) => test = v.trim().parse::<usize>().ok(),
                None if part == "anchored" => anchored = true,
                _ => {
                    return Err(err(format!(
                        "`{part}`: expected train=N, test=M or anchored"
                    )));
                }
            }
        }
        match (train, test) {
            (Some(train), Some(test)) if train >= 2 && test >= 1 => Ok(WalkForward {
                train,
                test,
                anchored,
            }),
            _ => Err(err(format!(
                "`{text}`: expected train=N,test=M[,anchored] with N >= 2, M >= 1 bars"
            ))),
        }
    }

    /// Whether `n` bars hold at least one window (a training window and one test bar): the
    /// check a service makes before accepting a walk-forward over data it knows the size of.
    pub fn check(&self, n: usize) -> Result<(), Error> {
        if self.train < n {
            Ok(())
        } else {
            Err(Error::Param {
                param: "walk_forward".into(),
                message: format!(
                    "train={} leaves no bar to test: the data has {n} bars; give train < {n}",
                    self.train
                ),
            })
        }
    }

    /// (train, test) bar ranges over `n` bars; the last test window may be shorter.
    pub fn windows(&self, n: usize) -> Vec<(Range<usize>, Range<usize>)> {
        let mut out = Vec::new();
        let mut test_start = self.train;
        while test_start < n {
            let train_start = if self.anchored {
                0
            } else {
                test_start - self.train
            };
            // Saturating: a test window longer than any data (a client may ask for
            // `test=2^64-1`) is simply the rest of the data.
            out.push((
                train_start..test_start,
                test_start..test_start.saturating_add(self.test).min(n),
            ));
            test_start = test_start.saturating_add(self.test);
        }
        out
    }
}

/// One window's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowResult {
    /// Training bars (indexes into the full series).
    pub train: Range<usize>,
    /// Test bars.
    pub test: Range<usize>,
    /// The best combination in sample (its statistics are in-sample).
    pub best: ComboResult,
    /// The best combination's statistics on the test window.
    pub oos: Stats,
}

/// The outcome of a walk-forward run.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkForwardResult {
    /// Per window.
    pub windows: Vec<WindowResult>,
    /// Bars covered by the test windows (contiguous).
    pub oos_range: Range<usize>,
    /// Out-of-sample equity, stitched: each test window starts from the previous one's end.
    pub oos_equity: Vec<f64>,
    /// Out-of-sample trades (bar indexes into `oos_range`, sizes scaled as the equity).
    pub oos_trades: Vec<ClosedTrade>,
    /// Statistics of the stitched out-of-sample run.
    pub oos_stats: Stats,
}

/// Lets `inner` trade only from bar `from` on; before it, `next` is not called (so
/// indicators warm up on earlier bars without any position).
struct StartAt {
    inner: Box<dyn Strategy>,
    from: usize,
}

impl Strategy for StartAt {
    fn init(&mut self, ctx: &mut Init<'_>) -> Result<(), Error> {
        self.inner.init(ctx)
    }
    fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
        if ctx.index() >= self.from {
            self.inner.next(ctx)
        } else {
            Ok(())
        }
    }
    fn idle_until(&self, from: usize) -> usize {
        self.inner.idle_until(from.max(self.from))
    }
    fn trailing_stop(&self, from: usize) -> Option<crate::strategy::TrailingStop<'_>> {
        if from >= self.from {
            self.inner.trailing_stop(from)
        } else {
            None
        }
    }
}

fn slice(bars: &Bars, r: Range<usize>) -> Bars {
    let t = bars.time();
    let to = t[r.end - 1];
    bars.slice_time(Some(t[r.start]), Some(to))
}

/// Runs the walk-forward: per window a sweep on the training bars, then the winner on the
/// test bars, trades closed at each test window's end (`finalize_trades`).
pub fn run_walk_forward(
    bars: &Bars,
    spec: &SweepSpec,
    cfg: &BrokerConfig,
    objective: &Objective,
    wf: &WalkForward,
    control: &SweepControl<'_>,
) -> Result<WalkForwardResult, Error> {
    let oos_cfg = BrokerConfig {
        finalize_trades: true,
        ..cfg.clone()
    };
    walk(
        bars.len(),
        cfg.cash,
        objective,
        wf,
        &mut |train| {
            run_sweep::<Error>(
                &slice(bars, train),
                spec,
                cfg,
                objective,
                control,
                &mut |_| Ok(()),
            )
        },
        &mut |best, train, test| {
            // Run over train+test so indicators are warm, trading from the test window only.
            let span = slice(bars, train.start..test.end);
            let from = test.start - train.start;
            let mut strategy = StartAt {
                inner: spec.strategy.asset()?.build_signals(&best.params)?,
                from,
            };
            let res = run(&span, &mut strategy, &oos_cfg)?;
            Ok((res.equity[from..].to_vec(), shift_trades(&res.trades, from)))
        },
        &mut |range, trades, equity| {
            Ok(stats::compute_parts(&slice(bars, range), trades, equity, 0))
        },
    )
}

/// The walk-forward of a portfolio strategy over a universe: as [`run_walk_forward`], with
/// every position sold at each test window's last close (at the next open with
/// `FillAt::NextOpen`, which a window's last bar does not have: those stay valued at the
/// close). Statistics use the equal-weight basket as the market.
pub fn run_portfolio_walk_forward(
    universe: &Universe,
    spec: &SweepSpec,
    cfg: &PortfolioConfig,
    objective: &Objective,
    wf: &WalkForward,
    control: &SweepControl<'_>,
) -> Result<WalkForwardResult, Error> {
    let super::SweepStrategy::Portfolio(info) = spec.strategy else {
        return Err(Error::Param {
            param: "strategy".into(),
            message: format!("`{}` is a single-asset strategy", spec.strategy.name()),
        });
    };
    let cut = |r: Range<usize>| -> Result<Universe, Error> {
        let t = universe.time();
        universe
            .slice_time(Some(t[r.start]), Some(t[r.end - 1]))
            .ok_or_else(|| Error::Param {
                param: "walk_forward".into(),
                message: format!("no asset has a bar in bars {r:?}"),
            })
    };
    walk(
        universe.len(),
        cfg.cash,
        objective,
        wf,
        &mut |train| {
            super::run_portfolio_sweep::<Error>(
                &cut(train)?,
                spec,
                cfg,
                objective,
                control,
                &mut |_| Ok(()),
            )
        },
        &mut |best, train, test| {
            let span = cut(train.start..test.end)?;
            let from = test.start - train.start;
            let mut strategy = PortfolioStartAt {
                inner: info.build(&best.params)?,
                from,
                last: span.len() - 1,
            };
            let res = portfolio::run(&span, &mut strategy, cfg)?;
            let trades =
                portfolio::stats::closed_trades(&span, &portfolio::exit_trades(&span, &res));
            Ok((res.value[from..].to_vec(), shift_trades(&trades, from)))
        },
        &mut |range, trades, equity| {
            let bars = portfolio::stats::basket_bars(&cut(range)?, cfg.cash);
            Ok(stats::compute_parts(&bars, trades, equity, 0))
        },
    )
}

/// Trades entered from bar `from` on, re-indexed from there.
fn shift_trades(trades: &[ClosedTrade], from: usize) -> Vec<ClosedTrade> {
    trades
        .iter()
        .filter(|t| t.entry_bar >= from)
        .map(|t| ClosedTrade {
            entry_bar: t.entry_bar - from,
            exit_bar: t.exit_bar - from,
            ..t.clone()
        })
        .collect()
}

/// Lets a portfolio strategy trade only from bar `from` on, and sells every position on
/// bar `last` instead of asking it.
struct PortfolioStartAt {
    inner: Box<dyn PortfolioStrategy>,
    from: usize,
    last: usize,
}

impl PortfolioStrategy for PortfolioStartAt {
    fn init(&mut self, universe: &Universe) -> Result<(), Error> {
        self.inner.init(universe)
    }
    fn next(&mut self, ctx: &mut PortfolioContext<'_>) -> Result<(), Error> {
        if ctx.index() == self.last {
            for a in 0..ctx.n_assets() {
                if ctx.position(a) != 0.0 {
                    ctx.close(a)?;
                }
            }
            return Ok(());
        }
        if ctx.index() >= self.from {
            self.inner.next(ctx)?;
        }
        Ok(())
    }
    fn next_active(&self, from: usize) -> usize {
        if from > self.last {
            return usize::MAX;
        }
        self.inner.next_active(from.max(self.from)).min(self.last)
    }
}

/// Sweeps a training range.
type TrainFn<'a> = dyn FnMut(Range<usize>) -> Result<super::SweepOutcome, Error> + 'a;
/// Runs the winner on a test range: equity and closed trades indexed from its start.
type TradeFn<'a> = dyn FnMut(&ComboResult, Range<usize>, Range<usize>) -> Result<(Vec<f64>, Vec<ClosedTrade>), Error>
    + 'a;
/// Statistics of a range's trades and equity.
type JudgeFn<'a> = dyn FnMut(Range<usize>, &[ClosedTrade], &[f64]) -> Result<Stats, Error> + 'a;

/// The walk-forward loop shared by single assets and portfolios: `train` sweeps a training
/// range, `trade` runs the winner on a test range (equity and trades indexed from the test
/// start), `judge` computes statistics over a range.
fn walk(
    n: usize,
    cash: f64,
    objective: &Objective,
    wf: &WalkForward,
    train: &mut TrainFn<'_>,
    trade: &mut TradeFn<'_>,
    judge: &mut JudgeFn<'_>,
) -> Result<WalkForwardResult, Error> {
    if objective.dialect != super::Dialect::BacktestingPy {
        return Err(Error::Param {
            param: "walk_forward".into(),
            message: "walk-forward reports backtesting.py-dialect statistics; use that profile"
                .into(),
        });
    }
    let plan = wf.windows(n);
    if plan.is_empty() {
        return Err(Error::TooFewBars {
            needed: wf.train + 1,
            got: n,
        });
    }
    let mut windows = Vec::with_capacity(plan.len());
    let (mut oos_equity, mut oos_trades) = (Vec::new(), Vec::new());
    let mut scale = 1.0;
    for (train_range, test) in plan {
        let out = train(train_range.clone())?;
        if out.cancelled {
            break;
        }
        let Some(best) = out.best else {
            return Err(Error::Param {
                param: "walk_forward".into(),
                message: format!(
                    "no combination produced a value for `{}` on training bars {train_range:?}",
                    objective.key
                ),
            });
        };
        let (equity, trades) = trade(&best, train_range.clone(), test.clone())?;
        let oos = judge(test.clone(), &trades, &equity)?;
        let offset = test.start
            - windows
                .first()
                .map_or(test.start, |w: &WindowResult| w.test.start);
        for t in &trades {
            oos_trades.push(ClosedTrade {
                entry_bar: t.entry_bar + offset,
                exit_bar: t.exit_bar + offset,
                size: t.size * scale,
                commission: t.commission * scale,
                ..t.clone()
            });
        }
        oos_equity.extend(equity.iter().map(|e| e * scale));
        scale = oos_equity.last().copied().unwrap_or(cash) / cash;
        windows.push(WindowResult {
            train: train_range,
            test,
            best,
            oos,
        });
    }
    let (first, last) = match (windows.first(), windows.last()) {
        (Some(f), Some(l)) => (f.test.start, l.test.end),
        _ => {
            return Err(Error::Param {
                param: "walk_forward".into(),
                message: "cancelled before the first window".into(),
            });
        }
    };
    let oos_stats = judge(first..last, &oos_trades, &oos_equity)?;
    Ok(WalkForwardResult {
        windows,
        oos_range: first..last,
        oos_equity,
        oos_trades,
        oos_stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_windows() {
        let wf = WalkForward::parse("train=100,test=50").unwrap();
        let w = wf.windows(260);
        assert_eq!(w.len(), 4);
        assert_eq!(w[0], (0..100, 100..150));
        assert_eq!(w[1], (50..150, 150..200));
        assert_eq!(
            w[3],
            (150..250, 250..260),
            "the last test window is cut at the end"
        );
        let a = WalkForward::parse("train=100, test=50, anchored").unwrap();
        assert_eq!(a.windows(260)[2], (0..200, 200..250));
        assert!(WalkForward::parse("train=100").is_err());
        assert!(WalkForward::parse("train=1,test=5").is_err());
        assert!(WalkForward::parse("train=10,test=5,sideways").is_err());
    }

    #[test]
    fn huge_windows_do_not_overflow() {
        let wf = WalkForward::parse(&format!("train=2,test={}", usize::MAX)).unwrap();
        assert_eq!(wf.windows(10), vec![(0..2, 2..10)]);
        assert!(wf.check(10).is_ok());
        let long = WalkForward::parse(&format!("train={},test=1", usize::MAX)).unwrap();
        assert!(long.windows(10).is_empty());
        let e = long.check(10).unwrap_err().to_string();
        assert!(e.contains("the data has 10 bars"), "{e}");
    }
}
