//! Built-in strategies and their registry.

mod cross;
mod levels;
mod sl_trail;

use super::{DefaultValue, ParamKind, ParamSpec, Params, SignalDriven, SignalStrategy, Strategy};
use crate::error::Error;

pub(crate) use cross::Crosses;
pub use cross::{CrossLines, CrossStrategy};
pub use levels::{BollingerReversion, BuyAndHold, DonchianBreakout, RsiReversion};

/// Long and short, or long only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Always in the market after the first signal: reverse on opposite signals.
    LongShort,
    /// Buy on long signals when flat; close on exit signals.
    LongOnly,
    /// Sell short on short signals when flat; cover on the opposite signal (cross
    /// strategies only).
    ShortOnly,
}

impl Direction {
    fn from_params(p: &Params) -> Result<Self, Error> {
        Ok(match p.str("direction")? {
            "long_only" => Direction::LongOnly,
            "short_only" => Direction::ShortOnly,
            _ => Direction::LongShort,
        })
    }
}

/// A strategy's name, description, parameters and constructor.
pub struct StrategyInfo {
    /// Name used by `--strategy`.
    pub name: &'static str,
    /// One line of what it does.
    pub about: &'static str,
    /// Its parameters.
    pub params: &'static [ParamSpec],
    build: fn(&Params) -> Result<Box<dyn Strategy>, Error>,
    build_signals: fn(&Params) -> Result<Box<dyn Strategy>, Error>,
    signal_source: Option<SignalSource>,
    /// For a strategy whose parameters depend on what is given (`rules`: its
    /// expressions' `$parameters`), the description with those parameters.
    specialize: Option<Specialize>,
    /// The lines whose crossings the strategy trades, when its signal form is
    /// [`CrossStrategy`] on them: a sweep then finds a group of combinations' crosses in
    /// one pass ([`StrategyInfo::build_signals_group`]).
    crossing: Option<CrossLines>,
}

/// Finds a strategy's description for the given `name=value` parameters.
type Specialize = fn(&[(&str, &str)]) -> Result<&'static StrategyInfo, Error>;

/// Builds a strategy's vectorized form from its parameters.
type SignalSource = fn(&Params) -> Result<Box<dyn SignalStrategy>, Error>;

impl StrategyInfo {
    /// Describes a strategy defined outside this crate (e.g. model strategies):
    /// `build` makes its per-bar form, `build_signals` its signal form (for a strategy
    /// that only has a signal form, both may wrap it in [`SignalDriven`]).
    pub const fn new(
        name: &'static str,
        about: &'static str,
        params: &'static [ParamSpec],
        build: fn(&Params) -> Result<Box<dyn Strategy>, Error>,
        build_signals: fn(&Params) -> Result<Box<dyn Strategy>, Error>,
    ) -> StrategyInfo {
        StrategyInfo {
            name,
            about,
            params,
            build,
            build_signals,
            signal_source: None,
            specialize: None,
            crossing: None,
        }
    }

    /// A strategy with a signal form whose parameter list depends on what is given
    /// (see [`StrategyInfo::specialize`]).
    pub(crate) const fn with_specialize(
        name: &'static str,
        about: &'static str,
        params: &'static [ParamSpec],
        build: fn(&Params) -> Result<Box<dyn Strategy>, Error>,
        build_signals: fn(&Params) -> Result<Box<dyn Strategy>, Error>,
        signal_source: SignalSource,
        specialize: Specialize,
    ) -> StrategyInfo {
        StrategyInfo {
            name,
            about,
            params,
            build,
            build_signals,
            signal_source: Some(signal_source),
            specialize: Some(specialize),
            crossing: None,
        }
    }

    /// The same strategy with another parameter list.
    pub(crate) fn with_params(&self, params: &'static [ParamSpec]) -> StrategyInfo {
        StrategyInfo { params, ..*self }
    }

    /// The description to validate `given` (`name=value` pairs) against: the strategy
    /// itself, or for `rules` the strategy with the `$parameters` its expressions use
    /// (so they can be given, swept and constrained like any parameter). Errors in the
    /// expressions are reported here, with their column.
    pub fn specialize(
        &'static self,
        given: &[(&str, &str)],
    ) -> Result<&'static StrategyInfo, Error> {
        match self.specialize {
            Some(f) => f(given),
            None => Ok(self),
        }
    }

    /// True when the parameter list depends on the given parameters (`rules`).
    pub fn is_specialized_by_params(&self) -> bool {
        self.specialize.is_some()
    }

    /// True when the strategy has a vectorized form ([`StrategyInfo::signal_source`]).
    pub fn has_signal_source(&self) -> bool {
        self.signal_source.is_some()
    }

    /// The strategy's vectorized decisions as a [`SignalStrategy`], when it has that form:
    /// portfolios apply it to each asset on its own bars.
    pub fn signal_source(&self, params: &Params) -> Option<Result<Box<dyn SignalStrategy>, Error>> {
        self.signal_source.map(|f| f(params))
    }

    /// True when [`Self::build_signals_group`] shares work between a group's strategies
    /// (a cross strategy's lines).
    pub(crate) fn crosses_together(&self) -> bool {
        self.crossing.is_some()
    }

    /// [`StrategyInfo::build_signals`] of each of `params`, with the crosses of a cross
    /// strategy's lines found for all of them in one pass over the distinct lines (on `ctx`,
    /// the bars and indicator cache the runs will use): a sweep's group of combinations
    /// shares the loads, and for lines computed as they stream, the arithmetic. Each
    /// strategy is the one `build_signals` makes, down to its crosses.
    pub(crate) fn build_signals_group(
        &self,
        params: &[Params],
        ctx: &crate::strategy::Init<'_>,
    ) -> Vec<Result<Box<dyn Strategy>, Error>> {
        let Some(lines) = self.crossing.filter(|_| ctx.has_cache()) else {
            return params.iter().map(|p| self.build_signals(p)).collect();
        };
        let mut built: Vec<Result<CrossStrategy, Error>> = params
            .iter()
            .map(|p| CrossStrategy::from_params(lines, p))
            .collect();
        let mut group: Vec<&mut CrossStrategy> =
            built.iter_mut().filter_map(|r| r.as_mut().ok()).collect();
        cross::find_crosses_together(&mut group, ctx);
        built
            .into_iter()
            .zip(params)
            .map(|(s, p)| with_trailing(Box::new(SignalDriven::new(s?)), p))
            .collect()
    }

    /// Builds the strategy from validated parameters (checks cross-parameter rules).
    pub fn build(&self, params: &Params) -> Result<Box<dyn Strategy>, Error> {
        with_trailing((self.build)(params)?, params)
    }

    /// The same strategy through the signal front end ([`crate::strategy::SignalDriven`]):
    /// identical trades, computed with one vectorized pass and bars without a decision
    /// skipped. Sweeps use it.
    pub fn build_signals(&self, params: &Params) -> Result<Box<dyn Strategy>, Error> {
        with_trailing((self.build_signals)(params)?, params)
    }
}

/// `s` with the trailing stop its parameters ask for, or as it is: backtesting.py's
/// `TrailingStrategy` for `trail_atr` or `trail_pct`, vectorbt's `sl_trail=True` for
/// `sl_trail=true` (which trails the `sl_pct` stop, so needs it). One at a time.
fn with_trailing(s: Box<dyn Strategy>, params: &Params) -> Result<Box<dyn Strategy>, Error> {
    use crate::strategy::trailing::{TrailDistance, Trailing};
    let sl_trail = params.str("sl_trail").is_ok_and(|v| v == "true");
    if sl_trail {
        if let Some(other) = ["trail_atr", "trail_pct"]
            .into_iter()
            .find(|k| params.float_opt(k).is_some())
        {
            return Err(Error::Param {
                param: "sl_trail".into(),
                message: format!(
                    "give sl_trail or {other}, not both: each moves the one stop loss"
                ),
            });
        }
        let Some(fraction) = params.float_opt("sl_pct") else {
            return Err(Error::Param {
                param: "sl_trail".into(),
                message: "needs sl_pct: it trails the sl_pct stop loss".into(),
            });
        };
        return Ok(Box::new(sl_trail::SlTrail::new(s, fraction)));
    }
    match (params.float_opt("trail_atr"), params.float_opt("trail_pct")) {
        (Some(_), Some(_)) => Err(Error::Param {
            param: "trail_pct".into(),
            message: "give trail_atr or trail_pct, not both".into(),
        }),
        (Some(n), None) => Ok(Box::new(Trailing::new(s, TrailDistance::Atr(n)))),
        (None, Some(p)) => Ok(Box::new(Trailing::new(s, TrailDistance::Pct(p)))),
        (None, None) => Ok(s),
    }
}

const fn int(name: &'static str, min: i64, max: i64, default: i64, doc: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Int { min, max },
        default: Some(DefaultValue::Int(default)),
        doc,
    }
}

const fn float(
    name: &'static str,
    min: f64,
    max: f64,
    default: Option<f64>,
    doc: &'static str,
) -> ParamSpec {
    let default = match default {
        Some(v) => Some(DefaultValue::Float(v)),
        None => None,
    };
    ParamSpec {
        name,
        kind: ParamKind::Float { min, max },
        default,
        doc,
    }
}

const DIRECTION: ParamSpec = ParamSpec {
    name: "direction",
    kind: ParamKind::Choice(&["long_short", "long_only"]),
    default: Some(DefaultValue::Str("long_short")),
    doc: "long_short: reverse on each signal; long_only: buy when flat, close on the exit signal",
};
const CROSS_DIRECTION: ParamSpec = ParamSpec {
    kind: ParamKind::Choice(&["long_short", "long_only", "short_only"]),
    doc: "long_short: reverse on each cross; long_only / short_only: enter when flat, exit on the opposite cross",
    ..DIRECTION
};
const CROSS_RULE: ParamSpec = ParamSpec {
    name: "cross",
    kind: ParamKind::Choice(&["strict", "stateful"]),
    default: Some(DefaultValue::Str("strict")),
    doc: "strict: a[-2] < b[-2] and a[-1] > b[-1] (backtesting.py); stateful: above now and strictly below at some bar since the last cross or NaN (vectorbt); --profile vectorbt defaults to stateful",
};
const DIRECTION_LONG: ParamSpec = ParamSpec {
    default: Some(DefaultValue::Str("long_only")),
    ..DIRECTION
};
const SIZE: ParamSpec = float(
    "size",
    1e-9,
    1e12,
    None,
    "order size: fraction of available margin if < 1, whole units if >= 1 (default: all margin)",
);
const SL_PCT: ParamSpec = float(
    "sl_pct",
    1e-6,
    0.99,
    None,
    "stop-loss distance from the signal close, as a fraction",
);
const TP_PCT: ParamSpec = float(
    "tp_pct",
    1e-6,
    100.0,
    None,
    "take-profit distance from the signal close, as a fraction",
);

const SL_TRAIL: ParamSpec = ParamSpec {
    name: "sl_trail",
    kind: ParamKind::Choice(&["false", "true"]),
    default: None,
    doc: "true: the sl_pct stop trails the highest high since the entry (lowest low when short), \
          starting from the entry close and moved after each bar's check (vectorbt's \
          sl_stop=sl_pct, sl_trail=True; tp_pct stays at the entry close); needs sl_pct and \
          fills at the close (--profile vectorbt or --trade-on-close); unset is false",
};

const TRAIL_ATR: ParamSpec = float(
    "trail_atr",
    1e-6,
    1e6,
    None,
    "trailing stop-loss this many 100-bar ATRs from the close, moved in the trade's favour each bar (backtesting.py's TrailingStrategy.set_trailing_sl)",
);
const TRAIL_PCT: ParamSpec = float(
    "trail_pct",
    1e-6,
    0.99,
    None,
    "trailing stop-loss at this fraction of the close, converted to ATRs as mean(close*pct/ATR) (backtesting.py's set_trailing_pct)",
);

const RISK_PCT: ParamSpec = float(
    "risk_pct",
    1e-6,
    1.0,
    None,
    "size entries by risk: whole units losing this fraction of equity at the sl_pct stop, floor(equity*risk_pct/(close*sl_pct)); no entry below one unit; needs sl_pct, replaces size",
);

const MA_CROSS_PARAMS: &[ParamSpec] = &[
    int(
        "fast",
        1,
        100_000,
        10,
        "fast moving-average window (bars); must be < slow",
    ),
    int("slow", 2, 100_000, 20, "slow moving-average window (bars)"),
    CROSS_DIRECTION,
    CROSS_RULE,
    SIZE,
    SL_PCT,
    SL_TRAIL,
    TP_PCT,
    TRAIL_ATR,
    TRAIL_PCT,
    RISK_PCT,
];

/// Every built-in strategy.
pub static STRATEGIES: &[StrategyInfo] = &[
    StrategyInfo {
        name: "sma_cross",
        about: "SMA(fast) crossing SMA(slow): up-cross goes long, down-cross exits (or goes short)",
        params: MA_CROSS_PARAMS,
        build: |p| Ok(Box::new(CrossStrategy::from_params(CrossLines::Sma, p)?)),
        build_signals: |p| {
            Ok(Box::new(SignalDriven::new(CrossStrategy::from_params(
                CrossLines::Sma,
                p,
            )?)))
        },
        specialize: None,
        signal_source: Some(|p| Ok(Box::new(CrossStrategy::from_params(CrossLines::Sma, p)?))),
        crossing: Some(CrossLines::Sma),
    },
    StrategyInfo {
        name: "ema_cross",
        about: "EMA(fast) crossing EMA(slow): up-cross goes long, down-cross exits (or goes short)",
        params: MA_CROSS_PARAMS,
        build: |p| Ok(Box::new(CrossStrategy::from_params(CrossLines::Ema, p)?)),
        build_signals: |p| {
            Ok(Box::new(SignalDriven::new(CrossStrategy::from_params(
                CrossLines::Ema,
                p,
            )?)))
        },
        specialize: None,
        signal_source: Some(|p| Ok(Box::new(CrossStrategy::from_params(CrossLines::Ema, p)?))),
        crossing: Some(CrossLines::Ema),
    },
    StrategyInfo {
        name: "macd_cross",
        about: "MACD line crossing its signal line",
        params: &[
            int("fast", 1, 100_000, 12, "fast EMA window; must be < slow"),
            int("slow", 2, 100_000, 26, "slow EMA window"),
            int("signal", 1, 100_000, 9, "signal EMA window"),
            CROSS_DIRECTION,
            CROSS_RULE,
            SIZE,
            SL_PCT,
            SL_TRAIL,
            TP_PCT,
            TRAIL_ATR,
            TRAIL_PCT,
            RISK_PCT,
        ],
        build: |p| Ok(Box::new(CrossStrategy::from_params(CrossLines::Macd, p)?)),
        build_signals: |p| {
            Ok(Box::new(SignalDriven::new(CrossStrategy::from_params(
                CrossLines::Macd,
                p,
            )?)))
        },
        specialize: None,
        signal_source: Some(|p| Ok(Box::new(CrossStrategy::from_params(CrossLines::Macd, p)?))),
        crossing: None,
    },
    StrategyInfo {
        name: "rsi_reversion",
        about: "Wilder RSI: long below `lower`, exit (or short) above `upper`",
        params: &[
            int("period", 2, 100_000, 14, "RSI window"),
            float(
                "lower",
                0.0,
                100.0,
                Some(30.0),
                "oversold level; must be < upper",
            ),
            float("upper", 0.0, 100.0, Some(70.0), "overbought level"),
            DIRECTION_LONG,
            SIZE,
        ],
        build: |p| Ok(Box::new(RsiReversion::from_params(p)?)),
        build_signals: |p| Ok(Box::new(SignalDriven::new(RsiReversion::from_params(p)?))),
        specialize: None,
        signal_source: Some(|p| Ok(Box::new(RsiReversion::from_params(p)?))),
        crossing: None,
    },
    StrategyInfo {
        name: "bollinger_reversion",
        about: "long when the close falls below the lower band, exit at the middle band (short \
                above the upper band with long_short)",
        params: &[
            int("period", 2, 100_000, 20, "band window"),
            float(
                "k",
                0.1,
                10.0,
                Some(2.0),
                "band width in standard deviations",
            ),
            DIRECTION_LONG,
            SIZE,
        ],
        build: |p| Ok(Box::new(BollingerReversion::from_params(p)?)),
        build_signals: |p| {
            Ok(Box::new(SignalDriven::new(
                BollingerReversion::from_params(p)?,
            )))
        },
        specialize: None,
        signal_source: Some(|p| Ok(Box::new(BollingerReversion::from_params(p)?))),
        crossing: None,
    },
    StrategyInfo {
        name: "donchian_breakout",
        about: "long when the close breaks the previous `entry`-bar high, exit below the \
                previous `exit`-bar low (short on the `entry`-bar low with long_short)",
        params: &[
            int("entry", 2, 100_000, 20, "breakout channel window"),
            int("exit", 1, 100_000, 10, "exit channel window"),
            DIRECTION_LONG,
            SIZE,
        ],
        build: |p| Ok(Box::new(DonchianBreakout::from_params(p)?)),
        build_signals: |p| {
            Ok(Box::new(SignalDriven::new(DonchianBreakout::from_params(
                p,
            )?)))
        },
        specialize: None,
        signal_source: Some(|p| Ok(Box::new(DonchianBreakout::from_params(p)?))),
        crossing: None,
    },
    StrategyInfo {
        name: "buy_and_hold",
        about: "buy on the first bar and hold",
        params: &[SIZE],
        build: |p| Ok(Box::new(BuyAndHold::from_params(p))),
        build_signals: |p| Ok(Box::new(SignalDriven::new(BuyAndHold::from_params(p)))),
        signal_source: Some(|p| Ok(Box::new(BuyAndHold::from_params(p)))),
        crossing: None,
        specialize: None,
    },
    crate::rules::RULES,
];

/// Looks up a built-in strategy by name.
pub fn find(name: &str) -> Result<&'static StrategyInfo, Error> {
    STRATEGIES
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| Error::UnknownStrategy {
            name: name.to_string(),
            known: STRATEGIES
                .iter()
                .map(|s| s.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

fn window(p: &Params, name: &str) -> Result<usize, Error> {
    Ok(p.int(name)? as usize)
}

fn less_than(p: &Params, a: &str, b: &str) -> Result<(), Error> {
    // `float_opt` reads integer parameters too.
    let (x, y) = (p.float_opt(a), p.float_opt(b));
    if let (Some(x), Some(y)) = (x, y)
        && x >= y
    {
        return Err(Error::Param {
            param: a.to_string(),
            message: format!("must be < {b} ({x} >= {y})"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_strategy_builds_with_defaults() {
        for s in STRATEGIES {
            // `rules` has no default expressions: the smallest strategy it takes.
            let given: &[(&str, &str)] = if s.name == "rules" {
                &[("entry", "close > 1")]
            } else {
                &[]
            };
            let p = Params::from_pairs(s.params, given.iter().copied()).unwrap();
            assert!(s.build(&p).is_ok(), "{}", s.name);
        }
    }

    #[test]
    fn fast_must_be_below_slow() {
        let s = find("sma_cross").unwrap();
        let p = Params::from_pairs(s.params, [("fast", "30"), ("slow", "30")]).unwrap();
        let err = s.build(&p).err().unwrap();
        assert!(err.to_string().contains("fast"), "{err}");
    }
}
